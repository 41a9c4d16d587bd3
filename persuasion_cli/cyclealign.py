"""``persuasion cyclealign``: the CycleAlign loop from the command line.

::

    persuasion cyclealign --task TASK --cycles N --n PROBLEMS --seed S [--out DIR] [--json]
                          [--white-box NAME] [--black-box SPEC] [--k K] [--loss rrhf|pro] ...

The white box defaults to SmolLM2-135M-Instruct (``smollm2-135m``, offline), the black box
to a second, separately loaded copy of it (``--black-box`` takes any receiver spec:
a model name or folder, or ``openai:MODEL[@BASE_URL]`` with the key in ``$OPENAI_API_KEY``).
The output folder keeps per-cycle metrics, checkpoints and a black-box answer cache, so a
rerun with the same arguments resumes after an interruption. After each cycle (and at cycle
0, also zero-shot) the black box ranks the held-out candidates too, scored against the
grader (``--no-judge-eval``: not). ``--json`` prints one object with ``cycles`` (``cycle``,
``agreement``, ``reward``, ``reward_ci95``, ``ranking_accuracy``,
``black_box_ranking_accuracy``, ...) and ``baselines``; the text summary is a table of them.

torch and transformers load when the command runs, not when the parser is built.
"""

from __future__ import annotations

import json
import os
import re

from llm_bridge.cache import GenerationCache
from llm_bridge.errors import ConfigError
from llm_bridge.models import load_causal_lm
from llm_bridge.receivers import check_receiver_specs, make_receiver
from llm_bridge.tasks import load_task
from llm_bridge.training.cyclealign import CycleAlignConfig, run_cyclealign

from .argtypes import (DefaultsHelpFormatter, add_api_options, add_engine_options,
                       add_job_output_options, add_sandbox_option)
from .argtypes import int_at_least as _int_at_least
from .argtypes import positive_float as _positive_float
from .console import prints_to_stderr, set_torch_threads

__all__ = ["add_cyclealign_command", "cyclealign_command", "default_out_dir"]


