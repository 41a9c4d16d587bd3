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

**Leak filter** (on by default): a 135M Advisor asked for a hint often announces a (wrong)
final answer instead ("The final answer to the arithmetic problem is 10."), and the Receiver
copies it. :func:`drop_leaks` removes every sentence that mentions an answer, a result or an
equality, or that contains a number absent from the problem. A hint is advice on how to
solve, not a solution; the raw text is kept in the records.
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


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_META = re.compile(r"(?i)\b(the\s+)?(one-sentence\s+)?hint\s+is\s*:?\s*\"?")
_LEAK_WORDS = re.compile(r"(?i)\b(answer|result|equals?|total is|sum is)\b|=")


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

    A sentence is dropped when it mentions an answer/result/equality, or contains a number
    that does not occur in the question (a computed, possibly wrong, value). Small Advisors
    often "hint" by announcing a wrong answer, which the Receiver then copies.

    >>> drop_leaks("Subtract 19 from 53 first. The final answer is 34.", "What is 53 - 19?")
    'Subtract 19 from 53 first.'
    """
    allowed = set(_NUMBER.findall(question))
    keep = []
    for sent in _sentences(text):
        if _LEAK_WORDS.search(sent):
            continue
        if set(_NUMBER.findall(sent)) - allowed:
            continue
        keep.append(sent)
    return " ".join(keep)


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

    def prompt(self, question: str, action) -> str:
        """The Advisor's prompt for one problem and one recommended action."""
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

    def _hint(self, question: str, g, action) -> Hint:
        adv = _clean(g.text)
        if self.filter_leaks:
            adv = drop_leaks(adv, question)
        if self.hint_format == "advisor":
            text = adv or action.instruction
        else:
            text = f"{action.instruction} {adv}".strip()
        return Hint(text=text, advisor_text=adv, raw_text=g.text, action=action.name,
                    prompt_tokens=g.prompt_tokens, new_tokens=g.new_tokens, seconds=g.seconds,
                    cached=g.cached)

    def _prompts(self, questions: Sequence[str], actions: Sequence) -> list[str]:
        if len(questions) != len(actions):
            raise ConfigError(f"actions: expected one action per question ({len(questions)}), got {len(actions)}")
        return [self.prompt(q, a) for q, a in zip(questions, actions)]

    def render(self, questions: Sequence[str], actions: Sequence, *, progress: bool | str = False) -> list[Hint]:
        """One hint per (question, action) pair."""
        prompts = self._prompts(questions, actions)
        gens = generate(self.lm, prompts, self._settings(), cache=self.cache, progress=progress)
        return [self._hint(q, g, a) for q, g, a in zip(questions, gens, actions)]

    def render_samples(self, questions: Sequence[str], actions: Sequence, seeds: Sequence[int], *,
                       progress: bool | str = False) -> list[list[Hint]]:
        """``len(seeds)`` sampled hints per (question, action) pair (the settings must sample):
        ``out[i][j]`` has seed ``seeds[j]`` (:func:`llm_bridge.generation.generate_samples`:
        on CTranslate2 one batched call per group of prompts)."""
        prompts = self._prompts(questions, actions)
        gens = generate_samples(self.lm, prompts, self._settings(), seeds, cache=self.cache,
                                progress=progress)
        return [[self._hint(q, g, a) for g in row] for q, row, a in zip(questions, gens, actions)]
