#!/usr/bin/env bash
# Issue 15's runs (PLAN.md, step 3), as they will run. Resumable: rerun the same line and every
# finished cycle is read back. Needs: persuasion models install qwen2.5-coder-1.5b --compute-type int8
set -euo pipefail
cd "$(dirname "$0")/../.."
R=results/cyclealign-qwen
common=(--task "basic_arithmetic:min_terms=2;max_terms=3;max_digits=1" --white-box smollm2-135m
        --black-box qwen2.5-coder-1.5b --black-box-compute-type int8 --engine ct2 --compute-type float32
        --cycles 5 --n 700 --n-test 400 --k 4 --seed 0 --json)
persuasion cyclealign "${common[@]}" --loss rrhf --out "$R/rrhf" > "$R/rrhf.json"
persuasion cyclealign "${common[@]}" --loss pro --out "$R/pro" > "$R/pro.json"
