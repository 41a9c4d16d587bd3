"""Benchmark: speed-up of a regret sweep with 1, 2 and 4 workers, local processes and Dask.

The sweep is ``--games`` random games (200; 2-5 states x 2-5 actions, integer utilities,
from :func:`timing.random_game_data`) x ``--seeds`` seeds (10) of the robust learner for
``--horizon`` rounds (10^4: about 20-30 ms a run on one core), through
:func:`persuasion.online.sweep.run_sweep` on each engine (``--engines``, default
``local,dask:local``) with each number of workers (``--workers``, default ``1,2,4``).

For each configuration the engine is started first and warmed up (two tiny runs per
worker, so that spawned workers have imported the toolkit), then the sweep is timed
(``sweep_s``), then the engine is stopped; ``total_s`` includes start and stop, as a user
of ``persuasion regret --executor`` sees it. Speed-ups are against 1 worker of the same
engine in the same run. Every configuration's records are compared with the first one's
(JSON without the wall time): they must be identical, whatever the engine.

Expect no gain beyond the machine's core count (on 2 cores, 4 workers cannot beat 2).

Run: ``python benchmarks/bench_sweep.py [--games 200] [--seeds 10] [--horizon 10000]
[--workers 1,2,4] [--engines local,dask:local] [--json benchmarks/results/bench_sweep.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from timing import machine_info, markdown_table, random_game_data, write_json  # noqa: E402

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "bench_sweep.json"


def random_games(n_games: int, seed: int):
    """``n_games`` random games of 2-5 states x 2-5 actions (integer utilities in 0..10)."""
    from persuasion import Game

    rng = np.random.default_rng(seed)
    games = []
    for i in range(n_games):
        n, m = int(rng.integers(2, 6)), int(rng.integers(2, 6))
        prior, V, U = random_game_data(n, m, seed * 100_003 + i, "integer")
        games.append(Game(prior, V, U, name=f"random-{n}x{m}-{i}"))
    return games


def _canonical(records) -> dict:
    return {r["key"]: json.dumps({k: v for k, v in r.items() if k != "seconds"}, sort_keys=True)
            for r in records}


def measure(spec: str, workers: int, tasks, warmup_tasks) -> dict:
    """Start the engine, warm it up, time the sweep, stop the engine."""
    from persuasion.online.executors import open_executor
    from persuasion.online.sweep import run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with open_executor(spec, max_workers=workers) as ex:
            run_sweep(warmup_tasks[:2 * workers], Path(tmp) / "warmup.jsonl", executor=ex,
                      progress=False)
            t1 = time.perf_counter()
            records = run_sweep(tasks, Path(tmp) / "runs.jsonl", executor=ex, progress=False)
            t2 = time.perf_counter()
        t3 = time.perf_counter()
    return {"engine": spec, "workers": workers, "start_s": t1 - t0, "sweep_s": t2 - t1,
            "stop_s": t3 - t2, "total_s": t3 - t0, "runs": len(records),
            "records": _canonical(records)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--horizon", type=int, default=10_000)
    ap.add_argument("--learner", default="robust")
    ap.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    ap.add_argument("--engines", default="local,dask:local",
                    help="executor specs, comma-separated (local, dask:local, ray:local, ...)")
    ap.add_argument("--game-seed", type=int, default=0)
    ap.add_argument("--json", default=str(DEFAULT_JSON), help="where to write the numbers")
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread per worker process
    from persuasion.online.executors import parse_executor
    from persuasion.online.sweep import make_tasks

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:
        parse_executor(e)  # a bad spec or a missing extra fails before anything runs
    counts = [int(w) for w in args.workers.split(",")]
    games = random_games(args.games, args.game_seed)
    tasks = make_tasks(games, [args.learner], args.horizon, range(args.seeds))
    warmup = make_tasks(games[:8], [args.learner], 10, [10**6])
    print(f"# sweep benchmark: {len(games)} games x {args.seeds} seeds = {len(tasks)} runs of "
          f"{args.learner}, T = {args.horizon}; {os.cpu_count()} cores", flush=True)
    rows, reference = [], None
    for spec in engines:
        base = None
        for w in counts:
            r = measure(spec, w, tasks, warmup)
            records = r.pop("records")
            if reference is None:
                reference = records
            r["identical_to_first"] = records == reference
            if base is None:
                base = r
            r["speedup_sweep"] = base["sweep_s"] / r["sweep_s"]
            r["speedup_total"] = base["total_s"] / r["total_s"]
            r["runs_per_s"] = r["runs"] / r["sweep_s"]
            rows.append(r)
            print(f"{spec:<12} {w} workers: sweep {r['sweep_s']:.2f} s "
                  f"(x{r['speedup_sweep']:.2f}), total {r['total_s']:.2f} s "
                  f"(x{r['speedup_total']:.2f}), identical records: {r['identical_to_first']}",
                  flush=True)
    print()
    print(markdown_table(
        ["engine", "workers", "start s", "sweep s", "total s", "speed-up (sweep)",
         "speed-up (total)", "runs/s", "records identical"],
        [[r["engine"], r["workers"], f"{r['start_s']:.2f}", f"{r['sweep_s']:.2f}",
          f"{r['total_s']:.2f}", f"{r['speedup_sweep']:.2f}", f"{r['speedup_total']:.2f}",
          f"{r['runs_per_s']:.1f}", "yes" if r["identical_to_first"] else "NO"] for r in rows]))
    payload = {"benchmark": "bench_sweep", "games": args.games, "seeds": args.seeds,
               "runs": len(tasks), "horizon": args.horizon, "learner": args.learner,
               "game_seed": args.game_seed, "machine": machine_info(), "results": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.json, payload)
    print(f"\nwritten to {args.json}")
    return 0 if all(r["identical_to_first"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
