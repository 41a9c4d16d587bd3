#!/usr/bin/env bash
# The engine benchmark on a GPU, as one self-contained command for an offline machine with torch
# and transformers, run from the repository root after `bash benchmarks/gpu_pack.sh` here (which
# packs .gpu/: tokenizers, configs and the ctranslate2 wheel, a few tens of MiB; carry .gpu along).
# Verifies the packed files' sha256, installs the packed wheels (ctranslate2, highspy) into a
# temporary folder, then runs bench_generation.py's engine mode on random-initialised GPT-2 and
# SmolLM2 at batches 1-128. Writes $OUT/bench_engines_gpu.json (and the progress log beside it).
# ctranslate2's PyPI wheels are CUDA 12 builds: where the machine has only CUDA 13 libraries the
# ct2 rows are replaced by the reason in the JSON's "unavailable", and the torch rows still run.
set -euo pipefail
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
export PERSUASION_CACHE=${PERSUASION_CACHE:-$PWD/.gpu/cache}
(cd .gpu && sha256sum --quiet -c SHA256SUMS) || { echo "gpu_engines: .gpu/ does not match its SHA256SUMS" >&2; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/gpu-site .gpu/wheels/*.whl
export PYTHONPATH=/tmp/gpu-site${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 benchmarks/bench_generation.py --engines torch ct2 --device cuda \
    --models ${GPU_MODELS:-gpt2-random smollm2-random} --batches ${GPU_BATCHES:-1 8 32 64 128} \
    --workloads hint answer --prompts ${GPU_PROMPTS:-4} --repeats 3 --json \
    > "$OUT/bench_engines_gpu.json" 2> >(tee "$OUT/bench_engines_gpu.log" >&2)
python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
print('unavailable:', d['unavailable'])
for r in d['rows']:
    print(r['model'], r['workload'], r['engine'], r['batch'], round(r['tokens_per_s'], 1), 'tok/s',
          'of bound', round(r.get('of_bound', float('nan')), 3))
for q in d['ratios']:
    print(q)" "$OUT/bench_engines_gpu.json"
