"""Run untrusted (model-written) Python in a separate, limited process.

:func:`run_python` writes the code into a fresh temporary directory, runs it there in a new
``python -I -B`` process (isolated mode: no ``PYTHON*`` variables, no user site, no script
directory on ``sys.path``, no bytecode written) in its own session, and deletes the directory
afterwards. The child sees a minimal environment (``PATH``, ``LANG``, ``TMPDIR`` pointing
inside the temporary directory, and ``OMP``/``OPENBLAS``/``MKL_NUM_THREADS=1``): API keys and
every other variable of the parent are never passed on. Standard input is ``/dev/null``.

What is guaranteed (on Linux)
-----------------------------
* **Time.** A wall-clock limit in the parent (``timeout_s`` plus one second for interpreter
  start-up) kills the child's whole process group with SIGKILL; ``RLIMIT_CPU`` (soft
  ``ceil(timeout_s)``, hard one second more) stops busy loops from inside. The call never
  hangs: output pipes are drained by threads with bounded buffers.
* **Memory and disk.** ``RLIMIT_AS`` = ``memory_mb``, ``RLIMIT_FSIZE`` = ``max_file_mb``,
  ``RLIMIT_CORE`` = 0, and ``RLIMIT_NPROC`` = 0 (no new processes or threads; the kernel
  does not enforce it for root). The limits are set by the child itself, before the
  untrusted code runs, as soft = hard (so the code cannot raise them again); they are not set
  in a ``preexec_fn``, which is unsafe when the parent has threads (generation, API clients).
* **Network (kernel level).** When ``unshare -rn true`` works on the machine (probed once per
  process), the child runs under ``unshare -rn``: a new user and network namespace with only
  a loopback interface that is down, so no connection of any kind can be made, whatever the
  code does. :attr:`SandboxResult.network_isolated` says whether this barrier was in place.
* **Output.** ``stdout`` and ``stderr`` are each truncated to ``max_output_bytes`` (the
  beginning and the end are kept).

What is *not* guaranteed
------------------------
The remaining barriers are Python-level: an audit hook (:pep:`578`) installed before the
untrusted code runs ends the process (status ``"blocked"``, exit code
:data:`BLOCKED_EXIT_CODE`, a line starting with :data:`BLOCKED_MARKER` on stderr) at the
first

* socket event (``socket.*``: create, connect, bind, getaddrinfo, ...), also when the
  network namespace is in place;
* file write outside the temporary directory: ``open`` with a write, append, create or
  truncate mode, ``os.remove``/``unlink``/``rename``/``replace``/``rmdir``/``mkdir``/
  ``chmod``/``chown``/``utime``/``link``/``truncate``/xattrs, ``shutil.rmtree``, a
  ``chdir`` out of it (paths are resolved through symbolic links the way the kernel does;
  only ``/dev/null`` is writable outside); symbolic links must not point out of it nor
  contain ``..``; ``os.open`` may not open a directory outside it or a relative path with
  ``..``, and ``dir_fd`` operations take plain names only (so ``dir_fd`` cannot escape);
* new process: ``subprocess.Popen``, ``os.system``, ``os.exec*``, ``os.spawn*``,
  ``os.posix_spawn*``, ``os.fork``/``forkpty``, ``pty.spawn``, ``_posixsubprocess.fork_exec``;
* ``ctypes`` use beyond loading ``ctypes`` itself (``dlopen`` of a named library, symbol
  look-up, raw memory access); so ``numpy`` imports but ``ctypes.CDLL("libc.so.6")`` is blocked;
* signal to another process (``os.kill``/``killpg``), ``resource.setrlimit``/``prlimit``,
  read of another process's ``/proc/<pid>/...`` (the parent's environment), replacing the
  ``__code__`` of any function, or the defaults of the hook's own functions (which hold
  everything the hook uses).

Audit hooks are not a security boundary against code *designed* to escape (for example a
crafted extension module, or races between threads): they stop the accidents and the naive
attempts a language model writes. Reading files is allowed (only other processes' ``/proc``
entries are refused). Without ``unshare`` (other systems, or where unprivileged user
namespaces are disabled) the network is guarded by the audit hook only. Writes outside the
directory and new processes are never stopped at kernel level: use a container or a VM for
adversarial code. An out-of-memory kill by the kernel (SIGKILL) reads as ``"timeout"``.

Statuses: ``"passed"`` (exit 0), ``"failed"`` (any other exit: exception, failed assertion,
``sys.exit(1)``, file-size limit), ``"timeout"`` (wall clock, CPU limit), ``"memory"``
(uncaught ``MemoryError``, e.g. an allocation over ``memory_mb``), ``"blocked"`` (see
above), ``"error"`` (the sandbox itself failed: it could not start the process or set it up).
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from llm_bridge.errors import ConfigError, SandboxError

__all__ = [
    "BLOCKED_EXIT_CODE", "BLOCKED_MARKER", "MEMORY_EXIT_CODE", "SandboxResult",
    "network_namespace_available", "run_python",
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
_STATUSES = ("passed", "failed", "timeout", "memory", "blocked", "error")
_STARTUP_GRACE_S = 1.0
_DETECT_TAIL = 4096
_CODE_FILE = "main.py"


@dataclass
class SandboxResult:
    """Outcome of :func:`run_python`.

    Attributes
    ----------
    status : str
        ``"passed"``, ``"failed"``, ``"timeout"``, ``"memory"``, ``"blocked"`` or ``"error"``
        (see the module docstring).
    returncode : int or None
        Exit status of the child (negative: killed by that signal); None if it never started.
    stdout, stderr : str
        Decoded output (UTF-8, invalid bytes replaced), each at most about
        ``max_output_bytes`` long; a truncation note sits where bytes were dropped.
    seconds : float
        Wall-clock time of the child.
    network_isolated : bool
        Whether the child ran in its own network namespace (``unshare -rn``).
    """

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    network_isolated: bool = False

    @property
    def passed(self) -> bool:
        """True iff ``status == "passed"``."""
        return self.status == "passed"


# --------------------------------------------------------------------------- the child
# Runs as ``python -I -B -c _PREAMBLE CONFIG_JSON`` with cwd = the temporary directory.
# Everything the audit hook uses is bound as a positional default (builtins and immutable
# values), never looked up in globals or closures, so that the untrusted code cannot rebind
# it; replacing __code__/__defaults__ of a function is itself blocked.
_PREAMBLE = r'''
def _sandbox_main():
    import sys, posix, json, resource, _stat, types, traceback
    cfg = json.loads(sys.argv[1])
    root = cfg["root"]
    err = sys.stderr

    def fatal(message, _w=posix.write, _x=posix._exit):
        try:
            err.flush()
        except BaseException:
            pass
        _w(2, ("\n" + cfg["internal_marker"] + message + "\n").encode("utf-8", "replace"))
        _x(cfg["internal_code"])

    # ---- resource limits: soft = hard (never above an existing hard limit)
    def limit(name, soft, hard, required):
        res = getattr(resource, name, None)
        if res is None:
            return
        try:
            cur_soft, cur_hard = resource.getrlimit(res)
            if cur_hard != resource.RLIM_INFINITY:
                hard = min(hard, cur_hard)
                soft = min(soft, hard)
            resource.setrlimit(res, (soft, hard))
        except (ValueError, OSError) as exc:
            if required:
                fatal("cannot set %s: %s" % (name, exc))

    limit("RLIMIT_CORE", 0, 0, False)
    limit("RLIMIT_CPU", cfg["cpu_soft"], cfg["cpu_hard"], True)
    limit("RLIMIT_AS", cfg["as_bytes"], cfg["as_bytes"], True)
    limit("RLIMIT_FSIZE", cfg["fsize_bytes"], cfg["fsize_bytes"], True)
    limit("RLIMIT_NPROC", 0, 0, False)
    sys.dont_write_bytecode = True

    with open(cfg["code_path"], "r", encoding="utf-8") as fh:
        source = fh.read()

    def block(what, detail, _state=[False], _out=sys.stdout, _err=sys.stderr,
              _w=posix.write, _x=posix._exit, _code=cfg["blocked_code"],
              _marker=cfg["blocked_marker"], _str=str, _base=BaseException):
        if not _state[0]:
            _state[0] = True
            try:
                _out.flush()
                _err.flush()
            except _base:
                pass
        try:
            text = _str(detail)
        except _base:
            text = "?"
        try:
            _w(2, ("\n" + _marker + what + " " + text[:300] + "\n").encode("utf-8", "replace"))
        finally:
            _x(_code)

    def fspath(p, _fspath=posix.fspath, _bytes=bytes, _str=str, _int=int, _isinstance=isinstance,
               _enc=sys.getfilesystemencoding()):
        """str path, int fd, or None (unknown type)."""
        if _isinstance(p, _int):
            return p
        try:
            p = _fspath(p)
        except BaseException:
            return None
        if _isinstance(p, _bytes):
            p = p.decode(_enc, "surrogateescape")
        return p if _isinstance(p, _str) else None

    def resolve(path, _getcwd=posix.getcwd, _lstat=posix.lstat, _readlink=posix.readlink,
                _islnk=_stat.S_ISLNK, _len=len, _list=list, _reversed=reversed,
                _OSError=OSError):
        """Absolute path with every existing symbolic link resolved (like the kernel)."""
        if not path.startswith("/"):
            path = _getcwd() + "/" + path
        pending = _list(_reversed(path.split("/")))
        resolved = []
        hops = 0
        while pending:
            part = pending.pop()
            if part == "" or part == ".":
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/" + "/".join(resolved + [part])
            try:
                st = _lstat(candidate)
            except _OSError:
                resolved.append(part)
                continue
            if _islnk(st.st_mode):
                hops += 1
                if hops > 64:
                    return None
                target = _readlink(candidate)
                if target.startswith("/"):
                    resolved = []
                pending.extend(_reversed(target.split("/")))
            else:
                resolved.append(part)
        return "/" + "/".join(resolved)

    def inside(path, strict=False, _root=root, _resolve=resolve, _fspath=fspath, _str=str,
               _isinstance=isinstance):
        p = _fspath(path)
        if not _isinstance(p, _str):
            return False
        r = _resolve(p)
        if r is None:
            return False
        if r == _root:
            return not strict
        return r.startswith(_root + "/")

    def has_dotdot(p):
        return ".." in p.split("/")

    WRITE_FLAGS = 0
    for name in ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND"):
        WRITE_FLAGS |= getattr(posix, name, 0)

    def hook(event, args, _block=block, _inside=inside, _resolve=resolve, _fspath=fspath,
             _dotdot=has_dotdot, _wflags=WRITE_FLAGS, _root=root, _pid=posix.getpid(),
             _lstat=posix.lstat, _isdir=_stat.S_ISDIR, _isinstance=isinstance, _int=int,
             _str=str, _len=len, _repr=repr, _type=type, _ftype=types.FunctionType,
             _base=BaseException, _OSError=OSError,
             _own=frozenset(("hook", "block", "fspath", "resolve", "inside", "has_dotdot",
                             "no_fork_exec")),
             _process=frozenset(("subprocess.Popen", "os.system", "os.exec", "os.spawn",
                                 "os.posix_spawn", "os.fork", "os.forkpty", "pty.spawn",
                                 "os.startfile", "_posixsubprocess.fork_exec")),
             _one_path=frozenset(("os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
                                  "os.utime", "os.chflags", "os.lchflags", "os.setxattr",
                                  "os.removexattr", "shutil.rmtree", "os.truncate")),
             _two_paths=frozenset(("os.rename", "os.link")),
             _dir_fd_at=(("os.remove", 1), ("os.rmdir", 1), ("os.mkdir", 2), ("os.chmod", 2),
                         ("os.chown", 3), ("os.utime", 3), ("os.symlink", 2),
                         ("shutil.rmtree", 1))):
        try:
            if event == "open":
                path, mode, flags = args[0], args[1], args[2]
                p = _fspath(path)
                if _isinstance(p, _int):
                    return
                if p is None:
                    _block("open", _repr(path))
                writing = ((flags or 0) & _wflags) != 0 or (
                    _isinstance(mode, _str) and ("w" in mode or "a" in mode or "x" in mode
                                                 or "+" in mode))
                r = _resolve(p)
                if r is None:
                    _block("open", p + " (symbolic link loop)")
                ok = r == _root or r.startswith(_root + "/")
                if writing and not ok and r != "/dev/null":
                    _block("open for writing outside the sandbox directory", p)
                if mode is None and not p.startswith("/") and _dotdot(p):
                    _block("os.open of a relative path with '..'", p)
                if mode is None and not ok:
                    try:
                        if _isdir(_lstat(r).st_mode):
                            _block("os.open of a directory outside the sandbox directory", p)
                    except _OSError:
                        pass
                if r.startswith("/proc/"):
                    head = r.split("/")[2]
                    if head.isdigit() and _int(head) != _pid:
                        _block("reading another process's /proc entry", p)
                return
            if event.startswith("socket."):
                _block(event, _repr(args)[:200])
            if event in _process:
                _block(event, _repr(args)[:200])
            if event.startswith("ctypes."):
                if event == "ctypes.dlopen" and args and args[0] is None:
                    return
                _block(event, _repr(args)[:200])
            if event in ("os.kill", "os.killpg"):
                if args[0] in (0, _pid):
                    return
                _block(event, _repr(args))
            if event == "signal.pthread_kill":
                return
            if event in ("resource.setrlimit", "resource.prlimit"):
                _block(event, _repr(args))
            if event == "object.__setattr__":
                if _isinstance(args[0], _ftype) and (args[1] == "__code__" or (
                        args[1] in ("__defaults__", "__kwdefaults__")
                        and args[0].__code__.co_filename == "<string>"
                        and args[0].__code__.co_name in _own)):
                    _block("replacing a function's " + args[1], _repr(args[0])[:100])
                return
            if event == "import":
                if args[0] == "_posixsubprocess":
                    _block("re-importing _posixsubprocess", "")
                return
            if event == "os.chdir":
                target = args[0]
                if _isinstance(target, _int):
                    return
                if not _inside(target):
                    _block("os.chdir outside the sandbox directory", _repr(target))
                return
            for name, pos in _dir_fd_at:
                if event == name and _len(args) > pos and args[pos] not in (None, -1):
                    p = _fspath(args[0] if name != "os.symlink" else args[1])
                    if not _isinstance(p, _str) or "/" in p or p in ("", ".", ".."):
                        _block(event + " with dir_fd", _repr(args)[:200])
            if event in ("os.rename", "os.link"):
                for pos in (2, 3):
                    if _len(args) > pos and args[pos] not in (None, -1):
                        p = _fspath(args[pos - 2])
                        if not _isinstance(p, _str) or "/" in p or p in ("", ".", ".."):
                            _block(event + " with dir_fd", _repr(args)[:200])
            if event in _one_path:
                target = args[0]
                if event == "os.truncate" and _isinstance(target, _int):
                    return
                if not _inside(target, True):
                    _block(event + " outside the sandbox directory", _repr(target))
                return
            if event in _two_paths:
                if not (_inside(args[0], True) and _inside(args[1], True)):
                    _block(event + " outside the sandbox directory", _repr(args[:2]))
                return
            if event == "os.symlink":
                target, link = _fspath(args[0]), args[1]
                if not _inside(link, True):
                    _block("os.symlink outside the sandbox directory", _repr(link))
                if not _isinstance(target, _str) or _dotdot(target) or (
                        target.startswith("/") and not (target == _root
                                                        or target.startswith(_root + "/"))):
                    _block("os.symlink pointing out of the sandbox directory", _repr(target))
                return
        except _base as exc:
            _block("audit hook failure on " + event, _repr(exc))

    # new processes through the private fork_exec used by subprocess/multiprocessing
    import _posixsubprocess

    def no_fork_exec(*args, _block=block):
        _block("_posixsubprocess.fork_exec", "")

    _posixsubprocess.fork_exec = no_fork_exec
    sys.addaudithook(hook)

    main = types.ModuleType("__main__")
    main.__file__ = cfg["code_path"]
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    sys.argv = [cfg["code_path"]]
    code = compile(source, cfg["code_path"], "exec")
    del source
    try:
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except MemoryError:
        try:
            sys.stdout.flush()
        except BaseException:
            pass
        posix.write(2, ("\n" + cfg["memory_marker"] + "MemoryError\n").encode())
        posix._exit(cfg["memory_code"])
    except BaseException as exc:
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        raise SystemExit(1)

_sandbox_main()
'''


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
    """Drains one pipe into a bounded buffer: the first and the last bytes are kept."""

    def __init__(self, limit: int):
        self.limit = limit
        self.head = bytearray()
        self.tail = bytearray()
        self.keep_tail = max(limit // 2, _DETECT_TAIL)
        self.total = 0

    def feed(self, chunk: bytes) -> None:
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


def _check_args(code, timeout_s, memory_mb, max_output_bytes, max_file_mb):
    if not isinstance(code, str):
        raise ConfigError(f"code: expected a str of Python source, got {type(code).__name__}")
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) \
            or not math.isfinite(timeout_s) or timeout_s <= 0:
        raise ConfigError(f"timeout_s: expected a positive finite number of seconds, got {timeout_s!r}")
    for name, value, low in (("memory_mb", memory_mb, 64), ("max_output_bytes", max_output_bytes, 0),
                             ("max_file_mb", max_file_mb, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{name}: expected an int >= {low}, got {value!r}")


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
               max_output_bytes: int = 65536, max_file_mb: int = 16,
               network_namespace: bool | None = None) -> SandboxResult:
    """Run untrusted Python source in a limited child process.

    Parameters
    ----------
    code : str
        Python source, run as the ``__main__`` module of a fresh interpreter whose working
        directory is a new temporary directory (deleted afterwards).
    timeout_s : float
        Wall-clock and CPU limit in seconds (the wall clock gets one more second for
        interpreter start-up).
    memory_mb : int
        Address-space limit of the child (``RLIMIT_AS``), at least 64.
    max_output_bytes : int
        At most this many bytes of stdout and of stderr are kept (the start and the end).
    max_file_mb : int
        Largest file the child may write (``RLIMIT_FSIZE``).
    network_namespace : bool or None
        Run under ``unshare -rn`` (kernel-level network isolation): None (default) = when it
        works here; True = required (:class:`~llm_bridge.errors.SandboxError` if it does not
        work); False = never (audit hook only).

    Returns
    -------
    SandboxResult
        ``status`` is one of ``"passed"``, ``"failed"``, ``"timeout"``, ``"memory"``,
        ``"blocked"``, ``"error"``; see the module docstring for what each means and for
        what is and is not guaranteed.

    Raises
    ------
    ConfigError
        On an invalid argument (the message names it).
    SandboxError
        On a non-POSIX system, or when ``network_namespace=True`` cannot be honoured.
    """
    _check_args(code, timeout_s, memory_mb, max_output_bytes, max_file_mb)
    if os.name != "posix":
        raise SandboxError("run_python: needs a POSIX system (resource limits, sessions)")
    if network_namespace is None:
        use_ns = network_namespace_available()
    elif network_namespace:
        if not network_namespace_available():
            raise SandboxError("network_namespace=True, but 'unshare -rn true' does not work here")
        use_ns = True
    else:
        use_ns = False

    tmp = tempfile.mkdtemp(prefix="llm_bridge_sandbox_")
    try:
        root = os.path.realpath(tmp)
        os.makedirs(os.path.join(root, "tmp"))
        code_path = os.path.join(root, _CODE_FILE)
        with open(code_path, "w", encoding="utf-8") as fh:
            fh.write(code)
        cpu_soft = max(1, math.ceil(timeout_s))
        cfg = {
            "root": root, "code_path": code_path,
            "cpu_soft": cpu_soft, "cpu_hard": cpu_soft + 1,
            "as_bytes": int(memory_mb) * 1024 * 1024,
            "fsize_bytes": int(max_file_mb) * 1024 * 1024,
            "blocked_code": BLOCKED_EXIT_CODE, "blocked_marker": BLOCKED_MARKER,
            "memory_code": MEMORY_EXIT_CODE, "memory_marker": _MEMORY_MARKER,
            "internal_code": INTERNAL_EXIT_CODE, "internal_marker": _INTERNAL_MARKER,
        }
        argv = [sys.executable, "-I", "-B", "-c", _PREAMBLE, json.dumps(cfg)]
        if use_ns:
            argv = [shutil.which("unshare") or "unshare", "-rn", "--"] + argv
        env = {"PATH": os.environ.get("PATH", os.defpath),
               "LANG": os.environ.get("LANG", "C.UTF-8"),
               "TMPDIR": os.path.join(root, "tmp"),
               # no thread pools: RLIMIT_NPROC = 0 refuses new threads (non-root users)
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        return _run(argv, root, env, timeout_s, max_output_bytes, use_ns)
    finally:
        _rmtree(tmp)


def _run(argv, cwd, env, timeout_s, max_output_bytes, use_ns) -> SandboxResult:
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, close_fds=True)
    except OSError as exc:
        return SandboxResult("error", None, "", f"could not start the sandbox: {exc}",
                             time.monotonic() - start, use_ns)
    out, err = _Capture(max_output_bytes), _Capture(max_output_bytes)
    readers = [threading.Thread(target=cap.drain, args=(stream,), daemon=True)
               for cap, stream in ((out, proc.stdout), (err, proc.stderr))]
    for t in readers:
        t.start()
    killed = False
    try:
        proc.wait(timeout=timeout_s + _STARTUP_GRACE_S)
    except subprocess.TimeoutExpired:
        killed = True
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
    status = _status(rc, killed, err.detect_tail())
    return SandboxResult(status, rc, out.text(), err.text(), seconds, use_ns)


def _status(rc: int, killed: bool, err_tail: str) -> str:
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
    if rc == INTERNAL_EXIT_CODE and _INTERNAL_MARKER in err_tail:
        return "error"
    return "failed"
