"""Settings of a CycleAlign run (:class:`CycleAlignConfig`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ...errors import ConfigError
from ...validate import check_int, check_positive
from ..ranking import LETTERS, RANKING_LOSSES

__all__ = ["CycleAlignConfig", "RESUME_FREE"]

# fields that may change between a run and its resumption
RESUME_FREE = ("cycles", "progress", "batch_size", "baseline_sft")


@dataclass(frozen=True)
class CycleAlignConfig:
    """Settings of a CycleAlign run (defaults sized for SmolLM2-135M on two CPU cores).

    Attributes
    ----------
    cycles : int
        Number of cycles N.
    n_problems : int
        Problems drawn from the task; ``n_test`` of them are held out for evaluation, the
        rest are the training instructions of every cycle.
    n_test : int, optional
        Held-out problems (default ``max(2, n_problems // 3)``).
    seed : int
        Seed of everything (splits, sampling, demonstrations, adapter initialisation).
    k : int
        Responses sampled per instruction (2..26).
    temperature, top_p : float
        White-box sampling settings.
    max_new_tokens : int
        Length limit of the white box's responses (training samples and greedy evaluation).
    judge_max_new_tokens : int
        Length limit of the black box's ranking answer.
    n_demos : int
        Demonstrations per black-box prompt.
    demo_pool : int
        Demonstrations kept in the store (the strongest, most recent ones).
    demo_min_agreement : int
        Minimal LCS length for an agreed ranking to become a demonstration.
    demo_max_chars : int
        Responses in demonstrations are cut to this many characters.
    seed_demos : bool
        While the store holds fewer than ``n_demos`` agreed rankings, fill the prompt with
        the built-in :data:`SEED_DEMONSTRATIONS` (they teach the answer format; small
        judges rarely answer in it zero-shot).
    candidate_max_chars : int
        Responses in the query are cut to this many characters.
    label : {"black_box", "lcs"}
        Training target: the black box's ranking (as far as it ranked: a top-m answer is a
        partial ranking, its unnamed responses are not ordered among themselves), or only
        the LCS-agreed subsequence.
    loss : {"rrhf", "pro"}
        Ranking loss.
    margin : float
        RRHF hinge margin.
    pro_temperature : float
        PRO softmax temperature.
    sft_weight : float
        Weight λ of the supervised term on the top response.
    lr : float
        AdamW learning rate of the adapter.
    epochs : int
        Passes over a cycle's groups.
    grad_accum : int
        Groups per optimiser step.
    max_grad_norm : float
        Gradient clipping.
    lora_r, lora_alpha, lora_dropout, lora_targets
        LoRA settings (targets default per architecture).
    amp : {"auto", "bf16", "fp16", "off"}
        Mixed precision on CUDA (ignored on the CPU).
    reward : {"auto", "grade", "embedding"}
        Task reward: the task's grader (``auto`` for math and code tasks) or embedding
        similarity to the reference answer.
    baseline_sft : bool
        Also run the SFT-on-top-choice baseline after the cycles.
    judge_eval : bool
        Measure the black box as a judge: after each cycle (and at cycle 0, also zero-shot)
        it ranks the held-out candidates of every test problem that has both correct and
        incorrect ones (one black-box call per such problem and measurement), scored against
        the grader (``black_box_ranking_accuracy``). A run folder written before this field
        existed ran without it (its ``run.json`` lacks the field).
    batch_size : int
        Rows per generation batch, white and (local) black box alike; scoring uses at most
        8. Does not change results. On a CPU a decoding step of SmolLM2-135M costs about the
        same for 4 or 32 rows (the weights are read once per step), hence 32.
    progress : bool
        Progress bars on stderr.
    engine, compute_type : str
        Decoding engine of the white box (:func:`llm_bridge.ct2.resolve_engine`; ``auto``: ct2
        where installed). On ct2 its K samples are batched calls with K hypotheses
        (:func:`llm_bridge.generation.generate_samples`), its ranking is ``score_batch``, and
        it is re-converted (merged) whenever its adapter changed; training stays on torch.
    """

    cycles: int = 3
    n_problems: int = 24
    n_test: int | None = None
    seed: int = 0
    k: int = 4
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 96
    judge_max_new_tokens: int = 20
    n_demos: int = 2
    demo_pool: int = 8
    demo_min_agreement: int = 2
    demo_max_chars: int = 200
    seed_demos: bool = True
    candidate_max_chars: int = 500
    label: str = "black_box"
    loss: str = "rrhf"
    margin: float = 0.0
    pro_temperature: float = 1.0
    sft_weight: float = 1.0
    lr: float = 2e-4
    epochs: int = 1
    grad_accum: int = 4
    max_grad_norm: float = 1.0
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] | None = None
    amp: str = "auto"
    reward: str = "auto"
    baseline_sft: bool = True
    judge_eval: bool = True
    batch_size: int = 32
    progress: bool = False
    engine: str = "auto"
    compute_type: str | None = None

    def __post_init__(self):
        def positive_int(name, minimum=1):
            check_int(name, getattr(self, name), minimum)

        for name in ("cycles", "max_new_tokens", "judge_max_new_tokens", "demo_pool",
                     "demo_max_chars", "candidate_max_chars", "epochs", "grad_accum",
                     "lora_r", "batch_size"):
            positive_int(name)
        positive_int("n_problems", 2)
        positive_int("k", 2)
        positive_int("n_demos", 0)
        positive_int("demo_min_agreement", 1)
        if self.k > len(LETTERS):
            raise ConfigError(f"k: at most {len(LETTERS)} responses per instruction, got {self.k}")
        if self.n_test is not None:
            positive_int("n_test")
            if self.n_test >= self.n_problems:
                raise ConfigError(f"n_test: must be smaller than n_problems ({self.n_problems}), "
                                  f"got {self.n_test}")
        if self.label not in ("black_box", "lcs"):
            raise ConfigError(f"label: expected 'black_box' or 'lcs', got {self.label!r}")
        if self.loss not in RANKING_LOSSES:
            raise ConfigError(f"loss: expected one of {RANKING_LOSSES}, got {self.loss!r}")
        if self.reward not in ("auto", "grade", "embedding"):
            raise ConfigError(f"reward: expected 'auto', 'grade' or 'embedding', got {self.reward!r}")
        check_positive("temperature", self.temperature)
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p: expected in (0, 1], got {self.top_p!r}")
        for name in ("lr", "lora_alpha", "pro_temperature"):
            check_positive(name, getattr(self, name))
        for name in ("sft_weight", "margin"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name}: expected >= 0, got {getattr(self, name)!r}")
        if self.lora_targets is not None:
            object.__setattr__(self, "lora_targets", tuple(self.lora_targets))

    @property
    def test_size(self) -> int:
        return self.n_test if self.n_test is not None else max(2, self.n_problems // 3)

    @property
    def train_size(self) -> int:
        return self.n_problems - self.test_size

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lora_targets"] = list(self.lora_targets) if self.lora_targets else None
        return d
