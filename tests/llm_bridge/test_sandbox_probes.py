"""Escape probes against the kernel sandbox (bubblewrap + seccomp), as an attacker would try.

Each probe is a bounded program that tries to reach the host: files outside the working
directory, new or surviving processes, the grading process (signals, priority, affinity),
memory and disk beyond the limits, the network, the parent's environment. The probes that
got out of the old audit-hook sandbox (issue 12: over-long symbolic link chains, ``mknod``,
``mkfifo``, ``sqlite3`` files, a symlink-swap race, ``_posixsubprocess`` loaded under a
second name, cffi's ``system()``, ``pidfd_send_signal``, ``fcntl(F_SETOWN/F_SETSIG)``,
``setpriority``, ``sched_setaffinity``, ``memfd``, disk and file floods, a cffi ``AF_UNIX``
socket, TCP to loopback, ``/proc/<pid>/environ``) are here, with those that held. Every
probe runs with the audit hook (the default) and without it (``audit_hook=False``: the
kernel boundary alone), and each test checks the host's own state afterwards (the files it
created, its processes, its signals, its priority), not only what the child says.

The probes never run in the weak mode: there they would escape (that is the point of the
kernel sandbox).
"""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import textwrap
import threading
import time
import uuid

import pytest

from llm_bridge.sandbox import kernel_sandbox_status, run_python

HOOK = [True, False]


@pytest.fixture(autouse=True)
def kernel_required():
    ok, reason = kernel_sandbox_status()
    if not ok:  # CI installs bubblewrap and pyseccomp: a missing kernel sandbox is a failure
        pytest.fail("the kernel sandbox does not work here: " + reason)


TRY = """
def attempt(name, fn):
    try:
        print(name + ": ESCAPED " + repr(fn())[:80], flush=True)
    except BaseException as exc:
        print(name + ": refused " + type(exc).__name__ + " " + str(exc)[:80], flush=True)
"""


def probe(code: str, **kw):
    """Run ``code`` (dedented, after :data:`TRY`'s ``attempt``) in the kernel sandbox."""
    kw.setdefault("timeout_s", 10)
    return run_python(TRY + textwrap.dedent(code), isolation="kernel", **kw)


def results(r) -> dict[str, str]:
    """The probe's ``NAME: outcome`` lines."""
    out = {}
    for line in r.stdout.splitlines():
        if ": " in line:
            k, v = line.split(": ", 1)
            out[k] = v
    return out


def escaped(r) -> list[str]:
    return [k for k, v in results(r).items() if v.startswith("ESCAPED")]


def snapshot(folder) -> dict:
    return {p: (os.lstat(os.path.join(folder, p)).st_size) for p in os.listdir(folder)}


