"""The child side of HumanEval grading (:mod:`llm_bridge.tasks.humaneval_grading`).

Standard library only, and self-contained: the whole text of this file is copied into each
graded program, which ``exec``\ s it in a namespace of its own (so that the graded code's
globals, a module-level ``list = ...`` say, cannot shadow a name it uses) and calls
:func:`_c_run_fast`, :func:`_c_record` or :func:`_c_replay` there. The parent imports it too,
for the same encoding (:func:`_c_encode`, :func:`_c_decode`) and the exceptions.
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

class _NotPlain(Exception):
    """A value that is not a plain literal value, or a malformed encoding of one."""


class _Replay(BaseException):
    """The replay found a call that does not match the record (not an ``Exception``, so
    that a ``try``/``except Exception`` in a test does not swallow it)."""


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


def _c_decode(obj, depth=0):
    """The plain value of an encoding made by ``_c_encode`` (checked strictly: ``_NotPlain``
    on anything else)."""
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
        try:
            if tag == "d":
                out = {}
                for pair in body:
                    if type(pair) is not list or len(pair) != 2:
                        raise _NotPlain("a dict item is not a [key, value] pair")
                    out[_c_decode(pair[0], depth + 1)] = _c_decode(pair[1], depth + 1)
                return out
            items = [_c_decode(v, depth + 1) for v in body]
            return items if tag == "l" else tuple(items) if tag == "t" else set(items)
        except TypeError as exc:  # an unhashable set item or dict key
            raise _NotPlain("unhashable: %s" % exc) from None
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


def _c_record(fn, prompt, test, entry_point, seed, marker):
    """Run the dataset's ``check`` on a recording wrapper of ``fn``; emit the record
    ``[[call, kind, body], ...]`` (``call`` = encoded ``[args, kwargs]`` or None)."""
    log = []
    used = [2]

    def add(entry):
        text = _c_dumps(entry)
        if used[0] + len(text) + 1 > _MAX_BYTES:
            log.append(_c_dumps([None, "bad", "the record exceeds %d bytes" % _MAX_BYTES]))
            used[0] = _MAX_BYTES + 1
            raise _Replay("the record is full")
        log.append(text)
        used[0] += len(text) + 1

    def wrapper(*args, **kwargs):
        if used[0] > _MAX_BYTES:
            raise _Replay("the record is full")
        try:
            call = [_c_encode(args), _c_encode(kwargs)]
        except BaseException:
            call = None
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            add([call, "err", _c_describe(exc)])
            raise
        add([call] + _c_outcome(result))
        return result

    try:
        ns = _c_test_namespace(prompt, test, entry_point, wrapper)
        random.seed(seed)
        ns["check"](wrapper)
    except MemoryError:
        raise  # the sandbox reports the status "memory"
    except BaseException:
        pass
    _c_emit(marker, "[" + ",".join(log) + "]")


def _c_replay(prompt, test, entry_point, seed, record_text, token):
    """Run the dataset's ``check`` on a replayer of the record; emit the outcome
    ``{"passed", "calls", "recorded", "error", "last"}`` after the marker ``token``."""
    out = {"passed": False, "calls": 0, "recorded": 0, "error": "", "last": ""}
    try:
        record = json.loads(record_text)
        if type(record) is not list:
            raise _Replay("the record is not a list")
        out["recorded"] = len(record)
        position = [0]

        def replayer(*args, **kwargs):
            i = position[0]
            if i >= len(record):
                raise _Replay("the tests made more calls than the %d recorded" % len(record))
            position[0] = out["calls"] = i + 1
            entry = record[i]
            if type(entry) is not list or len(entry) != 3:
                raise _Replay("call %d: a malformed record entry" % (i + 1))
            call, kind, body = entry
            if call != json.loads(_c_dumps([_c_encode(args), _c_encode(kwargs)])):
                raise _Replay("call %d: the arguments differ from the recorded ones" % (i + 1))
            if kind != "ok":
                raise _Replay("call %d: no plain result was recorded" % (i + 1))
            value = _c_decode(body)
            try:
                out["last"] = repr(value)[:120]
            except ValueError:  # an int too long for str()
                out["last"] = "an int of %d bits" % value.bit_length()
            return value

        ns = _c_test_namespace(prompt, test, entry_point, replayer)
        random.seed(seed)
        ns["check"](replayer)
        if position[0] != len(record):
            raise _Replay("the tests made %d calls, %d were recorded"
                          % (position[0], len(record)))
        out["passed"] = True
    except BaseException as exc:
        out["error"] = _c_describe(exc)
    _c_emit(token, _c_dumps(out))
