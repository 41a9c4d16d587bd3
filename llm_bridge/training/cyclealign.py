"""CycleAlign: align a small white-box model with a black-box model's rankings.

After Hong et al., "CycleAlign: Iterative Distillation from Black-box LLM to White-box Models
for Better Human Alignment" (Findings of ACL 2024); exact prompts and loss weights of the
paper were not available, so the choices below are ours and are all configurable
(:class:`CycleAlignConfig`). One cycle:

1. **Sample.** The white-box model samples ``k`` responses to each training instruction
   (one seeded sampling pass per response index, so the k samples differ).
2. **Black-box ranking.** The black box (any :class:`~llm_bridge.receivers.Receiver`: a local
   model or an OpenAI-compatible API) ranks the k responses from an in-context prompt: a
   system message, up to ``n_demos`` demonstrations (instruction, responses labelled A, B,
   …, the agreed ranking ``"B > A > C"``) and the query. The answer is parsed robustly
   (:func:`~llm_bridge.training.ranking.parse_ranking`); an unparsable answer is counted as a
   failed parse and its group is not trained on.
3. **White-box ranking.** The white box ranks the same responses by length-normalised
   log-likelihood (mean log-probability of the response tokens, end-of-turn included when
   the response ended by itself).
4. **Agreement.** The longest common subsequence (LCS) of the two rankings; the cycle's
   agreement rate is the mean of ``|LCS| / k`` over parsed groups (the exact-match rate is
   reported too). Only what the black box ranked itself counts: responses it left out are
   appended in the white box's order for the record, not counted as agreement. Agreed
   subsequences of length ``>= demo_min_agreement`` become demonstrations for the next
   cycles (a store of the strongest and most recent, from which each query draws
   ``n_demos`` with a seeded generator; built-in seed demonstrations fill the prompt until
   there are enough, since small judges rarely answer in the format zero-shot).
5. **Training.** LoRA adapters of the white box are trained on the pseudo-label — the
   black-box ranking (``label="black_box"``, as in the paper) or only the LCS-agreed
   subsequence (``label="lcs"``) — with a ranking loss over the responses' length-normalised
   log-likelihoods (RRHF pairwise hinge or PRO listwise softmax) plus ``sft_weight`` times the
   negative log-likelihood of the top response.

Metrics per cycle (after its training step): **agreement**; **reward**, the mean task reward
of the white box's greedy answers on held-out test problems (the task's grader for math and
code; cosine similarity of sentence embeddings to the reference answer for open-ended
tasks); **ranking accuracy** where correctness is known: on a fixed set of ``k`` candidate
responses per test problem (sampled once from the untrained model and graded), the fraction
of (correct, incorrect) pairs the white box scores in the right order.

Baselines: ``no_training`` (the same evaluation before any training, cycle 0) and
``sft_top_choice``: a fresh adapter trained with the same number of optimiser steps by
supervised fine-tuning on the black box's top choice alone, on the groups the CycleAlign run
collected (so it sees the same data and the same black-box labels, without ranking loss).

Files in ``out_dir``: ``run.json`` (identity of the run, checked on resume),
``metrics.jsonl`` (one row per completed phase, appended as it completes), ``cycles/NNN.jsonl``
(every group: responses, both rankings, LCS, scores), ``eval/NNN.jsonl`` (greedy answers),
``heldout.jsonl`` (the ranking-accuracy candidates), ``checkpoints/cycle-NNN/`` (adapter,
optimiser, RNG state, demonstrations), ``reward.png`` and ``result.json``. A rerun with the
same ``out_dir`` skips completed cycles and reloads the last checkpoint.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import ConfigError
from ..jsonl import append_jsonl, read_jsonl, write_jsonl
from ..jsonl import repair_jsonl as _repair
from ..validate import check_int, check_positive
from .ranking import (LETTERS, RANKING_LOSSES, explicit_length, format_ranking, lcs,
                      order_from_scores, pairwise_accuracy, parse_ranking, ranking_loss)

__all__ = [
    "CycleAlignConfig", "Demonstration", "DemonstrationStore", "run_cyclealign",
    "completion_logprobs", "judge_conversation", "read_metrics", "plot_rewards",
    "measure_training_speed",
    "JUDGE_SYSTEM_PROMPT", "SEED_DEMONSTRATIONS",
]

JUDGE_SYSTEM_PROMPT = (
    "You are an expert judge. You see an instruction and {k} candidate responses labelled "
    "{letters}. Rank all the responses from best to worst: a good response is correct, "
    "complete and does what the instruction asks. Reply with the ranking only: the letters, "
    "best first, separated by ' > '."
)

# fields that may change between a run and its resumption
_RESUME_FREE = ("cycles", "progress", "batch_size", "baseline_sft")


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
    batch_size : int
        Rows per generation batch, white and (local) black box alike; scoring uses at most
        8. Does not change results. On a CPU a decoding step of SmolLM2-135M costs about the
        same for 4 or 32 rows (the weights are read once per step), hence 32.
    progress : bool
        Progress bars on stderr.
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
    batch_size: int = 32
    progress: bool = False

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


# ----------------------------------------------------------------------------- demonstrations
@dataclass(frozen=True)
class Demonstration:
    """An agreed ranking kept as an in-context example for the black box.

    Attributes
    ----------
    instruction : str
    responses : tuple of str
        The responses of the agreed subsequence, best first.
    strength : float
        ``|LCS| / k`` of the group it came from.
    cycle : int
    uid : str
        The problem's id (a newer demonstration of the same problem replaces an older one).
    """

    instruction: str
    responses: tuple[str, ...]
    strength: float
    cycle: int
    uid: str = ""


#: Hand-written demonstrations of the answer format (responses best first), used until the
#: store holds enough agreed rankings. Responses beyond ``k`` are dropped.
SEED_DEMONSTRATIONS: tuple[Demonstration, ...] = (
    Demonstration("What is 7 + 5?",
                  ("7 + 5 = 12, so the answer is 12.", "The answer is 12.",
                   "7 + 5 = 13, so the answer is 13.", "I like numbers."), 1.0, 0, "seed/0"),
    Demonstration("Write a Python function that returns the square of x.",
                  ("def square(x):\n    return x * x", "The square of x is x * x.",
                   "def square(x):\n    return x + x", "Python is a programming language."),
                  1.0, 0, "seed/1"),
    Demonstration("Tom has 3 apples and buys 4 more. How many apples does he have now?",
                  ("He has 3 + 4 = 7 apples. The answer is 7.", "7",
                   "He has 3 - 4 = -1 apples. The answer is -1.", "Apples are red."),
                  1.0, 0, "seed/2"),
)


def _seed_demos(n: int, k: int) -> list[Demonstration]:
    return [replace(d, responses=d.responses[:k]) for d in SEED_DEMONSTRATIONS[:max(n, 0)]]


class DemonstrationStore:
    """The strongest, most recent agreed rankings, for the black box's prompt.

    Parameters
    ----------
    capacity : int
        Demonstrations kept; beyond it the weakest (then oldest) are dropped.
    min_agreement : int
        Minimal LCS length for a group to become a demonstration.
    max_chars : int
        Responses are cut to this many characters when stored.
    """

    def __init__(self, capacity: int = 8, min_agreement: int = 2, max_chars: int = 240):
        if capacity < 1:
            raise ConfigError(f"demo_pool: expected a positive integer, got {capacity}")
        self.capacity = int(capacity)
        self.min_agreement = max(int(min_agreement), 2)
        self.max_chars = int(max_chars)
        self.items: list[Demonstration] = []
        self._added = 0

    def __len__(self) -> int:
        return len(self.items)

    def add(self, instruction: str, responses: Sequence[str], agreed: Sequence[int], *,
            k: int, cycle: int, uid: str = "") -> bool:
        """Offer an agreed subsequence ``agreed`` (candidate indices, best first) of the
        group's ``responses``; returns whether it was stored."""
        agreed = [int(i) for i in agreed]
        if len(agreed) < self.min_agreement:
            return False
        texts = tuple(_cut(responses[i], self.max_chars) for i in agreed)
        if len(set(texts)) < len(texts):  # identical responses teach no preference
            return False
        demo = Demonstration(instruction, texts, len(agreed) / k, int(cycle), uid)
        self.items = [d for d in self.items if not (uid and d.uid == uid)]
        self.items.append(demo)
        self.items.sort(key=lambda d: (-d.strength, -d.cycle))
        del self.items[self.capacity:]
        return demo in self.items

    def select(self, n: int, rng: np.random.Generator) -> list[Demonstration]:
        """``n`` demonstrations drawn without replacement (all of them if fewer)."""
        if n <= 0 or not self.items:
            return []
        if n >= len(self.items):
            idx = rng.permutation(len(self.items))
        else:
            idx = rng.choice(len(self.items), size=n, replace=False)
        return [self.items[int(i)] for i in idx]

    def to_list(self) -> list[dict]:
        return [dict(asdict(d), responses=list(d.responses)) for d in self.items]

    def load_list(self, items: Sequence[dict]) -> "DemonstrationStore":
        self.items = [Demonstration(d["instruction"], tuple(d["responses"]), float(d["strength"]),
                                    int(d["cycle"]), d.get("uid", "")) for d in items]
        return self


