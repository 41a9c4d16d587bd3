"""The state of a CycleAlign run (:class:`CycleRun`): the white box with its adapter and
trainer, the judge, the demonstrations and the folder; sampling, scoring, evaluation and
checkpoints. The steps of a cycle are in :mod:`.cycle`, the loop in :mod:`.run`."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from persuasion.runs import derive_seed, read_jsonl, write_jsonl

from ...ct2 import resolve_engine, with_ct2
from ...errors import ConfigError
from ...generation import GenerationSettings, chat_prompt, generate, generate_samples
from ..logprobs import completion_logprobs
from ..lora import (AdapterTrainer, LoraSettings, adapter_hash, attach_lora, load_checkpoint,
                    lora_parameters, save_checkpoint)
from ..ranking import pairwise_accuracy
from .config import CycleAlignConfig
from .judge import DemonstrationStore, draw_demos, judge_conversation, judge_pairs
from .rewards import EmbeddingReward, pair_interval, reward_interval, reward_mode, score_texts

__all__ = ["CycleRun", "SAMPLE", "JUDGE", "ORDER", "DROPOUT", "HELDOUT", "JUDGE_EVAL"]

# stream numbers of derive_seed(seed, stream, ...): one per kind of random draw
SAMPLE, JUDGE, ORDER, DROPOUT, HELDOUT, JUDGE_EVAL = 1, 2, 3, 4, 7, 8


def _jsonl(path: Path, rows: Sequence[dict]) -> None:
    write_jsonl(path, rows, sort_keys=True)


class CycleRun:
    """State of one run (white box with its adapter, trainer, demonstrations, folder)."""

    def __init__(self, config: CycleAlignConfig, white_box, black_box, task, out_dir,
                 hooks: Callable[[str, dict], None] | None):
        self.cfg = config
        self.lm = white_box
        self.bb = black_box
        self.task = task
        self.out = Path(out_dir)
        self.hooks = hooks
        if getattr(black_box, "lm", None) is white_box:
            raise ConfigError("black_box: it wraps the white-box model itself; training would change "
                              "the judge too — load a separate copy for the black box")
        self.mode = reward_mode(config, task)
        self.embedder = EmbeddingReward() if self.mode == "embedding" else None
        self.lora_settings = LoraSettings(r=config.lora_r, alpha=config.lora_alpha,
                                          dropout=config.lora_dropout,
                                          target_modules=config.lora_targets)
        self.peft = attach_lora(white_box, self.lora_settings, seed=config.seed)
        self.trainer = AdapterTrainer(lora_parameters(self.peft), device=white_box.device,
                                      lr=config.lr, grad_accum=config.grad_accum,
                                      max_grad_norm=config.max_grad_norm, amp=config.amp)
        self.store = DemonstrationStore(config.demo_pool, config.demo_min_agreement,
                                        config.demo_max_chars)
        self.metrics_path = self.out / "metrics.jsonl"
        self.engine, self.compute_type = resolve_engine(
            config.engine, config.compute_type, getattr(white_box.device, "type", "cpu"))
        self._view_key, self._view = None, None
        self.convert_seconds = 0.0  # spent converting the white box for its engine

    def view(self):
        """The white box as it computes now, on the run's engine: itself on torch; on ct2 a
        conversion of its current weights (adapter merged, or left out while disabled),
        made again whenever the adapter changed (training steps, a restored checkpoint)."""
        if self.engine == "torch":
            return self.lm
        disabled = any(getattr(m, "disable_adapters", False) for m in self.lm.model.modules()
                       if hasattr(m, "lora_A"))
        key = "base" if disabled else adapter_hash(self.peft)
        if key != self._view_key:
            t0 = time.perf_counter()
            fp = self.lm.fingerprint if disabled else f"{self.lm.fingerprint}|lora:{key}"
            self.lm.model.eval()
            self._view = with_ct2(replace(self.lm, fingerprint=fp, engine=None),
                                  compute_type=self.compute_type)
            self._view_key = key
            self.convert_seconds += time.perf_counter() - t0
        return self._view

    # -- helpers
    def hook(self, event: str, **info) -> None:
        if self.hooks is not None:
            self.hooks(event, info)

    def conversation(self, problem) -> list[dict]:
        conv = []
        system = self.task.system_prompt()
        if system:
            conv.append({"role": "system", "content": system})
        conv.append({"role": "user", "content": self.task.user_prompt(problem)})
        return conv

    def prompts(self, problems) -> list[str]:
        return [chat_prompt(self.lm, self.conversation(p)) for p in problems]

    def sample(self, problems, base_seed: int, desc: str):
        """k sampled responses per problem: ``texts[i][j]``, ``finished[i][j]`` (response
        ``j`` has seed ``derive_seed(base_seed, j)``; on ct2 the k are one batched call per
        group of prompts, :func:`llm_bridge.generation.generate_samples`)."""
        cfg = self.cfg
        prompts = self.prompts(problems)
        settings = GenerationSettings(max_new_tokens=cfg.max_new_tokens, do_sample=True,
                                      temperature=cfg.temperature, top_p=cfg.top_p,
                                      batch_size=cfg.batch_size)
        gens = generate_samples(self.view(), prompts, settings,
                                [derive_seed(base_seed, j) for j in range(cfg.k)],
                                progress=desc if cfg.progress else False)
        texts = [[g.text for g in row] for row in gens]
        finished = [[g.new_tokens < cfg.max_new_tokens for g in row] for row in gens]
        return prompts, texts, finished

    def scores(self, prompts, texts, finished) -> list[list[float]]:
        """Length-normalised log-likelihoods (no gradient), per group."""
        flat_p = [p for p, ts in zip(prompts, texts) for _ in ts]
        flat_t = [t for ts in texts for t in ts]
        flat_f = [f for fs in finished for f in fs]
        self.lm.model.eval()
        sums, counts = completion_logprobs(self.view(), flat_p, flat_t, add_end=flat_f,
                                           batch_size=min(self.cfg.batch_size, 8))
        s = (sums / counts.clamp(min=1)).tolist()
        out, pos = [], 0
        for ts in texts:
            out.append(s[pos:pos + len(ts)])
            pos += len(ts)
        return out

    # -- evaluation
    def heldout(self, test) -> list[dict]:
        """The fixed ranking-accuracy candidates (sampled from the untrained model)."""
        path = self.out / "heldout.jsonl"
        if path.exists():
            rows = read_jsonl(path)
            if [r["uid"] for r in rows] == [p.uid for p in test]:
                return rows
        with self.peft.disable_adapter():
            prompts, texts, finished = self.sample(test, derive_seed(self.cfg.seed, HELDOUT, 0),
                                                   "held-out samples")
        rows = []
        for p, prompt, ts, fs in zip(test, prompts, texts, finished):
            rewards, correct = score_texts(self.task, self.mode, self.embedder, [p] * len(ts), ts)
            rows.append({"uid": p.uid, "prompt": prompt, "responses": ts, "finished": fs,
                         "rewards": rewards, "correct": correct})
        _jsonl(path, rows)
        return rows

    def evaluate(self, test, heldout, name: str) -> dict:
        """Greedy answers on the test problems (``eval/<name>.jsonl``): reward (with its 95%
        interval, :func:`.rewards.reward_interval`), accuracy, and the white box's ranking
        accuracy on the held-out candidates (interval over problems, :func:`.rewards.pair_interval`)."""
        cfg = self.cfg
        t0 = time.perf_counter()
        self.lm.model.eval()
        gens = generate(self.view(), self.prompts(test),
                        GenerationSettings(max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size),
                        progress=f"evaluate {name}" if cfg.progress else False)
        texts = [g.text for g in gens]
        rewards, correct = score_texts(self.task, self.mode, self.embedder, test, texts)
        (self.out / "eval").mkdir(exist_ok=True)
        _jsonl(self.out / "eval" / f"{name}.jsonl",
               [{"uid": p.uid, "answer": t, "reward": r, "correct": None if correct is None else c}
                for p, t, r, c in zip(test, texts, rewards, correct or [None] * len(test))])
        wins = pairs = problems = 0
        if heldout and heldout[0]["correct"] is not None:
            scores = self.scores([h["prompt"] for h in heldout], [h["responses"] for h in heldout],
                                 [h["finished"] for h in heldout])
            for h, s in zip(heldout, scores):
                w, n = pairwise_accuracy(s, h["correct"])
                wins, pairs, problems = wins + w, pairs + n, problems + (n > 0)
        return {"reward": float(np.mean(rewards)), "reward_ci95": reward_interval(rewards),
                "accuracy": None if correct is None else float(np.mean(correct)),
                "ranking_accuracy": (wins / pairs) if pairs else None,
                "ranking_accuracy_ci95": pair_interval(wins, pairs, problems),
                "ranking_pairs": int(pairs), "ranking_problems": int(problems),
                "eval_seconds": time.perf_counter() - t0}

    def judge_eval(self, test, heldout, cycle: int, *, zero_shot: bool = False) -> dict:
        """The black box as a judge of the held-out candidates (``eval/judge-NNN.jsonl``).

        Each held-out problem whose candidates are both correct and incorrect is one query
        with the cycle's judge prompt and the demonstrations the next cycle would draw (the
        store as it stands after cycle ``cycle``, seed demonstrations filling it; at cycle 0
        an empty store, as cycle 1 prompts), drawn from ``derive_seed(seed, JUDGE_EVAL,
        cycle, i)``; ``zero_shot``: no demonstrations. The queries are fixed by the run's
        state, so a cached black box answers a rerun without new calls. Scored by
        :func:`.judge.judge_pairs`; returns the ``black_box_ranking_*`` fields of the
        metrics row (``_zero_shot`` appended to each name when ``zero_shot``) and
        ``judge_seconds``."""
        cfg = self.cfg
        t0 = time.perf_counter()
        store = self.store if cycle > 0 else DemonstrationStore(cfg.demo_pool, cfg.demo_min_agreement,
                                                                cfg.demo_max_chars)
        by_uid = {p.uid: p for p in test}
        todo, convs = [], []
        for i, h in enumerate(heldout):
            if h["correct"] is None or all(h["correct"]) or not any(h["correct"]):
                continue
            rng = np.random.default_rng(derive_seed(cfg.seed, JUDGE_EVAL, cycle, i))
            demos = [] if zero_shot else draw_demos(store, cfg.n_demos, cfg.k, rng,
                                                     seed_fill=cfg.seed_demos)
            todo.append((h, [d.uid for d in demos]))
            convs.append(judge_conversation(by_uid[h["uid"]].question, h["responses"], demos, rng,
                                            max_chars=cfg.candidate_max_chars))
        answers = []
        if convs:
            answers = self.bb.complete(convs, GenerationSettings(max_new_tokens=cfg.judge_max_new_tokens,
                                                                 batch_size=cfg.batch_size),
                                       progress=f"judge held-out {cycle}" if cfg.progress else False)
        records = [{"uid": h["uid"], "demos": demos, "bb_text": a.text, "correct": h["correct"],
                    **judge_pairs(a.text, h["correct"])} for (h, demos), a in zip(todo, answers, strict=True)]
        name = f"judge-{cycle:03d}" + ("-zero-shot" if zero_shot else "")
        (self.out / "eval").mkdir(exist_ok=True)
        _jsonl(self.out / "eval" / f"{name}.jsonl", records)
        right = sum(r["right"] for r in records)
        pairs = sum(r["pairs"] for r in records)
        parsed = [r for r in records if r["parsed"]]
        fails = len(records) - len(parsed)
        # the accuracy over the parsed answers' pairs (an unparsed answer orders nothing; its
        # rate is beside it), the interval over those answers' problems
        out = {"black_box_ranking_accuracy": right / pairs if pairs else None,
               "black_box_ranking_accuracy_ci95": pair_interval(right, pairs, len(parsed)),
               "black_box_ranking_pairs": int(pairs), "black_box_ranking_problems": len(records),
               "black_box_ranking_parse_failures": fails,
               "black_box_ranking_parse_failure_rate": fails / len(records) if records else None,
               "black_box_ranking_left_out_rate": (sum(r["left_out"] for r in parsed)
                                                   / (cfg.k * len(parsed)) if parsed else None)}
        if zero_shot:
            out = {f"{k}_zero_shot": v for k, v in out.items()}
        out["judge_seconds"] = time.perf_counter() - t0
        return out

    # -- checkpoints
    def checkpoint_dir(self, cycle: int) -> Path:
        return self.out / "checkpoints" / f"cycle-{cycle:03d}"

    def save(self, cycle: int, total_steps: int) -> None:
        save_checkpoint(self.checkpoint_dir(cycle), self.peft, self.trainer,
                        state={"cycle": cycle, "steps": total_steps, "demos": self.store.to_list()})

    def restore(self, cycle: int) -> dict:
        state = load_checkpoint(self.checkpoint_dir(cycle), self.peft, self.trainer)
        self.store.load_list(state.get("demos", []))
        return state
