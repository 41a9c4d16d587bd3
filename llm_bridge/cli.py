"""Command-line entry points of the LLM bridge, mounted under ``persuasion``:

* ``persuasion bridge evaluate`` — the three-condition evaluation (:mod:`llm_bridge.evaluate`);
* ``persuasion bridge serve`` — an OpenAI-compatible server over a local model
  (:mod:`llm_bridge.server`);
* ``persuasion train advisor`` and ``persuasion cyclealign`` — the training loops
  (:mod:`llm_bridge.training`), added when that package is importable.

Only argparse is imported here; torch and transformers load when a command runs.
Exit codes: 0 success, 2 invalid input or configuration (one line naming the field),
6 a receiver failed after its retries, or an API receiver's endpoint does not answer (checked
with one TCP connection before any model is loaded; the line names the option and the URL).
With ``--json`` stdout holds exactly one JSON object; progress bars and logs go to stderr.
"""

from __future__ import annotations

import json
import os
import sys

from .argtypes import DefaultsHelpFormatter
from .argtypes import positive_int as _positive

EXIT_INVALID = 2
EXIT_RECEIVER = 6


def add_commands(sub) -> None:
    """Add ``bridge`` (and the training commands) to ``persuasion``'s subparsers."""
    b = sub.add_parser("bridge", help="LLM bridge: hints from a small Advisor for real Receiver LLMs")
    bsub = b.add_subparsers(dest="bridge_command", required=True, parser_class=type(b))
    e = bsub.add_parser(
        "evaluate", help="the three-condition evaluation (none / prior / posterior hints)",
        description="Calibrate the abstract game on the Receiver, solve it exactly, and compare the "
                    "Receiver's accuracy with no hint, a hint for an item drawn from the prior, and the "
                    "hint the optimal scheme sends in the problem's state.",
        formatter_class=DefaultsHelpFormatter)
    e.add_argument("--task", default="math-mix",
                   help="humaneval, a reasoning-gym generator (e.g. chain_sum), a comma list, or math-mix")
    e.add_argument("--n", type=_positive("--n"), default=60, help="test problems")
    e.add_argument("--seed", type=int, default=0,
                   help="seed of the splits, the state fit, the signals and the online learner")
    e.add_argument("--advisor", default="smollm2-135m", help="model name or folder (e.g. gpt2 folder)")
    e.add_argument("--receiver", default="smollm2-135m",
                   help="model name or folder, or openai:MODEL[@BASE_URL] (key from $OPENAI_API_KEY)")
    e.add_argument("--n-calibration", type=_positive("--n-calibration"), default=24,
                   help="calibration problems (each answered under every action's hint)")
    e.add_argument("--n-train", type=_positive("--n-train"), default=None,
                   help="problems for the prior and the state fit (default 60 math / the rest of HumanEval)")
    e.add_argument("--states", default="auto", help="auto, metadata:FIELD or cluster:K")
    e.add_argument("--effort-cost", type=float, default=0.2,
                   help="the Receiver's cost per unit of answer length (fraction of --max-new-tokens)")
    e.add_argument("--scheme", choices=("optimal", "learned"), default="optimal",
                   help="signals from the exact optimal scheme, or from the online learner's final scheme")
    e.add_argument("--game-from", default=None,
                   help="a previous run's summary.json (or folder): reuse its calibrated game and scheme")
    e.add_argument("--horizon", type=_positive("--horizon"), default=10_000,
                   help="rounds of the online learner on the estimated game")
    e.add_argument("--max-new-tokens", type=_positive("--max-new-tokens"), default=160,
                   help="longest Receiver answer, in tokens")
    e.add_argument("--hint-tokens", type=_positive("--hint-tokens"), default=48,
                   help="longest Advisor hint, in tokens")
    e.add_argument("--hint-format", choices=("instruction+advisor", "advisor"), default="instruction+advisor",
                   help="the hint: the action's instruction followed by the Advisor's text, or the "
                        "Advisor's text alone")
    e.add_argument("--batch-size", type=_positive("--batch-size"), default=32,
                   help="prompts per generation batch")
    e.add_argument("--device", default="cpu", help="torch device of local models: cpu, cuda, cuda:1, ...")
    e.add_argument("--threads", type=_positive("--threads"), default=None,
                   help="torch CPU threads (default: torch's choice; use 1 when other jobs share the cores)")
    e.add_argument("--out", default=None, help="folder: records.jsonl, calibration.jsonl, summary.json, "
                                                "conditions.png, cache.sqlite; a rerun resumes")
    e.add_argument("--cache", default=None, help="SQLite cache file (default <out>/cache.sqlite)")
    e.add_argument("--json", action="store_true",
                   help="print one JSON object, the only output on stdout (progress and logs on stderr)")
    e.add_argument("--no-progress", action="store_true", help="no progress bars (on stderr)")
    e.set_defaults(func=_evaluate_command)

    from .server import add_serve_command

    add_serve_command(bsub)

    try:
        from .training.cli import add_training_commands
    except ImportError:  # pragma: no cover - training package not present
        return
    add_training_commands(sub)


