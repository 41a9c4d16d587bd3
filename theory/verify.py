"""``persuasion verify``: the toolkit checks its own theory on real runs.

Each check prints one row (check, figure, pass/fail) and the whole suite writes a
report (``report.md``, ``results.json`` and plots) to a folder:

1. the signaling LP and the posterior LP agree on random games (float and certified
   exact values);
2. returned schemes are Bayes-plausible and obedient, and earn their value when the
   receiver best-responds;
3. the robust LP's dual block equals a brute-force inner minimisation (greedy) and the
   inner LP solved directly;
4. robust schemes are obedient for sampled priors in the confidence set and for the
   set's worst-case priors;
5. the robust learner's pseudo-regret stays below the computed bound on every seed;
6. the fitted log-log slope of its regret vs T is close to 1/2;
7. the value of its committed scheme converges to OPT: its gap at T is below the
   bound's per-round loss for the last epoch and smaller than at T/100.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from persuasion.game import Game
from persuasion.games import load_builtin
from persuasion.online.analysis import aggregate, fit_loglog_slope, plot_regret_figure
from persuasion.online.simulate import log_checkpoints
from persuasion.online.sweep import make_tasks, run_sweep
from persuasion.robust import solve_robust, worst_case_prior, worst_case_prior_value
from persuasion.scheme import evaluate_scheme
from persuasion.solve import solve_both

from .bounds import robust_regret_bound
from .regret import robust_bound_curve

__all__ = ["Check", "run_verification", "format_table"]


@dataclass
class Check:
    name: str
    figure: str
    passed: bool
    detail: str = ""

    def __post_init__(self):
        self.passed = bool(self.passed)  # numpy booleans are not JSON


def _random_game(rng, n, m, *, rational=True):
    w = rng.integers(1, 10, n)
    prior = [Fraction(int(x), int(w.sum())) for x in w]
    return Game(prior, rng.integers(-5, 6, (n, m)), rng.integers(-5, 6, (n, m)))


def check_methods(rng, n_games):
    max_diff = 0.0
    exact_equal = 0
    bayes = obed = earn = 0.0
    for _ in range(n_games):
        n, m = int(rng.integers(2, 6)), int(rng.integers(2, 6))
        g = _random_game(rng, n, m)
        post, sig = solve_both(g, certify=True)
        max_diff = max(max_diff, abs(post.value - sig.value))
        exact_equal += int(post.certified and sig.certified and post.value_exact == sig.value_exact)
        for r in (post, sig):
            bayes = max(bayes, float(np.abs(r.signal_probabilities @ r.posteriors - g.prior).max()))
            obed = max(obed, r.details["max_obedience_violation"])
            ev = evaluate_scheme(g, r.scheme)
            earn = max(earn, abs(ev.sender_value - r.value))
    return [
        Check("signaling LP = posterior LP (random games)",
              f"max |diff| {max_diff:.1e}; certified exact equal {exact_equal}/{n_games}",
              max_diff <= 1e-7 and exact_equal == n_games),
        Check("Bayes plausibility and obedience of returned schemes",
              f"max Bayes error {bayes:.1e}; max obedience violation {obed:.1e}; "
              f"max |earned - value| {earn:.1e}",
              bayes <= 1e-9 and obed <= 1e-9 and earn <= 1e-7),
    ]


def _dual_block_value(c, mu_hat, eps):
    """max y + mu_hat@(beta - alpha) - eps*lam s.t. y - alpha_w + beta_w <= c_w,
    alpha_w + beta_w <= lam, alpha, beta, lam >= 0 (y free), with scipy's HiGHS."""

    n = len(c)
    # variables: y, alpha (n), beta (n), lam
    cost = np.concatenate([[-1.0], mu_hat, -mu_hat, [eps]])
    A, b = [], []
    for w in range(n):
        row = np.zeros(2 * n + 2)
        row[0], row[1 + w], row[1 + n + w] = 1, -1, 1
        A.append(row), b.append(c[w])
        row = np.zeros(2 * n + 2)
        row[1 + w], row[1 + n + w], row[-1] = 1, 1, -1
        A.append(row), b.append(0.0)
    bounds = [(None, None)] + [(0, None)] * (2 * n + 1)
    from scipy.optimize import linprog  # 0.3 s to import: only when the check runs

    res = linprog(cost, A_ub=np.array(A), b_ub=np.array(b), bounds=bounds, method="highs")
    return -res.fun


