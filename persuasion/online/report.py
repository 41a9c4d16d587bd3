"""``persuasion regret``: run learners over seeds, aggregate, bound, plot, report.

The summary (``--json``, ``summary.json``) has, per learner under ``learners``, the final
pseudo-regret (mean, sd over seeds), the realised regret, the obedience violations, the
log-log slope, the curves and ``bound``: the learner's high-probability regret bound at the
horizon from :mod:`theory.bounds` (the dashed line of the figure), or null where none applies
(learners without a derived bound: every learner but ``robust``; games with receiver types;
the ``theory`` package absent).
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..errors import GameValidationError

__all__ = ["regret_analysis", "regret_command", "robust_bound_curve", "LEARNERS_WITH_BOUND"]

#: Learners whose regret bound :mod:`theory.bounds` derives (for the others ``bound`` is null).
LEARNERS_WITH_BOUND = ("robust",)


def robust_bound_curve(game, horizon: int, checkpoints, *, delta: float, growth: float,
                       warmup: int = 1):
    """``(t, bound)``: the robust learner's high-probability regret bound
    (:func:`theory.bounds.robust_regret_bound`) at the checkpoints."""
    from theory.bounds import robust_regret_bound

    res = robust_regret_bound(game, horizon, delta=delta, growth=growth, warmup=warmup,
                              checkpoints=checkpoints)
    return np.asarray(res.checkpoints), np.asarray(res.high_probability)


def regret_analysis(game, learners, *, horizon: int, seeds, out_dir=None, delta: float = 0.05,
                    growth: float = 2.0, workers=None, progress: bool = True,
                    plot_path=None) -> dict:
    """Run ``learners`` x ``seeds`` on ``game`` (appending to ``out_dir/runs.jsonl`` and
    resuming it), aggregate, compute the robust bound, plot. Returns the summary dict."""
    from .analysis import aggregate, plot_regret_figure
    from .learners import LEARNERS
    from .simulate import log_checkpoints
    from .sweep import make_tasks, run_sweep

    for name in learners:
        if name not in LEARNERS:
            raise GameValidationError("--learner", f"unknown learner {name!r} (choose from "
                                                   f"{', '.join(LEARNERS)})")
    if horizon < 1:
        raise GameValidationError("--horizon", "must be a positive integer")
    if len(seeds) < 1:
        raise GameValidationError("--seeds", "must be a positive integer")
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
        records = run_sweep(tasks, runs_path, max_workers=workers, progress=progress)
    finally:
        if tmp is not None:
            tmp.cleanup()
    agg = aggregate(records)
    cps = log_checkpoints(horizon)
    bound = None
    try:
        bound = robust_bound_curve(game, horizon, cps, delta=delta, growth=growth)
    except ImportError:  # theory package not installed
        bound = None
    except GameValidationError:  # e.g. receiver-types games: no bound derived
        bound = None
    summary = {"game": game.name, "horizon": horizon, "seeds": len(seeds),
               "optimal_value": next(iter(agg.values()))["optimal_value"],
               "bound": float(bound[1][-1]) if bound is not None else None,
               "bound_curve": [[int(t), float(b)] for t, b in zip(*bound)] if bound is not None else None,
               "learners": {}}
    for name in learners:
        a = agg[name]
        summary["learners"][name] = {
            "final_regret_mean": a["final_regret_mean"],
            "final_regret_std": a["final_regret_std"],
            "final_realised_mean": a["final_realised_mean"],
            "violations": a["violations"],
            "runs_with_violations": a["runs_with_violations"],
            "slope": a["slope"],
            "bound": summary["bound"] if name in LEARNERS_WITH_BOUND else None,
            "n_solves_mean": a["n_solves_mean"],
            "seconds_mean": a["seconds_mean"],
            "curve": [[int(t), float(r)] for t, r in zip(a["checkpoints"], a["pseudo_mean"])],
            "curve_std": [float(s) for s in a["pseudo_std"]],
            "realised_curve": [[int(t), float(r)] for t, r in zip(a["checkpoints"], a["realised_mean"])],
            "realised_curve_std": [float(s) for s in a["realised_std"]],
        }
    first = summary["learners"][learners[0]]
    summary.update({"learner": learners[0], **{k: first[k] for k in (
        "final_regret_mean", "final_regret_std", "violations", "slope", "curve")}})
    if out_dir is not None:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
        if plot_path is None:
            plot_path = out_dir / "regret.png"
    if plot_path is not None:
        plot_regret_figure(agg, bound=bound if "robust" in learners else None, path=plot_path,
                           title=f"{game.name}: T={horizon}, {len(seeds)} seeds")
        summary["plot"] = str(plot_path)
    return summary


def regret_command(args) -> int:
    from ..game import load_game

    game = load_game(args.game)
    learners = [x.strip() for x in args.learner.split(",") if x.strip()]
    if not learners:
        raise GameValidationError("--learner", "no learner given")
    if not 0 < args.delta < 1:
        raise GameValidationError("--delta", "must be in (0, 1)")
    if args.growth <= 1:
        raise GameValidationError("--growth", "must be > 1")
    seeds = list(range(args.seed, args.seed + args.seeds))
    with contextlib.redirect_stdout(sys.stderr):  # stdout holds the result only
        summary = regret_analysis(game, learners, horizon=args.horizon, seeds=seeds,
                                  out_dir=args.out, delta=args.delta, growth=args.growth,
                                  workers=args.workers,
                                  progress=not args.no_progress and not args.json,
                                  plot_path=args.plot)
    if args.json:
        print(json.dumps(summary))
        return 0
    print(f"game {game.name}: OPT = {summary['optimal_value']:.10g}, T = {args.horizon}, "
          f"{args.seeds} seeds")
    if summary["bound"] is not None:
        print(f"robust learner's regret bound at T (prob >= {1 - args.delta:g}): {summary['bound']:.6g}")
    print(f"{'learner':<16}{'pseudo-regret':>16}{'± sd':>12}{'realised':>14}{'violations':>12}"
          f"{'slope':>8}{'LPs':>6}")
    for name, s in summary["learners"].items():
        slope = f"{s['slope']:.3f}" if s["slope"] is not None else "-"
        print(f"{name:<16}{s['final_regret_mean']:>16.6g}{s['final_regret_std']:>12.4g}"
              f"{s['final_realised_mean']:>14.6g}{s['violations']:>12d}{slope:>8}"
              f"{s['n_solves_mean']:>6.0f}")
    if "plot" in summary:
        print(f"plot written to {summary['plot']}", file=sys.stderr)
    return 0
