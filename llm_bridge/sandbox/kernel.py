"""The kernel boundary of the sandbox: bubblewrap namespaces and a seccomp filter.

:func:`bwrap_argv` builds the command line that runs the child program
(:mod:`llm_bridge.sandbox.child`) under `bubblewrap <https://github.com/containers/bubblewrap>`_
(``bwrap``, Debian package ``bubblewrap``), and :func:`seccomp_filter` compiles, with
libseccomp (through :mod:`pyseccomp`), the system-call filter that bubblewrap installs before
it starts the child. Namespaces, mounts and the filter are the work of those two audited
tools; this module only chooses their settings:

* **Namespaces**: new user, mount, PID, network, IPC, UTS and (where the kernel has it) cgroup
  namespaces; inside them the child runs as uid/gid 65534 with no capabilities,
  ``no_new_privs`` set, in a new session (no terminal to inject keys into), and dies with its
  parent (``--die-with-parent``). Outside the namespace that uid is the uid bubblewrap runs
  as (:func:`host_uid`): when the grader is root, bubblewrap is started as uid 65534 wherever
  a trial sandbox works that way (the Python installation readable by that uid, e.g.
  ``/usr/bin/python3``), so the child is unprivileged on the host too; where it does not (a
  Python under ``/root``, as on this project's machines) bubblewrap runs as the caller and
  the child is **root** outside the namespace, without capabilities, so it must be kept from
  everything a capability-less root may still do to root-owned things (below). It is not
  pid 1: bubblewrap's own init is, so killing the ``bwrap`` process ends the PID namespace
  and every process in it.
* **Files**: the root is an empty tmpfs made read-only after set-up; on it, read-only binds of
  ``/usr`` (and ``/lib``, ``/lib64``, ``/bin``, ``/sbin``: the real directories, or their
  symbolic links on a merged-``/usr`` system), of the Python installation (``sys.base_prefix``,
  with its own site-packages covered by an empty read-only tmpfs; plus ``sys.prefix`` and the
  site-packages with ``packages=True``); read-only copies of the child program at
  ``/sandbox/child.py`` and of the untrusted source at ``/box/main.py`` (passed as file
  descriptors: ``--ro-bind-data``); ``/dev/null``, ``/dev/zero``, ``/dev/random`` and
  ``/dev/urandom`` only (no ``/dev/shm``, no terminal); a fresh ``/proc`` of the PID namespace,
  **read-only** (no ``/proc/sys`` write such as ``kernel.core_pattern``, which would run a
  command as the host's root), in which only the sandbox's processes appear. The one writable
  place is ``/box``, the working directory: a tmpfs of ``disk_mb`` MB, gone when the namespace
  ends. ``/etc``, ``/home``, ``/tmp``, ``/run`` and the project are not there at all (``/root``
  only as the path to a Python installed under it). Other folders under ``/usr`` stay readable
  (e.g. Debian's ``/usr/lib/python3/dist-packages``): "the standard library only" means that
  the running installation's packages are hidden, not that nothing else exists.
* **System calls** refused with ``EPERM`` (:data:`REFUSED_SYSCALLS`): every new process *and
  thread* (``fork``, ``vfork``, ``clone``; ``clone3`` answers ``ENOSYS`` so that the C library
  falls back to ``clone``): ``RLIMIT_NPROC`` does not bind a root caller, and a thread flood
  would exhaust the host's pids; sockets of every family (``socket``, ``socketpair``);
  ``memfd_create``/``memfd_secret``, SysV shared memory, message queues and semaphores and
  POSIX message queues (memory outside ``RLIMIT_AS``); ``mknod``/``mknodat`` (FIFOs and
  devices); ``chmod``/``chown`` and the extended-attribute calls of every form (the bound
  devices are the host's root-owned inodes); ``inotify``/``fanotify`` (watching the host use
  its files); ``io_uring_*`` (it would bypass this filter); ``ptrace`` and ``process_vm_*``;
  ``pidfd_*`` (signals and file descriptors of other processes); ``fcntl`` with
  ``F_SETOWN``/``F_SETOWN_EX``/``F_SETSIG`` (signals on I/O), ``F_SETLEASE`` (a lease on a
  root-owned host file blocks the host's readers), ``F_NOTIFY`` and ``F_SETPIPE_SZ``;
  explicit timestamps (``utimensat``/``utimes``/``futimesat`` with a times argument); Linux AIO
  (``io_setup``...: a system-wide quota); ``mincore``/``cachestat`` (the host's page cache);
  ``sync``/``syncfs``; queued signals (``rt_sigqueueinfo``, ``rt_tgsigqueueinfo``, and
  real-time signal numbers to ``kill``/``tkill``/``tgkill``, which bypass
  ``RLIMIT_SIGPENDING``); ``setpriority``,
  ``sched_setaffinity``/``sched_setscheduler``/``sched_setattr``, ``ioprio_set``;
  ``mount``/``umount2``/``pivot_root``/``chroot``/``unshare``/``setns`` and the new mount API;
  ``bpf``, ``perf_event_open``, ``userfaultfd``, ``keyctl``/``add_key``/``request_key``,
  ``kexec_*``, ``init_module``/``finit_module``/``delete_module``, ``personality``,
  ``modify_ldt``, ``acct``, ``swapon``/``swapoff``, ``reboot``, ``settimeofday``/
  ``clock_settime``/``clock_adjtime``/``adjtimex``, ``quotactl``, ``lookup_dcookie``,
  ``name_to_handle_at``/``open_by_handle_at``, ``syslog``, ``vhangup``, ``iopl``/``ioperm``.
  System calls of another architecture (x32, i386 on x86-64) kill the process (libseccomp's
  default for a foreign architecture). ``execve`` stays (bubblewrap starts the child with it,
  after the filter is in place): a program the child executes inherits all of the above.

Known and left (measured by an attack on this design, 2-core machine, grader as root):

* a root caller's child can still *read* root-only ``/proc`` files of the host kernel
  (``/proc/kpageflags``, ``/proc/slabinfo``: information, not control);
* **a file-count flood** costs inodes, not tmpfs blocks, and bubblewrap 0.8 cannot bound a
  tmpfs's inode count (300,000 empty files took 3 s and about 380 MB of kernel slab): the
  parent counts the working directory's inodes every 50 ms through the sandbox's init
  (``/proc/<pid>/root/box``) and kills the sandbox past ``max_files`` (10,000 by default; a
  few thousand files of overshoot at most). A memory cgroup would bound kernel memory
  exactly; none is used (most machines give no cgroup delegation);
* pipe buffers (at most 255 descriptors, default 64 KB each: about 8 MB) are outside
  ``RLIMIT_AS``; ``RLIMIT_SIGPENDING`` = 64 bounds POSIX timers (the queued-signal quota is
  the host root's);
* an exit status above 128 reads as a signal (bubblewrap reports both alike).

What stays of the old design runs inside this boundary as defence in depth: the child's
resource limits (``RLIMIT_AS``, ``RLIMIT_CPU``, ``RLIMIT_FSIZE``, ...) and its audit hook.
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile

__all__ = ["BOX", "BWRAP_ENV", "CHILD_IN_BOX", "bwrap_path", "host_uid", "REFUSED_SYSCALLS", "SANDBOX_UID", "bwrap_argv",
           "kernel_sandbox_status", "seccomp_filter"]

#: The writable working directory inside the sandbox.
BOX = "/box"
#: Where the child program is mounted inside the sandbox (read-only).
CHILD_IN_BOX = "/sandbox/child.py"
#: uid and gid of the child inside its user namespace (``nobody``).
SANDBOX_UID = 65534
#: Environment variable naming the ``bwrap`` program to use (default: ``bwrap`` on ``PATH``).
BWRAP_ENV = "LLM_BRIDGE_BWRAP"

#: ``fcntl`` commands refused: signals on I/O to a chosen process (F_SETOWN, F_SETSIG,
#: F_SETOWN_EX), leases on files the caller "owns" (F_SETLEASE: the host's root-owned files,
#: whose readers would block), directory notifications (F_NOTIFY: a side channel), and larger
#: pipe buffers (F_SETPIPE_SZ: memory shared with the host's root processes).
_FCNTL_REFUSED = (8, 10, 15, 1024, 1026, 1031)

#: System calls answered with EPERM (besides the ``fcntl`` commands of the module docstring;
#: ``clone3`` answers ENOSYS).
REFUSED_SYSCALLS = (
    "fork", "vfork", "clone", "socket", "socketpair", "memfd_create", "memfd_secret", "mknod", "mknodat",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "ptrace", "process_vm_readv",
    "process_vm_writev", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "setpriority",
    "sched_setaffinity", "sched_setscheduler", "sched_setattr", "ioprio_set", "mount",
    "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "bpf", "perf_event_open",
    "userfaultfd", "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "personality", "acct", "swapon",
    "swapoff", "reboot", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "quotactl", "lookup_dcookie", "name_to_handle_at", "open_by_handle_at", "syslog",
    "vhangup", "iopl", "ioperm", "modify_ldt",
    # SysV and POSIX IPC: memory outside RLIMIT_AS (the IPC namespace has no size limits)
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "semget",
    "semop", "semtimedop", "semctl", "mq_open", "mq_unlink", "mq_timedsend",
    "mq_timedreceive", "mq_notify", "mq_getsetattr",
    # watching the host's files being used
    "inotify_init", "inotify_init1", "inotify_add_watch", "fanotify_init", "fanotify_mark",
    # the child's uid is the caller's outside the namespace (root, when the grader is root):
    # no mode, owner or extended-attribute change of any file, the bound devices included
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    # Linux AIO (a system-wide quota, aio-nr), the page cache of the host's files (a side
    # channel), host-wide writeback
    "io_setup", "io_submit", "io_getevents", "io_pgetevents", "io_cancel", "io_destroy",
    "mincore", "cachestat", "sync", "syncfs", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
)


def seccomp_filter():
    """A new file object (at offset 0) holding the compiled seccomp BPF program of the
    sandbox (compiled once per process, :func:`_compiled_filter`).

    Raises
    ------
    ImportError
        Without :mod:`pyseccomp` (``pip install pyseccomp``).
    OSError
        Without libseccomp (``libseccomp.so.2``) or when it cannot compile the filter.
    """
    out = tempfile.TemporaryFile()
    out.write(_compiled_filter())
    out.seek(0)
    return out


@functools.lru_cache(maxsize=1)
def _compiled_filter() -> bytes:
    """The seccomp BPF program of :func:`seccomp_filter` (a failure is not cached)."""
    import pyseccomp as seccomp  # loads libseccomp: only where the kernel sandbox is used

    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    eperm = seccomp.ERRNO(errno.EPERM)
    for name in REFUSED_SYSCALLS:
        try:
            f.add_rule(eperm, name)
        except (ValueError, RuntimeError, OSError):  # unknown on this kernel or architecture
            pass
    # clone is refused whole (threads too: a thread flood would exhaust the host's pids, as
    # RLIMIT_NPROC does not bind the caller's root); clone3 says ENOSYS so that the C library
    # falls back to clone
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    for cmd in _FCNTL_REFUSED:
        f.add_rule(eperm, "fcntl", seccomp.Arg(1, seccomp.EQ, cmd))
    # queued signals: kill() and its kin bypass RLIMIT_SIGPENDING (the kernel's override for
    # SI_USER), so real-time signals, which queue one instance per send, are refused to them;
    # standard signals keep one pending instance each
    for name, arg in (("kill", 1), ("tkill", 1), ("tgkill", 2)):
        f.add_rule(eperm, name, seccomp.Arg(arg, seccomp.GE, 32))
    # explicit timestamps need the file's owner (the host's root for every bound file); the
    # current time (a NULL times argument) needs write access only, as for any host user
    for name, arg in (("utimensat", 2), ("futimesat", 2), ("utime", 1), ("utimes", 1)):
        try:
            f.add_rule(eperm, name, seccomp.Arg(arg, seccomp.NE, 0))
        except (ValueError, RuntimeError, OSError):
            pass
    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()


def _system_binds() -> list[str]:
    """bwrap arguments that rebuild ``/usr`` and the top-level library and program folders:
    a read-only bind of each real folder, or the same symbolic link (merged ``/usr``)."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def _python_binds(packages: bool) -> tuple[list[str], str, list[str]]:
    """(bwrap arguments, interpreter, its flags) for the child's Python.

    Without ``packages``: the base interpreter with ``-S`` (standard library only: nothing of
    the environment's site-packages, so no cffi, no numpy). With ``packages``: the running
    interpreter and its environment (``sys.prefix``), read-only.
    """
    base = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    dirs = {os.path.realpath(sys.base_prefix), os.path.dirname(base)}
    exe, flags = base, ["-I", "-B", "-S"]
    if packages:
        exe, flags = sys.executable, ["-I", "-B"]
        # the environment and its site-packages only: an editable install's project folder
        # (on sys.path through a .pth file) stays out
        dirs |= {os.path.realpath(sys.prefix), os.path.dirname(os.path.abspath(sys.executable))}
        dirs |= {os.path.realpath(p) for p in site.getsitepackages() if os.path.isdir(p)}
    covered = ("/usr", "/lib", "/lib64", "/bin", "/sbin")
    args = []
    for d in sorted(dirs):
        if d == "/" or any(d == c or d.startswith(c + "/") for c in covered):
            continue
        if any(d.startswith(o + "/") for o in dirs if o != d):
            continue  # inside another bound folder
        args += ["--ro-bind", d, d]
    return args, exe, flags


