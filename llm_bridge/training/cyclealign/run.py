"""The CycleAlign loop (:func:`run_cyclealign`): run folder, resume, cycles, SFT baseline, result."""

from __future__ import annotations

import time
from typing import Callable

from tqdm import tqdm  # the plain bar: tqdm.auto would import asyncio (0.15 s) at start-up

from persuasion.runs import (append_jsonl, atomic_write_json, completed_prefix, open_run_folder,
                             read_jsonl, repair_jsonl, write_jsonl)

from ...ct2 import resolve_engine, with_engine
from ...errors import ConfigError
from ...validate import config_error
from ..lora import AdapterTrainer, add_adapter, lora_parameters, save_checkpoint, set_active_adapter
from .config import RESUME_FREE, CycleAlignConfig
from .plots import plot_rewards
from .result import CYCLE_KEYS, CycleAlignResult, read_metrics
from .cycle import collect, train_groups, trainable
from .state import CycleRun

__all__ = ["run_cyclealign", "run_identity"]


def run_identity(config: CycleAlignConfig, white_box, black_box, task) -> dict:
    """The settings fingerprint of a run (``run.json``): the task, both models and every
    setting but the resume-free ones (``cycles``, ``progress``, ``batch_size``, ``baseline_sft``).

    Fields added since the first runs are left out where they mean what the folders written
    before them did: ``engine``/``compute_type`` on torch, and ``judge_eval`` when off (those
    folders never judged the held-out candidates with the black box; a run with it on, the
    default, refuses to resume them, naming ``config.judge_eval``)."""
    cfg = {k: v for k, v in config.to_dict().items() if k not in RESUME_FREE}
    if not cfg["judge_eval"]:  # absent: the folders written before the field, all without it
        del cfg["judge_eval"]
    device = getattr(getattr(white_box, "device", None), "type", "cpu")
    engine, compute_type = resolve_engine(cfg.pop("engine"), cfg.pop("compute_type"), device)
    if engine != "torch":  # absent: the folders written before the field, all on torch
        cfg["engine"], cfg["compute_type"] = engine, compute_type
    identity = {"task": getattr(task, "name", type(task).__name__),
                "white_box": white_box.fingerprint,
                "black_box": getattr(black_box, "name", type(black_box).__name__),
                "config": cfg}
    engine = getattr(getattr(black_box, "lm", None), "engine", None)
    if engine is not None:  # a local black box off the torch loop (absent: the folders before)
        identity["black_box_engine"] = engine.name
    return identity


def _splits(task, config: CycleAlignConfig):
    splits = task.splits(n_train=config.train_size, n_calibration=0, n_test=config.test_size,
                         seed=config.seed)
    train, test = list(splits.train), list(splits.test)
    if len(train) < 1 or len(test) < 1:
        raise ConfigError(f"n_problems: task {getattr(task, 'name', '?')!r} gave {len(train)} training "
                          f"and {len(test)} test problems; need at least one of each")
    return train, test


def _append(run: CycleRun, rows: list, row: dict) -> None:
    append_jsonl(run.metrics_path, [row], sort_keys=True)
    rows.append(row)


def _cycle(run: CycleRun, train, test, heldout, cycle: int, total_steps: int) -> dict:
    """One cycle (collect, train, evaluate, checkpoint); returns its ``metrics.jsonl`` row."""
    config = run.cfg
    t_cycle = time.perf_counter()
    converted = run.convert_seconds
    run.hook("cycle_start", cycle=cycle)
    groups, stats = collect(run, train, cycle)
    write_jsonl(run.out / "cycles" / f"{cycle:03d}.jsonl", groups, sort_keys=True)
    tr = train_groups(run, groups, run.trainer, ranking=True, cycle=cycle)
    total_steps += tr["steps"]
    run.hook("trained", cycle=cycle)
    ev = run.evaluate(test, heldout, f"cycle-{cycle:03d}")
    seconds = stats["seconds"]
    seconds.update({"train": tr.pop("train_seconds"), "eval": ev.pop("eval_seconds")})
    if config.judge_eval:  # the black box on the held-out candidates, with the demonstrations now
        ev.update(run.judge_eval(test, heldout, cycle))
        seconds["judge_eval"] = ev.pop("judge_seconds")
        run.hook("judged", cycle=cycle)
    if run.engine != "torch":  # converting the white box for its engine (inside sample and eval)
        seconds["convert"] = run.convert_seconds - converted
    run.save(cycle, total_steps)
    seconds["total"] = time.perf_counter() - t_cycle
    train_s = seconds["train"]
    return {"record": "cycle", "cycle": cycle, **stats, **tr, **ev,
            "total_steps": total_steps,
            "steps_per_second": tr["steps"] / train_s if train_s > 0 else None,
            "groups_per_second": tr["groups_trained"] * config.epochs / train_s if train_s > 0 else None}