def processes_with(marker: str) -> list[int]:
    """Host processes (or threads) whose command line or name holds ``marker``."""
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            paths = [f"/proc/{pid}/cmdline"] + [f"/proc/{pid}/task/{t}/comm"
                                                for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    if marker.encode() in fh.read():
                        found.add(int(pid))
            except OSError:
                pass
    return sorted(found)


# ------------------------------------------------------------------ files
@pytest.mark.parametrize("hook", HOOK)
def test_no_file_outside_the_box(tmp_path, hook):
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    before = snapshot(tmp_path)
    d, v = str(tmp_path), str(victim)
    r = probe(f"""
        import os, sqlite3, threading
        D, V = {d!r}, {v!r}
        attempt("open_w", lambda: open(V, "w").write("pwned"))
        attempt("remove", lambda: os.remove(V))
        attempt("mkdir", lambda: os.mkdir(D + "/newdir"))
        attempt("mknod", lambda: os.mknod(D + "/node"))
        attempt("mknod_box", lambda: os.mknod("node_here"))
        attempt("mkfifo", lambda: os.mkfifo(D + "/fifo"))
        attempt("mkfifo_box", lambda: os.mkfifo("fifo_here"))
        attempt("sqlite", lambda: sqlite3.connect(D + "/db.sqlite").execute("create table t(x)"))
        attempt("rename", lambda: os.rename("main.py", D + "/stolen.py"))
        attempt("link", lambda: os.link("main.py", D + "/hard"))
        # a symbolic link chain longer than PATH_MAX, then '..' out of it
        os.mkdir("c")
        prev = "c"
        for i in range(40):
            name = "L%02d" % i + "x" * 200
            os.symlink(prev, name)
            prev = name + "/" + ("." if i % 2 else "")
        attempt("long_chain", lambda: open(prev + "/../../.." + V, "w").write("pwned"))
        attempt("long_chain_mkdir", lambda: os.mkdir(prev + "/../../.." + D + "/chain"))
        # a symlink-swap race (no threads: the kernel refuses them): a fast interval timer's
        # handler flips 'target' between a box file and the victim, also while the audit hook
        # runs its check in Python
        import signal
        open("inside", "w").close()
        flips = [0]
        def flip(*_):
            dest = ("inside", V)[flips[0] % 2]
            flips[0] += 1
            try:
                os.symlink(dest, "tmp_link"); os.replace("tmp_link", "target")
            except OSError:
                pass
        flip()
        signal.signal(signal.SIGALRM, flip)
        signal.setitimer(signal.ITIMER_REAL, 0.00005, 0.00005)
        def race():
            for _ in range(2000):
                try:
                    with open("target", "a") as fh:
                        fh.write("pwned")
                except OSError:
                    pass
            return open(V).read() if os.path.exists(V) else "victim not visible"
        try:
            attempt("race", race)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        print("flips: %d" % flips[0])
        print("sees_project: " + str(os.path.exists({os.getcwd()!r})))
        print("sees_tmp: " + str(os.path.exists({tempfile.gettempdir()!r} + "/" + {os.path.basename(d)!r})))
    """, audit_hook=hook)
    assert r.status in ("passed", "failed", "blocked"), (r.status, r.stderr)
    got = results(r)
    if not hook:  # the kernel alone: everything ran and was refused
        assert r.status == "passed", r.stderr
        assert "mknod_box" in got and "race" in got, r.stdout
        assert escaped(r) == ["race"] and "victim not visible" in got["race"], r.stdout
        assert int(got["flips"]) > 10, r.stdout
        assert got["sees_project"] == "False" and got["sees_tmp"] == "False"
    assert victim.read_text() == "original"
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("hook", HOOK)
def test_the_box_is_small_and_gone_afterwards(hook):
    tmp = tempfile.gettempdir()
    ours = {n for n in os.listdir(tmp) if n.startswith("llm_bridge_sandbox_")}
    r = probe("""
        import os
        total = 0
        try:
            for i in range(200):
                with open("big%d" % i, "wb") as fh:
                    for _ in range(4):
                        fh.write(b"x" * 2**20)
                        total += 1
        except OSError as exc:
            print("disk_full: " + type(exc).__name__)
        print("written_mb: %d" % total)
        attempt("shm", lambda: open("/dev/shm/x", "wb").write(b"x" * 2**20))
        attempt("root", lambda: open("/x", "wb"))
        attempt("usr", lambda: open("/usr/x", "wb"))
    """, disk_mb=8, max_file_mb=64, timeout_s=20, audit_hook=hook)
    got = results(r)
    assert got.get("disk_full") == "OSError", (r.stdout, r.stderr)
    assert int(got["written_mb"]) <= 8
    assert escaped(r) == [], r.stdout
    assert {n for n in os.listdir(tmp) if n.startswith("llm_bridge_sandbox_")} <= ours


# ------------------------------------------------------------------ processes
@pytest.mark.parametrize("hook", HOOK)
def test_no_new_or_surviving_processes(hook):
    marker = "llmbridgeprobe" + uuid.uuid4().hex[:10]
    r = probe(f"""
        import os, sys, subprocess, importlib.machinery, importlib.util
        M = {marker!r}
        cmd = ["/bin/sh", "-c", "sleep 30 # " + M]
        def system():  # the C library's system() reports a failed spawn as exit status 127
            rc = os.system("sleep 30 # " + M)
            if rc != 0:
                raise OSError("exit status %d" % (rc >> 8))
            return rc
        attempt("system", system)
        attempt("popen", lambda: subprocess.Popen(cmd, start_new_session=True).pid)
        attempt("fork", lambda: os.fork())
        attempt("posix_spawn", lambda: os.posix_spawn("/bin/sh", cmd, {{}}))
        def dotted():
            origin = importlib.util.find_spec("_posixsubprocess").origin
            spec = importlib.util.spec_from_file_location("x._posixsubprocess", origin)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            r, w = os.pipe()
            return mod.fork_exec(["/bin/sh"], [b"/bin/sh"], True, (w,), None, None, -1, -1, -1,
                                 -1, -1, -1, r, w, True, True, 0, None, None, None, -1, None,
                                 False)
        attempt("dotted_posixsubprocess", dotted)
        import threading, time
        attempt("thread", lambda: threading.Thread(target=time.sleep, args=(60,)).start())
        while True:
            pass
    """, audit_hook=hook, timeout_s=2)
    assert r.status == "timeout" or (hook and r.status == "blocked"), (r.status, r.stderr)
    assert escaped(r) == [], r.stdout
    if not hook:
        assert len(results(r)) == 6, r.stdout
    time.sleep(0.3)
    assert processes_with(marker) == []


def test_exec_stays_inside():
    """``execv`` cannot be refused (bubblewrap starts the child with it, after the filter is
    in place), but the new program inherits the namespaces, the filter and the limits: a shell
    cannot start a command."""
    marker = "llmbridgeprobe" + uuid.uuid4().hex[:10]
    r = probe(f"""
        import os
        os.execv("/bin/sh", ["/bin/sh", "-c", "sleep 30 # {marker}; echo ran-after"])
    """, audit_hook=False)
    assert r.status == "failed" and "fork" in r.stderr.lower(), (r.status, r.stderr)
    assert "ran-after" not in r.stdout
    assert processes_with(marker) == []


def test_cffi_system_is_refused():
    pytest.importorskip("cffi")
    marker = "llmbridgeprobe" + uuid.uuid4().hex[:10]
    r = probe(f"""
        import cffi
        ffi = cffi.FFI()
        ffi.cdef("int system(const char *command); int socket(int, int, int);")
        C = ffi.dlopen(None)
        rc = C.system(b"sleep 30 # {marker}")
        print("system: " + ("refused" if rc != 0 else "ESCAPED") + " %d" % rc)
        fd = C.socket(1, 1, 0)
        print("af_unix_socket: " + ("refused" if fd < 0 else "ESCAPED") + " %d" % fd)
    """, packages=True, audit_hook=False)
    assert r.status == "passed", r.stderr
    assert set(results(r)) == {"system", "af_unix_socket"}
    assert escaped(r) == [], r.stdout
    assert processes_with(marker) == []


# ------------------------------------------------------------------ the grading process
@pytest.mark.parametrize("hook", HOOK)
def test_no_signal_priority_or_affinity_change_reaches_the_parent(hook):
    received = []
    old = {s: signal.signal(s, lambda n, f: received.append(n))
           for s in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGIO, signal.SIGURG)}
    nice, affinity = os.getpriority(os.PRIO_PROCESS, 0), os.sched_getaffinity(0)
    me = os.getpid()
    try:
        r = probe(f"""
            import os, signal, fcntl
            P = {me}
            attempt("kill", lambda: os.kill(P, signal.SIGUSR1))
            attempt("killpg", lambda: os.killpg(os.getpgid(P), signal.SIGUSR1))
            attempt("pidfd", lambda: signal.pidfd_send_signal(os.pidfd_open(P), signal.SIGUSR2))
            def setown():
                r, w = os.pipe()
                fcntl.fcntl(r, fcntl.F_SETOWN, P)
                fcntl.fcntl(r, 10, signal.SIGUSR1)  # F_SETSIG
                fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC)
                os.write(w, b"x")
                return "wrote"
            attempt("f_setown", setown)
            attempt("setpriority", lambda: os.setpriority(os.PRIO_PROCESS, P, 19))
            attempt("setpriority_user", lambda: os.setpriority(os.PRIO_USER, os.getuid(), 19))
            attempt("setpriority_pgrp", lambda: os.setpriority(os.PRIO_PGRP, 0, 19))
            attempt("affinity", lambda: os.sched_setaffinity(P, {{0}}))
            attempt("kill_all", lambda: os.kill(-1, signal.SIGUSR1))
        """, audit_hook=hook)
        time.sleep(0.2)
        if not hook:
            assert r.status == "passed", r.stderr
            assert len(results(r)) == 9, r.stdout
            assert escaped(r) == [], r.stdout
        assert received == []
        assert os.getpriority(os.PRIO_PROCESS, 0) == nice
        assert os.sched_getaffinity(0) == affinity
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@pytest.mark.parametrize("hook", HOOK)
def test_the_parent_environment_and_processes_are_invisible(monkeypatch, hook):
    secret = "sk-probe-" + uuid.uuid4().hex
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    r = probe(f"""
        import os
        seen = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                for part in ("environ", "cmdline"):
                    try:
                        seen.append(open("/proc/%s/%s" % (pid, part), "rb").read())
                    except OSError:
                        pass
        print("pids: " + " ".join(sorted(p for p in os.listdir("/proc") if p.isdigit())))
        print("ppid: %d" % os.getppid())
        print("found: " + str(any({secret!r}.encode() in s for s in seen)))
    """, audit_hook=hook)
    assert secret not in r.stdout + r.stderr
    if not hook:
        got = results(r)
        assert r.status == "passed", r.stderr
        assert got["found"] == "False"
        assert got["ppid"] == "1"  # bubblewrap's init: the grading process is not in the namespace
        assert len(got["pids"].split()) <= 2