def _cut(text: str, max_chars: int) -> str:
    text = str(text).strip()
    return text if len(text) <= max_chars else text[:max_chars].rstrip() + " …"


def _query_text(instruction: str, responses: Sequence[str], max_chars: int) -> str:
    parts = [f"Instruction:\n{instruction.strip()}"]
    for i, r in enumerate(responses):
        parts.append(f"[{LETTERS[i]}]\n{_cut(r, max_chars) or '(empty)'}")
    letters = ", ".join(LETTERS[:len(responses)])
    parts.append(f"Rank the responses {letters} from best to worst.")
    return "\n\n".join(parts)


def judge_conversation(instruction: str, responses: Sequence[str],
                       demos: Sequence[Demonstration], rng: np.random.Generator, *,
                       max_chars: int = 500) -> list[dict]:
    """The black box's ranking prompt: system message, demonstrations as earlier turns, query.

    Each demonstration's responses are shown in a random order (from ``rng``) and its
    answer is the agreed ranking in that labelling, e.g. ``"C > A > B"``.
    """
    k = len(responses)
    letters = ", ".join(LETTERS[:k])
    messages = [{"role": "system", "content": JUDGE_SYSTEM_PROMPT.format(k=k, letters=letters)}]
    for d in demos:
        perm = rng.permutation(len(d.responses))          # shown position -> agreed rank
        shown = [d.responses[int(j)] for j in perm]
        rank_of = {int(j): pos for pos, j in enumerate(perm)}
        answer = format_ranking([rank_of[r] for r in range(len(d.responses))])
        messages.append({"role": "user", "content": _query_text(d.instruction, shown, max_chars)})
        messages.append({"role": "assistant", "content": answer})
    messages.append({"role": "user", "content": _query_text(instruction, responses, max_chars)})
    return messages


