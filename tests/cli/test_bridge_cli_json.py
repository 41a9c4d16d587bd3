"""The bridge's commands as a user runs them: a real ``persuasion`` process.

* ``--json``: stdout is exactly one JSON object (``json.loads`` of the whole stdout), and the
  progress bars and library warnings are on stderr. Tiny random models (``llama-tiny``,
  ``gpt2-tiny``) and the smallest settings of the in-process tests keep each run to seconds.
* An API receiver whose endpoint does not answer: exit 6 within seconds, before any model is
  loaded (the Advisor / white box named here does not exist, so loading it first would exit
  2), one line on stderr naming the option and the URL, nothing on stdout, the key nowhere.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("torch")

SECRET = "sk-test-0123456789abcdef-never-print-me"


def _env(**extra):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               MPLBACKEND="Agg")
    for name in ("http_proxy", "https_proxy", "all_proxy"):  # the check is direct, not via a proxy
        env.pop(name, None)
        env.pop(name.upper(), None)
    env.update(extra)
    return env


def _persuasion(args, *, timeout=300, **env):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "persuasion_cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=_env(**env))
    return proc, time.perf_counter() - t0


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


# ----------------------------------------------------------------------------- --json
def test_bridge_evaluate_json_is_the_whole_stdout(tmp_path, one_json_object):
    proc, _ = _persuasion([
        "bridge", "evaluate", "--task", "chain_sum", "--n", "4", "--n-calibration", "3",
        "--n-train", "10", "--advisor", "llama-tiny", "--receiver", "gpt2-tiny",
        "--max-new-tokens", "8", "--hint-tokens", "4", "--horizon", "200", "--threads", "1",
        "--states", "metadata:source_dataset", "--out", str(tmp_path / "o"), "--json"])
    s = one_json_object(proc)
    assert s["task"] == "chain_sum" and s["n"] == 4
    assert set(s["conditions"]) == {"none", "prior", "posterior"}
    assert "calibration" not in s  # the slim summary; the full one is in summary.json
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["n"] == 4
    assert "test problems" in proc.stderr  # the progress bar went to stderr


def test_bridge_evaluate_with_a_trained_advisor_checkpoint(tmp_path, one_json_object):
    """``--advisor-adapter``: a LoRA checkpoint (nonzero weights) attached to the Advisor; the
    summary names the trained view by its adapter hash; a folder that is no checkpoint: exit 2,
    one line naming the option's field."""
    import torch

    from llm_bridge.models import load_causal_lm
    from llm_bridge.training.lora import adapter_hash, attach_lora, save_checkpoint

    lm = load_causal_lm("llama-tiny")
    peft_model = attach_lora(lm)
    torch.manual_seed(3)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)  # B = 0 at initialisation: make the adapter do something
    save_checkpoint(tmp_path / "ckpt", peft_model)
    digest = adapter_hash(peft_model)
    args = ["bridge", "evaluate", "--task", "chain_sum", "--n", "3", "--n-calibration", "2",
            "--n-train", "8", "--advisor", "llama-tiny", "--receiver", "gpt2-tiny",
            "--max-new-tokens", "4", "--hint-tokens", "4", "--horizon", "100", "--threads", "1",
            "--states", "metadata:source_dataset", "--json"]
    proc, _ = _persuasion([*args, "--advisor-adapter", str(tmp_path / "ckpt"), "--out", str(tmp_path / "o")])
    s = one_json_object(proc)
    assert s["advisor"] == f"llama-tiny+lora-{digest[:8]}"
    bad, _ = _persuasion([*args, "--advisor-adapter", str(tmp_path), "--out", str(tmp_path / "o2")])
    assert bad.returncode == 2 and bad.stdout == ""
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "advisor_adapter" in lines[0] and "not a training checkpoint" in lines[0]


def test_train_advisor_json_is_the_whole_stdout(tmp_path, one_json_object):
    proc, _ = _persuasion([
        "train", "advisor", "--task", "chain_sum", "--n-train", "2", "--k", "2", "--n", "2",
        "--epochs", "1", "--method", "rft", "--advisor", "llama-tiny", "--receiver", "gpt2-tiny",
        "--transfer-receiver", "none", "--n-calibration", "2", "--n-prior", "6",
        "--max-new-tokens", "6", "--hint-tokens", "4", "--states", "metadata:source_dataset",
        "--threads", "1", "--out", str(tmp_path / "o"), "--json"])
    r = one_json_object(proc)
    assert set(r["before"]) == set(r["after"]) == {"none", "prior", "posterior"}
    assert r["training"]["method"] == "rft" and r["transfer"] is None
    assert "advisor samples" in proc.stderr


