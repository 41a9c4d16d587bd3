"""Pitfall states of arithmetic problems: the information item the Advisor observes.

A state of the persuasion game should be something the Advisor knows about *this* problem and
the Receiver does not exploit unaided (issue 13). For an arithmetic expression that is its
**pitfall**: the structural feature on which solvers most often slip. It is read from the
expression alone (``problem.metadata["expression"]`` for reasoning-gym's ``basic_arithmetic``,
else the arithmetic in the question), parsed with :mod:`ast` and never evaluated, so the item
holds no result and no reference answer. A problem's state is the first pitfall of this
decision list that it has:

============== =====================================================================
``magnitude``  a product or quotient of a number of three or more digits: long
               multiplication or division, where most slips happen
``precedence`` a product or quotient that is an operand of a sum or difference without its
               own parentheses (``a + b * c``): multiplication and division come first
``nesting``    parentheses inside parentheses
``sign``       a negative operand inside the expression: ``a - -b``, ``a + -b``, ``a * -b``,
               or a minus in front of parentheses, ``-( ... )``
``plain``      none of the above (sums and differences, or small products in their own
               parentheses): no particular trap
============== =====================================================================

:func:`pitfall_item` renders the item the Advisor is shown: the pitfall's description and,
when the problem has that pitfall, *where* (the sub-expressions, quoted from the problem). In
the evaluation's *prior* condition the item is a state drawn from the prior, so it may name a
pitfall this problem does not have; it is given as the description alone, never with a place
(a place would say that this problem has that pitfall), which keeps the prior condition
uninformative about the problem.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["PITFALLS", "PITFALLS_VERSION", "Pitfall", "expression_of", "find_pitfalls", "pitfall_of", "pitfall_item"]


@dataclass(frozen=True)
class Pitfall:
    """A pitfall class: its name and the description the Advisor is given."""

    name: str
    description: str


#: The version of the states, their descriptions and places, in run identities: a folder made
#: with other definitions is not resumed with these.
PITFALLS_VERSION = 2
#: The decision list, in order (the module docstring says what each means).
PITFALLS: tuple[Pitfall, ...] = (
    Pitfall("magnitude", "A multiplication or division involves a number of three or more "
                         "digits: do it in partial products and check the number of digits."),
    Pitfall("precedence", "Multiplication and division must be done before the addition and "
                          "subtraction around them, not left to right."),
    Pitfall("nesting", "There are parentheses inside parentheses: work from the innermost pair "
                       "outwards."),
    Pitfall("sign", "A negative number is subtracted, added or multiplied, or a minus stands in "
                    "front of parentheses: minus a negative is plus, and a product with an odd "
                    "number of negative factors is negative."),
    Pitfall("plain", "No sign, precedence, nesting or long-multiplication trap: compute it in the "
                     "usual order of operations, checking each step."),
)
_NAMES = tuple(p.name for p in PITFALLS)
_EXPR = re.compile(r"[-+*/()\d\s.]+")


def expression_of(problem) -> str:
    """The arithmetic expression of ``problem``: ``metadata["expression"]`` when present, else the
    longest run of arithmetic characters in the question that contains an operator; ConfigError
    naming the problem when there is none."""
    meta = getattr(problem, "metadata", None) or {}
    expr = meta.get("expression")
    if not isinstance(expr, str) or not expr.strip():
        runs = [m.group(0).strip() for m in _EXPR.finditer(problem.question)]
        runs = [r.rstrip(".").strip() for r in runs if re.search(r"\d\s*[-+*/]\s*[-(\d]", r)]
        if not runs:
            raise ConfigError(f"states: problem {problem.uid!r} holds no arithmetic expression "
                              f"(the 'pitfall' states need one)")
        expr = max(runs, key=len)
    return expr.strip()


_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.USub, ast.UAdd)
_MAX_CHARS = 2000


def _parse(expr: str, uid: str) -> ast.AST:
    """The parse tree of ``expr``: numbers, parentheses and + - * / only (never evaluated)."""
    if len(expr) > _MAX_CHARS:
        raise ConfigError(f"states: problem {uid!r}: the expression has {len(expr)} characters, "
                          f"more than the {_MAX_CHARS} the pitfall states read")
    try:
        tree = ast.parse(expr, mode="eval")
    except (SyntaxError, ValueError):
        raise ConfigError(f"states: problem {uid!r}: cannot parse the expression {expr!r}") from None
    except (RecursionError, MemoryError):
        raise ConfigError(f"states: problem {uid!r}: the expression is nested too deeply to read") from None
    for node in ast.walk(tree):
        ok = isinstance(node, (ast.Expression, ast.BinOp, ast.UnaryOp)) or isinstance(node, _OPS) or (
            isinstance(node, ast.Constant) and type(node.value) in (int, float))
        if not ok or (isinstance(node, (ast.BinOp, ast.UnaryOp)) and not isinstance(node.op, _OPS)):
            raise ConfigError(f"states: problem {uid!r}: {expr[:80]!r} is not plain arithmetic "
                              f"(numbers, parentheses and + - * / only)")
    return tree.body


def _parenthesised(expr: str, node) -> bool:
    """Whether ``node``'s source is immediately wrapped in its own parentheses."""
    before = expr[:node.col_offset].rstrip()
    after = expr[node.end_col_offset:].lstrip()
    return before.endswith("(") and after.startswith(")")


