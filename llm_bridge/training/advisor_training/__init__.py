"""Training the Advisor on the Receiver's graded answers (Bai et al. 2024, issue 5).

The Advisor of :mod:`llm_bridge.advisor` turns an abstract signal (a recommended reasoning
mode, :mod:`llm_bridge.abstract_game`) and the problem into a hint. The signal is chosen by
the persuasion scheme; *how well it is rendered* is up to the Advisor. This package improves
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
   nothing) or correct (``"correct"``); with ``positives="content"`` only hints whose Advisor
   sentence reached the Receiver whole (a hint the leak filter emptied would teach the empty
   text). Loss: mean over examples of the length-normalised
   negative log-likelihood of the completion (plus the end-of-turn token);
4. **DPO** (``method`` ``dpo`` or ``rft+dpo``, after the RFT epochs): pairs (chosen, rejected)
   of distinct hints of one group with reward(chosen) > reward(rejected) (the chosen one with
   content under ``positives="content"``), at most
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

The output folder is a run folder (:mod:`persuasion.runs`): ``run.json`` holds the settings
fingerprint; a rerun with other settings is refused, naming the fields that differ, unless it
starts over (``start_over=True``). Seeds come from :func:`persuasion.runs.derive_seed` /
:func:`~persuasion.runs.derive_rng`. The result is an :class:`AdvisorTrainingResult`; its
``to_dict()`` is ``summary.json``.

Modules: :mod:`.config` (:class:`AdvisorTrainingConfig`), :mod:`.data` (losses, RFT examples,
DPO pairs), :mod:`.models` (trained view, Receivers), :mod:`.sampling` (step 2),
:mod:`.state` (a run's state and its training epochs, steps 3-5), :mod:`.run`
(:func:`train_advisor`), :mod:`.result` (:class:`AdvisorTrainingResult`) and :mod:`.plots`.
"""

from __future__ import annotations

from persuasion.runs import read_jsonl  # noqa: F401  (advisor_training.read_jsonl: tests read records)

from .config import METHODS, POSITIVES, RFT_SELECT, SIGNALS, AdvisorTrainingConfig
from .data import dpo_loss, dpo_pairs, rft_examples, rft_loss
from .models import adapter_hash, load_trained_advisor, resolve_transfer_receiver, trained_view
from .plots import plot_before_after
from .result import AdvisorTrainingResult, TransferResult
from .run import HINT_SEEDS, open_advisor_folder, run_identity, train_advisor

__all__ = [
    "AdvisorTrainingConfig", "AdvisorTrainingResult", "TransferResult", "METHODS", "SIGNALS",
    "RFT_SELECT", "POSITIVES", "train_advisor", "rft_loss", "dpo_loss", "rft_examples", "dpo_pairs", "adapter_hash",
    "trained_view", "load_trained_advisor", "plot_before_after", "resolve_transfer_receiver", "run_identity", "HINT_SEEDS",
    "open_advisor_folder",
]

