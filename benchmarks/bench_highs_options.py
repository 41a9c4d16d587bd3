"""Benchmark: HiGHS options on the signaling LP (raw HiGHS, prebuilt matrix).

Which HiGHS settings solve the signaling LP of :mod:`persuasion.signaling_lp` fastest
*and still return an optimal basis* (which exact certification and the uniqueness check
need)? On n x n random games (the games of ``bench_signaling.py``) this times raw HiGHS
(``Highs()``, options, array ``passModel``, optional ``setBasis``, ``run``, reading the
solution; the LP arrays are built outside the timer) under each named configuration:

=====================  ===================================================================
simplex                our default: ``solver="simplex"`` (dual simplex), 1 thread
simplex+basis          the same, started from the dual-feasible basis of
                       ``bench_signaling.py`` (per state the best column basic, every
                       obedience slack basic): the dual simplex skips phase 1
simplex-noscale        ``simplex_scale_strategy=0`` (no scaling)
simplex+basis-noscale  both
simplex-presolve-off   ``presolve="off"``
primal                 ``simplex_strategy=4`` (primal simplex)
ipm                    ``solver="ipm"`` with crossover (returns a basis)
choose                 ``solver="choose"`` (HiGHS decides)
=====================  ===================================================================

Each run is in a child process with a time limit; a configuration that times out is
skipped at larger sizes. Prints a markdown table (median seconds, simplex/IPM/crossover
iterations, whether a valid basis came back, the value) and checks that all values agree.

Usage::

    python benchmarks/bench_highs_options.py
    python benchmarks/bench_highs_options.py --sizes 100 --configs simplex+basis ipm
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_signaling import _game, _raw_inputs  # noqa: E402
from timing import (Worker, machine_info, markdown_table, median,  # noqa: E402
                    write_json)

CONFIGS = {
    "simplex": ({"solver": "simplex"}, False),
    "simplex+basis": ({"solver": "simplex"}, True),
    "simplex-noscale": ({"solver": "simplex", "simplex_scale_strategy": 0}, False),
    "simplex+basis-noscale": ({"solver": "simplex", "simplex_scale_strategy": 0}, True),
    "simplex-presolve-off": ({"solver": "simplex", "presolve": "off"}, False),
    "primal": ({"solver": "simplex", "simplex_strategy": 4}, False),
    "ipm": ({"solver": "ipm", "run_crossover": "on"}, False),
    "choose": ({"solver": "choose"}, False),
}
REL_TOL = 1e-6


def measure(task, state):
    """Worker entry point: one raw HiGHS run under one configuration."""
    import highspy

    _game(task, state)
    raw = _raw_inputs(state)
    options, with_basis = CONFIGS[task["config"]]
    t0 = time.perf_counter()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    for k, v in options.items():
        h.setOptionValue(k, v)
    h.passModel(*raw["arrays"])
    if with_basis:
        h.setBasis(raw["basis"])
    h.run()
    status = h.getModelStatus()
    sol = h.getSolution()
    value = float(h.getInfo().objective_function_value)
    dt = time.perf_counter() - t0
    info = h.getInfo()
    return {"seconds": dt, "value": value, "optimal": status == highspy.HighsModelStatus.kOptimal,
            "basis_valid": bool(h.getBasis().valid), "x_len": len(sol.col_value),
            "simplex_iterations": int(info.simplex_iteration_count),
            "ipm_iterations": int(info.ipm_iteration_count),
            "crossover_iterations": int(info.crossover_iteration_count)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    p.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--utilities", choices=("uniform", "integer"), default="uniform")
    p.add_argument("--timeout", type=float, default=45.0,
                   help="seconds per run; a configuration that times out is skipped at "
                        "larger sizes (default 45)")
    p.add_argument("--no-repeat-above", type=float, default=10.0,
                   help="after a run longer than this (seconds) do not repeat it (default 10)")
    p.add_argument("--json", metavar="FILE", help="write the raw numbers to FILE")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    results = []
    timed_out = {}
    worker = Worker("bench_highs_options", "measure",
                    warmup={"config": "simplex", "n": 3, "seed": 0, "utilities": "uniform"})
    try:
        for n in args.sizes:
            for name in args.configs:
                row = {"n": n, "config": name, "runs": [], "status": "ok"}
                if name in timed_out:
                    row["status"] = "skipped"
                    row["reason"] = f"timed out at n={timed_out[name]}"
                else:
                    for _ in range(args.repeats):
                        task = {"config": name, "n": n, "seed": args.seed,
                                "utilities": args.utilities}
                        kind, out = worker.run(task, args.timeout)
                        if kind != "ok":
                            row["status"] = kind
                            row["error"] = out
                            if kind == "timeout":
                                timed_out[name] = n
                            break
                        row["runs"].append(out)
                        if out["seconds"] > args.no_repeat_above:
                            break
                    if row["runs"]:
                        row["status"] = "ok"
                        row["median_s"] = median([r["seconds"] for r in row["runs"]])
                        for k in ("value", "optimal", "basis_valid", "simplex_iterations",
                                  "ipm_iterations", "crossover_iterations"):
                            row[k] = row["runs"][0][k]
                print(f"# n={n} {name}: {row.get('median_s', row['status'])}", file=sys.stderr,
                      flush=True)
                results.append(row)
    finally:
        worker.close()
    wall = time.perf_counter() - t0
    header = ["n", "configuration", "seconds", "runs", "simplex it.", "IPM it.",
              "crossover it.", "optimal", "basis", "value", "speed-up vs simplex"]
    rows = []
    for r in results:
        base = next((b for b in results if b["n"] == r["n"] and b["config"] == "simplex"), None)
        if r["status"] == "ok":
            secs = f"{r['median_s']:.3g}"
        elif r["status"] == "timeout":
            secs = f"> {args.timeout:g} (timeout)"
        else:
            secs = r["status"]
        speed = "-"
        if r.get("median_s") and base is not None:
            if base.get("median_s"):
                speed = f"{base['median_s'] / r['median_s']:.1f}x"
            elif base["status"] == "timeout" or base.get("reason", "").startswith("timed out"):
                speed = f"> {args.timeout / r['median_s']:.0f}x"
        rows.append([r["n"], r["config"], secs, len(r["runs"]),
                     r.get("simplex_iterations", "-"), r.get("ipm_iterations", "-"),
                     r.get("crossover_iterations", "-"),
                     {True: "yes", False: "NO"}.get(r.get("optimal"), "-"),
                     {True: "valid", False: "none"}.get(r.get("basis_valid"), "-"),
                     f"{r['value']:.12g}" if "value" in r else "-", speed])
    print(f"HiGHS options on the signaling LP, n x n random games ({args.utilities} utilities, "
          f"seed {args.seed}), raw HiGHS on a prebuilt matrix, 1 thread, median of up to "
          f"{args.repeats} runs, timeout {args.timeout:g} s\n")
    print(markdown_table(header, rows))
    bad = []
    for n in args.sizes:
        vals = [r["value"] for r in results if r["n"] == n and r.get("optimal")]
        if vals and max(vals) - min(vals) > REL_TOL * max(1.0, abs(vals[0])):
            bad.append(n)
    print(f"\nTotal benchmark wall time: {wall:.1f} s")
    if bad:
        print(f"\nWARNING: the optimal values disagree at n = {bad}")
    if args.json:
        write_json(args.json, {"benchmark": "highs_options", "args": vars(args),
                               "machine": machine_info(), "wall_seconds": wall,
                               "results": results})
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
