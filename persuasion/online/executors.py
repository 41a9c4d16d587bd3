"""Execution engines of a sweep, named by a spec string (``persuasion regret --executor``).

=========================  ==========================================================
spec                       engine
=========================  ==========================================================
``local``                  a :class:`concurrent.futures.ProcessPoolExecutor` on this
                           machine (``max_workers`` processes; default one per CPU core)
``dask:local``             a Dask ``distributed.LocalCluster`` on 127.0.0.1: worker
                           processes (``max_workers``, default one per CPU core), one
                           thread each, no dashboard; closed on exit
``dask:tcp://HOST:PORT``   a ``distributed.Client`` connected to a running Dask
                           scheduler (the cluster's size is its own, so ``max_workers``
                           is refused; the scheduler is left running on exit)
``ray:local``              a local Ray instance (``ray.init`` with ``num_cpus``, no
                           dashboard); shut down on exit if it was started here
``ray:ADDRESS``            ``ray.init(address=ADDRESS)``: ``auto``, ``HOST:PORT`` or
                           ``ray://HOST:PORT``; disconnected on exit
=========================  ==========================================================

Dask (``pip install 'persuasion[dask]'``) and Ray (``pip install 'persuasion[ray]'``) are
optional and imported only when a spec asks for them. :func:`parse_executor` checks a
spec's syntax and imports its package without starting anything;
:func:`open_executor` is a context manager that starts or connects to the engine and
yields an object whose ``submit(fn, *args)`` returns a :class:`concurrent.futures.Future`.
Every problem is one :class:`~persuasion.errors.GameValidationError` naming the field
``executor`` (the command line shows it as ``--executor``): a malformed spec, a missing
optional package, or an address that cannot be reached within ``connect_timeout`` seconds.

Both distributed engines re-run a task whose worker died (Dask: on another worker, up to
``distributed.scheduler.allowed-failures`` deaths, then ``KilledWorker``; Ray:
``max_retries`` of the remote function), so a sweep survives a lost worker; the results
are written by the calling process only (:func:`persuasion.online.sweep.run_sweep`).

A Ray already initialised in this process is used as it is (and left running). ``ray:local``
starts its instance on 127.0.0.1 only (by default Ray binds even a local instance to this
machine's network address); ``ray:ADDRESS`` joins the cluster as it is.

>>> parse_executor("local")
ExecutorSpec(engine='local', address=None, text='local')
>>> parse_executor("dask:127.0.0.1:8786")
Traceback (most recent call last):
...
persuasion.errors.GameValidationError: executor: 'dask:127.0.0.1:8786' is not an executor (expected local, dask:local, dask:tcp://HOST:PORT, ray:local or ray:ADDRESS)
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from ..errors import GameValidationError
from ..net import is_loopback_host

__all__ = ["ExecutorSpec", "parse_executor", "check_workers", "open_executor",
           "CONNECT_TIMEOUT", "EXECUTOR_SPECS"]

#: Seconds to wait for a remote scheduler (Dask) or cluster head (Ray) to answer.
CONNECT_TIMEOUT = 5.0

#: The forms of a spec, as the errors list them.
EXECUTOR_SPECS = "local, dask:local, dask:tcp://HOST:PORT, ray:local or ray:ADDRESS"

#: Engine -> (module that must import, the extra that installs it).
_OPTIONAL = {"dask": ("distributed", "dask"), "ray": ("ray", "ray")}

_HOST = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"
_HOST_PORT = re.compile(rf"({_HOST}):([0-9]{{1,5}})")


@dataclass(frozen=True)
class ExecutorSpec:
    """A parsed ``--executor`` spec: the ``engine`` (``local``, ``dask`` or ``ray``), the
    ``address`` to connect to (None: the engine is started here) and the spec's ``text``."""

    engine: str
    address: str | None
    text: str


def _bad(spec: str, why: str | None = None) -> GameValidationError:
    if why is None:
        return GameValidationError("executor", f"{spec!r} is not an executor (expected "
                                               f"{EXECUTOR_SPECS})")
    return GameValidationError("executor", f"{spec!r}: {why} (executors: {EXECUTOR_SPECS})")


def _host_port(spec: str, text: str) -> tuple[str, int]:
    m = _HOST_PORT.fullmatch(text)
    if m is None:
        raise _bad(spec, "the address is not HOST:PORT")
    port = int(m.group(2))
    if not 1 <= port <= 65535:
        raise _bad(spec, f"port {port} is not in 1..65535")
    return m.group(1).strip("[]"), port