def _site_folders() -> list[str]:
    """The base installation's site-packages folders (hidden from a child without
    ``packages``: ``-S`` only keeps them off ``sys.path``)."""
    base = os.path.realpath(sys.base_prefix)
    folders = set()
    for key in ("purelib", "platlib"):
        path = sysconfig.get_path(key, vars={"base": base, "platbase": base})
        if path and os.path.isdir(path):
            folders.add(os.path.realpath(path))
    return sorted(folders)


def bwrap_argv(bwrap: str, child_fd: int, code_fd: int, cfg_json: str, *, disk_mb: int,
               seccomp_fd: int, env: dict[str, str], packages: bool = False) -> list[str]:
    """The ``bwrap`` command line that runs the child program on the untrusted source.

    Parameters
    ----------
    bwrap : str
        Path of the ``bwrap`` program.
    child_fd, code_fd : int
        Readable file descriptors (inherited by ``bwrap``) of the child program and of the
        untrusted source: bubblewrap copies them into the sandbox, read-only (so that neither
        host path needs to be readable by the uid bubblewrap runs as).
    cfg_json : str
        The child's configuration (:mod:`llm_bridge.sandbox.child`), with paths inside the
        sandbox (:data:`BOX`).
    disk_mb : int
        Size of the writable tmpfs :data:`BOX`.
    seccomp_fd : int
        A file descriptor of :func:`seccomp_filter`'s program, inherited by ``bwrap``.
    env : dict
        The child's whole environment.
    packages : bool
        Give the child the running environment's packages (see :func:`_python_binds`).
    """
    py_binds, exe, flags = _python_binds(packages)
    argv = [bwrap, "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--uid", str(SANDBOX_UID),
            "--gid", str(SANDBOX_UID), "--hostname", "sandbox", "--die-with-parent",
            "--new-session", "--cap-drop", "ALL"]
    argv += _system_binds() + py_binds
    for dev in ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"):
        argv += ["--dev-bind", dev, dev]
    argv += ["--proc", "/proc", "--remount-ro", "/proc"]
    if not packages:  # the installation's own site-packages: an empty read-only folder
        for folder in _site_folders():
            argv += ["--tmpfs", folder, "--remount-ro", folder]
    argv += ["--size", str(int(disk_mb) * 1024 * 1024), "--tmpfs", BOX, "--dir", BOX + "/tmp",
             "--ro-bind-data", str(code_fd), BOX + "/main.py",
             "--ro-bind-data", str(child_fd), CHILD_IN_BOX,
             "--remount-ro", "/", "--chdir", BOX, "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv += ["--seccomp", str(seccomp_fd), "--", exe, *flags, CHILD_IN_BOX, cfg_json]
    return argv


def bwrap_path() -> str | None:
    """The ``bwrap`` program: :data:`BWRAP_ENV` if set (None unless it is an executable
    file), else ``bwrap`` on ``PATH``."""
    if BWRAP_ENV in os.environ:
        path = os.environ[BWRAP_ENV]
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which("bwrap")


def _trial(bwrap: str, user: int | None) -> tuple[bool, str]:
    """Run a trial sandbox (as host uid ``user``, or as the caller) whose child program
    prints that it can read itself: (worked, the last line of its stderr)."""
    with seccomp_filter() as filt, tempfile.TemporaryFile() as program:
        program.write(b"import sys\nprint('ok', open(sys.argv[0]).read() != '')\n")
        program.flush()
        with open(f"/proc/self/fd/{program.fileno()}", "rb") as again:  # its own offset
            program.seek(0)
            argv = bwrap_argv(bwrap, program.fileno(), again.fileno(), "", disk_mb=1,
                              seccomp_fd=filt.fileno(), env={"PATH": "/usr/bin:/bin"})
            extra = {} if user is None else {"user": user, "group": user, "extra_groups": []}
            try:
                proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                      cwd="/", env={}, timeout=30, **extra,
                                      pass_fds=(filt.fileno(), program.fileno(), again.fileno()))
            except (OSError, subprocess.SubprocessError) as exc:
                return False, f"bwrap could not be started: {exc}"
    if proc.returncode != 0 or b"ok True" not in proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return False, err[-1] if err else f"exit status {proc.returncode}"
    return True, ""


