"""Benchmark: how large a signaling LP this machine can solve, and what it costs in memory.

For each game shape ``n x m`` (``n`` states, ``m`` actions, one receiver) this builds a
random :class:`persuasion.Game` (prior Dirichlet(1), sender and receiver utilities
uniform on [0, 1), all drawn from ``numpy.random.default_rng([seed, n, m])``) and runs
ONE ``persuasion.signaling_lp.solve_signaling_lp(game, check_unique=False)`` in a fresh
child process, so that the peak resident memory is that of this one solve. It records:

n, m, variables, rows, nonzeros
    the LP's size: ``n m`` variables, ``n + m (m - 1)`` rows and about
    ``n m (m - 1) + n m`` non-zeros (computed from the formula before the solve, the
    exact counts read back from the result when it solves).
peak_rss_mib
    the child's peak resident set size (``ru_maxrss`` of that child, from ``os.wait4``),
    including the Python interpreter, numpy and highspy (about 90 MiB at start).
build_rss_mib
    the child's ``VmHWM`` (peak RSS so far) right after ``build_signaling_lp``, i.e. the
    peak of the numpy build alone; measured by a second, identical build before the
    solve (the solve itself builds again).
seconds_build, seconds_solve
    ``build_signaling_lp`` (from ``result.details``) and ``solve_lp`` (HiGHS, including
    ``passModel`` and ``setBasis``); ``seconds_wall`` is the whole child.
outcome
    ``optimal``, or the text of the exception (``SolverError`` carries HiGHS's model
    status string, e.g. "Memory limit reached"), ``timeout`` (the child was killed
    after ``--timeout`` s) or ``killed by signal N`` (e.g. the kernel's OOM killer).

Each finished row is appended at once as one JSON line to ``--out`` (an interrupted
run loses nothing) and a rerun skips rows already there (same n, m, seed, solver,
warm start, HiGHS options). ``--highs-option KEY=VALUE`` sets extra HiGHS options (by
wrapping ``persuasion.highs._highs`` in the child), ``--highs-log`` turns HiGHS's log
on (it goes to the child's stderr, saved next to ``--out``). At the end a markdown table
of all rows in ``--out`` for the requested shapes is printed, and ``--fit`` fits
``peak bytes ~ a nonzeros + b rows + c variables + d`` by least squares on the optimal
rows.

Usage::

    python benchmarks/bench_size.py                      # default shapes
    python benchmarks/bench_size.py --shapes 400x400 --timeout 900 --highs-log
    python benchmarks/bench_size.py --shapes 300x300 --solver ipm
    python benchmarks/bench_size.py --fit --no-run      # table + fit of what is there
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

DEFAULT_SHAPES = ["100x100", "200x200", "300x300", "400x400",
                  "50x50", "150x150", "250x250",
                  "1000x100", "2000x50", "100x300", "50x400", "400x100", "100x200"]
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "results", "bench_size.jsonl")
MIB = 1024 * 1024


def lp_size(n: int, m: int) -> dict:
    """Size of the one-receiver signaling LP (dense random utilities: no zero entries)."""
    return {"variables": n * m, "rows": n + m * (m - 1), "nonzeros": n * m * (m - 1) + n * m}


def random_game(n: int, m: int, seed: int):
    """The benchmark game: Dirichlet(1) prior, V and U uniform on [0, 1)."""
    from persuasion import Game

    rng = np.random.default_rng([seed, n, m])
    prior = rng.dirichlet(np.ones(n))
    V = rng.random((n, m))
    U = rng.random((n, m))
    return Game(prior, V, U)


def _vm_hwm_mib(field: str = "VmHWM") -> float:
    """This process's peak resident set size so far (VmHWM; VmPeak: peak virtual
    size, what RLIMIT_AS caps), MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def code_hash() -> str:
    """Short sha256 of the ``persuasion`` package's sources (``persuasion/**/*.py``): which
    version of the solver a row measured (the package may change between runs)."""
    import hashlib

    root = os.path.join(os.path.dirname(HERE), "persuasion")
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                h.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as fh:
                    h.update(fh.read() + b"\0")
    return h.hexdigest()[:12]


