"""Run untrusted (model-written) Python in a separate, isolated, limited process.

:func:`run_python` writes the code into a fresh temporary directory and runs it in a new
process that sees only a minimal environment (``PATH``, ``LANG``, ``TMPDIR`` and
``OMP``/``OPENBLAS``/``MKL_NUM_THREADS=1``: API keys and every other variable of the parent
are never passed on), with standard input ``/dev/null``; the directory is deleted afterwards.

The boundary: the kernel sandbox (the default)
----------------------------------------------
With ``isolation="kernel"`` (:mod:`llm_bridge.sandbox.kernel`) the child runs under
**bubblewrap** in its own user, mount, PID, network, IPC and UTS namespaces, as uid 65534 with
no capabilities, in a new session, dying with its parent, behind a **seccomp** filter compiled
by libseccomp. It sees a read-only ``/usr`` and Python installation (its site-packages
hidden unless ``packages=True``), four harmless devices, its own read-only ``/proc`` and one
writable directory, ``/box``, a tmpfs of ``disk_mb`` MB; no project, no home, no ``/tmp``, no
``/etc``, no sockets, no other processes; past ``max_files`` files in ``/box`` (inodes cost
kernel memory that ``disk_mb`` does not bound) the parent kills it. New processes *and threads*, sockets, ``memfd`` and
SysV/POSIX IPC, device nodes and FIFOs, ``chmod``/``chown``/xattrs, ``inotify``, ``ptrace``,
signals and priorities of other processes (``pidfd_*``, ``fcntl(F_SETOWN/F_SETSIG)``,
``setpriority``, ``sched_setaffinity``), mounts and namespaces, ``io_uring`` and ``bpf`` are
refused by the kernel, whatever the code does (C extensions and cffi included). Outside its
namespace the child's uid is the grader's (root, when the grader is root): that is why
``/proc`` is read-only and no file's mode or owner can change. A timeout kills ``bwrap``,
which ends the PID namespace and so everything in it: nothing outlives a call. This is the
security boundary; :mod:`llm_bridge.sandbox.kernel` lists what is known and left.

Where bubblewrap or libseccomp is missing (or unprivileged user namespaces are disabled),
:func:`run_python` **refuses** (:class:`~llm_bridge.errors.SandboxError`, with the reason) unless
the weak mode is accepted explicitly: ``isolation="weak"``, ``LLM_BRIDGE_SANDBOX=weak``, or
``--weak-sandbox`` on the command line. :func:`kernel_sandbox_status` says whether it works here.

Inside it, defence in depth (both modes)
----------------------------------------
The child program (:mod:`llm_bridge.sandbox.child`, standard library only, run by file path)
sets its limits and installs an audit hook before the untrusted code runs:

* **Time.** A wall-clock limit in the parent (``timeout_s`` plus one second for interpreter
  start-up) kills the child's whole process group with SIGKILL; ``RLIMIT_CPU`` (soft
  ``ceil(timeout_s)``, hard one second more) stops busy loops from inside. The call never
  hangs: output pipes are drained by threads with bounded buffers.
* **Memory and files.** ``RLIMIT_AS`` = ``memory_mb``, ``RLIMIT_FSIZE`` = ``max_file_mb``,
  ``RLIMIT_CORE`` = 0, ``RLIMIT_NPROC`` = 0 (not enforced for root: in the kernel sandbox the
  seccomp filter refuses new processes and threads instead), ``RLIMIT_NOFILE`` = 256. Set by the child itself as soft = hard, not
  in a ``preexec_fn`` (unsafe when the parent has threads).
* **The audit hook** (:pep:`578`) ends the process (status ``"blocked"``, exit code
  :data:`BLOCKED_EXIT_CODE`, a line starting with :data:`BLOCKED_MARKER` on stderr) at the
  first socket event; file write, removal, rename, ``chmod``, link or ``chdir`` outside the
  working directory (paths resolved through symbolic links like the kernel); new process
  (``subprocess``, ``os.system``/``exec*``/``spawn*``/``posix_spawn``/``fork``, ``pty.spawn``,
  ``_posixsubprocess.fork_exec``); ``ctypes`` use beyond importing it; signal to another
  process; ``setrlimit``; read of another process's ``/proc`` entry; importing ``readline``
  (its history files are written without audit events); replacing a function's ``__code__``
  or the hook's own defaults.

The audit hook is **not** a security boundary: Python's documentation says so, and code designed
to escape gets past it (over-long symbolic link chains, ``os.mknod``, ``sqlite3`` files, a
second copy of ``_posixsubprocess``, cffi, ``pidfd_send_signal``, ``memfd``...: the probes of
``tests/llm_bridge/test_sandbox_probes.py``, all contained by the kernel sandbox). In the weak
mode the only kernel-level barrier is the network namespace of ``unshare -rn`` where it works
(:attr:`SandboxResult.network_isolated`); writes outside the directory and new processes are
stopped by the hook alone. The weak mode warns once per process.

A model can also fake the *evidence* of a pass from inside any sandbox (print a token, patch
``traceback``, return an always-equal object): graders must judge outside the child, as
:mod:`llm_bridge.tasks.humaneval` does.

Statuses: ``"passed"`` (exit 0), ``"failed"`` (any other exit: exception, failed assertion,
``sys.exit(1)``, file-size limit, an operation the kernel refused), ``"timeout"`` (wall
clock, CPU limit), ``"memory"`` (uncaught ``MemoryError``, e.g. an allocation over
``memory_mb``), ``"blocked"`` (the audit hook), ``"error"`` (the sandbox itself failed: it
could not start the process or set it up; read only when the child's start-of-code marker
did not come first on stderr, so the graded code cannot fake it). An out-of-memory kill by the
kernel (SIGKILL) reads as ``"timeout"``; so does an exit status above 128 in the kernel sandbox
(bubblewrap reports it like a signal).

The package has one module per side: :mod:`llm_bridge.sandbox.child` (the child program),
:mod:`llm_bridge.sandbox.kernel` (the bubblewrap command line and the seccomp filter) and
:mod:`llm_bridge.sandbox.runner` (the parent side, :func:`run_python`). The public names are
re-exported here: ``from llm_bridge.sandbox import run_python``.
"""

from .runner import (BLOCKED_EXIT_CODE, BLOCKED_MARKER, CHILD_PATH, INTERNAL_EXIT_CODE, ISOLATION_ENV,
                     ISOLATIONS, MEMORY_EXIT_CODE, SandboxResult, kernel_sandbox_status,
                     network_namespace_available, resolve_isolation, run_python)

__all__ = [
    "BLOCKED_EXIT_CODE", "BLOCKED_MARKER", "CHILD_PATH", "INTERNAL_EXIT_CODE", "ISOLATIONS",
    "ISOLATION_ENV", "MEMORY_EXIT_CODE", "SandboxResult", "kernel_sandbox_status",
    "network_namespace_available", "resolve_isolation", "run_python",
]
