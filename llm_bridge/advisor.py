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
a result or the reference answer.

**Leak filter** (on by default): a 135M Advisor asked for a hint often announces a (wrong)
final answer instead ("The final answer to the arithmetic problem is 10."), and the Receiver
copies it. :func:`drop_leaks` removes every sentence that mentions an answer, a result or an
equality, or that contains a number absent from the problem. A hint is advice on how to
solve, not a solution; the raw text is kept in the records, and ``Hint.dropped`` counts the
sentences removed, so that the filter's rate is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Sequence

from .errors import ConfigError
from .generation import GenerationSettings, chat_prompt, generate, generate_samples

__all__ = ["Advisor", "Hint", "HINT_FORMATS", "drop_leaks"]

HINT_FORMATS = ("instruction+advisor", "advisor")

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


def _clean(text: str, max_chars: int = 320) -> str:
    text = text.strip().replace("\r", " ")
    text = re.sub(r"^(hint|answer)\s*:\s*", "", text, flags=re.I)
    text = _META.sub("", text).replace('"', "")
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
        Apply :func:`drop_leaks` (default True).
    """

    def __init__(self, lm, *, settings: GenerationSettings | None = None, cache=None,
                 style: str = "auto", hint_format: str = "instruction+advisor", filter_leaks: bool = True):
        if style not in ("auto", "chat", "plain"):
            raise ConfigError(f"advisor style: expected auto, chat or plain, got {style!r}")
        if hint_format not in HINT_FORMATS:
            raise ConfigError(f"hint_format: expected one of {HINT_FORMATS}, got {hint_format!r}")
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
            if self.style == "chat":
                messages = [{"role": "system", "content": _SYSTEM_ITEM}]
                for q, it, warning in ITEM_EXAMPLES:
                    messages += [{"role": "user", "content": f"Problem: {q}\n{it}"},
                                 {"role": "assistant", "content": warning}]
                messages.append({"role": "user", "content": f"Problem: {question.strip()}\n{item}"})
                return chat_prompt(self.lm, messages)
            shots = "".join(f"Problem: {q}\n{it}\nWarning: {w}\n\n" for q, it, w in ITEM_EXAMPLES)
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
        adv = _clean(g.text)
        dropped = 0
        if self.filter_leaks:
            kept = _kept_sentences(adv, question)
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
