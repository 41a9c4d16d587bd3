"""``persuasion train advisor``: Advisor training (:mod:`llm_bridge.training.advisor_training`).

torch, transformers and peft load when the command runs, not when the parser is built. Errors
(:class:`~llm_bridge.errors.ConfigError` and other ``ValueError``) become one line and exit
code 2 (:mod:`persuasion_cli.exits`).
"""

from __future__ import annotations

import json
import os

from llm_bridge.receivers import check_receiver_specs
from llm_bridge.training.advisor_training import (METHODS, POSITIVES, RFT_SELECT, SIGNALS,
                                                  AdvisorTrainingConfig, train_advisor)

from .argtypes import (DefaultsHelpFormatter, add_engine_options, add_job_output_options,
                       add_sandbox_option)
from .argtypes import positive_float as _positive_float
from .argtypes import positive_int as _positive
from .console import prints_to_stderr, set_torch_threads

__all__ = ["add_advisor_command", "advisor_command"]


def add_advisor_command(train_subparsers) -> None:
    """Add ``advisor`` to the ``persuasion train`` subparsers."""
    d = AdvisorTrainingConfig()
    p = train_subparsers.add_parser(
        "advisor", help="train the Advisor's hints on the Receiver's graded answers (RFT and DPO, LoRA)",
        description="Sample several hints per (training problem, signal) from the Advisor, grade the "
                    "Receiver's answer to each, fine-tune the Advisor (LoRA) on the helpful hints (RFT) "
                    "and on helpful/unhelpful pairs (DPO), and compare the three-condition evaluation "
                    "before and after training on held-out problems, on the training Receiver and on a "
                    "transfer Receiver. A rerun with the same --out resumes.",
        formatter_class=DefaultsHelpFormatter)
    p.add_argument("--task", default=d.task,
                   help="humaneval, a reasoning-gym generator, a comma list, or math-mix")
    p.add_argument("--n-train", type=_positive("--n-train"), default=d.n_train,
                   help="training problems (drawn from the task's train split)")
    p.add_argument("--n", type=_positive("--n"), default=d.n, help="held-out test problems")
    p.add_argument("--k", type=_positive("--k"), default=d.k, help="hints sampled per (problem, signal)")
    p.add_argument("--epochs", type=_positive("--epochs"), default=d.epochs,
                   help="RFT epochs, and DPO epochs unless --dpo-epochs is given")
    p.add_argument("--dpo-epochs", type=_positive("--dpo-epochs"), default=None,
                   help="DPO epochs (default: --epochs)")
    p.add_argument("--method", choices=METHODS, default=d.method,
                   help="fine-tuning: RFT on the helpful hints, DPO on helpful/unhelpful pairs, or RFT then DPO")
    p.add_argument("--seed", type=int, default=d.seed,
                   help="seed of the splits, the hint sampling, the signals and the training order")
    p.add_argument("--advisor", default=d.advisor, help="model name or folder")
    p.add_argument("--receiver", default=d.receiver,
                   help="model name or folder, or openai:MODEL[@BASE_URL] (key from $OPENAI_API_KEY)")
    p.add_argument("--transfer-receiver", default="auto",
                   help="a Receiver not used in training (auto: gemma3-270m if installed; none: skip)")
    p.add_argument("--signals", choices=SIGNALS, default=d.signals,
                   help="scheme: one signal per problem drawn from the optimal scheme; support: every "
                        "signal the scheme may send in the problem's state; all: every action")
    p.add_argument("--rft-select", choices=RFT_SELECT, default=d.rft_select,
                   help="helpful hints for RFT: reward above their group's mean, or correct")
    p.add_argument("--positives", choices=POSITIVES, default=d.positives,
                   help="which hints may be RFT examples and DPO chosen hints: any helpful one, or "
                        "only those whose Advisor sentence reached the Receiver whole (content): "
                        "with any, hints the leak filter emptied teach the Advisor to write nothing")
    p.add_argument("--reward", choices=("correct", "score"), default=d.reward,
                   help="a hint's reward: 1/0 for a correct/incorrect answer, or the grader's score")
    p.add_argument("--temperature", type=_positive_float("--temperature"), default=d.temperature,
                   help="sampling temperature of the Advisor's training hints")
    p.add_argument("--beta", type=_positive_float("--beta"), default=d.beta, help="DPO beta")
    p.add_argument("--lr", type=_positive_float("--lr"), default=d.lr, help="RFT learning rate")
    p.add_argument("--dpo-lr", type=_positive_float("--dpo-lr"), default=d.dpo_lr, help="DPO learning rate")
    p.add_argument("--batch-size", type=_positive("--batch-size"), default=d.batch_size,
                   help="training micro-batch (examples or pairs)")
    p.add_argument("--grad-accum", type=_positive("--grad-accum"), default=d.grad_accum,
                   help="micro-batches per optimiser step")
    p.add_argument("--lora-r", type=_positive("--lora-r"), default=d.lora_r, help="LoRA rank")
    p.add_argument("--lora-alpha", type=_positive_float("--lora-alpha"), default=d.lora_alpha,
                   help="LoRA scaling alpha")
    p.add_argument("--max-pairs", type=_positive("--max-pairs"), default=d.max_pairs_per_group,
                   help="DPO pairs per (problem, signal)")
    p.add_argument("--amp", choices=("auto", "bf16", "fp16", "off"), default=d.amp,
                   help="mixed precision on CUDA")
    p.add_argument("--n-calibration", type=_positive("--n-calibration"), default=d.n_calibration,
                   help="calibration problems of the before evaluation (the game is estimated on them)")
    p.add_argument("--n-prior", type=_positive("--n-prior"), default=None,
                   help="problems of the prior and the state fit (the evaluation's --n-train)")
    p.add_argument("--states", default=d.states,
                   help="state abstraction: auto, pitfall (arithmetic: the problem's trap, shown to the "
                        "Advisor with where it is), code-pitfall (HumanEval: the prompt's trap, shown to the "
                        "Advisor with where the prompt shows it), metadata:FIELD or cluster:K")
    p.add_argument("--effort-cost", type=float, default=d.effort_cost,
                   help="the Receiver's cost per unit of answer length (fraction of --max-new-tokens)")
    p.add_argument("--max-new-tokens", type=_positive("--max-new-tokens"), default=d.max_new_tokens,
                   help="longest Receiver answer, in tokens")
    p.add_argument("--hint-tokens", type=_positive("--hint-tokens"), default=d.hint_tokens,
                   help="longest Advisor hint, in tokens")
    p.add_argument("--gen-batch-size", type=_positive("--gen-batch-size"), default=d.gen_batch_size,
                   help="prompts per generation batch")
    p.add_argument("--device", default=d.device, help="cpu, cuda, cuda:1, ...")
    add_engine_options(p, "the Receivers, the sampled training hints and the evaluations' hints "
                          "(training itself is on torch)")
    p.add_argument("--receiver-compute-type", default=None,
                   help="local Receivers' ct2 compute type where it differs from --compute-type "
                        "(e.g. int8 for Qwen Receivers beside a float32 SmolLM2 Advisor)")
    add_sandbox_option(p)
    p.add_argument("--threads", type=_positive("--threads"), default=None,
                   help="torch CPU threads (default: torch's choice; use 1 when other jobs share the cores)")
    p.add_argument("--out", default=None, help="output folder (default: advisor-run-<task>-<seed>); "
                                               "a rerun resumes")
    add_job_output_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars (on stderr)")
    p.set_defaults(func=advisor_command)


