"""Task lookup by name: :func:`load_task` builds a task from its name, :func:`task_names`
lists the valid single names (see :mod:`llm_bridge.tasks` for the name forms)."""

from __future__ import annotations

from llm_bridge.errors import ConfigError

from .base import NAMED_TASKS, Task
from .humaneval import HumanEvalTask
from .math_tasks import MATH_MIX, MathTask, generator_names

__all__ = ["load_task", "task_names"]


def task_names() -> list[str]:
    """Valid single names: ``humaneval``, ``math-mix`` and every reasoning-gym generator."""
    return list(NAMED_TASKS) + generator_names()


def load_task(name: str, **kw) -> Task:
    """A task by name (see :mod:`llm_bridge.tasks`).

    Parameters
    ----------
    name : str
        ``"humaneval"``, ``"math-mix"``, a reasoning-gym generator (optionally
        ``"name:key=value;..."``) or a comma list of generators (a mixture).
    **kw
        ``humaneval``: ``timeout_s``, ``memory_mb``; a single generator: its configuration.

    Raises
    ------
    ConfigError
        Unknown name (listing valid ones), bad configuration.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"task: expected a non-empty task name, got {name!r}")
    key = name.strip()
    if key.lower() == "humaneval":
        return HumanEvalTask(**kw)
    if key.lower() == "math-mix":
        if kw:
            raise ConfigError(f"task: math-mix takes no keyword configuration, got {sorted(kw)}")
        return MathTask(MATH_MIX, name="math-mix")
    parts = [p.strip() for p in key.split(",")]
    if any(not p for p in parts):
        raise ConfigError(f"task: empty generator name in {name!r}")
    for p in parts:
        if p.lower() in NAMED_TASKS:
            raise ConfigError(f"task: {p!r} cannot be part of a mixture in {name!r}")
    return MathTask(parts, **kw)