def _parse_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def child(task: dict) -> dict:
    """Run in the child process: build the game, one solve; return the row's fields."""
    import persuasion.highs as ph
    from persuasion.signaling_lp import action_profiles, build_signaling_lp, solve_signaling_lp

    import persuasion

    out = {"rss_start_mib": _vm_hwm_mib(), "code_hash_child": code_hash(),
           "persuasion_file": persuasion.__file__}
    options = task["highs_options"]
    if options or task["highs_log"]:
        import highspy

        plain = ph._highs

        def _highs(threads: int = 1):
            h = plain(threads)
            if task["highs_log"]:
                h.setOptionValue("output_flag", True)
                h.setOptionValue("log_to_console", True)
            for key, value in options.items():
                if h.setOptionValue(key, value) != highspy.HighsStatus.kOk:
                    raise ValueError(f"HiGHS rejected option {key}={value!r}")
            return h

        ph._highs = _highs
    n, m = task["n"], task["m"]
    game = random_game(n, m, task["seed"])
    out["rss_game_mib"] = _vm_hwm_mib()
    if task["measure_build"]:
        # the numpy build alone: its peak, then freed before the real solve
        lp = build_signaling_lp(game.prior, game.sender_utility, game.receiver_utilities,
                                game.type_probabilities, action_profiles(m, 1))
        out["build_rss_mib"] = _vm_hwm_mib()
        del lp
    t0 = time.perf_counter()
    try:
        res = solve_signaling_lp(game, check_unique=task.get("check_unique", False),
                                 solver=task["solver"],
                                 warm_start=task["warm_start"])
    except Exception as exc:  # noqa: BLE001 -- the outcome is the point
        out["outcome"] = f"{type(exc).__name__}: {exc}"
        out["seconds_until_failure"] = time.perf_counter() - t0
        out["vm_peak_mib"] = _vm_hwm_mib("VmPeak")
        return out
    d = res.details
    out.update(outcome="optimal", value=float(res.value), variables=int(d["n_variables"]),
               rows=int(d["n_constraints"]), nonzeros=int(d["nonzeros"]),
               seconds_build=d["seconds_build"], seconds_solve=d["seconds_solve"],
               vm_peak_mib=_vm_hwm_mib("VmPeak"))
    if "verification" in d:  # newer solver versions: how the float answer was checked
        out["verification"] = json.loads(json.dumps(d["verification"], default=str))
    return out


def row_key(row: dict) -> tuple:
    return (row["n"], row["m"], row["seed"], row["solver"], row["warm_start"],
            json.dumps(row["highs_options"], sort_keys=True), row.get("check_unique", False),
            row.get("rlimit_as_mib"), row.get("code_hash"))


