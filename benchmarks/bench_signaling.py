"""Benchmark: the signaling LP (``persuasion.solve(game, "signaling")``) against raw HiGHS
and against the same LP written in cvxpy.

For square random games (``n`` states, ``n`` actions; prior Dirichlet(1), utilities
uniform on [0, 1) or integers 0..10, from ``numpy.random.default_rng([seed, n, n])``)
this times, on the same game:

ours
    ``persuasion.solve(game, "signaling", check_unique=False)`` end to end: LP
    build, HiGHS, result extraction (the :class:`~persuasion.game.Game` itself is
    built outside the timer).
raw HiGHS
    The identical LP (:func:`persuasion.signaling_lp.build_signaling_lp`, cast to
    int32/float64) built once outside the timer; timed: ``highspy.Highs()``, the options
    that :mod:`persuasion.highs` uses (``solver``, 1 thread, output off), the array form
    of ``passModel``, ``run`` and reading the solution.
raw HiGHS + start basis
    The same, plus ``setBasis`` with the dual-feasible starting basis that ours uses
    (:func:`persuasion.signaling_lp.dual_feasible_basis`, rebuilt here outside the
    timer): for every state ``w`` the column ``x[w, s]`` of largest objective coefficient
    is basic, every obedience row's slack is basic, the consistency rows are at their
    bound, so the dual simplex starts in phase 2. Since ours starts from this basis,
    this is the like-for-like baseline ("the same options we use"); the cold start shows
    what the basis is worth.
cvxpy
    The model a competent user would write: ``x = Variable((n, m), nonneg=True)``,
    consistency ``sum(x, axis=1) == prior``, obedience
    ``(U[:, [a]] - U).T @ x[:, a] >= 0`` for every recommended action ``a``, solved with
    ``solver=cp.HIGHS``; timed: problem construction + ``solve`` (user-perceived time;
    cvxpy's own HiGHS settings).

Each measurement runs in a child process with a time limit (``--timeout``); a method
that times out at one size is skipped at the larger sizes, and a ratio against a
timed-out method is printed as a bound (``> 150``). ``--cold`` times ours with
``warm_start=False`` (HiGHS's own cold start, the solver before the start basis). The values of all methods
must agree to ``1e-6`` relative. Times are medians over ``--repeats`` runs on the same
game.

Usage::

    python benchmarks/bench_signaling.py
    python benchmarks/bench_signaling.py --sizes 10 25 50 100 --repeats 5 --json sig.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from timing import (Worker, fmt_ratio, fmt_seconds, machine_info, markdown_table,  # noqa: E402
                    median, random_game_data, write_json)

METHODS = ("ours", "raw", "raw_basis", "cvxpy")
LABELS = {"ours": "ours s", "raw": "raw HiGHS (cold start) s",
          "raw_basis": "raw HiGHS + start basis s", "cvxpy": "cvxpy s"}
REL_TOL = 1e-6


# ---------------------------------------------------------------- worker side

def _game(task, state):
    key = (task["n"], task["seed"], task["utilities"])
    if state.get("key") != key:
        from persuasion.game import Game

        for k in ("key", "data", "game", "raw"):
            state.pop(k, None)
        state["key"] = key
        prior, V, U = random_game_data(task["n"], task["n"], task["seed"], task["utilities"])
        state["data"] = (prior, V, U)
        state["game"] = Game(prior, V, U)
    return state


def _raw_inputs(state):
    """The LP arrays (and the start basis) for raw HiGHS, built once per game."""
    if "raw" not in state:
        import highspy

        from persuasion.highs import pass_model_args
        from persuasion.signaling_lp import action_profiles, build_signaling_lp

        g = state["game"]
        lp = build_signaling_lp(g.prior, g.sender_utility, g.receiver_utilities,
                                g.type_probabilities, action_profiles(g.n_actions, g.n_types))
        arrays = pass_model_args(lp)
        n = g.n_states
        best = np.argmax(np.asarray(lp.c).reshape(-1, n), axis=0)  # per state, best signal
        col_basic = np.zeros(lp.n_cols, dtype=bool)
        col_basic[best * n + np.arange(n)] = True
        row_basic = np.ones(lp.n_rows, dtype=bool)
        row_basic[:n] = False
        B, L = highspy.HighsBasisStatus.kBasic, highspy.HighsBasisStatus.kLower
        basis = highspy.HighsBasis()
        basis.col_status = [B if f else L for f in col_basic.tolist()]
        basis.row_status = [B if f else L for f in row_basic.tolist()]
        basis.valid = True
        basis.alien = False
        state["raw"] = {"arrays": arrays, "basis": basis, "n_variables": lp.n_cols,
                        "n_constraints": lp.n_rows, "nonzeros": lp.nnz}
    return state["raw"]


def _time_ours(task, state):
    import persuasion

    g = state["game"]
    kw = {} if task["solver"] == "simplex" else {"solver": task["solver"]}
    if task.get("cold"):
        kw["warm_start"] = False
    t0 = time.perf_counter()
    res = persuasion.solve(g, "signaling", check_unique=False, **kw)
    dt = time.perf_counter() - t0
    d = res.details
    return {"seconds": dt, "value": res.value, "n_variables": d["n_variables"],
            "n_constraints": d["n_constraints"], "nonzeros": d["nonzeros"],
            "seconds_build": d["seconds_build"], "seconds_solve": d["seconds_solve"]}


def _time_raw(task, state, with_basis: bool):
    import highspy

    raw = _raw_inputs(state)
    t0 = time.perf_counter()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("solver", task["solver"])
    if h.passModel(*raw["arrays"]) != highspy.HighsStatus.kOk:
        raise RuntimeError("passModel failed")
    if with_basis:
        h.setBasis(raw["basis"])
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"HiGHS: {h.modelStatusToString(h.getModelStatus())}")
    sol = h.getSolution()
    x = np.asarray(sol.col_value, dtype=float)
    value = float(h.getInfo().objective_function_value)
    dt = time.perf_counter() - t0
    info = h.getInfo()
    return {"seconds": dt, "value": value, "x_sum": float(x.sum()),
            "simplex_iterations": int(info.simplex_iteration_count),
            "n_variables": raw["n_variables"], "n_constraints": raw["n_constraints"],
            "nonzeros": raw["nonzeros"]}


def _time_cvxpy(task, state):
    import cvxpy as cp

    prior, V, U = state["data"]
    V = np.asarray(V, dtype=float)
    U = np.asarray(U, dtype=float)
    n, m = V.shape
    t0 = time.perf_counter()
    x = cp.Variable((n, m), nonneg=True)
    cons = [cp.sum(x, axis=1) == prior]
    cons += [(U[:, [a]] - U).T @ x[:, a] >= 0 for a in range(m)]
    prob = cp.Problem(cp.Maximize(cp.sum(cp.multiply(V, x))), cons)
    prob.solve(solver=cp.HIGHS)
    dt = time.perf_counter() - t0
    if prob.status != cp.OPTIMAL:
        raise RuntimeError(f"cvxpy status {prob.status}")
    return {"seconds": dt, "value": float(prob.value)}


def _warm_up():
    """Import everything and solve a tiny game with each method (outside any timer)."""
    tiny = {"n": 3, "seed": 0, "utilities": "uniform", "solver": "simplex"}
    s = {}
    _game(tiny, s)
    _time_ours(tiny, s)
    _time_raw(tiny, s, True)
    _time_cvxpy(tiny, s)


def measure(task, state):
    """Worker entry point: one timed run of ``task["method"]`` (or the warm-up)."""
    if task["method"] == "warmup":
        _warm_up()
        return {}
    _game(task, state)
    method = task["method"]
    if method == "ours":
        return _time_ours(task, state)
    if method == "raw":
        return _time_raw(task, state, with_basis=False)
    if method == "raw_basis":
        return _time_raw(task, state, with_basis=True)
    if method == "cvxpy":
        return _time_cvxpy(task, state)
    raise ValueError(method)


# ---------------------------------------------------------------- parent side

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 25, 50, 100, 200],
                   help="n for the n x n games (default: 10 25 50 100 200)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per method and size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--utilities", choices=("uniform", "integer"), default="uniform")
    p.add_argument("--solver", choices=("simplex", "ipm", "choose"), default="simplex",
                   help="HiGHS solver for ours and raw HiGHS (default: simplex, our default)")
    p.add_argument("--cold", action="store_true",
                   help="time ours with warm_start=False (no start basis)")
    p.add_argument("--cvxpy-max", type=int, default=100,
                   help="skip cvxpy above this n (default: 100)")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--timeout", type=float, default=100.0,
                   help="seconds per measurement; a method that times out is skipped at "
                        "larger sizes (default: 100)")
    p.add_argument("--no-repeat-above", type=float, default=30.0,
                   help="after a run longer than this (seconds) do not repeat it (default 30)")
    p.add_argument("--json", metavar="FILE", help="write the raw numbers to FILE")
    return p.parse_args(argv)


def run(args):
    results = []
    timed_out: dict[str, int] = {}
    worker = Worker("bench_signaling", "measure", warmup={"method": "warmup"})
    try:
        for n in args.sizes:
            row = {"n": n, "methods": {}}
            for method in args.methods:
                entry = {"status": "ok", "runs": []}
                if method == "cvxpy" and n > args.cvxpy_max:
                    entry["status"] = "skipped"
                    entry["reason"] = f"n > --cvxpy-max {args.cvxpy_max}"
                elif method in timed_out:
                    entry["status"] = "skipped"
                    entry["reason"] = f"timed out at n={timed_out[method]}"
                else:
                    for _ in range(args.repeats):
                        task = {"method": method, "n": n, "seed": args.seed,
                                "utilities": args.utilities, "solver": args.solver,
                                "cold": args.cold}
                        kind, out = worker.run(task, args.timeout)
                        if kind == "ok":
                            entry["runs"].append(out)
                            if out["seconds"] > args.no_repeat_above:
                                break
                            continue
                        entry["status"] = kind
                        if kind == "timeout":
                            entry["timeout_s"] = args.timeout
                            timed_out[method] = n
                        else:
                            entry["error"] = out
                        break
                    if entry["runs"] and entry["status"] != "ok":
                        entry["status"] = "ok"  # a later repeat failed; keep the ones that ran
                if entry["runs"]:
                    entry["median_s"] = median([r["seconds"] for r in entry["runs"]])
                    entry["value"] = entry["runs"][0]["value"]
                    for k in ("n_variables", "n_constraints", "nonzeros"):
                        if k in entry["runs"][0]:
                            row[k] = entry["runs"][0][k]
                row["methods"][method] = entry
                print(f"# n={n} {method}: {fmt_seconds(entry, args.timeout)}", file=sys.stderr,
                      flush=True)
            if "n_variables" not in row:
                row.update(n_variables=n * n, n_constraints=n + n * (n - 1),
                           nonzeros=n * n * (n - 1) + n * n)  # nominal sizes
            values = {m: e["value"] for m, e in row["methods"].items() if "value" in e}
            if len(values) >= 2:
                ref = next(iter(values.values()))
                rel = max(abs(v - ref) / max(1.0, abs(ref)) for v in values.values())
                row["max_rel_diff"] = rel
                row["agree"] = rel <= REL_TOL
            results.append(row)
    finally:
        worker.close()
    return results


def _timed_out(entry) -> bool:
    return entry.get("status") == "timeout" or entry.get("reason", "").startswith("timed out")


def _ratio(row, num, den, args) -> str:
    """num/den from the medians; a bound when one side timed out (time grows with n)."""
    e_num, e_den = row["methods"].get(num), row["methods"].get(den)
    if e_num is None or e_den is None:
        return "-"
    a, b = e_num.get("median_s"), e_den.get("median_s")
    if a is not None and b is not None:
        return fmt_ratio(a, b)
    if b is not None and _timed_out(e_num):
        return f"> {args.timeout / b:.0f}"
    if a is not None and _timed_out(e_den):
        return f"< {a / args.timeout:.2g}"
    return "-"


def _cell(entry, args) -> str:
    text = fmt_seconds(entry, args.timeout)
    k = len(entry.get("runs", []))
    if entry.get("status") == "ok" and k < args.repeats:
        text += f" ({k} run{'s' if k > 1 else ''})"
    return text


def table(results, args) -> str:
    header = ["n", "variables", "constraints", "nonzeros"]
    header += [LABELS[m] for m in args.methods]
    header += ["ours/raw", "ours/raw+basis", "cvxpy/ours", "values agree"]
    rows = []
    for r in results:
        agree = "- (one value)" if "agree" not in r else (
            f"yes ({r['max_rel_diff']:.1e})" if r["agree"] else f"NO ({r['max_rel_diff']:.1e})")
        rows.append([r["n"], r["n_variables"], r["n_constraints"], r["nonzeros"]]
                    + [_cell(r["methods"][m], args) for m in args.methods]
                    + [_ratio(r, "ours", "raw", args), _ratio(r, "ours", "raw_basis", args),
                       _ratio(r, "cvxpy", "ours", args), agree])
    return markdown_table(header, rows)


def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    results = run(args)
    wall = time.perf_counter() - t0
    print(f"Signaling LP, n x n random games ({args.utilities} utilities, seed {args.seed}), "
          f"median of {args.repeats} runs, HiGHS solver={args.solver!r}"
          f"{', ours with warm_start=False' if args.cold else ''}, "
          f"timeout {args.timeout:g} s per run\n")
    print(table(results, args))
    print(f"\nTotal benchmark wall time: {wall:.1f} s")
    bad = [r["n"] for r in results if r.get("agree") is False]
    if bad:
        print(f"\nWARNING: the values disagree (> {REL_TOL:g} relative) at n = {bad}")
    if args.json:
        write_json(args.json, {"benchmark": "signaling", "args": vars(args),
                               "machine": machine_info(), "wall_seconds": wall,
                               "results": results})
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
