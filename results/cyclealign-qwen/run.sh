#!/usr/bin/env bash
# Issue 15's runs (PLAN.md, step 3 and amendment 1), as they run. Resumable: rerun the same line
# and every finished cycle is read back. Needs: persuasion models install qwen2.5-coder-1.5b --compute-type int8
#   rrhf, pro:  the math task, 5 cycles, the black box on the local engine, one run per ranking loss;
#   api:        one cycle of the rrhf run with the black box behind `bridge serve` on loopback;
#   humaneval:  3 cycles of RRHF on HumanEval (100 training, 64 held-out problems), sandboxed grading.
# `run.sh STAGE` runs one stage; no argument, all four in this order.
set -euo pipefail
stage=${1:-all}
case $stage in all|rrhf|pro|api|humaneval) ;; *) echo "usage: run.sh [rrhf|pro|api|humaneval]" >&2; exit 2;; esac
cd "$(dirname "$0")/../.."
R=results/cyclealign-qwen
math=(--task "basic_arithmetic:min_terms=2;max_terms=3;max_digits=1" --n 700 --n-test 400)
common=(--white-box smollm2-135m --engine ct2 --compute-type float32 --k 4 --seed 0 --json)
local_bb=(--black-box qwen2.5-coder-1.5b --black-box-compute-type int8)
want() { [[ $stage == all || $stage == "$1" ]]; }

want rrhf && persuasion cyclealign "${math[@]}" "${common[@]}" "${local_bb[@]}" --cycles 5 --loss rrhf \
  --out "$R/rrhf" > "$R/rrhf.json"
if want pro && [[ ! -e $R/pro/run.json && -e $R/rrhf/black_box_cache.sqlite ]]; then
  # amendment 2: cycle 1 of both losses samples from the untrained white box with the same seed
  # and seed demonstrations, so its black-box queries (and cycle 0's held-out judging) are the
  # rrhf run's; its answer cache (keyed by model, prompt and settings) answers them again
  mkdir -p "$R/pro"
  python -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
    "$R/rrhf/black_box_cache.sqlite" "$R/pro/black_box_cache.sqlite"
fi
want pro && persuasion cyclealign "${math[@]}" "${common[@]}" "${local_bb[@]}" --cycles 5 --loss pro \
  --out "$R/pro" > "$R/pro.json"
if want api; then
  # a fixed loopback port: the black box's URL is part of the run's identity, so a rerun resumes
  source results/lib/serve_qwen.sh
  serve_qwen 8765
  persuasion cyclealign "${math[@]}" "${common[@]}" --black-box "openai:qwen2.5-coder-1.5b@$url" \
    --api-timeout 1800 --api-concurrency 16 --cycles 1 --loss rrhf --no-baseline \
    --out "$R/api-rrhf" > "$R/api-rrhf.json"
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
fi
want humaneval && persuasion cyclealign --task humaneval --n 164 --n-test 64 --max-new-tokens 256 \
  "${common[@]}" "${local_bb[@]}" --cycles 3 --loss rrhf --out "$R/humaneval" > "$R/humaneval.json"
exit 0