# ----------------------------------------------------------------------------- scoring
def _end_token(lm) -> int | None:
    """The token that ends an assistant turn: ``<|im_end|>``-style if the vocabulary has
    one that the chat template uses, else the tokenizer's EOS."""
    tok = lm.tokenizer
    template = getattr(tok, "chat_template", None) or ""
    vocab = tok.get_vocab()
    for special in ("<|im_end|>", "<end_of_turn>", "<|eot_id|>"):
        if special in vocab and special in template:
            return int(vocab[special])
    return tok.eos_token_id


def completion_logprobs(lm, prompts: Sequence[str], completions: Sequence[str], *,
                        add_end: Sequence[bool] | None = None, grad: bool = False,
                        batch_size: int = 8, autocast=None):
    """Summed log-probability and token count of each completion given its prompt.

    Scored by :func:`llm_bridge.generation.token_logprobs` (the same prompt encoding and
    padding as generation); in addition the end-of-turn token is appended to completion ``i``
    when ``add_end[i]`` (a response that ended by itself), and an empty completion is scored
    on the end token alone.

    Returns
    -------
    (sums, counts) : two torch.Tensor of shape (N,)
        ``sums`` carries the autograd graph when ``grad=True``.
    """
    from ..generation import encode_prompts, token_logprobs

    if len(prompts) != len(completions):
        raise ConfigError(f"completions: expected {len(prompts)} (one per prompt), got {len(completions)}")
    tok = lm.tokenizer
    end = _end_token(lm)
    c_ids = []
    for i, c in enumerate(completions):
        ids = tok(c, add_special_tokens=False)["input_ids"]
        if (add_end is not None and add_end[i]) or not ids:
            ids = ids + ([end] if end is not None else [])
        c_ids.append(ids)
    if any(not c for c in c_ids):
        raise ConfigError("completions: an empty completion and no end token to score")
    return token_logprobs(lm, encode_prompts(lm, prompts), c_ids, grad=grad, batch_size=batch_size,
                          autocast=autocast)


# ----------------------------------------------------------------------------- rewards
class _EmbeddingReward:
    """Cosine similarity of sentence embeddings (all-MiniLM-L6-v2, offline package)."""

    def __init__(self):
        from ..states import MiniLMEmbedder

        self.embed = MiniLMEmbedder()

    def __call__(self, problems, texts) -> list[float]:
        refs = [p.answer or "" for p in problems]
        emb = self.embed(list(texts) + refs)
        a, b = emb[:len(texts)], emb[len(texts):]
        return [float(x) for x in (a * b).sum(axis=1)]


def _reward_mode(config: CycleAlignConfig, task) -> str:
    if config.reward != "auto":
        return config.reward
    return "grade" if getattr(task, "kind", None) in ("math", "code") else "embedding"


def _score_texts(task, mode, embedder, problems, texts):
    """(rewards, correct flags or None) of texts answering problems."""
    if mode == "grade":
        grades = [task.grade(p, t) for p, t in zip(problems, texts)]
        return [float(g.score) for g in grades], [bool(g.correct) for g in grades]
    return embedder(problems, texts), None


# ----------------------------------------------------------------------------- files
def read_metrics(path) -> list[dict]:
    """Rows of a ``metrics.jsonl``: one per (record, cycle), the first occurrence wins."""
    path = Path(path)
    out, seen = [], set()
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        key = (row.get("record"), row.get("cycle"))
        if key in seen:
            continue
        seen.add(key)
        out.append(row)
    return out


def _append_jsonl(path: Path, rows: Sequence[dict]) -> None:
    append_jsonl(path, rows, sort_keys=True)


def _write_jsonl(path: Path, rows: Sequence[dict]) -> None:
    write_jsonl(path, rows, sort_keys=True)


_read_jsonl = read_jsonl


def _seed(*parts: int) -> int:
    """A 31-bit seed derived from integers (stable across runs and platforms)."""
    return int(np.random.SeedSequence([int(p) % (2 ** 32) for p in parts]).generate_state(1)[0]) >> 1


