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
responses per test problem (sampled once from the untrained model and graded,
``heldout.jsonl``), the fraction of (correct, incorrect) pairs the white box scores in the
right order; **black-box ranking accuracy** on the same candidates (``judge_eval``, on by
default): every test problem with both correct and incorrect candidates is one query with
the cycle's judge prompt and the demonstrations the next cycle would draw (the store after
the cycle; seeded), and a pair counts as right when the black box ranked both and the
correct one first (a candidate it left out, or an unparsable answer, makes its pairs not
right; the parse-failure and left-out rates are reported beside it). Cycle 0 (no training)
measures it twice: with the seed demonstrations (as cycle 1 prompts) and zero-shot
(``black_box_ranking_accuracy_zero_shot``). The held-out judging goes through the black
box's cache like the cycles' (fixed queries: a resumed run asks nothing twice) and is kept
in ``eval/judge-NNN.jsonl``. Intervals (``*_ci95``, 95%): the reward's is the Wilson
interval (0/1 rewards; a normal interval for continuous ones), the ranking accuracies' the
Wilson interval of the pooled pair accuracy with the *problems* as the sample size (the
pairs of one problem are not independent; counting each problem once is conservative).

Baselines: ``no_training`` (the same evaluation before any training, cycle 0) and
``sft_top_choice``: a fresh adapter trained with the same number of optimiser steps by
supervised fine-tuning on the black box's top choice alone, on the groups the CycleAlign run
collected (so it sees the same data and the same black-box labels, without ranking loss).

Files in ``out_dir``: ``run.json`` (identity of the run, checked on resume),
``metrics.jsonl`` (one row per completed phase, appended as it completes), ``cycles/NNN.jsonl``
(every group: responses, both rankings, LCS, scores), ``eval/cycle-NNN.jsonl`` (greedy
answers), ``eval/judge-NNN.jsonl`` (the black box's held-out rankings),
``heldout.jsonl`` (the ranking-accuracy candidates), ``checkpoints/cycle-NNN/`` (adapter,
optimiser, RNG state, demonstrations), ``reward.png`` and ``result.json``. A rerun with the
same ``out_dir`` skips completed cycles and reloads the last checkpoint; ``run.json`` is the
run folder's settings fingerprint (:mod:`persuasion.runs`): a rerun with other settings is
refused, naming the fields that differ, unless it starts over (``start_over=True``).

Modules: :mod:`.config` (:class:`CycleAlignConfig`), :mod:`.judge` (demonstrations and the
black box's prompt), :mod:`.rewards` (task rewards), :mod:`.state` (a run's state: sampling, scoring,
evaluation, checkpoints), :mod:`.cycle` (the steps of a cycle),
:mod:`.run` (:func:`run_cyclealign`), :mod:`.result` (:class:`CycleAlignResult`,
:func:`read_metrics`), :mod:`.plots` (:func:`plot_rewards`) and :mod:`.speed`
(:func:`measure_training_speed`). Seeds come from :func:`persuasion.runs.derive_seed`.
"""

from __future__ import annotations

from ..logprobs import completion_logprobs
from .config import CycleAlignConfig
from .judge import (JUDGE_SYSTEM_PROMPT, SEED_DEMONSTRATIONS, Demonstration, DemonstrationStore,
                    judge_conversation, seed_demos)
from .plots import plot_rewards
from .result import CycleAlignResult, read_metrics
from .rewards import EmbeddingReward
from .run import run_cyclealign
from .speed import measure_training_speed

# the names of the single module this package replaces (tests import them)
_seed_demos = seed_demos
_EmbeddingReward = EmbeddingReward

__all__ = [
    "CycleAlignConfig", "CycleAlignResult", "Demonstration", "DemonstrationStore", "run_cyclealign",
    "completion_logprobs", "judge_conversation", "read_metrics", "plot_rewards",
    "measure_training_speed",
    "JUDGE_SYSTEM_PROMPT", "SEED_DEMONSTRATIONS",
]
