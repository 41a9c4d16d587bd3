"""Timed measurements in a child process that is stopped at a time limit.

The benchmark scripts of this folder time solvers whose running time can grow very fast
with the size of the game. Each measurement runs in a long-lived worker process (started
with ``spawn``, so that no solver thread pool is inherited through ``fork``); when a
measurement passes its time limit the worker is killed and a fresh one is started for
the next measurement. The time itself is taken inside the worker, around the timed
section only (game generation and prebuilt matrices stay outside).

Also here: the random games shared by the scripts, the median and table helpers, and
the machine description written into the JSON output.
"""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import platform
import statistics
import sys
import traceback

import numpy as np

__all__ = ["Worker", "random_game_data", "median", "fmt_seconds", "fmt_ratio",
           "markdown_table", "machine_info", "write_json"]

UTILITIES = ("uniform", "integer")


def random_game_data(n_states: int, n_actions: int, seed: int, utilities: str = "uniform"):
    """Prior and utility matrices of a random game, reproducible from ``(seed, n, m)``.

    Parameters
    ----------
    n_states, n_actions : int
    seed : int
        The generator is ``numpy.random.default_rng([seed, n_states, n_actions])``, so
        every size gets its own independent, reproducible game.
    utilities : {"uniform", "integer"}
        ``"uniform"``: floats uniform on [0, 1); ``"integer"``: integers uniform on
        {0, ..., 10}. The prior is Dirichlet(1, ..., 1).

    Returns
    -------
    prior : ndarray, shape (n_states,)
    sender_utility, receiver_utility : ndarray, shape (n_states, n_actions)
    """
    if utilities not in UTILITIES:
        raise ValueError(f"utilities: expected one of {', '.join(UTILITIES)}, got {utilities!r}")
    rng = np.random.default_rng([seed, n_states, n_actions])
    prior = rng.dirichlet(np.ones(n_states))
    if utilities == "uniform":
        V = rng.uniform(size=(n_states, n_actions))
        U = rng.uniform(size=(n_states, n_actions))
    else:
        V = rng.integers(0, 11, size=(n_states, n_actions))
        U = rng.integers(0, 11, size=(n_states, n_actions))
    return prior, V, U


def _serve(conn, target_module: str, target_name: str, sys_path: list) -> None:
    sys.path[:0] = [p for p in sys_path if p not in sys.path]
    module = __import__(target_module, fromlist=[target_name])
    target = getattr(module, target_name)
    state: dict = {}
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            conn.send(("ok", target(task, state)))
        except Exception as exc:  # reported to the parent, which records it
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


class Worker:
    """A child process that runs ``target(task, state)`` for each task, with a time limit.

    Parameters
    ----------
    target_module, target_name : str
        Where the measurement function lives (a module importable from ``sys.path``,
        e.g. the benchmark script's own file name without ``.py``). It is called as
        ``target(task, state)`` where ``state`` is a dict kept between tasks in the
        same worker (a cache for the game of the current size), and returns a
        picklable dict.
    warmup : dict, optional
        A task run (untimed, without the time limit) whenever a fresh worker starts:
        imports and a tiny solve, so that no measurement pays for them.
    """

    def __init__(self, target_module: str, target_name: str, warmup=None):
        self._target = (target_module, target_name)
        self._warmup = warmup
        self._ctx = multiprocessing.get_context("spawn")
        self._proc = None
        self._conn = None

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(child, *self._target, list(sys.path)),
                                       daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        if self._warmup is not None:
            self._conn.send(self._warmup)
            kind, out = self._conn.recv()
            if kind != "ok":
                raise RuntimeError(f"benchmark worker warm-up failed: {out}")

    def run(self, task, timeout: float):
        """Run one task. Returns ``("ok", result)``, ``("error", text)`` or
        ``("timeout", None)`` (the worker is then killed and replaced)."""
        if self._proc is None or not self._proc.is_alive():
            self._start()
        self._conn.send(task)
        if self._conn.poll(timeout):
            try:
                return self._conn.recv()
            except EOFError:
                self._stop(kill=True)
                return ("error", "the worker process died (out of memory?)")
        self._stop(kill=True)
        return ("timeout", None)

    def _stop(self, kill: bool) -> None:
        if self._proc is None:
            return
        if kill:
            self._proc.kill()
        else:
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._conn.close()
        self._proc = self._conn = None

    def close(self) -> None:
        self._stop(kill=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def median(values):
    """Median of the finite values, ``None`` when there are none."""
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt_seconds(entry: dict, timeout: float | None = None) -> str:
    """Table cell for one method at one size: median seconds, or why there is none."""
    status = entry.get("status")
    if status == "ok":
        return f"{entry['median_s']:.3g}"
    if status == "timeout":
        return f"> {entry.get('timeout_s', timeout):g} (timeout)"
    if status == "skipped":
        return "skipped"
    if status == "error":
        return "error"
    return "-"


def fmt_ratio(num, den) -> str:
    if num is None or den is None or den <= 0:
        return "-"
    return f"{num / den:.2f}"


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_info() -> dict:
    info = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
            "python": platform.python_version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "numpy": np.__version__}
    for mod in ("highspy", "cvxpy", "scipy"):
        try:
            from importlib.metadata import version

            info[mod] = version(mod)
        except Exception:
            info[mod] = None
    return info


def write_json(path: str, payload: dict) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1, default=_jsonable)
        fh.write("\n")


def _jsonable(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