# ----------------------------------------------------------------------------- the loop
class _Run:
    """State of one run; :func:`run_cyclealign` is the public entry point."""

    def __init__(self, config: CycleAlignConfig, white_box, black_box, task, out_dir,
                 hooks: Callable[[str, dict], None] | None):
        from .lora import AdapterTrainer, LoraSettings, attach_lora, lora_parameters

        self.cfg = config
        self.lm = white_box
        self.bb = black_box
        self.task = task
        self.out = Path(out_dir)
        self.hooks = hooks
        if getattr(black_box, "lm", None) is white_box:
            raise ConfigError("black_box: it wraps the white-box model itself; training would change "
                              "the judge too — load a separate copy for the black box")
        self.mode = _reward_mode(config, task)
        self.embedder = _EmbeddingReward() if self.mode == "embedding" else None
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
        from ..generation import chat_prompt

        return [chat_prompt(self.lm, self.conversation(p)) for p in problems]

    def sample(self, problems, base_seed: int, desc: str):
        """k sampled responses per problem: ``texts[i][j]``, ``finished[i][j]``."""
        from ..generation import GenerationSettings, generate

        cfg = self.cfg
        prompts = self.prompts(problems)
        texts = [[None] * cfg.k for _ in problems]
        finished = [[None] * cfg.k for _ in problems]
        for j in range(cfg.k):
            settings = GenerationSettings(max_new_tokens=cfg.max_new_tokens, do_sample=True,
                                          temperature=cfg.temperature, top_p=cfg.top_p,
                                          seed=_seed(base_seed, j), batch_size=cfg.batch_size)
            gens = generate(self.lm, prompts, settings,
                            progress=f"{desc} {j + 1}/{cfg.k}" if cfg.progress else False)
            for i, g in enumerate(gens):
                texts[i][j] = g.text
                finished[i][j] = g.new_tokens < cfg.max_new_tokens
        return prompts, texts, finished

    def scores(self, prompts, texts, finished) -> list[list[float]]:
        """Length-normalised log-likelihoods (no gradient), per group."""
        flat_p = [p for p, ts in zip(prompts, texts) for _ in ts]
        flat_t = [t for ts in texts for t in ts]
        flat_f = [f for fs in finished for f in fs]
        self.lm.model.eval()
        sums, counts = completion_logprobs(self.lm, flat_p, flat_t, add_end=flat_f,
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
            rows = _read_jsonl(path)
            if [r["uid"] for r in rows] == [p.uid for p in test]:
                return rows
        with self.peft.disable_adapter():
            prompts, texts, finished = self.sample(test, _seed(self.cfg.seed, 7, 0), "held-out samples")
        rows = []
        for p, prompt, ts, fs in zip(test, prompts, texts, finished):
            rewards, correct = _score_texts(self.task, self.mode, self.embedder, [p] * len(ts), ts)
            rows.append({"uid": p.uid, "prompt": prompt, "responses": ts, "finished": fs,
                         "rewards": rewards, "correct": correct})
        _write_jsonl(path, rows)
        return rows

    def evaluate(self, test, heldout, name: str) -> dict:
        from ..generation import GenerationSettings, generate

        cfg = self.cfg
        t0 = time.perf_counter()
        self.lm.model.eval()
        prompts = self.prompts(test)
        gens = generate(self.lm, prompts, GenerationSettings(max_new_tokens=cfg.max_new_tokens,
                                                             batch_size=cfg.batch_size),
                        progress=f"evaluate {name}" if cfg.progress else False)
        texts = [g.text for g in gens]
        rewards, correct = _score_texts(self.task, self.mode, self.embedder, test, texts)
        (self.out / "eval").mkdir(exist_ok=True)
        _write_jsonl(self.out / "eval" / f"{name}.jsonl",
                     [{"uid": p.uid, "answer": t, "reward": r,
                       "correct": None if correct is None else c}
                      for p, t, r, c in zip(test, texts, rewards, correct or [None] * len(test))])
        wins = pairs = 0
        if heldout and heldout[0]["correct"] is not None:
            scores = self.scores([h["prompt"] for h in heldout], [h["responses"] for h in heldout],
                                 [h["finished"] for h in heldout])
            for h, s in zip(heldout, scores):
                w, n = pairwise_accuracy(s, h["correct"])
                wins, pairs = wins + w, pairs + n
        return {"reward": float(np.mean(rewards)),
                "accuracy": None if correct is None else float(np.mean(correct)),
                "ranking_accuracy": (wins / pairs) if pairs else None,
                "ranking_pairs": int(pairs),
                "eval_seconds": time.perf_counter() - t0}

    # -- one cycle
    def collect(self, train, cycle: int) -> tuple[list[dict], dict]:
        """Steps 1-4: sample, both rankings, agreement, demonstration update."""
        cfg = self.cfg
        times = {}
        t0 = time.perf_counter()
        self.lm.model.eval()
        prompts, texts, finished = self.sample(train, _seed(cfg.seed, 1, cycle), f"cycle {cycle}: sample")
        times["sample"] = time.perf_counter() - t0
        self.hook("sampled", cycle=cycle)
        t0 = time.perf_counter()
        wb_scores = self.scores(prompts, texts, finished)
        wb_orders = [order_from_scores(s) for s in wb_scores]
        times["white_box_rank"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        convs = []
        for i, (p, ts) in enumerate(zip(train, texts)):
            rng = np.random.default_rng(_seed(cfg.seed, 2, cycle, i))
            demos = self.store.select(cfg.n_demos, rng)
            if cfg.seed_demos and len(demos) < cfg.n_demos:
                demos = _seed_demos(cfg.n_demos - len(demos), cfg.k) + demos
            convs.append(judge_conversation(p.question, ts, demos, rng, max_chars=cfg.candidate_max_chars))
        from ..generation import GenerationSettings

        answers = self.bb.complete(convs, GenerationSettings(max_new_tokens=cfg.judge_max_new_tokens,
                                                             batch_size=cfg.batch_size),
                                   progress=f"cycle {cycle}: black box" if cfg.progress else False)
        times["black_box_rank"] = time.perf_counter() - t0
        self.hook("ranked", cycle=cycle)
        groups = []
        for i, p in enumerate(train):
            parse = parse_ranking(answers[i].text, cfg.k, fallback=wb_orders[i])
            # only what the black box ranked itself (naming k-1 fixes the last one too)
            m = explicit_length(parse.n_found, cfg.k) if parse.parsed else 0
            agreed = lcs(parse.order[:m], wb_orders[i]) if parse.parsed else []
            if not parse.parsed:
                target, top = [], 0
            elif cfg.label == "lcs":
                target, top = list(agreed), len(agreed)
            else:
                target, top = list(parse.order), m
            rewards = correct = None
            if self.mode == "grade":
                rewards, correct = _score_texts(self.task, self.mode, None, [p] * cfg.k, texts[i])
            groups.append({
                "cycle": cycle, "uid": p.uid, "question": p.question, "prompt": prompts[i],
                "responses": texts[i], "finished": finished[i], "wb_scores": wb_scores[i],
                "wb_order": list(wb_orders[i]), "bb_text": answers[i].text,
                "bb_order": list(parse.order), "parsed": parse.parsed, "n_found": parse.n_found,
                "lcs": agreed, "agreement": len(agreed) / cfg.k if parse.parsed else None,
                "exact": m == cfg.k and list(parse.order) == list(wb_orders[i]),
                "n_ranked": m, "target": target, "target_top": top, "rewards": rewards, "correct": correct,
            })
        # demonstrations for the next cycles
        added = 0
        for g in groups:
            if g["parsed"] and self.store.add(g["question"], g["responses"], g["lcs"], k=cfg.k,
                                              cycle=cycle, uid=g["uid"]):
                added += 1
        parsed = [g for g in groups if g["parsed"]]
        bb_w = bb_n = wb_w = wb_n = 0
        for g in groups:
            if g["correct"] is None:
                continue
            if g["parsed"]:
                # the black box's ranking as scores: rank 0 highest
                bscore = [0.0] * cfg.k
                for r, c in enumerate(g["bb_order"]):
                    bscore[c] = -float(r)
                w, n = pairwise_accuracy(bscore, g["correct"])
                bb_w, bb_n = bb_w + w, bb_n + n
            w, n = pairwise_accuracy(g["wb_scores"], g["correct"])
            wb_w, wb_n = wb_w + w, wb_n + n
        stats = {
            "agreement": float(np.mean([g["agreement"] for g in parsed])) if parsed else None,
            "exact_match": float(np.mean([g["exact"] for g in parsed])) if parsed else None,
            "parse_failures": len(groups) - len(parsed),
            "parse_failure_rate": (len(groups) - len(parsed)) / len(groups),
            "demos_added": added, "demos": len(self.store),
            "sample_reward": (float(np.mean([r for g in groups for r in g["rewards"]]))
                              if self.mode == "grade" else None),
            "black_box_pairwise_accuracy": bb_w / bb_n if bb_n else None,
            "white_box_train_pairwise_accuracy": wb_w / wb_n if wb_n else None,
            "seconds": times,
        }
        return groups, stats

    def train_groups(self, groups: Sequence[dict], trainer, *, ranking: bool, cycle: int) -> dict:
        """Step 5: one pass (per epoch) over the groups with a usable target."""
        import torch

        cfg = self.cfg
        usable = [g for g in groups if _trainable(g, ranking)]
        t0 = time.perf_counter()
        rank_losses, sft_losses = [], []
        self.lm.model.train()
        bar = None
        total = len(usable) * cfg.epochs
        if cfg.progress and total:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc=f"cycle {cycle}: train" if ranking else f"SFT baseline {cycle}",
                       unit="group")
        steps_before = trainer.step_count
        # adapter dropout draws from torch's global generator: seed it per cycle inside a
        # fork, so a cycle trains the same way whether the run was resumed or not
        devices = [self.lm.device.index or 0] if self.lm.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(_seed(cfg.seed, 4, cycle, int(ranking)))
            self._train_epochs(usable, trainer, ranking, cycle, bar, rank_losses, sft_losses)
        trainer.flush()
        if bar is not None:
            bar.close()
        self.lm.model.eval()
        return {"groups_trained": len(usable), "steps": trainer.step_count - steps_before,
                "rank_loss": float(np.mean(rank_losses)) if rank_losses else None,
                "sft_loss": float(np.mean(sft_losses)) if sft_losses else None,
                "train_seconds": time.perf_counter() - t0}

    def _train_epochs(self, usable, trainer, ranking, cycle, bar, rank_losses, sft_losses):
        import torch

        cfg = self.cfg
        for epoch in range(cfg.epochs):
            order = np.random.default_rng(_seed(cfg.seed, 3, cycle, epoch)).permutation(len(usable))
            for gi in order:
                g = usable[int(gi)]
                idx = list(g["target"]) if ranking else [g["target"][0]]
                sums, counts = completion_logprobs(
                    self.lm, [g["prompt"]] * len(idx), [g["responses"][i] for i in idx],
                    add_end=[g["finished"][i] for i in idx], grad=True,
                    batch_size=max(len(idx), 1), autocast=trainer.autocast())
                scores = sums / counts
                sft = -scores[0]
                loss = cfg.sft_weight * sft if ranking else sft
                if ranking:
                    kw = ({"margin": cfg.margin} if cfg.loss == "rrhf"
                          else {"temperature": cfg.pro_temperature})
                    rl = ranking_loss(cfg.loss, scores, torch.arange(len(idx)),
                                      top=min(g["target_top"], len(idx)), **kw)
                    loss = loss + rl
                    rank_losses.append(float(rl.detach()))
                sft_losses.append(float(sft.detach()))
                trainer.backward(loss)
                if bar is not None:
                    bar.update(1)

    # -- checkpoints
    def checkpoint_dir(self, cycle: int) -> Path:
        return self.out / "checkpoints" / f"cycle-{cycle:03d}"

    def save(self, cycle: int, total_steps: int) -> None:
        from .lora import save_checkpoint

        save_checkpoint(self.checkpoint_dir(cycle), self.peft, self.trainer,
                        state={"cycle": cycle, "steps": total_steps, "demos": self.store.to_list()})

    def restore(self, cycle: int) -> dict:
        from .lora import load_checkpoint

        state = load_checkpoint(self.checkpoint_dir(cycle), self.peft, self.trainer)
        self.store.load_list(state.get("demos", []))
        return state


def _trainable(group: dict, ranking: bool) -> bool:
    """A group with a pseudo-label: >= 2 target responses and a ranked head (ranking loss),
    or a top response (SFT)."""
    if ranking:
        return len(group["target"]) >= 2 and group.get("target_top", 0) >= 1
    return len(group["target"]) >= 1


def _run_identity(config: CycleAlignConfig, white_box, black_box, task) -> dict:
    cfg = {k: v for k, v in config.to_dict().items() if k not in _RESUME_FREE}
    return {"task": getattr(task, "name", type(task).__name__),
            "white_box": white_box.fingerprint,
            "black_box": getattr(black_box, "name", type(black_box).__name__),
            "config": cfg}


def _check_identity(out: Path, identity: dict) -> None:
    path = out / "run.json"
    if path.exists():
        old = json.loads(path.read_text())
        for key in ("task", "white_box", "black_box"):
            if old.get(key) != identity[key]:
                raise ConfigError(f"out_dir: {str(out)!r} holds a run with {key}={old.get(key)!r}, "
                                  f"not {identity[key]!r}; use another output folder")
        for key, value in identity["config"].items():
            if key in old.get("config", {}) and old["config"][key] != value:
                raise ConfigError(f"out_dir: {str(out)!r} holds a run with {key}={old['config'][key]!r}, "
                                  f"not {value!r}; use another output folder to change it")
    else:
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(identity, indent=1, sort_keys=True))


