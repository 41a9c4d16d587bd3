"""The sandbox's child program: limits itself, installs the audit hook, runs the untrusted code.

Standard library only, never imported by the parent: :func:`llm_bridge.sandbox.run_python`
runs this file by path as ``python -I -B <this file> CONFIG_JSON`` (under ``unshare -rn --``
when the network namespace is used), with the temporary directory as working directory, so
it must work without the rest of the package (isolated mode puts neither this directory nor
the project on ``sys.path`` for it to rely on). Importing it (tests, doctests) runs nothing.

Protocol
--------
``sys.argv[1]`` is a JSON object: ``root`` (the resolved temporary directory), ``code_path``
(the untrusted source, ``root/main.py``), ``cpu_soft``/``cpu_hard`` (``RLIMIT_CPU``
seconds), ``as_bytes`` (``RLIMIT_AS``), ``fsize_bytes`` (``RLIMIT_FSIZE``), and the exit codes
and stderr markers ``blocked_code``/``blocked_marker``, ``memory_code``/``memory_marker``,
``internal_code``/``internal_marker``, and ``audit_hook`` (optional, default true: false
leaves the hook out, which the parent allows under the kernel sandbox only), and
``started_marker`` (optional: a line written to stderr when set-up is over, just before the
untrusted code is compiled). Standard input is ``/dev/null``; stdout and stderr are
the untrusted code's, plus one marker line on stderr before a blocked (``blocked_code``),
out-of-memory (``memory_code``) or failed set-up (``internal_code``) exit. An uncaught
exception prints its traceback (without this file's frame) and exits with 1.

Everything the audit hook uses is bound as a positional default (builtins and immutable
values), never looked up in globals or closures, so that the untrusted code cannot rebind
it; replacing ``__code__`` of any function, or ``__defaults__``/``__kwdefaults__`` of this
file's hook functions, is itself blocked. The modules are imported at the top but reach
:func:`_sandbox_main` as default arguments, so that no name it uses is a global.
"""

import _posixsubprocess
import _stat
import builtins
import json
import posix
import resource
import sys
import traceback
import types


def _sandbox_main(_stat=_stat, _posixsubprocess=_posixsubprocess, builtins=builtins, json=json,
                  posix=posix, resource=resource, sys=sys, traceback=traceback, types=types):
    # The modules arrive as defaults: inside this function (and the hook's closures) they are
    # locals bound once, never looked up in this module's globals.
    cfg = json.loads(sys.argv[1])
    own_file = _sandbox_main.__code__.co_filename  # this file, as the parent named it
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
    limit("RLIMIT_NOFILE", 256, 256, False)  # pipe buffers are memory outside RLIMIT_AS
    limit("RLIMIT_SIGPENDING", 64, 64, False)  # queued signals: the host root's quota
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
             _base=BaseException, _OSError=OSError, _own_file=own_file,
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
                        and args[0].__code__.co_filename == _own_file
                        and args[0].__code__.co_name in _own)):
                    _block("replacing a function's " + args[1], _repr(args[0])[:100])
                return
            if event == "import":
                if args[0] == "_posixsubprocess":
                    _block("re-importing _posixsubprocess", "")
                if args[0] == "readline":  # its history-file functions raise no audit event
                    _block("importing readline", "")
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
    def no_fork_exec(*args, _block=block):
        _block("_posixsubprocess.fork_exec", "")

    if cfg.get("audit_hook", True):  # False only to test the kernel sandbox on its own
        _posixsubprocess.fork_exec = no_fork_exec
        sys.addaudithook(hook)

    main = types.ModuleType("__main__")
    main.__file__ = cfg["code_path"]
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    sys.argv = [cfg["code_path"]]
    # set-up is over: from here on, an exit with the internal code is the untrusted code's
    # (the parent reads "error" only when this line did not come first on stderr)
    if cfg.get("started_marker"):
        posix.write(2, cfg["started_marker"].encode("ascii"))
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


if __name__ == "__main__":
    _sandbox_main()