def default_out_dir(task: str, seed: int) -> str:
    """``cyclealign-<task>-seed<S>`` with the task name made file-system safe."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", task).strip("-")[:60] or "task"
    return f"cyclealign-{slug}-seed{seed}"


def add_cyclealign_command(subparsers) -> None:
    """Add the ``cyclealign`` command to ``persuasion``'s subparsers (handler in ``func``)."""
    p = subparsers.add_parser(
        "cyclealign", help="CycleAlign: train a small white-box model on a black box's rankings",
        description="Each cycle the white box samples K responses per instruction, the black box "
                    "ranks them from an in-context prompt with demonstrations, the white box ranks "
                    "them by length-normalised log-likelihood, the agreement (LCS) updates the "
                    "demonstrations, and the white box's LoRA adapter is trained with a ranking loss "
                    "plus a supervised term on the top response. A rerun with the same --out resumes.",
        formatter_class=DefaultsHelpFormatter)
    p.add_argument("--task", required=True,
                   help="task name as for the bridge: math-mix, humaneval, a reasoning-gym generator, "
                        "a comma list")
    p.add_argument("--cycles", type=_int_at_least("--cycles", 1), default=3, help="cycles N")
    p.add_argument("--n", type=_int_at_least("--n", 2), default=24,
                   help="problems in all: a third (at least 2) held out for evaluation, the rest train")
    p.add_argument("--n-test", type=_int_at_least("--n-test", 1), default=None,
                   help="held-out problems (default max(2, n // 3))")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the problems, the sampling, the demonstrations and the training order")
    p.add_argument("--out", default=None,
                   help="output folder (default cyclealign-<task>-seed<S>); a rerun resumes")
    add_job_output_options(p)
    p.add_argument("--white-box", default="smollm2-135m", help="trainable model: name or folder")
    p.add_argument("--black-box", default=None,
                   help="judge: model name or folder (loaded separately), or openai:MODEL[@BASE_URL] "
                        "(default: a second copy of --white-box's model, smollm2-135m)")
    p.add_argument("--k", type=_int_at_least("--k", 2), default=4, help="responses per instruction")
    p.add_argument("--max-new-tokens", type=_int_at_least("--max-new-tokens", 1), default=96,
                   help="longest white-box response, in tokens")
    p.add_argument("--temperature", type=_positive_float("--temperature"), default=0.8,
                   help="sampling temperature of the white box's responses")
    p.add_argument("--loss", choices=("rrhf", "pro"), default="rrhf", help="ranking loss")
    p.add_argument("--label", choices=("black_box", "lcs"), default="black_box",
                   help="train on the black box's ranking or on the LCS-agreed subsequence only")
    p.add_argument("--sft-weight", type=float, default=1.0, help="weight of the SFT term on the top response")
    p.add_argument("--lr", type=_positive_float("--lr"), default=2e-4, help="learning rate of the LoRA adapter")
    p.add_argument("--epochs", type=_int_at_least("--epochs", 1), default=1, help="passes per cycle")
    p.add_argument("--grad-accum", type=_int_at_least("--grad-accum", 1), default=4,
                   help="instruction groups per optimiser step")
    p.add_argument("--lora-r", type=_int_at_least("--lora-r", 1), default=8,
                   help="LoRA rank (alpha is twice the rank)")
    p.add_argument("--n-demos", type=_int_at_least("--n-demos", 0), default=2,
                   help="demonstrations per black-box prompt")
    p.add_argument("--reward", choices=("auto", "grade", "embedding"), default="auto",
                   help="task reward: the grader (math, code) or embedding similarity to the reference")
    p.add_argument("--no-baseline", action="store_true", help="skip the SFT-on-top-choice baseline")
    p.add_argument("--no-judge-eval", action="store_true",
                   help="do not measure the black box as a judge (its ranking accuracy on the held-out "
                        "candidates after each cycle and zero-shot at cycle 0: one black-box call per "
                        "held-out problem with correct and incorrect candidates, per measurement); "
                        "needed to resume a folder written before this measurement existed")
    p.add_argument("--batch-size", type=_int_at_least("--batch-size", 1), default=32,
                   help="rows per generation batch")
    p.add_argument("--threads", type=_int_at_least("--threads", 1), default=None,
                   help="torch CPU threads (default: torch's choice; 1 is much faster when other "
                        "jobs share the cores)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (CUDA trains under autocast)")
    add_engine_options(p, "the white box's sampling, scoring and evaluation (re-converted after "
                          "each cycle's training; training is on torch) and a local black box")
    p.add_argument("--black-box-compute-type", default=None,
                   help="a local black box's ct2 compute type where it differs from --compute-type "
                        "(e.g. int8 for a Qwen judge beside a float32 SmolLM2 white box; recorded in "
                        "the run's identity with the black box's engine)")
    add_api_options(p, "an openai: black box")
    add_sandbox_option(p)
    p.add_argument("--no-cache", action="store_true",
                   help="do not cache the black box's answers in <out>/black_box_cache.sqlite")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (on stderr)")
    p.set_defaults(func=cyclealign_command)


def cyclealign_command(args) -> int:
    """Run the command; returns the exit code (errors are raised as ``BridgeError``)."""
    check_receiver_specs([("--black-box", args.black_box)])  # before any model is loaded
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch  # heavy optional dependency: loaded when the command runs

    set_torch_threads(args.threads)
    if not args.sft_weight >= 0:
        raise ConfigError(f"--sft-weight: expected >= 0, got {args.sft_weight}")
    config = CycleAlignConfig(
        cycles=args.cycles, n_problems=args.n, n_test=args.n_test, seed=args.seed, k=args.k,
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, loss=args.loss,
        label=args.label, sft_weight=args.sft_weight, lr=args.lr, epochs=args.epochs,
        grad_accum=args.grad_accum, lora_r=args.lora_r, lora_alpha=2.0 * args.lora_r,
        n_demos=args.n_demos, reward=args.reward, baseline_sft=not args.no_baseline,
        judge_eval=not args.no_judge_eval,
        batch_size=args.batch_size, progress=not args.no_progress, engine=args.engine,
        compute_type=args.compute_type)
    out = args.out or default_out_dir(args.task, args.seed)
    with prints_to_stderr():  # stdout holds the result only
        task = load_task(args.task)
        os.makedirs(out, exist_ok=True)
        # the white box trains in float32 (CUDA: autocast does the mixed precision)
        white = load_causal_lm(args.white_box, device=args.device, dtype=torch.float32, seed=args.seed)
        cache = None if args.no_cache else GenerationCache(os.path.join(out, "black_box_cache.sqlite"))
        black = make_receiver(args.black_box or args.white_box, cache=cache, device=args.device,
                              engine=args.engine, threads=args.threads,
                              compute_type=args.black_box_compute_type or args.compute_type,
                              timeout=args.api_timeout, concurrency=args.api_concurrency)
        result = run_cyclealign(config, white_box=white, black_box=black, task=task,
                                out_dir=out, start_over=args.start_over).to_dict()
    if args.json:
        print(json.dumps(result))
    else:
        _print_summary(result)
    return 0