def _splits(task, config: CycleAlignConfig):
    splits = task.splits(n_train=config.train_size, n_calibration=0, n_test=config.test_size,
                         seed=config.seed)
    train, test = list(splits.train), list(splits.test)
    if len(train) < 1 or len(test) < 1:
        raise ConfigError(f"n_problems: task {getattr(task, 'name', '?')!r} gave {len(train)} training "
                          f"and {len(test)} test problems; need at least one of each")
    return train, test


def run_cyclealign(config: CycleAlignConfig, *, white_box, black_box, task, out_dir,
                   hooks: Callable[[str, dict], None] | None = None) -> dict:
    """Run (or resume) CycleAlign; see the module docstring for the loop and the files.

    Parameters
    ----------
    config : CycleAlignConfig
    white_box : LoadedModel
        The trainable model. LoRA adapters are attached to ``white_box.model`` in place
        (so pass a freshly loaded model); afterwards it generates with the final adapter.
    black_box : Receiver
        The judge; must not wrap ``white_box`` itself.
    task : Task
        Problems (``task.splits``), prompts and the grader.
    out_dir : path
        Output folder; an existing run there with the same identity is resumed.
    hooks : callable, optional
        ``hooks(event, info)`` at ``"cycle_start"``, ``"sampled"``, ``"ranked"``,
        ``"trained"``, ``"cycle_end"`` (``info["cycle"]``) — for progress reporting and
        tests (an exception raised there interrupts the run like a crash would).

    Returns
    -------
    dict
        ``cycles`` (one row per cycle: ``cycle``, ``agreement``, ``reward``, ``accuracy``,
        ``ranking_accuracy``, losses, timings, ...), ``baselines`` (``no_training``,
        ``sft_top_choice``), ``task``, ``white_box``, ``black_box``, ``config``,
        ``out_dir``, ``plot``, ``adapter`` (the last checkpoint), ``steps_per_second``.
    """
    if not isinstance(config, CycleAlignConfig):
        raise ConfigError(f"config: expected a CycleAlignConfig, got {type(config).__name__}")
    out = Path(out_dir)
    identity = _run_identity(config, white_box, black_box, task)
    _check_identity(out, identity)
    for sub in ("cycles", "eval", "checkpoints"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    run = _Run(config, white_box, black_box, task, out, hooks)
    train, test = _splits(task, config)
    _repair(run.metrics_path)
    rows = read_metrics(run.metrics_path)
    done = {r["cycle"] for r in rows if r.get("record") == "cycle"}
    last = 0
    while last + 1 in done and last + 1 <= config.cycles and run.checkpoint_dir(last + 1).exists():
        last += 1
    total_steps = 0
    if last:
        total_steps = int(run.restore(last).get("steps", 0))
    heldout = run.heldout(test)
    if not any(r.get("record") == "no_training" for r in rows):
        with run.peft.disable_adapter():
            ev = run.evaluate(test, heldout, "cycle-000")
        row = {"record": "no_training", "cycle": 0, **ev}
        _append_jsonl(run.metrics_path, [row])
        rows.append(row)

    outer = None
    if config.progress:
        from tqdm.auto import tqdm

        outer = tqdm(total=config.cycles, initial=last, desc="cyclealign", unit="cycle")
    for cycle in range(last + 1, config.cycles + 1):
        t_cycle = time.perf_counter()
        run.hook("cycle_start", cycle=cycle)
        groups, stats = run.collect(train, cycle)
        _write_jsonl(out / "cycles" / f"{cycle:03d}.jsonl", groups)
        tr = run.train_groups(groups, run.trainer, ranking=True, cycle=cycle)
        total_steps += tr["steps"]
        run.hook("trained", cycle=cycle)
        ev = run.evaluate(test, heldout, f"cycle-{cycle:03d}")
        stats["seconds"].update({"train": tr.pop("train_seconds"), "eval": ev.pop("eval_seconds")})
        run.save(cycle, total_steps)
        stats["seconds"]["total"] = time.perf_counter() - t_cycle
        row = {"record": "cycle", "cycle": cycle, **stats, **tr, **ev,
               "total_steps": total_steps,
               "steps_per_second": tr["steps"] / stats["seconds"]["train"]
               if stats["seconds"]["train"] > 0 else None,
               "groups_per_second": tr["groups_trained"] * config.epochs / stats["seconds"]["train"]
               if stats["seconds"]["train"] > 0 else None}
        _append_jsonl(run.metrics_path, [row])
        rows.append(row)
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
        row = _sft_baseline(run, test, heldout, total_steps)
        _append_jsonl(run.metrics_path, [row])
        rows.append(row)
    result = _result(run, rows, cycle_rows, identity)
    (out / "result.json").write_text(json.dumps(result, indent=1, sort_keys=True))
    return result


def _sft_baseline(run: _Run, test, heldout, total_steps: int) -> dict:
    """Fresh adapter, SFT on the black box's top choice of every collected group."""
    from .lora import AdapterTrainer, add_adapter, lora_parameters, save_checkpoint, set_active_adapter

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
            groups = _read_jsonl(run.out / "cycles" / f"{cycle:03d}.jsonl")
            # the groups CycleAlign trained on (a target of >= 2 responses), the black box's
            # top choice only
            groups = [dict(g, target=[g["bb_order"][0]]) for g in groups if _trainable(g, True)]
            run.train_groups(groups, trainer, ranking=False, cycle=cycle)
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


_CYCLE_KEYS = ("cycle", "agreement", "exact_match", "reward", "accuracy", "ranking_accuracy",
               "ranking_pairs", "parse_failures", "parse_failure_rate", "demos", "demos_added",
               "sample_reward", "black_box_pairwise_accuracy", "white_box_train_pairwise_accuracy",
               "rank_loss", "sft_loss", "steps", "total_steps", "groups_trained",
               "steps_per_second", "groups_per_second", "seconds")


def _result(run: _Run, rows, cycle_rows, identity) -> dict:
    base = next((r for r in rows if r.get("record") == "no_training"), None)
    sft = next((r for r in reversed(rows) if r.get("record") == "sft_top_choice"
                and r.get("cycles") == run.cfg.cycles), None)
    strip = lambda r: {k: v for k, v in r.items() if k != "record"}  # noqa: E731
    baselines = {"no_training": strip(base) if base else None,
                 "sft_top_choice": strip(sft) if sft else None}
    plot = plot_rewards(cycle_rows, baselines, run.out / "reward.png",
                        title=f"CycleAlign on {identity['task']}")
    train_s = sum(r["seconds"].get("train", 0.0) for r in cycle_rows)
    steps = sum(r["steps"] for r in cycle_rows)
    last = cycle_rows[-1]["cycle"] if cycle_rows else 0
    return {
        "task": identity["task"], "white_box": run.lm.name, "black_box": identity["black_box"],
        "config": run.cfg.to_dict(), "device": str(run.lm.device), "out_dir": str(run.out),
        "cycles": [{k: r.get(k) for k in _CYCLE_KEYS} for r in cycle_rows],
        "baselines": baselines, "plot": str(plot) if plot else None,
        "adapter": str(run.checkpoint_dir(last)) if last else None,
        "steps_per_second": steps / train_s if train_s > 0 else None,
    }


def measure_training_speed(lm, *, k: int = 4, prompt_words: int = 100, completion_words: int = 70,
                           groups: int = 6, warmup: int = 1, loss: str = "rrhf", amp: str = "auto",
                           seed: int = 0) -> dict:
    """Throughput of CycleAlign's training step (ranking loss + SFT term over ``k``
    responses, backward, optimiser step) on synthetic groups, for CPU/GPU comparisons.

    Attaches LoRA adapters to ``lm`` (pass a freshly loaded model). On CUDA the step runs
    under autocast (``amp``) and the timing synchronises the device.

    Returns
    -------
    dict
        ``groups_per_second``, ``seconds_per_group``, ``device``, ``amp_dtype``, ``k``,
        ``tokens_per_group`` (prompt + responses, as trained).
    """
    import torch

    from .lora import AdapterTrainer, attach_lora, lora_parameters

    rng = np.random.default_rng(seed)
    words = ("the of and to in is it that for on with as was by at be this from or an are "
             "one two three four five six seven eight nine ten answer number sum total").split()
    peft_model = attach_lora(lm, seed=seed)
    trainer = AdapterTrainer(lora_parameters(peft_model), device=lm.device, grad_accum=1, amp=amp)
    prompt = " ".join(rng.choice(words, size=prompt_words))
    responses = [" ".join(rng.choice(words, size=completion_words)) for _ in range(k)]
    lm.model.train()

    def step():
        with torch.random.fork_rng(devices=[lm.device.index or 0] if lm.device.type == "cuda" else []):
            sums, counts = completion_logprobs(lm, [prompt] * k, responses, grad=True, batch_size=k,
                                               autocast=trainer.autocast())
            scores = sums / counts
            trainer.backward(ranking_loss(loss, scores, torch.arange(k)) - scores[0])

    def sync():
        if lm.device.type == "cuda":
            torch.cuda.synchronize(lm.device)

    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(groups):
        step()
    sync()
    seconds = time.perf_counter() - t0
    lm.model.eval()
    from ..generation import encode_prompts

    n_tok = sum(len(x) for x in encode_prompts(lm, [prompt] * k)) + sum(
        len(lm.tokenizer(r, add_special_tokens=False)["input_ids"]) for r in responses)
    return {"groups_per_second": groups / seconds, "seconds_per_group": seconds / groups,
            "device": str(lm.device), "amp_dtype": str(trainer.amp_dtype).replace("torch.", ""),
            "k": k, "tokens_per_group": n_tok}


def plot_rewards(cycle_rows: Sequence[dict], baselines: dict, path, *, title: str = "CycleAlign"):
    """Reward (and agreement) against the cycle, with both baselines; returns the path."""
    from matplotlib.figure import Figure

    path = Path(path)
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    base = baselines.get("no_training")
    xs = ([0] if base else []) + [r["cycle"] for r in cycle_rows]
    ys = ([base["reward"]] if base else []) + [r["reward"] for r in cycle_rows]
    ax.plot(xs, ys, "o-", color="C0", label="CycleAlign (cycle 0: no training)")
    sft = baselines.get("sft_top_choice")
    if sft:
        ax.axhline(sft["reward"], color="C1", ls="--",
                   label=f"SFT on the black box's top choice ({sft.get('steps', '?')} steps)")
    if base:
        ax.axhline(base["reward"], color="0.5", ls=":", label="no training")
    values = [y for y in ys if y is not None] + [b["reward"] for b in (sft, base) if b]
    if values and min(values) >= 0 and max(values) <= 1:
        ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("cycle")
    ax.set_ylabel("task reward (held-out, greedy)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    ticks = xs if xs else [0]
    for a in (ax, ax2):
        a.set_xticks(ticks)
        a.set_xlim(min(ticks) - 0.3, max(ticks) + 0.3)
    ag = [(r["cycle"], r["agreement"]) for r in cycle_rows if r.get("agreement") is not None]
    if ag:
        ax2.plot([a for a, _ in ag], [b for _, b in ag], "s-", color="C2", label="agreement (LCS / k)")
    ra = [(r["cycle"], r["ranking_accuracy"]) for r in cycle_rows if r.get("ranking_accuracy") is not None]
    if ra:
        ax2.plot([a for a, _ in ra], [b for _, b in ra], "^-", color="C3",
                 label="white-box ranking accuracy")
    ax2.set_xlabel("cycle")
    ax2.set_ylim(0, 1.05)
    ax2.set_title("agreement and ranking accuracy")
    if ag or ra:
        ax2.legend(fontsize=7, loc="best")
    fig.savefig(path, dpi=110)
    return path
