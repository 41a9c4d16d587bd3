#!/usr/bin/env bash
# Issue 13's step 4 (PLAN.md, amendment 4): after run.sh has finished (main/summary.json exists).
# The trained Advisor (the last checkpoint of main/) on the Receivers the training never used,
# on the same task, seed, sizes and test problems as the main run. Resumable: rerun the same line.
#   1. SmolLM2-135M as an unseen Receiver: its own calibrated game with the base Advisor (before),
#      then the trained Advisor on that game and scheme (after);
#   2. the training Receiver (Qwen-1.5B int8) through the OpenAI-compatible path: `bridge serve`
#      on loopback, the trained Advisor, the main run's game (main/before/summary.json).
# `run_unseen.sh smollm2` or `run_unseen.sh api` runs one of the two; no argument, both.
set -euo pipefail
stage=${1:-all}
[[ $stage == all || $stage == smollm2 || $stage == api ]] || { echo "usage: run_unseen.sh [smollm2|api]" >&2; exit 2; }
cd "$(dirname "$0")/../.."
R=results/persuasion-pays
ADAPTER=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["adapter"])' "$R/main/summary.json")
common=(--task "basic_arithmetic:max_digits=2" --states pitfall --advisor smollm2-135m
        --n 300 --n-calibration 90 --n-train 300 --max-new-tokens 384 --batch-size 32 --seed 0 --json)

if [[ $stage != api ]]; then
  persuasion bridge evaluate "${common[@]}" --receiver smollm2-135m \
    --out "$R/unseen-smollm2/before" > "$R/unseen-smollm2-before.json"
  persuasion bridge evaluate "${common[@]}" --receiver smollm2-135m --advisor-adapter "$ADAPTER" \
    --game-from "$R/unseen-smollm2/before/summary.json" \
    --out "$R/unseen-smollm2/after" > "$R/unseen-smollm2-after.json"
fi
[[ $stage != smollm2 ]] || exit 0

source results/lib/serve_qwen.sh
serve_qwen 0
persuasion bridge evaluate "${common[@]}" --receiver "openai:qwen2.5-coder-1.5b@$url" \
  --advisor-adapter "$ADAPTER" --game-from "$R/main/before/summary.json" \
  --api-timeout 1800 --api-concurrency 16 \
  --out "$R/api-1.5b/after" > "$R/api-1.5b-after.json"
