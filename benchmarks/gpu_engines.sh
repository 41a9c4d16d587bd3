#!/usr/bin/env bash
# The engine benchmark on a GPU, as one self-contained command (for a lent device machine:
# offline, with torch and transformers; the repository is its working tree). CTranslate2 comes
# from a wheel carried in wheels/ when it is not installed there (pip download ctranslate2==4.8.5
# --no-deps -d wheels/ on a machine with network). Writes $OUT/bench_engines_gpu.json.
set -euo pipefail
OUT=${OUT:-benchmarks/results}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -c "import ctranslate2" 2>/dev/null || pip install --no-index --no-deps wheels/ctranslate2-*.whl
nvidia-smi --query-gpu=name,memory.total --format=csv || true
python benchmarks/bench_generation.py --engines torch ct2 --device cuda \
    --models gpt2-random smollm2-random --batches 1 8 32 64 128 --workloads hint answer \
    --prompts 8 --repeats 3 --json > "$OUT/bench_engines_gpu.json"
python -c "import json,sys; d=json.load(open(sys.argv[1])); [print(r) for r in d['ratios']]" "$OUT/bench_engines_gpu.json"
