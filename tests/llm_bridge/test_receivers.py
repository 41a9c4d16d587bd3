"""Receivers: OpenAIReceiver's retry loop, key hygiene, cache and ordering (with a fake
client, no network), make_receiver's spec parsing, LocalReceiver on a tiny random model."""

from __future__ import annotations

import pickle
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


def rate_limited(headers=None):
    return status_error(openai.RateLimitError, 429, "Rate limit reached", headers)


def timeout_error():
    return openai.APITimeoutError(request=_REQUEST)


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


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    return SECRET


def receiver(client, sleeps=None, **kw) -> OpenAIReceiver:
    kw.setdefault("base_url", REMOTE)
    return OpenAIReceiver("test-model", client=client, sleep=sleeps if sleeps is not None else Sleeps(),
                          **kw)


# ----------------------------------------------------------------------------- retries
def test_rate_limit_retried_with_capped_full_jitter(key):
    client, sleeps = FakeClient([rate_limited()] * 4), Sleeps()
    r = receiver(client, sleeps, max_retries=5, backoff_base=0.5, backoff_max=1.5)
    (c,) = r.complete([HELLO], GREEDY)
    assert c.text == "?olleH" and (c.prompt_tokens, c.completion_tokens) == (7, 3)
    assert len(client.calls) == 5 and len(sleeps) == 4
    for k, s in enumerate(sleeps):  # full jitter: uniform in [0, min(cap, base 2^k)]
        assert 0.0 <= s <= min(1.5, 0.5 * 2 ** k)
    assert not c.cached and c.seconds >= 0


def test_timeouts_and_connection_errors_are_retried(key):
    errors = [timeout_error(), openai.APIConnectionError(request=_REQUEST),
              status_error(openai.InternalServerError, 502), status_error(openai.APIStatusError, 408)]
    client, sleeps = FakeClient(errors), Sleeps()
    (c,) = receiver(client, sleeps, max_retries=4).complete([HELLO], GREEDY)
    assert c.text == "?olleH" and len(client.calls) == 5 and len(sleeps) == 4


def test_jitter_is_seeded(key):
    def run(seed):
        sleeps = Sleeps()
        receiver(FakeClient([timeout_error()] * 3), sleeps, seed=seed, backoff_max=100).complete(
            [HELLO], GREEDY)
        return list(sleeps)
    assert run(3) == run(3)
    assert run(3) != run(4)


def test_retry_after_is_honoured_and_capped(key):
    errors = [rate_limited({"Retry-After": "0.25"}), rate_limited({"retry-after-ms": "40"}),
              rate_limited({"Retry-After": "3600"}), rate_limited({"Retry-After": "junk"})]
    client, sleeps = FakeClient(errors), Sleeps()
    receiver(client, sleeps, backoff_base=0.0, backoff_max=2.0).complete([HELLO], GREEDY)
    assert sleeps == [0.25, pytest.approx(0.04), 2.0, 0.0]


def test_gives_up_after_max_retries_naming_model_url_and_error_never_the_key(key):
    errors = [status_error(openai.InternalServerError, 503, f"overloaded; key={SECRET}")] * 10
    client, sleeps = FakeClient(errors), Sleeps()
    r = receiver(client, sleeps, max_retries=3, backoff_max=0.01)
    with pytest.raises(ReceiverError) as info:
        r.complete([HELLO], GREEDY)
    msg = str(info.value)
    assert len(client.calls) == 4 and len(sleeps) == 3
    assert "test-model" in msg and REMOTE in msg and "InternalServerError" in msg
    assert "4 attempts" in msg
    assert SECRET not in msg and "***" in msg
    assert info.value.__cause__ is None  # the original message contained the key
    assert SECRET not in repr(r) and SECRET not in str(vars(r))


def test_no_retries_when_max_retries_is_zero(key):
    client = FakeClient([rate_limited()])
    with pytest.raises(ReceiverError, match="1 attempt"):
        receiver(client, max_retries=0).complete([HELLO], GREEDY)
    assert len(client.calls) == 1


@pytest.mark.parametrize("cls,code,needle", [
    (openai.AuthenticationError, 401, "set the environment variable MY_KEY"),
    (openai.BadRequestError, 400, "rejected"),
    (openai.NotFoundError, 404, "check the model id"),
    (openai.PermissionDeniedError, 403, "MY_KEY"),
])
def test_non_retryable_errors_fail_at_once(monkeypatch, cls, code, needle):
    monkeypatch.setenv("MY_KEY", SECRET)
    client, sleeps = FakeClient([status_error(cls, code, f"Incorrect API key provided: {SECRET}")]), Sleeps()
    with pytest.raises(ReceiverError) as info:
        receiver(client, sleeps, api_key_env="MY_KEY").complete([HELLO], GREEDY)
    assert len(client.calls) == 1 and sleeps == []
    assert needle in str(info.value) and f"HTTP {code}" in str(info.value)
    assert SECRET not in str(info.value)


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
        assert r._client.api_key == "EMPTY" and r._client.max_retries == 0


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
                      ({"base_url": "ftp://x"}, "base_url")]:
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
    assert r.name == "openai:my-model@http://127.0.0.1:8000/v1"
    r = make_receiver("openai:org/model@v2@http://localhost:1/v1")  # '@' inside the model id
    assert (r.model, r.base_url) == ("org/model@v2", "http://localhost:1/v1")
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
    r = make_receiver("llama-tiny")
    assert isinstance(r, LocalReceiver) and r.name == "llama-tiny"
    assert r.lm.fingerprint == tiny.fingerprint
    with pytest.raises(ConfigError):
        LocalReceiver(object())
