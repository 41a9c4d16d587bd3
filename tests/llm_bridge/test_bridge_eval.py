"""The bridge's statistics, state abstraction, abstract game, Advisor and the evaluation protocol.

Fast tests use tiny random models and a scripted Receiver whose accuracy depends on the hint
it gets, so that the protocol's bookkeeping (signals, conditions, lifts, resume) can be checked
against values computed by hand.
"""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats as sstats

from llm_bridge import abstract_game as ag
from llm_bridge.errors import ConfigError
from llm_bridge.receivers import Completion
from llm_bridge.stats import accuracy_summary, mcnemar_exact, paired_lift, wilson_interval


# ---------------------------------------------------------------- statistics
@pytest.mark.parametrize("k,n", [(0, 5), (3, 10), (10, 10), (47, 120), (1, 1)])
def test_wilson_matches_the_score_test_inversion(k, n):
    """The Wilson interval is {p : |k/n - p| <= z sqrt(p(1-p)/n)}: check the endpoints solve it."""
    lo, hi = wilson_interval(k, n)
    z = sstats.norm.ppf(0.975)
    phat = k / n
    for p in (lo, hi):
        assert (phat - p) ** 2 == pytest.approx(z * z * p * (1 - p) / n, abs=1e-12)
    assert lo <= phat <= hi
    # and it agrees with scipy's implementation
    ref = sstats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert lo == pytest.approx(ref.low, abs=1e-9) and hi == pytest.approx(ref.high, abs=1e-9)


def test_wilson_rejects_bad_counts():
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(5, 3)


def test_mcnemar_equals_a_brute_force_binomial_sum():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.random(30) < 0.6
        b = rng.random(30) < 0.4
        w, l_ = int((a & ~b).sum()), int((~a & b).sum())
        m = w + l_
        pmf = [math.comb(m, i) / 2 ** m for i in range(m + 1)]
        obs = pmf[w]
        brute = min(1.0, sum(p for p in pmf if p <= obs * (1 + 1e-12)))
        assert mcnemar_exact(a, b) == pytest.approx(brute, rel=1e-9)


def test_paired_lift_and_summary():
    d = paired_lift([1, 1, 1, 0], [0, 1, 0, 0])
    assert d["lift"] == 0.5 and d["wins"] == 2 and d["losses"] == 0
    lo, hi = d["ci95"]
    assert lo < 0.5 < hi
    s = accuracy_summary([True, False, True, True])
    assert s["accuracy"] == 0.75 and s["correct"] == 3 and s["n"] == 4


# ---------------------------------------------------------------- states
def _p(uid, question, **meta):
    return SimpleNamespace(uid=uid, question=question, metadata=meta, answer="1")


def test_metadata_states_and_unseen_values():
    from llm_bridge.states import make_states

    probs = [_p("a", "q", source_dataset="x"), _p("b", "q", source_dataset="y"), _p("c", "q", source_dataset="x")]
    st = make_states("auto", probs)
    assert st.spec == "metadata:source_dataset" and st.names == ["x", "y"]
    assert st.states_of(probs) == [0, 1, 0]
    with pytest.raises(ConfigError, match="unseen"):
        st.states_of([_p("d", "q", source_dataset="z")])
    with pytest.raises(ConfigError, match="no metadata field"):
        make_states("metadata:level", probs)
    with pytest.raises(ConfigError, match="unknown spec"):
        make_states("bogus", probs)


def test_cluster_states_separate_well_separated_groups():
    from llm_bridge.states import ClusterStates

    def embed(texts):  # two far-apart groups by the first letter
        return np.array([[10.0 if t[0] == "a" else -10.0, float(len(t))] for t in texts])

    probs = [_p(str(i), ("a" if i % 3 else "b") + "x" * i) for i in range(12)]
    st = ClusterStates(2, seed=0, embed=embed).fit(probs)
    labels = st.states_of(probs)
    groups = {}
    for p, lab in zip(probs, labels):
        groups.setdefault(p.question[0], set()).add(lab)
    assert all(len(v) == 1 for v in groups.values()) and groups["a"] != groups["b"]
    assert st.names == ["cluster0", "cluster1"]
    assert labels.count(0) >= labels.count(1)  # clusters ordered by size
    with pytest.raises(ConfigError, match="clusters"):
        ClusterStates(20, embed=embed).fit(probs)


