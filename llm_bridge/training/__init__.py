"""Training the white-box model (issue 5).

Modules: :mod:`ranking` (LCS agreement, rank parsing, RRHF/PRO ranking losses),
:mod:`lora` (LoRA adapters, mixed-precision optimiser steps, checkpoints),
:mod:`cyclealign` (the CycleAlign loop of Hong et al. 2024),
:mod:`cli_cyclealign` (the ``persuasion cyclealign`` command),
:mod:`advisor_training` and :mod:`cli_advisor` (training the Advisor,
``persuasion train advisor``) and :mod:`cli` (mounting both commands).

Nothing heavy is imported here: ``import llm_bridge.training`` does not load torch.
"""
