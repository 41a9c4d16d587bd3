"""The CTranslate2 engine (llm_bridge.ct2): conversion cached by fingerprint, the same greedy
text and token counts as the torch loop in float32, per-prompt sampling seeds, scoring equal
to the torch scorer, and cache keys that keep engines apart."""

from __future__ import annotations

from dataclasses import replace

import pytest

ctranslate2 = pytest.importorskip("ctranslate2")

from llm_bridge import ct2  # noqa: E402
from llm_bridge.cache import GenerationCache  # noqa: E402
from llm_bridge.errors import ConfigError  # noqa: E402
from llm_bridge.generation import (GenerationSettings, encode_prompts, generate,  # noqa: E402
                                   token_logprobs)

PROMPTS = ["The capital of France is", "def add(a, b):", "1 + 1 =", "Once upon a time, in a land far",
           "Q: What is 7 times 6?\nA:"]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("PERSUASION_CACHE", str(tmp_path_factory.getbasetemp() / "ct2-cache"))


@pytest.mark.parametrize("name", ["gpt2_tiny", "llama_tiny"])
@pytest.mark.parametrize("settings", [
    GenerationSettings(max_new_tokens=12, batch_size=2),
    GenerationSettings(max_new_tokens=20, batch_size=8, stop=("is", ")")),
    GenerationSettings(max_new_tokens=7, batch_size=3, ignore_eos=True),
], ids=["greedy", "stops", "ignore-eos"])
def test_float32_greedy_is_the_torch_loop(name, settings, request):
    lm = request.getfixturevalue(name)
    fast = ct2.with_ct2(lm, compute_type="float32", threads=1)
    a = generate(lm, PROMPTS, settings)
    b = generate(fast, PROMPTS, settings)
    assert [(g.text, g.prompt_tokens, g.new_tokens) for g in a] == \
           [(g.text, g.prompt_tokens, g.new_tokens) for g in b]


def test_engine_view_shares_the_model_and_names_the_engine(llama_tiny):
    f32 = ct2.with_ct2(llama_tiny, compute_type="float32", threads=1)
    i8 = ct2.with_ct2(llama_tiny, compute_type="int8", threads=1)
    assert f32.model is llama_tiny.model and f32.tokenizer is llama_tiny.tokenizer
    assert llama_tiny.engine is None and f32.engine.compute_type == "float32"
    assert f32.fingerprint == f"{llama_tiny.fingerprint}|ct2-{ctranslate2.__version__}-float32"
    assert len({llama_tiny.fingerprint, f32.fingerprint, i8.fingerprint}) == 3
    assert "engine=ct2" in repr(i8)
    texts = generate(i8, PROMPTS, GenerationSettings(max_new_tokens=8))
    assert all(isinstance(g.text, str) and 0 <= g.new_tokens <= 8 for g in texts)
    assert ct2.with_engine(llama_tiny, "torch") is llama_tiny
    with pytest.raises(ConfigError, match="engine"):
        ct2.with_engine(llama_tiny, "vllm")
    with pytest.raises(ConfigError, match="compute_type"):
        ct2.with_ct2(llama_tiny, compute_type="float64")


