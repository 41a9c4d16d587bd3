"""The steps of one CycleAlign cycle on a run's state (:class:`~.state.CycleRun`):
sampling and both rankings, agreement and demonstrations (steps 1-4, :func:`collect`), and
training on the pseudo-labels (step 5, :func:`train_groups`)."""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
from tqdm import tqdm  # the plain bar: tqdm.auto would import asyncio (0.15 s) at start-up

from persuasion.runs import derive_seed

from ...generation import GenerationSettings
from ..logprobs import completion_logprobs
from ..ranking import explicit_length, lcs, order_from_scores, pairwise_accuracy, parse_ranking, ranking_loss
from .judge import draw_demos, judge_conversation
from .rewards import score_texts
from .state import DROPOUT, JUDGE, ORDER, SAMPLE, CycleRun

__all__ = ["collect", "train_groups", "trainable"]


def trainable(group: dict, ranking: bool) -> bool:
    """A group with a pseudo-label: >= 2 target responses and a ranked head (ranking loss),
    or a top response (SFT)."""
    if ranking:
        return len(group["target"]) >= 2 and group.get("target_top", 0) >= 1
    return len(group["target"]) >= 1


# ----------------------------------------------------------------------------- steps 1-4
def collect(run: CycleRun, train, cycle: int) -> tuple[list[dict], dict]:
    """Steps 1-4: sample, both rankings, agreement, demonstration update; returns the
    groups (``cycles/NNN.jsonl`` records) and the cycle's statistics."""
    cfg = run.cfg
    times = {}
    t0 = time.perf_counter()
    run.lm.model.eval()
    prompts, texts, finished = run.sample(train, derive_seed(cfg.seed, SAMPLE, cycle), f"cycle {cycle}: sample")
    times["sample"] = time.perf_counter() - t0
    run.hook("sampled", cycle=cycle)
    t0 = time.perf_counter()
    wb_scores = run.scores(prompts, texts, finished)
    times["white_box_rank"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    answers = _judge(run, train, texts, cycle)
    times["black_box_rank"] = time.perf_counter() - t0
    run.hook("ranked", cycle=cycle)
    groups = [_group(run, cycle, p, prompts[i], texts[i], finished[i], wb_scores[i], answers[i].text)
              for i, p in enumerate(train)]
    added = sum(1 for g in groups  # demonstrations for the next cycles
                if g["parsed"] and run.store.add(g["question"], g["responses"], g["lcs"], k=cfg.k,
                                                 cycle=cycle, uid=g["uid"]))
    return groups, _cycle_stats(run, groups, added, times)


def _judge(run: CycleRun, train, texts, cycle: int):
    """The black box's ranking answers, one per training problem."""
    cfg = run.cfg
    convs = []
    for i, (p, ts) in enumerate(zip(train, texts)):
        rng = np.random.default_rng(derive_seed(cfg.seed, JUDGE, cycle, i))
        demos = draw_demos(run.store, cfg.n_demos, cfg.k, rng, seed_fill=cfg.seed_demos)
        convs.append(judge_conversation(p.question, ts, demos, rng, max_chars=cfg.candidate_max_chars))
    return run.bb.complete(convs, GenerationSettings(max_new_tokens=cfg.judge_max_new_tokens,
                                                     batch_size=cfg.batch_size),
                           progress=f"cycle {cycle}: black box" if cfg.progress else False)


def _group(run: CycleRun, cycle: int, p, prompt: str, texts, finished, wb_scores, bb_text: str) -> dict:
    """The ``cycles/NNN.jsonl`` record of one problem: both rankings, their LCS, the target."""
    cfg = run.cfg
    wb_order = order_from_scores(wb_scores)
    parse = parse_ranking(bb_text, cfg.k, fallback=wb_order)
    # only what the black box ranked itself (naming k-1 fixes the last one too)
    m = explicit_length(parse.n_found, cfg.k) if parse.parsed else 0
    agreed = lcs(parse.order[:m], wb_order) if parse.parsed else []
    if not parse.parsed:
        target, top = [], 0
    elif cfg.label == "lcs":
        target, top = list(agreed), len(agreed)
    else:
        target, top = list(parse.order), m
    rewards = correct = None
    if run.mode == "grade":
        rewards, correct = score_texts(run.task, run.mode, None, [p] * cfg.k, texts)
    return {
        "cycle": cycle, "uid": p.uid, "question": p.question, "prompt": prompt,
        "responses": texts, "finished": finished, "wb_scores": wb_scores,
        "wb_order": list(wb_order), "bb_text": bb_text,
        "bb_order": list(parse.order), "parsed": parse.parsed, "n_found": parse.n_found,
        "lcs": agreed, "agreement": len(agreed) / cfg.k if parse.parsed else None,
        "exact": m == cfg.k and list(parse.order) == list(wb_order),
        "n_ranked": m, "target": target, "target_top": top, "rewards": rewards, "correct": correct,
    }


def _cycle_stats(run: CycleRun, groups: Sequence[dict], added: int, times: dict) -> dict:
    """Agreement, parse failures, demonstrations and pairwise accuracies of a cycle's groups."""
    k = run.cfg.k
    parsed = [g for g in groups if g["parsed"]]
    bb_w = bb_n = wb_w = wb_n = 0
    for g in groups:
        if g["correct"] is None:
            continue
        if g["parsed"]:
            # the black box's ranking as scores: rank 0 highest
            bscore = [0.0] * k
            for r, c in enumerate(g["bb_order"]):
                bscore[c] = -float(r)
            w, n = pairwise_accuracy(bscore, g["correct"])
            bb_w, bb_n = bb_w + w, bb_n + n
        w, n = pairwise_accuracy(g["wb_scores"], g["correct"])
        wb_w, wb_n = wb_w + w, wb_n + n
    return {
        "agreement": float(np.mean([g["agreement"] for g in parsed])) if parsed else None,
        "exact_match": float(np.mean([g["exact"] for g in parsed])) if parsed else None,
        "parse_failures": len(groups) - len(parsed),
        "parse_failure_rate": (len(groups) - len(parsed)) / len(groups),
        "demos_added": added, "demos": len(run.store),
        "sample_reward": (float(np.mean([r for g in groups for r in g["rewards"]]))
                          if run.mode == "grade" else None),
        "black_box_pairwise_accuracy": bb_w / bb_n if bb_n else None,
        "white_box_train_pairwise_accuracy": wb_w / wb_n if wb_n else None,
        "seconds": times,
    }


# ----------------------------------------------------------------------------- step 5
def train_groups(run: CycleRun, groups: Sequence[dict], trainer, *, ranking: bool, cycle: int) -> dict:
    """Step 5: one pass (per epoch) over the groups with a usable target (``ranking``: ranking
    loss plus the SFT term; else SFT on the first target only, the baseline)."""
    import torch

    cfg = run.cfg
    usable = [g for g in groups if trainable(g, ranking)]
    t0 = time.perf_counter()
    rank_losses, sft_losses = [], []
    run.lm.model.train()
    bar = None
    total = len(usable) * cfg.epochs
    if cfg.progress and total:
        bar = tqdm(total=total, desc=f"cycle {cycle}: train" if ranking else f"SFT baseline {cycle}",
                   unit="group")
    steps_before = trainer.step_count
    # adapter dropout draws from torch's global generator: seed it per cycle inside a
    # fork, so a cycle trains the same way whether the run was resumed or not
    devices = [run.lm.device.index or 0] if run.lm.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(derive_seed(cfg.seed, DROPOUT, cycle, int(ranking)))
        for epoch in range(cfg.epochs):
            order = np.random.default_rng(derive_seed(cfg.seed, ORDER, cycle, epoch)).permutation(len(usable))
            for gi in order:
                rl, sft = _train_group(run, usable[int(gi)], trainer, ranking)
                if rl is not None:
                    rank_losses.append(rl)
                sft_losses.append(sft)
                if bar is not None:
                    bar.update(1)
    trainer.flush()
    if bar is not None:
        bar.close()
    run.lm.model.eval()
    return {"groups_trained": len(usable), "steps": trainer.step_count - steps_before,
            "rank_loss": float(np.mean(rank_losses)) if rank_losses else None,
            "sft_loss": float(np.mean(sft_losses)) if sft_losses else None,
            "train_seconds": time.perf_counter() - t0}


def _train_group(run: CycleRun, g: dict, trainer, ranking: bool) -> tuple[float | None, float]:
    """Backward pass of one group; returns its (ranking loss or None, SFT loss)."""
    import torch

    cfg = run.cfg
    idx = list(g["target"]) if ranking else [g["target"][0]]
    sums, counts = completion_logprobs(
        run.lm, [g["prompt"]] * len(idx), [g["responses"][i] for i in idx],
        add_end=[g["finished"][i] for i in idx], grad=True,
        batch_size=max(len(idx), 1), autocast=trainer.autocast())
    scores = sums / counts
    sft = -scores[0]
    loss = cfg.sft_weight * sft if ranking else sft
    rank = None
    if ranking:
        kw = {"margin": cfg.margin} if cfg.loss == "rrhf" else {"temperature": cfg.pro_temperature}
        rl = ranking_loss(cfg.loss, scores, torch.arange(len(idx)), top=min(g["target_top"], len(idx)), **kw)
        loss = loss + rl
        rank = float(rl.detach())
    trainer.backward(loss)
    return rank, float(sft.detach())