# ---------------------------------------------------------------- the abstract game
def _table(correct, tokens, n=10, max_new=100):
    correct = np.asarray(correct, dtype=float)
    return ag.CalibrationTable(
        [f"s{i}" for i in range(correct.shape[0])], ["direct", "stepwise", "verify"],
        np.full(correct.shape, float(n)), correct, np.asarray(tokens, dtype=float), max_new)


def test_zero_effort_cost_makes_full_revelation_optimal():
    """Identical utilities: the sender cannot beat full revelation (and full revelation is optimal)."""
    rng = np.random.default_rng(1)
    for _ in range(10):
        t = _table(rng.integers(0, 11, (3, 3)), rng.integers(100, 900, (3, 3)))
        g = ag.build_game(t, [Fraction(1, 3)] * 3, effort_cost=0.0)
        r = ag.solve_game(g)
        assert r["certified"]
        assert r["value"] == pytest.approx(r["full_revelation_value"], abs=1e-12)


def test_effort_cost_game_properties():
    rng = np.random.default_rng(2)
    for _ in range(10):
        t = _table(rng.integers(0, 11, (3, 3)), rng.integers(50, 1000, (3, 3)))
        prior = [Fraction(2, 10), Fraction(3, 10), Fraction(5, 10)]
        g = ag.build_game(t, prior, effort_cost=0.5)
        acc = t.accuracy()
        assert np.allclose(g.sender_utility, np.round(acc, 4))
        assert np.allclose(g.receiver_utility, np.round(acc - 0.5 * t.cost(), 4))
        r = ag.solve_game(g)
        assert r["value"] >= max(r["full_revelation_value"], r["no_information_value"]) - 1e-12
        assert np.allclose(r["scheme"].sum(axis=1), 1)
        learned = ag.learn_scheme(g, horizon=2000, seed=0)
        assert learned["violations"] == 0
        # pseudo-regret is a float sum of OPT - U(sigma_t); at the optimum it can be a few
        # ulps below 0 (seen: -1.1e-13 over 10^4 rounds)
        assert -1e-9 <= learned["pseudo_regret"] <= 2000


def test_laplace_smoothing_and_cost():
    t = _table([[0, 10, 5]], [[100, 500, 1000]], n=10, max_new=100)
    assert t.accuracy().tolist() == [[1 / 12, 11 / 12, 6 / 12]]
    assert t.cost().tolist() == [[0.1, 0.5, 1.0]]


def test_prior_from_states_requires_every_state():
    assert ag.prior_from_states([0, 1, 1, 1], 2) == [Fraction(1, 4), Fraction(3, 4)]
    with pytest.raises(ConfigError, match="never occur"):
        ag.prior_from_states([0, 0], 2)


# ---------------------------------------------------------------- a scripted Receiver
class ScriptedReceiver:
    """Answers correctly iff the hint recommends a mode in ``good[state]``; counts calls."""

    name = "scripted"

    def __init__(self, task, problems, state_of, good):
        self.task = task
        self.by_question = {task.user_prompt(p, None).strip(): p for p in problems}
        self.state_of = state_of
        self.good = good
        self.calls = 0

    def _problem(self, text):
        for q, p in self.by_question.items():
            if text.strip().endswith(q) or q in text:
                return p
        raise AssertionError("unknown prompt")

    def complete(self, conversations, settings, *, progress=False):
        out = []
        for conv in conversations:
            self.calls += 1
            text = conv[-1]["content"]
            p = self._problem(text)
            mode = next((a.name for a in ag.MATH_ACTIONS if a.instruction in text), None)
            ok = mode is not None and mode in self.good[self.state_of[p.uid]]
            answer = f"Answer: {p.answer}" if ok else "Answer: -123456789"
            out.append(Completion(text=answer, prompt_tokens=10,
                                  completion_tokens={"direct": 5, "stepwise": 60, "verify": 90}.get(mode, 20),
                                  seconds=0.0))
        return out


@pytest.fixture(scope="module")
def mix_task():
    from llm_bridge.tasks import load_task

    return load_task("basic_arithmetic,chain_sum")


def _eval_cfg(tmp_path, **kw):
    from llm_bridge.evaluate import EvalConfig

    base = dict(task="basic_arithmetic,chain_sum", n=12, n_calibration=8, n_train=20, seed=3,
                advisor="llama-tiny", receiver="scripted", max_new_tokens=100, hint_tokens=6,
                horizon=500, out=str(tmp_path / "run"))
    base.update(kw)
    return EvalConfig(**base)


