"""The child side of HumanEval grading (:mod:`llm_bridge.tasks.humaneval_grading`).

Standard library only, and self-contained: the whole text of this file is copied into each
graded program, which runs it with ``exec`` in a namespace of its own (so that the graded code's
globals, a module-level ``list = ...`` say, cannot shadow a name it uses) and calls
:func:`_c_run_fast` or :func:`_c_run_recorded` there; the trusted runs of the slow path (no
candidate code) call :func:`_c_record_args` and :func:`_c_replay`. The parent imports it too,
for the same encoding (:func:`_c_encode`, :func:`_c_decode` with its limits) and the
exceptions.
"""

import builtins
import json
import os
import random
import re
import sys

#: The most bytes of serialised results (or of a record) one graded program may report.
MAX_PAYLOAD_BYTES = 1_000_000
_MAX_BYTES = MAX_PAYLOAD_BYTES
_MAX_DEPTH = 100
#: The most values (every int, str, list, ... counted) one payload may decode to.
MAX_DECODED_VALUES = 200_000
#: The most set items plus dict keys one payload may decode to.
MAX_DECODED_KEYS = 10_000
#: The most keys of one set or dict that may share one hash value (keys chosen to collide
#: make every insertion compare with all the earlier ones: quadratic work for the decoder).
MAX_SAME_HASH = 32

class _NotPlain(Exception):
    """A value that is not a plain literal value, or a malformed encoding of one."""


class _OverLimit(_NotPlain):
    """An encoding over the decoder's limits (values, keys, keys with one hash)."""


class _Replay(BaseException):
    """A trusted run's own stop: the replay found a call that does not match the record, or
    the recording found an argument it cannot record (not an ``Exception``, so that a
    ``try``/``except Exception`` in a test does not swallow it)."""


def _c_type_name(cls):
    try:
        name = type.__dict__["__qualname__"].__get__(cls)
        module = type.__dict__["__module__"].__get__(cls)
        return str.__str__(name if module == "builtins" else module + "." + name)[:80]
    except BaseException:
        return "?"


def _c_describe(exc):
    """``"ValueError: message"`` of an exception (never raises)."""
    name = _c_type_name(type(exc))
    try:
        message = str(exc)
        if type(message) is not str:
            message = "?"
    except BaseException:
        message = "?"
    return (name + ": " + message if message else name)[:300]


def _c_dumps(obj):
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


def _c_encode(value, depth=0):
    """The JSON-able, type-tagged encoding of a plain value; ``_NotPlain`` for anything else.

    ``None``/``True``/``False`` and ``str`` stay as they are; ``["i", hex]`` an int,
    ``["f", repr]`` a float, ``["l"|"t"|"s", items]`` a list, tuple or set (set items sorted
    by their encoding), ``["d", [[key, value], ...]]`` a dict (in its order). Only the exact
    types count: subclasses are refused.
    """
    t = type(value)
    if value is None or value is True or value is False or t is str:
        return value
    if t is int:
        return ["i", format(value, "x")]
    if t is float:
        return ["f", repr(value)]
    if t is list or t is tuple or t is set or t is dict:
        if depth >= _MAX_DEPTH:
            raise _NotPlain("a value nested more than %d levels deep" % _MAX_DEPTH)
        if t is dict:
            return ["d", [[_c_encode(k, depth + 1), _c_encode(v, depth + 1)]
                          for k, v in value.items()]]
        items = [_c_encode(v, depth + 1) for v in value]
        if t is set:
            items.sort(key=_c_dumps)
        return [{list: "l", tuple: "t", set: "s"}[t], items]
    raise _NotPlain("an object of type " + _c_type_name(t))


def _c_budget():
    """A fresh decoding budget, ``[values left, set items and dict keys left]``: share one
    among the decodings of one payload."""
    return [MAX_DECODED_VALUES, MAX_DECODED_KEYS]


