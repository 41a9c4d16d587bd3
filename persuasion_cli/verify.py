"""``persuasion verify``: the theory checks of :mod:`theory.verify` (solver agreement, robust
LP, regret bound, rate) with a report folder; exit 1 when a check fails."""

from __future__ import annotations

import json
import os
from dataclasses import asdict

from persuasion.errors import GameValidationError
from theory.verify import run_verification

from .exits import EXIT_CHECK_FAILED
from .regret import check_executor_options

__all__ = ["add_verify_command", "verify_command"]


def add_verify_command(sub) -> None:
    """Add ``verify`` to ``persuasion``'s subparsers."""
    v = sub.add_parser("verify", help="run the theory checks (solver agreement, robust LP, "
                                      "regret bound, rate) and write a report")
    v.add_argument("--out", default="verify-report", help="report folder (default verify-report)")
    v.add_argument("--games", type=int, default=100, help="random games per check (default 100)")
    v.add_argument("--horizon", type=int, default=100000, help="rounds per run (default 1e5; the slope check is "
                                                       "asymptotic and needs T >= 1e4)")
    v.add_argument("--seeds", type=int, default=5, help="seeds per fixed game (default 5)")
    v.add_argument("--delta", type=float, default=0.05,
                   help="robust learner's failure probability (default 0.05)")
    v.add_argument("--seed", type=int, default=0, help="seed of the random games (default 0)")
    v.add_argument("--executor", default="local", metavar="SPEC",
                   help="where the regret runs go: local, dask:local, dask:tcp://HOST:PORT, ray:local or "
                        "ray:ADDRESS (as for persuasion regret; default local)")
    v.add_argument("--workers", type=int, default=None,
                   help="worker processes of local / dask:local / ray:local (default: one per core)")
    v.add_argument("--json", action="store_true",
                   help="print one JSON object (the checks) instead of the table")
    v.set_defaults(func=verify_command)


def verify_command(args) -> int:
    """Run ``persuasion verify``; returns 0 when every check passes, else 1."""
    for name in ("games", "horizon", "seeds"):
        if getattr(args, name) < 1:
            raise GameValidationError(f"--{name}", "must be a positive integer")
    if not 0 < args.delta < 1:
        raise GameValidationError("--delta", "must be in (0, 1)")
    check_executor_options(args)  # before any check
    checks = run_verification(args.out, n_games=args.games, horizon=args.horizon,
                              seeds=args.seeds, delta=args.delta, seed=args.seed,
                              verbose=not args.json, executor=args.executor,
                              workers=args.workers)
    passed = all(c.passed for c in checks)
    if args.json:
        print(json.dumps({"passed": passed, "checks": [asdict(c) for c in checks],
                          "report": str(os.path.join(args.out, "report.md"))}))
    return 0 if passed else EXIT_CHECK_FAILED
