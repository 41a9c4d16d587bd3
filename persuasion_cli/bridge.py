"""``persuasion bridge``: the LLM bridge's commands.

* ``persuasion bridge evaluate`` — the three-condition evaluation (:mod:`llm_bridge.evaluate`);
* ``persuasion bridge serve`` — an OpenAI-compatible server over a local model
  (:mod:`llm_bridge.server`).

The bridge's modules import no torch at module level; torch and transformers load when a
command runs. Exit codes (:mod:`persuasion_cli.exits`): 0 success, 2 invalid input or
configuration (one line naming the field), 6 a receiver failed after its retries, or an API
receiver's endpoint does not answer (checked with one TCP connection before any model is
loaded; the line names the option and the URL). With ``--json`` stdout holds exactly one JSON
object; progress bars and logs go to stderr.
"""

from __future__ import annotations

import json
import os

from llm_bridge.ct2 import load_on_engine
from llm_bridge.evaluate import EvalConfig, run_evaluation
from llm_bridge.explain import persuasion_verdict
from llm_bridge.receivers import check_receiver_specs
from llm_bridge.server import DEFAULT_MAX_TOKENS, check_host, serve
from llm_bridge.training.advisor_training import load_trained_advisor

from .argtypes import (DefaultsHelpFormatter, add_api_options, add_engine_options,
                       add_job_output_options, add_sandbox_option)
from .argtypes import positive_int as _positive
from .console import prints_to_stderr, set_torch_threads

__all__ = ["add_bridge_commands", "evaluate_command", "serve_command"]


def add_bridge_commands(sub) -> None:
    """Add ``bridge`` (``evaluate`` and ``serve``) to ``persuasion``'s subparsers."""
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
    e.add_argument("--advisor-adapter", default=None, metavar="CHECKPOINT",
                   help="a trained Advisor: the LoRA checkpoint folder of `persuasion train advisor` "
                        "(RUN/checkpoints/epoch-NNN), attached to --advisor")
    e.add_argument("--receiver", default="smollm2-135m",
                   help="model name or folder, or openai:MODEL[@BASE_URL] (key from $OPENAI_API_KEY)")
    e.add_argument("--n-calibration", type=_positive("--n-calibration"), default=24,
                   help="calibration problems (each answered under every action's hint)")
    e.add_argument("--n-train", type=_positive("--n-train"), default=None,
                   help="problems for the prior and the state fit (default 60 math / the rest of HumanEval)")
    e.add_argument("--states", default="auto",
                   help="auto, pitfall (arithmetic: the problem's trap, shown to the Advisor with where "
                        "it is), code-pitfall (HumanEval: the prompt's trap, shown to the Advisor with where the "
                        "prompt shows it), metadata:FIELD or cluster:K")
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
    add_engine_options(e, "the Advisor and a local Receiver")
    add_api_options(e)
    e.add_argument("--receiver-compute-type", default=None,
                   help="a local Receiver's ct2 compute type where it differs from --compute-type "
                        "(e.g. int8 for a Qwen Receiver beside a float32 SmolLM2 Advisor)")
    add_sandbox_option(e)
    e.add_argument("--threads", type=_positive("--threads"), default=None,
                   help="CPU threads of torch and ct2 (default: their choice; use 1 when other jobs "
                        "share the cores)")
    e.add_argument("--out", default=None, help="folder: records.jsonl, calibration.jsonl, summary.json, "
                                                "conditions.png, cache.sqlite; a rerun resumes")
    e.add_argument("--cache", default=None, help="SQLite cache file (default <out>/cache.sqlite)")
    add_job_output_options(e)
    e.add_argument("--no-progress", action="store_true", help="no progress bars (on stderr)")
    e.set_defaults(func=evaluate_command)
    _add_serve_command(bsub)


def _print_table(summary: dict) -> None:
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


def evaluate_command(args) -> int:
    """Run ``persuasion bridge evaluate``; returns the exit code (0)."""
    check_receiver_specs([("--receiver", args.receiver)])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    set_torch_threads(args.threads)
    models, advisor = {}, args.advisor
    if args.advisor_adapter is not None:
        view = load_trained_advisor(args.advisor, args.advisor_adapter, device=args.device)
        models, advisor = {view.name: view}, view.name
    cfg = EvalConfig(task=args.task, n=args.n, seed=args.seed, advisor=advisor, receiver=args.receiver,
                     n_calibration=args.n_calibration, n_train=args.n_train, states=args.states,
                     effort_cost=args.effort_cost, scheme=args.scheme, horizon=args.horizon,
                     max_new_tokens=args.max_new_tokens, hint_tokens=args.hint_tokens,
                     hint_format=args.hint_format, batch_size=args.batch_size, device=args.device,
                     out=args.out, cache=args.cache, game_from=args.game_from, engine=args.engine,
                     compute_type=args.compute_type, receiver_compute_type=args.receiver_compute_type,
                     threads=args.threads, api_timeout=args.api_timeout,
                     api_concurrency=args.api_concurrency)
    with prints_to_stderr():  # stdout holds the result only
        summary = run_evaluation(cfg, progress=not args.no_progress, models=models,
                                 start_over=args.start_over).to_dict()
    if args.json:
        slim = {k: v for k, v in summary.items() if k not in ("calibration",)}
        print(json.dumps(slim))
    else:
        _print_table(summary)
        if args.out:
            print(f"records, summary and plot in {args.out}")
    return 0


def _add_serve_command(subparsers) -> None:
    """Add ``serve`` to the ``bridge`` subparsers; the handler is :func:`serve_command`."""
    p = subparsers.add_parser(
        "serve", help="serve a local model as an OpenAI-compatible chat API on loopback",
        description="Serve a local model as an OpenAI-compatible chat API (POST "
                    "/v1/chat/completions, GET /v1/models) until Ctrl-C.")
    p.add_argument("--model", default="smollm2-135m",
                   help="model name or local folder (default smollm2-135m)")
    p.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free)")
    p.add_argument("--model-name", default=None,
                   help="model id reported to clients (default: the --model value)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    add_engine_options(p, "the served model")
    p.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS,
                   help=f"max_tokens of a request that sets none (default {DEFAULT_MAX_TOKENS})")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --host (no authentication: trusted networks only)")
    p.set_defaults(func=serve_command)


def serve_command(args) -> int:
    """Run ``persuasion bridge serve``: load the model, serve until Ctrl-C; returns 0 (bad input
    raises, and becomes one line and exit 2 in :func:`persuasion_cli.main.main`)."""
    check_host(args.host, args.allow_remote)  # before the (slow) model load
    lm = load_on_engine(args.model, engine=args.engine, compute_type=args.compute_type,
                        device=args.device)
    handle = serve(lm, host=args.host, port=args.port, model_name=args.model_name or args.model,
                   allow_remote=args.allow_remote, default_max_tokens=args.max_tokens)
    print(f"serving {handle.model_name!r} at {handle.url} (Ctrl-C to stop)", flush=True)
    try:
        handle.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.close()
    return 0
