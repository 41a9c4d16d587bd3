"""The generation core: batched greedy decoding equals one prompt at a time and
``model.generate``; seeded sampling does not depend on the batch; stop strings, EOS and
``max_new_tokens``; the disk cache (hits, keys, interrupted runs); ``sequence_logprobs``
against a hand computation.

Logic runs on the 2-layer random models (``gpt2_tiny``, ``llama_tiny``); the few tests
on SmolLM2-135M are marked slow.
"""

from __future__ import annotations

import math

import pytest
import torch

import llm_bridge.generation as gen
from llm_bridge.cache import GenerationCache
from llm_bridge.errors import ConfigError
from llm_bridge.generation import Generation, GenerationSettings, generate, sequence_logprobs

# ragged on purpose: 1 to ~30 tokens, so every batch is left-padded
PROMPTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog, and then the dog",
    "A",
    "Question: what is 17 + 25? Think step by step and give the final answer.",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "In 1905 Einstein published four papers that changed physics, namely",
    "Roses are red,",
]
TINY = ["gpt2_tiny", "llama_tiny"]


@pytest.fixture(params=TINY)
def tiny(request):
    return request.getfixturevalue(request.param)


def texts(gens):
    return [g.text for g in gens]


def hf_greedy(lm, prompts, max_new_tokens):
    """``model.generate(do_sample=False)`` on the same left-padded ids as ours."""
    ids, mask = gen._left_pad(lm, gen.encode_prompts(lm, prompts))
    eos = sorted(gen._eos_ids(lm))
    with torch.inference_mode():
        out = lm.model.generate(
            input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=max_new_tokens,
            eos_token_id=eos, pad_token_id=lm.tokenizer.pad_token_id,
        )
    return [lm.tokenizer.decode(row[ids.shape[1]:], skip_special_tokens=True) for row in out]


def fail_decode(*args, **kwargs):
    raise AssertionError("the model was called although every prompt is cached")


# ------------------------------------------------------------------------ greedy
def test_greedy_batched_equals_one_at_a_time(tiny):
    settings = GenerationSettings(max_new_tokens=10, batch_size=4)
    batched = generate(tiny, PROMPTS, settings)
    single = [generate(tiny, [p], settings)[0] for p in PROMPTS]
    assert texts(batched) == texts(single)
    assert [g.new_tokens for g in batched] == [g.new_tokens for g in single]
    assert [g.prompt_tokens for g in batched] == [len(gen.encode_prompts(tiny, [p])[0]) for p in PROMPTS]
    assert all(isinstance(g, Generation) and not g.cached and g.seconds > 0 for g in batched)
    assert len({g.prompt_tokens for g in batched}) > 3  # really ragged


def test_greedy_equals_hf_generate(tiny):
    settings = GenerationSettings(max_new_tokens=10, batch_size=len(PROMPTS))
    ours = generate(tiny, PROMPTS, settings)
    assert texts(ours) == hf_greedy(tiny, PROMPTS, 10)


def test_results_keep_prompt_order_across_batches(gpt2_tiny):
    settings = GenerationSettings(max_new_tokens=6, batch_size=2)
    forward = generate(gpt2_tiny, PROMPTS, settings)
    backward = generate(gpt2_tiny, PROMPTS[::-1], settings)
    assert texts(backward) == texts(forward)[::-1]


def test_bos_is_added_once(llama_tiny):
    tok = llama_tiny.tokenizer
    (ids,) = gen.encode_prompts(llama_tiny, ["Hi"])
    probe = tok("a", add_special_tokens=True)["input_ids"]
    if probe[0] == tok.bos_token_id:  # the tokenizer wants BOS
        assert ids[0] == tok.bos_token_id and ids[1] != tok.bos_token_id
        assert gen.encode_prompts(llama_tiny, [tok.bos_token + "Hi"])[0] == ids
    else:
        assert ids == tok("Hi", add_special_tokens=False)["input_ids"]


def test_empty_and_bad_prompts(gpt2_tiny):
    assert generate(gpt2_tiny, [], GenerationSettings(max_new_tokens=4)) == []
    with pytest.raises(ConfigError, match="prompts"):
        generate(gpt2_tiny, "one string", GenerationSettings(max_new_tokens=4))
    with pytest.raises(ConfigError, match=r"prompts\[1\]"):
        generate(gpt2_tiny, ["ok", 3], GenerationSettings(max_new_tokens=4))
    with pytest.raises(ConfigError, match=r"prompts\[0\].*no tokens"):
        generate(gpt2_tiny, [""], GenerationSettings(max_new_tokens=4))