# ------------------------------------------------------------------ memory
@pytest.mark.parametrize("hook", HOOK)
def test_memory_cannot_escape_the_limit(hook):
    r = probe("""
        import os, mmap
        def memfd():
            fd = os.memfd_create("x")
            for _ in range(300):
                os.write(fd, b"x" * 2**20)
            return "300 MB held"
        attempt("memfd", memfd)
        attempt("mmap", lambda: mmap.mmap(-1, 300 * 2**20).write(b"x" * (300 * 2**20)))
        attempt("bytes", lambda: len(bytearray(300 * 2**20)))
    """, memory_mb=128, audit_hook=hook)
    assert escaped(r) == [], r.stdout
    if not hook:
        assert set(results(r)) == {"memfd", "mmap", "bytes"}, (r.stdout, r.stderr)


# ------------------------------------------------------------------ network
@pytest.mark.parametrize("hook", HOOK)
def test_no_network_of_any_kind(tmp_path, hook):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = str(tmp_path / "host.sock")
    try:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(5)
        unix.bind(path)
        unix.listen(5)
        port = tcp.getsockname()[1]
        r = probe(f"""
            import socket, _socket
            attempt("tcp", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2))
            def unix():
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect({path!r})
                return "connected"
            attempt("unix", unix)
            attempt("abstract", lambda: _socket.socket(1, 1).connect(b"\\0llm_bridge_probe"))
            attempt("udp", lambda: _socket.socket(2, 2).sendto(b"x", ("127.0.0.1", {port})))
            attempt("netlink", lambda: _socket.socket(16, 3, 0))
            attempt("socketpair", lambda: socket.socketpair())
        """, audit_hook=hook)
        assert escaped(r) == [], r.stdout
        if not hook:
            assert len(results(r)) == 6, (r.stdout, r.stderr)
        for server in (tcp, unix):
            server.settimeout(0.3)
            with pytest.raises(socket.timeout):
                server.accept()
    finally:
        tcp.close()
        unix.close()


