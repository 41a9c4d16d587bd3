"""Benchmark: hint and answer throughput of the LLM bridge, batched vs one prompt at a time.

Measures, in one run, for each model and workload:

* **one at a time**: ``generate(lm, [p])`` for each of ``--prompts`` prompts in turn (what a
  naive evaluation loop does);
* **ours, batch B**: ``generate(lm, prompts, batch_size=B)`` on ``max(B, --prompts)``
  prompts (our decode loop: left padding, KV cache, per-row stop handling);
* **HF generate, batch B_max**: ``model.generate(do_sample=False)`` on the same left-padded
  ids at the largest batch size, a second baseline (our loop vs transformers').

Workloads (fixed synthetic prompts built from ``--seed``, chat-formatted with the model's
template, lengths jittered by a few tokens so batches are ragged):

* ``hint``: advisor-style prompt of ~80 tokens → 48 new tokens;
* ``answer``: receiver-style prompt with a math word problem, ~120 tokens → 128 new tokens.

Every run decodes exactly ``max_new_tokens`` per prompt (``GenerationSettings.ignore_eos``),
so tokens/s compare like with like. Throughput = new tokens / wall seconds, prefill
included, greedy decoding, no disk cache.

On a GPU it also prints the memory-bandwidth bound of decoding: one decoding step reads
every weight once, so at batch B at most ``B * bandwidth / weight_bytes`` tokens/s (this
ignores KV-cache reads and activations, and compute limits at large B, so it is an upper
bound), and the fraction of it achieved.

**Engines.** ``python benchmarks/bench_generation.py --engines torch ct2 --models smollm2-135m
--batches 1 16 --json`` compares the decoding engines instead (the torch loop against
CTranslate2, measured alternately in the same run) and prints one JSON object with ``rows``
(``engine``, ``model``, ``batch``, ``workload``, ``tokens_per_s``) and ``ratios``; that mode is
``benchmarks/bench_engines.py`` (see its docstring), and on a GPU it adds each row's
memory-bandwidth bound.

Run: ``python benchmarks/bench_generation.py [--device cpu|cuda] [--quick] [--json OUT]``
(``--quick`` on CPU: SmolLM2-135M, both workloads cut to 16 new tokens, 2 prompts one at
a time, batch 8; under 2 minutes on 2 idle cores. ``--quick`` on GPU: gpt2-random and
smollm2-random, full workloads, 4 prompts one at a time, batches 1, 8, 32.) The default
CPU run (SmolLM2-135M and gpt2-random, full workloads, batches up to 32 while a run is
predicted to take under ``--max-seconds``) takes about an hour on 2 cores; the GPU run
(``--device cuda``: gpt2-random and smollm2-random in bfloat16, batches 1, 8, 32, 64, 128,
16 prompts one at a time) takes a few minutes (``benchmarks/gpu_engines.sh``, run once on an H200).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# peak memory bandwidth, GB/s, by substring of torch.cuda.get_device_name()
BANDWIDTH_GBS = (
    ("H100 PCIe", 2000.0),
    ("H100", 3350.0),  # SXM (HBM3)
    ("H200", 4800.0),
    ("A100", 2039.0),  # 80 GB SXM
)


@dataclass(frozen=True)
class Workload:
    name: str
    prompt_tokens: int  # target length of the chat-formatted prompt
    max_new_tokens: int


WORKLOADS = {
    "hint": Workload("hint", 80, 48),
    "answer": Workload("answer", 120, 128),
}

NAMES = ["Ada", "Bo", "Chen", "Dana", "Emil", "Farah", "Goran", "Hana", "Ines", "Jun"]
THINGS = ["apples", "marbles", "books", "stamps", "coins", "shells", "pencils", "tickets"]
STATES = ["confident but careless", "stuck at the first step", "close to the answer",
          "confused about units", "guessing"]
SIGNALS = ["double-check the arithmetic", "set up an equation first", "work backwards",
           "draw a table", "read the question again"]
FILLER = [
    "{n} writes every intermediate result on paper.",
    "Nothing else is added or removed during the day.",
    "All {t} are identical and none are lost.",
    "{n} counts them twice to be sure.",
    "The numbers in the story are exact.",
    "{n} keeps the receipt for later.",
]


def _question(rng: np.random.Generator) -> tuple[str, str]:
    n = NAMES[rng.integers(len(NAMES))]
    t = THINGS[rng.integers(len(THINGS))]
    a, b, c, d, e = (int(x) for x in rng.integers(2, 40, 5))
    q = (f"{n} has {a} {t} and buys {b} boxes with {c} {t} in each. {n} then gives {d} {t} to "
         f"each of {e} friends. How many {t} does {n} have left?")
    return q, n


def _fill(lm, build, target: int, rng: np.random.Generator, name: str, thing: str) -> str:
    """Add filler sentences to the user message until the chat prompt reaches ``target`` tokens."""
    from llm_bridge.generation import encode_prompts as _encode

    extra: list[str] = []
    while True:
        prompt = build(" ".join(extra))
        if len(_encode(lm, [prompt])[0]) >= target or len(extra) > 200:
            return prompt
        extra.append(FILLER[rng.integers(len(FILLER))].format(n=name, t=thing))


def make_prompts(lm, workload: Workload, n: int, seed: int) -> list[str]:
    """``n`` deterministic chat prompts of about ``workload.prompt_tokens`` tokens (± 6)."""
    from llm_bridge.generation import chat_prompt

    rng = np.random.default_rng([seed, 0 if workload.name == "hint" else 1])
    prompts = []
    for _ in range(n):
        q, name = _question(rng)
        thing = q.split()[3]
        target = workload.prompt_tokens + int(rng.integers(-6, 7))
        if workload.name == "hint":
            state = STATES[rng.integers(len(STATES))]
            signal = SIGNALS[rng.integers(len(SIGNALS))]

            def build(extra, q=q, state=state, signal=signal):
                return chat_prompt(lm, [
                    {"role": "system", "content": "You advise a student. Write one short hint."},
                    {"role": "user", "content": f"Problem: {q} {extra}\nStudent: {state}.\n"
                                                f"Signal: {signal}.\nHint:"},
                ])
        else:
            def build(extra, q=q):
                return chat_prompt(lm, [
                    {"role": "system", "content": "Solve the problem step by step. "
                                                  "End with 'Answer: <number>'."},
                    {"role": "user", "content": f"{q} {extra}\n\nHint: set up the equation first."},
                ])
        prompts.append(_fill(lm, build, target, rng, name, thing))
    return prompts


def _sync(lm) -> None:
    import torch

    if lm.device.type == "cuda":
        torch.cuda.synchronize(lm.device)


def run_ours(lm, prompts, max_new_tokens: int, batch_size: int) -> dict:
    from llm_bridge.generation import GenerationSettings, generate

    settings = GenerationSettings(max_new_tokens=max_new_tokens, batch_size=batch_size, ignore_eos=True)
    _sync(lm)
    t0 = time.perf_counter()
    out = generate(lm, prompts, settings)
    _sync(lm)
    sec = time.perf_counter() - t0
    return {"seconds": sec, "new_tokens": sum(g.new_tokens for g in out),
            "prompt_tokens": sum(g.prompt_tokens for g in out), "prompts": len(prompts)}


def run_one_at_a_time(lm, prompts, max_new_tokens: int) -> dict:
    rows = [run_ours(lm, [p], max_new_tokens, 1) for p in prompts]
    return {k: sum(r[k] for r in rows) for k in ("seconds", "new_tokens", "prompt_tokens", "prompts")}


def run_hf(lm, prompts, max_new_tokens: int, batch_size: int) -> dict:
    """``model.generate`` (greedy, EOS off) on our left-padded, length-sorted batches."""
    import torch

    from llm_bridge.generation import _left_pad, encode_prompts as _encode

    encoded = sorted(_encode(lm, prompts), key=len)
    config = copy.deepcopy(lm.model.generation_config)
    config.eos_token_id = None
    config.pad_token_id = lm.tokenizer.pad_token_id
    config.do_sample = False
    config.max_new_tokens = max_new_tokens
    config.max_length = None
    config.min_new_tokens = None
    for knob in ("temperature", "top_p", "top_k"):
        setattr(config, knob, None)
    new = 0
    _sync(lm)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(encoded), batch_size):
            ids, mask = _left_pad(lm, encoded[start:start + batch_size])
            out = lm.model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
            new += (out.shape[1] - ids.shape[1]) * ids.shape[0]
    _sync(lm)
    sec = time.perf_counter() - t0
    return {"seconds": sec, "new_tokens": int(new), "prompt_tokens": sum(len(e) for e in encoded),
            "prompts": len(prompts)}


def weight_bytes(lm) -> int:
    """Bytes of the weights read once per decoding step (tied embeddings counted once)."""
    return int(sum(p.numel() * p.element_size() for p in lm.model.parameters()))


def default_bandwidth(device: str) -> tuple[float | None, str]:
    import torch

    if not device.startswith("cuda"):
        return None, "cpu"
    name = torch.cuda.get_device_name(torch.device(device))
    for key, gbs in BANDWIDTH_GBS:
        if key in name:
            return gbs, name
    return None, name


def bench_cell(lm, workload: Workload, args) -> list[dict]:
    n_pool = max([args.prompts, *args.batch_sizes])
    prompts = make_prompts(lm, workload, n_pool, args.seed)
    new = workload.max_new_tokens
    run_ours(lm, prompts[:2], 2, 2)  # warm-up (kernels, allocator, tokenizer caches)
    rows = []

    def record(mode, batch, r):
        r = {"model": lm.name, "workload": workload.name, "device": str(lm.device), "mode": mode,
             "batch_size": batch, "max_new_tokens": new, **r}
        r["tokens_per_s"] = r["new_tokens"] / r["seconds"]
        rows.append(r)
        print(f"  {workload.name:6s} {mode:14s} B={batch:<4d} {r['prompts']:4d} prompts "
              f"{r['new_tokens']:6d} tokens {r['seconds']:8.2f} s {r['tokens_per_s']:9.1f} tok/s",
              file=sys.stderr, flush=True)
        return r

    record("one at a time", 1, run_one_at_a_time(lm, prompts[:args.prompts], new))
    largest, last = None, None
    for b in args.batch_sizes:
        n = max(b, args.prompts)
        if last is not None:
            predicted = last["seconds"] * n / last["prompts"]  # at the last run's tokens/s
            if predicted > args.max_seconds:
                print(f"  (skipping B >= {b}: about {predicted:.0f} s > --max-seconds {args.max_seconds:.0f})",
                      file=sys.stderr)
                break
        last = record("ours", b, run_ours(lm, prompts[:n], new, b))
        largest = b
    if not args.no_hf:
        run_hf(lm, prompts[:2], 2, 2)  # warm-up
        record("HF generate", largest, run_hf(lm, prompts[:max(largest, args.prompts)], new, largest))
    base = rows[0]["tokens_per_s"]
    for r in rows:
        r["ratio_vs_one_at_a_time"] = r["tokens_per_s"] / base
    return rows


def fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def print_table(rows, bound_steps: dict) -> None:
    has_bound = any(v is not None for v in bound_steps.values())
    head = "| model | device | workload | mode | batch | prompts | new tokens | s | tokens/s | × one at a time |"
    sep = "|---|---|---|---|---:|---:|---:|---:|---:|---:|"
    if has_bound:
        head += " bandwidth bound tokens/s | of bound |"
        sep += "---:|---:|"
    print(head)
    print(sep)
    for r in rows:
        line = (f"| {r['model']} | {r['device']} | {r['workload']} | {r['mode']} | {r['batch_size']} | "
                f"{r['prompts']} | {r['new_tokens']:,} | {fmt(r['seconds'])} | {fmt(r['tokens_per_s'])} | "
                f"{r['ratio_vs_one_at_a_time']:.2f} |")
        if has_bound:
            steps = bound_steps.get(r["model"])
            if steps is None:
                line += " - | - |"
            else:
                bound = steps * r["batch_size"]
                r["bound_tokens_per_s"] = bound
                line += f" {fmt(bound)} | {100 * r['tokens_per_s'] / bound:.1f}% |"
        print(line)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--engines" in argv:  # the engine comparison (module docstring, "Engines")
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_engines

        return bench_engines.main(argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:i] (default cpu)")
    ap.add_argument("--quick", action="store_true", help="a small run (< 3 min on 2 CPU cores)")
    ap.add_argument("--models", nargs="+", help="load_causal_lm names (default by device)")
    ap.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS), help="default: hint answer")
    ap.add_argument("--batch-sizes", type=int, nargs="+",
                    help="default: 1 4 8 16 32 on CPU, 1 8 32 64 128 on GPU")
    ap.add_argument("--prompts", type=int, help="prompts run one at a time (default 4 CPU, 16 GPU)")
    ap.add_argument("--new-tokens", type=int, help="override every workload's max_new_tokens")
    ap.add_argument("--max-seconds", type=float, default=None,
                    help="skip larger batch sizes once one would take longer at the last batch size's "
                         "tokens/s (default 600 CPU, 300 GPU)")
    ap.add_argument("--bandwidth-gbs", type=float, help="memory bandwidth for the bound (GPU default by name)")
    ap.add_argument("--dtype", choices=["float32", "bfloat16", "float16"],
                    help="default: float32 on CPU, bfloat16 on GPU")
    ap.add_argument("--no-hf", action="store_true", help="skip the model.generate baseline")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic prompts and random weights")
    ap.add_argument("--json", help="write the raw numbers to this file")
    args = ap.parse_args(argv)

    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    from llm_bridge.generation import GenerationSettings
    from llm_bridge.models import load_causal_lm

    if "ignore_eos" not in GenerationSettings.__dataclass_fields__:
        ap.error("this benchmark needs GenerationSettings.ignore_eos")
    gpu = args.device.startswith("cuda")
    if gpu and not torch.cuda.is_available():
        ap.error(f"--device {args.device}: CUDA is not available")
    if args.quick:
        args.models = args.models or (["gpt2-random", "smollm2-random"] if gpu else ["smollm2-135m"])
        args.batch_sizes = args.batch_sizes or ([1, 8, 32] if gpu else [8])
        args.prompts = args.prompts or (4 if gpu else 2)
        args.new_tokens = args.new_tokens or (None if gpu else 16)
    args.models = args.models or (["gpt2-random", "smollm2-random"] if gpu else ["smollm2-135m", "gpt2-random"])
    args.workloads = args.workloads or ["hint", "answer"]
    args.batch_sizes = sorted(set(args.batch_sizes or ([1, 8, 32, 64, 128] if gpu else [1, 4, 8, 16, 32])))
    args.prompts = args.prompts or (16 if gpu else 4)
    if args.max_seconds is None:
        args.max_seconds = 300.0 if gpu else 600.0
    dtype = getattr(torch, args.dtype) if args.dtype else None

    bandwidth, device_name = default_bandwidth(args.device)
    if args.bandwidth_gbs:
        bandwidth = args.bandwidth_gbs
    elif gpu and bandwidth is None:
        print(f"unknown GPU {device_name!r}: pass --bandwidth-gbs for the bandwidth bound", file=sys.stderr)

    t_start = time.perf_counter()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    rows, bound_steps, model_info = [], {}, {}
    for name in args.models:
        t0 = time.perf_counter()
        lm = load_causal_lm(name, device=args.device, dtype=dtype, seed=args.seed)
        wb = weight_bytes(lm)
        dtype_name = str(next(lm.model.parameters()).dtype).replace("torch.", "")
        model_info[name] = {"parameters": lm.n_parameters, "weight_bytes": wb, "dtype": dtype_name,
                            "load_seconds": time.perf_counter() - t0}
        bound_steps[name] = None if bandwidth is None else bandwidth * 1e9 / wb
        print(f"{name}: {lm.n_parameters:,} parameters, {wb / 1e6:.0f} MB of weights ({dtype_name}), "
              f"loaded in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        for wname in args.workloads:
            w = WORKLOADS[wname]
            if args.new_tokens:
                w = Workload(w.name, w.prompt_tokens, args.new_tokens)
            rows.extend(bench_cell(lm, w, args))
        del lm
        if gpu:
            torch.cuda.empty_cache()
    total = time.perf_counter() - t_start
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None

    cpu = platform.processor() or platform.machine()
    where = device_name if gpu else f"CPU ({cpu}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()})"
    print(f"# generation throughput: {where}; torch {torch.__version__}, transformers {transformers.__version__}")
    print(f"# greedy, EOS ignored (exactly max_new_tokens per prompt), prefill included; "
          f"one at a time = {args.prompts} prompts; ours batch B = max(B, {args.prompts}) prompts")
    for name, info in model_info.items():
        print(f"# {name}: {info['parameters']:,} parameters, {info['weight_bytes'] / 1e6:.0f} MB ({info['dtype']})")
    if load_before:
        print(f"# load average before/after: {load_before[0]:.1f} / {load_after[0]:.1f}")
    print()
    print_table(rows, bound_steps)
    print()
    for wname in args.workloads:
        w = WORKLOADS[wname]
        print(f"{wname}: ~{w.prompt_tokens} prompt tokens -> "
              f"{args.new_tokens or w.max_new_tokens} new tokens")
    if bandwidth is not None:
        print(f"bandwidth bound: {bandwidth:.0f} GB/s / weight bytes per decoding step, x batch size "
              "(ignores KV-cache reads and compute; prefill is inside the measured time)")
        for name in args.models:
            for r in rows:
                if r["model"] == name and r["mode"] == "ours" and r["batch_size"] == 1:
                    print(f"  {name} {r['workload']}: batch 1 reaches "
                          f"{100 * r['tokens_per_s'] / bound_steps[name]:.1f}% of "
                          f"{bound_steps[name]:,.0f} tokens/s")
    best = {}
    for r in rows:
        key = (r["model"], r["workload"])
        if r["mode"] == "ours":
            best[key] = max(best.get(key, 0.0), r["ratio_vs_one_at_a_time"])
    for (m, w), ratio in best.items():
        hf = [r for r in rows if r["model"] == m and r["workload"] == w and r["mode"] == "HF generate"]
        ours = [r for r in rows if r["model"] == m and r["workload"] == w and r["mode"] == "ours"
                and hf and r["batch_size"] == hf[0]["batch_size"]]
        extra = (f"; ours / HF generate at batch {hf[0]['batch_size']}: "
                 f"{ours[0]['tokens_per_s'] / hf[0]['tokens_per_s']:.2f}") if hf and ours else ""
        print(f"{m} {w}: best batched / one at a time = {ratio:.1f}x{extra}")
    print(f"total wall time: {total:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": where, "bandwidth_gbs": bandwidth, "models": model_info,
                       "args": {k: v for k, v in vars(args).items() if k != "json"},
                       "load_average": [load_before, load_after], "total_seconds": total,
                       "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