def _scripted(mix_task, cfg, good):
    splits = mix_task.splits(n_train=cfg.n_train, n_calibration=cfg.n_calibration, n_test=cfg.n, seed=cfg.seed)
    allp = list(splits.train) + list(splits.calibration) + list(splits.test)
    state_of = {p.uid: p.metadata["source_dataset"] for p in allp}
    return ScriptedReceiver(mix_task, allp, state_of, good)


def test_evaluation_protocol_with_a_scripted_receiver(tmp_path, llama_tiny, mix_task):
    from llm_bridge.evaluate import EvaluationResult, run_evaluation

    cfg = _eval_cfg(tmp_path)
    good = {"basic_arithmetic": {"stepwise", "verify"}, "chain_sum": {"verify"}}
    rec = _scripted(mix_task, cfg, good)
    result = run_evaluation(cfg, progress=False, models={"llama-tiny": llama_tiny}, task=mix_task, receiver=rec)
    s = result.to_dict()
    # the typed result: its dict is summary.json, and it reads back from it
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert json.loads(json.dumps(s)) == on_disk
    assert EvaluationResult.from_dict(on_disk).to_dict() == on_disk
    assert result.lift_vs_none == s["lift_vs_none"] and result.accuracy("none") == 0.0
    assert result.state_names == s["states"]["names"]
    # calibration measured the script exactly: acc = (10 or 0 correct of n) smoothed
    cal = s["calibration"]
    for i, st in enumerate(cal["states"]):
        for j, a in enumerate(cal["actions"]):
            expect = cal["n"][i][j] if a in good[st] else 0
            assert cal["correct"][i][j] == expect
    scheme = np.array(s["game"]["optimal_scheme"])
    assert s["game"]["certified"]
    # none: no mode in the prompt -> always wrong; posterior: the scheme's recommendation
    assert s["conditions"]["none"]["accuracy"] == 0.0
    records = [json.loads(x) for x in open(tmp_path / "run" / "records.jsonl")]
    assert len(records) == 3 * cfg.n
    for r in records:
        if r["condition"] == "none":
            assert r["signal"] is None and r["hint"] is None and not r["correct"]
        else:
            assert r["hint"].startswith(next(a.instruction for a in ag.MATH_ACTIONS if a.name == r["signal"]))
            assert r["correct"] == (r["signal"] in good[r["state"]])
    post = [r for r in records if r["condition"] == "posterior"]
    expected = np.mean([scheme[s["states"]["names"].index(r["state"])][
        [a["name"] for a in s["actions"]].index(r["signal"])] > 0 for r in post])
    assert expected == 1.0  # every posterior signal has positive probability under the scheme
    assert s["conditions"]["posterior"]["accuracy"] == pytest.approx(np.mean([r["correct"] for r in post]))
    assert s["lift_vs_none"] == pytest.approx(s["conditions"]["posterior"]["accuracy"])
    for key in ("task", "n", "advisor", "receiver", "conditions", "lift_vs_none", "lift_vs_prior", "p_value"):
        assert key in s
    assert (tmp_path / "run" / "conditions.png").stat().st_size > 1000

    # a rerun resumes: no receiver call, no new record, same summary
    calls = rec.calls
    s2 = run_evaluation(cfg, progress=False, models={"llama-tiny": llama_tiny}, task=mix_task,
                        receiver=rec).to_dict()
    assert rec.calls == calls
    assert sum(1 for _ in open(tmp_path / "run" / "records.jsonl")) == 3 * cfg.n
    assert s2["conditions"] == s["conditions"]

    # other settings in the same folder are refused, naming the fields
    with pytest.raises(ConfigError, match="effort_cost"):
        run_evaluation(_eval_cfg(tmp_path, effort_cost=0.7), progress=False,
                       models={"llama-tiny": llama_tiny}, task=mix_task, receiver=rec)