# ------------------------------------------------------------------ timeouts
def test_timeout_kills_the_whole_namespace():
    marker = "pr" + uuid.uuid4().hex[:12]  # a process name (15 bytes at most)
    t = time.monotonic()
    r = probe(f"""
        import ctypes, signal, time
        ctypes.CDLL(None).prctl(15, {marker!r}.encode(), 0, 0, 0)  # PR_SET_NAME
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("named: " + open("/proc/self/comm").read().strip(), flush=True)
        while True:
            pass
    """, timeout_s=1, audit_hook=False)
    assert r.status == "timeout"
    assert results(r)["named"] == marker
    assert time.monotonic() - t < 8
    time.sleep(0.3)
    assert processes_with(marker) == []


def test_probe_markers_are_seen_on_the_host():
    """The survivor checks above can fail: a process of the host with the marker is found."""
    import subprocess

    marker = "pr" + uuid.uuid4().hex[:12]
    proc = subprocess.Popen(["/bin/sh", "-c", f"sleep 30 # {marker}"])
    try:
        time.sleep(0.1)
        assert processes_with(marker) == [proc.pid]
    finally:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------ found by a second attacker
@pytest.mark.parametrize("hook", HOOK)
def test_proc_is_read_only(hook):
    """The child's uid is the grader's outside the namespace (root here): a writable /proc/sys
    (kernel.core_pattern) would run a command as the host's root. Opened for writing and
    closed at once: nothing is written even where the open succeeds."""
    r = probe("""
        import os
        for path in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hostname",
                     "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger", "/proc/self/comm",
                     "/proc/self/oom_score_adj"):
            attempt(path.split("/", 2)[2], lambda: os.close(os.open(path, os.O_WRONLY)))
    """, audit_hook=hook)
    assert escaped(r) == [], r.stdout
    if not hook:
        assert len(results(r)) == 6, (r.stdout, r.stderr)


