"""Benchmark: the robust learner's simulation speed, scheduled re-solves vs every round.

Measures, in one run on one core:

* the robust learner on a random 4-state, 4-action game for ``--horizon`` rounds
  (default 10^6) per seed, with the epoch schedule (re-solve when the number of
  observations doubles: O(log T) LPs) and vectorised batches of rounds;
* the naive baseline, which re-solves the robust LP every round, on a shorter horizon
  (``--naive-horizon``, default 2000; at 10^6 rounds it would take far too long), and its
  per-round cost extrapolated to the full horizon.

Prints seconds per seed, LPs solved, microseconds per round, and the ratio
naive/scheduled per round and extrapolated to the full horizon. Target: 10^6 rounds in
under 10 s per seed.

Run: ``python benchmarks/bench_online.py [--horizon 1000000] [--seeds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from fractions import Fraction

import numpy as np


def game_4x4(seed: int):
    from persuasion import Game

    rng = np.random.default_rng(seed)
    w = rng.integers(1, 10, 4)
    return Game([Fraction(int(x), int(w.sum())) for x in w], rng.uniform(-1, 1, (4, 4)),
                rng.uniform(-1, 1, (4, 4)), name=f"random-4x4-{seed}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--horizon", type=int, default=1_000_000)
    ap.add_argument("--naive-horizon", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--game-seed", type=int, default=1)
    ap.add_argument("--json", help="write the raw numbers to this file")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from persuasion.online import make_learner, optimal_value, simulate

    g = game_4x4(args.game_seed)
    opt = optimal_value(g)
    rows = []
    for s in range(args.seeds):
        t0 = time.perf_counter()
        run = simulate(g, make_learner("robust"), args.horizon, seed=s, opt=opt)
        sec = time.perf_counter() - t0
        rows.append({"seed": s, "seconds": sec, "lps": run.n_solves,
                     "regret": run.final_pseudo_regret, "violations": run.violations})
    t0 = time.perf_counter()
    naive = simulate(g, make_learner("robust", resolve_every=1), args.naive_horizon, seed=0, opt=opt)
    naive_sec = time.perf_counter() - t0
    sched_sec = statistics.median(r["seconds"] for r in rows)
    per_round_sched = sched_sec / args.horizon
    per_round_naive = naive_sec / args.naive_horizon
    # the same short horizon with the schedule, for a like-for-like ratio
    t0 = time.perf_counter()
    simulate(g, make_learner("robust"), args.naive_horizon, seed=0, opt=opt)
    short_sched = time.perf_counter() - t0

    print(f"# online benchmark ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, one process)")
    print(f"game {g.name}: OPT = {opt:.6f}")
    print()
    print("| seed | horizon | seconds | LPs solved | µs/round | final pseudo-regret | violations |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {args.horizon:,} | {r['seconds']:.2f} | {r['lps']} | "
              f"{1e6 * r['seconds'] / args.horizon:.2f} | {r['regret']:.1f} | {r['violations']} |")
    print()
    print("| variant | horizon | seconds | LPs solved | µs/round |")
    print("|---|---|---|---|---|")
    print(f"| scheduled re-solve (median of seeds) | {args.horizon:,} | {sched_sec:.2f} | "
          f"{rows[0]['lps']} | {1e6 * per_round_sched:.2f} |")
    print(f"| scheduled re-solve | {args.naive_horizon:,} | {short_sched:.3f} | - | "
          f"{1e6 * short_sched / args.naive_horizon:.1f} |")
    print(f"| naive: re-solve every round | {args.naive_horizon:,} | {naive_sec:.2f} | "
          f"{naive.n_solves} | {1e6 * per_round_naive:.1f} |")
    print()
    print(f"naive / scheduled, same {args.naive_horizon:,} rounds: {naive_sec / short_sched:.0f}x")
    print(f"naive extrapolated to {args.horizon:,} rounds: {per_round_naive * args.horizon:.0f} s "
          f"= {per_round_naive / per_round_sched:.0f}x the scheduled learner")
    print(f"target 10^6 rounds < 10 s per seed: {'met' if sched_sec * 1e6 / args.horizon < 10 else 'NOT met'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "naive_seconds": naive_sec, "naive_horizon": args.naive_horizon,
                       "short_scheduled_seconds": short_sched}, f, indent=1)


if __name__ == "__main__":
    main()