def test_interrupted_evaluation_loses_nothing(tmp_path, llama_tiny, mix_task):
    from llm_bridge.evaluate import run_evaluation

    cfg = _eval_cfg(tmp_path, chunk=4)
    good = {"basic_arithmetic": {"stepwise"}, "chain_sum": {"verify", "stepwise"}}
    rec = _scripted(mix_task, cfg, good)
    real = rec.complete
    state = {"n": 0}

    def flaky(convs, settings, progress=False):
        state["n"] += 1
        if state["n"] == 8:  # 6 calibration chunks, then the 2nd test chunk
            raise KeyboardInterrupt
        return real(convs, settings, progress=progress)

    rec.complete = flaky
    with pytest.raises(KeyboardInterrupt):
        run_evaluation(cfg, progress=False, models={"llama-tiny": llama_tiny}, task=mix_task, receiver=rec)
    partial = [json.loads(x) for x in open(tmp_path / "run" / "records.jsonl")]
    assert 0 < len(partial) < 3 * cfg.n
    rec.complete = real
    s = run_evaluation(cfg, progress=False, models={"llama-tiny": llama_tiny}, task=mix_task,
                       receiver=rec).to_dict()
    rows = [json.loads(x) for x in open(tmp_path / "run" / "records.jsonl")]
    keys = [(r["uid"], r["condition"]) for r in rows]
    assert len(keys) == len(set(keys)) == 3 * cfg.n
    assert s["n"] == cfg.n


def test_signals_are_deterministic_per_problem(tmp_path, llama_tiny, mix_task):
    from llm_bridge.evaluate import run_evaluation

    good = {"basic_arithmetic": {"stepwise"}, "chain_sum": {"verify"}}
    sigs = []
    for k in range(2):
        cfg = _eval_cfg(tmp_path / str(k), chunk=5 + k)
        rec = _scripted(mix_task, cfg, good)
        run_evaluation(cfg, progress=False, models={"llama-tiny": llama_tiny}, task=mix_task, receiver=rec)
        rows = [json.loads(x) for x in open(tmp_path / str(k) / "run" / "records.jsonl")]
        sigs.append(sorted((r["uid"], r["condition"], r["signal"], r["item_state"]) for r in rows))
    assert sigs[0] == sigs[1]


def test_changed_settings_start_over_only_when_asked(tmp_path, llama_tiny, mix_task):
    from llm_bridge.evaluate import run_evaluation

    good = {"basic_arithmetic": {"stepwise"}, "chain_sum": {"verify"}}
    cfg = _eval_cfg(tmp_path, n=4, n_calibration=4)
    rec = _scripted(mix_task, cfg, good)
    run_evaluation(cfg, progress=False, models={"llama-tiny": llama_tiny}, task=mix_task, receiver=rec)
    other = _eval_cfg(tmp_path, n=4, n_calibration=4, effort_cost=0.5, horizon=400)
    with pytest.raises(ConfigError) as err:
        run_evaluation(other, progress=False, models={"llama-tiny": llama_tiny}, task=mix_task, receiver=rec)
    msg = str(err.value)
    assert msg.startswith("out: ") and "\n" not in msg
    assert "effort_cost: 0.2 -> 0.5" in msg and "horizon: 500 -> 400" in msg and "start over" in msg
    (tmp_path / "run" / "stale.txt").write_text("from the old run")
    s = run_evaluation(other, progress=False, models={"llama-tiny": llama_tiny}, task=mix_task, receiver=rec,
                       start_over=True).to_dict()
    assert s["game"]["effort_cost"] == 0.5
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == other.fingerprint()
    assert not (tmp_path / "run" / "stale.txt").exists()       # the old run is gone ...
    assert (tmp_path / "run" / "cache.sqlite").exists()         # ... but the cache is kept
    assert sum(1 for _ in open(tmp_path / "run" / "records.jsonl")) == 3 * other.n


RESULTS = Path(__file__).resolve().parents[2] / "results"


@pytest.mark.parametrize("name", [
    "bridge-math", "bridge-code", "advisor/before", "advisor/after",
    *(f"persuasion-pays/{f}" for f in (
        "main/before", "main/after", "main/transfer_before", "main/transfer_after",
        "content/after", "content/transfer_after", "unseen-smollm2/before", "unseen-smollm2/after",
        "api-1.5b/after", "humaneval", "pilot1-1.5b"))])
