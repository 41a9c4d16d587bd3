"""Pitfall states of code problems (HumanEval): the information item the Advisor observes.

The code counterpart of :mod:`llm_bridge.pitfalls`. A HumanEval problem's question is its
function prompt (signature, type hints, docstring, docstring examples); its state is the
**pitfall** the prompt itself points at: the kind of detail on which a correct-looking
function most often fails. It is read from the PROMPT ONLY (the entry point's signature, its
arguments' type hints and its docstring, parsed with :mod:`ast`, never run), never from the
tests, the canonical solution, a model's output or a grade, so the item holds nothing the
Receiver could not read in its own prompt. A problem's state is the first pitfall of this
decision list that it has:

============ ========================================================================
``edge``     an edge case: a docstring example passes an empty list, string, tuple or
             dict, ``None``, ``0``, a negative number or a one-element list, or the
             docstring's prose mentions ``empty`` (not "non-empty"), ``None``, a
             ``negative`` number, ``zero`` or "no such"
``boundary`` boundaries and indexing (off-by-one): the prose mentions an index or
             indices, a position, a substring, prefix or suffix, consecutive or adjacent
             elements, a range, inclusive/exclusive/including, the n-th or first n/k
             elements, "first and last" or the last element (character, digit, index,
             word, letter, one), an interval, or "up to"
``numeric``  numeric details: a ``float`` type hint, or the prose mentions floats,
             decimals, rounding, integer or floor division, digits, primes, modulo or a
             remainder, divisibility, factorials, binary or a base, Fibonacci numbers
``ordering`` ordering and ties: the prose mentions sorting, an order, ascending or
             descending, increasing or decreasing, the largest, smallest, greatest,
             biggest, highest or lowest, a maximum or minimum, ties, duplicates, unique or
             distinct values, lexicographic or alphabetical order, the closest, or "the
             first one" / "comes first"
``string``   string handling: a ``str`` type hint, or the prose mentions letter case,
             vowels, consonants, spaces or whitespace, characters, letters, words,
             parsing, delimiters or separators, ASCII, the alphabet, brackets or
             parentheses, or strings
``plain``    none of the above: no particular trap
============ ========================================================================

"The prose" is every docstring line that is not an example: lines starting with ``>>>``, the
output lines that follow them, lines that call the entry point, and ``Input:``, ``Output:``,
``Explanation:`` and ``For x = ...`` lines are examples. On the 164 HumanEval prompts the
list gives edge 60, boundary 22, numeric 30, ordering 17, string 19, plain 16 (the order puts
the concrete, specific traps before the broad ``string`` class; ``tests/llm_bridge/
test_code_pitfalls.py`` pins these counts).

:func:`code_pitfall_item` renders the item the Advisor is shown: ``"Pitfall: DESCRIPTION
Where: QUOTE"``, the QUOTE a verbatim part of the prompt of at most 120 characters that shows
the trap: for an example, its **input only** (the call ``f([])``, or the value of an
``Input:`` / ``For x =`` line), never its expected output; for the prose or a type hint, the
sentence (or the ``name: type`` of the signature) that names it; for ``plain``, the
docstring's first sentence. The examples are in the Receiver's own prompt too, so a quote is
no leak; it is kept short and free of outputs all the same. Quotes without ``=``, ``<`` or
``>`` are preferred (a hint that copies an operator is dropped by
:func:`llm_bridge.advisor.drop_code_leaks`). As in :mod:`llm_bridge.pitfalls`, the
evaluation's *prior* condition passes ``located=False``: its item is a state drawn from the
prior, which may not be this problem's, so it is the description alone, never with a place
(a place would say that this problem has that pitfall).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from .errors import ConfigError
from .pitfalls import Pitfall

__all__ = ["CODE_PITFALLS", "CODE_PITFALLS_VERSION", "CodePrompt", "code_prompt_of", "find_code_pitfalls",
           "code_pitfall_of", "code_pitfall_item"]

#: The version of the code states, their rules, descriptions and places, and of the Advisor's
#: code item prompt and code leak filter (``llm_bridge.advisor``), in run identities: a folder
#: made with other definitions is not resumed with these. 2: the filter keeps double quotes
#: and verbatim runs of the prompt, and catches imports, operators, attributes and literals.
CODE_PITFALLS_VERSION = 2
#: The decision list, in order (the module docstring says what each means).
CODE_PITFALLS: tuple[Pitfall, ...] = (
    Pitfall("edge", "The docstring or its examples show an edge case (an empty input, None, zero, "
                    "a negative number or a single element): handle it on its own, before the "
                    "general case, exactly as the docstring says."),
    Pitfall("boundary", "Indices, positions, substrings, consecutive elements or the ends of a range "
                        "matter: check whether each end is included, whether counting starts at 0 or "
                        "1, and the first and the last element (off-by-one)."),
    Pitfall("numeric", "The result depends on a numeric detail (floats, rounding, integer division, "
                       "digits, primes or remainders): follow the docstring's exact rule and return "
                       "the type it asks for."),
    Pitfall("ordering", "Order matters (sorting, the largest or smallest, ties or duplicates): keep the "
                        "order the docstring asks for and apply its rule for ties and repeated values."),
    Pitfall("string", "The problem turns on string handling (letter case, whitespace, particular "
                      "characters, vowels or parsing): treat every kind of character the docstring "
                      "mentions exactly as it says."),
    Pitfall("plain", "No particular edge case, boundary, numeric, ordering or string trap: implement "
                     "the docstring as written and check it against each of its examples."),
)
_NAMES = tuple(p.name for p in CODE_PITFALLS)
_MAX_QUOTE = 120
_MAX_CHARS = 20_000

# the prose keywords of each class (case-insensitive, except where marked (?-i:...))
_NOT_NON = r"(?<!non-)(?<!non )"
_KEYWORDS: dict[str, re.Pattern] = {
    "edge": re.compile(_NOT_NON + r"\bempty\b|(?-i:\bNone\b)|" + _NOT_NON + r"\bnegative\b|\bzero\b"
                       r"|\bno such\b", re.I),
    "boundary": re.compile(r"\bind(?:ex|exes|ices|icies)\b|\bpositions?\b|\bsubstrings?\b|\bprefix(?:es)?\b"
                           r"|\bsuffix(?:es)?\b|\bpostfix\b|\bconsecutive\b|\badjacent\b|\brange\b"
                           r"|\binclusive\b|\bexclusive\b|\bincluding\b|\bn-th\b|\bnth\b|\bfirst [nk]\b"
                           r"|\bfirst and last\b|\blast (?:element|character|char|digit|index|one|word|letter)s?\b"
                           r"|\bintervals?\b|\bup ?to\b", re.I),
    "numeric": re.compile(r"\bfloat|\bfloating\b|\bdecimals?\b|\bround(?:ed|ing)?\b|\binteger division\b"
                          r"|\bfloor\b|\bdigits?\b|\bprimes?\b|\bmodul[oe]\b|\bremainder\b|\bdivisible\b"
                          r"|\bdivides\b|\bdivisor\b|\bfactorial\b|\bbinary\b|\bbase\b|\bfibb?onacci\b", re.I),
    "ordering": re.compile(r"\bsort|\border\b|\bascending\b|\bdescending\b|\bincreasing\b|\bdecreasing\b"
                           r"|\blargest\b|\bsmallest\b|\bgreatest\b|\bbiggest\b|\bhighest\b|\blowest\b"
                           r"|\bmax(?:imum)?\b|\bmin(?:imum)?\b|\bties?\b|\bduplicates?\b|\bunique\b"
                           r"|\bdistinct\b|\blexicographic|\balphabetical|\bclosest\b|\bfirst one\b"
                           r"|\bcomes first\b", re.I),
    "string": re.compile(r"\b(?:upper|lower)\s*-?\s*case\b|\bcase\b|\bvowels?\b|\bconsonants?\b"
                         r"|\bwhite\s*spaces?\b|\bspaces?\b|\bcharacters?\b|\bchars?\b|\bletters?\b"
                         r"|\bwords?\b|\bpars(?:e|ing)\b|\bdelimit|\bseparated\b|\bascii\b|\balphabet"
                         r"|\bparenthes|\bbrackets?\b|\bstrings?\b", re.I),
}
# the type names in an argument's hint that show a class
_HINTS = {"float": "numeric", "str": "string"}
_EXAMPLE_START = re.compile(r"^(?:>>>|Input\b|Output\b|Explanation\b|For\s+\w+\s*=)", re.I)
_FOR_INPUT = re.compile(r"^For\s+(\w+\s*=\s*.+?)(?:,?\s+the\s+(?:output|result|sum)\b|$)", re.I)
_INPUT = re.compile(r"^Input\s*:\s*(.*\S)")


@dataclass(frozen=True)
class CodePrompt:
    """What the code states read of a prompt: the docstring's lines (verbatim, stripped, with
    the quote marks of the first and last removed; an output line of a ``>>>`` example is
    left out), which of them are examples, and the signature's ``name: type`` hints."""

    entry_point: str
    lines: tuple[str, ...]
    examples: tuple[bool, ...]
    hints: tuple[tuple[str, str], ...]  # (the annotation, its source "name: type")


