#!/usr/bin/env bash
# Issue 13's main experiment (PLAN.md, step 3), as run. Resumable: rerun the same line and every
# finished calibration answer, test answer, sampled hint and checkpoint is read back, not redone.
# Needs the opt-in Receivers: persuasion models install qwen2.5-coder-1.5b --compute-type int8
#                              persuasion models install qwen2.5-coder-0.5b --compute-type int8
set -euo pipefail
cd "$(dirname "$0")/../.."
persuasion train advisor --task "basic_arithmetic:max_digits=2" --states pitfall \
  --advisor smollm2-135m --receiver qwen2.5-coder-1.5b --receiver-compute-type int8 \
  --transfer-receiver qwen2.5-coder-0.5b \
  --n 300 --n-calibration 90 --n-prior 300 --n-train 200 --k 4 --method rft+dpo \
  --signals scheme --max-new-tokens 384 --gen-batch-size 32 --seed 0 \
  --out results/persuasion-pays/main --json > results/persuasion-pays/main.json
