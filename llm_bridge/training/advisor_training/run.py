"""Advisor training end to end (:func:`train_advisor`): run folder, before evaluations, samples,
training, after evaluations, summary and plot."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from persuasion.runs import RunFolder, atomic_write_json, open_run_folder, read_json, read_jsonl

from ...cache import GenerationCache
from ...errors import ConfigError
from ...evaluate import IDENTITY_DEFAULTS, EvalConfig, EvaluationResult, run_evaluation
from ...models import load_causal_lm
from ...stats import mcnemar_exact, paired_lift
from ...tasks import load_task
from ...validate import config_error
from .config import CONDITIONS, RESUME_FREE, AdvisorTrainingConfig
from .data import dpo_pairs, helpful_count, rft_examples
from .models import receiver_object, resolve_transfer_receiver, trained_view
from .plots import plot_before_after
from .result import AdvisorTrainingResult, TransferResult
from .sampling import sample, training_groups
from .state import AdvisorRun

__all__ = ["train_advisor", "run_identity", "open_advisor_folder", "HINT_SEEDS"]

#: How the hint samples' seeds are derived (part of the run's identity).
HINT_SEEDS = "persuasion.runs.derive_seed (numpy SeedSequence)"


def run_identity(config: AdvisorTrainingConfig, advisor_fp: str, receiver_name: str) -> dict:
    """The settings fingerprint of a run (``run.json``): the Advisor's model fingerprint, the
    training Receiver's name and every setting but the resume-free ones (``progress``,
    ``device``, ``gen_batch_size``, ``amp``, ``transfer_receiver``), and ``seeds``, the seed
    derivation of the hint samples: folders written before it became
    :func:`persuasion.runs.derive_seed` (SHA-256 then) lack it and are refused rather than
    resumed with hints from two seed streams."""
    cfg = {k: v for k, v in config.to_dict().items() if k not in RESUME_FREE}
    engine, compute_type = config.engine_setting()
    cfg["engine"], cfg["compute_type"] = engine, compute_type
    if engine == "torch":  # the identity of folders written before the engine fields existed
        del cfg["engine"], cfg["compute_type"]
    if config.receiver_compute_type is None:  # likewise, before the Receiver's own field
        del cfg["receiver_compute_type"]
    else:
        cfg["receiver_compute_type"] = config.receiver_engine_setting()[1]
    if config.positives == "any":  # likewise, before the positives field
        del cfg["positives"]
    return {"advisor": advisor_fp, "receiver": receiver_name, "config": cfg,
            "seeds": HINT_SEEDS}


def open_advisor_folder(out, identity: dict, *, start_over: bool = False) -> RunFolder:
    """Open the run folder ``out`` for ``identity`` (:func:`persuasion.runs.open_run_folder`;
    the generation cache ``cache.sqlite`` survives starting over)."""
    return open_run_folder(out, identity, identity_file="run.json", field="out", start_over=start_over,
                           keep=("cache.sqlite*",), error=config_error)


def _paired(before_dir: Path, after_dir: Path) -> dict:
    """Per condition: paired lift of after over before, exact McNemar p (records.jsonl)."""
    b = {(r["uid"], r["condition"]): bool(r["correct"]) for r in read_jsonl(before_dir / "records.jsonl")}
    a = {(r["uid"], r["condition"]): bool(r["correct"]) for r in read_jsonl(after_dir / "records.jsonl")}
    out = {}
    for c in CONDITIONS:
        keys = sorted(k for k in a if k[1] == c and k in b)
        if not keys:
            continue
        xa, xb = [a[k] for k in keys], [b[k] for k in keys]
        lift = paired_lift(xa, xb)
        out[c] = {"lift": lift["lift"], "wins": lift.get("wins"), "losses": lift.get("losses"),
                  "p_value": mcnemar_exact(xa, xb), "n": len(keys)}
    return out


def _evaluate(cfg: EvalConfig, *, advisor_lm, receiver, task, progress: bool) -> EvaluationResult:
    """One evaluation; a finished run (its summary.json, same settings) is read back, not redone."""
    path = Path(cfg.out) / "summary.json"
    if path.exists():
        old = read_json(path)
        if {**IDENTITY_DEFAULTS, **(old.get("config") or {})} == cfg.fingerprint():
            return EvaluationResult.from_dict(old)
    return run_evaluation(cfg, progress=progress, models={cfg.advisor: advisor_lm}, task=task,
                          receiver=receiver)


@dataclass
class _Receivers:
    """The training Receiver and the transfer Receiver (its spec and name; None without one)."""

    train: object
    transfer_spec: object
    transfer_name: str | None
    transfer: object = None


def _transfer_receiver(config: AdvisorTrainingConfig, transfer_receiver) -> tuple[object, str | None]:
    """``(spec, name)`` of the transfer Receiver; refused when it is the training Receiver."""
    if transfer_receiver is not None:
        name = getattr(transfer_receiver, "name", None) or str(transfer_receiver)
    else:
        name = resolve_transfer_receiver(config.transfer_receiver)
        transfer_receiver = name
    if name is not None and name == config.receiver:
        raise ConfigError(f"transfer_receiver: {name!r} is the training Receiver; name a "
                          "Receiver not used in training, or none")
    return transfer_receiver, name


def _evaluations(run: AdvisorRun, recs: _Receivers, advisor_lm, phase: str) -> tuple:
    """Step 1 (``phase="before"``, base Advisor) or step 6 (``"after"``, the trained Advisor
    ``advisor_lm``, reusing the before runs' games): the evaluation on the training Receiver
    and on the transfer Receiver (None without one)."""
    config, out = run.cfg, run.out
    cache = str(out / "cache.sqlite")
    kw = {} if phase == "before" else {"advisor": advisor_lm.name}

    def game_from(folder):
        return {} if phase == "before" else {"game_from": str(out / folder / "summary.json")}

    main = _evaluate(config.eval_config(out=str(out / phase), cache=cache, **kw, **game_from("before")),
                     advisor_lm=advisor_lm, receiver=recs.train, task=run.task, progress=config.progress)
    run.hook("evaluated", name=phase)
    transfer = None
    if recs.transfer_name is not None:
        if recs.transfer is None:
            recs.transfer = receiver_object(recs.transfer_spec, recs.transfer_name, run.cache, config.device,
                                            config.receiver_engine_setting())
        transfer = _evaluate(
            config.eval_config(receiver=recs.transfer_name, out=str(out / f"transfer_{phase}"), cache=cache,
                               **kw, **game_from("transfer_before")),
            advisor_lm=advisor_lm, receiver=recs.transfer, task=run.task, progress=config.progress)
        run.hook("evaluated", name=f"transfer_{phase}")
    return main, transfer


def _training_summary(config: AdvisorTrainingConfig, run: AdvisorRun, rows, rft, pairs, history,
                      device) -> dict:
    """The ``training`` record of the summary."""
    train_s = sum(r["seconds"] for r in history)
    steps = sum(r["steps"] for r in history)
    rewards = [r["reward"] for r in rows]
    trainer_any = next(iter(run.trainers.values()), None)
    amp = None
    if trainer_any is not None and trainer_any.amp_dtype is not None:
        amp = str(trainer_any.amp_dtype).replace("torch.", "")
    training = {
        "method": config.method,
        "epochs": history,
        "losses": [r["loss"] for r in history],
        "n_samples": len(rows),
        "n_groups": len({(r["uid"], r["action"]) for r in rows}),
        "mean_reward": float(np.mean(rewards)) if rewards else None,
        "correct_rate": float(np.mean([r["correct"] for r in rows])) if rows else None,
        "helpful_rate": helpful_count(rows, config.rft_select, config.positives) / len(rows) if rows else None,
        "positives": config.positives,
        "rft_examples": len(rft),
        "pairs": len(pairs),
        "steps": steps,
        "train_seconds": train_s,
        "steps_per_second": steps / train_s if train_s > 0 and steps else None,
        "examples_per_second": (sum(r["examples"] for r in history) / train_s
                                if train_s > 0 and history else None),
        "device": str(device),
        "amp": amp,
        "lora": {"r": config.lora_r, "alpha": config.lora_alpha, "dropout": config.lora_dropout,
                 "targets": list(run.peft.peft_config["default"].target_modules)},
    }
    if not rft and not pairs:
        training["note"] = ("no helpful hints and no pairs: every (problem, signal) group's hints scored "
                            "alike, so the adapter is untrained; use more problems, a larger k or "
                            "signals='all'")
    return training


def _setup(config, out_dir, advisor_lm, receiver, transfer_receiver, task, hooks, start_over):
    """Checks, models, the run folder, the cache and the run state."""
    import torch

    if not isinstance(config, AdvisorTrainingConfig):
        raise ConfigError(f"config: expected an AdvisorTrainingConfig, got {type(config).__name__}")
    out = Path(out_dir)
    if task is None:
        task = load_task(config.task)
    if advisor_lm is None:
        advisor_lm = load_causal_lm(config.advisor, device=config.device, dtype=torch.float32)
    if receiver is not None and getattr(receiver, "lm", receiver) is advisor_lm:
        raise ConfigError("receiver: it wraps the Advisor's model itself; training would change the "
                          "Receiver too — load a separate copy")
    transfer_spec, transfer_name = _transfer_receiver(config, transfer_receiver)
    open_advisor_folder(out, run_identity(config, advisor_lm.fingerprint, config.receiver),
                        start_over=start_over)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    cache = GenerationCache(out / "cache.sqlite")
    recs = _Receivers(receiver_object(receiver, config.receiver, cache, config.device,
                                           config.receiver_engine_setting()), transfer_spec,
                      transfer_name)
    return AdvisorRun(config, out, advisor_lm, recs.train, task, cache, hooks), recs


def train_advisor(config: AdvisorTrainingConfig, *, out_dir, advisor_lm=None, receiver=None,
                  transfer_receiver=None, task=None,
                  hooks: Callable[[str, dict], None] | None = None,
                  start_over: bool = False) -> AdvisorTrainingResult:
    """Run (or resume) Advisor training with before/after evaluations (package docstring).

    Parameters
    ----------
    config : AdvisorTrainingConfig
    out_dir : path
        Output folder (``run.json``, ``samples.jsonl``, ``checkpoints/``, ``before/``, ``after/``,
        ``transfer_before/``, ``transfer_after/``, ``cache.sqlite``, ``summary.json``,
        ``before_after.png``); an unfinished run there with the same settings is resumed, one
        with other settings refused (ConfigError naming the fields that differ).
    advisor_lm : LoadedModel, optional
        The Advisor; LoRA adapters are attached to it *in place*, so pass a freshly loaded
        model (not one shared with the Receiver or another test). Default: ``config.advisor``
        loaded in float32 on ``config.device``.
    receiver : LoadedModel, Receiver or str, optional
        The training Receiver; default ``config.receiver``. It must not wrap ``advisor_lm``.
    transfer_receiver : LoadedModel, Receiver or str, optional
        The transfer Receiver; default :func:`resolve_transfer_receiver` of
        ``config.transfer_receiver`` (no transfer evaluation when that is ``None``).
    task : Task, optional
        Default ``load_task(config.task)``.
    hooks : callable, optional
        ``hooks(event, info)`` at ``"sampled"``, ``"resumed"``, ``"epoch_start"``, ``"step"``,
        ``"epoch_end"`` and ``"evaluated"``; an exception raised there interrupts the run as a
        crash would (tests).
    start_over : bool
        Remove a previous run in ``out_dir`` first (the generation cache is kept).

    Returns
    -------
    AdvisorTrainingResult
        ``before`` / ``after`` (accuracy per condition on the training Receiver),
        ``after_vs_before`` (paired lifts and exact McNemar p per condition), ``transfer``
        (``receiver``, ``before``, ``after``, ``after_vs_before``; ``None`` without one),
        ``training`` (per-epoch losses, samples, helpful rate, pairs, steps/s, device),
        ``task``, ``advisor``, ``receiver``, ``adapter``, ``plot``, ``out_dir``, ``config``,
        ``timings``; its ``to_dict()`` is ``summary.json``.
    """
    t_start = time.perf_counter()
    run, recs = _setup(config, out_dir, advisor_lm, receiver, transfer_receiver, task, hooks, start_over)
    out, advisor_lm, timings = run.out, run.lm, {}

    # 1. before (base Advisor; nothing is attached to it yet)
    t0 = time.perf_counter()
    before, transfer_before = _evaluations(run, recs, advisor_lm, "before")
    timings["before_s"] = time.perf_counter() - t0

    # 2. samples (base Advisor)
    rows, timings["sampling_s"] = sample(run, training_groups(run, before))
    rft = rft_examples(rows, config.rft_select, config.positives) if config.method in ("rft", "rft+dpo") else []
    pairs = (dpo_pairs(rows, max_per_group=config.max_pairs_per_group, seed=config.seed,
                       positives=config.positives)
             if config.method in ("dpo", "rft+dpo") else [])

    # 3-5. training
    run.attach()
    t0 = time.perf_counter()
    history = run.train(rft, pairs)
    timings["training_s"] = time.perf_counter() - t0
    view = trained_view(advisor_lm, run.peft)

    # 6. after (trained Advisor; the before runs' games)
    t0 = time.perf_counter()
    after, transfer_after = _evaluations(run, recs, view, "after")
    timings["after_s"] = time.perf_counter() - t0

    # 7. summary and plot
    result = AdvisorTrainingResult(
        task=config.task, advisor=config.advisor, receiver=before.receiver,
        before=before.conditions, after=after.conditions,
        after_vs_before=_paired(out / "before", out / "after"),
        transfer=None if recs.transfer_name is None else TransferResult(
            transfer_before.receiver, transfer_before.conditions, transfer_after.conditions,
            _paired(out / "transfer_before", out / "transfer_after")),
        training=_training_summary(config, run, rows, rft, pairs, history, advisor_lm.device),
        adapter=str(run.checkpoint_dir(len(config.phases))) if config.phases else None,
        adapter_hash=view.fingerprint.rsplit("lora:", 1)[-1], out_dir=str(out),
        config=config.to_dict(), timings={**timings, "total_s": time.perf_counter() - t_start})
    result.plot = str(plot_before_after(result, out / "before_after.png"))
    atomic_write_json(out / "summary.json", result.to_dict(), indent=1)
    return result