def _print_table(summary: dict) -> None:
    from .explain import persuasion_verdict

    print(f"task {summary['task']}  n={summary['n']}  advisor {summary['advisor']}  receiver {summary['receiver']}")
    print(f"states {summary['states']['names']}  prior {summary['states']['prior']}")
    g = summary["game"]
    print(f"optimal scheme value {g['optimal_value']:.4f} (exact {g['optimal_value_exact']}, certified "
          f"{g['certified']}); full revelation {g['full_revelation_value']:.4f}; no information "
          f"{g['no_information_value']:.4f}")
    print(persuasion_verdict(summary))
    for c, s in summary["conditions"].items():
        print(f"  {c:<10} accuracy {s['accuracy']:.3f}  95% CI [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]  "
              f"({s['correct']}/{s['n']})")
    print(f"lift vs none {summary['lift_vs_none']:+.3f} (p = {summary['p_value']:.3g}); "
          f"lift vs prior {summary['lift_vs_prior']:+.3f} (p = {summary['p_value_vs_prior']:.3g}); "
          f"{summary['test']}")


def _evaluate_command(args) -> int:
    from .console import prints_to_stderr
    from .evaluate import EvalConfig, run_evaluation
    from .receivers import check_receiver_specs

    check_receiver_specs([("--receiver", args.receiver)])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    cfg = EvalConfig(task=args.task, n=args.n, seed=args.seed, advisor=args.advisor, receiver=args.receiver,
                     n_calibration=args.n_calibration, n_train=args.n_train, states=args.states,
                     effort_cost=args.effort_cost, scheme=args.scheme, horizon=args.horizon,
                     max_new_tokens=args.max_new_tokens, hint_tokens=args.hint_tokens,
                     hint_format=args.hint_format, batch_size=args.batch_size, device=args.device,
                     out=args.out, cache=args.cache, game_from=args.game_from)
    with prints_to_stderr():  # stdout holds the result only
        summary = run_evaluation(cfg, progress=not args.no_progress)
    if args.json:
        slim = {k: v for k, v in summary.items() if k not in ("calibration",)}
        print(json.dumps(slim))
    else:
        _print_table(summary)
        if args.out:
            print(f"records, summary and plot in {args.out}")
    return 0


def run(args) -> int:
    """Dispatch a bridge/training command; errors become one line and an exit code."""
    from .errors import BridgeError, ReceiverError

    try:
        return args.func(args)
    except ReceiverError as exc:
        print(f"persuasion: error: {exc}", file=sys.stderr)
        return EXIT_RECEIVER
    except (BridgeError, ValueError) as exc:
        print(f"persuasion: error: {exc}", file=sys.stderr)
        return EXIT_INVALID
