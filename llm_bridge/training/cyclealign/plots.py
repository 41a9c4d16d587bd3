"""The reward plot of a CycleAlign run (``reward.png``)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

__all__ = ["plot_rewards"]


def _series(rows: Sequence[dict], key: str):
    """(x, y, [lower errors, upper errors]) of the rows with ``key`` set (``key_ci95`` as
    error bars, zero where a row has none: folders written before the intervals)."""
    pts = [(r["cycle"], r[key], r.get(f"{key}_ci95")) for r in rows if r.get(key) is not None]
    xs = [x for x, _, _ in pts]
    ys = [y for _, y, _ in pts]
    err = [[max(y - ci[0], 0.0) if ci else 0.0 for _, y, ci in pts],
           [max(ci[1] - y, 0.0) if ci else 0.0 for _, y, ci in pts]]
    return xs, ys, err


def plot_rewards(cycle_rows: Sequence[dict], baselines: dict, path, *, title: str = "CycleAlign"):
    """Left: the held-out reward against the cycle (cycle 0: no training) with both
    baselines; right: the white box's and the black box's ranking accuracy on the held-out
    candidates (cycle 0: with the seed demonstrations, and zero-shot) and the agreement.
    The 95% intervals (``*_ci95``) are the error bars and the SFT baseline's band; rows
    without them (older folders) are drawn without. Returns the path."""
    from matplotlib.figure import Figure  # local, as in persuasion.plots: no matplotlib at import

    path = Path(path)
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    base = baselines.get("no_training")
    rows = ([base] if base else []) + list(cycle_rows)
    xs, ys, err = _series(rows, "reward")
    ax.errorbar(xs, ys, yerr=err, fmt="o-", color="C0", capsize=3,
                label="CycleAlign (cycle 0: no training)")
    sft = baselines.get("sft_top_choice")
    if sft:
        ax.axhline(sft["reward"], color="C1", ls="--",
                   label=f"SFT on the black box's top choice ({sft.get('steps', '?')} steps)")
        if sft.get("reward_ci95"):
            ax.axhspan(*sft["reward_ci95"], color="C1", alpha=0.12, lw=0)
    if base:
        ax.axhline(base["reward"], color="0.5", ls=":", label="no training")
    values = ys + [b["reward"] for b in (sft, base) if b]
    if values and min(values) >= 0 and max(values) <= 1:
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("cycle")
    ax.set_ylabel("task reward (held-out, greedy; 95% CI)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    ticks = sorted({r["cycle"] for r in rows}) or [0]
    for a in (ax, ax2):
        a.set_xticks(ticks)
        a.set_xlim(min(ticks) - 0.4, max(ticks) + 0.4)
    drawn = False
    ag = [(r["cycle"], r["agreement"]) for r in cycle_rows if r.get("agreement") is not None]
    if ag:
        ax2.plot([a for a, _ in ag], [b for _, b in ag], "s:", color="C2", alpha=0.7,
                 label="agreement (LCS / k)")
        drawn = True
    for key, shift, style, label in (
            ("ranking_accuracy", -0.06, "^-", "white-box ranking accuracy"),
            ("black_box_ranking_accuracy", 0.06, "v-", "black-box ranking accuracy")):
        xs, ys, err = _series(rows, key)
        if xs:
            ax2.errorbar([x + shift for x in xs], ys, yerr=err, fmt=style, capsize=3,
                         color="C3" if key == "ranking_accuracy" else "C4", label=label)
            drawn = True
    zs = [base["black_box_ranking_accuracy_zero_shot"]] if base and base.get(
        "black_box_ranking_accuracy_zero_shot") is not None else []
    if zs:
        ci = base.get("black_box_ranking_accuracy_ci95_zero_shot")
        yerr = [[max(zs[0] - ci[0], 0.0)], [max(ci[1] - zs[0], 0.0)]] if ci else None
        ax2.errorbar([0.2], zs, yerr=yerr, fmt="x", color="C4", capsize=3, ms=8,
                     label="black box zero-shot (cycle 0)")
        drawn = True
    ax2.set_xlabel("cycle")
    ax2.set_ylim(0, 1.05)
    ax2.set_title("held-out ranking accuracy (95% CI)")
    if drawn:
        ax2.legend(fontsize=7, loc="best")
    fig.savefig(path, dpi=110)
    return path