def test_cyclealign_black_box_compute_type_is_in_the_identity(tmp_path, one_json_object):
    """``--black-box-compute-type int8``: the judge decodes on ct2 in int8 beside a float32 white
    box; run.json records it, and a rerun with the judge in float32 is refused, naming it."""
    pytest.importorskip("ctranslate2")
    args = ["cyclealign", "--task", "chain_sum", "--cycles", "1", "--n", "4", "--k", "2",
            "--max-new-tokens", "4", "--white-box", "gpt2-tiny", "--black-box", "llama-tiny",
            "--no-baseline", "--no-judge-eval", "--threads", "1", "--engine", "ct2",
            "--compute-type", "float32", "--out", str(tmp_path / "o"), "--json"]
    proc, _ = _persuasion([*args, "--black-box-compute-type", "int8"])
    one_json_object(proc)
    identity = json.loads((tmp_path / "o" / "run.json").read_text())
    text = json.dumps(identity)
    assert identity["config"]["compute_type"] == "float32"
    assert "-int8" in text and "black_box_engine" in text, text
    again, _ = _persuasion(args)  # the judge in float32 now
    assert again.returncode == 2 and "black_box_engine" in again.stderr, again.stderr


def test_cyclealign_json_is_the_whole_stdout(tmp_path, one_json_object):
    proc, _ = _persuasion([
        "cyclealign", "--task", "chain_sum", "--cycles", "1", "--n", "4", "--k", "2",
        "--max-new-tokens", "4", "--white-box", "gpt2-tiny", "--black-box", "llama-tiny",
        "--no-baseline", "--threads", "1", "--out", str(tmp_path / "o"), "--json"])
    r = one_json_object(proc)
    assert [c["cycle"] for c in r["cycles"]] == [1]
    assert r["white_box"] == "gpt2-tiny" and r["black_box"] == "llama-tiny"
    assert "cyclealign" in proc.stderr
    # the black box as a judge of the held-out candidates, reported beside the white box
    assert {"black_box_ranking_accuracy", "black_box_ranking_pairs", "black_box_ranking_parse_failures",
            "reward_ci95"} <= set(r["cycles"][0])
    assert "black_box_ranking_accuracy_zero_shot" in r["baselines"]["no_training"]
    # the finished run's summary table (resumed: nothing to do)
    args = ["cyclealign", "--task", "chain_sum", "--cycles", "1", "--n", "4", "--k", "2",
            "--max-new-tokens", "4", "--white-box", "gpt2-tiny", "--black-box", "llama-tiny",
            "--no-baseline", "--threads", "1", "--out", str(tmp_path / "o")]
    text, _ = _persuasion(args)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[1].split()[:8] == ["cycle", "agreement", "exact", "unparsed", "reward", "95%", "CI", "wb"]
    assert "bb rank" in lines[1] and [ln.split()[0] for ln in lines[2:4]] == ["0", "1"]
    assert any(ln.startswith("black box on ") and "zero-shot" in ln for ln in lines)
    # the folder was written with the held-out judging: resuming it without is refused
    off, _ = _persuasion([*args, "--no-judge-eval"])
    assert off.returncode == 2 and off.stdout == ""
    assert len(off.stderr.strip().splitlines()) == 1 and "config.judge_eval" in off.stderr


