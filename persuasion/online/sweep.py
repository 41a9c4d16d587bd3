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

**Engines.** ``executor`` is a spec string of :mod:`persuasion.online.executors`
(``persuasion regret --executor``): ``local`` (the default), ``dask:local`` (a Dask
``LocalCluster`` of worker processes on this machine), ``dask:tcp://HOST:PORT`` (a running
Dask scheduler), ``ray:local`` or ``ray:ADDRESS``; Dask and Ray are optional extras
(``pip install 'persuasion[dask]'``, ``'persuasion[ray]'``). It may also be any object
with the :class:`concurrent.futures.Executor` method ``submit(fn, *args)`` returning
:class:`concurrent.futures.Future` objects (a thread pool, ``Client.get_executor()``),
which the caller keeps open and closes. Every engine gives the same records: a run
depends only on its task (its seed included), never on where it ran. A run whose worker
dies is re-run by Dask and Ray themselves; a run that fails for good is reported, with
its key, by :class:`SweepTaskError` once every other run has finished and been written.

The task function :func:`run_task` is a top-level function of plain data in and out, so
it pickles to any of them.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import FIRST_COMPLETED, wait
from contextlib import ExitStack
from pathlib import Path

from tqdm import tqdm

from ..game import game_from_dict
from ..runs import JsonlWriter, read_jsonl, repair_jsonl
from .executors import check_workers, open_executor, parse_executor
from .learners import make_learner
from .simulate import simulate

__all__ = ["make_tasks", "task_key", "run_task", "run_sweep", "read_results", "SweepTaskError"]


class SweepTaskError(RuntimeError):
    """Runs of a sweep failed for good (the task function raised, or a distributed engine
    gave up on a task whose workers kept dying). Every other run was written; a rerun
    retries only the failed (and unfinished) ones.

    Attributes
    ----------
    failures : list of (str, BaseException)
        The key of each failed task and its exception, in the order they failed.
    key : str
        The first failed task's key.
    """

    def __init__(self, failures, n_tasks: int, path):
        self.failures = list(failures)
        self.key = self.failures[0][0]
        exc = self.failures[0][1]
        super().__init__(f"{len(self.failures)} of {n_tasks} runs failed (not written to "
                         f"{path}; a rerun retries them); first: task {self.key}: "
                         f"{type(exc).__name__}: {exc}")


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


def run_sweep(tasks, path, *, executor="local", max_workers: int | None = None,
              progress: bool = True, task_fn=run_task) -> list[dict]:
    """Run the tasks not yet in ``path``; append each result as it completes.

    Parameters
    ----------
    tasks : list of dict
        From :func:`make_tasks` (each has a ``key``; a key given twice runs once).
    path : path-like
        JSON Lines results file (created if missing).
    executor : str or Executor-like
        A spec of :mod:`persuasion.online.executors` (``local``, ``dask:local``,
        ``dask:tcp://HOST:PORT``, ``ray:local``, ``ray:ADDRESS``; None means ``local``),
        started only if there is something to run and stopped on return; or an object
        with ``submit(fn, *args) -> Future``, left open.
    max_workers : int, optional
        Worker processes of ``local``, ``dask:local`` and ``ray:local`` (default: CPU
        count, at most one per task to run).
    progress : bool
        Show a progress bar on stderr (updated by this process as runs finish, whatever
        the engine).
    task_fn : callable
        The function run per task (default :func:`run_task`); it must pickle to the
        engine's workers (a top-level function of an importable module).

    Returns
    -------
    list of dict
        All records for the given tasks' keys (old and new), in task order.

    Raises
    ------
    persuasion.errors.GameValidationError
        A bad spec (field ``executor``), its optional package missing, or its scheduler
        unreachable (nothing is written, not even ``path``'s folder); ``max_workers`` given
        for a running cluster (field ``workers``).
    SweepTaskError
        Some runs failed for good (raised after every other run was written).
    """
    spec = None  # an executor object: the caller's to close
    if executor is None or isinstance(executor, str):
        spec = parse_executor("local" if executor is None else executor)  # before any work
        check_workers(spec, max_workers)
    path = Path(path)
    repair_jsonl(path)
    done = {rec["key"] for rec in read_results(path)}
    todo = list({t["key"]: t for t in tasks if t["key"] not in done}.values())
    n_wanted = len({t["key"] for t in tasks})
    failures = []
    with ExitStack() as stack:
        if todo:
            if spec is not None:
                executor = stack.enter_context(
                    open_executor(spec, max_workers=max_workers, n_tasks=len(todo)))
            if progress:
                desc = "runs" if spec is None or spec.engine == "local" else f"runs ({spec.text})"
                bar = stack.enter_context(tqdm(total=n_wanted, initial=n_wanted - len(todo),
                                               desc=desc, unit="run", leave=False))
            else:
                bar = None
            path.parent.mkdir(parents=True, exist_ok=True)  # once the engine answered
            out = stack.enter_context(JsonlWriter(path, ensure_ascii=True))  # fsync'ed per record
            task_of = {executor.submit(task_fn, t): t for t in todo}
            pending = set(task_of)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    try:
                        record = fut.result()
                    except Exception as exc:  # the others still run and are written
                        failures.append((task_of[fut]["key"], exc))
                        continue
                    out.write(record)
                    if bar is not None:
                        bar.update(1)
    if failures:
        raise SweepTaskError(failures, len(todo), path)
    wanted = {t["key"] for t in tasks}
    by_key = {rec["key"]: rec for rec in read_results(path) if rec.get("key") in wanted}
    return [by_key[t["key"]] for t in tasks if t["key"] in by_key]
