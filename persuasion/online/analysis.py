"""Aggregating regret runs over seeds, fitting rates, and plotting.

Names used throughout (as in the code and the JSON):

* ``pseudo_regret``: cumulative ``sum_t (OPT(mu) - U(sigma_t; mu))`` (exact expectation
  given the learner's schemes; random only through the learner's data);
* ``realised_regret``: cumulative ``sum_t (OPT(mu) - v(w_t, a_t))`` (sampled);
* ``slope``: least-squares slope of ``log(mean pseudo-regret)`` on ``log t`` over the
  last two decades of the horizon (``t >= T/100``, and ``t >= 10``): about 0.5 for a
  ``sqrt(T)``-type learner, about 1 for a learner with linear regret.
"""

from __future__ import annotations

import numpy as np

__all__ = ["aggregate", "fit_loglog_slope", "scheme_value_curve", "plot_regret_figure"]


def fit_loglog_slope(t, regret, *, t_min: float | None = None) -> float | None:
    """Slope of ``log regret`` vs ``log t`` for ``t >= t_min`` (default ``max(10, T/100)``).

    Returns None when fewer than 3 points have positive regret there.
    """
    t = np.asarray(t, dtype=float)
    r = np.asarray(regret, dtype=float)
    if t_min is None:
        t_min = max(10.0, t.max() / 100.0)
    mask = (t >= t_min) & (r > 1e-12)
    if mask.sum() < 3:
        return None
    slope, _ = np.polyfit(np.log(t[mask]), np.log(r[mask]), 1)
    return float(slope)


def scheme_value_curve(epochs, checkpoints) -> np.ndarray:
    """``U(sigma_t; mu)`` of the scheme in force at each checkpoint round, from a run's epochs
    ``(t_start, t_end, value, obedient)`` (rounds ``t_start+1 .. t_end``)."""
    cps = np.asarray(checkpoints)
    out = np.full(cps.shape, np.nan)
    for t0, t1, val, _ in epochs:
        out[(cps > t0) & (cps <= t1)] = val
    return out


def aggregate(records: list[dict]) -> dict:
    """Per learner: mean/std/min/max of the regret curves over seeds and summary figures.

    All records of one learner must share the horizon and checkpoints.
    """
    by = {}
    for rec in records:
        by.setdefault(rec["learner"], []).append(rec)
    out = {}
    for name, recs in by.items():
        cps = np.asarray(recs[0]["checkpoints"], dtype=np.int64)
        P = np.array([r["pseudo_regret"] for r in recs], dtype=float)
        R = np.array([r["realised_regret"] for r in recs], dtype=float)
        S = np.array([scheme_value_curve(r["epochs"], cps) for r in recs], dtype=float)
        mean = P.mean(0)
        out[name] = {
            "learner": name,
            "horizon": int(recs[0]["horizon"]),
            "seeds": sorted(int(r["seed"]) for r in recs),
            "optimal_value": float(recs[0]["optimal_value"]),
            "checkpoints": cps,
            "pseudo_mean": mean, "pseudo_std": P.std(0), "pseudo_min": P.min(0),
            "pseudo_max": P.max(0),
            "realised_mean": R.mean(0), "realised_std": R.std(0),
            "scheme_value_mean": np.nanmean(S, 0) if S.size else S,
            "final_regret_mean": float(mean[-1]),
            "final_regret_std": float(P[:, -1].std()),
            "final_realised_mean": float(R[:, -1].mean()),
            "violations": int(sum(r["violations"] for r in recs)),
            "runs_with_violations": int(sum(r["violations"] > 0 for r in recs)),
            "n_solves_mean": float(np.mean([r["n_solves"] for r in recs])),
            "slope": fit_loglog_slope(cps, mean),
            "seconds_mean": float(np.mean([r.get("seconds", 0.0) for r in recs])),
        }
    return out


_COLOURS = {"robust": "tab:blue", "plugin": "tab:red", "explore-commit": "tab:orange",
            "full": "tab:green", "none": "tab:gray"}


def _darker(colour, factor: float = 0.6):
    """``colour`` mixed with black (``factor`` of the colour kept)."""
    from matplotlib.colors import to_rgb

    return tuple(factor * x for x in to_rgb(colour if colour is not None else "tab:gray"))


def plot_regret_figure(agg: dict, *, bound=None, path=None, title: str | None = None):
    """Three panels: cumulative pseudo-regret vs T with bands over seeds, the realised regret
    (dotted, darker, above the pseudo-regret) and the bound;
    the same on log-log axes with fitted slopes; the per-round scheme value vs OPT.

    ``bound``: optional ``(t, values)`` of the robust learner's high-probability bound.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 4.8), layout="constrained")
    ax_lin, ax_log, ax_val = fig.subplots(1, 3)
    opt = None
    for name, a in agg.items():
        c = _COLOURS.get(name)
        t = a["checkpoints"]
        label = f"{name} (n={len(a['seeds'])})"
        ax_lin.plot(t, a["pseudo_mean"], color=c, label=label)
        ax_lin.fill_between(t, a["pseudo_mean"] - a["pseudo_std"], a["pseudo_mean"] + a["pseudo_std"],
                            color=c, alpha=0.25, lw=0)
        ax_lin.fill_between(t, a["pseudo_min"], a["pseudo_max"], color=c, alpha=0.08, lw=0)
        # realised (sampled) regret: it runs close to the pseudo-regret mean, so it is drawn
        # above it, dotted, thicker and darker, to stay visible
        ax_lin.plot(t, a["realised_mean"], color=_darker(c), ls=(0, (1, 1.6)), lw=2.4,
                    dash_capstyle="round", zorder=3.5, gid="realised")
        pos = a["pseudo_mean"] > 0
        if pos.any():
            slope = a["slope"]
            ax_log.loglog(t[pos], a["pseudo_mean"][pos], color=c,
                          label=f"{name}: slope {slope:.2f}" if slope is not None else name)
        ax_val.semilogx(t, a["scheme_value_mean"], color=c, label=name, drawstyle="steps-post")
        opt = a["optimal_value"]
    ax_lin.plot([], [], color="0.2", ls=(0, (1, 1.6)), lw=2.4, dash_capstyle="round",
                label="dotted: realised regret (mean)")
    if bound is not None:
        bt, bv = bound
        ax_lin.plot(bt, bv, "k--", lw=1.2, label="robust bound (w.p. 1-δ)")
        ax_log.loglog(bt, bv, "k--", lw=1.2, label="robust bound")
        ax_lin.set_ylim(top=max(max(a["pseudo_max"].max() for a in agg.values()) * 1.3, 1e-9))
    if opt is not None:
        ax_val.axhline(opt, color="k", ls=":", label=f"OPT = {opt:.4g}")
    ax_lin.set(xlabel="round t", ylabel="cumulative pseudo-regret",
               title="pseudo-regret (mean, ±1 sd, min–max); dotted: realised")
    ax_log.set(xlabel="round t", ylabel="cumulative pseudo-regret", title="log-log, fitted slopes")
    ax_val.set(xlabel="round t", ylabel="U(σ_t; μ)", title="value of the committed scheme")
    for ax in (ax_lin, ax_log, ax_val):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