def _docstring_node(fn) -> ast.Constant | None:
    """The first string statement of ``fn``'s body (HumanEval/115 has an import before it)."""
    for stmt in fn.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            return stmt.value
    return None


def code_prompt_of(problem) -> CodePrompt:
    """The parts of ``problem``'s function prompt the states read: a HumanEval problem
    (``metadata["entry_point"]`` and a question that defines it with a docstring), else a
    ConfigError naming the problem."""
    uid = getattr(problem, "uid", "?")
    meta = getattr(problem, "metadata", None) or {}
    entry = meta.get("entry_point")
    question = getattr(problem, "question", None)
    if not isinstance(entry, str) or not entry or not isinstance(question, str) \
            or not re.search(rf"\bdef\s+{re.escape(entry)}\s*\(", question):
        raise ConfigError(f"states: problem {uid!r} is not a HumanEval problem (no entry point and "
                          f"function prompt; the 'code-pitfall' states need one)")
    if len(question) > _MAX_CHARS:
        raise ConfigError(f"states: problem {uid!r}: the prompt has {len(question)} characters, more "
                          f"than the {_MAX_CHARS} the code pitfall states read")
    try:
        tree = ast.parse(question)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ConfigError(f"states: problem {uid!r}: cannot parse the function prompt") from None
    fn = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
               and n.name == entry), None)
    doc = None if fn is None else _docstring_node(fn)
    if doc is None:
        raise ConfigError(f"states: problem {uid!r}: the function {entry!r} has no docstring to read")
    raw = ast.get_source_segment(question, doc).splitlines()
    raw[0] = re.sub(r"^\s*[rRuU]?(\"\"\"|''')", "", raw[0])
    raw[-1] = re.sub(r"(\"\"\"|''')\s*$", "", raw[-1])
    lines, examples, after_prompt = [], [], False
    for line in (x.strip() for x in raw):
        if not line:
            after_prompt = False
            continue
        if line.startswith(">>>"):
            after_prompt = True
        elif after_prompt:
            continue  # the expected output of a >>> example
        lines.append(line)
        examples.append(bool(_EXAMPLE_START.match(line) or _calls(line, entry)))
    hints = []
    for arg in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs:
        if arg.annotation is not None:
            hints.append((ast.unparse(arg.annotation), ast.get_source_segment(question, arg)))
    return CodePrompt(entry, tuple(lines), tuple(examples), tuple(hints))