@pytest.mark.parametrize("hook", HOOK)
def test_no_mode_owner_or_attribute_change_of_host_inodes(hook):
    """The bound devices are the host's own root-owned inodes: chmod to the same mode (no
    harm if it got through) must not even touch them (their ctime stays)."""
    before = os.stat("/dev/null")
    r = probe("""
        import os
        attempt("chmod", lambda: os.chmod("/dev/null", 0o666))
        attempt("chown", lambda: os.chown("/dev/null", -1, -1))
        attempt("setxattr", lambda: os.setxattr("/dev/null", "user.x", b"1"))
        open("mine", "w").close()
        attempt("chmod_box", lambda: os.chmod("mine", 0o600))
    """, audit_hook=hook)
    assert escaped(r) == [], r.stdout
    after = os.stat("/dev/null")
    assert (after.st_mode, after.st_uid, after.st_ctime_ns) == (
        before.st_mode, before.st_uid, before.st_ctime_ns)


@pytest.mark.parametrize("hook", HOOK)
def test_readline_history_files_cannot_write_outside(tmp_path, hook):
    target = tmp_path / "history"
    r = probe(f"""
        import readline
        readline.add_history("pwned")
        attempt("append", lambda: readline.append_history_file(1, {str(target)!r}))
        attempt("proc", lambda: readline.append_history_file(1, "/proc/sys/kernel/hostname"))
    """, audit_hook=hook)
    assert escaped(r) == [], r.stdout
    if hook:
        assert r.status == "blocked"
    assert not target.exists()


@pytest.mark.parametrize("hook", HOOK)
def test_the_installation_packages_are_hidden(hook):
    """Without ``packages``, the running installation's site-packages are an empty folder:
    ``-S`` alone would only keep them off ``sys.path``."""
    import site

    folders = [p for p in site.getsitepackages() if os.path.isdir(p)]
    r = probe(f"""
        import os, sys
        for p in {folders!r}:
            sys.path.append(p)
            print("listing: %d" % len(os.listdir(p)) if os.path.isdir(p) else "listing: absent")
        attempt("cffi", lambda: __import__("cffi"))
        attempt("numpy", lambda: __import__("numpy"))
    """, audit_hook=hook)
    assert escaped(r) == [], r.stdout
    assert all(line in ("listing: 0", "listing: absent") for line in r.stdout.splitlines()
               if line.startswith("listing")), r.stdout


