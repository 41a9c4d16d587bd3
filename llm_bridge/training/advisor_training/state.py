"""The state of an Advisor-training run (:class:`AdvisorRun`: Advisor, adapter, trainers,
Receiver, task, cache, folder) and its training steps: the RFT and DPO epochs with a
checkpoint after each (steps 3-5). The samples (step 2) are in :mod:`.sampling`, the whole run
in :mod:`.run`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm  # the plain bar: tqdm.auto would import asyncio (0.15 s) at start-up

from persuasion.runs import completed_prefix, derive_rng, read_json

from ..logprobs import completion_logprobs
from ..lora import AdapterTrainer, LoraSettings, attach_lora, load_checkpoint, lora_parameters, save_checkpoint
from .config import AdvisorTrainingConfig
from .data import dpo_loss, rft_loss

__all__ = ["AdvisorRun", "HINTS", "PROBLEMS", "SIGNAL", "ORDER"]

# stream numbers of derive_seed / derive_rng(seed, stream, ...): one per kind of random draw
HINTS, PROBLEMS, SIGNAL, ORDER = 5, 11, 13, 21


class AdvisorRun:
    """State of one run (Advisor with its adapter, Receiver, task, cache, folder)."""

    def __init__(self, config: AdvisorTrainingConfig, out: Path, lm, receiver, task, cache,
                 hooks: Callable[[str, dict], None] | None):
        self.cfg = config
        self.out = out
        self.lm = lm
        self.receiver = receiver
        self.task = task
        self.cache = cache
        self.hooks = hooks
        self.peft = None
        self.trainers: dict[str, object] = {}

    def hook(self, event: str, **info) -> None:
        if self.hooks is not None:
            self.hooks(event, info)

    # -- steps 3-5: training
    def attach(self) -> None:
        cfg = self.cfg
        self.lora_settings = LoraSettings(r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout,
                                          target_modules=cfg.lora_targets)
        self.peft = attach_lora(self.lm, self.lora_settings, seed=cfg.seed)

    def trainer(self, phase: str):
        if phase not in self.trainers:
            cfg = self.cfg
            self.trainers[phase] = AdapterTrainer(
                lora_parameters(self.peft), device=self.lm.device,
                lr=cfg.lr if phase == "rft" else cfg.dpo_lr, grad_accum=cfg.grad_accum,
                max_grad_norm=cfg.max_grad_norm, amp=cfg.amp)
        return self.trainers[phase]

    def checkpoint_dir(self, epoch: int) -> Path:
        return self.out / "checkpoints" / f"epoch-{epoch:03d}"

    def last_checkpoint(self) -> int:
        """The last epoch whose checkpoint (and every earlier one) is complete."""
        def done(e: int) -> bool:
            path = self.checkpoint_dir(e) / "state.json"
            return path.exists() and read_json(path).get("epoch") == e

        return completed_prefix(len(self.cfg.phases), done)

    def logprobs(self, prompts, completions, *, grad: bool, trainer=None):
        return completion_logprobs(self.lm, prompts, completions, add_end=[True] * len(prompts),
                                   grad=grad, batch_size=max(len(prompts), 1),
                                   autocast=trainer.autocast() if trainer is not None else None)

    def reference_logprobs(self, pairs) -> tuple[list[float], list[float]]:
        """Summed log-probabilities of chosen and rejected hints under the base Advisor."""
        import torch

        cfg = self.cfg
        self.lm.model.eval()
        chosen, rejected = [], []
        with self.peft.disable_adapter(), torch.no_grad():
            for start in range(0, len(pairs), cfg.batch_size):
                part = pairs[start:start + cfg.batch_size]
                sums, _ = self.logprobs([p["prompt"] for p in part] * 2,
                                        [p["chosen"] for p in part] + [p["rejected"] for p in part],
                                        grad=False)
                s = sums.float().cpu().tolist()
                chosen += s[:len(part)]
                rejected += s[len(part):]
        return chosen, rejected

    def _batch_loss(self, phase: str, part: list[dict], idx: list[int], trainer, ref, margins: list):
        """The RFT or DPO loss of one micro-batch (DPO margins are appended to ``margins``)."""
        import torch

        if phase == "rft":
            sums, counts = self.logprobs([d["prompt"] for d in part], [d["completion"] for d in part],
                                         grad=True, trainer=trainer)
            return rft_loss(sums, counts)
        sums, _ = self.logprobs([d["prompt"] for d in part] * 2,
                                [d["chosen"] for d in part] + [d["rejected"] for d in part],
                                grad=True, trainer=trainer)
        ref_w = torch.tensor([ref[0][i] for i in idx], dtype=sums.dtype, device=sums.device)
        ref_l = torch.tensor([ref[1][i] for i in idx], dtype=sums.dtype, device=sums.device)
        loss, m = dpo_loss(sums[:len(part)], sums[len(part):], ref_w, ref_l, self.cfg.beta)
        margins += m.float().cpu().tolist()
        return loss

    def run_epoch(self, epoch: int, phase: str, phase_epoch: int, data: list[dict], ref=None) -> dict:
        """One epoch of ``phase`` over ``data`` (seeded order); returns its history row."""
        cfg = self.cfg
        trainer = self.trainer(phase)
        order = derive_rng(cfg.seed, ORDER, epoch).permutation(len(data))
        batches = [[int(i) for i in order[s:s + cfg.batch_size]] for s in range(0, len(order), cfg.batch_size)]
        bar = None
        if cfg.progress and batches:
            bar = tqdm(total=len(batches), desc=f"epoch {epoch} ({phase} {phase_epoch})", unit="batch")
        losses, weights, margins = [], [], []
        steps0 = trainer.step_count
        t0 = time.perf_counter()
        self.lm.model.train()
        try:
            for b, idx in enumerate(batches):
                self.hook("step", epoch=epoch, phase=phase, batch=b)
                part = [data[i] for i in idx]
                loss = self._batch_loss(phase, part, idx, trainer, ref, margins)
                trainer.backward(loss)
                losses.append(float(loss.detach()))
                weights.append(len(part))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{losses[-1]:.4f}")
            trainer.flush()
        finally:
            self.lm.model.eval()
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - t0
        steps = trainer.step_count - steps0
        row = {"epoch": epoch, "phase": phase, "phase_epoch": phase_epoch,
               "loss": float(np.average(losses, weights=weights)) if losses else None,
               "examples": len(data), "steps": steps, "seconds": seconds,
               "steps_per_second": steps / seconds if steps and seconds > 0 else None,
               "examples_per_second": len(data) / seconds if data and seconds > 0 else None}
        if phase == "dpo":
            row["reward_accuracy"] = float(np.mean([m > 0 for m in margins])) if margins else None
            row["mean_margin"] = float(np.mean(margins)) if margins else None
        return row

    def train(self, rft: list[dict], pairs: list[dict]) -> list[dict]:
        """Every epoch after the last checkpoint (a checkpoint after each); returns the history."""
        phases = self.cfg.phases
        last = self.last_checkpoint()
        history: list[dict] = []
        if last:
            phase = phases[last - 1][0]
            state = load_checkpoint(self.checkpoint_dir(last), self.peft, self.trainer(phase))
            history = list(state.get("history", []))[:last]
            self.hook("resumed", epoch=last, state=state, peft=self.peft)
        ref = None
        bar = None
        if self.cfg.progress and phases:
            bar = tqdm(total=len(phases), initial=last, desc="advisor training", unit="epoch")
        for epoch in range(last + 1, len(phases) + 1):
            phase, phase_epoch = phases[epoch - 1]
            self.hook("epoch_start", epoch=epoch, phase=phase)
            data = rft if phase == "rft" else pairs
            ref_seconds = 0.0
            if phase == "dpo" and ref is None and pairs:
                t0 = time.perf_counter()
                ref = self.reference_logprobs(pairs)
                ref_seconds = time.perf_counter() - t0
            row = self.run_epoch(epoch, phase, phase_epoch, data, ref)
            row["reference_seconds"] = ref_seconds
            history.append(row)
            trainer = self.trainer(phase)
            save_checkpoint(self.checkpoint_dir(epoch), self.peft, trainer,
                            state={"epoch": epoch, "phase": phase, "phase_epoch": phase_epoch,
                                   "steps": trainer.step_count, "history": history})
            self.hook("epoch_end", epoch=epoch, phase=phase, row=row)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=row["loss"])
        if bar is not None:
            bar.close()
        self.lm.model.eval()
        return history
