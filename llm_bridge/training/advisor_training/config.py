"""Settings of one Advisor-training run (:class:`AdvisorTrainingConfig`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ...ct2 import resolve_engine
from ...errors import ConfigError
from ...evaluate import EvalConfig
from ...validate import check_int, check_positive

__all__ = ["AdvisorTrainingConfig", "METHODS", "SIGNALS", "RFT_SELECT", "POSITIVES", "CONDITIONS", "RESUME_FREE"]

METHODS = ("rft", "dpo", "rft+dpo")
SIGNALS = ("scheme", "support", "all")
RFT_SELECT = ("above_mean", "correct")
#: Which sampled hints may be positives (RFT examples, DPO chosen hints): see ``positives``.
POSITIVES = ("any", "content")
CONDITIONS = ("none", "prior", "posterior")
# settings that may change between a run and its resumption
RESUME_FREE = ("progress", "device", "gen_batch_size", "amp", "transfer_receiver")


def check_positives(positives: str) -> None:
    """Refuse a ``positives`` value that is not one of :data:`POSITIVES`."""
    if positives not in POSITIVES:
        raise ConfigError(f"positives: expected one of {', '.join(POSITIVES)}, got {positives!r}")


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
    positives : {"any", "content"}
        Which sampled hints may be positives, i.e. RFT examples and the chosen hint of a DPO
        pair. ``any``: every helpful hint, including one whose Advisor sentence the leak
        filter removed entirely; its training target is then the empty text, so the Advisor
        learns to write nothing (the main run of issue 13 did: 294 of its 300 trained posterior
        hints were the bare instruction). ``content``: only hints whose Advisor sentence
        reached the Receiver whole (non-empty, no sentence filtered), so every target is the
        Advisor's own cleaned sample; any hint may still be the rejected one of a pair.
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
    engine, compute_type : str
        Decoding engine of the Receivers, of the evaluations' Advisor hints and of the sampled
        training hints (:func:`llm_bridge.ct2.resolve_engine`: ``auto`` is ct2 where
        CTranslate2 is installed; there the ``k`` hints of a chunk of groups are one call with
        ``k`` hypotheses). Training is on torch; the trained Advisor is converted merged for
        the after evaluation.
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
    positives: str = "any"
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
    engine: str = "auto"
    compute_type: str | None = None
    receiver_compute_type: str | None = None

    def __post_init__(self):
        for name in ("n_train", "n", "k", "epochs", "batch_size", "grad_accum", "lora_r",
                     "max_pairs_per_group", "n_calibration", "horizon", "max_new_tokens",
                     "hint_tokens", "gen_batch_size"):
            check_int(name, getattr(self, name))
        check_int("dpo_epochs", self.dpo_epochs, allow_none=True)
        check_int("n_prior", self.n_prior, allow_none=True)
        self.engine_setting()
        if self.receiver_compute_type is not None:
            self.receiver_engine_setting()
            apis = [n for n in (self.receiver, self.transfer_receiver) if str(n).startswith("openai:")]
            if apis:  # refused now, not after the first evaluation has run
                raise ConfigError(f"receiver_compute_type: an API Receiver ({apis[0]}) has no compute type")
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
        check_positives(self.positives)
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

    def engine_setting(self) -> tuple[str, str | None]:
        """The resolved ``(engine, compute_type)``."""
        return resolve_engine(self.engine, self.compute_type, self.device)

    def receiver_engine_setting(self) -> tuple[str, str | None]:
        """The resolved ``(engine, compute_type)`` of local Receivers (the training and the
        transfer one): ``receiver_compute_type`` where set, else the Advisor's."""
        if self.receiver_compute_type is None:
            return self.engine_setting()
        return resolve_engine(self.engine, self.receiver_compute_type, self.device,
                              compute_field="receiver_compute_type")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lora_targets"] = list(self.lora_targets) if self.lora_targets else None
        return d

    def eval_config(self, **kw):
        """The :class:`~llm_bridge.evaluate.EvalConfig` of the before/after evaluations."""
        base = EvalConfig(task=self.task, n=self.n, seed=self.seed, advisor=self.advisor,
                          receiver=self.receiver, n_calibration=self.n_calibration,
                          n_train=self.n_prior, states=self.states, effort_cost=self.effort_cost,
                          scheme=self.scheme, horizon=self.horizon,
                          max_new_tokens=self.max_new_tokens, hint_tokens=self.hint_tokens,
                          hint_format=self.hint_format, batch_size=self.gen_batch_size,
                          chunk=self.gen_batch_size, device=self.device, engine=self.engine,
                          compute_type=self.compute_type,
                          receiver_compute_type=self.receiver_compute_type)
        return replace(base, **kw)