@pytest.mark.parametrize("hook", HOOK)
def test_no_memory_outside_the_limit_through_ipc_or_pipes(hook):
    r = probe("""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        def shm():
            key = libc.shmget(0, 100 * 2**20, 0o1600)  # IPC_PRIVATE, IPC_CREAT
            if key < 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            return key
        def msg():
            q = libc.msgget(0, 0o1600)
            if q < 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            return q
        attempt("shmget", shm)
        attempt("msgget", msg)
        def pipes():
            fds = [os.pipe() for _ in range(1000)]
            return len(fds)
        attempt("pipes_1000", pipes)
        def inotify():
            fd = libc.inotify_init1(0)
            if fd < 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            return fd
        attempt("inotify", inotify)
    """, audit_hook=False, memory_mb=64) if not hook else probe("""
        import os
        attempt("pipes_1000", lambda: len([os.pipe() for _ in range(1000)]))
    """, memory_mb=64)
    assert escaped(r) == [], (r.stdout, r.stderr)
    if not hook:
        assert len(results(r)) == 4, (r.stdout, r.stderr)


def test_a_thread_flood_is_refused():
    r = probe("""
        import threading, time
        def flood():
            n = 0
            for _ in range(3000):
                threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
                n += 1
            return n
        attempt("threads", flood)
    """, audit_hook=False)
    assert escaped(r) == [], r.stdout


def test_a_faked_internal_error_reads_as_failed():
    """Only the sandbox's own set-up may end as "error" (which graders retry, then raise on):
    the graded code printing the internal marker and exiting with its code only fails."""
    from llm_bridge.sandbox import INTERNAL_EXIT_CODE
    from llm_bridge.sandbox.runner import _INTERNAL_MARKER

    for hook in HOOK:
        r = probe(f"""
            import os, sys
            sys.stderr.write("\\n{_INTERNAL_MARKER}cannot set RLIMIT_AS\\n")
            sys.stderr.flush()
            os._exit({INTERNAL_EXIT_CODE})
        """, audit_hook=hook)
        assert r.status == "failed" and r.returncode == INTERNAL_EXIT_CODE, r
        assert _INTERNAL_MARKER in r.stderr


# ------------------------------------------------------------------ found by a third attacker
@pytest.mark.parametrize("hook", HOOK)
def test_no_leases_notifications_or_bigger_pipes(tmp_path, hook):
    """A lease on a root-owned host file (the child "owns" it outside the namespace) would
    block the host's readers of it; F_NOTIFY watches the host use a folder."""
    r = probe("""
        import fcntl, os, signal
        signal.signal(signal.SIGIO, signal.SIG_IGN)
        f = open("/sandbox/child.py", "rb")
        attempt("lease", lambda: fcntl.fcntl(f.fileno(), 1024, fcntl.F_WRLCK))  # F_SETLEASE
        d = os.open(".", os.O_RDONLY)
        attempt("notify", lambda: fcntl.fcntl(d, 1026, 0x80000001))  # F_NOTIFY, multishot
        rd, wr = os.pipe()
        attempt("pipe_size", lambda: fcntl.fcntl(wr, 1031, 2**20))  # F_SETPIPE_SZ
    """, audit_hook=hook)
    assert escaped(r) == [], (r.stdout, r.stderr)
    assert len(results(r)) == 3, (r.stdout, r.stderr)
    from llm_bridge.sandbox import CHILD_PATH

    t = time.monotonic()
    with open(CHILD_PATH, "rb") as fh:  # no lease left: the host reads at once
        fh.read(10)
    assert time.monotonic() - t < 1


