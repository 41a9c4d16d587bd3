"""Rankings of K candidate responses: agreement, parsing and listwise training losses.

A *ranking* (an "order") of K candidates is a sequence of candidate indices, best first:
``(1, 0, 2)`` means candidate B is best, then A, then C. It is written ``"B > A > C"``.

Agreement (CycleAlign, Hong et al. 2024, step 4)
    The agreement of two rankings is their longest common subsequence (LCS): the longest
    ordering of candidates on which both rankings agree. Its length divided by K is the
    *normalised agreement* in ``[1/K, 1]`` (1 means identical rankings).

Losses over length-normalised log-likelihoods
    The white-box model scores candidate ``i`` by ``s_i = (1/n_i) Σ_t log p(y_t | x, y_<t)``.
    Given a target order ``π`` (best first):

    * RRHF (Yuan et al. 2023), pairwise hinge:
      ``L = mean over pairs a ranked above b of max(0, margin + s_b - s_a)``;
    * PRO (Song et al. 2024), listwise softmax (Plackett–Luce negative log-likelihood):
      ``L = (1/(K-1)) Σ_{k=1}^{K-1} -log( exp(s_{π_k}/τ) / Σ_{j≥k} exp(s_{π_j}/τ) )``.

    Both are zero-gradient only when the scores already follow the target order (RRHF, with
    the margin) and push the score of better-ranked candidates up and worse ones down.

Everything here is a pure function: plain Python sequences in, numbers or ``torch``
tensors out; no state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..errors import ConfigError

__all__ = [
    "LETTERS", "RankParse", "explicit_length", "lcs", "lcs_agreement", "format_ranking", "parse_ranking",
    "order_from_scores", "normalised_scores", "rrhf_loss", "pro_loss", "ranking_loss",
    "pairwise_accuracy", "RANKING_LOSSES",
]

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
RANKING_LOSSES = ("rrhf", "pro")


# ----------------------------------------------------------------------------- agreement
def lcs(a: Sequence, b: Sequence) -> list:
    """Longest common subsequence of two sequences (dynamic programming, O(len(a)·len(b))).

    Ties between equally long subsequences are broken deterministically (when skipping an
    element of ``a`` or of ``b`` keeps the same length, the element of ``a`` is skipped).

    Examples
    --------
    >>> lcs([1, 0, 2, 3], [1, 2, 0, 3])
    [1, 2, 3]
    >>> len(lcs("BAC", "CAB"))
    1
    >>> lcs([], [1, 2])
    []
    """
    a, b = list(a), list(b)
    n, m = len(a), len(b)
    # t[i][j]: LCS length of a[i:], b[j:]
    t = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            t[i][j] = t[i + 1][j + 1] + 1 if a[i] == b[j] else max(t[i + 1][j], t[i][j + 1])
    out, i, j = [], 0, 0
    while i < n and j < m:
        if a[i] == b[j]:
            out.append(a[i])
            i += 1
            j += 1
        elif t[i + 1][j] >= t[i][j + 1]:
            i += 1
        else:
            j += 1
    return out


def lcs_agreement(a: Sequence[int], b: Sequence[int], k: int | None = None) -> float:
    """Normalised agreement ``len(lcs(a, b)) / k`` of two rankings (``k`` defaults to ``len(a)``).

    >>> lcs_agreement([0, 1, 2, 3], [0, 1, 2, 3])
    1.0
    >>> lcs_agreement([0, 1, 2, 3], [3, 2, 1, 0])
    0.25
    """
    k = len(a) if k is None else k
    if k <= 0:
        raise ConfigError("k: the number of candidates must be positive")
    return len(lcs(a, b)) / k


# ----------------------------------------------------------------------------- parsing
def format_ranking(order: Sequence[int]) -> str:
    """``(1, 0, 2)`` → ``"B > A > C"``.

    >>> format_ranking([1, 0, 2])
    'B > A > C'
    """
    for i in order:
        if not 0 <= int(i) < len(LETTERS):
            raise ConfigError(f"order: candidate index {i} is outside 0..{len(LETTERS) - 1}")
    return " > ".join(LETTERS[int(i)] for i in order)


def explicit_length(n_found: int, k: int) -> int:
    """How many leading items of a completed ranking the judge really ranked.

    Naming ``k - 1`` candidates fixes the last one too, so that counts as ``k``.

    >>> explicit_length(3, 4), explicit_length(2, 4), explicit_length(0, 4)
    (4, 2, 0)
    """
    return k if n_found >= k - 1 else n_found


@dataclass(frozen=True)
class RankParse:
    """A ranking read from a model's text.

    Attributes
    ----------
    order : tuple of int
        A full ranking of the K candidates, best first (missing ones appended in the
        fallback order).
    parsed : bool
        Whether at least two distinct candidate letters were found; ``False`` means
        ``order`` is the fallback order alone (a failed parse).
    n_found : int
        How many distinct candidates the text ranked itself.
    """

    order: tuple[int, ...]
    parsed: bool
    n_found: int


# a candidate letter standing alone: "B", "[B]", "(B)", "Response B", "B)" — not inside a word
_LETTER = r"(?<![A-Za-z])\[?\(?([A-Z])\)?\]?(?![A-Za-z])"
_SINGLE = re.compile(r"^(?:(?:response|answer|best)\s*:?\s*)?\[?\(?([A-Za-z])\)?\]?[.!]?$", re.IGNORECASE)


def parse_ranking(text: str, k: int, fallback: Sequence[int] | None = None) -> RankParse:
    """Read a ranking such as ``"B > A > C"`` from a model's answer.

    The first line with a ``>`` (or, without one, the first line listing candidate letters
    separated by commas) is read; letters outside ``A..`` the K-th letter and repeats are
    dropped; candidates it does not name are appended in ``fallback`` order (default
    ``0..K-1``). An answer that is a single letter (``"B"``, ``"[B]."``, ``"Response B"``) names
    the top choice only. Anything else with fewer than two distinct letters is a failed parse
    (``parsed=False``). ``n_found`` tells how much of ``order`` the text itself ranked.

    Parameters
    ----------
    text : str
        The model's answer.
    k : int
        Number of candidates.
    fallback : sequence of int, optional
        Order used to complete a partial ranking (e.g. the white-box model's ranking).

    Examples
    --------
    >>> parse_ranking("B > A > C", 3)
    RankParse(order=(1, 0, 2), parsed=True, n_found=3)
    >>> parse_ranking("Ranking: [C] > [A]", 3, fallback=[1, 0, 2]).order
    (2, 0, 1)
    >>> parse_ranking("Response D is best, then B.", 4).order
    (3, 1, 0, 2)
    >>> parse_ranking("no idea", 3, fallback=[2, 1, 0])
    RankParse(order=(2, 1, 0), parsed=False, n_found=0)
    >>> parse_ranking("[C].", 3)
    RankParse(order=(2, 0, 1), parsed=True, n_found=1)
    """
    if k < 1 or k > len(LETTERS):
        raise ConfigError(f"k: number of candidates must be in 1..{len(LETTERS)}, got {k}")
    fallback = list(range(k)) if fallback is None else [int(i) for i in fallback]
    if sorted(fallback) != list(range(k)):
        raise ConfigError(f"fallback: must be a permutation of 0..{k - 1}, got {fallback}")
    found: list[int] = []
    lines = [ln for ln in str(text).splitlines() if ln.strip()]
    chosen = None
    for ln in lines:
        if ">" in ln:
            chosen = [part for part in ln.split(">")]
            break
    if chosen is None:
        for ln in lines:
            if "," in ln:
                chosen = ln.split(",")
                break
    if chosen is not None:
        for part in chosen:
            # in each '>'-separated part take the last standalone letter ("Response B" → B);
            # a part that holds several letters is a mis-format: take them in order
            letters = re.findall(_LETTER, part.strip().upper() if len(part.strip()) <= 3
                                 else part)
            for letter in letters:
                idx = LETTERS.index(letter)
                if idx < k and idx not in found:
                    found.append(idx)
    if not found and lines:
        m = _SINGLE.match(lines[0].strip())
        if m and LETTERS.index(m.group(1).upper()) < k:
            found = [LETTERS.index(m.group(1).upper())]      # a bare top choice: "B", "[B].", "Response B"
    parsed = len(found) >= 2 or (len(found) == 1 and (k == 1 or chosen is None))
    if not parsed:
        found = []
    order = found + [i for i in fallback if i not in found]
    return RankParse(order=tuple(order), parsed=parsed, n_found=len(found))


# ----------------------------------------------------------------------------- scores
def order_from_scores(scores: Sequence[float]) -> tuple[int, ...]:
    """Ranking by decreasing score; ties keep the lower index first (stable).

    >>> order_from_scores([-1.0, -0.5, -2.0])
    (1, 0, 2)
    """
    vals = [float(s) for s in scores]
    return tuple(sorted(range(len(vals)), key=lambda i: (-vals[i], i)))


def normalised_scores(sums, counts):
    """Length-normalised log-likelihoods ``sums / max(counts, 1)`` (tensors or arrays)."""
    import torch

    sums = torch.as_tensor(sums)
    counts = torch.as_tensor(counts, dtype=sums.dtype, device=sums.device)
    return sums / counts.clamp(min=1)


def _top(top, k: int) -> int:
    if top is None:
        return k
    top = int(top)
    if not 1 <= top <= k:
        raise ConfigError(f"top: expected 1..{k} ranked items, got {top}")
    return top


def _as_batch(scores, orders):
    """Scores ``(B, K)`` and orders as a long tensor ``(B, K)``, validated."""
    import torch

    if not isinstance(scores, torch.Tensor):
        scores = torch.as_tensor(scores, dtype=torch.float32)
    squeeze = scores.dim() == 1
    if squeeze:
        scores = scores.unsqueeze(0)
    if scores.dim() != 2:
        raise ConfigError(f"scores: expected shape (K,) or (B, K), got {tuple(scores.shape)}")
    orders = torch.as_tensor(orders, dtype=torch.long, device=scores.device)
    if orders.dim() == 1:
        orders = orders.unsqueeze(0)
    if orders.shape != scores.shape:
        raise ConfigError(f"orders: shape {tuple(orders.shape)} does not match scores "
                          f"{tuple(scores.shape)}")
    k = scores.shape[1]
    if not torch.equal(orders.sort(dim=1).values,
                       torch.arange(k, device=scores.device).expand_as(orders)):
        raise ConfigError("orders: every row must be a permutation of 0..K-1")
    return scores, orders


def rrhf_loss(scores, orders, *, margin: float = 0.0, top: int | None = None):
    """RRHF pairwise hinge loss on candidate scores.

    Parameters
    ----------
    scores : torch.Tensor, shape (K,) or (B, K)
        Length-normalised log-likelihoods (with gradient).
    orders : sequence or tensor, shape (K,) or (B, K)
        Target rankings, best first.
    margin : float
        Required gap between a better and a worse candidate's score (RRHF uses 0).
    top : int, optional
        Only the first ``top`` positions of each order are a ranking (a partial, top-m
        answer); the rest are unordered. Pairs among them are left out.

    Returns
    -------
    torch.Tensor
        Scalar: the mean over the batch and over the ordered pairs (rank r above rank q,
        r < q, r < top) of ``max(0, margin + s_q - s_r)``.

    Examples
    --------
    >>> import torch
    >>> float(rrhf_loss(torch.tensor([0.0, -1.0]), [0, 1]))
    0.0
    >>> float(rrhf_loss(torch.tensor([0.0, -1.0]), [1, 0]))
    1.0
    """
    import torch

    scores, orders = _as_batch(scores, orders)
    k = scores.shape[1]
    if k < 2:
        return scores.sum() * 0.0
    ranked = torch.gather(scores, 1, orders)            # ranked[:, r] = score of rank r
    diff = ranked.unsqueeze(2) - ranked.unsqueeze(1)    # [b, r, q] = s_rank_r - s_rank_q
    upper = torch.triu(torch.ones(k, k, dtype=torch.bool, device=scores.device), diagonal=1)
    upper[_top(top, k):, :] = False
    hinge = torch.clamp(margin - diff[:, upper], min=0.0)  # pairs r < q: r should be higher
    return hinge.mean()


def pro_loss(scores, orders, *, temperature: float = 1.0, top: int | None = None):
    """PRO listwise loss: Plackett–Luce negative log-likelihood of the target order.

    ``(1/m) Σ_{k≤m} -log softmax(s_{π_k..π_K} / τ)[0]`` with ``m = min(top, K-1)`` (the
    likelihood of a top-``top`` ranking; ``top`` defaults to K), averaged over the batch.

    Examples
    --------
    >>> import torch
    >>> round(float(pro_loss(torch.tensor([0.0, 0.0]), [0, 1])), 4)   # log 2
    0.6931
    """
    import torch

    if temperature <= 0:
        raise ConfigError(f"temperature: must be positive, got {temperature}")
    scores, orders = _as_batch(scores, orders)
    k = scores.shape[1]
    if k < 2:
        return scores.sum() * 0.0
    ranked = torch.gather(scores, 1, orders) / temperature
    # log Σ_{j≥k} exp(ranked_j): reverse cumulative logsumexp
    tail = torch.logcumsumexp(ranked.flip(1), dim=1).flip(1)
    nll = (tail - ranked)[:, :min(_top(top, k), k - 1)]
    return nll.mean()


def ranking_loss(name: str, scores, orders, **kw):
    """Dispatch to :func:`rrhf_loss` (``"rrhf"``) or :func:`pro_loss` (``"pro"``)."""
    if name == "rrhf":
        return rrhf_loss(scores, orders, **kw)
    if name == "pro":
        return pro_loss(scores, orders, **kw)
    raise ConfigError(f"loss: unknown ranking loss {name!r}; expected one of {RANKING_LOSSES}")


# ----------------------------------------------------------------------------- evaluation
def pairwise_accuracy(scores: Sequence[float], correct: Sequence[bool]) -> tuple[float, int]:
    """How often a scorer puts a correct candidate above an incorrect one.

    Returns ``(wins, pairs)``: ``wins`` counts (correct, incorrect) pairs whose correct
    candidate scores higher (a tie counts 1/2), ``pairs`` the number of such pairs (0 when
    all candidates are correct or all incorrect). Sum both over problems and divide for
    the accuracy.

    >>> pairwise_accuracy([0.0, -1.0, -2.0], [True, False, True])
    (1.0, 2)
    """
    wins, pairs = 0.0, 0
    for i, ci in enumerate(correct):
        if not ci:
            continue
        for j, cj in enumerate(correct):
            if cj:
                continue
            pairs += 1
            si, sj = float(scores[i]), float(scores[j])
            wins += 1.0 if si > sj else 0.5 if si == sj else 0.0
    return wins, pairs