def _c_decode(obj, depth=0, budget=None):
    """The plain value of an encoding made by ``_c_encode`` (checked strictly: ``_NotPlain``
    on anything else; ``_OverLimit``, a ``_NotPlain``, past the limits of ``budget``, a fresh
    :func:`_c_budget` when None: at most ``MAX_DECODED_VALUES`` values and
    ``MAX_DECODED_KEYS`` set items and dict keys, at most ``MAX_SAME_HASH`` keys of one set or
    dict with one hash value). The work is linear in the size of the encoding."""
    if budget is None:
        budget = _c_budget()
    budget[0] -= 1
    if budget[0] < 0:
        raise _OverLimit("more than %d values in one payload" % MAX_DECODED_VALUES)
    if obj is None or obj is True or obj is False or type(obj) is str:
        return obj
    if type(obj) is not list or len(obj) != 2 or type(obj[0]) is not str:
        raise _NotPlain("not an encoded value")
    tag, body = obj
    if tag == "i" and type(body) is str and re.fullmatch(r"-?[0-9a-f]+", body):
        return int(body, 16)
    if tag == "f" and type(body) is str and re.fullmatch(
            r"-?(?:inf|nan|[0-9]+(?:\.[0-9]+)?(?:e[+-][0-9]+)?)", body):
        return float(body)
    if tag in ("l", "t", "s", "d") and type(body) is list:
        if depth >= _MAX_DEPTH:
            raise _NotPlain("a value nested more than %d levels deep" % _MAX_DEPTH)
        if tag == "l" or tag == "t":
            items = [_c_decode(v, depth + 1, budget) for v in body]
            return items if tag == "l" else tuple(items)
        budget[1] -= len(body)
        if budget[1] < 0:
            raise _OverLimit("more than %d set items and dict keys in one payload"
                             % MAX_DECODED_KEYS)
        hashes = {}
        keys = []
        for item in body:
            if tag == "d":
                if type(item) is not list or len(item) != 2:
                    raise _NotPlain("a dict item is not a [key, value] pair")
                item = item[0]
            key = _c_decode(item, depth + 1, budget)
            try:
                h = hash(key)
            except TypeError as exc:  # an unhashable set item or dict key
                raise _NotPlain("unhashable: %s" % exc) from None
            hashes[h] = hashes.get(h, 0) + 1
            if hashes[h] > MAX_SAME_HASH:
                raise _OverLimit("more than %d keys of one set or dict with the same hash"
                                 % MAX_SAME_HASH)
            keys.append(key)
        if tag == "s":
            return set(keys)
        return dict(zip(keys, [_c_decode(pair[1], depth + 1, budget) for pair in body]))
    raise _NotPlain("a malformed %r value" % tag[:10])