def test_measured_runs_still_read_and_resume(name):
    """The run folders in results/: their summary reads back as a typed result with the same
    dict, and their config.json is the fingerprint of the settings stored in it (so a rerun
    with those settings resumes)."""
    from llm_bridge.evaluate import IDENTITY_DEFAULTS, ITEMS_VERSION, EvalConfig, EvaluationResult
    from persuasion.runs import settings_diff

    folder = RESULTS / name
    if not (folder / "summary.json").exists():
        pytest.skip(f"{folder} is not in this checkout")
    summary = json.loads((folder / "summary.json").read_text())
    assert EvaluationResult.from_dict(summary).to_dict() == summary
    stored = summary["config"]
    if (folder / "config.json").exists():
        assert json.loads((folder / "config.json").read_text()) == stored
    # folders written before the engine fields read as the torch loop, and resume as it; a
    # HumanEval folder graded the old way (inside the child) is not resumed by the new grader
    # (grading and the pitfall items' version are derived fields, not settings)
    old = {k: v for k, v in {**IDENTITY_DEFAULTS, **stored}.items() if k not in ("grading", "items")}
    diff = settings_diff(stored, EvalConfig(**old).fingerprint(), defaults=IDENTITY_DEFAULTS)
    if stored["task"] == "humaneval" and "grading" not in stored:
        assert diff == [("grading", "original", "outside-the-child")]
    elif stored.get("states") == "pitfall" and "items" not in stored:
        # issue 13's pilot 1 ran under the pitfall definitions mended before the main run: it
        # must not resume under the new ones
        assert diff == [("items", None, ITEMS_VERSION)]
    else:
        assert diff == []


# ---------------------------------------------------------------- the Advisor
def test_advisor_plain_style_with_gpt2_architecture(gpt2_tiny):
    from llm_bridge.advisor import Advisor
    from llm_bridge.generation import GenerationSettings

    adv = Advisor(gpt2_tiny, settings=GenerationSettings(max_new_tokens=12))
    assert adv.style == "plain"
    a = ag.MATH_ACTIONS[1]
    assert adv.prompt("What is 2+2?", a).endswith("Hint:")
    hints = adv.render(["What is 2+2?", "What is 3*3?"], [a, ag.MATH_ACTIONS[0]])
    assert hints[0].text.startswith(a.instruction) and hints[1].action == "direct"
    assert all("\n" not in h.advisor_text for h in hints)
    only = Advisor(gpt2_tiny, settings=GenerationSettings(max_new_tokens=12), hint_format="advisor")
    h = only.render(["What is 2+2?"], [a])[0]
    assert h.text == (h.advisor_text or a.instruction)
    with pytest.raises(ConfigError, match="hint_format"):
        Advisor(gpt2_tiny, hint_format="shout")


def test_advisor_chat_style(llama_tiny):
    from llm_bridge.advisor import Advisor
    from llm_bridge.generation import GenerationSettings

    adv = Advisor(llama_tiny, settings=GenerationSettings(max_new_tokens=6))
    assert adv.style == "chat"
    p = adv.prompt("What is 2+2?", ag.MATH_ACTIONS[2])
    assert "<|im_start|>" in p and ag.MATH_ACTIONS[2].instruction in p
    assert len(adv.render(["What is 2+2?"], [ag.MATH_ACTIONS[2]])) == 1


# ---------------------------------------------------------------- CLI
def _cli(argv):
    from persuasion_cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        code = main(argv)
    return code, buf.getvalue()


def test_cli_json_schema_on_tiny_models(tmp_path):
    code, out = _cli(["bridge", "evaluate", "--task", "chain_sum", "--n", "4", "--n-calibration", "3",
                      "--n-train", "10", "--advisor", "llama-tiny", "--receiver", "gpt2-tiny",
                      "--max-new-tokens", "8", "--hint-tokens", "4", "--horizon", "200",
                      "--states", "metadata:source_dataset", "--out", str(tmp_path / "o"), "--json", "--no-progress"])
    assert code == 0
    s = json.loads(out)
    assert {"task", "n", "advisor", "receiver", "conditions", "lift_vs_none", "lift_vs_prior", "p_value"} <= set(s)
    assert set(s["conditions"]) == {"none", "prior", "posterior"}
    for c in s["conditions"].values():
        assert set(c) >= {"accuracy", "ci95"} and len(c["ci95"]) == 2
    assert s["task"] == "chain_sum" and s["n"] == 4 and s["advisor"] == "llama-tiny"


