"""Cost of grading HumanEval outside the graded program: the median seconds per problem of
the old self-reporting grading and of :meth:`HumanEvalTask.grade`, on the canonical solutions.

*Old*: a copy of the grading before issue 12 (one run, in the weak audit-hook sandbox that
was then the only one, of the prompt, the code, the dataset's ``check`` and a printed token;
correct iff the program exits 0 and prints the token). *New*: ``HumanEvalTask.grade`` in the
kernel sandbox (bubblewrap + seccomp; one run on the fast path, two on the slow path): the
ratio is the whole cost of issue 12's change to grading. Both grade the same ``--n`` problems (HumanEval/0, 1, ...)
in the same run, alternating which goes first per problem, ``--repeat`` times each (the
per-problem time is the median of the repeats). Printed as one JSON object (also written to
``--out`` when given): both medians, their ratio, the medians per path, totals and how many
canonical solutions each grading accepted.

Run: ``python benchmarks/bench_humaneval_grading.py`` (``--n 20`` for a quick look).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def old_grade(task, problem, response) -> tuple[bool, str]:
    """The grading as it was before the fix (kept here for the comparison only: the graded
    program reports its own outcome, which it can fake)."""
    from llm_bridge.errors import SandboxError
    from llm_bridge.sandbox import run_python

    token = "llm_bridge-done-" + secrets.token_hex(8)
    code, program = task.program(problem, response, token)
    if not code.strip():
        return False, "no code found"
    for _ in range(2):
        with warnings.catch_warnings():  # the weak mode's warning
            warnings.simplefilter("ignore", RuntimeWarning)
            result = run_python(program, timeout_s=task.timeout_s, memory_mb=task.memory_mb,
                                isolation="weak")
        if result.status != "error":
            break
    else:
        raise SandboxError(f"grading {problem.uid}: the sandbox failed twice")
    correct = result.status == "passed" and token in result.stdout
    return correct, result.status


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--n", type=int, default=164, help="problems HumanEval/0 .. n-1 (1-164)")
    ap.add_argument("--repeat", type=int, default=1, help="gradings per problem and method")
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
    args = ap.parse_args(argv)
    if not 1 <= args.n <= 164:
        ap.error(f"--n: expected 1 to 164, got {args.n}")
    if args.repeat < 1:
        ap.error(f"--repeat: expected at least 1, got {args.repeat}")

    from llm_bridge.tasks import HumanEvalTask
    from llm_bridge.tasks.humaneval_grading import parse_tests

    task = HumanEvalTask()
    old_s, new_s, fast_path = [], [], []
    old_ok = new_ok = 0
    for i in range(args.n):
        p = task.problem_by_uid(f"HumanEval/{i}")
        response = f"```python\n{p.question}{p.answer}\n```"
        fast_path.append(parse_tests(p.entry["test"], p.metadata["entry_point"]).fast)
        times = {"old": [], "new": []}
        verdict = {}
        for r in range(args.repeat):
            order = ("old", "new") if (i + r) % 2 == 0 else ("new", "old")
            for method in order:
                start = time.perf_counter()
                if method == "old":
                    verdict[method] = old_grade(task, p, response)[0]
                else:
                    verdict[method] = task.grade(p, response).correct
                times[method].append(time.perf_counter() - start)
        old_s.append(statistics.median(times["old"]))
        new_s.append(statistics.median(times["new"]))
        old_ok += verdict["old"]
        new_ok += verdict["new"]

    def med(xs):
        return round(statistics.median(xs), 4) if xs else None

    old_median, new_median = statistics.median(old_s), statistics.median(new_s)
    out = {
        "n": args.n, "repeat": args.repeat,
        "old_median_s": round(old_median, 4), "new_median_s": round(new_median, 4),
        "ratio_new_over_old": round(new_median / old_median, 3),
        "median_per_problem_ratio": round(statistics.median(
            n / o for n, o in zip(new_s, old_s)), 3),
        "fast_path": {"problems": sum(fast_path),
                      "old_median_s": med([o for o, f in zip(old_s, fast_path) if f]),
                      "new_median_s": med([n for n, f in zip(new_s, fast_path) if f])},
        "slow_path": {"problems": len(fast_path) - sum(fast_path),
                      "old_median_s": med([o for o, f in zip(old_s, fast_path) if not f]),
                      "new_median_s": med([n for n, f in zip(new_s, fast_path) if not f])},
        "old_total_s": round(sum(old_s), 2), "new_total_s": round(sum(new_s), 2),
        "old_correct": old_ok, "new_correct": new_ok,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "loadavg": [round(x, 2) for x in os.getloadavg()]},
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