def _require(engine: str, spec: str):
    """Import the engine's optional package, or say in one line how to install it."""
    module, extra = _OPTIONAL[engine]
    try:  # local imports: both are heavy and optional
        if engine == "dask":
            import distributed as package
        else:
            import ray as package
        return package
    except Exception as exc:  # not installed, or a broken install failing on import
        missing = isinstance(exc, ModuleNotFoundError) and exc.name == module
        why = "" if missing else f"; importing it failed: {type(exc).__name__}: {exc}"
        raise GameValidationError("executor", f"{spec} needs the optional package {module} "
                                              f"(pip install 'persuasion[{extra}]'{why})") from None


def parse_executor(spec) -> ExecutorSpec:
    """Parse an executor spec (see the module's table) and import its optional package;
    starts nothing. Raises :class:`~persuasion.errors.GameValidationError`
    (field ``executor``) for anything else."""
    if not isinstance(spec, str):
        raise GameValidationError("executor", f"expected a string ({EXECUTOR_SPECS}), got "
                                              f"{type(spec).__name__}")
    if spec == "local":
        return ExecutorSpec("local", None, spec)
    engine, sep, rest = spec.partition(":")
    if not sep or engine not in _OPTIONAL:
        raise _bad(spec)
    if engine == "dask":
        if rest == "local":
            address = None
        elif rest.startswith("tcp://"):
            _host_port(spec, rest[len("tcp://"):])
            address = rest
        else:
            raise _bad(spec)
    else:  # ray
        if rest == "local":
            address = None
        elif rest == "auto":
            address = rest
        elif rest.startswith("ray://"):
            _host_port(spec, rest[len("ray://"):])
            address = rest
        elif rest:
            _host_port(spec, rest)
            address = rest
        else:
            raise _bad(spec)
    _require(engine, spec)
    return ExecutorSpec(engine, address, spec)


#: What a gRPC server (Ray's head and client server) answers: the HTTP/2 client preface.
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _dask_greeting(head: bytes) -> bool:
    """A Dask comm message starts with its frame count (8 bytes, little-endian): a few."""
    return 1 <= int.from_bytes(head[:8], "little") <= 1024


def _http2_settings(head: bytes) -> bool:
    """A gRPC server answers the client preface with a SETTINGS frame (type 4, stream 0)."""
    return head[3] == 0x04 and int.from_bytes(head[5:9], "big") & 0x7FFFFFFF == 0


def _probe(spec: str, what: str, address: str, timeout: float, *, hello: bytes = b"",
           expect=_dask_greeting) -> None:
    """Connect to ``address`` (``[scheme://]HOST:PORT``), send ``hello`` and read the server's
    first 9 bytes, all within ``timeout`` seconds, and check that they are what ``expect``
    says this engine's server sends (a Dask scheduler greets every connection; a gRPC server
    answers the HTTP/2 preface with its settings). The engines' own clients wait for ever
    on a port that accepts connections but never answers, and misread another server's
    greeting (a frame "length" of exabytes), so they are only called once this succeeded."""
    host, port = _host_port(spec, address.split("://", 1)[-1])
    head = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if hello:
                sock.sendall(hello)
            try:
                while len(head) < 9:
                    chunk = sock.recv(9 - len(head))
                    if not chunk:
                        break
                    head += chunk
            except TimeoutError:
                pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise GameValidationError("executor", f"cannot reach the {what} at {address} "
                                              f"({reason}; waited up to {timeout:g} s)") from None
    if not head:
        raise GameValidationError("executor", f"cannot connect to the {what} at {address} "
                                              f"(the port is open but no {what} answered "
                                              f"within {timeout:g} s)")
    if len(head) < 9 or not expect(head):
        raise GameValidationError("executor", f"cannot connect to the {what} at {address} "
                                              f"(something else listens there: its first "
                                              f"bytes are not a {what}'s)")


def _workers(max_workers, n_tasks) -> int:
    n = max_workers or os.cpu_count() or 1
    return max(1, min(n, n_tasks)) if n_tasks else max(1, n)


def _call(fn, *args):
    """``fn(*args)``: the one Ray remote function, so that any picklable callable runs."""
    return fn(*args)


class _RayExecutor:
    """``submit(fn, *args)`` as a Ray task (one CPU; re-run up to 3 times if its worker
    dies); Ray's object references convert to :class:`concurrent.futures.Future`."""

    def __init__(self, ray):
        self._call = ray.remote(num_cpus=1, max_retries=3)(_call)

    def submit(self, fn, *args):
        return self._call.remote(fn, *args).future()


