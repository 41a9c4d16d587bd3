"""Run untrusted (model-written) Python in a separate, limited process.

:func:`run_python` writes the code into a fresh temporary directory, runs it there in a new
``python -I -B`` process (isolated mode: no ``PYTHON*`` variables, no user site, no script
directory on ``sys.path``, no bytecode written) in its own session, and deletes the directory
afterwards. The child sees a minimal environment (``PATH``, ``LANG``, ``TMPDIR`` pointing
inside the temporary directory, and ``OMP``/``OPENBLAS``/``MKL_NUM_THREADS=1``): API keys and
every other variable of the parent are never passed on. Standard input is ``/dev/null``.

The package has one module per side: :mod:`llm_bridge.sandbox.child` is the child program,
standard library only, run by file path (it sets the limits and the audit hook below, then
runs the code); :mod:`llm_bridge.sandbox.runner` is the parent side (:func:`run_python`).
The public names are re-exported here: ``from llm_bridge.sandbox import run_python``.

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

from .runner import (BLOCKED_EXIT_CODE, BLOCKED_MARKER, CHILD_PATH, INTERNAL_EXIT_CODE,
                     MEMORY_EXIT_CODE, SandboxResult, network_namespace_available, run_python)

__all__ = [
    "BLOCKED_EXIT_CODE", "BLOCKED_MARKER", "CHILD_PATH", "INTERNAL_EXIT_CODE",
    "MEMORY_EXIT_CODE", "SandboxResult", "network_namespace_available", "run_python",
]