# ---------------------------------------------------------------------- sampling
SAMPLE = GenerationSettings(max_new_tokens=8, do_sample=True, temperature=1.0, top_p=0.95, seed=7,
                            batch_size=3)


def test_sampling_does_not_depend_on_the_batch(tiny):
    alone = {p: generate(tiny, [p], SAMPLE)[0].text for p in PROMPTS[:4]}
    together = generate(tiny, PROMPTS, SAMPLE)
    shuffled_prompts = [PROMPTS[i] for i in (5, 2, 0, 6, 3, 1, 4)]
    shuffled = generate(tiny, shuffled_prompts,
                        GenerationSettings(**{**SAMPLE.__dict__, "batch_size": 2}))
    by_prompt = dict(zip(shuffled_prompts, texts(shuffled)))
    for p, t in zip(PROMPTS, texts(together)):
        assert by_prompt[p] == t
        if p in alone:
            assert alone[p] == t


def test_sampling_seed_changes_the_text(tiny):
    a = generate(tiny, PROMPTS[:4], SAMPLE)
    b = generate(tiny, PROMPTS[:4], GenerationSettings(**{**SAMPLE.__dict__, "seed": 8}))
    again = generate(tiny, PROMPTS[:4], SAMPLE)
    assert texts(a) == texts(again)
    assert all(x != y for x, y in zip(texts(a), texts(b)))
    # sampling is not greedy decoding
    greedy = generate(tiny, PROMPTS[:4], GenerationSettings(max_new_tokens=8))
    assert texts(greedy) != texts(a)


def test_tiny_top_p_is_greedy(gpt2_tiny):
    """top_p -> 0 keeps only the most likely token, whatever the seed."""
    nucleus = GenerationSettings(max_new_tokens=6, do_sample=True, top_p=1e-9, seed=3)
    greedy = GenerationSettings(max_new_tokens=6)
    assert texts(generate(gpt2_tiny, PROMPTS[:3], nucleus)) == texts(generate(gpt2_tiny, PROMPTS[:3], greedy))


@pytest.mark.parametrize("field, value", [
    ("temperature", 0.0), ("temperature", -1.0), ("temperature", math.nan),
    ("top_p", 0.0), ("top_p", 1.5), ("top_p", -0.1), ("top_p", math.nan),
    ("max_new_tokens", 0), ("max_new_tokens", 2.5), ("max_new_tokens", True),
    ("batch_size", 0), ("seed", 1.0), ("stop", "###"), ("stop", ("",)), ("ignore_eos", "yes"),
])
def test_settings_validation_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        GenerationSettings(**{field: value})


