"""Task rewards of the white box's answers: the task's grader, or embedding similarity."""

from __future__ import annotations

from ...states import MiniLMEmbedder

__all__ = ["EmbeddingReward", "reward_mode", "score_texts"]


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
