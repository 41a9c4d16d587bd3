"""Shared fixtures of the LLM-bridge tests.

* The whole test session runs offline: ``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1``
  are set when this file is imported (before any test imports transformers), so nothing
  can reach a model hub.
* Models are loaded once per session: ``gpt2_tiny`` and ``llama_tiny`` (2-layer random
  models with the real GPT-2 / SmolLM2 tokenizers, for logic tests, about a second each)
  and ``smollm2`` (SmolLM2-135M-Instruct, real weights; only for ``@pytest.mark.slow``
  tests). Tests must not change their weights or tokenizers.
* torch runs on one thread (``PERSUASION_TEST_THREADS`` overrides): the tiny models gain
  nothing from more, and on a shared 2-core machine OpenMP barriers of small ops cost
  10x (a sampling test: 2 s on one thread, 33 s on two under load).
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover - the bridge needs torch
    torch = None
else:
    torch.set_num_threads(int(os.environ.get("PERSUASION_TEST_THREADS", "1")))


@pytest.fixture(scope="session")
def gpt2_tiny():
    """``load_causal_lm("gpt2-tiny")``: 2 layers, 64 hidden, the real GPT-2 tokenizer."""
    from llm_bridge.models import load_causal_lm

    return load_causal_lm("gpt2-tiny")


@pytest.fixture(scope="session")
def llama_tiny():
    """``load_causal_lm("llama-tiny")``: 2-layer Llama, the SmolLM2 tokenizer and chat template."""
    from llm_bridge.models import load_causal_lm

    return load_causal_lm("llama-tiny")


@pytest.fixture(scope="session")
def smollm2():
    """``load_causal_lm("smollm2-135m")``: real SmolLM2-135M-Instruct (use in slow tests only)."""
    from llm_bridge.models import load_causal_lm

    return load_causal_lm("smollm2-135m")