def test_conversion_is_cached_and_keyed_by_weights_and_compute_type(llama_tiny, monkeypatch):
    first = ct2.converted_folder(llama_tiny, "float32")
    assert (first / "persuasion-ct2.json").exists() and first.parent.name == "ct2"
    from ctranslate2 import converters

    def boom(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(converters, "TransformersConverter", boom)
    assert ct2.converted_folder(llama_tiny, "float32") == first  # no second conversion
    with pytest.raises(AssertionError, match="converted again"):
        ct2.converted_folder(llama_tiny, "int16")  # another compute type: another folder


def test_sampling_runs_on_the_torch_loop_under_its_fingerprint(llama_tiny, tmp_path):
    """CTranslate2 cannot seed a sample per prompt (one RNG per worker thread, seeded once),
    so sampled settings decode with the torch loop, whose per-prompt seeds and cache entries
    the ct2 view shares."""
    fast = ct2.with_ct2(llama_tiny, compute_type="float32", threads=1)
    s = GenerationSettings(max_new_tokens=10, do_sample=True, temperature=1.5, seed=3, batch_size=8)
    cache = GenerationCache(tmp_path / "c.sqlite")
    torch_texts = [g.text for g in generate(llama_tiny, PROMPTS, s, cache=cache)]
    again = generate(fast, PROMPTS, s, cache=cache)
    assert [g.text for g in again] == torch_texts and all(g.cached for g in again)
    assert [g.text for g in generate(fast, PROMPTS, s)] == torch_texts  # uncached: the same
    with pytest.raises(ConfigError, match="torch loop"):
        fast.engine.decode_batch(fast, PROMPTS[:1], encode_prompts(fast, PROMPTS[:1]), s, eos_ids=set())


@pytest.mark.parametrize("name", ["gpt2_tiny", "llama_tiny"])
def test_scores_equal_the_torch_scorer(name, request):
    lm = request.getfixturevalue(name)
    fast = ct2.with_ct2(lm, compute_type="float32", threads=1)
    prompts = encode_prompts(lm, PROMPTS)
    comps = [lm.tokenizer(c, add_special_tokens=False)["input_ids"]
             for c in [" Paris.", " return a + b", " 2", " away", ""]]
    s_torch, c_torch = token_logprobs(lm, prompts, comps)
    s_ct2, c_ct2 = token_logprobs(fast, prompts, comps)
    assert c_ct2.tolist() == c_torch.tolist() == [float(len(c)) for c in comps]
    assert s_ct2.tolist() == pytest.approx(s_torch.tolist(), abs=1e-3)
    assert s_ct2[-1] == 0.0


def test_cache_keys_keep_engines_apart(llama_tiny, tmp_path):
    fast = ct2.with_ct2(llama_tiny, compute_type="float32", threads=1)
    cache = GenerationCache(tmp_path / "c.sqlite")
    s = GenerationSettings(max_new_tokens=6)
    generate(llama_tiny, PROMPTS[:2], s, cache=cache)
    hits = generate(fast, PROMPTS[:2], s, cache=cache)
    assert not any(g.cached for g in hits)  # the ct2 view does not read the torch entries
    assert all(g.cached for g in generate(fast, PROMPTS[:2], s, cache=cache))


# ------------------------------------------------------------------ the engine of a run
def test_resolve_engine_defaults_and_refusals():
    assert ct2.resolve_engine("auto", None, "cpu") == ("ct2", "float32")
    assert ct2.resolve_engine(None, None, "cuda:1") == ("ct2", "float16")
    assert ct2.resolve_engine("ct2", "int8") == ("ct2", "int8")
    with pytest.raises(ConfigError, match="^compute_type: int16 is measured to compute wrong answers"):
        ct2.resolve_engine("ct2", "int16")
    assert ct2.resolve_engine("torch", None) == ("torch", None)
    assert ct2.resolve_engine("ct2", "float32") == ("ct2", "float32")
    with pytest.raises(ConfigError, match=r"^engine: expected one of auto, torch, ct2"):
        ct2.resolve_engine("vllm", None)
    with pytest.raises(ConfigError, match="^compute_type: applies to the ct2 engine only"):
        ct2.resolve_engine("torch", "int8")
    with pytest.raises(ConfigError, match="^compute_type: expected"):
        ct2.resolve_engine("ct2", "")


def test_with_engine_switches_and_keeps(llama_tiny):
    fast = ct2.with_engine(llama_tiny, "ct2", compute_type="float32", threads=1)
    assert fast.engine is not None and fast.fingerprint.endswith("-float32")
    assert ct2.with_engine(fast, "ct2", compute_type="float32") is fast        # already there
    back = ct2.with_engine(fast, "torch")
    assert back.engine is None and back.fingerprint == llama_tiny.fingerprint
    other = ct2.with_engine(fast, "ct2", compute_type="int8", threads=1)       # from the torch weights
    assert other.fingerprint == llama_tiny.fingerprint + "|" + other.engine.name
    with pytest.raises(ConfigError, match="compute_type"):
        ct2.with_ct2(llama_tiny, compute_type="no-such-type")


def test_a_trained_adapter_is_converted_merged(llama_tiny):
    """A peft-wrapped model converts its merged weights: float32 greedy text equals the torch
    loop's of the adapted model (an adapter saved alone would not convert, or would convert the
    base model)."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model

    from llm_bridge.models import LoadedModel

    model = get_peft_model(copy.deepcopy(llama_tiny.model),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)  # a non-zero adapter: the adapted model differs from the base
    adapted = LoadedModel(name="llama-tiny+lora", model=model, tokenizer=llama_tiny.tokenizer,
                          fingerprint=llama_tiny.fingerprint + "|lora:test", device=llama_tiny.device)
    settings = GenerationSettings(max_new_tokens=10, batch_size=5)
    want = [g.text for g in generate(adapted, PROMPTS, settings)]
    assert want != [g.text for g in generate(llama_tiny, PROMPTS, settings)]
    got = [g.text for g in generate(ct2.with_ct2(adapted, compute_type="float32", threads=1), PROMPTS, settings)]
    assert got == want


def test_adapters_injected_in_place_convert_merged_or_dropped(llama_tiny):
    """attach_lora injects adapters into the model itself (CycleAlign's white box, the
    trained Advisor): the conversion is the model as it computes now, merged while the
    adapters are on, the base model while they are disabled."""
    import copy

    import torch

    from llm_bridge.models import LoadedModel
    from llm_bridge.training.lora import attach_lora

    lm = LoadedModel(name="llama-tiny-copy", model=copy.deepcopy(llama_tiny.model),
                     tokenizer=llama_tiny.tokenizer, fingerprint=llama_tiny.fingerprint + "|copy",
                     device=llama_tiny.device)
    peft = attach_lora(lm, seed=0)
    with torch.no_grad():
        for name, p in lm.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    lm.model.eval()
    settings = GenerationSettings(max_new_tokens=10, batch_size=5)
    on = [g.text for g in generate(lm, PROMPTS, settings)]
    assert on != [g.text for g in generate(llama_tiny, PROMPTS, settings)]
    fast = ct2.with_ct2(replace(lm, fingerprint=lm.fingerprint + "|on"), compute_type="float32", threads=1)
    assert [g.text for g in generate(fast, PROMPTS, settings)] == on
    with peft.disable_adapter():
        off = ct2.with_ct2(replace(lm, fingerprint=lm.fingerprint + "|off"), compute_type="float32", threads=1)
    assert [g.text for g in generate(off, PROMPTS, settings)] == \
        [g.text for g in generate(llama_tiny, PROMPTS, settings)]
    assert any("lora_A" in n for n, _ in lm.model.named_parameters())  # the original keeps them


def test_evaluation_records_its_engine_and_refuses_to_mix(tmp_path, llama_tiny):
    """The run identity names the resolved engine; a folder of one engine is refused to
    another (naming the field); a folder written before the field existed reads as torch; and
    the same run on ct2 float32 answers as the torch loop does."""
    import json

    from llm_bridge.evaluate import EvalConfig, run_evaluation

    base = dict(task="chain_sum", n=3, n_calibration=2, n_train=10, seed=2, advisor="llama-tiny",
                receiver="llama-tiny", max_new_tokens=12, hint_tokens=6, horizon=100)
    assert EvalConfig(**base).fingerprint()["engine"] == "ct2"
    assert EvalConfig(**base).fingerprint()["compute_type"] == "float32"
    runs = {}
    for engine, ctype in (("torch", None), ("ct2", "float32")):
        cfg = EvalConfig(**base, engine=engine, compute_type=ctype, out=str(tmp_path / engine))
        runs[engine] = run_evaluation(cfg, progress=False, models={"llama-tiny": llama_tiny})
        assert runs[engine].config["engine"] == engine
    rows = {e: [(r["uid"], r["condition"], r["hint"], r["answer"])
                for r in map(json.loads, open(tmp_path / e / "records.jsonl"))] for e in runs}
    assert sorted(rows["torch"]) == sorted(rows["ct2"])
    with pytest.raises(ConfigError, match=r'engine: "torch" -> "ct2"'):
        run_evaluation(EvalConfig(**base, engine="ct2", out=str(tmp_path / "torch")), progress=False,
                       models={"llama-tiny": llama_tiny})
    # a folder from before the engine fields: its config.json has neither
    ident = tmp_path / "torch" / "config.json"
    old = json.loads(ident.read_text())
    del old["engine"], old["compute_type"]
    ident.write_text(json.dumps(old))
    again = run_evaluation(EvalConfig(**base, engine="torch", out=str(tmp_path / "torch")),
                           progress=False, models={"llama-tiny": llama_tiny})
    assert again.conditions == runs["torch"].conditions


# ------------------------------------------------------------------ seeded sampling on ct2
SAMPLED = GenerationSettings(max_new_tokens=8, do_sample=True, temperature=1.0, batch_size=4)


def test_ct2_samples_are_a_function_of_their_call(llama_tiny, tmp_path):
    """generate_samples on ct2: the same call gives the same samples, whatever was sampled
    before in the process; other seeds give other samples; the hypotheses of a prompt differ;
    a second call is read from the cache, whole."""
    from llm_bridge.generation import generate_samples

    fast = ct2.with_ct2(llama_tiny, compute_type="float32", threads=1)
    prompts = PROMPTS * 2  # 10 prompts: two groups of SAMPLE_GROUP = 8 and 2
    texts = lambda out: [[g.text for g in row] for row in out]  # noqa: E731
    a = texts(generate_samples(fast, prompts, SAMPLED, [11, 12, 13]))
    generate_samples(fast, PROMPTS[:2], SAMPLED, [5])  # other sampling in between
    b = texts(generate_samples(fast, prompts, SAMPLED, [11, 12, 13]))
    assert a == b and len(a) == 10 and all(len(r) == 3 for r in a)
    assert texts(generate_samples(fast, prompts, SAMPLED, [21, 22, 23])) != a
    assert all(len(set(r)) > 1 for r in a)  # a random tiny model: three different samples
    cache = GenerationCache(tmp_path / "c.sqlite")
    first = generate_samples(fast, prompts, SAMPLED, [11, 12, 13], cache=cache)
    again = generate_samples(fast, prompts, SAMPLED, [11, 12, 13], cache=cache)
    assert texts(first) == texts(again) == a  # prompts 0 and 5 are equal: their samples are not
    assert a[0] != a[5]
    assert not any(g.cached for r in first for g in r) and all(g.cached for r in again for g in r)
    with pytest.raises(ConfigError, match="do_sample"):
        generate_samples(fast, prompts, GenerationSettings(max_new_tokens=4), [1])


def test_torch_samples_are_the_per_seed_generate_calls(llama_tiny):
    from dataclasses import replace

    from llm_bridge.generation import generate_samples

    out = generate_samples(llama_tiny, PROMPTS, SAMPLED, [3, 4])
    for j, s in enumerate([3, 4]):
        assert [r[j].text for r in out] == [g.text for g in generate(llama_tiny, PROMPTS, replace(SAMPLED, seed=s))]


def test_ct2_samples_follow_the_model_distribution(llama_tiny):
    """The first sampled token's frequencies over 600 samples match the torch model's softmax
    at the same temperature (chi-square goodness of fit over the likeliest tokens)."""
    import numpy as np
    import torch
    from scipy.stats import chisquare

    from llm_bridge.generation import encode_prompts

    temperature = 0.02  # the tiny random model's logits are flat: sharpen them
    settings = GenerationSettings(max_new_tokens=1, do_sample=True, temperature=temperature,
                                  ignore_eos=True, batch_size=1)
    prompt = PROMPTS[0]
    ids = encode_prompts(llama_tiny, [prompt])[0]
    with torch.no_grad():
        logits = llama_tiny.model(torch.tensor([ids])).logits[0, -1].double()
    probs = torch.softmax(logits / temperature, -1).numpy()
    fast = ct2.with_ct2(llama_tiny, compute_type="float32", threads=1)
    out = fast.engine.sample_batch(fast, [ids], settings, list(range(600)), eos_ids=set())[0]
    assert len(out) == 600 and all(len(o) == 1 for o in out)
    counts = {}
    for f in out:
        counts[tuple(f)] = counts.get(tuple(f), 0) + 1
    top = [int(t) for t in np.argsort(-probs)[:6] if probs[t] * 600 >= 5]
    assert len(top) >= 2, "the test needs several likely tokens"
    observed = [counts.get((t,), 0) for t in top]
    expected = [probs[t] * 600 for t in top]
    rest_o, rest_e = 600 - sum(observed), 600 - sum(expected)
    if rest_e >= 5:
        observed.append(rest_o)
        expected.append(rest_e)
    else:
        expected[-1] += 600 - sum(expected)
        observed[-1] += 600 - sum(observed)
    assert chisquare(observed, expected).pvalue > 1e-3, (observed, expected)