def _start(expr: str, node) -> int:
    """Where ``node``'s source starts, with every pair of parentheses that wraps it exactly."""
    start, end = node.col_offset, node.end_col_offset
    while True:
        before = expr[:start].rstrip()
        after = expr[end:].lstrip()
        if not (before.endswith("(") and after.startswith(")")):
            return start
        start = len(before) - 1
        end = len(expr) - len(after) + 1


def _digits(node) -> int:
    if isinstance(node, ast.Constant):
        return len(str(abs(node.value)).split(".")[0])
    if isinstance(node, ast.UnaryOp):
        return _digits(node.operand)
    return 0


def _depth(expr: str) -> int:
    depth = best = 0
    for ch in expr:
        depth += ch == "("
        depth -= ch == ")"
        best = max(best, depth)
    return best


def find_pitfalls(expr: str, uid: str = "?") -> dict[str, list[str]]:
    """Every pitfall of ``expr`` with the sub-expressions where it occurs (quoted from ``expr``).

    >>> find_pitfalls("2 - -1")["sign"]
    ['2 - -1']
    >>> find_pitfalls("5 + 3 - -6 - 5")["sign"]
    ['3 - -6']
    >>> find_pitfalls("7 + 3 * 4")["precedence"]
    ['3 * 4']
    >>> find_pitfalls("(7 + 3) * 4")["precedence"]
    []
    """
    root = _parse(expr, uid)
    found: dict[str, list[str]] = {name: [] for name in _NAMES}

    def seg(node) -> str:
        return " ".join(ast.get_source_segment(expr, node).split())

    def pair(node) -> str:
        """``node``'s operator with the operand just before it, at the same precedence level
        (``5371 - -6049`` of a chain of sums; ``2 * 3 - -4`` whole, not cut inside the product),
        with any parentheses around that operand."""
        level = (ast.Add, ast.Sub) if isinstance(node.op, (ast.Add, ast.Sub)) else (ast.Mult, ast.Div)
        left = node.left
        while isinstance(left, ast.BinOp) and isinstance(left.op, level) and not _parenthesised(expr, left):
            left = left.right
        return " ".join(expr[_start(expr, left):node.end_col_offset].split())

    def add(kind: str, text: str) -> None:
        if text not in found[kind]:
            found[kind].append(text)

    for node in ast.walk(root):
        if isinstance(node, ast.BinOp):
            right = node.right
            if isinstance(right, ast.UnaryOp) and isinstance(right.op, ast.USub):
                add("sign", pair(node))
            elif isinstance(node.op, (ast.Mult, ast.Div)) and isinstance(node.left, ast.UnaryOp) \
                    and isinstance(node.left.op, ast.USub):
                add("sign", pair(node))
            if isinstance(node.op, (ast.Add, ast.Sub)):
                for child in (node.left, node.right):
                    if isinstance(child, ast.BinOp) and isinstance(child.op, (ast.Mult, ast.Div)) \
                            and not _parenthesised(expr, child):
                        add("precedence", seg(child))
            if isinstance(node.op, (ast.Mult, ast.Div)) and max(_digits(node.left), _digits(node.right)) >= 3:
                add("magnitude", pair(node))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and not isinstance(node.operand, ast.Constant):
            add("sign", seg(node))
    if _depth(expr) >= 2:
        add("nesting", " ".join(expr.split()))
    if not any(found[k] for k in _NAMES[:-1]):
        found["plain"].append(" ".join(expr.split()))
    return found


def pitfall_of(problem, states: tuple[str, ...] | list[str] | None = None) -> str | None:
    """The state of ``problem``: the first pitfall of the decision list it has; with ``states``,
    the first of those (the decision list restricted to the states a task was fitted with;
    None when the problem has none of them)."""
    found = find_pitfalls(expression_of(problem), problem.uid)
    return next((name for name in _NAMES if found[name] and (states is None or name in states)), None)


def pitfall_item(problem, state: str, *, located: bool = True) -> str:
    """The item the Advisor is shown for ``problem`` and the pitfall ``state``: the description,
    then, when ``located`` and the problem has that pitfall, where it has it. The evaluation's
    *prior* condition passes ``located=False``: its item is a state drawn from the prior, and a
    place would tell the Advisor that this problem has that pitfall.

    >>> from llm_bridge.tasks.base import Problem
    >>> p = Problem("t/0/0", "t", "Calculate 9 - -4 * 2.", "17", {"expression": "9 - -4 * 2"})
    >>> pitfall_item(p, "sign").endswith("Where: -4 * 2.")
    True
    >>> pitfall_item(p, "sign", located=False).endswith("is negative.")
    True
    >>> pitfall_item(p, "nesting").endswith("outwards.")
    True
    """
    if state not in _NAMES:
        raise ConfigError(f"states: unknown pitfall {state!r}; expected one of {list(_NAMES)}")
    description = PITFALLS[_NAMES.index(state)].description
    where = find_pitfalls(expression_of(problem), problem.uid)[state] if located else []
    if not where:
        return f"Pitfall: {description}"
    return f"Pitfall: {description} Where: {'; '.join(where[:3])}."
