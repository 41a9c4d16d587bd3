"""The task interface: problem, grade and split types, the :class:`Task` base class, and the
helpers every task shares (count and seed checks, the SHA-256 hash behind deterministic
orders and seeds, the hint prefix of prompts).

``problems(n, seed)`` is a deterministic stream: the same seed gives the same problems, and
``problems(n, seed)`` is a prefix of ``problems(n + k, seed)``.
``splits(n_train=, n_calibration=, n_test=, seed=)`` cuts one stream into test, calibration,
train (in that order): the test set depends only on ``(seed, n_test)``, so it stays the same
when the training set grows. The three are disjoint by uid and by question.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_bridge.errors import ConfigError
from llm_bridge.validate import check_int

__all__ = ["Grade", "NAMED_TASKS", "Problem", "Splits", "Task"]

#: Task names that are not reasoning-gym generators (see :func:`llm_bridge.tasks.load_task`).
NAMED_TASKS: tuple[str, ...] = ("humaneval", "math-mix")


# ------------------------------------------------------------------------ data types
@dataclass(frozen=True)
class Problem:
    """One problem of a task.

    Attributes
    ----------
    uid : str
        Stable identifier (``"chain_sum/0/17"``, ``"HumanEval/12"``).
    task : str
        Name of the task that produced it.
    question : str
        The text shown to models.
    answer : str or None
        Reference answer (math) or canonical solution body (code).
    metadata : Mapping
        JSON-safe; mixtures include ``"source_dataset"``; difficulty fields of the generator.
    entry : Any
        The raw item for the grader (not serialised, not compared).
    """

    uid: str
    task: str
    question: str
    answer: str | None
    metadata: Mapping = field(compare=False)
    entry: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """JSON-safe dictionary (without :attr:`entry`).

        >>> Problem("t/0/1", "t", "1 + 1?", "2", {"k": 1}).to_dict()["answer"]
        '2'
        """
        return {"uid": self.uid, "task": self.task, "question": self.question,
                "answer": self.answer, "metadata": dict(self.metadata)}


@dataclass(frozen=True)
class Grade:
    """Result of grading one response.

    Attributes
    ----------
    correct : bool
    score : float
        The grader's score in [0, 1] (reasoning-gym's partial credit; 1.0 or 0.0 for code).
    extracted : str or None
        What was graded (the extracted answer or code); None if nothing was found.
    detail : str
        Short human-readable explanation (sandbox status and stderr tail for code).
    """

    correct: bool
    score: float
    extracted: str | None
    detail: str

    def to_dict(self) -> dict:
        """JSON-safe dictionary of the four fields.

        >>> Grade(True, 1.0, "7", "correct").to_dict()
        {'correct': True, 'score': 1.0, 'extracted': '7', 'detail': 'correct'}
        """
        return {"correct": bool(self.correct), "score": float(self.score),
                "extracted": self.extracted, "detail": self.detail}


@dataclass(frozen=True)
class Splits:
    """Disjoint train, calibration and test problems."""

    train: tuple[Problem, ...]
    calibration: tuple[Problem, ...]
    test: tuple[Problem, ...]

    def uids(self) -> dict[str, list[str]]:
        """``{"train": [...], "calibration": [...], "test": [...]}``."""
        return {"train": [p.uid for p in self.train],
                "calibration": [p.uid for p in self.calibration],
                "test": [p.uid for p in self.test]}

    def to_dict(self) -> dict:
        """``{"train": [...], "calibration": [...], "test": [...]}`` of
        :meth:`Problem.to_dict` dictionaries."""
        return {"train": [p.to_dict() for p in self.train],
                "calibration": [p.to_dict() for p in self.calibration],
                "test": [p.to_dict() for p in self.test]}


# ------------------------------------------------------------------------ helpers
def check_count(name: str, value) -> int:
    """``value`` as a non-negative int, else ConfigError naming ``name``.

    >>> check_count("n", 0)
    0
    >>> check_count("n", -1)
    Traceback (most recent call last):
    ...
    llm_bridge.errors.ConfigError: n: expected a non-negative integer, got -1
    """
    return check_int(name, value, 0)


def check_seed(seed) -> int:
    """``seed`` as an int (any sign), else ConfigError naming ``seed``."""
    return check_int("seed", seed, None)


def hash_int(*parts) -> int:
    """A 64-bit integer from SHA-256 of the parts' ``str`` joined by ``\\x1f``: the source of
    every deterministic order and derived seed of the tasks (stable across processes and
    Python versions, unlike ``hash``).

    >>> hash_int("round", 0, 1, "chain_sum") == hash_int("round", 0, 1, "chain_sum")
    True
    """
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def hint_prefix(hint: str | None) -> str:
    """``"Hint: ...\\n\\n"`` for a non-blank hint, ``""`` for None or a blank one.

    >>> hint_prefix("  check the signs ")
    'Hint: check the signs\\n\\n'
    >>> hint_prefix(None)
    ''
    """
    if hint is None:
        return ""
    if not isinstance(hint, str):
        raise ConfigError(f"hint: expected a str or None, got {type(hint).__name__}")
    hint = hint.strip()
    return f"Hint: {hint}\n\n" if hint else ""


def check_response(response) -> str:
    """``response`` if it is a str, else ConfigError naming ``response``."""
    if not isinstance(response, str):
        raise ConfigError(f"response: expected a str, got {type(response).__name__}")
    return response


# ------------------------------------------------------------------------ the interface
class Task:
    """Base class of tasks: a stream of problems, prompts and a grader.

    Subclasses implement :meth:`problems`, :meth:`user_prompt`, :meth:`system_prompt`,
    :meth:`grade` and :meth:`problem_by_uid`.
    """

    name: str = ""
    kind: str = ""

    def problems(self, n: int, seed: int) -> list[Problem]:
        """The first ``n`` problems of the stream for ``seed`` (deterministic)."""
        raise NotImplementedError

    def splits(self, *, n_train: int, n_calibration: int, n_test: int, seed: int) -> Splits:
        """Disjoint, deterministic splits: test first, then calibration, then train.

        Raises
        ------
        ConfigError
            A negative or non-int count (naming the field), or too few problems.
        """
        n_train = check_count("n_train", n_train)
        n_calibration = check_count("n_calibration", n_calibration)
        n_test = check_count("n_test", n_test)
        seed = check_seed(seed)
        total = n_train + n_calibration + n_test
        self._check_total(total, "n_train + n_calibration + n_test")
        items = self.problems(total, seed)
        test = tuple(items[:n_test])
        calibration = tuple(items[n_test:n_test + n_calibration])
        train = tuple(items[n_test + n_calibration:])
        return Splits(train=train, calibration=calibration, test=test)

    def _check_total(self, total: int, what: str) -> None:
        """Hook for tasks with a finite pool."""

    def user_prompt(self, problem: Problem, hint: str | None = None) -> str:
        """The receiver's user message (the hint, if any, comes first as ``Hint: ...``)."""
        raise NotImplementedError

    def system_prompt(self) -> str | None:
        """The receiver's system message (None: none)."""
        return None

    def messages(self, problem: Problem, hint: str | None = None) -> list[dict]:
        """OpenAI-style conversation: system prompt (if any) and :meth:`user_prompt`."""
        out = []
        system = self.system_prompt()
        if system:
            out.append({"role": "system", "content": system})
        out.append({"role": "user", "content": self.user_prompt(problem, hint)})
        return out

    def grade(self, problem: Problem, response: str) -> Grade:
        """Grade a receiver's response to ``problem``."""
        raise NotImplementedError

    def problem_by_uid(self, uid: str) -> Problem:
        """Rebuild a problem (with its grader entry) from its uid."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
