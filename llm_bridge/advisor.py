"""The Advisor: a small causal LM that renders an abstract signal plus the problem into a hint.

In the abstract game a signal is an action recommendation ("reason step by step", ...;
see :mod:`llm_bridge.abstract_game`). The Advisor sees the problem and the recommended
action and writes a short problem-specific hint in natural language. Two prompt styles:

* ``chat`` (models with a chat template, e.g. SmolLM2-135M-Instruct): a system message
  asking for a one-sentence hint that tells the solver to follow the recommendation, without
  giving the answer;
* ``plain`` (GPT-2 and other base LMs): a completion prompt ending in ``"Hint:"``, stopped at
  the first newline.

The hint shown to the Receiver (``hint_format``) is either the Advisor's text alone
(``"advisor"``) or the action's canonical instruction followed by the Advisor's text
(``"instruction+advisor"``, the default): a 135M Advisor often drops the recommendation, and
the canonical sentence guarantees that the signal reaches the Receiver while the Advisor adds
the problem-specific part.

**Items.** With states that carry an information item (:meth:`llm_bridge.states.
StateAbstraction.item`, e.g. the ``pitfall`` states: the problem's trap and where it is), the
Advisor is also shown the item and asked to warn about it *in this problem*, quoting the part of
the expression it concerns; its sentence is then the content of the hint. The item never holds
a result or the reference answer. Items of code problems (the ``code-pitfall`` states of
:mod:`llm_bridge.code_pitfalls`) are shown with a code tutor's system prompt and hand-written
code examples instead (``item_kind="code"``, which the states give:
:attr:`llm_bridge.states.StateAbstraction.item_kind`); arithmetic items and hints without an
item are unchanged by it.

**Leak filter** (on by default): a 135M Advisor asked for a hint often announces a (wrong)
final answer instead ("The final answer to the arithmetic problem is 10."), and the Receiver
copies it. :func:`drop_leaks` removes every sentence that mentions an answer, a result or an
equality, or that contains a number absent from the problem. A hint is advice on how to
solve, not a solution; the raw text is kept in the records, and ``Hint.dropped`` counts the
sentences removed, so that the filter's rate is reported. A hint written from a code item is
filtered by :func:`drop_code_leaks` instead: it drops sentences that contain code or state
the output of an input.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, replace
from typing import Sequence

from .code_pitfalls import CODE_PITFALLS, bracket_end
from .errors import ConfigError
from .generation import GenerationSettings, chat_prompt, generate, generate_samples

__all__ = ["Advisor", "Hint", "HINT_FORMATS", "ITEM_KINDS", "drop_leaks", "drop_code_leaks"]

HINT_FORMATS = ("instruction+advisor", "advisor")
#: The kinds of information items: arithmetic pitfalls (:mod:`llm_bridge.pitfalls`) and code
#: pitfalls (:mod:`llm_bridge.code_pitfalls`); each has its own prompt and leak filter.
ITEM_KINDS = ("arithmetic", "code")

_SYSTEM = (
    "You are a concise tutor. Given a problem and a solving strategy, write ONE short sentence "
    "that tells the student how to apply the strategy to this problem. Never state the final answer."
)
_SYSTEM_ITEM = (
    "You are a concise math tutor. You are told a problem, its trap and where the trap is. Write "
    "ONE short sentence that warns the student about that trap, quoting the part of the problem "
    "it concerns. Do not compute anything."
)
#: Worked examples of item hints, shown before the problem (a 135M model follows examples,
#: not instructions): hand-written, not drawn from any task, and stating no result.
ITEM_EXAMPLES = (
    ("Calculate 12 - -7 + 3.",
     "Pitfall: A negative number is subtracted. Where: 12 - -7.",
     "In 12 - -7 you subtract a negative, so you add 7 instead."),
    ("Calculate 4 + 6 * 3 - 2.",
     "Pitfall: Multiplication comes before addition. Where: 6 * 3.",
     "Do 6 * 3 first, and only then add 4 and subtract 2."),
    ("Calculate 352 * 41 + 5.",
     "Pitfall: A long multiplication. Where: 352 * 41.",
     "Multiply 352 by 41 one digit of 41 at a time and add the partial products before adding 5."),
)
_SYSTEM_CODE_ITEM = (
    "You are a concise programming tutor. You are told a Python function to write, its trap and "
    "where the prompt shows it. Write ONE short sentence in plain English that warns the student "
    "about that trap, quoting the place. Do not write any code and do not say what the function returns."
)
_CODE_DESCRIPTIONS = {p.name: p.description for p in CODE_PITFALLS}
#: Worked examples of code item hints (as ITEM_EXAMPLES): hand-written functions, not drawn
#: from HumanEval; each warning quotes the place and holds no code and no output.
CODE_ITEM_EXAMPLES = (
    ("def count_words(text: str) -> int:\n"
     "    \"\"\"Return the number of words in text, separated by one or more spaces.\n"
     "    >>> count_words('a  b')\n    2\n    >>> count_words('')\n    0\n    \"\"\"",
     f"Pitfall: {_CODE_DESCRIPTIONS['edge']} Where: count_words('')",
     "The example count_words('') passes an empty text, so make sure it counts no words instead "
     "of one empty word."),
    ("def odd_positions(items: list) -> list:\n"
     "    \"\"\"Return the items at odd positions, counting the first item as position 1.\n"
     "    >>> odd_positions([4, 5, 6])\n    [4, 6]\n    \"\"\"",
     f"Pitfall: {_CODE_DESCRIPTIONS['boundary']} Where: Return the items at odd positions, counting "
     "the first item as position 1.",
     "Positions start at 1 here, as in 'counting the first item as position 1', so the first item "
     "is at an odd position."),
    ("def top_scorer(scores: dict) -> str:\n"
     "    \"\"\"Return the name with the top score.\n"
     "    If several names tie, return the one that comes first alphabetically.\n    \"\"\"",
     f"Pitfall: {_CODE_DESCRIPTIONS['ordering']} Where: If several names tie, return the one that "
     "comes first alphabetically.",
     "Mind the rule 'return the one that comes first alphabetically': break a tie by the names, not "
     "by the order of the scores."),
)

@dataclass
class Hint:
    """A rendered hint."""

    text: str          # what the Receiver sees
    advisor_text: str  # the Advisor's sentence(s) after cleaning and the leak filter
    raw_text: str      # what the Advisor generated
    action: str
    prompt_tokens: int
    new_tokens: int
    seconds: float
    cached: bool
    dropped: int = 0   # sentences the leak filter removed
    item: str | None = None  # the information item the Advisor was shown, if any


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_META = re.compile(r"(?i)\b(the\s+)?(one-sentence\s+)?(hint|warning)\s+is\s*:?\s*\"?")
_LEAK_WORDS = re.compile(r"(?i)\b(answer|result|equals?|total is|sum is)\b|="
                         # "... is 42.": a claimed value, not "the trap is -4 * 2" (an expression)
                         r"|\b(is|are|gives|makes|becomes|get)\s+(-\s*)?\d+(\.\d+)?(?!\s*[-+*/(\d.]\s*[-(\d])")


def _sentences(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"(?<=[.!?])\s+", text) if p.strip()]


def _clean(text: str, max_chars: int = 320, *, keep_quotes: bool = False) -> str:
    """The hint's first two sentences, without a "Hint:" prefix and (unless ``keep_quotes``:
    a code hint, whose quotes the code leak filter matches against the prompt) double quotes."""
    text = text.strip().replace("\r", " ")
    text = re.sub(r"^(hint|answer)\s*:\s*", "", text, flags=re.I)
    text = _META.sub("", text)
    if not keep_quotes:
        text = text.replace('"', "")
    text = re.sub(r"\s+", " ", text)
    text = " ".join(_sentences(text)[:2]).strip()  # keep at most two sentences
    return text[:max_chars].rstrip()


def drop_leaks(text: str, question: str) -> str:
    """Remove sentences that state a result instead of hinting.

    A sentence is dropped when it mentions an answer/result/equality or claims a value ("the
    product of 3 and 4 is 4", even with a number of the question), or contains a number that
    does not occur in the question (a computed, possibly wrong, value). Small Advisors
    often "hint" by announcing a wrong answer, which the Receiver then copies.

    >>> drop_leaks("Subtract 19 from 53 first. The final answer is 34.", "What is 53 - 19?")
    'Subtract 19 from 53 first.'
    >>> drop_leaks("The product of -37 and -18 is -18. Mind the signs.", "Calculate -37 * -18.")
    'Mind the signs.'
    >>> drop_leaks("The trap is -4 * 2, so do it first.", "Calculate 9 - -4 * 2.")
    'The trap is -4 * 2, so do it first.'
    """
    return " ".join(_kept_sentences(text, question))


def _kept_sentences(text: str, question: str) -> list[str]:
    allowed = set(_NUMBER.findall(question))
    keep = []
    for sent in _sentences(text):
        if _LEAK_WORDS.search(sent):
            continue
        if set(_NUMBER.findall(sent)) - allowed:
            continue
        keep.append(sent)
    return keep


_VALUE = (r"-?\d+(?:\.\d+)?|(?-i:True|False|None)\b|'[^']*'|\"[^\"]*\"|\[[^\]]*\]|\([^)]*\)"
          r"|\{[^}]*\}")
# "returns 5", "should be True", "gives [1, 2]": a claimed output (dropped when the value is not
# in the prompt)
_CODE_OUTPUT = re.compile(r"(?i)\b(?:returns?|returning|should\s+(?:be|return|give|output|equal)"
                          r"|must\s+(?:be|return)|gives?|outputs?|evaluates?\s+to|equals?|is|are|becomes?"
                          r"|results?\s+in)\s+(" + _VALUE + r")")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_CALL = re.compile(r"[A-Za-z_][\w.]*[(\[]")
_CODE_SYNTAX = re.compile(r"\bdef\s+\w+\s*\(|\blambda\b[^.]*:"
                          r"|\breturn\s+[^\s.,;]*[()\[\]{}+\-*/%<>=]"  # return as a statement
                          r"|[=<>]|!="                               # assignment, comparison
                          r"|\bimport\s+\w|\bfrom\s+\w+\s+import\b"    # an import
                          r"|[\w)\]]\s*(?:%|//|\*\*)\s*[\w(\[]"         # x % 2, x // 2, x ** 2
                          r"|\b[A-Za-z_]\w*\.[A-Za-z_]\w+"               # xs.sort (not e.g., i.e.)
                          r"|[\[{]")                                  # a list, set or dict literal
_LITERAL = re.compile(r"\[[^\[\]]*\]|\{[^{}]*\}")
# shortest run of a sentence, copied from the prompt verbatim, that is not read as new code
_VERBATIM_MIN = 8


def _balanced(text: str, start: int) -> int:
    """The end of the bracketed group opened at or after ``start`` (quotes respected; the end
    of ``text`` when it is never closed)."""
    end = bracket_end(text, start)
    return len(text) if end is None else end


def _without_verbatim(text: str, question: str) -> str:
    """``text`` with each run of at least ``_VERBATIM_MIN`` characters that occurs in the
    prompt verbatim blanked out (longest first, left to right)."""
    out, i = [], 0
    while i < len(text):
        j = i + _VERBATIM_MIN
        if j <= len(text) and text[i:j] in question:
            while j < len(text) and text[i:j + 1] in question:
                j += 1
            out.append(" ")
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _is_code(sent: str, question: str) -> bool:
    """Whether a hint sentence contains code (:func:`drop_code_leaks`)."""
    if "```" in sent:
        return True
    words = set(re.findall(r"\w+", question))
    for snippet in re.findall(r"`([^`]*)`", sent):  # a backticked name of the prompt is fine
        if not (re.fullmatch(r"[A-Za-z_]\w*", snippet.strip()) and snippet.strip() in words):
            return True
    text = re.sub(r"(?<=\w)\((?:e?s)\)", "", sent.replace("`", ""))  # "element(s)" is a plural
    bare = text.strip().rstrip(".!?").strip()
    try:
        tree = ast.parse(bare)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    if tree is not None and tree.body and not (
            len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr)
            and isinstance(tree.body[0].value, ast.Name)):
        return True  # the sentence is a Python statement (other than a bare name)
    # what is quoted from the prompt verbatim (a call of an example, a string) is not new code
    out, pos = [], 0
    for m in _CALL.finditer(text):
        if m.start() < pos:
            continue
        end = _balanced(text, m.end() - 1)
        if text[m.start():end] in question:
            out.append(text[pos:m.start()] + " ")
        else:
            out.append(text[pos:end])
        pos = end
    text = "".join(out) + text[pos:]
    text = _QUOTED.sub(lambda m: " " if m.group(0) in question or m.group(0)[1:-1] in question
                       else m.group(0), text)
    text = _without_verbatim(text, question)  # the item's place, quoted: "..., return []."
    text = _LITERAL.sub(lambda m: " " if m.group(0) in question else m.group(0), text)
    if _CODE_SYNTAX.search(text):
        return True
    # a call, a subscript or a method call that is not in the prompt
    return any(text[m.start():_balanced(text, m.end() - 1)] not in question for m in _CALL.finditer(text))


def drop_code_leaks(text: str, question: str) -> str:
    """Remove the sentences of a code hint that contain code or state an output.

    A sentence is dropped when it contains code: a fenced block, a backticked snippet that is
    more than a name of the prompt, ``def``, ``lambda``, ``return`` followed by an expression,
    an assignment or comparison operator (``=``, ``==``, ``<``, ``>=``, ...), an import, ``%``,
    ``//`` or ``**`` between operands, an attribute (``xs.sort``), a list, set or dict
    literal, a call, subscript or method call that is not a verbatim part of the prompt, or a
    sentence that parses as a Python statement other than a bare name (quoted strings, calls
    and any run of 8 or more characters copied from the prompt verbatim, e.g. an example's
    input or the item's place, are not code); or when it states an output ("returns 5",
    "should be True", "gives [1, 2]") with a value that is not in the prompt (a number must
    be one of the prompt's numbers, not a digit of one).
    Changing this filter or the code item prompt changes the hints: bump
    :data:`llm_bridge.code_pitfalls.CODE_PITFALLS_VERSION` (in the identity of code-pitfall runs).

    >>> q = 'def f(xs):\\n    \"\"\"Return the longest string, None if xs is empty.\\n    >>> f([])\\n    \"\"\"\\n'
    >>> drop_code_leaks("Mind the empty list in f([]). Use `max(xs, key=len)` for the rest.", q)
    'Mind the empty list in f([]).'
    >>> drop_code_leaks("If `xs` is empty, return None.", q)
    'If `xs` is empty, return None.'
    >>> drop_code_leaks("Check whether len(xs) == 0. An empty list returns 0. Mind ties.", q)
    'Mind ties.'
    >>> drop_code_leaks("return max(xs, key=len)", q)
    ''
    """
    return " ".join(_kept_code_sentences(text, question))


def _in_prompt(value: str, question: str) -> bool:
    """Whether a claimed output is the prompt's: a number among the prompt's numbers (not a
    digit of a longer one: "1" is not in "1000"), any other value verbatim."""
    if re.fullmatch(r"-?\d+(?:\.\d+)?", value):
        signed = re.findall(r"-?\d+(?:\.\d+)?", question)
        return value in set(signed) | {v.lstrip("-") for v in signed}
    return value in question


def _kept_code_sentences(text: str, question: str) -> list[str]:
    keep = []
    for sent in _sentences(text):
        if _is_code(sent, question):
            continue
        if any(not _in_prompt(m.group(1), question) for m in _CODE_OUTPUT.finditer(sent)):
            continue
        keep.append(sent)
    return keep


class Advisor:
    """Render (problem, action) pairs into hints.

    Parameters
    ----------
    lm : LoadedModel
    settings : GenerationSettings, optional
        Default: greedy, 48 new tokens.
    cache : GenerationCache, optional
    style : {"auto", "chat", "plain"}
        ``auto`` picks ``chat`` when the tokenizer has a chat template.
    hint_format : {"instruction+advisor", "advisor"}
    filter_leaks : bool
        Apply :func:`drop_leaks` (default True; :func:`drop_code_leaks` to hints of code items).
    item_kind : {"arithmetic", "code"}
        The kind of the items (:data:`ITEM_KINDS`; the states' ``item_kind``): the prompt
        and the leak filter of a hint written from an item. Hints without an item do not
        depend on it.
    """

    def __init__(self, lm, *, settings: GenerationSettings | None = None, cache=None,
                 style: str = "auto", hint_format: str = "instruction+advisor", filter_leaks: bool = True,
                 item_kind: str = "arithmetic"):
        if style not in ("auto", "chat", "plain"):
            raise ConfigError(f"advisor style: expected auto, chat or plain, got {style!r}")
        if hint_format not in HINT_FORMATS:
            raise ConfigError(f"hint_format: expected one of {HINT_FORMATS}, got {hint_format!r}")
        if item_kind not in ITEM_KINDS:
            raise ConfigError(f"item_kind: expected one of {ITEM_KINDS}, got {item_kind!r}")
        self.item_kind = item_kind
        self.lm = lm
        self.name = lm.name
        self.settings = settings or GenerationSettings(max_new_tokens=48, batch_size=16)
        self.cache = cache
        self.style = ("chat" if lm.has_chat_template else "plain") if style == "auto" else style
        self.hint_format = hint_format
        self.filter_leaks = bool(filter_leaks)

    def prompt(self, question: str, action, item: str | None = None) -> str:
        """The Advisor's prompt for one problem, one recommended action and, when the states
        carry one, the information item."""
        if item is not None:
            system, examples = ((_SYSTEM_CODE_ITEM, CODE_ITEM_EXAMPLES) if self.item_kind == "code"
                                else (_SYSTEM_ITEM, ITEM_EXAMPLES))
            if self.style == "chat":
                messages = [{"role": "system", "content": system}]
                for q, it, warning in examples:
                    messages += [{"role": "user", "content": f"Problem: {q}\n{it}"},
                                 {"role": "assistant", "content": warning}]
                messages.append({"role": "user", "content": f"Problem: {question.strip()}\n{item}"})
                return chat_prompt(self.lm, messages)
            shots = "".join(f"Problem: {q}\n{it}\nWarning: {w}\n\n" for q, it, w in examples)
            return f"{shots}Problem: {question.strip()}\n{item}\nWarning:"
        if self.style == "chat":
            messages = [
                {"role": "system", "content": _SYSTEM},
                {"role": "user", "content": f"Problem:\n{question}\n\nStrategy: {action.instruction}\n\n"
                                            "Write the one-sentence hint."},
            ]
            return chat_prompt(self.lm, messages)
        return (f"Problem: {question.strip()}\n"
                f"Strategy: {action.instruction}\n"
                f"A one-sentence hint that applies the strategy without giving the answer.\nHint:")

    def _settings(self) -> GenerationSettings:
        settings = self.settings
        if self.style == "plain" and "\n" not in settings.stop:
            settings = replace(settings, stop=tuple(settings.stop) + ("\n",))
        return settings

    def _hint(self, question: str, g, action, item: str | None = None) -> Hint:
        code = item is not None and self.item_kind == "code"
        adv = _clean(g.text, keep_quotes=code)
        dropped = 0
        if self.filter_leaks:
            kept = (_kept_code_sentences if code else _kept_sentences)(adv, question)
            dropped = len(_sentences(adv)) - len(kept)
            adv = " ".join(kept)
        if self.hint_format == "advisor":
            text = adv or action.instruction
        else:
            text = f"{action.instruction} {adv}".strip()
        return Hint(text=text, advisor_text=adv, raw_text=g.text, action=action.name,
                    prompt_tokens=g.prompt_tokens, new_tokens=g.new_tokens, seconds=g.seconds,
                    cached=g.cached, dropped=dropped, item=item)

    def _prompts(self, questions: Sequence[str], actions: Sequence, items) -> list[str]:
        if len(questions) != len(actions):
            raise ConfigError(f"actions: expected one action per question ({len(questions)}), got {len(actions)}")
        if items is None:
            items = [None] * len(questions)
        elif len(items) != len(questions):
            raise ConfigError(f"items: expected one item per question ({len(questions)}), got {len(items)}")
        return [self.prompt(q, a, it) for q, a, it in zip(questions, actions, items)]

    def render(self, questions: Sequence[str], actions: Sequence, items: Sequence | None = None, *,
               progress: bool | str = False) -> list[Hint]:
        """One hint per (question, action) pair; ``items``: one information item (or None) per
        question, shown to the Advisor (module docstring, "Items")."""
        prompts = self._prompts(questions, actions, items)
        items = items if items is not None else [None] * len(questions)
        gens = generate(self.lm, prompts, self._settings(), cache=self.cache, progress=progress)
        return [self._hint(q, g, a, it) for q, g, a, it in zip(questions, gens, actions, items)]

    def render_samples(self, questions: Sequence[str], actions: Sequence, seeds: Sequence[int], *,
                       items: Sequence | None = None, progress: bool | str = False) -> list[list[Hint]]:
        """``len(seeds)`` sampled hints per (question, action) pair (the settings must sample):
        ``out[i][j]`` has seed ``seeds[j]`` (:func:`llm_bridge.generation.generate_samples`:
        on CTranslate2 one batched call per group of prompts)."""
        prompts = self._prompts(questions, actions, items)
        items = items if items is not None else [None] * len(questions)
        gens = generate_samples(self.lm, prompts, self._settings(), seeds, cache=self.cache,
                                progress=progress)
        return [[self._hint(q, g, a, it) for g in row]
                for q, row, a, it in zip(questions, gens, actions, items)]
