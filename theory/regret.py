"""The regret analysis behind ``persuasion regret`` and the demo: run learners over seeds,
aggregate, bound, plot.

It lives in :mod:`theory` because it joins the simulations of :mod:`persuasion.online` with
the bounds of :mod:`theory.bounds`. The summary (``persuasion regret --json``,
``summary.json``) has, per learner under ``learners``, the final
pseudo-regret (mean, sd over seeds), the realised regret, the obedience violations, the
log-log slope, the curves and ``bound``: the learner's high-probability regret bound at the
horizon from :mod:`theory.bounds` (the dashed line of the figure), or null where none applies
(learners without a derived bound: every learner but ``robust``; games with receiver types).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from persuasion.checks import check_int
from persuasion.errors import GameValidationError
from persuasion.online.analysis import aggregate, plot_regret_figure
from persuasion.online.learners import LEARNERS
from persuasion.online.simulate import log_checkpoints
from persuasion.online.sweep import make_tasks, run_sweep

from .bounds import robust_regret_bound

__all__ = ["regret_analysis", "robust_bound_curve", "RegretAnalysis", "LearnerRegret",
           "LEARNERS_WITH_BOUND"]

#: Learners whose regret bound :mod:`theory.bounds` derives (for the others ``bound`` is null).
LEARNERS_WITH_BOUND = ("robust",)


def robust_bound_curve(game, horizon: int, checkpoints, *, delta: float, growth: float,
                       warmup: int = 1):
    """``(t, bound)``: the robust learner's high-probability regret bound
    (:func:`theory.bounds.robust_regret_bound`) at the checkpoints."""
    res = robust_regret_bound(game, horizon, delta=delta, growth=growth, warmup=warmup,
                              checkpoints=checkpoints)
    return np.asarray(res.checkpoints), np.asarray(res.high_probability)


@dataclass
class LearnerRegret:
    """One learner's regret over the seeds of a :func:`regret_analysis`.

    ``curve`` / ``realised_curve`` are ``[t, mean]`` pairs at the logarithmic checkpoints,
    ``*_std`` their standard deviations over seeds; ``bound`` is the learner's
    high-probability regret bound at the horizon, or None where none is derived.
    """

    final_regret_mean: float
    final_regret_std: float
    final_realised_mean: float
    violations: int
    runs_with_violations: int
    slope: float | None
    bound: float | None
    n_solves_mean: float
    seconds_mean: float
    curve: list
    curve_std: list
    realised_curve: list
    realised_curve_std: list

    @classmethod
    def from_aggregate(cls, a: dict, bound: float | None) -> "LearnerRegret":
        """From one learner's entry of :func:`persuasion.online.analysis.aggregate`."""
        return cls(
            final_regret_mean=a["final_regret_mean"], final_regret_std=a["final_regret_std"],
            final_realised_mean=a["final_realised_mean"], violations=a["violations"],
            runs_with_violations=a["runs_with_violations"], slope=a["slope"], bound=bound,
            n_solves_mean=a["n_solves_mean"], seconds_mean=a["seconds_mean"],
            curve=[[int(t), float(r)] for t, r in zip(a["checkpoints"], a["pseudo_mean"])],
            curve_std=[float(x) for x in a["pseudo_std"]],
            realised_curve=[[int(t), float(r)] for t, r in zip(a["checkpoints"], a["realised_mean"])],
            realised_curve_std=[float(x) for x in a["realised_std"]])

    def to_dict(self) -> dict:
        """The JSON form (``learners.<name>`` of ``persuasion regret --json``)."""
        return {"final_regret_mean": self.final_regret_mean,
                "final_regret_std": self.final_regret_std,
                "final_realised_mean": self.final_realised_mean,
                "violations": self.violations, "runs_with_violations": self.runs_with_violations,
                "slope": self.slope, "bound": self.bound, "n_solves_mean": self.n_solves_mean,
                "seconds_mean": self.seconds_mean, "curve": self.curve,
                "curve_std": self.curve_std, "realised_curve": self.realised_curve,
                "realised_curve_std": self.realised_curve_std}


