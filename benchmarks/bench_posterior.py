"""Benchmark: the posterior LP (``persuasion.solve(game, "posterior")``) as the number of
states grows, with the signaling LP on the same game as the baseline.

Two series of random games (prior Dirichlet(1), utilities uniform on [0, 1) or integers
0..10, from ``numpy.random.default_rng([seed, n, m])``): ``m = 3`` actions, and ``m = n``
actions. For each size this reports the vertex enumeration of the best-response cells
(``details["vertex_count"]`` with repetitions across cells, ``"n_candidates"`` distinct
candidate posteriors, ``"vertex_upper_bound"`` McMullen's bound summed over the cells),
the enumeration and LP seconds from ``details``, the end-to-end seconds of
``persuasion.solve(game, "posterior", check_unique=False, max_vertices=...)`` and of
``persuasion.solve(game, "signaling", check_unique=False)`` (medians over ``--repeats``),
their ratio, and checks that the two values agree to ``1e-6`` relative.

A series stops after the first size whose posterior solve takes longer than ``--budget``
seconds (or passes ``--timeout``, when the child process running it is killed, or
raises :class:`~persuasion.errors.ProblemTooLargeError`); the script prints why.

Usage::

    python benchmarks/bench_posterior.py
    python benchmarks/bench_posterior.py --square-sizes 2 3 4 5 6 7 8 9 --m3-sizes 2 4 8 --json post.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from timing import (Worker, machine_info, markdown_table, median,  # noqa: E402
                    random_game_data, write_json)

REL_TOL = 1e-6


# ---------------------------------------------------------------- worker side

def measure(task, state):
    """Worker entry point: one timed posterior solve and one signaling solve of a game
    (or, for ``{"warmup": True}``, the untimed warm-up)."""
    import persuasion
    from persuasion.game import Game

    if task.get("warmup"):
        g = Game([0.5, 0.5], [[0, 1], [0, 1]], [[1, 0], [0, 1]])
        persuasion.solve(g, "posterior", check_unique=False)
        persuasion.solve(g, "signaling", check_unique=False)
        return {}
    n, m = task["n"], task["m"]
    g = Game(*random_game_data(n, m, task["seed"], task["utilities"]))
    t0 = time.perf_counter()
    try:
        post = persuasion.solve(g, "posterior", check_unique=False,
                                max_vertices=task["max_vertices"])
    except persuasion.errors.ProblemTooLargeError as exc:
        return {"too_large": str(exc)}
    t_post = time.perf_counter() - t0
    t0 = time.perf_counter()
    sig = persuasion.solve(g, "signaling", check_unique=False)
    t_sig = time.perf_counter() - t0
    d = post.details
    return {"seconds_posterior": t_post, "seconds_signaling": t_sig,
            "seconds_enumeration": d["seconds_enumeration"], "seconds_lp": d["seconds_solve"],
            "vertex_count": d["vertex_count"], "n_candidates": d["n_candidates"],
            "vertex_upper_bound": d["vertex_upper_bound"],
            "nonempty_cells": d["nonempty_cells"], "cells": d["cells"],
            "n_signals": len(post.signals),
            "value_posterior": post.value, "value_signaling": sig.value}


# ---------------------------------------------------------------- parent side

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--square-sizes", type=int, nargs="*",
                   default=list(range(2, 17)),
                   help="n for the n-state, n-action series (default: 2..16)")
    p.add_argument("--m3-sizes", type=int, nargs="*",
                   default=[2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 24, 32, 48, 64, 96],
                   help="n for the n-state, 3-action series")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--utilities", choices=("uniform", "integer"), default="uniform")
    p.add_argument("--budget", type=float, default=20.0,
                   help="stop a series after the first size whose posterior solve takes "
                        "longer than this (seconds, default 20)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="kill a single measurement after this many seconds (default 120)")
    p.add_argument("--max-vertices", type=int, default=10_000_000,
                   help="max_vertices passed to the posterior solver (default 1e7: the "
                        "package default of 5000 would stop the m = n series near n = 11)")
    p.add_argument("--json", metavar="FILE", help="write the raw numbers to FILE")
    return p.parse_args(argv)


def run_series(worker, sizes, actions, args):
    """``actions`` is an int, or ``None`` for ``m = n``. Returns (rows, stop message)."""
    rows = []
    for n in sizes:
        m = n if actions is None else actions
        task = {"n": n, "m": m, "seed": args.seed, "utilities": args.utilities,
                "max_vertices": args.max_vertices}
        runs = []
        stop = None
        for _ in range(args.repeats):
            kind, out = worker.run(task, args.timeout)
            if kind == "timeout":
                stop = f"stopped at n={n}, m={m}: a run passed the {args.timeout:g} s timeout"
                break
            if kind == "error":
                stop = f"stopped at n={n}, m={m}: error {out.splitlines()[0]}"
                break
            if "too_large" in out:
                stop = f"stopped at n={n}, m={m}: {out['too_large']}"
                break
            runs.append(out)
            if out["seconds_posterior"] > args.budget:
                break  # no more repeats of a size over budget
        if runs:
            first = runs[0]
            row = {"n": n, "m": m, "runs": runs}
            for k in ("vertex_count", "n_candidates", "vertex_upper_bound", "nonempty_cells",
                      "cells", "n_signals", "value_posterior", "value_signaling"):
                row[k] = first[k]
            for k in ("seconds_posterior", "seconds_signaling", "seconds_enumeration",
                      "seconds_lp"):
                row[k] = median([r[k] for r in runs])
            ref = first["value_signaling"]
            row["rel_diff"] = abs(first["value_posterior"] - ref) / max(1.0, abs(ref))
            row["agree"] = row["rel_diff"] <= REL_TOL
            rows.append(row)
            print(f"# n={n} m={m}: posterior {row['seconds_posterior']:.3g} s, "
                  f"{row['vertex_count']} vertices", file=sys.stderr, flush=True)
            if stop is None and row["seconds_posterior"] > args.budget:
                stop = (f"stopped after n={n}, m={m}: the posterior solve took "
                        f"{row['seconds_posterior']:.3g} s > budget {args.budget:g} s")
        if stop:
            break
    return rows, stop


def table(rows) -> str:
    header = ["n", "m", "vertex_count", "n_candidates", "vertex_upper_bound",
              "enumeration s", "LP s", "posterior total s", "signaling s",
              "posterior/signaling", "values agree"]
    out = []
    for r in rows:
        ratio = (r["seconds_posterior"] / r["seconds_signaling"]
                 if r["seconds_signaling"] > 0 else float("nan"))
        out.append([r["n"], r["m"], r["vertex_count"], r["n_candidates"],
                    r["vertex_upper_bound"], f"{r['seconds_enumeration']:.3g}",
                    f"{r['seconds_lp']:.3g}", f"{r['seconds_posterior']:.3g}",
                    f"{r['seconds_signaling']:.3g}", f"{ratio:.1f}",
                    ("yes" if r["agree"] else "NO") + f" ({r['rel_diff']:.1e})"])
    return markdown_table(header, out)


def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    series = []
    worker = Worker("bench_posterior", "measure", warmup={"warmup": True})
    try:
        for title, sizes, actions in (("m = 3 actions", args.m3_sizes, 3),
                                      ("m = n actions", args.square_sizes, None)):
            if not sizes:
                continue
            rows, stop = run_series(worker, sizes, actions, args)
            series.append({"title": title, "actions": actions or "n", "rows": rows,
                           "stop": stop})
    finally:
        worker.close()
    wall = time.perf_counter() - t0
    print(f"Posterior LP vs signaling LP, random games ({args.utilities} utilities, seed "
          f"{args.seed}), median of up to {args.repeats} runs, budget {args.budget:g} s, "
          f"max_vertices {args.max_vertices}\n")
    for s in series:
        print(f"### {s['title']}\n")
        print(table(s["rows"]))
        print()
        print(s["stop"] or "all sizes ran within the budget")
        print()
    print(f"Total benchmark wall time: {wall:.1f} s")
    bad = [(r["n"], r["m"]) for s in series for r in s["rows"] if not r["agree"]]
    if bad:
        print(f"\nWARNING: posterior and signaling values disagree at (n, m) = {bad}")
    if args.json:
        write_json(args.json, {"benchmark": "posterior", "args": vars(args),
                               "machine": machine_info(), "wall_seconds": wall,
                               "series": series})
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
