"""Benchmark: decoding throughput of the torch loop against CTranslate2, in the same run.

For each model, workload and batch size B, both engines decode the same prompts (the synthetic
hint/answer prompts of ``bench_generation.py``, built from ``--seed``) greedily with EOS ignored,
so every prompt gets exactly ``max_new_tokens`` new tokens; throughput = new tokens / wall
seconds, prefill included, no disk cache. B = 1 runs ``--prompts`` prompts one at a time; B > 1
runs B prompts as one batch. The engines alternate cell by cell (torch, ct2, torch, ct2, ...),
``--repeats`` times per cell, and a row reports the median run, so a ratio compares
measurements taken in the same minutes on a noisy machine (every run is kept in ``runs``).

The ct2 model is the CTranslate2 conversion of the same weights (``llm_bridge.ct2.with_ct2``;
``--compute-type`` default int8 on the CPU, int8_float16 on CUDA); its conversion time (cold, or
read from the cache) is reported, not counted in any throughput.

Run::

    python benchmarks/bench_engines.py --engines torch ct2 --models smollm2-135m --batches 1 16 --json

prints one JSON object on stdout: ``rows`` (``engine``, ``model``, ``batch``, ``workload``,
``tokens_per_s``, ``seconds``, ``new_tokens``, ``prompts``), ``ratios`` (ct2 / torch tokens/s per
model, workload and batch), the machine, the load average before and after, and the
conversion times. Without ``--json`` a table goes to stdout instead. Progress goes to stderr.

On a GPU (``--device cuda``) each row also has ``bound_tokens_per_s``, the memory-bandwidth
limit of decoding (every weight byte read once per step: ``batch * bandwidth / weight bytes``;
the torch model's parameter bytes, the converted ``model.bin`` for ct2; KV-cache reads ignored,
so an upper bound) and ``of_bound``. Random-initialised models of the real architectures give
the true compute profile without weights to carry::

    python benchmarks/bench_generation.py --engines torch ct2 --device cuda \
        --models gpt2-random smollm2-random --batches 1 8 32 64 128 --workloads hint answer --json

(``benchmarks/gpu_engines.sh`` is that command for a lent GPU, after ``benchmarks/gpu_pack.sh``
here; run once on an H200, torch rows only: see the README.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench_generation import WORKLOADS, Workload, default_bandwidth, make_prompts, weight_bytes  # noqa: E402


def _decode(lm, prompts, new_tokens: int, batch: int) -> dict:
    from llm_bridge.generation import GenerationSettings, generate

    settings = GenerationSettings(max_new_tokens=new_tokens, batch_size=batch, ignore_eos=True)
    t0 = time.perf_counter()
    if batch == 1:
        out = [g for p in prompts for g in generate(lm, [p], settings)]
    else:
        out = generate(lm, prompts, settings)
    sec = time.perf_counter() - t0
    return {"seconds": sec, "new_tokens": sum(g.new_tokens for g in out), "prompts": len(prompts)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", nargs="+", default=["torch", "ct2"], choices=["torch", "ct2"])
    ap.add_argument("--models", nargs="+", default=["smollm2-135m"], help="load_causal_lm names")
    ap.add_argument("--workloads", nargs="+", default=["hint"], choices=sorted(WORKLOADS))
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--prompts", type=int, default=2, help="prompts decoded one at a time at batch 1")
    ap.add_argument("--new-tokens", type=int, help="override the workloads' max_new_tokens")
    ap.add_argument("--compute-type", default=None, help="ct2 compute type (default int8 / int8_float16)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch and ct2 threads (default: all cores)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per cell; the median is reported")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bandwidth-gbs", type=float, help="GPU memory bandwidth (default by device name)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args(argv)

    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    from llm_bridge.ct2 import with_ct2
    from llm_bridge.models import load_causal_lm

    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    t_start = time.perf_counter()
    rows, convert, unavailable = [], {}, {}
    engines = list(args.engines)
    bandwidth, device_name = default_bandwidth(args.device)
    bandwidth = args.bandwidth_gbs or bandwidth
    dtype = torch.bfloat16 if args.device.startswith("cuda") else None
    for name in args.models:
        lm = load_causal_lm(name, device=args.device, seed=args.seed, dtype=dtype)
        views = {"torch": lm}
        step_bytes = {"torch": weight_bytes(lm)}
        if "ct2" in engines:
            t0 = time.perf_counter()
            try:
                view = with_ct2(lm, compute_type=args.compute_type, threads=args.threads)
                _decode(view, ["a"], 1, 1)  # a CUDA build missing its libraries fails here
            except Exception as exc:  # noqa: BLE001 -- recorded, and the torch rows still run
                if not args.device.startswith("cuda"):
                    raise
                unavailable["ct2"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:400]
                print(f"ct2 unavailable on {args.device}: {unavailable['ct2']}", file=sys.stderr)
                engines = [e for e in engines if e != "ct2"]
            else:
                views["ct2"] = view
                convert[name] = {"compute_type": view.engine.compute_type,
                                 "seconds": time.perf_counter() - t0}
                step_bytes["ct2"] = (view.engine.folder / "model.bin").stat().st_size
        for wname in args.workloads:
            w = WORKLOADS[wname]
            if args.new_tokens:
                w = Workload(w.name, w.prompt_tokens, args.new_tokens)
            pool = make_prompts(lm, w, max([args.prompts, *args.batches]), args.seed)
            for engine in engines:  # warm-up
                _decode(views[engine], pool[:2], 2, 2)
            for b in args.batches:
                prompts = pool[:args.prompts] if b == 1 else pool[:b]
                runs = {e: [] for e in engines}
                for _ in range(args.repeats):
                    for engine in engines:
                        r = _decode(views[engine], prompts, w.max_new_tokens, b)
                        r["tokens_per_s"] = r["new_tokens"] / r["seconds"]
                        runs[engine].append(r)
                        print(f"{name} {w.name} {engine:5s} B={b:<3d} {r['new_tokens']:5d} tokens "
                              f"{r['seconds']:7.2f} s {r['tokens_per_s']:8.1f} tok/s", file=sys.stderr,
                              flush=True)
                for engine, rs in runs.items():
                    med = sorted(rs, key=lambda r: r["tokens_per_s"])[len(rs) // 2]
                    row = {**med, "engine": engine, "model": name, "batch": b, "workload": w.name,
                           "max_new_tokens": w.max_new_tokens, "runs": [r["tokens_per_s"] for r in rs],
                           "weight_bytes": step_bytes[engine]}
                    if bandwidth is not None:
                        row["bound_tokens_per_s"] = b * bandwidth * 1e9 / step_bytes[engine]
                        row["of_bound"] = row["tokens_per_s"] / row["bound_tokens_per_s"]
                    rows.append(row)
    ratios = []
    for r in rows:
        if r["engine"] == "ct2":
            base = [t for t in rows if t["engine"] == "torch" and
                    (t["model"], t["workload"], t["batch"]) == (r["model"], r["workload"], r["batch"])]
            if base:
                ratios.append({"model": r["model"], "workload": r["workload"], "batch": r["batch"],
                               "ct2_over_torch": r["tokens_per_s"] / base[0]["tokens_per_s"]})
    out = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
           "device": args.device, "device_name": device_name, "bandwidth_gbs": bandwidth,
           "torch_threads": torch.get_num_threads(),
           "load_average": [load_before[0], os.getloadavg()[0]], "convert": convert,
           "total_seconds": time.perf_counter() - t_start, "unavailable": unavailable,
           "rows": rows, "ratios": ratios}
    if args.json:
        print(json.dumps(out))
    else:
        print("| model | workload | batch | torch tok/s | ct2 tok/s | ct2 / torch |")
        print("|---|---|---:|---:|---:|---:|")
        for q in ratios:
            t = {r["engine"]: r["tokens_per_s"] for r in rows
                 if (r["model"], r["workload"], r["batch"]) == (q["model"], q["workload"], q["batch"])}
            print(f"| {q['model']} | {q['workload']} | {q['batch']} | {t['torch']:.1f} | {t['ct2']:.1f} | "
                  f"{q['ct2_over_torch']:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
