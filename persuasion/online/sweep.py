"""Sweeps of regret runs over games x learners x seeds: parallel, append-only, resumable.

Each task is one ``(game, learner, learner parameters, horizon, seed)``; its key is a
hash of that content. :func:`run_sweep`

1. reads the results file (JSON Lines), repairs a last line cut off by an interruption
   (the partial line is dropped), and collects the keys already done (the JSON Lines
   helpers are :mod:`persuasion.runs`', shared with every long job of the toolkit);
2. submits the remaining tasks to an executor (default: a local
   :class:`concurrent.futures.ProcessPoolExecutor`);
3. appends each finished run as one line the moment it completes (written, flushed and
   fsync'ed by the parent process only, so lines never interleave).

An interrupted sweep therefore loses at most the runs in flight, and a rerun with the
same tasks does only what is missing, without duplicates.

**Other engines.** ``executor`` is anything with the :class:`concurrent.futures.Executor`
``submit(fn, *args)`` method returning :class:`concurrent.futures.Future` objects:

* Dask: ``from dask.distributed import Client; run_sweep(tasks, path,
  executor=Client(address).get_executor())``;
* Ray: wrap ``ray.remote``, whose object references convert to futures::

      class RayExecutor:
          def submit(self, fn, *args):
              return ray.remote(fn).remote(*args).future()

  then ``run_sweep(tasks, path, executor=RayExecutor())``.

The task function :func:`run_task` is a top-level function of plain data in and out, so
it pickles to any of them.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

from tqdm import tqdm

from ..game import game_from_dict
from ..runs import JsonlWriter, read_jsonl, repair_jsonl
from .learners import make_learner
from .simulate import simulate

__all__ = ["make_tasks", "task_key", "run_task", "run_sweep", "read_results"]


def task_key(task: dict) -> str:
    """Content hash of a task (game, learner, parameters, horizon, seed)."""
    payload = json.dumps({k: task[k] for k in ("game", "learner", "params", "horizon", "seed")},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def make_tasks(games, learners, horizon: int, seeds, params: dict | None = None) -> list[dict]:
    """Tasks for every game x learner x seed. ``games``: Game objects or JSON dicts;
    ``learners``: names; ``params``: per-learner parameter dicts by name."""
    params = params or {}
    tasks = []
    for g in games:
        gd = g if isinstance(g, dict) else g.to_dict(exact=True)
        for name in learners:
            for seed in seeds:
                task = {"game": gd, "learner": name, "params": params.get(name, {}),
                        "horizon": int(horizon), "seed": int(seed)}
                task["key"] = task_key(task)
                tasks.append(task)
    return tasks


def run_task(task: dict) -> dict:
    """Run one task; returns a JSON-ready record (the run plus the task's identity)."""
    game = game_from_dict(task["game"])
    learner = make_learner(task["learner"], **task["params"])
    run = simulate(game, learner, task["horizon"], seed=task["seed"])
    rec = run.to_dict()
    rec.update({"key": task["key"], "game": game.name, "params": task["params"]})
    return rec


def read_results(path) -> list[dict]:
    """Records of a results file, one per key (the first occurrence wins); lines that do
    not parse are skipped."""
    return read_jsonl(path, unique=lambda rec: rec.get("key"))


def run_sweep(tasks, path, *, executor=None, max_workers: int | None = None,
              progress: bool = True, task_fn=run_task) -> list[dict]:
    """Run the tasks not yet in ``path``; append each result as it completes.

    Parameters
    ----------
    tasks : list of dict
        From :func:`make_tasks` (each has a ``key``).
    path : path-like
        JSON Lines results file (created if missing).
    executor : Executor-like, optional
        Default: a local process pool with ``max_workers`` processes (default: CPU count).
    progress : bool
        Show a progress bar on stderr.
    task_fn : callable
        The function run per task (default :func:`run_task`).

    Returns
    -------
    list of dict
        All records for the given tasks' keys (old and new), in task order.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    repair_jsonl(path)
    done = {rec["key"] for rec in read_results(path)}
    todo = [t for t in tasks if t["key"] not in done]
    own = executor is None
    if own and todo:
        executor = ProcessPoolExecutor(max_workers=max_workers or os.cpu_count() or 1)
    bar = None
    if progress and todo:
        bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc="runs", unit="run",
                   leave=False)
    try:
        if todo:
            with JsonlWriter(path, ensure_ascii=True) as out:  # flushed and fsync'ed per record
                pending = {executor.submit(task_fn, t) for t in todo}
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        out.write(fut.result())
                        if bar is not None:
                            bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        if own and executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
    wanted = {t["key"] for t in tasks}
    by_key = {rec["key"]: rec for rec in read_results(path) if rec.get("key") in wanted}
    return [by_key[t["key"]] for t in tasks if t["key"] in by_key]