@pytest.mark.parametrize("argv,needle", [
    (["--n", "0"], "--n"),
    (["--task", "no_such_generator", "--advisor", "llama-tiny", "--receiver", "llama-tiny"], "task"),
    (["--effort-cost", "-1", "--advisor", "llama-tiny", "--receiver", "llama-tiny"], "effort_cost"),
    (["--advisor", "no/such/model-xyz"], "model"),
])
def test_cli_bad_input_is_one_line_exit_2(argv, needle, tmp_path, capsys):
    from persuasion_cli import main

    try:
        code = main(["bridge", "evaluate", "--out", str(tmp_path / "x"), "--no-progress"] + argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


# ---------------------------------------------------------------- real model (slow)
@pytest.mark.slow
def test_real_smollm2_evaluation_runs_end_to_end(tmp_path, smollm2):
    from llm_bridge.evaluate import EvalConfig, run_evaluation

    cfg = EvalConfig(task="math-mix", n=4, n_calibration=4, n_train=40, seed=1, max_new_tokens=64,
                     hint_tokens=24, horizon=200, out=str(tmp_path / "real"))
    s = run_evaluation(cfg, progress=False, models={"smollm2-135m": smollm2}).to_dict()
    assert s["receiver"] == "smollm2-135m" and s["game"]["certified"]
    rows = [json.loads(x) for x in open(tmp_path / "real" / "records.jsonl")]
    assert len(rows) == 12
    assert all(r["answer"].strip() for r in rows)  # the real model says something
    hinted = [r for r in rows if r["hint"]]
    assert hinted and all(r["advisor_raw"].strip() for r in hinted)  # the Advisor wrote something
    # the leak filter keeps no sentence with a number the problem does not contain
    import re
    for r in hinted:
        assert set(re.findall(r"\d+", r["advisor_text"])) <= set(re.findall(r"\d+", r["question"]))


def test_a_local_receiver_can_run_on_its_own_compute_type(llama_tiny):
    from llm_bridge.evaluate import EvalConfig, _agents

    cfg = EvalConfig(advisor="llama-tiny", receiver="llama-tiny", engine="ct2", compute_type="float32",
                     receiver_compute_type="int8")
    fp = cfg.validate().fingerprint()
    assert fp["compute_type"] == "float32" and fp["receiver_compute_type"] == "int8"
    assert "receiver_compute_type" not in EvalConfig().fingerprint()  # older folders keep theirs
    advisor, receiver, _ = _agents(cfg, {"llama-tiny": llama_tiny}, None, None)
    assert advisor.lm.engine.compute_type == "float32"
    assert receiver.lm.engine.compute_type == "int8"
    same = EvalConfig(advisor="llama-tiny", receiver="llama-tiny", engine="ct2", compute_type="float32")
    advisor, receiver, _ = _agents(same, {"llama-tiny": llama_tiny}, None, None)
    assert advisor.lm is receiver.lm  # one model on one setting: one view
    with pytest.raises(ConfigError, match="receiver_compute_type: an API Receiver"):
        EvalConfig(receiver="openai:gpt-x", receiver_compute_type="int8").validate()


def test_api_timeout_and_concurrency_reach_the_receiver_and_not_the_fingerprint(llama_tiny):
    from llm_bridge.evaluate import EvalConfig, _agents

    base = EvalConfig(advisor="llama-tiny", receiver="openai:m@http://127.0.0.1:9/v1", engine="torch")
    cfg = EvalConfig(advisor="llama-tiny", receiver="openai:m@http://127.0.0.1:9/v1", engine="torch",
                     api_timeout=900.0, api_concurrency=16)
    assert cfg.validate().fingerprint() == base.fingerprint()  # how long to wait changes no result
    _, receiver, _ = _agents(cfg, {"llama-tiny": llama_tiny}, None, None)
    assert receiver.timeout == 900.0 and receiver.concurrency == 16
    for field, kw in (("api_timeout", {"api_timeout": 0}), ("api_concurrency", {"api_concurrency": 0})):
        with pytest.raises(ConfigError, match=field):
            EvalConfig(**kw).validate()


def test_pilot_folders_read_back_and_are_not_resumed_with_other_item_definitions():
    """Issue 13's pilot was made before the items version entered the identity (its prior items
    named places, its plain state said "only additions"): its summary reads back, and the
    current code refuses to resume it, naming the field."""
    from llm_bridge.evaluate import EvalConfig, EvaluationResult
    from persuasion.runs import settings_diff

    folder = RESULTS / "persuasion-pays" / "pilot1-1.5b"
    if not (folder / "summary.json").exists():
        pytest.skip(f"{folder} is not in this checkout")
    summary = json.loads((folder / "summary.json").read_text())
    assert EvaluationResult.from_dict(summary).to_dict() == summary
    stored = summary["config"]
    now = EvalConfig(**{k: v for k, v in stored.items() if k != "grading"}).fingerprint()
    assert [d[0] for d in settings_diff(stored, now)] == ["items"]