def bracket_end(text: str, start: int) -> int | None:
    """The end (one past the closer) of the bracketed group opened at or after ``start``,
    quotes respected; ``None`` when it is never closed."""
    depth, quote = 0, None
    for i in range(start, len(text)):
        c = text[i]
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth <= 0:
                return i + 1
    return None


def _calls(line: str, entry: str) -> list[str]:
    """The calls ``entry(...)`` in ``line`` with their balanced parentheses (verbatim)."""
    out = []
    for m in re.finditer(rf"(?<![\w.]){re.escape(entry)}\s*\(", line):
        end = bracket_end(line, m.end() - 1)
        if end is not None:
            out.append(line[m.start():end])
    return out


def _edge_value(node) -> bool:
    """Whether an argument is an edge case: an empty list, tuple, set, dict or string, None,
    zero, a negative number, or a one-element list."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return len(node.elts) <= 1 if isinstance(node, ast.List) else not node.elts
    if isinstance(node, ast.Dict):
        return not node.keys
    if isinstance(node, ast.Constant):
        return node.value is None or node.value == "" or (
            type(node.value) in (int, float) and node.value == 0)
    return (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float))


def _arguments(text: str) -> list[tuple[object, str]]:
    """The arguments of a call ``f(...)``, or the values of ``a = 1, b = []`` / of a bare value,
    each with its source text (verbatim); [] when it does not parse."""
    text = text.strip()
    for source, offset in ((text, 0), (f"f({text})", 2)):
        try:
            node = ast.parse(source, mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        if offset == 0 and not isinstance(node, ast.Call):
            return [(node, text)]
        values = list(node.args) + [k.value for k in node.keywords]
        return [(v, ast.get_source_segment(source, v)) for v in values]
    return []


def _sentence(line: str, start: int, end: int) -> str:
    """The sentence of ``line`` around ``line[start:end]``, cut to at most 120 characters at
    word boundaries (a verbatim part of the line)."""
    lo = max([m.end() for m in re.finditer(r"[.!?;]\s+", line[:start])], default=0)
    hi = next((m.start() + 1 for m in re.finditer(r"[.!?;](\s|$)", line[end:])), len(line) - end) + end
    if hi - lo > _MAX_QUOTE:
        mid = (start + end) // 2
        lo = max(lo, mid - _MAX_QUOTE // 2)
        hi = min(hi, lo + _MAX_QUOTE)
        lo = max(lo, hi - _MAX_QUOTE)
        if lo > 0 and line[lo - 1] != " ":
            lo = line.find(" ", lo) + 1 if " " in line[lo:start] else lo
        if hi < len(line) and line[hi] != " ":
            hi = line.rfind(" ", end, hi) if " " in line[end:hi] else hi
    return line[lo:hi].strip()


def find_code_pitfalls(prompt: CodePrompt) -> dict[str, list[str]]:
    """Every pitfall of a prompt with the quotes that show it (verbatim parts of the prompt,
    in the order of the prompt; the type hints first).

    >>> import types
    >>> q = 'def f(xs: list, s: str) -> int:\\n    \"\"\"Count the vowels.\\n    >>> f([], "a")\\n    0\\n    \"\"\"\\n'
    >>> found = find_code_pitfalls(code_prompt_of(types.SimpleNamespace(uid="u", question=q, metadata={"entry_point": "f"})))
    >>> found["edge"], found["string"]
    (['f([], "a")'], ['s: str', 'Count the vowels.'])
    >>> found["plain"]
    []
    """
    found: dict[str, list[str]] = {name: [] for name in _NAMES}

    def add(kind: str, text: str) -> None:
        text = text.strip()
        if text and len(text) <= _MAX_QUOTE and text not in found[kind]:
            found[kind].append(text)

    for annotation, source in prompt.hints:  # List[float]: a float hint
        for name in re.findall(r"\w+", annotation):
            if name in _HINTS:
                add(_HINTS[name], source)
    for line, example in zip(prompt.lines, prompt.examples):
        if example:
            calls = _calls(line, prompt.entry_point)
            for call in calls:  # the call is the input part of the example
                if any(_edge_value(a) for a, _ in _arguments(call)):
                    add("edge", call)
            m = None if calls else (_FOR_INPUT.match(line) or _INPUT.match(line))
            if m:  # "Input: x = []", "For lst = [] the output ...": the value itself
                for a, source in _arguments(m.group(1)):
                    if _edge_value(a):
                        add("edge", source)
            continue
        for kind, pattern in _KEYWORDS.items():
            m = pattern.search(line)
            if m:
                add(kind, _sentence(line, m.start(), m.end()))
    if not any(found[k] for k in _NAMES[:-1]):
        first = next((x for x, ex in zip(prompt.lines, prompt.examples) if not ex), "")
        if first:
            add("plain", _sentence(first, 0, 0))
    return found


def _place(quotes: list[str]) -> str | None:
    """The quote an item shows: the first without ``=``, ``<`` or ``>``, else the first."""
    return next((q for q in quotes if not re.search(r"[=<>]", q)), quotes[0] if quotes else None)


def code_pitfall_of(problem, states: tuple[str, ...] | list[str] | None = None) -> str | None:
    """The state of ``problem``: the first pitfall of the decision list it has (``plain``
    when none); with ``states``, the first of those (the decision list restricted to the
    states a task was fitted with; None when the problem has none of them). A problem with
    no other pitfall is ``plain`` even where its docstring has no prose to quote."""
    found = find_code_pitfalls(code_prompt_of(problem))
    has = {name: bool(found[name]) for name in _NAMES}
    has["plain"] = not any(has[k] for k in _NAMES[:-1])
    return next((name for name in _NAMES if has[name] and (states is None or name in states)), None)


def code_pitfall_item(problem, name: str, *, located: bool = True) -> str:
    """The item the Advisor is shown for ``problem`` and the pitfall ``name``: ``"Pitfall:
    DESCRIPTION"``, then, when ``located`` and the problem has that pitfall, ``" Where:
    QUOTE"`` (module docstring). The evaluation's *prior* condition passes ``located=False``.

    >>> import types
    >>> q = 'def f(xs: list) -> int:\\n    \"\"\"Return the last index of 0.\\n    >>> f([])\\n    -1\\n    \"\"\"\\n'
    >>> p = types.SimpleNamespace(uid="u", question=q, metadata={"entry_point": "f"})
    >>> code_pitfall_item(p, "edge").split(" Where: ")[1]
    'f([])'
    >>> code_pitfall_item(p, "boundary").split(" Where: ")[1]
    'Return the last index of 0.'
    >>> " Where: " in code_pitfall_item(p, "edge", located=False)
    False
    """
    if name not in _NAMES:
        raise ConfigError(f"states: unknown code pitfall {name!r}; expected one of {list(_NAMES)}")
    description = CODE_PITFALLS[_NAMES.index(name)].description
    where = _place(find_code_pitfalls(code_prompt_of(problem))[name]) if located else None
    if where is None:
        return f"Pitfall: {description}"
    return f"Pitfall: {description} Where: {where}"