def _c_emit(marker, text):
    """Write ``text`` between two marker lines to file descriptor 1 and end the process."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    view = memoryview(("\n%s\n%s\n%s.end\n" % (marker, text, marker)).encode("ascii"))
    while view:
        view = view[os.write(1, view):]
    os._exit(0)


def _c_outcome(result):
    """``["ok", encoding]`` or ``["bad", why]`` of one returned value."""
    try:
        return ["ok", _c_encode(result)]
    except _NotPlain as exc:
        return ["bad", str(exc)]
    except BaseException as exc:  # RecursionError, MemoryError
        return ["bad", _c_describe(exc)]


def _c_run_fast(fn, calls, marker):
    """Call ``fn(*args, **kwargs)`` for each ``(args, kwargs)`` made by ``calls``; emit
    ``[[kind, body], ...]`` with kind ``"ok"`` (body: the encoded result), ``"err"`` (the
    exception) or ``"bad"`` (not a plain value, or over the size limit)."""
    parts = []
    used = 2
    for make in calls:
        try:
            args, kwargs = make()
            result = fn(*args, **kwargs)
        except MemoryError:
            raise  # the sandbox reports the status "memory"
        except BaseException as exc:
            entry = ["err", _c_describe(exc)]
        else:
            entry = _c_outcome(result)
        try:
            text = _c_dumps(entry)
        except BaseException as exc:
            text = _c_dumps(["bad", _c_describe(exc)])
        if used + len(text) + 1 > _MAX_BYTES:
            text = _c_dumps(["bad", "the results exceed %d bytes" % _MAX_BYTES])
        parts.append(text)
        used += len(text) + 1
    _c_emit(marker, "[" + ",".join(parts) + "]")


def _c_test_namespace(prompt, test, entry_point, stand_in):
    """A fresh namespace with the prompt's and the test's definitions, ``entry_point`` bound
    to ``stand_in``."""
    ns = {"__name__": "__llm_bridge_tests__", "__builtins__": builtins}
    exec(compile(prompt, "<prompt>", "exec"), ns)
    ns[entry_point] = stand_in
    exec(compile(test, "<tests>", "exec"), ns)
    return ns


def _c_record_args(prompt, canonical, test, entry_point, seed, token):
    """The trusted run (no candidate code): run the dataset's ``check`` on a stand-in that
    records each call's encoded ``[args, kwargs]`` (strictly, before the call) and returns the
    canonical solution's result (``prompt + canonical``, run in a namespace of its own); emit
    ``{"passed", "error", "calls"}`` after the marker ``token``."""
    out = {"passed": False, "error": "", "calls": []}
    used = [2]
    try:
        ref_ns = {"__name__": "__llm_bridge_reference__", "__builtins__": builtins}
        exec(compile(prompt + canonical, "<canonical solution>", "exec"), ref_ns)
        reference = ref_ns[entry_point]

        def stand_in(*args, **kwargs):
            try:
                call = [_c_encode(args), _c_encode(kwargs)]
            except _NotPlain as exc:
                raise _Replay("call %d: an argument is not a plain value: %s"
                              % (len(out["calls"]) + 1, exc)) from None
            used[0] += len(_c_dumps(call)) + 1
            if used[0] > _MAX_BYTES:
                raise _Replay("the arguments exceed %d bytes" % _MAX_BYTES)
            out["calls"].append(call)
            return reference(*args, **kwargs)

        ns = _c_test_namespace(prompt, test, entry_point, stand_in)
        random.seed(seed)
        ns["check"](stand_in)
        out["passed"] = True
    except BaseException as exc:
        out["error"] = _c_describe(exc)
        out["calls"] = []
    _c_emit(token, _c_dumps(out))


def _c_run_recorded(fn, calls_text, marker):
    """Call ``fn`` on each recorded ``[args, kwargs]`` of ``calls_text`` (decoded afresh for
    each call), as :func:`_c_run_fast` does: no test code, no expected values."""
    calls = json.loads(calls_text)

    def maker(call):
        def make():
            return _c_decode(call[0]), _c_decode(call[1])
        return make

    _c_run_fast(fn, [maker(call) for call in calls], marker)


def _c_replay(prompt, test, entry_point, seed, calls_text, results_text, token):
    """Run the dataset's ``check`` on a replayer (no candidate code): call ``i`` must have
    the arguments ``calls[i]`` (the trusted record) and returns the decoded ``results[i]``
    (the candidate's, one decoding budget for all); emit the outcome ``{"passed", "calls",
    "recorded", "error", "last"}`` after the marker ``token``."""
    out = {"passed": False, "calls": 0, "recorded": 0, "error": "", "last": ""}
    try:
        calls = json.loads(calls_text)
        results = json.loads(results_text)
        if type(calls) is not list or type(results) is not list or len(calls) != len(results):
            raise _Replay("the record does not hold one result per call")
        out["recorded"] = len(calls)
        position = [0]
        budget = _c_budget()

        def replayer(*args, **kwargs):
            i = position[0]
            if i >= len(calls):
                raise _Replay("the tests made more calls than the %d recorded" % len(calls))
            position[0] = out["calls"] = i + 1
            if calls[i] != json.loads(_c_dumps([_c_encode(args), _c_encode(kwargs)])):
                raise _Replay("call %d: the arguments differ from the recorded ones" % (i + 1))
            value = _c_decode(results[i], 0, budget)
            try:
                out["last"] = repr(value)[:120]
            except ValueError:  # an int too long for str()
                out["last"] = "an int of %d bits" % value.bit_length()
            return value

        ns = _c_test_namespace(prompt, test, entry_point, replayer)
        random.seed(seed)
        ns["check"](replayer)
        if position[0] != len(calls):
            raise _Replay("the tests made %d calls, %d were recorded"
                          % (position[0], len(calls)))
        out["passed"] = True
    except BaseException as exc:
        out["error"] = _c_describe(exc)
    _c_emit(token, _c_dumps(out))