def _inner_primal_value(c, mu_hat, eps):
    """min mu@c over mu >= 0, sum mu = 1, ||mu - mu_hat||_1 <= eps (slacks s >= |mu - mu_hat|)."""

    n = len(c)
    cost = np.concatenate([c, np.zeros(n)])
    A_ub, b_ub = [], []
    for w in range(n):
        r = np.zeros(2 * n)
        r[w], r[n + w] = 1, -1
        A_ub.append(r), b_ub.append(mu_hat[w])
        r = np.zeros(2 * n)
        r[w], r[n + w] = -1, -1
        A_ub.append(r), b_ub.append(-mu_hat[w])
    A_ub.append(np.concatenate([np.zeros(n), np.ones(n)])), b_ub.append(eps)
    A_eq = [np.concatenate([np.ones(n), np.zeros(n)])]
    from scipy.optimize import linprog  # 0.3 s to import: only when the check runs

    res = linprog(cost, A_ub=np.array(A_ub), b_ub=np.array(b_ub), A_eq=np.array(A_eq), b_eq=[1.0],
                  bounds=[(0, None)] * (2 * n), method="highs")
    return res.fun


def check_robust_dual(rng, n_cases):
    worst = 0.0
    for _ in range(n_cases):
        n = int(rng.integers(2, 7))
        c = rng.normal(size=n)
        mu_hat = rng.dirichlet(np.ones(n))
        eps = float(rng.uniform(0, 2.2))
        a = worst_case_prior_value(c, mu_hat, eps)
        b = _dual_block_value(c, mu_hat, eps)
        p = _inner_primal_value(c, mu_hat, eps)
        worst = max(worst, abs(a - b), abs(a - p))
    return Check("robust-LP dual block = brute-force inner minimisation",
                 f"max |greedy - dual LP|, |greedy - primal LP| over {n_cases} cases: {worst:.1e}",
                 worst <= 1e-7)


def _sample_in_ball(rng, mu_hat, eps, k):
    out = []
    n = len(mu_hat)
    while len(out) < k:
        d = rng.normal(size=n)
        d -= d.mean()
        norm = np.abs(d).sum()
        if norm == 0:
            continue
        mu = mu_hat + d / norm * eps * rng.uniform(0, 1)
        if (mu >= 0).all():
            out.append(mu / mu.sum())
    return out


def check_robust_obedience(rng, n_games, samples=200):
    min_slack = np.inf
    for _ in range(n_games):
        n, m = int(rng.integers(2, 5)), int(rng.integers(2, 5))
        g = _random_game(rng, n, m)
        mu_hat = rng.dirichlet(np.ones(n) * 3)
        eps = float(rng.uniform(0.01, 0.5))
        rs = solve_robust(g, mu_hat, eps)
        pi = rs.scheme
        U = g.receiver_utility
        priors = _sample_in_ball(rng, mu_hat, eps, samples)
        for a in range(m):
            for b in range(m):
                if a != b:
                    c = pi[:, a] * (U[:, a] - U[:, b])
                    priors.append(worst_case_prior(c, mu_hat, eps))
        for mu in priors:
            for a in range(m):
                col = mu * pi[:, a]
                if col.sum() <= 1e-12:
                    continue
                slack = col @ U[:, a] - (col @ U).max()
                min_slack = min(min_slack, slack)
    return Check("robust scheme obedient for priors in the confidence set",
                 f"min obedience slack over sampled and worst-case priors: {min_slack:.1e}",
                 min_slack >= -1e-9)


def _fixed_games(rng):
    games = [load_builtin("prosecutor"), load_builtin("three_state")]
    g = _random_game(np.random.default_rng(7), 4, 4)
    games.append(g.with_data(name="random-4x4"))
    return games


