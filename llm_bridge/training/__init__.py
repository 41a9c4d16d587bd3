"""Training the white-box model (issue 5).

Modules: :mod:`ranking` (LCS agreement, rank parsing, RRHF/PRO ranking losses),
:mod:`lora` (LoRA adapters, mixed-precision optimiser steps, checkpoints),
:mod:`logprobs` (completion log-probabilities, the score both trainers optimise),
:mod:`cyclealign` (the CycleAlign loop of Hong et al. 2024; a package: config, judge,
rewards, state, cycle, run, result, plots, speed) and :mod:`advisor_training` (training the
Advisor, ``persuasion train advisor``; a package: config, data, models, sampling, state, run,
result, plots). Both loops keep their state in run folders (:mod:`persuasion.runs`). Their command
lines live in :mod:`persuasion_cli`.

Nothing heavy is imported here: ``import llm_bridge.training`` does not load torch.
"""
