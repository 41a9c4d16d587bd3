"""Receivers: OpenAIReceiver's retries through the real openai client against a scripted local
HTTP server (attempts, Retry-After, what is not retried, the messages), key hygiene, cache and
ordering (with a fake client, no network), make_receiver's spec parsing, LocalReceiver on a tiny
random model."""

from __future__ import annotations

import http.server
import json
import logging
import pickle
import socket
import threading
import time

import openai
import pytest
from openai.types.chat import ChatCompletion

from llm_bridge.errors import ConfigError, ReceiverError
from llm_bridge.generation import GenerationSettings
from llm_bridge.receivers import (Completion, LocalReceiver, OpenAIReceiver, Receiver,
                                  is_loopback_url, make_receiver, validate_conversation)

try:  # the transport library of the installed openai client
    import httpx2 as httpx
except ImportError:  # pragma: no cover - older openai releases
    import httpx

SECRET = "sk-test-SECRET-0123456789abcdef"
REMOTE = "https://api.example.com/v1"
LOCAL = "http://127.0.0.1:9/v1"
GREEDY = GenerationSettings(max_new_tokens=16)
HELLO = [{"role": "user", "content": "Hello?"}]

_REQUEST = httpx.Request("POST", "https://api.example.com/v1/chat/completions")


def status_error(cls, code: int, message: str = "boom", headers: dict | None = None):
    return cls(message, response=httpx.Response(code, request=_REQUEST, headers=headers or {}),
               body=None)


