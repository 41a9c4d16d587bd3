"""The parent side of the sandbox: checks the arguments, prepares the temporary directory,
starts :mod:`llm_bridge.sandbox.child` (by file path) in a new limited process, supervises it
(wall clock, bounded output capture, process-group kill) and reads its outcome.

See :mod:`llm_bridge.sandbox` for what is and is not guaranteed, and
:mod:`llm_bridge.sandbox.child` for the protocol between the two processes.
"""

from __future__ import annotations

import functools
import json
import math
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass

from llm_bridge.errors import ConfigError, SandboxError
from llm_bridge.validate import check_int, check_positive

from . import kernel

__all__ = [
    "BLOCKED_EXIT_CODE", "BLOCKED_MARKER", "CHILD_PATH", "INTERNAL_EXIT_CODE", "ISOLATIONS",
    "ISOLATION_ENV", "MEMORY_EXIT_CODE", "SandboxResult", "kernel_sandbox_status",
    "network_namespace_available", "resolve_isolation", "run_python",
]

#: Exit code of a child stopped by the audit hook.
BLOCKED_EXIT_CODE = 86
#: Exit code of a child whose code raised an uncaught ``MemoryError``.
MEMORY_EXIT_CODE = 85
#: Exit code of a child whose sandbox set-up failed (status ``"error"``).
INTERNAL_EXIT_CODE = 84
#: Start of the line written to stderr when an action is blocked.
BLOCKED_MARKER = "[llm_bridge.sandbox] BLOCKED: "
_MEMORY_MARKER = "[llm_bridge.sandbox] MEMORY: "
_INTERNAL_MARKER = "[llm_bridge.sandbox] INTERNAL: "
_STARTED_MARKER = "[llm_bridge.sandbox] STARTED "
_STARTUP_GRACE_S = 1.0
_DETECT_TAIL = 4096
_CODE_FILE = "main.py"
#: The child program (:mod:`llm_bridge.sandbox.child`), run by this absolute path.
CHILD_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "child.py")
#: ``"kernel"``: bubblewrap and seccomp (:mod:`llm_bridge.sandbox.kernel`), the default;
#: ``"weak"``: the audit hook and limits only (plus ``unshare -rn`` where it works).
ISOLATIONS = ("kernel", "weak")
#: Environment variable that chooses the isolation when ``run_python`` is not told
#: (``kernel`` or ``weak``); the command line's ``--weak-sandbox`` sets it to ``weak``.
ISOLATION_ENV = "LLM_BRIDGE_SANDBOX"
kernel_sandbox_status = kernel.kernel_sandbox_status
_WEAK_WARNED: set = set()


@dataclass
class SandboxResult:
    """Outcome of :func:`run_python`.

    Attributes
    ----------
    status : str
        ``"passed"``, ``"failed"``, ``"timeout"``, ``"memory"``, ``"blocked"`` or ``"error"``
        (see :mod:`llm_bridge.sandbox`).
    returncode : int or None
        Exit status of the child (negative: killed by that signal); None if it never started.
    stdout, stderr : str
        Decoded output (UTF-8, invalid bytes replaced), each at most about
        ``max_output_bytes`` long; a truncation note sits where bytes were dropped.
    seconds : float
        Wall-clock time of the child.
    network_isolated : bool
        Whether the child ran in its own network namespace (always with ``"kernel"``).
    isolation : str
        ``"kernel"`` or ``"weak"`` (:data:`ISOLATIONS`).
    """

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    network_isolated: bool = False
    isolation: str = "weak"

    @property
    def passed(self) -> bool:
        """True iff ``status == "passed"``."""
        return self.status == "passed"

    def to_dict(self) -> dict:
        """JSON-safe dictionary of the fields and :attr:`passed`.

        >>> SandboxResult("passed", 0, "hi\\n", "", 0.25).to_dict()["passed"]
        True
        """
        return {"status": self.status, "returncode": self.returncode, "stdout": self.stdout,
                "stderr": self.stderr, "seconds": float(self.seconds),
                "network_isolated": bool(self.network_isolated), "isolation": self.isolation,
                "passed": self.passed}


