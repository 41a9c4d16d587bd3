"""Math tasks from reasoning-gym generators: generator specs, problem streams and mixtures,
the math prompts, and grading with each generator's own scorer.

Specs
-----
``"chain_sum"``
    ``reasoning_gym.create_dataset(name, size=..., seed=...)``; graded with the generator's
    own ``score_answer`` on the extracted answer (:func:`~llm_bridge.tasks.answers.
    extract_math_answer`), correct iff the score is 1.0.
``"name:key=value;key=value"``
    A generator with configuration, passed to ``create_dataset`` as keywords; values are
    read as int, float, ``true``/``false``, ``none``, else kept as strings (no commas).
    Example: ``"chain_sum:min_terms=2;max_terms=3;max_digits=2"``.
Several specs (:class:`MathTask` of a list)
    A mixture: an equal share per generator (counts differ by at most one in every prefix),
    interleaved round by round in a seed-dependent order; a question already drawn from
    another generator is skipped. ``metadata["source_dataset"]`` is the generator's name,
    ``metadata["source_spec"]`` the canonical spec (name and sorted configuration) and
    ``metadata["generator_config"]`` the configuration, if any.

Streams
-------
A generator's items come from its own reasoning-gym seed, derived from (generator,
configuration, seed) by SHA-256 (the generators draw item ``i`` from ``Random(seed + i)``, so
consecutive raw seeds would give shifted copies of one stream); repeated question texts are
skipped. A math uid is ``"<generator spec>/<seed>/<index>"``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from llm_bridge.errors import ConfigError

from .answers import extract_math_answer, is_numeric_reference
from .base import (NAMED_TASKS, Grade, Problem, Task, check_count, check_response, check_seed,
                   hash_int, hint_prefix)

__all__ = ["MATH_MIX", "MathTask", "generator_names"]

#: The generators of ``"math-mix"`` (see :mod:`llm_bridge.tasks` for the measured accuracies).
MATH_MIX: tuple[str, ...] = (
    "basic_arithmetic:min_terms=2;max_terms=2;max_digits=1;operators=+",
    "basic_arithmetic:min_terms=2;max_terms=2;max_digits=1;operators=*",
    "chain_sum:min_terms=2;max_terms=2;max_digits=2",
)

_MATH_SYSTEM = "You are a helpful assistant. Solve the problem carefully and state the final answer."
# The first part of every generator's derived seed. It is the old module name and must stay
# this literal string: changing it would change every math problem stream and split.
_SEED_NAMESPACE = "llm_bridge.tasks"

_DROP = object()


def _json_safe(value):
    """Copy of ``value`` with only JSON data (tuples become lists; other values dropped).

    >>> _json_safe({"a": (1, 2.0, float("nan")), "b": object(), 3: None})
    {'a': [1, 2.0], '3': None}
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _DROP
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, (str, int, float)):
                continue
            v = _json_safe(v)
            if v is not _DROP:
                out[str(k)] = v
        return out
    if isinstance(value, (list, tuple)):
        return [v for v in (_json_safe(x) for x in value) if v is not _DROP]
    if isinstance(value, np.generic):  # numpy scalars
        return _json_safe(value.item())
    return _DROP


def _parse_value(text: str):
    """A configuration value: bool, None, int, float, else the text.

    >>> [_parse_value(t) for t in ("true", "None", "3", "2.5", "+")]
    [True, None, 3, 2.5, '+']
    """
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _rg():
    try:
        import reasoning_gym
    except ImportError as exc:  # pragma: no cover - reasoning_gym is a dependency
        raise ConfigError("task: math tasks need the 'reasoning-gym' package "
                          "(pip install reasoning-gym)") from exc
    return reasoning_gym


def generator_names() -> list[str]:
    """The names of every reasoning-gym generator, sorted."""
    return sorted(_rg().factory.DATASETS)


