"""Ask the Receiver to solve problems (with or without a hint) and grade its answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .errors import ConfigError

__all__ = ["Response", "conversation", "respond"]


@dataclass
class Response:
    """The Receiver's graded answer to one prompt."""

    prompt: str        # the user message
    answer: str
    correct: bool
    score: float
    extracted: str | None
    detail: str
    completion_tokens: int
    seconds: float
    cached: bool


def conversation(task, problem, hint: str | None) -> list[dict]:
    """OpenAI-style messages for one problem, with the hint (if any) in the user message."""
    return task.messages(problem, hint)


def respond(receiver, task, problems: Sequence, hints: Sequence[str | None], settings, *,
            progress: bool | str = False) -> list[Response]:
    """One graded Receiver answer per (problem, hint) pair, in order."""
    if len(problems) != len(hints):
        raise ConfigError(f"hints: expected one hint per problem ({len(problems)}), got {len(hints)}")
    convs = [conversation(task, p, h) for p, h in zip(problems, hints)]
    completions = receiver.complete(convs, settings, progress=progress)
    out = []
    for p, conv, c in zip(problems, convs, completions):
        g = task.grade(p, c.text)
        out.append(Response(prompt=conv[-1]["content"], answer=c.text, correct=bool(g.correct),
                            score=float(g.score), extracted=g.extracted, detail=g.detail,
                            completion_tokens=int(c.completion_tokens), seconds=float(c.seconds),
                            cached=bool(c.cached)))
    return out
