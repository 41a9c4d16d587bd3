"""Advisor training (RFT + DPO on LoRA) and its before/after evaluation.

Fast: the Advisor is a freshly loaded ``llama-tiny`` (LoRA is attached in place, so never the
shared session fixture), the Receivers are scripted (their answer is correct or not depending
on a hash of the prompt, so hints matter and rewards vary), the task is a two-family toy
arithmetic :class:`llm_bridge.tasks.Task`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from llm_bridge.errors import ConfigError  # noqa: E402
from llm_bridge.evaluate import run_evaluation  # noqa: E402
from llm_bridge.tasks import Grade, Problem, Task  # noqa: E402
from llm_bridge.training import advisor_training as at  # noqa: E402
from llm_bridge.training.advisor_training import (  # noqa: E402
    AdvisorTrainingConfig, AdvisorTrainingResult, dpo_loss, dpo_pairs, rft_examples, rft_loss, train_advisor)
from llm_bridge.training.advisor_training.data import helpful_count  # noqa: E402


# ----------------------------------------------------------------------------- fakes
class ToyTask(Task):
    """Sums and products of two small numbers; state = the family (metadata source_dataset)."""

    name = "toy-math"
    kind = "math"

    def problems(self, n, seed):
        rng = np.random.default_rng(seed)
        out = []
        for i in range(n):
            fam = ("add", "mul")[i % 2]
            a, b = (int(v) for v in rng.integers(2, 10, size=2))
            q = f"What is {a} {'+' if fam == 'add' else '*'} {b}?"
            ans = a + b if fam == "add" else a * b
            out.append(Problem(f"{fam}/{i}", self.name, q, str(ans), {"source_dataset": fam}))
        return out

    def system_prompt(self):
        return None

    def user_prompt(self, problem, hint=None):
        return problem.question + (f"\nHint: {hint}" if hint else "")

    def grade(self, problem, response):
        m = re.findall(r"-?\d+", response)
        got = m[-1] if m else None
        ok = got == problem.answer
        return Grade(ok, float(ok), got, "exact match" if ok else "mismatch")


class HashReceiver:
    """Answers correctly iff a salted hash of the user message is even (about half the time)."""

    def __init__(self, name="hash-receiver", salt="a"):
        self.name = name
        self.salt = salt
        self.calls = 0

    def complete(self, conversations, settings, *, progress=False):
        from llm_bridge.receivers import Completion

        out = []
        for conv in conversations:
            self.calls += 1
            text = conv[-1]["content"]
            a, op, b = re.search(r"(\d+) ([+*]) (\d+)", text).groups()
            right = int(a) + int(b) if op == "+" else int(a) * int(b)
            h = int(hashlib.sha256((self.salt + text).encode()).hexdigest(), 16)
            ans = right if h % 2 == 0 else right + 1
            out.append(Completion(text=f"The answer is {ans}", prompt_tokens=len(text.split()),
                                  completion_tokens=4, seconds=0.0))
        return out


def _fresh_advisor():
    from llm_bridge.models import load_causal_lm

    return load_causal_lm("llama-tiny")


def _tiny_config(**kw):
    base = dict(task="toy-math", n_train=4, n=3, k=3, epochs=2, dpo_epochs=1, method="rft+dpo",
                seed=0, advisor="llama-tiny", receiver="hash-receiver", transfer_receiver=None,
                lr=5e-3, dpo_lr=5e-3, batch_size=4, n_calibration=3, n_prior=8, horizon=50,
                max_new_tokens=8, hint_tokens=5, gen_batch_size=12, lora_dropout=0.0, progress=False)
    base.update(kw)
    return AdvisorTrainingConfig(**base)


# ----------------------------------------------------------------------------- losses and data
def test_dpo_loss_sign_and_value():
    pw = torch.tensor([-5.0, -3.0], requires_grad=True)
    pl = torch.tensor([-4.0, -6.0], requires_grad=True)
    ref_w = torch.tensor([-5.0, -3.0])
    ref_l = torch.tensor([-4.0, -6.0])
    loss, margins = dpo_loss(pw, pl, ref_w, ref_l, beta=0.5)
    assert loss.item() == pytest.approx(np.log(2.0))  # policy == reference
    assert torch.allclose(margins, torch.zeros(2))
    loss.backward()
    assert (pw.grad < 0).all() and (pl.grad > 0).all()  # raising the chosen logprob lowers the loss
    higher, _ = dpo_loss(pw.detach() + 1.0, pl.detach(), ref_w, ref_l, beta=0.5)
    assert higher.item() < loss.item()


def test_rft_loss_is_length_normalised_nll():
    loss = rft_loss(torch.tensor([-4.0, -9.0]), torch.tensor([2.0, 3.0]))
    assert loss.item() == pytest.approx((2.0 + 3.0) / 2)


def _rows():
    def r(uid, action, k, text, reward):
        return {"uid": uid, "action": action, "k": k, "prompt": f"P-{uid}-{action}",
                "advisor_text": text, "reward": reward, "correct": reward >= 1}
    return [r("u1", "stepwise", 0, "a", 1.0), r("u1", "stepwise", 1, "b", 0.0),
            r("u1", "stepwise", 2, "a", 1.0), r("u1", "stepwise", 3, "c", 0.0),
            r("u2", "direct", 0, "x", 1.0), r("u2", "direct", 1, "y", 1.0),   # all alike: no signal
            r("u3", "verify", 0, "p", 0.0), r("u3", "verify", 1, "q", 0.0)]


def test_rft_examples_selection():
    ex = rft_examples(_rows(), "above_mean")
    assert [(e["uid"], e["completion"]) for e in ex] == [("u1", "a")]  # deduplicated, u2 teaches nothing
    ex = rft_examples(_rows(), "correct")
    assert sorted((e["uid"], e["completion"]) for e in ex) == [("u1", "a"), ("u2", "x"), ("u2", "y")]
    with pytest.raises(ConfigError, match="rft_select"):
        rft_examples(_rows(), "best")


def test_dpo_pairs_within_groups_capped_and_seeded():
    pairs = dpo_pairs(_rows(), max_per_group=4, seed=0)
    assert sorted((p["chosen"], p["rejected"]) for p in pairs) == [("a", "b"), ("a", "c")]
    assert all(p["reward_chosen"] > p["reward_rejected"] for p in pairs)
    one = dpo_pairs(_rows(), max_per_group=1, seed=3)
    assert len(one) == 1 and one == dpo_pairs(_rows(), max_per_group=1, seed=3)


def _content_rows():
    """One group whose best hint is the one the leak filter emptied, as in the main run."""
    def r(k, text, dropped, reward):
        return {"uid": "u1", "action": "verify", "k": k, "prompt": "P", "advisor_text": text,
                "hint_dropped": dropped, "reward": reward, "correct": reward >= 1}
    return [r(0, "", 1, 1.0), r(1, "Mind the sign in 3 - -4.", 0, 1.0), r(2, "Do 2 * 3 first.", 0, 0.0),
            r(3, "Start with 7.", 1, 1.0)]  # a sentence filtered: not whole


def test_positives_content_never_trains_an_emptied_hint():
    rows = _content_rows()
    assert sorted(e["completion"] for e in rft_examples(rows, "correct", "any")) == [
        "", "Mind the sign in 3 - -4.", "Start with 7."]
    assert [e["completion"] for e in rft_examples(rows, "correct", "content")] == ["Mind the sign in 3 - -4."]
    assert [e["completion"] for e in rft_examples(rows, "above_mean", "content")] == ["Mind the sign in 3 - -4."]
    anyp = {(p["chosen"], p["rejected"]) for p in dpo_pairs(rows, max_per_group=10, positives="any")}
    assert ("", "Do 2 * 3 first.") in anyp
    content = [(p["chosen"], p["rejected"]) for p in dpo_pairs(rows, max_per_group=10, positives="content")]
    assert content == [("Mind the sign in 3 - -4.", "Do 2 * 3 first.")]
    assert helpful_count(rows, "correct", "any") == 3 and helpful_count(rows, "correct", "content") == 1
    # the emptied hint may still be rejected: a content hint that beat it is a pair
    rows[0]["reward"], rows[0]["correct"] = 0.0, False
    assert ("Mind the sign in 3 - -4.", "") in {
        (p["chosen"], p["rejected"]) for p in dpo_pairs(rows, max_per_group=10, positives="content")}
    with pytest.raises(ConfigError, match="positives"):
        rft_examples(rows, "correct", "some")
    with pytest.raises(ConfigError, match="positives"):
        AdvisorTrainingConfig(positives="some")


def test_positives_default_keeps_old_identities():
    from llm_bridge.training.advisor_training import run_identity

    assert "positives" not in run_identity(_tiny_config(), "fp", "r")["config"]
    assert run_identity(_tiny_config(positives="content"), "fp", "r")["config"]["positives"] == "content"
    # positives touches its own field only, with and without a Receiver compute type
    for rct in (None, "int8"):
        anyc = run_identity(_tiny_config(receiver_compute_type=rct), "fp", "r")["config"]
        content = run_identity(_tiny_config(receiver_compute_type=rct, positives="content"), "fp", "r")["config"]
        assert content.pop("positives") == "content" and content == anyc
        assert ("receiver_compute_type" in anyc) == (rct is not None)


def test_config_validation():
    with pytest.raises(ConfigError, match="method"):
        AdvisorTrainingConfig(method="ppo")
    with pytest.raises(ConfigError, match="k: DPO"):
        AdvisorTrainingConfig(k=1)
    assert AdvisorTrainingConfig(k=1, method="rft").phases == [("rft", 1), ("rft", 2)]
    assert AdvisorTrainingConfig(epochs=2, dpo_epochs=1).phases == [("rft", 1), ("rft", 2), ("dpo", 1)]
    with pytest.raises(ConfigError, match="beta"):
        AdvisorTrainingConfig(beta=0)


# ----------------------------------------------------------------------------- one step each
@pytest.fixture
def tiny_lora():
    from llm_bridge.training.lora import AdapterTrainer, LoraSettings, attach_lora, lora_parameters

    lm = _fresh_advisor()
    peft = attach_lora(lm, LoraSettings(r=4, dropout=0.0), seed=0)
    trainer = AdapterTrainer(lora_parameters(peft), lr=1e-2, max_grad_norm=None)
    return lm, peft, trainer


def _logprobs(lm, prompts, completions, grad):
    from llm_bridge.training.cyclealign import completion_logprobs

    return completion_logprobs(lm, prompts, completions, add_end=[True] * len(prompts), grad=grad,
                               batch_size=len(prompts))


def test_one_rft_step_lowers_the_batch_loss(tiny_lora):
    lm, peft, trainer = tiny_lora
    prompts = ["Problem: 2+3\nHint:", "Problem: 4*5\nHint:"]
    comps = [" Add the two numbers.", " Multiply step by step."]
    lm.model.train()
    loss0 = rft_loss(*_logprobs(lm, prompts, comps, grad=True))
    before = {n: p.detach().clone() for n, p in peft.named_parameters() if p.requires_grad}
    assert trainer.backward(loss0)
    with torch.no_grad():
        loss1 = rft_loss(*_logprobs(lm, prompts, comps, grad=False))
    assert loss1.item() < loss0.item()
    changed = [n for n, p in peft.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert changed and all("lora_" in n for n in changed)


def test_one_dpo_step_lowers_the_loss_and_reference_is_the_base(tiny_lora):
    lm, peft, trainer = tiny_lora
    prompts = ["Problem: 2+3\nHint:"]
    chosen, rejected = [" Add them carefully."], [" The answer is five."]
    ids = lm.tokenizer("Problem: 2+3\nHint: Add", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        with peft.disable_adapter():
            base_logits = lm.model(input_ids=ids).logits.clone()
        ref = _logprobs(lm, prompts * 2, chosen + rejected, grad=False)[0]
    sums = _logprobs(lm, prompts * 2, chosen + rejected, grad=True)[0]
    loss0, m0 = dpo_loss(sums[:1], sums[1:], ref[:1], ref[1:], beta=1.0)
    assert loss0.item() == pytest.approx(np.log(2.0), abs=1e-5)  # B = 0: policy == reference
    trainer.backward(loss0)
    with torch.no_grad():
        sums1 = _logprobs(lm, prompts * 2, chosen + rejected, grad=False)[0]
        loss1, m1 = dpo_loss(sums1[:1], sums1[1:], ref[:1], ref[1:], beta=1.0)
        adapted = lm.model(input_ids=ids).logits
        with peft.disable_adapter():
            again = lm.model(input_ids=ids).logits
    assert loss1.item() < loss0.item() and m1.item() > 0
    assert not torch.allclose(adapted, base_logits)       # the adapter changed the policy ...
    assert torch.allclose(again, base_logits, atol=1e-6)  # ... and disabling it gives the base back


# ----------------------------------------------------------------------------- end to end
def test_end_to_end_tiny_run(tmp_path):
    task, rec, trec = ToyTask(), HashReceiver(), HashReceiver("hash-transfer", salt="b")
    cfg = _tiny_config()
    typed = train_advisor(cfg, out_dir=tmp_path, advisor_lm=_fresh_advisor(), receiver=rec,
                          transfer_receiver=trec, task=task)
    res = typed.to_dict()
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert isinstance(typed, AdvisorTrainingResult) and json.loads(json.dumps(res)) == on_disk
    assert AdvisorTrainingResult.from_dict(on_disk).to_dict() == on_disk
    assert typed.transfer.receiver == "hash-transfer" and typed.lift() == res["after_vs_before"]["posterior"]["lift"]
    for name in ("samples.jsonl", "summary.json", "before_after.png", "run.json", "cache.sqlite",
                 "before/summary.json", "after/summary.json", "transfer_before/summary.json",
                 "transfer_after/summary.json", "checkpoints/epoch-003/adapter_model.safetensors"):
        assert (tmp_path / name).exists(), name
    json.dumps(res)  # JSON-safe
    assert set(res["before"]) == set(res["after"]) == {"none", "prior", "posterior"}
    assert res["transfer"]["receiver"] == "hash-transfer"
    tr = res["training"]
    assert tr["n_samples"] == tr["n_groups"] * cfg.k == cfg.n_train * cfg.k  # signals="scheme"
    assert [(e["epoch"], e["phase"]) for e in tr["epochs"]] == [(1, "rft"), (2, "rft"), (3, "dpo")]
    assert tr["rft_examples"] > 0 and tr["pairs"] > 0 and tr["steps"] > 0
    assert tr["device"] == "cpu" and tr["steps_per_second"] > 0
    # the after run reuses the before game: same signals on the same problems, other hints
    before = {(r["uid"], r["condition"]): r for r in at.read_jsonl(tmp_path / "before" / "records.jsonl")}
    after = {(r["uid"], r["condition"]): r for r in at.read_jsonl(tmp_path / "after" / "records.jsonl")}
    assert before.keys() == after.keys()
    assert all(before[k]["signal"] == after[k]["signal"] and before[k]["state"] == after[k]["state"]
               for k in before)
    after_summary = json.loads((tmp_path / "after" / "summary.json").read_text())
    assert after_summary["game"]["reused_from"].endswith("before/summary.json")
    assert not (tmp_path / "after" / "calibration.jsonl").exists()
    assert after_summary["advisor"].startswith("llama-tiny+lora-")
    # the last checkpoint, loaded again on a fresh base Advisor, is the after run's Advisor: the
    # same name and the same hints on the same problems (what `bridge evaluate --advisor-adapter`
    # evaluates on other Receivers)
    view = at.load_trained_advisor("llama-tiny", tmp_path / "checkpoints" / "epoch-003")
    assert view.name == after_summary["advisor"]
    again_cfg = cfg.eval_config(out=str(tmp_path / "again"), advisor=view.name,
                                game_from=str(tmp_path / "before" / "summary.json"))
    run_evaluation(again_cfg, progress=False, models={view.name: view}, task=task,
                   receiver=HashReceiver())
    again = {(r["uid"], r["condition"]): r for r in at.read_jsonl(tmp_path / "again" / "records.jsonl")}
    assert again.keys() == after.keys()
    assert all(again[k]["hint"] == after[k]["hint"] for k in after)
    with pytest.raises(ConfigError, match="^advisor_adapter: .*not a training checkpoint"):
        at.load_trained_advisor("llama-tiny", tmp_path / "before")
    with pytest.raises(ConfigError, match="^advisor_adapter: .*does not fit the Advisor 'gpt2-tiny'"):
        at.load_trained_advisor("gpt2-tiny", tmp_path / "checkpoints" / "epoch-003")
    # training and evaluation problems are disjoint
    uids = {json.loads(line)["uid"] for line in (tmp_path / "samples.jsonl").read_text().splitlines()}
    assert not uids & {k[0] for k in before}
    # a rerun of a finished run repeats no Receiver call
    calls = rec.calls
    res2 = train_advisor(cfg, out_dir=tmp_path, advisor_lm=_fresh_advisor(), receiver=rec,
                         transfer_receiver=trec, task=task).to_dict()
    assert rec.calls == calls
    assert res2["after"] == res["after"] and res2["adapter_hash"] == res["adapter_hash"]


def test_resume_after_interruption_in_epoch_two(tmp_path):
    from safetensors.torch import load_file

    task, rec = ToyTask(), HashReceiver()
    cfg = _tiny_config(epochs=3, method="rft", k=3)

    class Crash(RuntimeError):
        pass

    def crash(event, info):
        if event == "step" and info["epoch"] == 2:
            raise Crash("injected")

    with pytest.raises(Crash):
        train_advisor(cfg, out_dir=tmp_path, advisor_lm=_fresh_advisor(), receiver=rec, task=task,
                      hooks=crash)
    rows1 = (tmp_path / "samples.jsonl").read_text().splitlines()
    assert (tmp_path / "checkpoints" / "epoch-001").exists()
    assert not (tmp_path / "checkpoints" / "epoch-002").exists()

    seen = {}

    def watch(event, info):
        from peft import get_peft_model_state_dict

        if event == "resumed":
            seen["epoch"] = info["epoch"]
            saved = load_file(str(tmp_path / "checkpoints" / "epoch-001" / "adapter_model.safetensors"))
            live = get_peft_model_state_dict(info["peft"])
            seen["match"] = (saved.keys() == live.keys()
                             and all(torch.equal(saved[k], live[k].cpu()) for k in saved))
            seen["trained"] = any(v.abs().sum() > 0 for k, v in saved.items() if "lora_B" in k)
        if event == "epoch_start":
            seen.setdefault("epochs", []).append(info["epoch"])

    calls = rec.calls
    res = train_advisor(cfg, out_dir=tmp_path, advisor_lm=_fresh_advisor(), receiver=rec, task=task,
                        hooks=watch).to_dict()
    rows2 = (tmp_path / "samples.jsonl").read_text().splitlines()
    assert rows2 == rows1  # no sample redone or duplicated
    keys = [(json.loads(r)["uid"], json.loads(r)["action"], json.loads(r)["k"]) for r in rows2]
    assert len(keys) == len(set(keys)) == cfg.n_train * cfg.k
    assert seen["epoch"] == 1 and seen["match"] and seen["trained"]
    assert seen["epochs"] == [2, 3]  # epoch 1 is not trained again
    assert [e["epoch"] for e in res["training"]["epochs"]] == [1, 2, 3]
    # only the after evaluation needed the Receiver again (before and samples were on disk/cache)
    assert rec.calls - calls == 3 * cfg.n


def test_refuses_a_changed_run_and_a_shared_receiver(tmp_path):
    task, rec = ToyTask(), HashReceiver()
    from llm_bridge.training.advisor_training import open_advisor_folder, run_identity

    cfg = _tiny_config()
    open_advisor_folder(tmp_path, run_identity(cfg, "fp", "hash-receiver"))
    with pytest.raises(ConfigError, match="other settings"):
        open_advisor_folder(tmp_path, run_identity(_tiny_config(k=5), "fp", "hash-receiver"))
    lm = _fresh_advisor()
    from llm_bridge.receivers import LocalReceiver

    with pytest.raises(ConfigError, match="wraps the Advisor"):
        train_advisor(cfg, out_dir=tmp_path / "x", advisor_lm=lm, receiver=LocalReceiver(lm), task=task)
    with pytest.raises(ConfigError, match="transfer_receiver"):
        train_advisor(_tiny_config(transfer_receiver="hash-receiver"), out_dir=tmp_path / "y",
                      advisor_lm=lm, receiver=rec, task=task)


def test_identity_names_every_changed_field_and_start_over_keeps_the_cache(tmp_path):
    from llm_bridge.training.advisor_training import open_advisor_folder, run_identity

    open_advisor_folder(tmp_path, run_identity(_tiny_config(), "fp", "hash-receiver"))
    for name in ("cache.sqlite", "cache.sqlite-wal", "samples.jsonl"):
        (tmp_path / name).write_text("x")
    (tmp_path / "before").mkdir()
    changed = run_identity(_tiny_config(k=5, lr=1e-3), "fp2", "hash-receiver")
    with pytest.raises(ConfigError) as err:
        open_advisor_folder(tmp_path, changed)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("out: ")
    assert all(f in msg for f in ('advisor: "fp" -> "fp2"', "config.k: 3 -> 5", "config.lr: 0.005 -> 0.001"))
    open_advisor_folder(tmp_path, run_identity(_tiny_config(progress=True, gen_batch_size=3), "fp", "hash-receiver"))
    open_advisor_folder(tmp_path, changed, start_over=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.sqlite", "cache.sqlite-wal", "run.json"]
    assert json.loads((tmp_path / "run.json").read_text()) == json.loads(json.dumps(changed))


def test_the_measured_run_still_reads_and_is_not_resumed_with_other_seeds():
    """results/advisor: summary.json reads back as a typed result with the same dict, and
    run.json is the identity of the settings the summary reports, but for the seed
    derivation of the hint samples (SHA-256 when it ran): resuming it is refused, never a mix
    of two seed streams."""
    from pathlib import Path

    from persuasion.runs import settings_diff

    folder = Path(__file__).resolve().parents[2] / "results" / "advisor"
    if not (folder / "summary.json").exists():
        pytest.skip("results/advisor is not in this checkout")
    summary = json.loads((folder / "summary.json").read_text())
    assert AdvisorTrainingResult.from_dict(summary).to_dict() == summary
    run = json.loads((folder / "run.json").read_text())
    config = AdvisorTrainingConfig(**{"engine": "torch", **summary["config"]})  # it ran on torch
    assert settings_diff(run, at.run_identity(config, run["advisor"], run["receiver"])) == [
        ("seeds", None, at.HINT_SEEDS)]


# ----------------------------------------------------------------------------- CLI
def _parser():
    from persuasion_cli.train_advisor import add_advisor_command

    p = argparse.ArgumentParser(prog="persuasion")
    sub = p.add_subparsers(dest="command")
    t = sub.add_parser("train")
    add_advisor_command(t.add_subparsers(dest="train_command"))
    return p


def test_cli_parses_and_prints_one_json_object(monkeypatch, capsys, tmp_path):
    from persuasion_cli import train_advisor as cli_advisor

    args = _parser().parse_args(["train", "advisor", "--task", "chain_sum", "--n-train", "4", "--k", "2",
                                 "--n", "6", "--method", "rft", "--transfer-receiver", "none",
                                 "--out", str(tmp_path), "--json", "--no-progress"])
    cfg = cli_advisor._config(args)
    assert (cfg.n_train, cfg.k, cfg.n, cfg.method, cfg.progress) == (4, 2, 6, "rft", False)
    fake = {"before": {"none": {}}, "after": {"none": {}}, "transfer": None, "training": {}}
    seen = {}

    def fake_train(config, *, out_dir, start_over=False):
        seen["out"] = out_dir
        return SimpleNamespace(to_dict=lambda: fake)  # the typed result's JSON form

    monkeypatch.setattr(cli_advisor, "train_advisor", fake_train)  # the name the command calls
    assert args.func(args) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and json.loads(printed[0]) == fake
    assert seen["out"] == str(tmp_path)
    with pytest.raises(SystemExit):
        _parser().parse_args(["train", "advisor", "--k", "0"])


# ----------------------------------------------------------------------------- evaluate.game_from
def test_game_from_checks_the_previous_run(tmp_path):
    from llm_bridge.abstract_game import MATH_ACTIONS
    from llm_bridge.evaluate import EvalConfig, _previous_game

    summary = {"task": "toy-math", "states": {"names": ["add", "mul"], "prior": ["1/2", "1/2"]},
               "actions": [{"name": a.name} for a in MATH_ACTIONS],
               "game": {"optimal_scheme": [[0, 1, 0], [0, 0, 1]]}, "online": {}, "calibration": {}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    got = _previous_game(tmp_path, "toy-math", ["add", "mul"], MATH_ACTIONS)
    assert got["optimal_scheme"].tolist() == [[0, 1, 0], [0, 0, 1]] and got["learned_scheme"] is None
    with pytest.raises(ConfigError, match="game_from: .* task"):
        _previous_game(tmp_path, "other", ["add", "mul"], MATH_ACTIONS)
    with pytest.raises(ConfigError, match="game_from: .* states"):
        _previous_game(tmp_path, "toy-math", ["add"], MATH_ACTIONS)
    with pytest.raises(ConfigError, match="game_from: .* does not exist"):
        _previous_game(tmp_path / "nowhere", "toy-math", ["add", "mul"], MATH_ACTIONS)
    # runs made before the field existed keep their config.json fingerprint
    assert "game_from" not in EvalConfig().fingerprint()
    assert EvalConfig(game_from="x/summary.json").fingerprint()["game_from"] == "x/summary.json"


# ----------------------------------------------------------------------------- CUDA and real model
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_rft_step_on_cuda_with_autocast():
    from llm_bridge.models import load_causal_lm
    from llm_bridge.training.lora import AdapterTrainer, LoraSettings, attach_lora, lora_parameters

    lm = load_causal_lm("llama-tiny", device="cuda", dtype=torch.float32)
    peft = attach_lora(lm, LoraSettings(r=4, dropout=0.0), seed=0)
    trainer = AdapterTrainer(lora_parameters(peft), device=lm.device, lr=1e-2, max_grad_norm=None)
    assert trainer.amp_dtype is not None
    from llm_bridge.training.cyclealign import completion_logprobs

    prompts, comps = ["Problem: 2+3\nHint:"] * 2, [" Add them.", " Count up."]
    lm.model.train()
    sums, counts = completion_logprobs(lm, prompts, comps, add_end=[True, True], grad=True,
                                       batch_size=2, autocast=trainer.autocast())
    loss0 = rft_loss(sums, counts)
    trainer.backward(loss0)
    with torch.no_grad():
        loss1 = rft_loss(*completion_logprobs(lm, prompts, comps, add_end=[True, True], batch_size=2))
    assert loss1.item() < loss0.item()


@pytest.mark.slow
def test_real_smollm2_advisor_trains_end_to_end(tmp_path):
    """SmolLM2-135M as the Advisor (fresh copy), the scripted Receiver: a handful of short hints."""
    from llm_bridge.models import load_causal_lm

    cfg = _tiny_config(advisor="smollm2-135m", n_train=2, n=2, k=2, epochs=1, dpo_epochs=1,
                       n_calibration=2, n_prior=6, hint_tokens=16, lr=1e-3, dpo_lr=1e-3,
                       signals="all")
    res = train_advisor(cfg, out_dir=tmp_path, advisor_lm=load_causal_lm("smollm2-135m"),
                        receiver=HashReceiver(), task=ToyTask()).to_dict()
    assert res["training"]["n_samples"] == 2 * 3 * 2
    assert [e["phase"] for e in res["training"]["epochs"]] == ["rft", "dpo"]
    assert res["after"]["posterior"]["n"] == 2
    assert (tmp_path / "before_after.png").exists()


@pytest.mark.parametrize("engine", ["torch", "ct2"])
def test_sampling_interrupted_resumes_to_the_same_hints(tmp_path, engine):
    """The training hints of a run interrupted after its first chunk of samples, once resumed,
    are those of an uninterrupted run (on ct2: chunks of SAMPLE_GROUP groups, each one call
    with k hypotheses; on torch: per-prompt seeds)."""
    if engine == "ct2":
        pytest.importorskip("ctranslate2")
    task = ToyTask()
    cfg = _tiny_config(n_train=10, n_prior=12, k=2, epochs=1, method="rft", dpo_epochs=None, gen_batch_size=4,
                       engine=engine)

    class Crash(RuntimeError):
        pass

    def crash(event, info):
        if event == "sampled":
            raise Crash("injected")

    with pytest.raises(Crash):
        train_advisor(cfg, out_dir=tmp_path / "a", advisor_lm=_fresh_advisor(), receiver=HashReceiver(),
                      task=task, hooks=crash)
    partial = at.read_jsonl(tmp_path / "a" / "samples.jsonl")
    assert 0 < len(partial) < cfg.n_train * cfg.k
    train_advisor(cfg, out_dir=tmp_path / "a", advisor_lm=_fresh_advisor(), receiver=HashReceiver(), task=task)
    train_advisor(cfg, out_dir=tmp_path / "b", advisor_lm=_fresh_advisor(), receiver=HashReceiver(), task=task)

    def hints(folder):
        return sorted((r["uid"], r["action"], r["k"], r["hint"]) for r in at.read_jsonl(folder / "samples.jsonl"))

    assert hints(tmp_path / "a") == hints(tmp_path / "b")
    assert len(hints(tmp_path / "b")) == cfg.n_train * cfg.k
    k_hints = {}
    for uid, _, _, h in hints(tmp_path / "b"):
        k_hints.setdefault(uid, set()).add(h)
    assert any(len(v) > 1 for v in k_hints.values())  # the k hints of a group are samples, not copies
    ident = json.loads((tmp_path / "b" / "run.json").read_text())
    assert ident["config"].get("engine") == (None if engine == "torch" else "ct2")


def test_receivers_can_run_on_their_own_compute_type():
    from llm_bridge.training.advisor_training import run_identity

    cfg = _tiny_config(engine="ct2", compute_type="float32", receiver_compute_type="int8")
    assert cfg.engine_setting() == ("ct2", "float32")
    assert cfg.receiver_engine_setting() == ("ct2", "int8")
    assert cfg.eval_config().receiver_compute_type == "int8"
    assert run_identity(cfg, "fp", "r")["config"]["receiver_compute_type"] == "int8"
    assert "receiver_compute_type" not in run_identity(_tiny_config(), "fp", "r")["config"]
    with pytest.raises(ConfigError, match="^receiver_compute_type: int16 is measured"):
        _tiny_config(engine="ct2", receiver_compute_type="int16")
    with pytest.raises(ConfigError, match="^receiver_compute_type: applies to the ct2 engine only"):
        _tiny_config(engine="torch", receiver_compute_type="int8")
    with pytest.raises(ConfigError, match=r"^receiver_compute_type: an API Receiver \(openai:m@"):
        _tiny_config(engine="ct2", receiver_compute_type="int8", transfer_receiver="openai:m@http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="^receiver_compute_type: expected a CTranslate2 compute type"):
        _tiny_config(engine="ct2", receiver_compute_type="")
