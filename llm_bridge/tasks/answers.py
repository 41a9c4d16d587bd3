"""Answer extraction for math tasks: the answer a free-text response gives.

An explicit answer is preferred, the last one in the response: ``\\boxed{X}``,
``Answer: X`` (also ``Final answer:``, with markdown), ``the answer is X``, ``#### X``. If the
reference answer is a number, the number is taken from X (after the last ``=``, else the first
number); without an explicit answer, the last number in the response. Numbers lose thousands
separators, ``$`` and ``%``; ``-``/``−`` signs and decimals are kept; ``7.0`` becomes ``7`` when
the reference is an integer. Other references are graded on X with markdown stripped (or the
last non-empty line). :attr:`~llm_bridge.tasks.Grade.extracted` is what was graded.

>>> extract_math_answer("3 + 4 = 7\\nAnswer: 7", "7")
'7'
>>> extract_math_answer("We get \\\\boxed{-3} in the end.", "-3")
'-3'
>>> extract_math_answer("no numbers here", "3") is None
True
"""

from __future__ import annotations

import re

__all__ = ["extract_math_answer", "is_numeric_reference"]

_NUMBER = r"[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d])|[-+\u2212]?\.\d+"
_NUMBER_RE = re.compile(_NUMBER)
_NUMERIC_REF = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)\s*")
_ANSWER_LINE = re.compile(r"(?i)\banswer[*_\s]*[:\uff1a][*_\s]*(?P<x>[^\n]*)")
_ANSWER_IS = re.compile(r"(?i)\banswer\s+is\s*[:\uff1a]?[*_\s]*(?P<x>[^\n]*)")
_HASHES = re.compile(r"(?m)####[^\S\n]*(?P<x>[^\n]*)")
_BOXED = re.compile(r"\\boxed\s*\{")


def is_numeric_reference(reference: str) -> bool:
    """Whether a reference answer is a plain number (then a number is extracted).

    >>> is_numeric_reference(" -12 "), is_numeric_reference("['1', '2']")
    (True, False)
    """
    return bool(_NUMERIC_REF.fullmatch(str(reference)))


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
    numeric = reference is None or is_numeric_reference(reference)
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