def run_cyclealign(config: CycleAlignConfig, *, white_box, black_box, task, out_dir,
                   hooks: Callable[[str, dict], None] | None = None,
                   start_over: bool = False) -> CycleAlignResult:
    """Run (or resume) CycleAlign; see the package docstring for the loop and the files.

    Parameters
    ----------
    config : CycleAlignConfig
    white_box : LoadedModel
        The trainable model. LoRA adapters are attached to ``white_box.model`` in place
        (so pass a freshly loaded model); afterwards it generates with the final adapter. It
        trains on torch and decodes and scores on ``config.engine`` (a converted copy of its
        current weights, re-converted after each change of its adapter).
    black_box : Receiver
        The judge; must not wrap ``white_box`` itself.
    task : Task
        Problems (``task.splits``), prompts and the grader.
    out_dir : path
        Output folder; an existing run there with the same identity (:func:`run_identity`) is
        resumed, one with another identity refused (ConfigError naming the fields that differ).
    hooks : callable, optional
        ``hooks(event, info)`` at ``"cycle_start"``, ``"sampled"``, ``"ranked"``,
        ``"trained"``, ``"judged"`` (after the black box judged the held-out candidates; also
        for cycle 0), ``"cycle_end"`` (``info["cycle"]``) — for progress reporting and
        tests (an exception raised there interrupts the run like a crash would).
    start_over : bool
        Remove a previous run in ``out_dir`` first (generation caches ``*cache.sqlite*`` are kept).

    Returns
    -------
    CycleAlignResult
        ``cycles`` (one row per cycle: ``cycle``, ``agreement``, ``reward`` and
        ``reward_ci95``, ``accuracy``, ``ranking_accuracy`` and ``black_box_ranking_accuracy``
        with their ``_ci95``, losses, timings, ...), ``baselines`` (``no_training``,
        ``sft_top_choice``), ``task``, ``white_box``, ``black_box``, ``config``,
        ``out_dir``, ``plot``, ``adapter`` (the last checkpoint), ``steps_per_second``;
        its ``to_dict()`` is ``result.json``.
    """
    if not isinstance(config, CycleAlignConfig):
        raise ConfigError(f"config: expected a CycleAlignConfig, got {type(config).__name__}")
    # the white box trains in place on torch; CycleRun.view() is what decodes and scores
    white_box = with_engine(white_box, "torch")
    identity = run_identity(config, white_box, black_box, task)
    out = open_run_folder(out_dir, identity, identity_file="run.json", field="out_dir",
                          start_over=start_over, keep=("*cache.sqlite*",), error=config_error).path
    for sub in ("cycles", "eval", "checkpoints"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    run = CycleRun(config, white_box, black_box, task, out, hooks)
    train, test = _splits(task, config)
    repair_jsonl(run.metrics_path)
    rows = read_metrics(run.metrics_path)
    done = {r["cycle"] for r in rows if r.get("record") == "cycle"}
    last = completed_prefix(config.cycles, lambda c: c in done and run.checkpoint_dir(c).exists())
    total_steps = int(run.restore(last).get("steps", 0)) if last else 0
    heldout = run.heldout(test)
    if not any(r.get("record") == "no_training" for r in rows):
        with run.peft.disable_adapter():
            ev = run.evaluate(test, heldout, "cycle-000")
        if config.judge_eval:  # the black box with the seed demonstrations and zero-shot
            with_demos = run.judge_eval(test, heldout, 0)
            zero_shot = run.judge_eval(test, heldout, 0, zero_shot=True)
            seconds = with_demos.pop("judge_seconds") + zero_shot.pop("judge_seconds")
            ev.update(with_demos, **zero_shot, judge_seconds=seconds)
            run.hook("judged", cycle=0)
        _append(run, rows, {"record": "no_training", "cycle": 0, **ev})

    outer = None
    if config.progress:
        outer = tqdm(total=config.cycles, initial=last, desc="cyclealign", unit="cycle")
    for cycle in range(last + 1, config.cycles + 1):
        row = _cycle(run, train, test, heldout, cycle, total_steps)
        total_steps = row["total_steps"]
        _append(run, rows, row)
        run.hook("cycle_end", cycle=cycle)
        if outer is not None:
            outer.update(1)
            outer.set_postfix(agreement=row["agreement"], reward=row["reward"])
    if outer is not None:
        outer.close()

    cycle_rows = sorted((r for r in rows if r.get("record") == "cycle" and r["cycle"] <= config.cycles),
                        key=lambda r: r["cycle"])
    total_steps = int(cycle_rows[-1]["total_steps"]) if cycle_rows else 0
    if config.baseline_sft and not any(r.get("record") == "sft_top_choice"
                                       and r.get("cycles") == config.cycles for r in rows):
        _append(run, rows, _sft_baseline(run, test, heldout, total_steps))
    result = _result(run, rows, cycle_rows, identity)
    atomic_write_json(out / "result.json", result.to_dict(), indent=1, sort_keys=True)
    return result


def _sft_baseline(run: CycleRun, test, heldout, total_steps: int) -> dict:
    """Fresh adapter, SFT on the black box's top choice of every collected group."""
    cfg = run.cfg
    t0 = time.perf_counter()
    name = "sft_baseline"
    if name in run.peft.peft_config:
        run.peft.delete_adapter(name)
    add_adapter(run.peft, name, run.lora_settings, seed=cfg.seed)
    trainer = AdapterTrainer(lora_parameters(run.peft, name), device=run.lm.device, lr=cfg.lr,
                             grad_accum=cfg.grad_accum, max_grad_norm=cfg.max_grad_norm, amp=cfg.amp)
    try:
        for cycle in range(1, cfg.cycles + 1):
            groups = read_jsonl(run.out / "cycles" / f"{cycle:03d}.jsonl")
            # the groups CycleAlign trained on (a target of >= 2 responses), the black box's
            # top choice only
            groups = [dict(g, target=[g["bb_order"][0]]) for g in groups if trainable(g, True)]
            train_groups(run, groups, trainer, ranking=False, cycle=cycle)
        ev = run.evaluate(test, heldout, "sft-baseline")
        save_checkpoint(run.out / "checkpoints" / "sft-baseline", run.peft, trainer, adapter_name=name,
                        state={"cycles": cfg.cycles, "steps": trainer.step_count})
    finally:
        set_active_adapter(run.peft, "default")
        run.peft.delete_adapter(name)
    ev.pop("eval_seconds")
    return {"record": "sft_top_choice", "cycle": cfg.cycles, "cycles": cfg.cycles,
            "steps": trainer.step_count, "cyclealign_steps": total_steps,
            "seconds": time.perf_counter() - t0, **ev}


def _result(run: CycleRun, rows, cycle_rows, identity) -> CycleAlignResult:
    base = next((r for r in rows if r.get("record") == "no_training"), None)
    sft = next((r for r in reversed(rows) if r.get("record") == "sft_top_choice"
                and r.get("cycles") == run.cfg.cycles), None)

    def strip(r):
        return {k: v for k, v in r.items() if k != "record"}

    baselines = {"no_training": strip(base) if base else None,
                 "sft_top_choice": strip(sft) if sft else None}
    plot = plot_rewards(cycle_rows, baselines, run.out / "reward.png",
                        title=f"CycleAlign on {identity['task']}")
    train_s = sum(r["seconds"].get("train", 0.0) for r in cycle_rows)
    steps = sum(r["steps"] for r in cycle_rows)
    last = cycle_rows[-1]["cycle"] if cycle_rows else 0
    return CycleAlignResult(
        task=identity["task"], white_box=run.lm.name, black_box=identity["black_box"],
        config=run.cfg.to_dict(), device=str(run.lm.device), out_dir=str(run.out),
        cycles=[{k: r.get(k) for k in CYCLE_KEYS} for r in cycle_rows],
        baselines=baselines, plot=str(plot) if plot else None,
        adapter=str(run.checkpoint_dir(last)) if last else None,
        steps_per_second=steps / train_s if train_s > 0 else None)