@dataclass(frozen=True)
class _Source:
    label: str         # canonical spec, e.g. "chain_sum:max_digits=2;max_terms=3"
    generator: str     # reasoning-gym name
    config: tuple      # sorted (key, value) pairs


def _parse_source(spec: str, extra: Mapping | None = None) -> _Source:
    spec = spec.strip()
    name, _, cfg_text = spec.partition(":")
    name = name.strip()
    names = generator_names()
    if name not in names:
        raise _unknown(name)
    config = {}
    if cfg_text.strip():
        for item in cfg_text.split(";"):
            if not item.strip():
                continue
            key, eq, value = item.partition("=")
            if not eq or not key.strip():
                raise ConfigError(f"task: bad generator configuration {item!r} in {spec!r} "
                                  "(expected key=value, separated by ';')")
            config[key.strip()] = _parse_value(value.strip())
    if extra:
        config.update(extra)
    items = tuple(sorted(config.items()))
    label = name + (":" + ";".join(f"{k}={_fmt(v)}" for k, v in items) if items else "")
    return _Source(label=label, generator=name, config=items)


def _fmt(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _unknown(name: str) -> ConfigError:
    valid = list(NAMED_TASKS) + generator_names()
    close = difflib.get_close_matches(name, valid, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ConfigError(
        f"task: unknown task {name!r}{hint} Valid names: {', '.join(NAMED_TASKS)}, a "
        f"reasoning-gym generator (e.g. basic_arithmetic, chain_sum, gsm_symbolic, leg_counting; "
        f"{len(valid) - len(NAMED_TASKS)} in all), or a comma list of generators")


class MathTask(Task):
    """Reasoning-gym generators (one, or a mixture with equal shares).

    Parameters
    ----------
    sources : sequence of str
        Generator specs (``"chain_sum"``, ``"chain_sum:max_terms=3;max_digits=2"``).
    name : str, optional
        Task name (default: the specs joined by commas).
    """

    kind = "math"

    def __init__(self, sources: Sequence[str], *, name: str | None = None, **config):
        if isinstance(sources, str):
            sources = [sources]
        specs = [s for s in (x.strip() for x in sources) if s]
        if not specs:
            raise ConfigError("task: no generator given")
        if config and len(specs) > 1:
            raise ConfigError(f"task: keyword configuration {sorted(config)} applies to a single "
                              "generator; give per-generator settings as 'name:key=value;...'")
        self.sources = tuple(_parse_source(s, config) for s in specs)
        labels = [s.label for s in self.sources]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"task: a generator is listed twice in {labels}")
        self.name = name or ",".join(labels)
        self._datasets: dict = {}
        for src in self.sources:  # fail early on bad configurations
            self._dataset(src, 0, 1)

    # -- data
    def _rg_seed(self, src: _Source, seed: int) -> int:
        return hash_int(_SEED_NAMESPACE, src.label, seed)

    def _dataset(self, src: _Source, seed: int, size: int):
        key = (src.label, seed)
        ds = self._datasets.get(key)
        if ds is not None and len(ds) >= size:
            return ds
        size = max(size, 2 * len(ds) if ds is not None else 0, 64)
        try:
            ds = _rg().create_dataset(src.generator, size=size, seed=self._rg_seed(src, seed),
                                      **dict(src.config))
        except (TypeError, AssertionError, ValueError, KeyError) as exc:
            raise ConfigError(f"task: invalid configuration for generator {src.label!r}: "
                              f"{exc}") from exc
        if len(self._datasets) > 64:
            self._datasets.clear()
        self._datasets[key] = ds
        return ds

    def _make(self, src: _Source, seed: int, index: int, item: Mapping) -> Problem:
        meta = _json_safe(item.get("metadata") or {})
        meta["source_dataset"] = src.generator
        meta["source_index"] = index
        meta["source_spec"] = src.label
        if src.config:
            meta["generator_config"] = _json_safe(dict(src.config))
        answer = item.get("answer")
        return Problem(uid=f"{src.label}/{seed}/{index}", task=self.name,
                       question=str(item["question"]),
                       answer=None if answer is None else str(answer),
                       metadata=meta, entry=(src.label, dict(item)))

    def _stream(self, src: _Source, seed: int, count: int) -> list[Problem]:
        out, seen, index = [], set(), 0
        limit = 20 * count + 200
        while len(out) < count:
            if index >= limit:
                raise ConfigError(
                    f"n: generator {src.label!r} gave only {len(out)} distinct problems in "
                    f"{index} draws, fewer than the {count} requested; widen its configuration")
            ds = self._dataset(src, seed, index + 1)
            item = ds[index]
            if item["question"] not in seen:
                seen.add(item["question"])
                out.append(self._make(src, seed, index, item))
            index += 1
        return out

    def problems(self, n: int, seed: int) -> list[Problem]:
        """First ``n`` problems for ``seed``: round-robin over the generators, each round
        in a seed-dependent order."""
        n = check_count("n", n)
        seed = check_seed(seed)
        k = len(self.sources)
        per = -(-n // k)
        streams = {src.label: self._stream(src, seed, per) for src in self.sources}
        position = {src.label: 0 for src in self.sources}
        seen: set[str] = set()
        out: list[Problem] = []
        r = 0
        while len(out) < n:
            order = sorted(self.sources, key=lambda s: hash_int("round", seed, r, s.label))
            for src in order:
                if len(out) >= n:
                    break
                stream = streams[src.label]
                while True:  # next item of this source whose question is new to the mixture
                    if position[src.label] >= len(stream):
                        stream = streams[src.label] = self._stream(src, seed, 2 * len(stream) + 8)
                    item = stream[position[src.label]]
                    position[src.label] += 1
                    if item.question not in seen:
                        break
                seen.add(item.question)
                out.append(item)
            r += 1
        return out

    def problem_by_uid(self, uid: str) -> Problem:
        try:
            label, seed_text, index_text = uid.rsplit("/", 2)
            seed, index = int(seed_text), int(index_text)
        except ValueError:
            raise ConfigError(f"uid: {uid!r} is not '<generator>/<seed>/<index>'") from None
        src = next((s for s in self.sources if s.label == label), None)
        if src is None:
            raise ConfigError(f"uid: generator {label!r} is not part of task {self.name!r}")
        return self._make(src, seed, index, self._dataset(src, seed, index + 1)[index])

    # -- prompts
    def system_prompt(self) -> str | None:
        return _MATH_SYSTEM

    def user_prompt(self, problem: Problem, hint: str | None = None) -> str:
        numeric = problem.answer is None or is_numeric_reference(problem.answer)
        form = "Answer: <number>" if numeric else "Answer: <answer>"
        return (f"{hint_prefix(hint)}{problem.question.strip()}\n\n"
                f"Give the final answer on the last line, in the form \"{form}\".")

    # -- grading
    def grade(self, problem: Problem, response: str) -> Grade:
        check_response(response)
        entry = problem.entry
        if entry is None:
            entry = self.problem_by_uid(problem.uid).entry
        label, item = entry
        src = next(s for s in self.sources if s.label == label)
        seed = int(problem.uid.rsplit("/", 2)[1])
        extracted = extract_math_answer(response, problem.answer)
        if extracted is None:
            return Grade(False, 0.0, None, "no answer found")
        ds = self._dataset(src, seed, 1)
        try:
            score = float(ds.score_answer(extracted, item))
        except Exception as exc:  # a generator's scorer choking on odd input
            return Grade(False, 0.0, extracted, f"scorer error: {type(exc).__name__}: {exc}")
        if not math.isfinite(score):
            score = 0.0
        correct = score >= 1.0 - 1e-9
        detail = "correct" if correct else f"expected {problem.answer!r}, got {extracted!r}"
        return Grade(correct, score, extracted, detail)
