"""The OpenAI-compatible loopback server: protocol and errors (with a fake receiver and with a
tiny random model), retries end to end, and SmolLM2 answering through the API (slow)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import openai
import pytest

from llm_bridge.errors import ConfigError, ReceiverError
from llm_bridge.generation import GenerationSettings
from llm_bridge.receivers import Completion, LocalReceiver, OpenAIReceiver
from llm_bridge.server import ServerHandle, serve

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


class EchoReceiver:
    """Answers with the last message upper-cased; records the settings it got."""

    name = "echo"

    def __init__(self):
        self.settings: list[GenerationSettings] = []
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()

    def complete(self, conversations, settings, *, progress=False):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.settings.append(settings)
            out = []
            for conv in conversations:
                text = conv[-1]["content"].upper()[: settings.max_new_tokens]
                out.append(Completion(text=text, prompt_tokens=sum(len(m["content"]) for m in conv),
                                      completion_tokens=len(text), seconds=0.0))
            return out
        finally:
            with self.lock:
                self.active -= 1


class BrokenReceiver:
    name = "broken"

    def complete(self, conversations, settings, *, progress=False):
        raise RuntimeError("the model fell over")


def post(url: str, body, raw: bytes | None = None, path="/chat/completions"):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def get(url: str, path: str):
    try:
        with urllib.request.urlopen(url + path, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def echo():
    rec = EchoReceiver()
    with serve(rec, model_name="echo-model") as handle:
        yield rec, handle


# ----------------------------------------------------------------------------- protocol
def test_chat_completion_protocol(echo):
    rec, handle = echo
    assert handle.url == f"http://127.0.0.1:{handle.port}/v1" and handle.port > 0
    status, body, headers = post(handle.url, {"model": "anything", "messages": FRANCE, "max_tokens": 8})
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body["object"] == "chat.completion" and body["model"] == "echo-model"
    assert body["id"].startswith("chatcmpl-") and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": "WHAT IS "}
    assert choice["finish_reason"] == "length" and choice["index"] == 0
    assert body["usage"] == {"prompt_tokens": 30, "completion_tokens": 8, "total_tokens": 38}


def test_request_fields_become_settings(echo):
    rec, handle = echo
    post(handle.url, {"messages": FRANCE})  # OpenAI defaults: temperature 1 (sampling)
    s = rec.settings[-1]
    assert s.do_sample and s.temperature == 1.0 and s.top_p == 1.0 and s.max_new_tokens == 256
    post(handle.url, {"messages": FRANCE, "temperature": 0, "max_completion_tokens": 3,
                      "seed": 5, "stop": "\n", "top_p": 0.5})
    s = rec.settings[-1]
    assert not s.do_sample and s.max_new_tokens == 3 and s.seed == 5 and s.stop == ("\n",)
    post(handle.url, {"messages": FRANCE, "temperature": 0.7, "stop": ["a", "b"], "n": 1})
    s = rec.settings[-1]
    assert s.do_sample and s.temperature == 0.7 and s.stop == ("a", "b")


def test_content_parts_and_developer_role(echo):
    rec, handle = echo
    msgs = [{"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "ab"}, {"type": "text", "text": "c"}]}]
    status, body, _ = post(handle.url, {"messages": msgs, "max_tokens": 10})
    assert status == 200 and body["choices"][0]["message"]["content"] == "ABC"


def test_models_endpoint_and_health(echo):
    _, handle = echo
    status, body = get(handle.url, "/models")
    assert status == 200 and body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["echo-model"]
    assert get(handle.url, "/models/echo-model")[1]["id"] == "echo-model"
    assert get(handle.url, "/models/other")[0] == 404
    assert get(handle.url.removesuffix("/v1"), "/health") == (200, {"status": "ok", "model": "echo-model"})


@pytest.mark.parametrize("body,raw,param", [
    (None, b"{not json", None),
    (None, b"[1, 2]", None),
    ({"model": "m"}, None, "messages"),
    ({"messages": []}, None, "messages"),
    ({"messages": "hi"}, None, "messages"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, None, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 5}]}, None, "messages[0].content"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, None, "messages[0].content"),
    ({"messages": FRANCE, "max_tokens": 0}, None, "max_tokens"),
    ({"messages": FRANCE, "max_tokens": "8"}, None, "max_tokens"),
    ({"messages": FRANCE, "temperature": 3}, None, "temperature"),
    ({"messages": FRANCE, "temperature": True}, None, "temperature"),
    ({"messages": FRANCE, "top_p": 0}, None, "top_p"),
    ({"messages": FRANCE, "seed": 1.5}, None, "seed"),
    ({"messages": FRANCE, "stop": [1]}, None, "stop"),
    ({"messages": FRANCE, "n": 2}, None, "n"),
    ({"messages": FRANCE, "stream": True}, None, "stream"),
])
def test_bad_requests_get_openai_style_400(echo, body, raw, param):
    rec, handle = echo
    status, reply, _ = post(handle.url, body, raw)
    assert status == 400
    err = reply["error"]
    assert set(err) >= {"message", "type", "param"} and err["type"] == "invalid_request_error"
    assert err["param"] == param and err["message"]
    if param:
        assert param.split("[")[0] in err["message"]
    assert rec.settings == []  # nothing was generated


def test_unknown_paths_and_methods(echo):
    _, handle = echo
    assert get(handle.url, "/completions")[0] == 404
    assert post(handle.url, {"messages": FRANCE}, path="/embeddings")[0] == 404
    assert get(handle.url, "/chat/completions")[0] == 405
    status, body, _ = post(handle.url, {}, path="/models")
    assert status == 405 and "error" in body


def test_generation_failure_is_a_500():
    with serve(BrokenReceiver()) as handle:
        status, body, _ = post(handle.url, {"messages": FRANCE})
        assert status == 500 and body["error"]["type"] == "server_error"
        assert "fell over" in body["error"]["message"]
        r = OpenAIReceiver("broken", base_url=handle.url, max_retries=1)
        with pytest.raises(ReceiverError, match="gave up after 2 attempts"):
            r.complete([FRANCE], GenerationSettings(max_new_tokens=4))
        assert handle.chat_requests == 3


class SlowEchoReceiver(EchoReceiver):
    """An echo that takes 0.2 s a call (so that requests queue up) and refuses "bad"."""

    def complete(self, conversations, settings, *, progress=False):
        import time

        time.sleep(0.2)
        if any(c[-1]["content"] == "bad" for c in conversations):
            raise ConfigError("messages: bad request content")
        return super().complete(conversations, settings, progress=progress)


def test_concurrent_requests_are_batched_one_call_at_a_time():
    rec = SlowEchoReceiver()
    with serve(rec, model_name="echo-model") as handle:
        r = OpenAIReceiver("echo-model", base_url=handle.url, concurrency=8)
        out = r.complete([[{"role": "user", "content": f"q{i}"}] for i in range(16)],
                         GenerationSettings(max_new_tokens=5))
        assert [c.text for c in out] == [f"Q{i}" for i in range(16)]  # each its own answer
        assert rec.max_active == 1                    # one generation call at a time ...
        assert sum(handle.batch_sizes) == 16 and max(handle.batch_sizes) > 1  # ... of several
        assert len(handle.batch_sizes) < 16
        assert all(s.batch_size == n for s, n in zip(rec.settings, handle.batch_sizes))


def test_a_failing_request_in_a_batch_fails_alone():
    rec = SlowEchoReceiver()
    with serve(rec, model_name="echo-model") as handle:
        results = {}

        def ask(content):
            results[content] = post(handle.url, {"messages": [{"role": "user", "content": content}],
                                                 "max_tokens": 4, "temperature": 0})

        threads = [threading.Thread(target=ask, args=(c,)) for c in ("a", "bad", "b", "c")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results["bad"][0] == 400 and "bad request content" in results["bad"][1]["error"]["message"]
        assert {c: results[c][1]["choices"][0]["message"]["content"] for c in "abc"} == \
            {"a": "A", "b": "B", "c": "C"}


def test_requests_with_other_settings_are_not_mixed():
    rec = SlowEchoReceiver()
    with serve(rec, model_name="echo-model") as handle:
        results = {}

        def ask(k):
            results[k] = post(handle.url, {"messages": [{"role": "user", "content": "abcdefgh"}],
                                           "max_tokens": k, "temperature": 0})

        threads = [threading.Thread(target=ask, args=(k,)) for k in (2, 3, 2, 3, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {k: results[k][1]["choices"][0]["message"]["content"] for k in (2, 3)} == \
            {2: "AB", 3: "ABC"}


def test_official_client_talks_to_it(echo):
    _, handle = echo
    client = openai.OpenAI(base_url=handle.url, api_key="EMPTY", max_retries=0)
    assert [m.id for m in client.models.list()] == ["echo-model"]
    resp = client.chat.completions.create(model="echo-model", messages=FRANCE, max_tokens=4)
    assert resp.choices[0].message.content == "WHAT" and resp.usage.total_tokens == 34
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="echo-model", messages=[], max_tokens=4)


# ----------------------------------------------------------------------------- lifecycle
def test_refuses_non_loopback_host():
    with pytest.raises(ConfigError, match="allow_remote"):
        serve(EchoReceiver(), host="0.0.0.0")
    with pytest.raises(ConfigError, match="allow_remote"):
        serve(EchoReceiver(), host="192.168.1.10")
    for kw, field in [({"port": -1}, "port"), ({"fail_first": -1}, "fail_first"),
                      ({"fail_status": 200}, "fail_status")]:
        with pytest.raises(ConfigError, match=field):
            serve(EchoReceiver(), **kw)
    with pytest.raises(ConfigError, match="lm_or_receiver"):
        serve(42)


def test_close_frees_the_port_and_port_in_use():
    handle = serve(EchoReceiver(), host="localhost")
    assert isinstance(handle, ServerHandle) and handle.running
    with pytest.raises(ConfigError, match="port"):
        serve(EchoReceiver(), port=handle.port)
    handle.close()
    handle.close()  # idempotent
    assert not handle.running
    with serve(EchoReceiver(), port=handle.port) as again:  # the port is free again
        assert again.port == handle.port


def test_serve_command_parser():
    from persuasion_cli import build_parser
    from persuasion_cli.bridge import serve_command
    args = build_parser().parse_args(["bridge", "serve", "--model", "llama-tiny", "--port", "0"])
    assert (args.model, args.port, args.host, args.allow_remote) == ("llama-tiny", 0, "127.0.0.1", False)
    assert args.func is serve_command


def test_serve_command_rejects_remote_host(capsys):
    from persuasion_cli import main
    assert main(["bridge", "serve", "--model", "llama-tiny", "--host", "0.0.0.0"]) == 2
    assert "allow" in capsys.readouterr().err


# ----------------------------------------------------------------------------- retries e2e
@pytest.mark.parametrize("status", [429, 500, 503])
def test_retries_end_to_end(status):
    rec = EchoReceiver()
    with serve(rec, fail_first=2, fail_status=status) as handle:
        r = OpenAIReceiver("echo", base_url=handle.url, max_retries=3)
        (c,) = r.complete([FRANCE], GenerationSettings(max_new_tokens=4))
        assert c.text == "WHAT" and handle.chat_requests == 3
        assert len(rec.settings) == 1


def test_retries_exhausted_end_to_end():
    with serve(EchoReceiver(), fail_first=5) as handle:
        r = OpenAIReceiver("echo", base_url=handle.url, max_retries=2)
        with pytest.raises(ReceiverError) as info:
            r.complete([FRANCE], GenerationSettings(max_new_tokens=4))
        msg = str(info.value)
        assert "RateLimitError" in msg and handle.url in msg and "3 attempts" in msg
        assert handle.chat_requests == 3


# ----------------------------------------------------------------------------- real models
@pytest.fixture(scope="module")
def tiny():
    from llm_bridge.models import load_causal_lm
    return load_causal_lm("llama-tiny")


def test_tiny_model_through_the_api_equals_local(tiny):
    local = LocalReceiver(tiny)
    convs = [FRANCE, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]]
    settings = GenerationSettings(max_new_tokens=8)
    with serve(tiny) as handle:
        assert handle.model_name == "llama-tiny"
        api = OpenAIReceiver("llama-tiny", base_url=handle.url, concurrency=2)
        remote = api.complete(convs, settings)
        status, body, _ = post(handle.url, {"messages": FRANCE, "max_tokens": 8, "temperature": 0})
    # the server answers one request at a time: compare with unbatched local generation
    direct = [local.complete([c], settings)[0] for c in convs]
    assert [(c.text, c.prompt_tokens, c.completion_tokens) for c in remote] == \
        [(c.text, c.prompt_tokens, c.completion_tokens) for c in direct]
    assert status == 200 and body["usage"]["prompt_tokens"] == direct[0].prompt_tokens
    assert body["usage"]["completion_tokens"] == direct[0].completion_tokens <= 8
    assert body["usage"]["total_tokens"] == direct[0].prompt_tokens + direct[0].completion_tokens
    assert body["choices"][0]["message"]["content"] == direct[0].text


def test_sampling_through_the_api_is_seeded(tiny):
    settings = GenerationSettings(max_new_tokens=8, do_sample=True, temperature=1.0, seed=3)
    with serve(tiny) as handle:
        api = OpenAIReceiver("llama-tiny", base_url=handle.url)
        a = api.complete([FRANCE], settings)
        b = api.complete([FRANCE], settings)
    assert a[0].text == b[0].text
    assert a[0].text == LocalReceiver(tiny).complete([FRANCE], settings)[0].text


@pytest.mark.slow
def test_smollm2_answers_paris_through_the_api():
    local = LocalReceiver("smollm2-135m")
    settings = GenerationSettings(max_new_tokens=16)
    with serve(local) as handle:
        (remote,) = OpenAIReceiver("smollm2-135m", base_url=handle.url).complete([FRANCE], settings)
    assert "Paris" in remote.text
    (direct,) = local.complete([FRANCE], settings)
    assert remote.text == direct.text and remote.completion_tokens == direct.completion_tokens
