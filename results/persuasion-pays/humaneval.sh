#!/usr/bin/env bash
# Issue 13's code half (PLAN.md, amendment 6): HumanEval, the base Advisor, Qwen-1.5B int8,
# code-pitfall states, the exact scheme; answers graded in the sandbox. Resumable: rerun the
# same line and every finished answer is read back, not redone.
# Needs the opt-in Receiver: persuasion models install qwen2.5-coder-1.5b --compute-type int8
set -euo pipefail
cd "$(dirname "$0")/../.."
persuasion bridge evaluate --task humaneval --states code-pitfall \
  --advisor smollm2-135m --receiver qwen2.5-coder-1.5b --receiver-compute-type int8 \
  --n 100 --n-calibration 32 --n-train 32 --max-new-tokens 512 --batch-size 32 --seed 0 \
  --out results/persuasion-pays/humaneval --json > results/persuasion-pays/humaneval.json
