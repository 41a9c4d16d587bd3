"""The plot of an evaluation: the three conditions' accuracies with their intervals
(``conditions.png`` of a run folder; :func:`llm_bridge.evaluate.run_evaluation` draws it)."""

from __future__ import annotations

__all__ = ["plot_conditions"]


def plot_conditions(summary, path):
    """Bar chart of the three conditions' accuracies with their 95% intervals; each bar's value
    is written just above the top of its interval. ``summary``: an
    :class:`~llm_bridge.evaluate.EvaluationResult` or its dict. Returns the figure."""
    from matplotlib.figure import Figure  # no pyplot: no global figure state

    if hasattr(summary, "to_dict"):
        summary = summary.to_dict()
    conds = list(summary["conditions"])  # none, prior, posterior
    acc = [summary["conditions"][c]["accuracy"] for c in conds]
    lo = [summary["conditions"][c]["accuracy"] - summary["conditions"][c]["ci95"][0] for c in conds]
    hi = [summary["conditions"][c]["ci95"][1] - summary["conditions"][c]["accuracy"] for c in conds]
    top = [summary["conditions"][c]["ci95"][1] for c in conds]
    fig = Figure(figsize=(5, 3.6))
    ax = fig.subplots()
    ax.bar(conds, acc, yerr=[lo, hi], capsize=6, color=["#999999", "#6a9fd8", "#d8763a"])
    ax.set_ylim(0, 1.12)  # room for a label above an interval that reaches 1
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("accuracy (95% Wilson interval)")
    ax.set_title(f"{summary['task']}: receiver {summary['receiver']}, n={summary['n']}\n"
                 f"lift vs none {summary['lift_vs_none']:+.3f} (p={summary['p_value']:.3g})", fontsize=9)
    for k, a in enumerate(acc):  # above the top of the error bar, clear of its cap
        ax.annotate(f"{a:.2f}", (k, top[k]), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8, gid="value_label")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return fig