# ------------------------------------------------------------ stop, eos, length
def test_stop_string_cuts_the_text(gpt2_tiny):
    prompt = PROMPTS[1]
    full = generate(gpt2_tiny, [prompt], GenerationSettings(max_new_tokens=16))[0]
    assert full.new_tokens == 16
    stop = full.text[len(full.text) // 2:len(full.text) // 2 + 3]
    assert stop
    cut = generate(gpt2_tiny, [prompt], GenerationSettings(max_new_tokens=16, stop=(stop,)))[0]
    assert cut.text == full.text[:full.text.find(stop)]
    assert stop not in cut.text
    assert cut.new_tokens < 16  # decoding stopped early
    # a stop string that never appears changes nothing; several stops cut at the earliest
    never = generate(gpt2_tiny, [prompt], GenerationSettings(max_new_tokens=16, stop=("\x00zz",)))[0]
    assert never.text == full.text
    both = generate(gpt2_tiny, [prompt], GenerationSettings(max_new_tokens=16, stop=("\x00zz", stop)))[0]
    assert both.text == cut.text


def test_eos_stops_a_row_and_ignore_eos_does_not(tiny, monkeypatch):
    prompts = PROMPTS[:4]
    settings = GenerationSettings(max_new_tokens=10, batch_size=4)
    full = generate(tiny, prompts, settings)
    assert full[0].new_tokens == 10  # the random model does not emit its real EOS here
    # record the greedy token ids of prompt 0
    recorded = []
    real_sample = gen._sample

    def spy(logits, s, generators, active):
        nxt = real_sample(logits, s, generators, active)
        recorded.append(nxt.tolist())
        return nxt

    monkeypatch.setattr(gen, "_sample", spy)
    generate(tiny, [prompts[0]], settings)
    monkeypatch.setattr(gen, "_sample", real_sample)
    row0 = [step[0] for step in recorded]
    assert len(row0) == 10
    # declare its 3rd new token the end-of-sequence token
    eos_id = row0[2]
    k = row0.index(eos_id)  # the first time that token comes
    monkeypatch.setattr(gen, "_eos_ids", lambda lm: {eos_id})
    stopped = generate(tiny, prompts, settings)
    tok = tiny.tokenizer
    assert stopped[0].new_tokens == k
    assert stopped[0].text == tok.decode(row0[:k], skip_special_tokens=True)
    for a, b in zip(stopped[1:], full[1:]):  # other rows stop only if they meet that token
        assert b.text.startswith(a.text) and a.new_tokens <= b.new_tokens
    forced = generate(tiny, prompts, GenerationSettings(max_new_tokens=10, ignore_eos=True))
    assert [g.new_tokens for g in forced] == [10] * len(prompts)
    assert forced[0].text == full[0].text


def test_real_eos_ids(gpt2_tiny, llama_tiny):
    assert 50256 in gen._eos_ids(gpt2_tiny)
    vocab = llama_tiny.tokenizer.get_vocab()
    assert vocab["<|im_end|>"] in gen._eos_ids(llama_tiny)


def test_max_new_tokens_is_respected(tiny):
    for n in (1, 5):
        out = generate(tiny, PROMPTS, GenerationSettings(max_new_tokens=n, batch_size=4))
        assert all(g.new_tokens <= n for g in out)
        forced = generate(tiny, PROMPTS, GenerationSettings(max_new_tokens=n, batch_size=4, ignore_eos=True))
        assert all(g.new_tokens == n for g in forced)


def test_prompt_too_long_for_gpt2_positions(gpt2_tiny, tmp_path):
    cache = GenerationCache(tmp_path / "c.sqlite")
    fits = " hello" * 1000  # 1000 tokens + 24 new = 1024 positions
    assert len(gen.encode_prompts(gpt2_tiny, [fits])[0]) == 1000
    too_long = " hello" * 1001
    with pytest.raises(ConfigError, match=r"prompts\[1\].*1001 prompt tokens.*1024 positions"):
        generate(gpt2_tiny, ["short", too_long], GenerationSettings(max_new_tokens=24), cache=cache)
    assert len(cache) == 0  # checked before any decoding
    with pytest.raises(ConfigError, match="max_new_tokens=25"):
        generate(gpt2_tiny, [fits], GenerationSettings(max_new_tokens=25))
    (g,) = generate(gpt2_tiny, [fits], GenerationSettings(max_new_tokens=24, ignore_eos=True))
    assert g.prompt_tokens == 1000 and g.new_tokens == 24


# ------------------------------------------------------------------------- cache
def test_second_call_is_served_from_the_cache(tiny, tmp_path, monkeypatch):
    cache = GenerationCache(tmp_path / "gen.sqlite")
    settings = GenerationSettings(max_new_tokens=6, batch_size=3)
    first = generate(tiny, PROMPTS, settings, cache=cache)
    assert not any(g.cached for g in first) and len(cache) == len(PROMPTS)
    monkeypatch.setattr(gen, "_decode_batch", fail_decode)
    second = generate(tiny, PROMPTS, GenerationSettings(max_new_tokens=6, batch_size=5), cache=cache)
    assert all(g.cached and g.seconds == 0.0 for g in second)
    assert [(g.text, g.prompt_tokens, g.new_tokens) for g in second] == \
        [(g.text, g.prompt_tokens, g.new_tokens) for g in first]
    # a fresh cache object on the same file sees the same entries
    reopened = GenerationCache(tmp_path / "gen.sqlite")
    assert all(g.cached for g in generate(tiny, PROMPTS[::-1], settings, cache=reopened))


def test_cache_misses_on_other_model_or_settings(gpt2_tiny, llama_tiny, tmp_path, monkeypatch):
    cache = GenerationCache(tmp_path / "gen.sqlite")
    settings = GenerationSettings(max_new_tokens=4)
    generate(gpt2_tiny, PROMPTS[:2], settings, cache=cache)
    calls = []
    real = gen._decode_batch

    def counting(lm, prompts, ids_rows, s):
        calls.append(len(prompts))
        return real(lm, prompts, ids_rows, s)

    monkeypatch.setattr(gen, "_decode_batch", counting)
    out = generate(llama_tiny, PROMPTS[:2], settings, cache=cache)  # other fingerprint
    assert not any(g.cached for g in out) and calls == [2]
    out = generate(gpt2_tiny, PROMPTS[:2], GenerationSettings(max_new_tokens=5), cache=cache)
    assert not any(g.cached for g in out) and calls == [2, 2]
    out = generate(gpt2_tiny, PROMPTS[:3], settings, cache=cache)  # one new prompt
    assert [g.cached for g in out] == [True, True, False] and calls == [2, 2, 1]


def test_cache_key_parts():
    key = GenerationCache.key
    s = GenerationSettings(max_new_tokens=8)
    base = key("model-a", "2+2=", s.cache_key())
    assert key("model-a", "2+2=", s.cache_key()) == base
    assert key("model-a", "2+2=", GenerationSettings(max_new_tokens=8, batch_size=99).cache_key()) == base
    others = [
        key("model-b", "2+2=", s.cache_key()),
        key("model-a|seed=1", "2+2=", s.cache_key()),
        key("model-a", "2+2= ", s.cache_key()),
        key("model-a", "2+2=", GenerationSettings(max_new_tokens=9).cache_key()),
        key("model-a", "2+2=", GenerationSettings(max_new_tokens=8, stop=("\n",)).cache_key()),
        key("model-a", "2+2=", GenerationSettings(max_new_tokens=8, do_sample=True).cache_key()),
        key("model-a", "2+2=", GenerationSettings(max_new_tokens=8, ignore_eos=True).cache_key()),
    ]
    assert len(set(others)) == len(others) and base not in others
    sampled = GenerationSettings(max_new_tokens=8, do_sample=True)
    for change in ({"seed": 1}, {"temperature": 0.7}, {"top_p": 0.9}):
        other = GenerationSettings(**{**sampled.__dict__, **change})
        assert key("m", "p", other.cache_key()) != key("m", "p", sampled.cache_key())
    # greedy decoding ignores the sampling knobs, so they do not split its cache
    assert GenerationSettings(max_new_tokens=8, seed=5, temperature=0.3).cache_key() == s.cache_key()
    assert "batch_size" not in s.cache_key()


def test_interrupted_run_keeps_finished_batches(gpt2_tiny, tmp_path, monkeypatch):
    cache = GenerationCache(tmp_path / "gen.sqlite")
    settings = GenerationSettings(max_new_tokens=5, batch_size=2)
    real = gen._decode_batch
    calls = []

    def interrupted(lm, prompts, ids_rows, s):
        calls.append(list(prompts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(lm, prompts, ids_rows, s)

    monkeypatch.setattr(gen, "_decode_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate(gpt2_tiny, PROMPTS, settings, cache=cache)
    assert len(cache) == 2
    done_first = set(calls[0])

    calls.clear()

    def counting(lm, prompts, ids_rows, s):
        calls.append(list(prompts))
        return real(lm, prompts, ids_rows, s)

    monkeypatch.setattr(gen, "_decode_batch", counting)
    rerun = generate(gpt2_tiny, PROMPTS, settings, cache=cache)
    decoded = [p for batch in calls for p in batch]
    assert sorted(decoded) == sorted(set(PROMPTS) - done_first)
    assert [g.cached for g in rerun] == [p in done_first for p in PROMPTS]
    assert len(cache) == len(PROMPTS)
    fresh = generate(gpt2_tiny, PROMPTS, settings)
    assert texts(rerun) == texts(fresh)


# ------------------------------------------------------------- sequence_logprobs
def hand_logprob(lm, prompt, completion):
    """One unpadded forward pass over prompt + completion tokens."""
    p = gen.encode_prompts(lm, [prompt])[0]
    c = lm.tokenizer(completion, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([p + c], device=lm.device)
    with torch.inference_mode():
        logp = torch.log_softmax(lm.model(input_ids=ids).logits.float()[0], dim=-1)
    total = sum(logp[len(p) - 1 + j, t].item() for j, t in enumerate(c))
    return total, len(c)


def test_sequence_logprobs_matches_hand_computation(tiny):
    prompts = PROMPTS[:5]
    completions = [" world", " 42 is the answer.", "", "\n    return n", " to be or not to be"]
    got = sequence_logprobs(tiny, prompts, completions, batch_size=3)
    assert got.shape == (5, 2) and not got.requires_grad
    for k, (p, c) in enumerate(zip(prompts, completions)):
        total, n = hand_logprob(tiny, p, c)
        assert got[k, 1].item() == n
        assert got[k, 0].item() == pytest.approx(total, abs=1e-3, rel=1e-4)
    assert got[2].tolist() == [0.0, 0.0]
    assert (got[[0, 1, 3, 4], 0] < 0).all()


def test_sequence_logprobs_grad(gpt2_tiny):
    model = gpt2_tiny.model
    model.zero_grad(set_to_none=True)
    try:
        out = sequence_logprobs(gpt2_tiny, PROMPTS[:2], [" yes", " no thanks"], grad=True)
        assert out.requires_grad
        out[:, 0].sum().backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and any(g.abs().sum().item() > 0 for g in grads)
    finally:
        model.zero_grad(set_to_none=True)


def test_sequence_logprobs_validates_lengths(gpt2_tiny):
    with pytest.raises(ConfigError, match="completions"):
        sequence_logprobs(gpt2_tiny, ["a", "b"], ["x"])
    assert sequence_logprobs(gpt2_tiny, [], []).shape == (0, 2)


# ------------------------------------------------------------------ SmolLM2 (slow)
@pytest.mark.slow
def test_smollm2_greedy_batched_equals_single_and_hf(smollm2):
    from llm_bridge.generation import chat_prompt

    questions = ["What is 2 + 3?", "Name a colour.", "Write one word that rhymes with cat."]
    prompts = [chat_prompt(smollm2, [{"role": "user", "content": q}]) for q in questions]
    settings = GenerationSettings(max_new_tokens=12, batch_size=3)
    batched = generate(smollm2, prompts, settings)
    assert texts(batched) == [generate(smollm2, [p], settings)[0].text for p in prompts]
    assert texts(batched) == hf_greedy(smollm2, prompts, 12)
    assert all(g.text.strip() for g in batched)


# ------------------------------------------------------------ benchmark smoke test
def test_bench_generation_runs(gpt2_tiny, tmp_path, capsys):
    import importlib.util
    import json
    import sys
    from pathlib import Path

    import transformers

    verbosity = transformers.logging.get_verbosity()
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_generation.py"
    spec = importlib.util.spec_from_file_location("bench_generation_under_test", path)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up
    try:
        spec.loader.exec_module(bench)
        prompts = bench.make_prompts(gpt2_tiny, bench.WORKLOADS["answer"], 4, seed=0)
        assert prompts == bench.make_prompts(gpt2_tiny, bench.WORKLOADS["answer"], 4, seed=0)
        lengths = [len(gen.encode_prompts(gpt2_tiny, [p])[0]) for p in prompts]
        assert all(114 <= n <= 150 for n in lengths), lengths
        out = tmp_path / "bench.json"
        bench.main(["--models", "gpt2-tiny", "--workloads", "hint", "--batch-sizes", "2",
                    "--prompts", "1", "--new-tokens", "3", "--bandwidth-gbs", "100",
                    "--json", str(out)])
    finally:
        sys.modules.pop(spec.name, None)
        transformers.logging.set_verbosity(verbosity)
    table = capsys.readouterr().out
    assert "| gpt2-tiny | cpu | hint | HF generate | 2 |" in table
    rows = json.loads(out.read_text())["rows"]
    assert [r["mode"] for r in rows] == ["one at a time", "ours", "HF generate"]
    assert [r["new_tokens"] for r in rows] == [3, 6, 6]  # EOS ignored: exactly max_new_tokens
    assert rows[0]["ratio_vs_one_at_a_time"] == 1.0 and all(r["tokens_per_s"] > 0 for r in rows)


def test_bench_generation_engines_prints_one_json_object():
    """``bench_generation.py --engines torch ct2 ... --json`` as a user runs it: one JSON object
    on stdout with a row per engine, model, batch and workload, and the ct2 / torch ratios."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("ctranslate2")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "bench_generation.py"), "--engines", "torch", "ct2",
         "--models", "llama-tiny", "--batches", "1", "2", "--prompts", "1", "--new-tokens", "3",
         "--repeats", "1", "--threads", "1", "--json"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    rows = out["rows"]
    assert sorted((r["engine"], r["batch"]) for r in rows) == [("ct2", 1), ("ct2", 2), ("torch", 1), ("torch", 2)]
    for r in rows:
        assert {"engine", "model", "batch", "workload", "tokens_per_s"} <= set(r)
        assert r["model"] == "llama-tiny" and r["tokens_per_s"] > 0
        assert r["new_tokens"] == 3 * (1 if r["batch"] == 1 else 2)  # EOS ignored
    assert [q["batch"] for q in out["ratios"]] == [1, 2] and all(q["ct2_over_torch"] > 0 for q in out["ratios"])
