"""Sequences of receiver types: i.i.d. draws (stochastic) and an oblivious adversary's
blocks; and the seeding helpers of the types engine."""

from __future__ import annotations

import math

import numpy as np

from ...checks import check_int
from ...errors import GameValidationError

__all__ = ["stochastic_types_sequence", "block_types_sequence", "as_generator",
           "spawn_generators"]


def as_generator(seed) -> np.random.Generator:
    """``seed`` itself if it is a Generator, else ``numpy.random.default_rng(seed)``."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def spawn_generators(seed, k: int) -> list:
    """``k`` independent generators from a seed or a Generator (numpy >= 1.24)."""
    if isinstance(seed, np.random.Generator):
        if hasattr(seed, "spawn"):
            return seed.spawn(k)
        return [np.random.default_rng(int(s)) for s in seed.integers(0, 2**63 - 1, size=k)]
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(k)]


def stochastic_types_sequence(type_probabilities, horizon: int, *, seed=None) -> np.ndarray:
    """``horizon`` i.i.d. type indices drawn from ``type_probabilities``.

    >>> stochastic_types_sequence([0, 1], 4, seed=0).tolist()
    [1, 1, 1, 1]
    """
    horizon = check_int(horizon, "horizon")
    p = np.asarray(type_probabilities, dtype=float).ravel()
    if p.size == 0 or (p < 0).any() or abs(p.sum() - 1) > 1e-9:
        raise GameValidationError("type_probabilities", "expected a probability vector")
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    out = np.searchsorted(cdf, as_generator(seed).random(horizon), side="right")
    return np.minimum(out, p.size - 1).astype(np.int64)


def block_types_sequence(n_types: int, horizon: int, *, first_block: int = 1,
                         growth: float = 2.0, seed=None) -> np.ndarray:
    """An adversarial (oblivious) sequence: blocks of one type each.

    Block ``k`` has length ``ceil(first_block * growth^k)`` (``growth = 1``: constant
    blocks); the types cycle, each cycle in a fresh random order (seeded), never the
    same type twice in a row. With ``growth = 2`` the empirical type distribution keeps
    oscillating, the classic sequence on which follow-the-leader has linear regret.
    """
    T = check_int(n_types, "n_types")
    horizon = check_int(horizon, "horizon")
    first_block = check_int(first_block, "first_block")
    if not (isinstance(growth, (int, float)) and not isinstance(growth, bool) and growth >= 1):
        raise GameValidationError("growth", f"expected a number >= 1, got {growth!r}")
    rng = as_generator(seed)
    out = np.empty(horizon, dtype=np.int64)
    t, k, order, last = 0, 0, [], -1
    while t < horizon:
        if not order:
            order = list(rng.permutation(T))
            if T > 1 and order[0] == last:
                order.append(order.pop(0))
        th = order.pop(0)
        length = min(horizon - t, math.ceil(first_block * growth ** k))
        out[t:t + length] = th
        t += length
        k += 1
        last = th
    return out