@contextlib.contextmanager
def _local(max_workers, n_tasks):
    pool = ProcessPoolExecutor(max_workers=_workers(max_workers, n_tasks))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _dask(spec: ExecutorSpec, max_workers, n_tasks, timeout):
    distributed = _require("dask", spec.text)
    cluster = None
    try:
        if spec.address is None:
            # workers started with SIGINT ignored: Ctrl-C reaches this process alone, which
            # stops the sweep and closes the cluster (instead of every worker printing its
            # traceback); the scheduler's HTTP server on a free loopback port, not 8787
            main = threading.current_thread() is threading.main_thread()
            saved = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
            try:
                cluster = distributed.LocalCluster(
                    n_workers=_workers(max_workers, n_tasks), threads_per_worker=1,
                    processes=True, host="127.0.0.1", dashboard_address=None,
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    silence_logs=logging.ERROR)
            finally:
                if main:
                    signal.signal(signal.SIGINT, saved)
            client = distributed.Client(cluster, set_as_default=False)
        else:
            _probe(spec.text, "Dask scheduler", spec.address, timeout)
            try:
                client = distributed.Client(spec.address, timeout=timeout, set_as_default=False)
            except Exception as exc:  # OSError, TimeoutError, a comm error: one line
                raise GameValidationError(
                    "executor", f"cannot connect to the Dask scheduler at {spec.address} "
                                f"within {timeout:g} s ({type(exc).__name__}: {exc})") from None
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        yield client.get_executor(pure=False)  # pure=False: every submission runs
    finally:
        client.close()  # releases our tasks; a remote scheduler keeps running
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _ray(spec: ExecutorSpec, max_workers, n_tasks, timeout):
    ray = _require("ray", spec.text)
    started = not ray.is_initialized()
    if started:
        opts = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        # Ray binds even a local instance to the machine's network address, and turns a
        # loopback address into that address before it connects, unless its clusters switch is
        # off (read at call time; Ray has no public option: `_node_ip_address` does not change
        # it): off for a local instance and a loopback head, so that both stay on 127.0.0.1.
        from ray._private import ray_constants

        host = None if spec.address in (None, "auto") else \
            _host_port(spec.text, spec.address.split("://", 1)[-1])[0]
        saved = ray_constants.ENABLE_RAY_CLUSTER
        if spec.address is None or (host is not None and is_loopback_host(host)):
            ray_constants.ENABLE_RAY_CLUSTER = False
        try:
            if spec.address is None:
                # address="local": a new instance even where $RAY_ADDRESS names a cluster
                try:
                    ray.init(address="local", num_cpus=_workers(max_workers, n_tasks), **opts)
                except Exception as exc:  # one line
                    raise GameValidationError("executor", f"cannot start a local Ray instance "
                                                          f"({type(exc).__name__}: {exc})") from None
            else:
                if spec.address != "auto":
                    _probe(spec.text, "Ray cluster", spec.address, timeout, hello=_HTTP2_PREFACE,
                           expect=_http2_settings)
                try:
                    ray.init(address=spec.address, **opts)
                except Exception as exc:  # ConnectionError, RuntimeError, ...: one line
                    raise GameValidationError(
                        "executor", f"cannot connect to the Ray cluster at {spec.address} "
                                    f"({type(exc).__name__}: {exc})") from None
        finally:
            ray_constants.ENABLE_RAY_CLUSTER = saved
    try:
        yield _RayExecutor(ray)
    finally:
        if started:
            ray.shutdown()


def check_workers(spec: ExecutorSpec, max_workers) -> None:
    """Refuse a number of workers for a running cluster (``dask:tcp://...``, ``ray:ADDRESS``),
    whose size is its own: it would be ignored. Raises
    :class:`~persuasion.errors.GameValidationError` (field ``workers``)."""
    if spec.address is not None and max_workers is not None:
        raise GameValidationError(
            "workers", f"{spec.text} is a running cluster whose size is its own; a number of "
                       f"workers applies to local, dask:local and ray:local only (leave it out)")


def open_executor(spec, *, max_workers: int | None = None, n_tasks: int | None = None,
                  connect_timeout: float = CONNECT_TIMEOUT):
    """Context manager: start (or connect to) the engine of ``spec`` and yield an object
    with ``submit(fn, *args) -> concurrent.futures.Future``; on exit stop what was started
    here.

    Parameters
    ----------
    spec : str or ExecutorSpec
        See the module's table.
    max_workers : int, optional
        Worker processes of ``local``, ``dask:local`` and ``ray:local`` (default: one per
        CPU core); a remote cluster has its own size.
    n_tasks : int, optional
        The number of tasks to come: no more local workers than that are started.
    connect_timeout : float
        Seconds to wait for a remote scheduler before a one-line error.
    """
    if not isinstance(spec, ExecutorSpec):
        spec = parse_executor(spec)
    if spec.engine == "local":
        return _local(max_workers, n_tasks)
    if spec.engine == "dask":
        return _dask(spec, max_workers, n_tasks, connect_timeout)
    return _ray(spec, max_workers, n_tasks, connect_timeout)