def check_regret(games, horizon, seeds, delta, out_dir, *, executor="local", workers=None):
    """The regret checks on ``games`` x ``seeds`` (robust learner); the runs are one sweep
    (:func:`persuasion.online.sweep.run_sweep` on ``executor``: ``out_dir/regret_runs.jsonl``,
    appended as runs finish, so an interrupted verify resumes; a temporary file without
    ``out_dir``)."""
    tasks = make_tasks(games, ["robust"], horizon, seeds, {"robust": {"delta": delta}})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(out_dir) / "regret_runs.jsonl" if out_dir is not None else Path(tmp) / "runs.jsonl"
        records = run_sweep(tasks, path, executor=executor, max_workers=workers, progress=False)
    by_key = {r["key"]: r for r in records}
    rows = []
    worst_ratio = 0.0
    violating = 0
    total_runs = 0
    slopes = {}
    gaps = {}
    figures = []
    cps = log_checkpoints(horizon)
    for i, g in enumerate(games):
        recs = [by_key[t["key"]] for t in tasks[i * len(seeds):(i + 1) * len(seeds)]]
        bt, bv = robust_bound_curve(g, horizon, cps, delta=delta, growth=2.0)
        for r in recs:
            total_runs += 1
            pr = np.asarray(r["pseudo_regret"])
            ok = np.all(pr <= bv + 1e-9)
            violating += int(not ok)
            late = (bv > 0) & (cps >= horizon / 100)
            if late.any():
                worst_ratio = max(worst_ratio, float((pr[late] / bv[late]).max()))
        agg = aggregate(recs)["robust"]
        slopes[g.name] = fit_loglog_slope(cps, agg["pseudo_mean"])
        opt = agg["optimal_value"]

        last_loss = robust_regret_bound(g, horizon, delta=delta, checkpoints=cps).epochs[-1].loss
        final_gap = float(np.mean([opt - r["epochs"][-1][2] for r in recs]))
        early = max(1, horizon // 100)
        early_gap = float(np.mean([opt - next(e[2] for e in r["epochs"] if e[0] < early <= e[1])
                                   for r in recs]))
        gaps[g.name] = (final_gap, float(last_loss), early_gap)
        if out_dir is not None:
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", g.name)
            path = Path(out_dir) / f"regret_{safe}.png"
            plot_regret_figure({"robust": agg}, bound=(bt, bv), path=path,
                               title=f"{g.name}: robust learner, T={horizon}, {len(seeds)} seeds")
            figures.append(path.name)
    rows.append(Check("pseudo-regret <= computed bound on every seed",
                      f"{total_runs - violating}/{total_runs} runs below the bound at every "
                      f"checkpoint; max regret/bound for t >= T/100: {worst_ratio:.3f}", violating == 0))
    slope_txt = ", ".join(f"{k} {v:.3f}" if v is not None else f"{k} -" for k, v in slopes.items())
    rows.append(Check("log-log slope of regret vs T close to 1/2",
                      f"slopes (t >= T/100): {slope_txt}",
                      all(v is not None and 0.35 <= v <= 0.65 for v in slopes.values())))
    gap_txt = ", ".join(f"{k} {a:.2e} (at T/100 {c:.2e}; bound on the last epoch {b:.2e})"
                        for k, (a, b, c) in gaps.items())
    rows.append(Check("learner's scheme value converges to OPT",
                      f"OPT - U(final scheme), mean over seeds: {gap_txt}",
                      all(a <= b + 1e-12 and a < c for a, b, c in gaps.values())))
    return rows, figures


def format_table(checks) -> str:
    w1 = max(len(c.name) for c in checks)
    lines = [f"{'check':<{w1}}  {'result':<6}  figure", "-" * (w1 + 60)]
    for c in checks:
        lines.append(f"{c.name:<{w1}}  {'PASS' if c.passed else 'FAIL':<6}  {c.figure}")
    return "\n".join(lines)


def run_verification(out_dir="verify-report", *, n_games: int = 100, horizon: int = 100_000,
                     seeds: int = 5, delta: float = 0.05, seed: int = 0,
                     verbose: bool = True, executor="local", workers=None) -> list[Check]:
    """Run every check; write ``report.md``, ``results.json`` and plots to ``out_dir``. The
    regret runs are a sweep on ``executor`` (``local``, ``dask:local``, ...:
    :mod:`persuasion.online.executors`) with ``workers`` processes where it starts them."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    checks = []

    def emit(new):
        for c in new:
            checks.append(c)
            if verbose:
                print(f"[{'PASS' if c.passed else 'FAIL'}] {c.name}: {c.figure}", flush=True)

    emit(check_methods(rng, n_games))
    emit([check_robust_dual(rng, n_games)])
    emit([check_robust_obedience(rng, max(5, n_games // 5))])
    regret_rows, figures = check_regret(_fixed_games(rng), horizon, list(range(seeds)), delta, out,
                                        executor=executor, workers=workers)
    emit(regret_rows)
    seconds = time.perf_counter() - t0
    if out is not None:
        (out / "results.json").write_text(json.dumps(
            {"checks": [asdict(c) for c in checks], "n_games": n_games, "horizon": horizon,
             "seeds": seeds, "delta": delta, "seed": seed, "seconds": seconds}, indent=1))
        md = ["# persuasion verify", "",
              f"{n_games} random games, horizon {horizon}, {seeds} seeds, delta {delta}, "
              f"seed {seed}; {seconds:.1f} s.", "",
              "| check | result | figure |", "|---|---|---|"]
        md += [f"| {c.name} | {'PASS' if c.passed else 'FAIL'} | {c.figure} |" for c in checks]
        md += [""] + [f"![{f}]({f})" for f in figures]
        (out / "report.md").write_text("\n".join(md) + "\n")
    if verbose:
        print()
        print(format_table(checks))
        if out is not None:
            print(f"\nreport written to {out / 'report.md'}")
    return checks