def _fmt(x, spec=".3f") -> str:
    return "—" if x is None else format(x, spec)


def _ci(ci) -> str:
    return "—" if not ci else f"{ci[0]:.2f}-{ci[1]:.2f}"


def _count(row: dict, key: str) -> str:
    """A count of the black box's held-out judging ("" when not measured)."""
    return "" if row.get(key) is None else str(row[key])


def _print_summary(result: dict) -> None:
    print(f"CycleAlign on {result['task']}: white box {result['white_box']}, black box "
          f"{result['black_box']}, device {result['device']}")
    base = result["baselines"].get("no_training") or {}
    print(f"{'cycle':>5}  {'agreement':>9}  {'exact':>5}  {'unparsed':>8}  {'reward':>6}  "
          f"{'95% CI':>9}  {'wb rank':>7}  {'bb rank':>7}  {'pairs':>5}  {'bb unp':>6}  "
          f"{'steps':>5}  {'seconds':>7}")

    def evals(row):
        return (f"{_fmt(row.get('reward')):>6}  {_ci(row.get('reward_ci95')):>9}  "
                f"{_fmt(row.get('ranking_accuracy')):>7}  {_fmt(row.get('black_box_ranking_accuracy')):>7}  "
                f"{_count(row, 'black_box_ranking_pairs'):>5}  "
                f"{_count(row, 'black_box_ranking_parse_failures'):>6}")

    if base:
        print(f"{0:>5}  {'':>9}  {'':>5}  {'':>8}  {evals(base)}  {'':>5}  {'':>7}")
    for c in result["cycles"]:
        print(f"{c['cycle']:>5}  {_fmt(c['agreement']):>9}  {_fmt(c['exact_match'], '.2f'):>5}  "
              f"{c['parse_failures']:>8}  {evals(c)}  {c['steps']:>5}  {c['seconds']['total']:>7.1f}")
    if base.get("black_box_ranking_problems") is not None:
        print(f"black box on {base['black_box_ranking_problems']} held-out problems at cycle 0: ranking "
              f"accuracy {_fmt(base.get('black_box_ranking_accuracy'))} "
              f"[{_ci(base.get('black_box_ranking_accuracy_ci95'))}] with the seed demonstrations, "
              f"{_fmt(base.get('black_box_ranking_accuracy_zero_shot'))} "
              f"[{_ci(base.get('black_box_ranking_accuracy_ci95_zero_shot'))}] zero-shot "
              f"({_count(base, 'black_box_ranking_parse_failures_zero_shot')} unparsed)")
    sft = result["baselines"].get("sft_top_choice")
    if sft:
        print(f"baseline SFT on the black box's top choice ({sft['steps']} steps): reward "
              f"{_fmt(sft['reward'])} [{_ci(sft.get('reward_ci95'))}], ranking accuracy "
              f"{_fmt(sft['ranking_accuracy'])}")
    if result.get("steps_per_second"):
        print(f"training: {result['steps_per_second']:.3f} optimiser steps/s on {result['device']}")
    print("wb/bb rank: share of (correct, incorrect) held-out candidate pairs the white box (log-"
          "likelihood) / black box (its ranking) orders right; pairs, bb unp: the black box's pairs "
          "and unparsed answers; 95% CI: Wilson")
    print(f"plot {result['plot']}; adapter {result['adapter']}; metrics in {result['out_dir']}")
