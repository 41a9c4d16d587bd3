#!/usr/bin/env bash
# Issue 13's secondary training run (PLAN.md, amendment 5): run.sh with --positives content, so
# no hint the leak filter emptied is a training target. Resumable like run.sh. The before
# evaluations and the sampled hints are the main run's: the first run of this script copies them
# (and the main run's generation cache, where there is one), so they are read back, not redone.
# Needs the opt-in Receivers: persuasion models install qwen2.5-coder-1.5b --compute-type int8
#                              persuasion models install qwen2.5-coder-0.5b --compute-type int8
# `content.sh --training-receiver-only` leaves the 0.5B's after evaluation out (the transfer
# Receiver is resume-free: a later plain run adds it and reads the rest back).
set -euo pipefail
transfer=(--transfer-receiver qwen2.5-coder-0.5b)
if [[ ${1:-} == --training-receiver-only ]]; then transfer=(); elif [[ -n ${1:-} ]]; then
  echo "usage: content.sh [--training-receiver-only]" >&2; exit 2
fi
cd "$(dirname "$0")/../.."
R=results/persuasion-pays
if [[ ! -e $R/content/run.json ]]; then
  # steps 1-2 are the main run's (the positives option acts from step 3 on): its before
  # evaluations and sampled hints are copied, so the run reads them back instead of redoing them;
  # so is its generation cache where this machine still has it.
  mkdir -p $R/content
  cp -r $R/main/before $R/main/transfer_before $R/main/samples.jsonl $R/content/
  if [[ -e $R/main/cache.sqlite ]]; then
    python -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))' \
      $R/main/cache.sqlite $R/content/cache.sqlite
  fi
fi
persuasion train advisor --task "basic_arithmetic:max_digits=2" --states pitfall \
  --advisor smollm2-135m --receiver qwen2.5-coder-1.5b --receiver-compute-type int8 \
  "${transfer[@]}" \
  --n 300 --n-calibration 90 --n-prior 300 --n-train 200 --k 4 --method rft+dpo \
  --signals scheme --max-new-tokens 384 --gen-batch-size 32 --seed 0 \
  --positives content \
  --out results/persuasion-pays/content --json > results/persuasion-pays/content.json