@pytest.mark.parametrize("hook", HOOK)
def test_queued_signals_are_bounded(hook):
    """Real-time signals queue one instance per send, and kill() bypasses RLIMIT_SIGPENDING:
    the child filled the host root's queued-signal quota with them. Standard signals still
    work (one pending instance each)."""
    r = probe("""
        import os, signal
        signal.pthread_sigmask(signal.SIG_BLOCK, range(1, signal.SIGRTMAX + 1))
        attempt("rt_kill", lambda: os.kill(os.getpid(), signal.SIGRTMIN))
        attempt("rt_pthread_kill", lambda: signal.pthread_kill(__import__("threading").get_ident(),
                                                               signal.SIGRTMIN + 1))
        for _ in range(1000):
            os.kill(os.getpid(), signal.SIGUSR1)
        print("pending: " + str(sorted(signal.sigpending())))
    """, audit_hook=hook)
    got = results(r)
    assert r.status == "passed", r.stderr
    assert escaped(r) == [], r.stdout
    assert got["pending"] == "[<Signals.SIGUSR1: 10>]", r.stdout
    import platform

    if not hook and platform.machine() == "x86_64":  # 129: rt_sigqueueinfo on x86-64
        r = probe("""
            import ctypes, os, signal
            libc = ctypes.CDLL(None, use_errno=True)
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
            info = ctypes.create_string_buffer(128)
            def queue():
                if libc.syscall(129, os.getpid(), int(signal.SIGRTMIN), info) != 0:  # x86-64
                    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            attempt("rt_sigqueueinfo", queue)
        """, audit_hook=False)
        assert escaped(r) == [], r.stdout


def test_no_aio_page_cache_probe_or_explicit_host_timestamps():
    import platform

    before = os.stat("/dev/null")
    aio = 206 if platform.machine() == "x86_64" else None
    r = probe(f"""
        import ctypes, mmap, os
        libc = ctypes.CDLL(None, use_errno=True)
        def check(rc):
            if rc != 0:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            return rc
        if {aio!r} is not None:
            ctx = ctypes.c_ulong(0)
            attempt("io_setup", lambda: check(libc.syscall({aio!r}, 128, ctypes.byref(ctx))))
        m = mmap.mmap(-1, 4096)
        buf = ctypes.create_string_buffer(1)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
        attempt("mincore", lambda: check(libc.mincore(ctypes.c_void_p(addr), 4096, buf)))
        attempt("utime_explicit", lambda: os.utime("/dev/null", (0, 0)))
        attempt("sync", lambda: check(libc.syncfs(0)))
    """, audit_hook=False)
    assert escaped(r) == [], (r.stdout, r.stderr)
    assert len(results(r)) == (4 if aio else 3), (r.stdout, r.stderr)
    assert os.stat("/dev/null").st_mtime_ns == before.st_mtime_ns


def test_concurrent_calls_from_threads():
    """The grader may grade from several threads: every call gets its own pipes (a pipe end
    closed twice once broke the calls of other threads)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        rs = list(pool.map(lambda i: probe(f"print({i} * 2)"), range(24)))
    assert [r.status for r in rs] == ["passed"] * 24, [(r.status, r.stderr) for r in rs]
    assert [r.stdout for r in rs] == [f"{2 * i}\n" for i in range(24)]


@pytest.mark.parametrize("hook", HOOK)
def test_a_file_count_flood_is_stopped(hook):
    """Empty files cost kernel memory (inodes), not tmpfs blocks: the parent kills the
    sandbox past ``max_files``, well before the time limit."""
    t = time.monotonic()
    r = probe("""
        for i in range(300000):
            open("f%d" % i, "w").close()
        print("created: all")
    """, max_files=2000, timeout_s=20, audit_hook=hook)
    assert r.status == "failed" and "more than 2000 files" in r.stderr, (r.status, r.stderr)
    assert "created: all" not in r.stdout
    assert time.monotonic() - t < 10
    ok = probe("for i in range(500): open('f%d' % i, 'w').close()", max_files=2000)
    assert ok.status == "passed", ok.stderr