@functools.lru_cache(maxsize=1)
def network_namespace_available() -> bool:
    """Whether ``unshare -rn true`` works here (probed once per process).

    Returns
    -------
    bool
        True on Linux when unprivileged user and network namespaces can be created.
    """
    exe = shutil.which("unshare")
    if exe is None or not sys.platform.startswith("linux"):
        return False
    try:
        proc = subprocess.run([exe, "-rn", "true"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={"PATH": os.environ.get("PATH", os.defpath)}, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


class _Capture:
    """Drains one pipe into a bounded buffer: the first and the last bytes are kept.

    With ``prefix``, bytes equal to it at the very start of the stream are taken off (not
    kept, not counted) and :attr:`prefixed` says whether the stream started with it."""

    def __init__(self, limit: int, prefix: bytes = b""):
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.keep_tail = max(limit // 2, _DETECT_TAIL)
        self.total = 0
        self.prefix = prefix
        self.pending = bytearray()  # the start of the stream, while it may still be the prefix
        self.prefixed = False

    def feed(self, chunk: bytes) -> None:
        if self.prefix and not self.prefixed and self.pending is not None:
            self.pending += chunk
            if self.pending.startswith(self.prefix):
                self.prefixed = True
                chunk = bytes(self.pending[len(self.prefix):])
                self.pending = None
            elif self.prefix.startswith(bytes(self.pending)):
                return  # too short to tell yet
            else:
                chunk = bytes(self.pending)
                self.pending = None
        self._keep(chunk)

    def finish(self) -> None:
        """Keep what was held back as a possible prefix (the stream ended)."""
        if self.pending:
            self._keep(bytes(self.pending))
        self.pending = None

    def _keep(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit - (self.limit // 2) - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > 2 * self.keep_tail:
                del self.tail[:-self.keep_tail]

    def drain(self, stream) -> None:
        try:
            while True:
                chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
                if not chunk:
                    break
                self.feed(chunk)
        except (OSError, ValueError):
            pass
        self.finish()

    def detect_tail(self) -> str:
        data = bytes(self.head[-_DETECT_TAIL:]) + bytes(self.tail[-_DETECT_TAIL:])
        return data[-_DETECT_TAIL:].decode("utf-8", "replace")

    def text(self) -> str:
        if self.total <= self.limit:
            return (bytes(self.head) + bytes(self.tail)).decode("utf-8", "replace")
        tail = bytes(self.tail[-(self.limit // 2):]) if self.limit // 2 else b""
        dropped = self.total - len(self.head) - len(tail)
        note = f"\n[... {dropped} bytes of output truncated ...]\n".encode()
        return (bytes(self.head) + note + tail).decode("utf-8", "replace")


def _check_args(code, timeout_s, memory_mb, max_output_bytes, max_file_mb, disk_mb):
    """The checked limits ``(timeout_s, memory_mb, max_output_bytes, max_file_mb, disk_mb)``."""
    if not isinstance(code, str):
        raise ConfigError(f"code: expected a str of Python source, got {type(code).__name__}")
    if "\x00" in code:
        raise ConfigError("code: contains a NUL character")
    try:
        code.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(f"code: is not valid UTF-8 text ({exc.reason} at position "
                          f"{exc.start})") from None
    return (check_positive("timeout_s", timeout_s), check_int("memory_mb", memory_mb, 64),
            check_int("max_output_bytes", max_output_bytes, 0),
            check_int("max_file_mb", max_file_mb, 1), check_int("disk_mb", disk_mb, 1))


def resolve_isolation(isolation: str | None = None) -> str:
    """The isolation a call gets: ``isolation`` if given, else the environment variable
    :data:`ISOLATION_ENV`, else ``"kernel"``.

    Raises
    ------
    ConfigError
        On a value outside :data:`ISOLATIONS` (the message names where it came from).
    SandboxError
        When ``"kernel"`` is asked for (or the default) and the kernel sandbox does not work
        here: the message says why and how to accept the weaker mode explicitly.
    """
    where = "isolation"
    if isolation is None:
        isolation = os.environ.get(ISOLATION_ENV) or "kernel"
        where = ISOLATION_ENV
    if isolation not in ISOLATIONS:
        raise ConfigError(f"{where}: {isolation!r} is not one of {', '.join(ISOLATIONS)}")
    if isolation == "kernel":
        ok, reason = kernel.kernel_sandbox_status()
        if not ok:
            raise SandboxError(
                f"the kernel sandbox is not available: {reason}. Model-written code is not run "
                "without it unless you accept the weaker audit-hook sandbox explicitly: "
                f"isolation='weak', {ISOLATION_ENV}=weak, or --weak-sandbox on the command line")
    elif isolation not in _WEAK_WARNED:
        _WEAK_WARNED.add(isolation)
        warnings.warn("llm_bridge.sandbox: running model-written code in the WEAK sandbox "
                      "(audit hook and resource limits only, no kernel isolation): code designed "
                      "to escape can reach this machine", RuntimeWarning, stacklevel=3)
    return isolation


def _rmtree(path: str) -> None:
    """Delete ``path`` even where the child removed permissions (never raises)."""

    def retry(func, p, *_):
        try:
            os.chmod(os.path.dirname(p), stat.S_IRWXU)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, stat.S_IRWXU)
            func(p)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def run_python(code: str, *, timeout_s: float = 10.0, memory_mb: int = 512,
               max_output_bytes: int = 65536, max_file_mb: int = 16, disk_mb: int = 32,
               network_namespace: bool | None = None, isolation: str | None = None,
               packages: bool = False, audit_hook: bool = True,
               max_files: int = 10_000) -> SandboxResult:
    """Run untrusted Python source in a limited child process.

    Parameters
    ----------
    code : str
        Python source, run as the ``__main__`` module of a fresh interpreter whose working
        directory is a new, empty, writable directory (deleted afterwards).
    timeout_s : float
        Wall-clock and CPU limit in seconds (the wall clock gets one more second for
        interpreter start-up).
    memory_mb : int
        Address-space limit of the child (``RLIMIT_AS``), at least 64.
    max_output_bytes : int
        At most this many bytes of stdout and of stderr are kept (the start and the end).
    max_file_mb : int
        Largest file the child may write (``RLIMIT_FSIZE``).
    disk_mb : int
        Size of the writable working directory (a tmpfs) with ``isolation="kernel"``.
    network_namespace : bool or None
        With ``isolation="weak"`` only: run under ``unshare -rn`` (None = when it works here;
        True = required; False = never). The kernel sandbox always has its own network.
    isolation : str or None
        ``"kernel"`` (bubblewrap and seccomp, see :mod:`llm_bridge.sandbox.kernel`) or
        ``"weak"`` (audit hook and limits only); None: :func:`resolve_isolation` (the
        environment variable :data:`ISOLATION_ENV`, else ``"kernel"``). ``"kernel"`` refuses
        to run where it does not work, rather than falling back.
    packages : bool
        With ``isolation="kernel"``: give the child the running environment's installed
        packages (read-only; e.g. numpy). Default: the standard library only. The weak
        sandbox always sees them.
    max_files : int
        With ``isolation="kernel"``: the child is killed (status ``"failed"``) once its working
        directory holds more files than this (checked every 50 ms: an inode costs kernel
        memory, not tmpfs blocks, so ``disk_mb`` does not bound a flood of empty files).
    audit_hook : bool
        Install the audit hook (defence in depth). False is allowed with the kernel sandbox
        only, to test that boundary on its own (the escape probes do).

    Returns
    -------
    SandboxResult
        ``status`` is one of ``"passed"``, ``"failed"``, ``"timeout"``, ``"memory"``,
        ``"blocked"``, ``"error"``; see :mod:`llm_bridge.sandbox` for what each means and for
        what is and is not guaranteed.

    Raises
    ------
    ConfigError
        On an invalid argument (the message names it).
    SandboxError
        On a non-POSIX system; when the kernel sandbox is asked for (or the default) and does
        not work here; when ``network_namespace=True`` cannot be honoured.
    """
    timeout_s, memory_mb, max_output_bytes, max_file_mb, disk_mb = _check_args(
        code, timeout_s, memory_mb, max_output_bytes, max_file_mb, disk_mb)
    max_files = check_int("max_files", max_files, 1)
    if os.name != "posix":
        raise SandboxError("run_python: needs a POSIX system (resource limits, sessions)")
    mode = resolve_isolation(isolation)
    if not audit_hook and mode != "kernel":
        raise ConfigError("audit_hook: False is allowed with isolation='kernel' only (the weak "
                          "sandbox has no other barrier)")
    if mode == "kernel":
        if network_namespace is False:
            raise ConfigError("network_namespace: False applies to isolation='weak' only (the "
                              "kernel sandbox always runs in its own network namespace)")
        use_ns = True
    elif network_namespace is None:
        use_ns = network_namespace_available()
    elif network_namespace:
        if not network_namespace_available():
            raise SandboxError("network_namespace=True, but 'unshare -rn true' does not work here")
        use_ns = True
    else:
        use_ns = False

    if not os.path.isfile(CHILD_PATH):  # e.g. a broken installation
        return SandboxResult("error", None, "", "could not start the sandbox: its child "
                             f"program {CHILD_PATH} is missing", 0.0, use_ns, mode)
    tmp = tempfile.mkdtemp(prefix="llm_bridge_sandbox_")
    try:
        host_root = os.path.realpath(tmp)
        root = kernel.BOX if mode == "kernel" else host_root
        if mode == "weak":  # the kernel sandbox's /box/tmp is made by bwrap in its tmpfs
            os.makedirs(os.path.join(host_root, "tmp"))
        host_code = os.path.join(host_root, _CODE_FILE)
        with open(host_code, "w", encoding="utf-8") as fh:
            fh.write(code)
        cpu_soft = max(1, math.ceil(timeout_s))
        cfg = {
            "root": root, "code_path": root + "/" + _CODE_FILE,
            "cpu_soft": cpu_soft, "cpu_hard": cpu_soft + 1,
            "as_bytes": int(memory_mb) * 1024 * 1024,
            "fsize_bytes": int(max_file_mb) * 1024 * 1024,
            "blocked_code": BLOCKED_EXIT_CODE, "blocked_marker": BLOCKED_MARKER,
            "memory_code": MEMORY_EXIT_CODE, "memory_marker": _MEMORY_MARKER,
            "internal_code": INTERNAL_EXIT_CODE, "internal_marker": _INTERNAL_MARKER,
            "audit_hook": bool(audit_hook),
            # unguessable before the run: the graded code cannot have written it first
            "started_marker": f"{_STARTED_MARKER}{secrets.token_hex(8)}\n",
        }
        env = {"PATH": os.environ.get("PATH", os.defpath) if mode == "weak" else "/usr/bin:/bin",
               "LANG": os.environ.get("LANG", "C.UTF-8"),
               "TMPDIR": root + "/tmp",
               # one-thread pools: fewer threads to account for in RLIMIT_AS
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        if mode == "weak":
            argv = [sys.executable, "-I", "-B", CHILD_PATH, json.dumps(cfg)]
            if use_ns:
                argv = [shutil.which("unshare") or "unshare", "-rn", "--"] + argv
            return _run(argv, host_root, env, timeout_s, max_output_bytes, use_ns, mode,
                        started=cfg["started_marker"])
        with kernel.seccomp_filter() as filt, open(CHILD_PATH, "rb") as child, \
                open(host_code, "rb") as source:
            # the status pipe: _run closes our copy of the writer end as soon as bwrap has it
            # (and marks it closed here), the reader end is closed below; never twice, since
            # another thread's call may have been given the same descriptor number since
            status = _StatusPipe()
            try:
                argv = kernel.bwrap_argv(kernel.bwrap_path() or "bwrap", child.fileno(),
                                         source.fileno(), json.dumps(cfg), disk_mb=disk_mb,
                                         seccomp_fd=filt.fileno(), env=env, packages=packages)
                argv[1:1] = ["--json-status-fd", str(status.w)]
                return _run(argv, "/", None, timeout_s, max_output_bytes, use_ns, mode,
                            started=cfg["started_marker"], status=status, max_files=max_files,
                            pass_fds=(filt.fileno(), status.w, child.fileno(), source.fileno()),
                            user=kernel.host_uid())
            finally:
                status.close()
    finally:
        _rmtree(tmp)


class _StatusPipe:
    """bwrap's ``--json-status-fd`` pipe; each end is closed exactly once."""

    def __init__(self):
        self.r, self.w = os.pipe()

    def close_writer(self) -> None:
        if self.w is not None:
            w, self.w = self.w, None
            os.close(w)

    def close(self) -> None:
        self.close_writer()
        if self.r is not None:
            r, self.r = self.r, None
            os.close(r)


def _parse_status(text: str) -> list[dict]:
    """The JSON objects of bwrap's status stream (one per line; a torn last one dropped)."""
    docs, decoder, pos = [], json.JSONDecoder(), 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return docs
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except ValueError:
            return docs
        if isinstance(doc, dict):
            docs.append(doc)


class _StatusReader(threading.Thread):
    """Reads bwrap's status pipe as it comes (``child-pid`` early, ``exit-code`` at the end)."""

    def __init__(self, fd: int):
        super().__init__(daemon=True)
        self.fd = fd
        self.data = b""
        self.child_pid: int | None = None

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.data += chunk
            if self.child_pid is None:
                for doc in _parse_status(self.data.decode("utf-8", "replace")):
                    if isinstance(doc.get("child-pid"), int):
                        self.child_pid = doc["child-pid"]

    def docs(self) -> list[dict]:
        return _parse_status(self.data.decode("utf-8", "replace"))


def _box_files(child_pid: int) -> int | None:
    """Files (inodes) in use in the sandbox's working directory, seen through the sandbox's
    init process (None where that cannot be read)."""
    try:
        st = os.statvfs(f"/proc/{child_pid}/root{kernel.BOX}")
    except OSError:
        return None
    return st.f_files - st.f_ffree


def _wait(proc, deadline: float, reader: _StatusReader | None, max_files: int | None):
    """Wait for ``proc`` until ``deadline``; with a status reader and ``max_files``, check
    every 50 ms that the working directory holds at most ``max_files`` files. Returns
    ``"exited"``, ``"timeout"`` or ``"files"`` (the last two: not killed yet)."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout"
        step = remaining if reader is None or not max_files else min(remaining, 0.05)
        try:
            proc.wait(timeout=step)
            return "exited"
        except subprocess.TimeoutExpired:
            pass
        if reader is not None and max_files and reader.child_pid is not None:
            used = _box_files(reader.child_pid)
            if used is not None and used > max_files:
                return "files"


def _run(argv, cwd, env, timeout_s, max_output_bytes, use_ns, mode, *, started: str = "",
         pass_fds=(), status: _StatusPipe | None = None,
         max_files: int | None = None, user: int | None = None) -> SandboxResult:
    start = time.monotonic()
    as_user = {} if user is None else {"user": user, "group": user, "extra_groups": []}
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env if env is not None else {},
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True, close_fds=True,
                                pass_fds=pass_fds, **as_user)
    except OSError as exc:
        return SandboxResult("error", None, "", f"could not start the sandbox: {exc}",
                             time.monotonic() - start, use_ns, mode)
    reader = None
    if status is not None:  # only bwrap keeps the writer end: EOF when it exits
        status.close_writer()
        reader = _StatusReader(status.r)
        reader.start()
    out, err = _Capture(max_output_bytes), _Capture(max_output_bytes, started.encode("ascii"))
    readers = [threading.Thread(target=cap.drain, args=(stream,), daemon=True)
               for cap, stream in ((out, proc.stdout), (err, proc.stderr))]
    for t in readers:
        t.start()
    killed = too_many_files = False
    try:
        outcome = _wait(proc, start + timeout_s + _STARTUP_GRACE_S, reader, max_files)
        if outcome != "exited":
            killed, too_many_files = outcome == "timeout", outcome == "files"
            _kill_group(proc.pid)
            proc.wait()
    except BaseException:  # KeyboardInterrupt: do not leave the child running
        _kill_group(proc.pid)
        proc.wait()
        raise
    seconds = time.monotonic() - start
    for t in readers:
        t.join(timeout=2.0)
    if any(t.is_alive() for t in readers):  # a leftover process still holds the pipes
        _kill_group(proc.pid)
        for t in readers:
            t.join(timeout=2.0)
    for stream in (proc.stdout, proc.stderr):
        try:
            stream.close()
        except OSError:
            pass
    rc = proc.returncode
    if too_many_files:
        return SandboxResult("failed", proc.returncode, out.text(), err.text() + (
            f"\n[llm_bridge.sandbox] killed: more than {max_files} files in the working "
            "directory\n"), seconds, use_ns, mode)
    if reader is not None:
        reader.join(timeout=2.0)
        docs = reader.docs()
        # bwrap reports {"exit-code": N} when the sandboxed program ended, nothing of the kind
        # when its set-up (mounts, namespaces, the filter) failed; a child that wrote its
        # start marker was set up, whatever became of it
        codes = [d["exit-code"] for d in docs if isinstance(d.get("exit-code"), int)]
        if not codes and not killed and not err.prefixed:
            return SandboxResult("error", rc, out.text(), "could not start the sandbox (bwrap): "
                                 + err.text()[-500:], seconds, use_ns, mode)
        if codes and not killed:
            # bwrap reports a child killed by signal N as 128 + N
            rc = codes[-1] if codes[-1] <= 128 else -(codes[-1] - 128)
    status = _status(rc, killed, err.detect_tail(), err.prefixed)
    return SandboxResult(status, rc, out.text(), err.text(), seconds, use_ns, mode)


def _status(rc: int, killed: bool, err_tail: str, started: bool = False) -> str:
    """The status of a finished child. ``started``: its set-up was over (the start marker
    came first on stderr), so an internal-error exit is the untrusted code's doing: failed."""
    if killed:
        return "timeout"
    if rc == 0:
        return "passed"
    if rc < 0:
        sig = -rc
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return "timeout"
        return "failed"
    if rc == BLOCKED_EXIT_CODE and BLOCKED_MARKER in err_tail:
        return "blocked"
    if rc == MEMORY_EXIT_CODE and _MEMORY_MARKER in err_tail:
        return "memory"
    if rc == INTERNAL_EXIT_CODE and _INTERNAL_MARKER in err_tail and not started:
        return "error"
    return "failed"