@functools.lru_cache(maxsize=1)
def host_uid() -> int | None:
    """The host uid bubblewrap runs as: :data:`SANDBOX_UID` when the caller is root and a
    sandbox started as that uid works (the Python installation and the system folders are
    readable by it), so that the child is unprivileged outside its namespace too; else None
    (bubblewrap runs as the caller, and a root caller's child is root outside the namespace,
    without capabilities: the module docstring says what keeps it contained)."""
    if os.geteuid() != 0 or not kernel_sandbox_status()[0]:
        return None
    ok, _ = _trial(bwrap_path(), SANDBOX_UID)
    return SANDBOX_UID if ok else None


@functools.lru_cache(maxsize=1)
def kernel_sandbox_status() -> tuple[bool, str]:
    """``(available, reason)``: whether the kernel sandbox works here (probed once per
    process: ``bwrap`` is found, :mod:`pyseccomp` compiles the filter, and a trial sandbox
    runs ``True`` in the child's Python). ``reason`` says what is missing."""
    if not sys.platform.startswith("linux"):
        return False, f"the kernel sandbox needs Linux (this is {sys.platform})"
    bwrap = bwrap_path()
    if bwrap is None:
        return False, ("bubblewrap ('bwrap') is not installed (Debian/Ubuntu: apt-get install "
                       "bubblewrap; Fedora: dnf install bubblewrap)" if BWRAP_ENV not in os.environ
                       else f"{BWRAP_ENV}={os.environ[BWRAP_ENV]!r} is not an executable file")
    try:
        seccomp_filter().close()
    except ImportError:
        return False, "pyseccomp is not installed (pip install pyseccomp)"
    except (OSError, RuntimeError, ValueError) as exc:
        return False, f"libseccomp could not compile the filter: {exc}"
    ok, err = _trial(bwrap, None)
    if not ok:
        return False, f"bwrap does not work here (unprivileged user namespaces disabled?): {err}"
    return True, f"bubblewrap ({bwrap}) with a libseccomp filter"