def _config(args):
    return AdvisorTrainingConfig(
        task=args.task, n_train=args.n_train, n=args.n, k=args.k, epochs=args.epochs,
        dpo_epochs=args.dpo_epochs, method=args.method, seed=args.seed, advisor=args.advisor,
        receiver=args.receiver, transfer_receiver=args.transfer_receiver, signals=args.signals,
        rft_select=args.rft_select, positives=args.positives, reward=args.reward, temperature=args.temperature, beta=args.beta, lr=args.lr,
        dpo_lr=args.dpo_lr, batch_size=args.batch_size, grad_accum=args.grad_accum,
        lora_r=args.lora_r, lora_alpha=args.lora_alpha, max_pairs_per_group=args.max_pairs,
        amp=args.amp, n_calibration=args.n_calibration, n_prior=args.n_prior, states=args.states,
        effort_cost=args.effort_cost, max_new_tokens=args.max_new_tokens,
        hint_tokens=args.hint_tokens, gen_batch_size=args.gen_batch_size, device=args.device,
        progress=not args.no_progress, engine=args.engine, compute_type=args.compute_type,
        receiver_compute_type=args.receiver_compute_type)


def _print_table(result: dict) -> None:
    tr = result["training"]
    print(f"task {result['task']}  advisor {result['advisor']}  receiver {result['receiver']}  "
          f"method {tr['method']}")
    print(f"samples {tr['n_samples']} in {tr['n_groups']} groups; mean reward {tr['mean_reward']}; "
          f"helpful rate {tr['helpful_rate']}; RFT examples {tr['rft_examples']}; DPO pairs {tr['pairs']}")
    for r in tr["epochs"]:
        extra = f"  reward acc {r['reward_accuracy']:.3f}" if r.get("reward_accuracy") is not None else ""
        loss = "-" if r["loss"] is None else f"{r['loss']:.4f}"
        print(f"  epoch {r['epoch']} ({r['phase']} {r['phase_epoch']}): loss {loss}  steps {r['steps']}  "
              f"{r['seconds']:.1f} s{extra}")
    sps = tr["steps_per_second"]
    print(f"training: {tr['steps']} steps, {'-' if sps is None else f'{sps:.3f}'} steps/s on {tr['device']}"
          f"{' (' + tr['amp'] + ')' if tr.get('amp') else ''}")
    if tr.get("note"):
        print(f"note: {tr['note']}")
    panels = [(result["receiver"], result["before"], result["after"], result["after_vs_before"])]
    if result.get("transfer"):
        t = result["transfer"]
        panels.append((f"{t['receiver']} (transfer)", t["before"], t["after"], t["after_vs_before"]))
    for name, before, after, paired in panels:
        print(f"receiver {name}:")
        for c in ("none", "prior", "posterior"):
            b, a = before[c], after[c]
            pv = paired.get(c, {}).get("p_value")
            print(f"  {c:<10} before {b['accuracy']:.3f} ({b['correct']}/{b['n']})  after {a['accuracy']:.3f} "
                  f"({a['correct']}/{a['n']})  lift {a['accuracy'] - b['accuracy']:+.3f}"
                  f"{'' if pv is None else f'  McNemar p={pv:.3g}'}")
    print(f"summary, samples, checkpoints and plot in {result['out_dir']}")


def advisor_command(args) -> int:
    """Run ``persuasion train advisor``; returns the exit code (0)."""
    check_receiver_specs([("--receiver", args.receiver), ("--transfer-receiver", args.transfer_receiver)])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    set_torch_threads(getattr(args, "threads", None))
    config = _config(args)
    out = args.out or f"advisor-run-{config.task.replace(',', '+')}-{config.seed}"
    with prints_to_stderr():  # stdout holds the result only
        result = train_advisor(config, out_dir=out, start_over=args.start_over).to_dict()
    if args.json:
        print(json.dumps(result))
    else:
        _print_table(result)
    return 0