# ----------------------------------------------------------------------------- dead endpoint
@pytest.mark.parametrize("command,option", [
    (["bridge", "evaluate", "--advisor", "no/such/advisor-model"], "--receiver"),
    (["train", "advisor", "--advisor", "no/such/advisor-model", "--transfer-receiver", "none"],
     "--receiver"),
    (["cyclealign", "--task", "chain_sum", "--white-box", "no/such/white-box-model"], "--black-box"),
])
def test_unreachable_api_receiver_exits_6_at_once(command, option, tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    proc, seconds = _persuasion([*command, option, f"openai:some-model@{url}", "--out",
                                 str(tmp_path / "o"), "--json"], timeout=60, OPENAI_API_KEY=SECRET)
    assert proc.returncode == 6, proc.stderr
    assert seconds < 10
    assert proc.stdout == ""
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1, proc.stderr
    assert option in err[0] and url in err[0] and "connection refused" in err[0]
    assert SECRET not in proc.stderr + proc.stdout
    assert not (tmp_path / "o").exists()  # nothing was started


def test_missing_api_key_is_reported_before_the_endpoint_is_tried(tmp_path):
    env = _env()
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "persuasion_cli", "bridge", "evaluate", "--receiver",
                           "openai:some-model@https://api.invalid/v1", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "OPENAI_API_KEY" in proc.stderr
    assert "cannot reach" not in proc.stderr


def test_reachability_check_names_the_field_and_hides_user_info(monkeypatch):
    from llm_bridge.errors import ConfigError, ReceiverError
    from llm_bridge.receivers import check_reachable

    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    port = _closed_port()
    with pytest.raises(ReceiverError) as exc:
        check_reachable(f"http://user:{SECRET}@127.0.0.1:{port}/v1", field="receiver", timeout=2)
    assert str(exc.value).startswith(f"receiver: cannot reach the API at http://127.0.0.1:{port}/v1")
    assert SECRET not in str(exc.value)
    with pytest.raises(ConfigError, match="--receiver"):
        check_reachable("ftp://127.0.0.1/v1", field="--receiver")
    with socket.socket() as server:  # something listening: no error, and no request is sent
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        check_reachable(f"http://127.0.0.1:{server.getsockname()[1]}/v1", timeout=2)


class _ConstantReceiver:
    """Answers every conversation with the same text (served over HTTP below)."""

    name = "constant"

    def complete(self, conversations, settings, *, progress=False):
        from llm_bridge.receivers import Completion

        return [Completion(text="Answer: 7", prompt_tokens=1, completion_tokens=3, seconds=0.0)
                for _ in conversations]


def test_bridge_evaluate_json_with_a_live_api_receiver(tmp_path, one_json_object):
    """The reachability check lets a live endpoint through; the run and its JSON are as usual."""
    from llm_bridge.server import serve

    with serve(_ConstantReceiver(), model_name="constant") as handle:
        proc, _ = _persuasion([
            "bridge", "evaluate", "--task", "chain_sum", "--n", "3", "--n-calibration", "2",
            "--n-train", "6", "--advisor", "llama-tiny", "--receiver", f"openai:constant@{handle.url}",
            "--max-new-tokens", "8", "--hint-tokens", "4", "--horizon", "100", "--threads", "1",
            "--states", "metadata:source_dataset", "--out", str(tmp_path / "o"), "--json"],
            OPENAI_API_KEY=SECRET)
    s = one_json_object(proc)
    assert s["receiver"] == f"openai:constant@{handle.url}"
    rows = [json.loads(x) for x in (tmp_path / "o" / "records.jsonl").read_text().splitlines()]
    assert len(rows) == 9 and {r["answer"] for r in rows} == {"Answer: 7"}
    assert SECRET not in proc.stdout + proc.stderr


def test_cyclealign_with_a_live_api_black_box(tmp_path, one_json_object):
    """``--black-box openai:...`` with ``--api-timeout``/``--api-concurrency``: the run goes through
    the server (a judge that never ranks: every ranking unparsed, the loop still finishes)."""
    from llm_bridge.server import serve

    with serve(_ConstantReceiver(), model_name="constant") as handle:
        proc, _ = _persuasion([
            "cyclealign", "--task", "chain_sum", "--cycles", "1", "--n", "4", "--k", "2",
            "--max-new-tokens", "4", "--white-box", "gpt2-tiny", "--black-box",
            f"openai:constant@{handle.url}", "--api-timeout", "30", "--api-concurrency", "2",
            "--no-baseline", "--threads", "1", "--out", str(tmp_path / "o"), "--json"],
            OPENAI_API_KEY=SECRET)
        requests = handle.chat_requests
    r = one_json_object(proc)
    assert r["black_box"] == f"openai:constant@{handle.url}"
    assert requests >= 2  # both training problems (n = 4, 2 held out) were judged through it
    assert r["cycles"][0]["parse_failure_rate"] == 1.0
    assert SECRET not in proc.stdout + proc.stderr


@pytest.mark.parametrize("command,option,value", [
    (["cyclealign", "--task", "chain_sum"], "--api-timeout", "0"),
    (["cyclealign", "--task", "chain_sum"], "--api-concurrency", "two"),
    (["bridge", "evaluate"], "--api-timeout", "nan"),
    (["bridge", "evaluate"], "--api-concurrency", "0"),
])
def test_api_request_options_refuse_bad_values_in_one_line(command, option, value, tmp_path):
    proc, _ = _persuasion([*command, option, value, "--out", str(tmp_path / "o")], timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"{option}:" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()