def run_one(task: dict, timeout: float, log_path: str | None) -> dict:
    """One solve in a fresh child; peak RSS from os.wait4's rusage of that child."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", delete=False) as fh:
        result_path = fh.name
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(task), result_path]
    stderr = open(log_path, "w") if log_path else subprocess.DEVNULL
    t0 = time.perf_counter()
    limit = task.get("rlimit_as_mib")

    def _limit():  # in the child, before exec: cap its address space (RLIMIT_AS)
        if limit:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (limit * MIB, limit * MIB))

    proc = subprocess.Popen(cmd, stdout=stderr, stderr=stderr, preexec_fn=_limit,
                            cwd=os.path.dirname(HERE), start_new_session=True)
    outcome = None
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            outcome = "timeout"
            break
        time.sleep(0.2)
    proc.returncode = 0  # reaped by wait4
    wall = time.perf_counter() - t0
    if log_path:
        stderr.close()
    row = dict(task)
    row.update(lp_size(task["n"], task["m"]))
    row["peak_rss_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
    row["seconds_wall"] = wall
    try:
        with open(result_path) as fh:
            row.update(json.load(fh))
    except (OSError, ValueError):
        pass
    os.unlink(result_path)
    if outcome is None and "outcome" not in row:
        if os.WIFSIGNALED(status):
            outcome = f"killed by signal {os.WTERMSIG(status)}"
        else:
            outcome = f"child exited with status {os.WEXITSTATUS(status)} and no result"
    if outcome is not None:
        row["outcome"] = outcome
    return row


def load_rows(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    rows = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def _fmt(x, digits=3):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:.0f}"
    return str(x)


def markdown_table(rows: list[dict]) -> str:
    head = ("| n | m | variables | rows | nonzeros | peak RSS MiB | build-only peak MiB "
            "| build s | solve s | wall s | config | code | outcome |")
    lines = [head, "|" + "---:|" * 11 + "---|---|"]
    for r in rows:
        cfg = r["solver"] + ("" if r["warm_start"] else ", cold")
        cfg += ", check_unique" if r.get("check_unique") else ""
        cfg += f", RLIMIT_AS {r['rlimit_as_mib']} MiB" if r.get("rlimit_as_mib") else ""
        if r["highs_options"]:
            cfg += ", " + ", ".join(f"{k}={v}" for k, v in r["highs_options"].items())
        lines.append("| " + " | ".join([
            str(r["n"]), str(r["m"]), str(r["variables"]), str(r["rows"]), str(r["nonzeros"]),
            f"{r['peak_rss_mib']:.0f}", _fmt(r.get("build_rss_mib"), 4),
            _fmt(r.get("seconds_build")), _fmt(r.get("seconds_solve")),
            _fmt(r.get("seconds_wall")), cfg, str(r.get("code_hash"))[:7],
            r["outcome"].replace("|", "/")]) + " |")
    return "\n".join(lines)


def fit_memory(rows: list[dict], field: str = "peak_rss_mib", max_fit_nnz: float = np.inf):
    """Least squares ``peak bytes ~ a nnz + b rows + c vars + d`` on the optimal rows.

    ``field``: ``peak_rss_mib`` (resident) or ``vm_peak_mib`` (virtual, what RLIMIT_AS /
    ``ulimit -v`` / strict overcommit limit). Relative weighting: each row is divided by
    its measured peak, so small and large games count alike. Rows with more than
    ``max_fit_nnz`` non-zeros are left out of the fit (a hold-out test) but predicted.

    Returns (coefficients, max relative error on the fitted rows, max relative error on
    the held-out rows or None, per-row (row, prediction, relative error, held out)).
    """
    ok = [r for r in rows if r["outcome"] == "optimal" and r.get(field)]
    X = np.array([[r["nonzeros"], r["rows"], r["variables"], 1.0] for r in ok], dtype=float)
    y = np.array([r[field] * MIB for r in ok])
    fit = X[:, 0] <= max_fit_nnz
    w = 1.0 / y[fit]
    coef, *_ = np.linalg.lstsq(X[fit] * w[:, None], y[fit] * w, rcond=None)
    pred = X @ coef
    rel = (pred - y) / y
    err_fit = float(np.max(np.abs(rel[fit])))
    err_out = float(np.max(np.abs(rel[~fit]))) if (~fit).any() else None
    return coef, err_fit, err_out, list(zip(ok, pred, rel, ~fit))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shapes", nargs="+", default=DEFAULT_SHAPES,
                   help="game shapes NxM (n states x m actions); default: %(default)s")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=900, help="seconds per solve")
    p.add_argument("--solver", default="simplex", choices=["simplex", "ipm", "choose", "pdlp"],
                   help="solve_signaling_lp's solver= (HiGHS's solver option)")
    p.add_argument("--cold", action="store_true", help="warm_start=False")
    p.add_argument("--check-unique", action="store_true",
                   help="check_unique=True (the CLI's default; one more LP when degenerate)")
    p.add_argument("--rlimit-as-mib", type=int, default=None,
                   help="cap the child's address space (RLIMIT_AS), to simulate a smaller "
                        "machine or container")
    p.add_argument("--highs-option", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--highs-log", action="store_true",
                   help="HiGHS log on; saved as OUT-NxM-....log next to --out")
    p.add_argument("--no-build-measure", action="store_true",
                   help="skip the separate build-only peak (saves one build)")
    p.add_argument("--out", default=DEFAULT_OUT, help="JSON lines file (appended)")
    p.add_argument("--no-run", action="store_true", help="only print the table / fit")
    p.add_argument("--code", default=None,
                   help="with --no-run: show rows of this code hash (default: the current "
                        "sources' hash; rows are keyed by it, so changed sources are re-measured)")
    p.add_argument("--fit", action="store_true", help="fit the memory model")
    p.add_argument("--fit-max-nnz", type=float, default=np.inf,
                   help="fit only rows with at most this many non-zeros; predict the rest")
    p.add_argument("--force", action="store_true", help="rerun rows already in --out")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.child:
        task = json.loads(args.child[0])
        res = child(task)
        with open(args.child[1], "w") as fh:
            json.dump(res, fh)
        return 0

    options = {}
    for item in args.highs_option:
        key, _, value = item.partition("=")
        if key == "solver":
            p.error("use --solver (solve_lp sets HiGHS's solver option itself)")
        options[key] = _parse_value(value)
    shapes = [tuple(int(v) for v in s.lower().split("x")) for s in args.shapes]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    done = {row_key(r) for r in load_rows(args.out)}
    wanted = []
    for n, m in shapes:
        code = args.code if (args.no_run and args.code) else code_hash()
        task = {"n": n, "m": m, "seed": args.seed, "solver": args.solver, "code_hash": code,
                "warm_start": not args.cold, "highs_options": options,
                "highs_log": args.highs_log, "measure_build": not args.no_build_measure,
                "check_unique": args.check_unique, "rlimit_as_mib": args.rlimit_as_mib}
        wanted.append(row_key(task))
        if args.no_run or (row_key(task) in done and not args.force):
            continue
        log = None
        if args.highs_log:
            tag = "-".join(f"{k}{v}" for k, v in options.items())
            tag += "-cold" if args.cold else ""
            tag += "-unique" if args.check_unique else ""
            tag += f"-as{args.rlimit_as_mib}" if args.rlimit_as_mib else ""
            log = os.path.splitext(args.out)[0] + f"-{n}x{m}-{args.solver}{tag}.log"
        print(f"{n}x{m} ...", file=sys.stderr, flush=True)
        row = run_one(task, args.timeout, log)
        with open(args.out, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"{n}x{m}: {row['outcome']}, peak {row['peak_rss_mib']:.0f} MiB, "
              f"{row['seconds_wall']:.1f} s", file=sys.stderr, flush=True)
    latest = {}  # the latest row of each key (a --force rerun replaces the earlier one)
    for r in load_rows(args.out):
        latest[row_key(r)] = r
    rows = [latest[k] for k in dict.fromkeys(wanted) if k in latest]
    print(markdown_table(rows))
    if args.fit:
        for field in ("peak_rss_mib", "vm_peak_mib"):
            ok = [r for r in rows if r["outcome"] == "optimal" and r.get(field)]
            if len(ok) < 5:
                print(f"\n({field}: the fit needs at least 5 optimal rows)")
                continue
            coef, err, err_out, per_row = fit_memory(rows, field, args.fit_max_nnz)
            a, b, c, d = coef
            n_fit = sum(1 for *_, held in per_row if not held)
            print(f"\n{field}: peak bytes ~ {a:.4g} * nonzeros + {b:.4g} * rows + "
                  f"{c:.4g} * variables + {d:.4g}   (max relative error {err:.1%} on "
                  f"{n_fit} fitted rows" + ("" if err_out is None else
                                            f", {err_out:.1%} on the held-out rows") + ")")
            for r, pred, rel, held in per_row:
                print(f"  {r['n']}x{r['m']}: measured {r[field]:.0f} MiB, predicted "
                      f"{pred / MIB:.0f} MiB ({rel:+.1%}){'  [held out]' if held else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
