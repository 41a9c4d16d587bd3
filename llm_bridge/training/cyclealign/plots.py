"""The reward plot of a CycleAlign run (``reward.png``)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

__all__ = ["plot_rewards"]


def plot_rewards(cycle_rows: Sequence[dict], baselines: dict, path, *, title: str = "CycleAlign"):
    """Reward (and agreement) against the cycle, with both baselines; returns the path."""
    from matplotlib.figure import Figure  # local, as in persuasion.plots: no matplotlib at import

    path = Path(path)
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    base = baselines.get("no_training")
    xs = ([0] if base else []) + [r["cycle"] for r in cycle_rows]
    ys = ([base["reward"]] if base else []) + [r["reward"] for r in cycle_rows]
    ax.plot(xs, ys, "o-", color="C0", label="CycleAlign (cycle 0: no training)")
    sft = baselines.get("sft_top_choice")
    if sft:
        ax.axhline(sft["reward"], color="C1", ls="--",
                   label=f"SFT on the black box's top choice ({sft.get('steps', '?')} steps)")
    if base:
        ax.axhline(base["reward"], color="0.5", ls=":", label="no training")
    values = [y for y in ys if y is not None] + [b["reward"] for b in (sft, base) if b]
    if values and min(values) >= 0 and max(values) <= 1:
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("cycle")
    ax.set_ylabel("task reward (held-out, greedy)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    ticks = xs if xs else [0]
    for a in (ax, ax2):
        a.set_xticks(ticks)
        a.set_xlim(min(ticks) - 0.3, max(ticks) + 0.3)
    ag = [(r["cycle"], r["agreement"]) for r in cycle_rows if r.get("agreement") is not None]
    if ag:
        ax2.plot([a for a, _ in ag], [b for _, b in ag], "s-", color="C2", label="agreement (LCS / k)")
    ra = [(r["cycle"], r["ranking_accuracy"]) for r in cycle_rows if r.get("ranking_accuracy") is not None]
    if ra:
        ax2.plot([a for a, _ in ra], [b for _, b in ra], "^-", color="C3",
                 label="white-box ranking accuracy")
    ax2.set_xlabel("cycle")
    ax2.set_ylim(0, 1.05)
    ax2.set_title("agreement and ranking accuracy")
    if ag or ra:
        ax2.legend(fontsize=7, loc="best")
    fig.savefig(path, dpi=110)
    return path