@dataclass
class RegretAnalysis:
    """The result of :func:`regret_analysis`: every learner's regret, the exact optimum, the
    robust learner's bound (value at the horizon and curve, None where none applies) and the
    figure's path (None when none was drawn)."""

    game: str
    horizon: int
    seeds: int
    optimal_value: float
    bound: float | None
    bound_curve: list | None
    learners: dict[str, LearnerRegret] = field(default_factory=dict)
    plot: str | None = None

    @property
    def first_learner(self) -> str:
        """The first learner asked for (its figures are repeated at the top level of the JSON)."""
        return next(iter(self.learners))

    def to_dict(self) -> dict:
        """The JSON form: ``persuasion regret --json`` and ``summary.json`` (which has no
        ``plot``: it is written before the figure)."""
        first = self.learners[self.first_learner]
        out = {"game": self.game, "horizon": self.horizon, "seeds": self.seeds,
               "optimal_value": self.optimal_value, "bound": self.bound,
               "bound_curve": self.bound_curve,
               "learners": {name: r.to_dict() for name, r in self.learners.items()},
               "learner": self.first_learner, "final_regret_mean": first.final_regret_mean,
               "final_regret_std": first.final_regret_std, "violations": first.violations,
               "slope": first.slope, "curve": first.curve}
        if self.plot is not None:
            out["plot"] = self.plot
        return out


def regret_analysis(game, learners, *, horizon: int, seeds, out_dir=None, delta: float = 0.05,
                    growth: float = 2.0, workers=None, progress: bool = True,
                    plot_path=None, executor="local") -> RegretAnalysis:
    """Run ``learners`` x ``seeds`` on ``game`` (appending to ``out_dir/runs.jsonl`` and
    resuming it), aggregate, compute the robust bound, plot (to ``plot_path``, else
    ``out_dir/regret.png`` when ``out_dir`` is given) and write ``out_dir/summary.json``.

    The runs go to ``executor``: a spec of :mod:`persuasion.online.executors` (``local``,
    ``dask:local``, ``dask:tcp://HOST:PORT``, ``ray:local``, ``ray:ADDRESS``) with
    ``workers`` processes where it starts them, or an executor object
    (:func:`persuasion.online.sweep.run_sweep`); the numbers are the same on every one."""
    learners = list(learners)
    if not learners:
        raise GameValidationError("learners", "no learner given")
    for name in learners:
        if name not in LEARNERS:
            raise GameValidationError("learners", f"unknown learner {name!r} (choose from "
                                                  f"{', '.join(LEARNERS)})")
    check_int(horizon, "horizon")
    seeds = list(seeds)
    if not seeds:
        raise GameValidationError("seeds", "expected at least one seed")
    params = {"robust": {"delta": delta, "growth": growth}, "plugin": {"growth": growth}}
    tasks = make_tasks([game], learners, horizon, seeds, params)
    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory()
        runs_path = Path(tmp.name) / "runs.jsonl"
    else:
        out_dir = Path(out_dir)
        runs_path = out_dir / "runs.jsonl"
    try:
        records = run_sweep(tasks, runs_path, executor=executor, max_workers=workers,
                            progress=progress)
    finally:
        if tmp is not None:
            tmp.cleanup()
    agg = aggregate(records)
    cps = log_checkpoints(horizon)
    try:
        bound = robust_bound_curve(game, horizon, cps, delta=delta, growth=growth)
    except GameValidationError:  # e.g. receiver-types games: no bound derived
        bound = None
    at_horizon = float(bound[1][-1]) if bound is not None else None
    result = RegretAnalysis(
        game=game.name, horizon=horizon, seeds=len(seeds),
        optimal_value=next(iter(agg.values()))["optimal_value"], bound=at_horizon,
        bound_curve=[[int(t), float(b)] for t, b in zip(*bound)] if bound is not None else None,
        learners={name: LearnerRegret.from_aggregate(
            agg[name], at_horizon if name in LEARNERS_WITH_BOUND else None) for name in learners})
    if out_dir is not None:
        (out_dir / "summary.json").write_text(json.dumps(result.to_dict(), indent=1))
        if plot_path is None:
            plot_path = out_dir / "regret.png"
    if plot_path is not None:
        plot_regret_figure(agg, bound=bound if "robust" in learners else None, path=plot_path,
                           title=f"{game.name}: T={horizon}, {len(seeds)} seeds")
        result.plot = str(plot_path)
    return result
