"""The before/after plot of Advisor training (``before_after.png``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import CONDITIONS
from .result import AdvisorTrainingResult

__all__ = ["plot_before_after"]


def plot_before_after(result, path) -> Path:
    """Grouped bars: accuracy per condition before vs after training, one panel per Receiver.
    ``result``: an :class:`AdvisorTrainingResult` or its dict; returns the path."""
    from matplotlib.figure import Figure  # local, as in persuasion.plots; no pyplot: no global state

    if isinstance(result, AdvisorTrainingResult):
        result = result.to_dict()
    panels = [(result["receiver"], result["before"], result["after"], result.get("after_vs_before") or {})]
    if result.get("transfer"):
        t = result["transfer"]
        panels.append((f"{t['receiver']} (transfer)", t["before"], t["after"], t.get("after_vs_before") or {}))
    fig = Figure(figsize=(5.2 * len(panels), 3.8))
    axes = fig.subplots(1, len(panels), squeeze=False)
    xs = np.arange(len(CONDITIONS))
    width = 0.38
    for ax, (title, before, after, paired) in zip(axes[0], panels):
        for off, data, label, color in ((-width / 2, before, "before", "#9aa7b8"),
                                        (width / 2, after, "after", "#d8763a")):
            acc = [data[c]["accuracy"] for c in CONDITIONS]
            lo = [max(0.0, data[c]["accuracy"] - data[c]["ci95"][0]) for c in CONDITIONS]
            hi = [max(0.0, data[c]["ci95"][1] - data[c]["accuracy"]) for c in CONDITIONS]
            ax.bar(xs + off, acc, width, yerr=[lo, hi], capsize=4, label=label, color=color)
            for x, a in zip(xs + off, acc):
                ax.text(x, min(0.97, a + 0.03), f"{a:.2f}", ha="center", fontsize=7)
        ax.set_xticks(xs, list(CONDITIONS))
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy (95% Wilson interval)")
        post = paired.get("posterior")
        sub = (f"\nposterior lift {post['lift']:+.3f} (McNemar p={post['p_value']:.3g})" if post else "")
        ax.set_title(f"receiver {title}, n={before['posterior']['n']}{sub}", fontsize=9)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Advisor training ({result['training']['method']}) on {result['task']}: "
                 f"advisor {result['advisor']}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    return path
