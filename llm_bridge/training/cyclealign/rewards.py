"""Task rewards of the white box's answers (the task's grader, or embedding similarity) and
the 95% intervals of the run's metrics."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ...states import MiniLMEmbedder
from ...stats import wilson_interval

__all__ = ["EmbeddingReward", "reward_mode", "score_texts", "reward_interval", "pair_interval"]


class EmbeddingReward:
    """Cosine similarity of sentence embeddings (all-MiniLM-L6-v2, offline package)."""

    def __init__(self):
        self.embed = MiniLMEmbedder()

    def __call__(self, problems, texts) -> list[float]:
        refs = [p.answer or "" for p in problems]
        emb = self.embed(list(texts) + refs)
        a, b = emb[:len(texts)], emb[len(texts):]
        return [float(x) for x in (a * b).sum(axis=1)]


def reward_mode(config, task) -> str:
    """``config.reward``, with ``auto`` resolved: ``grade`` for math and code tasks, else
    ``embedding``."""
    if config.reward != "auto":
        return config.reward
    return "grade" if getattr(task, "kind", None) in ("math", "code") else "embedding"


def score_texts(task, mode, embedder, problems, texts):
    """(rewards, correct flags or None) of texts answering problems."""
    if mode == "grade":
        grades = [task.grade(p, t) for p, t in zip(problems, texts)]
        return [float(g.score) for g in grades], [bool(g.correct) for g in grades]
    return embedder(problems, texts), None


def reward_interval(rewards: Sequence[float]) -> list[float] | None:
    """95% interval of a mean held-out reward: the Wilson interval when every reward is 0 or
    1 (a grader's verdicts), else the normal interval ``mean ± 1.96 sd / sqrt(n)`` (graded
    partial credit, embedding similarities); None for fewer than two continuous rewards.

    >>> [round(x, 3) for x in reward_interval([1, 0, 0, 1])]
    [0.15, 0.85]
    """
    r = np.asarray(rewards, dtype=float)
    if r.size == 0:
        return None
    if np.all((r == 0.0) | (r == 1.0)):
        return list(wilson_interval(int(r.sum()), int(r.size)))
    if r.size < 2:
        return None
    half = 1.959963984540054 * float(r.std(ddof=1)) / math.sqrt(r.size)
    lo, hi = float(r.mean()) - half, float(r.mean()) + half
    if r.min() >= 0.0 and r.max() <= 1.0:  # rewards in [0, 1]: so is their mean
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    return [lo, hi]


def pair_interval(right: float, pairs: int, problems: int) -> list[float] | None:
    """95% interval of a ranking accuracy pooled over (correct, incorrect) pairs, counting
    each problem once: the Wilson interval of the pooled accuracy ``right / pairs`` with the
    number of problems (those with at least one pair) as the sample size.

    The pairs of one problem share its candidates and one ranking, so they are not
    independent; a Wilson interval over the pairs would be too narrow. Counting each
    problem once is the bound of full correlation within a problem: conservative (wider
    than the truth) whenever the problems have similar numbers of pairs. None without pairs.

    >>> [round(x, 3) for x in pair_interval(6, 8, 4)]
    [0.301, 0.954]
    """
    if not pairs or not problems:
        return None
    return list(wilson_interval(right / pairs * problems, int(problems)))
