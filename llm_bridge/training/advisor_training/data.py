"""The Advisor's training data and losses: helpful hints (RFT), preference pairs (DPO)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from persuasion.runs import derive_rng

from ...errors import ConfigError
from .config import RFT_SELECT, check_positives

__all__ = ["rft_loss", "dpo_loss", "rft_examples", "dpo_pairs", "helpful_count", "has_content"]


# ----------------------------------------------------------------------------- losses
def rft_loss(sums, counts):
    """Mean length-normalised negative log-likelihood of a batch of completions.

    Parameters
    ----------
    sums, counts : torch.Tensor of shape (B,)
        Summed completion log-probabilities and completion token counts.
    """
    return -(sums / counts.clamp(min=1)).mean()


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float):
    """DPO loss of Rafailov et al. (2023), mean over a batch of pairs.

    ``−log σ(β [(π_w − ρ_w) − (π_l − ρ_l)])`` with summed completion log-probabilities ``π``
    (policy) and ``ρ`` (reference). Returns ``(loss, margins)`` where ``margins`` are the
    bracketed log-ratio differences (detached); a positive margin means the policy prefers the
    chosen hint more than the reference does.
    """
    import torch.nn.functional as F

    margins = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * margins).mean(), margins.detach()


# ----------------------------------------------------------------------------- data
def _groups(rows: Sequence[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        out.setdefault((r["uid"], r["action"]), []).append(r)
    for g in out.values():
        g.sort(key=lambda r: r["k"])
    return out


def has_content(row: dict) -> bool:
    """Whether the Advisor's sentence of a sampled hint reached the Receiver whole: non-empty
    and no sentence removed by the leak filter (``positives="content"``)."""
    return bool(str(row.get("advisor_text") or "").strip()) and not row.get("hint_dropped")


def rft_examples(rows: Sequence[dict], select: str = "above_mean", positives: str = "any") -> list[dict]:
    """The helpful hints of the samples, one per distinct text per group.

    ``select="above_mean"``: reward above the mean reward of its (problem, signal) group (the
    mean over all its hints); ``"correct"``: the Receiver's answer was correct.
    ``positives="content"``: only hints with :func:`has_content` are kept. Returns dicts with
    ``prompt``, ``completion``, ``uid``, ``action``, ``reward``, in a deterministic order.
    """
    if select not in RFT_SELECT:
        raise ConfigError(f"rft_select: expected one of {', '.join(RFT_SELECT)}, got {select!r}")
    check_positives(positives)
    out = []
    for (uid, action), g in sorted(_groups(rows).items()):
        mean = float(np.mean([r["reward"] for r in g]))
        seen = set()
        for r in g:
            keep = r["reward"] > mean + 1e-12 if select == "above_mean" else bool(r["correct"])
            keep = keep and (positives == "any" or has_content(r))
            if keep and r["advisor_text"] not in seen:
                seen.add(r["advisor_text"])
                out.append({"prompt": r["prompt"], "completion": r["advisor_text"], "uid": uid,
                            "action": action, "reward": r["reward"]})
    return out


def helpful_count(rows: Sequence[dict], select: str, positives: str = "any") -> int:
    """Samples counted as helpful (duplicates included; with ``positives="content"`` only those
    with :func:`has_content`)."""
    check_positives(positives)
    n = 0
    for g in _groups(rows).values():
        mean = float(np.mean([r["reward"] for r in g]))
        n += sum(1 for r in g if (r["reward"] > mean + 1e-12 if select == "above_mean" else bool(r["correct"]))
                 and (positives == "any" or has_content(r)))
    return n


def dpo_pairs(rows: Sequence[dict], *, max_per_group: int = 4, seed: int = 0,
              positives: str = "any") -> list[dict]:
    """(chosen, rejected) pairs of distinct hints of one group with a higher and a lower reward.

    At most ``max_per_group`` pairs per group, chosen with a generator seeded by ``seed``.
    ``positives="content"``: the chosen hint has :func:`has_content` (the rejected one may be
    any, the empty text included).
    """
    check_positives(positives)
    out = []
    for gi, ((uid, action), g) in enumerate(sorted(_groups(rows).items())):
        best: dict[str, float] = {}
        content: dict[str, bool] = {}
        for r in g:  # one reward per distinct text (greedy answers: equal texts, equal rewards)
            best.setdefault(r["advisor_text"], r["reward"])
            # a text is a positive when any of its hints reached the Receiver whole (as in RFT)
            content[r["advisor_text"]] = content.get(r["advisor_text"], False) or has_content(r)
        texts = list(best)
        pairs = [(w, l) for w in texts for l in texts if best[w] > best[l]
                 and (positives == "any" or content[w])]
        if len(pairs) > max_per_group:
            pick = derive_rng(seed, 17, gi).choice(len(pairs), max_per_group, replace=False)
            pairs = [pairs[int(i)] for i in sorted(pick)]
        for w, l in pairs:
            out.append({"prompt": g[0]["prompt"], "chosen": w, "rejected": l, "uid": uid,
                        "action": action, "reward_chosen": best[w], "reward_rejected": best[l]})
    return out