def chat_response(text: str, prompt_tokens=7, completion_tokens=3, usage=True) -> ChatCompletion:
    d = {"id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": "m",
         "choices": [{"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": text}}]}
    if usage:
        d["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}
    return ChatCompletion.model_validate(d)


class FakeClient:
    """``client.chat.completions.create(**kw)``: raises the queued errors, then answers
    with the last user message reversed (or ``answer(kw)``)."""

    def __init__(self, errors=(), answer=None, delay=None):
        self.errors = list(errors)
        self.answer = answer
        self.delay = delay
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.chat = self
        self.completions = self

    def create(self, **kw):
        with self.lock:
            self.calls.append(kw)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            err = self.errors.pop(0) if self.errors else None
        try:
            if self.delay is not None:
                time.sleep(self.delay(kw))
            if err is not None:
                raise err
            if self.answer is not None:
                return self.answer(kw)
            return chat_response(kw["messages"][-1]["content"][::-1])
        finally:
            with self.lock:
                self.in_flight -= 1


class ScriptedAPI:
    """A local OpenAI-compatible endpoint: ``http.server`` on 127.0.0.1 (a free port) in a thread.

    Each ``POST .../chat/completions`` takes the next queued reply (see :func:`reply`); when
    none is left it answers 200 with the last user message reversed. It records the time and
    the headers (lower-cased names) of every request.
    """

    def __init__(self, replies=()):
        self.replies = list(replies)
        self.times: list[float] = []
        self.headers: list[dict] = []
        self.lock = threading.Lock()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with api.lock:
                    api.times.append(time.monotonic())
                    api.headers.append(headers)
                    r = api.replies.pop(0) if api.replies else reply(200)
                time.sleep(r["delay"])
                if r["status"] == 200:
                    text = body["messages"][-1]["content"][::-1]
                    payload = chat_response(text).model_dump(mode="json")
                else:
                    key = headers.get("authorization", "").removeprefix("Bearer ")
                    payload = {"error": {"message": r["message"].replace("{key}", key),
                                         "type": "test_error", "code": None}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(r["status"])
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in r["headers"].items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up waiting (timeout tests)
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def attempts(self) -> int:
        return len(self.times)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def reply(status: int, headers: dict | None = None, message: str = "boom", delay: float = 0.0):
    """One scripted answer; ``{key}`` in ``message`` becomes the bearer token the client sent."""
    return {"status": status, "headers": headers or {}, "message": message, "delay": delay}


@pytest.fixture
def api():
    """``api(*replies)`` starts a :class:`ScriptedAPI`; all are closed after the test."""
    servers = []

    def start(*replies):
        servers.append(ScriptedAPI(replies))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    return SECRET


def receiver(client, **kw) -> OpenAIReceiver:
    kw.setdefault("base_url", REMOTE)
    return OpenAIReceiver("test-model", client=client, **kw)


def failure(r: OpenAIReceiver) -> ReceiverError:
    with pytest.raises(ReceiverError) as info:
        r.complete([HELLO], GREEDY)
    return info.value


# ----------------------------------------------------------------------------- retries
def test_client_honours_retry_after_then_answers(key, api):
    server = api(reply(429, {"Retry-After": "1"}, "Rate limit reached"))
    r = OpenAIReceiver("test-model", base_url=server.url, max_retries=3)
    assert r._client.max_retries == 3 and r._client.timeout == 60.0
    (c,) = r.complete([HELLO], GREEDY)
    assert c.text == "?olleH" and (c.prompt_tokens, c.completion_tokens) == (7, 3) and not c.cached
    assert server.attempts == 2
    assert [h["x-stainless-retry-count"] for h in server.headers] == ["0", "1"]
    # the client's own backoff before a first retry is at most 0.5 s: this wait is the server's
    assert server.times[1] - server.times[0] >= 0.95
    assert c.seconds >= 0.95  # wall time of the answer, retries included


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
def test_retried_statuses(key, api, status):
    server = api(*[reply(status, {"retry-after-ms": "1"})] * 2)
    (c,) = OpenAIReceiver("test-model", base_url=server.url, max_retries=2).complete([HELLO], GREEDY)
    assert c.text == "?olleH" and server.attempts == 3
    # retry-after-ms was honoured: the client's own backoff would wait at least 1.1 s in all
    assert server.times[-1] - server.times[0] < 1.0


def test_timeouts_and_connection_errors_are_retried(key, api):
    server = api(reply(200, delay=1.5))  # the first answer comes too late
    (c,) = OpenAIReceiver("test-model", base_url=server.url, timeout=0.3, max_retries=1).complete(
        [HELLO], GREEDY)
    assert c.text == "?olleH" and server.attempts == 2

    server = api(reply(200, delay=1.5), reply(200, delay=1.5))
    err = failure(OpenAIReceiver("test-model", base_url=server.url, timeout=0.3, max_retries=1))
    assert "gave up after 2 attempts (max_retries=1)" in str(err) and "APITimeoutError" in str(err)
    assert server.attempts == 2

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    err = failure(OpenAIReceiver("test-model", base_url=url, max_retries=1))
    assert "gave up after 2 attempts (max_retries=1)" in str(err)
    assert "APIConnectionError" in str(err) and url in str(err)


def test_gives_up_after_max_retries_naming_model_url_and_error_never_the_key(key, api):
    server = api(*[reply(503, {"retry-after-ms": "1"}, "overloaded; key={key}")] * 10)
    r = OpenAIReceiver("test-model", base_url=server.url, max_retries=3)
    err = failure(r)
    msg = str(err)
    assert server.attempts == 4
    assert server.headers[0]["authorization"] == f"Bearer {SECRET}"  # the server saw the key
    assert "test-model" in msg and server.url in msg and "InternalServerError" in msg
    assert "gave up after 4 attempts (max_retries=3)" in msg
    assert SECRET not in msg and "***" in msg
    assert err.__cause__ is None  # the original message contained the key
    assert SECRET not in repr(r) and SECRET not in str(vars(r))


def test_no_retries_when_max_retries_is_zero(key, api):
    server = api(reply(429, {"retry-after-ms": "1"}, "Rate limit reached"))
    err = failure(OpenAIReceiver("test-model", base_url=server.url, max_retries=0))
    assert "gave up after 1 attempt (max_retries=0)" in str(err) and "RateLimitError" in str(err)
    assert server.attempts == 1


@pytest.mark.parametrize("code,needle", [
    (401, "set the environment variable MY_KEY"),
    (400, "rejected"),
    (404, "check the model id"),
    (403, "MY_KEY"),
    (422, "request failed after 1 attempt, not retried"),
])
def test_client_errors_are_not_retried(monkeypatch, api, code, needle):
    monkeypatch.setenv("MY_KEY", SECRET)
    server = api(reply(code, {}, "Incorrect API key provided: {key}"))
    t0 = time.monotonic()
    err = failure(OpenAIReceiver("test-model", base_url=server.url, api_key_env="MY_KEY",
                                 max_retries=3))
    assert server.attempts == 1 and time.monotonic() - t0 < 5
    assert needle in str(err) and f"HTTP {code}" in str(err)
    assert SECRET not in str(err)


@pytest.mark.parametrize("status,headers,said", [
    (503, {"x-should-retry": "false"}, "x-should-retry: false"),
    (429, {"Retry-After": "3600"}, "retry-after: 3600"),  # longer than the client waits (120 s)
])
def test_server_can_refuse_a_retry(key, api, status, headers, said):
    server = api(reply(status, headers))
    t0 = time.monotonic()
    err = failure(OpenAIReceiver("test-model", base_url=server.url, max_retries=3))
    assert server.attempts == 1 and time.monotonic() - t0 < 5
    assert "request failed after 1 attempt, not retried" in str(err)
    assert f"the server sent {said}" in str(err)


def test_key_never_logged(key, api, caplog):
    caplog.set_level(logging.DEBUG)
    server = api(reply(429, {"retry-after-ms": "1"}), reply(401, {}, "bad key {key}"))
    err = failure(OpenAIReceiver("test-model", base_url=server.url, max_retries=2))
    assert "authentication failed" in str(err) and server.attempts == 2
    assert "Retrying request" in caplog.text  # the client's own retry log was captured
    assert SECRET not in caplog.text


def test_removed_retry_options_are_named():
    for name, value in [("backoff_base", 0.5), ("backoff_max", 30.0), ("seed", 0),
                        ("sleep", time.sleep)]:
        with pytest.raises(ConfigError, match=rf"^{name}: no longer an option: retries are the "
                                              "openai client's own .*set max_retries and timeout"):
            OpenAIReceiver("m", base_url=LOCAL, **{name: value})
    with pytest.raises(TypeError, match="bogus"):
        OpenAIReceiver("m", base_url=LOCAL, bogus=1)


def test_other_exceptions_are_not_retried(key):
    client = FakeClient([KeyError("weird")])
    with pytest.raises(ReceiverError, match="KeyError"):
        receiver(client).complete([HELLO], GREEDY)
    assert len(client.calls) == 1


# ----------------------------------------------------------------------------- the key
def test_missing_key_for_remote_url_is_a_config_error(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_KEY_VAR"):
        OpenAIReceiver("gpt-4o-mini", base_url=REMOTE, api_key_env="NO_SUCH_KEY_VAR")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_KEY_VAR"):  # default: OpenAI's API
        OpenAIReceiver("gpt-4o-mini", api_key_env="NO_SUCH_KEY_VAR")


def test_missing_key_for_loopback_uses_a_dummy(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    for url in (LOCAL, "http://localhost:8000/v1", "http://[::1]:8000/v1"):
        r = OpenAIReceiver("m", base_url=url, api_key_env="NO_SUCH_KEY_VAR")
        assert r._client.api_key == "EMPTY"
        assert r._client.max_retries == 5 and r._client.timeout == 60.0  # the client retries


def test_key_not_in_repr_pickle_or_cache(key, tmp_path):
    from llm_bridge.cache import GenerationCache
    r = OpenAIReceiver("m", base_url=REMOTE, cache=GenerationCache(tmp_path / "c.sqlite"))
    assert r._client.api_key == SECRET  # the real client got it
    assert SECRET not in repr(r) and SECRET not in str(r) and SECRET not in repr(vars(r))
    with pytest.raises(TypeError):
        pickle.dumps(r)
    r._client = FakeClient()
    r.complete([HELLO], GREEDY)
    for f in tmp_path.iterdir():
        assert SECRET.encode() not in f.read_bytes()


def test_bad_configuration_is_named():
    for kw, field in [({"max_retries": -1}, "max_retries"), ({"concurrency": 0}, "concurrency"),
                      ({"timeout": 0}, "timeout"), ({"backoff_max": float("nan")}, "backoff_max"),
                      ({"base_url": "ftp://x"}, "base_url"), ({"timeout": float("nan")}, "timeout"),
                      ({"max_retries": 1.5}, "max_retries")]:
        kw.setdefault("base_url", LOCAL)
        with pytest.raises(ConfigError, match=field):
            OpenAIReceiver("m", **kw)
    with pytest.raises(ConfigError, match="model"):
        OpenAIReceiver("", base_url=LOCAL)


# ----------------------------------------------------------------------------- requests
def test_settings_map_to_request_fields(key):
    client = FakeClient()
    r = receiver(client)
    r.complete([HELLO], GenerationSettings(max_new_tokens=5, seed=9))
    kw = client.calls[-1]
    assert kw["model"] == "test-model" and kw["messages"] == HELLO
    assert kw["max_tokens"] == 5 and kw["temperature"] == 0.0 and kw["seed"] == 9
    assert "top_p" not in kw and "stop" not in kw
    r.complete([HELLO], GenerationSettings(max_new_tokens=5, do_sample=True, temperature=0.7,
                                           top_p=0.9, stop=("\n", "END")))
    kw = client.calls[-1]
    assert (kw["temperature"], kw["top_p"], kw["stop"]) == (0.7, 0.9, ["\n", "END"])


def test_text_cut_at_stop_and_missing_usage(key):
    client = FakeClient(answer=lambda kw: chat_response("Paris.\nMore text", usage=False))
    (c,) = receiver(client).complete([HELLO], GenerationSettings(stop=("\n",)))
    assert c.text == "Paris." and (c.prompt_tokens, c.completion_tokens) == (0, 0)


def test_order_kept_with_concurrency(key):
    convs = [[{"role": "user", "content": f"q{i:02d}"}] for i in range(12)]
    # later conversations answer faster, so completion order is reversed
    client = FakeClient(delay=lambda kw: 0.002 * (12 - int(kw["messages"][0]["content"][1:])))
    out = receiver(client, concurrency=4).complete(convs, GREEDY)
    assert [c.text for c in out] == [f"q{i:02d}"[::-1] for i in range(12)]
    assert 1 < client.max_in_flight <= 4


def test_one_failure_fails_the_batch(key):
    def answer(kw):
        if kw["messages"][0]["content"] == "bad":
            raise status_error(openai.BadRequestError, 400)
        return chat_response("ok")
    convs = [[{"role": "user", "content": c}] for c in ("a", "bad", "b")]
    with pytest.raises(ReceiverError, match="rejected"):
        receiver(FakeClient(answer=answer), concurrency=3).complete(convs, GREEDY)


def test_cache_hit_avoids_requests(key, tmp_path):
    from llm_bridge.cache import GenerationCache
    cache = GenerationCache(tmp_path / "cache.sqlite")
    convs = [HELLO, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]]
    client = FakeClient()
    first = receiver(client, cache=cache).complete(convs, GREEDY)
    assert len(client.calls) == 2 and not any(c.cached for c in first)
    client2 = FakeClient()
    again = receiver(client2, cache=GenerationCache(tmp_path / "cache.sqlite")).complete(convs, GREEDY)
    assert client2.calls == [] and all(c.cached and c.seconds == 0.0 for c in again)
    assert [(c.text, c.prompt_tokens, c.completion_tokens) for c in again] == \
        [(c.text, c.prompt_tokens, c.completion_tokens) for c in first]
    # other settings, model or URL: not a hit
    receiver(client2, cache=cache).complete(convs, GenerationSettings(max_new_tokens=17))
    assert len(client2.calls) == 2
    receiver(client2, cache=cache, base_url="https://other.example.com/v1").complete([HELLO], GREEDY)
    assert len(client2.calls) == 3
    # the batch size is not part of the key
    receiver(client2, cache=cache).complete(convs, GenerationSettings(max_new_tokens=16, batch_size=1))
    assert len(client2.calls) == 3


def test_empty_and_invalid_conversations(key):
    client = FakeClient()
    assert receiver(client).complete([], GREEDY) == []
    for bad, field in [([[{"role": "robot", "content": "x"}]], r"conversations\[0\]\[0\]\.role"),
                       ([[{"role": "user", "content": 3}]], r"conversations\[0\]\[0\]\.content"),
                       ([[]], r"conversations\[0\]"), ("hello", "conversations")]:
        with pytest.raises(ConfigError, match=field):
            receiver(client).complete(bad, GREEDY)
    assert client.calls == []


def test_progress_bar_does_not_break(key):
    out = receiver(FakeClient(), concurrency=2).complete([HELLO] * 3, GREEDY, progress="api")
    assert len(out) == 3


# ----------------------------------------------------------------------------- helpers
def test_validate_conversation_and_loopback():
    assert validate_conversation([{"role": "user", "content": "x", "name": "n"}]) == \
        [{"role": "user", "content": "x"}]
    assert is_loopback_url("http://127.0.0.2:1/v1") and is_loopback_url("http://a.localhost/v1")
    assert not is_loopback_url("https://api.openai.com/v1") and not is_loopback_url(None)
    assert not is_loopback_url("http://10.0.0.1:8000/v1")


def test_make_receiver_parses_openai_specs(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    r = make_receiver("openai:my-model@http://127.0.0.1:8000/v1/", max_retries=2)
    assert isinstance(r, OpenAIReceiver) and isinstance(r, Receiver)
    assert (r.model, r.base_url, r.max_retries) == ("my-model", "http://127.0.0.1:8000/v1", 2)
    assert r._client.max_retries == 2
    assert r.name == "openai:my-model@http://127.0.0.1:8000/v1"
    r = make_receiver("openai:org/model@v2@http://localhost:1/v1")  # '@' inside the model id
    assert (r.model, r.base_url) == ("org/model@v2", "http://localhost:1/v1")
    assert (r.timeout, r.concurrency) == (60.0, 4)  # OpenAIReceiver's defaults
    r = make_receiver("openai:m@http://127.0.0.1:1/v1", timeout=900, concurrency=16)
    assert (r.timeout, r.concurrency, r._client.timeout) == (900, 16, 900)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:7/v1")
    assert make_receiver("openai:m").base_url == "http://127.0.0.1:7/v1"
    for bad in ("openai:", "openai:@http://127.0.0.1:1/v1", "", None):
        with pytest.raises(ConfigError):
            make_receiver(bad)


def test_make_receiver_remote_without_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_receiver("openai:gpt-4o-mini")


# ----------------------------------------------------------------------------- local
@pytest.fixture(scope="module")
def tiny():
    from llm_bridge.models import load_causal_lm
    return load_causal_lm("llama-tiny")


def test_local_receiver_matches_generate(tiny, tmp_path):
    from llm_bridge.cache import GenerationCache
    from llm_bridge.generation import chat_prompt, generate
    convs = [HELLO, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]]
    settings = GenerationSettings(max_new_tokens=6)
    r = LocalReceiver(tiny, cache=GenerationCache(tmp_path / "c.sqlite"))
    assert r.name == "llama-tiny" and isinstance(r, Receiver) and "llama-tiny" in repr(r)
    out = r.complete(convs, settings)
    ref = generate(tiny, [chat_prompt(tiny, c) for c in convs], settings)
    assert all(isinstance(c, Completion) for c in out)
    assert [(c.text, c.prompt_tokens, c.completion_tokens) for c in out] == \
        [(g.text, g.prompt_tokens, g.new_tokens) for g in ref]
    assert all(c.completion_tokens <= 6 for c in out) and not any(c.cached for c in out)
    assert all(c.cached for c in r.complete(convs, settings))
    assert r.complete([], settings) == []
    with pytest.raises(ConfigError, match="role"):
        r.complete([[{"role": "nobody", "content": "x"}]], settings)


def test_make_receiver_local(tiny):
    from llm_bridge.ct2 import default_engine

    r = make_receiver("llama-tiny", engine="torch", timeout=900, concurrency=16)  # API-only: ignored
    assert isinstance(r, LocalReceiver) and r.name == "llama-tiny"
    assert r.lm.fingerprint == tiny.fingerprint and r.lm.engine is None
    # the default engine: ct2 where installed, its name in the fingerprint
    d = make_receiver("llama-tiny")
    if default_engine() == "ct2":
        assert d.lm.engine is not None and d.lm.fingerprint.startswith(tiny.fingerprint + "|ct2-")
        assert d.lm.fingerprint.endswith("-float32")
    else:
        assert d.lm.engine is None
    with pytest.raises(ConfigError, match="compute_type"):
        make_receiver("llama-tiny", engine="torch", compute_type="int8")
    with pytest.raises(ConfigError, match="engine"):
        make_receiver("llama-tiny", engine="vllm")
    with pytest.raises(ConfigError):
        LocalReceiver(object())
