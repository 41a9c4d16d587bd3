"""The sandbox for model-written code: limits, blocked actions, output and environment.

Every test runs in both isolations (``mode``): the kernel sandbox (bubblewrap + seccomp, the
default; these tests need it, as CI has it) and the weak, audit-hook-only one. The escapes
that only the kernel boundary stops are in ``test_sandbox_probes.py``.
"""

from __future__ import annotations

import os
import pwd
import socket
import textwrap
import time
import uuid
import warnings

import pytest

from llm_bridge.errors import ConfigError
from llm_bridge.sandbox import (BLOCKED_MARKER, kernel_sandbox_status, network_namespace_available,
                                run_python)

MODES = ("kernel", "weak")


@pytest.fixture(params=MODES, autouse=True)
def mode(request, monkeypatch):
    """The isolation of every ``run`` of a test (through the environment variable)."""
    if request.param == "kernel" and not kernel_sandbox_status()[0]:
        pytest.fail("the kernel sandbox does not work here: " + kernel_sandbox_status()[1])
    monkeypatch.setenv("LLM_BRIDGE_SANDBOX", request.param)
    return request.param


def run(code: str, **kw):
    kw.setdefault("timeout_s", 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the weak mode's warning
        return run_python(textwrap.dedent(code), **kw)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


# ------------------------------------------------------------------ plain outcomes
def test_passed_and_output():
    r = run("print('hello'); import sys; print('err', file=sys.stderr)")
    assert r.status == "passed" and r.passed
    assert r.returncode == 0
    assert r.stdout == "hello\n" and r.stderr == "err\n"
    assert r.seconds > 0


def test_failed_assertion_and_exit_codes():
    r = run("assert 1 + 1 == 3, 'wrong answer'")
    assert r.status == "failed" and r.returncode == 1
    assert "AssertionError: wrong answer" in r.stderr
    assert "main.py" in r.stderr  # the traceback shows the user's file, not the preamble
    assert run("raise SystemExit(3)").status == "failed"
    assert run("import sys; sys.exit(0)").status == "passed"
    assert run("def f(:\n  pass").status == "failed"  # syntax error


def test_exit_code_86_without_marker_is_failed():
    r = run("import os; os._exit(86)")
    assert r.status == "failed"


def test_write_inside_the_directory_and_tempfile_work():
    r = run("""
        import os, tempfile, shutil
        with open('out.txt', 'w') as fh:
            fh.write('data')
        os.makedirs('a/b')
        os.rename('out.txt', 'a/b/moved.txt')
        print(open('a/b/moved.txt').read())
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, 'f'), 'w').write('x')
        shutil.rmtree('a')
        print(sorted(os.listdir('.')))
    """)
    assert r.status == "passed", r.stderr
    assert r.stdout.splitlines() == ["data", "['main.py', 'tmp']"]


def test_directory_is_deleted_afterwards(mode, monkeypatch):
    from llm_bridge.sandbox import runner

    made = []
    real = runner.tempfile.mkdtemp
    monkeypatch.setattr(runner.tempfile, "mkdtemp", lambda **kw: made.append(real(**kw)) or made[-1])
    r = run("import os; open('x', 'w').write('1'); print(os.getcwd())")
    assert r.status == "passed"
    cwd = r.stdout.strip()
    assert len(made) == 1 and "llm_bridge_sandbox_" in made[0]
    assert cwd == (os.path.realpath(made[0]) if mode == "weak" else "/box")
    assert not os.path.exists(made[0])


def test_environment_is_minimal(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-test-value")
    monkeypatch.setenv("SOME_OTHER_VAR", "1")
    r = run("import os, json; print(json.dumps(dict(os.environ)))")
    assert r.status == "passed"
    assert "sk-secret-test-value" not in r.stdout
    import json

    env = json.loads(r.stdout)
    assert "OPENAI_API_KEY" not in env and "SOME_OTHER_VAR" not in env
    assert set(env) <= {"PATH", "LANG", "TMPDIR", "LC_CTYPE", "OMP_NUM_THREADS",
                        "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PWD"}


def test_numpy_imports_with_the_packages(mode):
    pytest.importorskip("numpy")
    r = run("import numpy as np; print(int(np.arange(5).sum()))", packages=True)
    assert r.status == "passed", r.stderr
    assert r.stdout == "10\n"
    if mode == "kernel":  # the default is the standard library only
        r = run("import numpy")
        assert r.status == "failed" and "No module named 'numpy'" in r.stderr


# ------------------------------------------------------------------ limits
def test_busy_loop_times_out():
    t = time.monotonic()
    r = run("while True: pass", timeout_s=1)
    assert r.status == "timeout"
    assert time.monotonic() - t < 6


def test_sleep_times_out_on_the_wall_clock():
    t = time.monotonic()
    r = run("import time; print('start', flush=True); time.sleep(60)", timeout_s=1)
    assert r.status == "timeout"
    assert r.stdout == "start\n"
    assert time.monotonic() - t < 6


@pytest.mark.parametrize("code", ["x = bytearray(10**10)", "x = [0] * 10**10",
                                  "x = 'a' * (3 * 10**9)"])
def test_memory_blow_up(code):
    r = run(code, memory_mb=256)
    assert r.status == "memory", r.stderr


def test_file_size_limit():
    r = run("open('big', 'wb').write(b'x' * (3 * 2**20))", max_file_mb=1)
    assert r.status == "failed"
    assert "File too large" in r.stderr


def test_output_is_truncated():
    r = run("print('a' * 100000); print('THE END')", max_output_bytes=1000)
    assert r.status == "passed"
    assert len(r.stdout) < 1200
    assert r.stdout.startswith("aaaa") and r.stdout.rstrip().endswith("THE END")
    assert "truncated" in r.stdout


def test_output_flood_does_not_hang():
    r = run("import sys\nwhile True: sys.stdout.write('x' * 65536)", timeout_s=1,
            max_output_bytes=4096)
    assert r.status == "timeout"
    assert len(r.stdout) < 5000


# ------------------------------------------------------------------ blocked actions
def assert_blocked(r):
    assert r.status == "blocked", (r.status, r.stderr)
    assert BLOCKED_MARKER in r.stderr


def assert_contained(r, mode):
    """Blocked by the audit hook, or (kernel sandbox) refused by the kernel: the path is not
    there or not writable, the call not permitted. The callers check the host's state."""
    if mode == "weak" or r.status == "blocked":
        assert_blocked(r)
    else:
        assert r.status == "failed", (r.status, r.stderr)
        assert any(e in r.stderr for e in ("FileNotFoundError", "PermissionError",
                                           "Read-only file system", "Operation not permitted")), r.stderr


def test_write_outside_is_blocked(tmp_path):
    target = f"/tmp/{unique('llm_bridge_evil')}.txt"
    assert_blocked(run(f"open({target!r}, 'w').write('x')"))
    assert not os.path.exists(target)
    # catching the exception does not help: the process ends at the first attempt
    r = run(f"""
        try:
            open({target!r}, 'a')
        except BaseException:
            pass
        print('survived')
    """)
    assert_blocked(r)
    assert "survived" not in r.stdout
    assert not os.path.exists(target)
    other = tmp_path / "x.txt"
    assert_blocked(run(f"import os; os.close(os.open({str(other)!r}, os.O_CREAT | os.O_WRONLY))"))
    assert not other.exists()


def test_write_to_home_is_blocked(mode):
    name = unique("llm_bridge_home")
    assert_contained(run(f"import os; open(os.path.expanduser('~/{name}'), 'w').write('x')"), mode)
    for home in {os.path.expanduser("~"), pwd.getpwuid(os.getuid()).pw_dir}:
        assert not os.path.exists(os.path.join(home, name))


@pytest.mark.parametrize("code", [
    "import os; os.remove('/etc/hostname')",
    "import os; os.mkdir('/tmp/{name}')",
    "import os; os.rename('main.py', '/tmp/{name}')",
    "import os; os.chmod('/tmp', 0o777)",
    "import shutil; shutil.rmtree('/tmp/{name}')",
    "import os; os.symlink('/tmp', 'link')",
    "import os; os.symlink('../..', 'link')",
    "import os; os.chdir('/tmp'); open('{name}', 'w')",
    "import os; fd = os.open('/tmp', os.O_RDONLY); os.open('{name}', os.O_CREAT | os.O_WRONLY, dir_fd=fd)",
    "open('../{name}', 'w')",
    "import os; os.link('/etc/hostname', 'hard')",
])
def test_filesystem_escapes_are_blocked(code, mode):
    name = unique("llm_bridge_fs")
    assert_contained(run(code.format(name=name)), mode)
    assert not os.path.exists(f"/tmp/{name}")


@pytest.mark.parametrize("code", [
    "import os; os.system('echo hi')",
    "import subprocess; subprocess.run(['ls'])",
    "import os; os.fork()",
    "import os; os.execv('/bin/ls', ['ls'])",
    "import os; os.posix_spawn('/bin/ls', ['ls'], {})",
    "import multiprocessing as mp; mp.Process(target=print).start()",
    "import _posixsubprocess; _posixsubprocess.fork_exec()",
    "import pty; pty.spawn('ls')",
])
def test_new_processes_are_blocked(code):
    r = run(code)
    assert_blocked(r)
    assert "hi" not in r.stdout


@pytest.mark.parametrize("code", [
    "import ctypes; ctypes.CDLL('libc.so.6')",
    "import ctypes; ctypes.CDLL(None).system",
    "import os; os.kill(os.getppid(), 0)",
    "import resource; resource.setrlimit(resource.RLIMIT_AS, (-1, -1))",
    "import os; print(open(f'/proc/{os.getppid()}/environ').read())",
    "import sys\ndef f(): pass\nf.__code__ = (lambda: None).__code__",
])
def test_other_dangerous_actions_are_blocked(code, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-test-value")
    r = run(code)
    assert_blocked(r)
    assert "sk-secret-test-value" not in r.stdout + r.stderr


@pytest.mark.parametrize("namespace", [None, False])
def test_socket_connection_is_blocked(namespace, mode):
    if mode == "kernel" and namespace is False:
        with pytest.raises(ConfigError, match="network_namespace"):
            run("print(1)", network_namespace=False)
        return
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(5)
        port = server.getsockname()[1]
        r = run(f"""
            import socket
            s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
            s.sendall(b"leak")
            print("connected")
        """, network_namespace=namespace)
        assert_blocked(r)
        assert "connected" not in r.stdout
        server.settimeout(0.3)
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()


def test_raw_socket_module_is_blocked():
    assert_blocked(run("import _socket; _socket.socket()"))
    assert_blocked(run("import socket; socket.getaddrinfo('localhost', 80)"))


def test_network_namespace_has_no_interfaces_up(mode):
    if mode == "weak" and not network_namespace_available():
        pytest.skip("unshare -rn does not work here")
    r = run("print(open('/proc/net/dev').read())", network_namespace=True)
    assert r.status == "passed", r.stderr
    assert r.network_isolated
    interfaces = [line.split(":")[0].strip() for line in r.stdout.splitlines()[2:] if ":" in line]
    assert interfaces == ["lo"]


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize("kw, field", [
    ({"timeout_s": 0}, "timeout_s"), ({"timeout_s": float("inf")}, "timeout_s"),
    ({"memory_mb": 10}, "memory_mb"), ({"memory_mb": 1.5}, "memory_mb"),
    ({"max_output_bytes": -1}, "max_output_bytes"), ({"max_file_mb": 0}, "max_file_mb"),
    ({"disk_mb": 0}, "disk_mb"), ({"isolation": "none"}, "isolation"),
])
def test_bad_arguments(kw, field):
    with pytest.raises(ConfigError, match=field):
        run_python("print(1)", **kw)
    with pytest.raises(ConfigError, match="code"):
        run_python(b"print(1)")


# ------------------------------------------------------------------ the child program
def test_child_is_a_standard_library_module_that_imports_without_running():
    import ast
    import importlib
    import sys

    from llm_bridge.sandbox import CHILD_PATH

    child = importlib.import_module("llm_bridge.sandbox.child")  # runs nothing
    assert os.path.samefile(child.__file__, CHILD_PATH)
    assert callable(child._sandbox_main)
    with open(CHILD_PATH, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), CHILD_PATH)
    compile(tree, CHILD_PATH, "exec")
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the child may not import from its package"
            imported.add(node.module.split(".")[0])
    assert imported and imported <= set(sys.stdlib_module_names), imported


def test_child_runs_by_path_in_isolated_mode(mode):
    from llm_bridge.sandbox import CHILD_PATH
    from llm_bridge.sandbox.kernel import CHILD_IN_BOX

    r = run("""
        import json, os, sys
        child_dir = os.path.dirname(sys.orig_argv[-2])
        print(json.dumps({
            "isolated": sys.flags.isolated, "no_bytecode": sys.flags.dont_write_bytecode,
            "argv": sys.orig_argv,
            "package": any(m.startswith("llm_bridge") for m in sys.modules),
            "child_dir_on_path": any(p and os.path.isdir(p) and os.path.samefile(p, child_dir)
                                     for p in sys.path)}))
    """)
    assert r.status == "passed", r.stderr
    import json

    seen = json.loads(r.stdout)
    assert seen["isolated"] == 1 and seen["no_bytecode"] == 1
    if mode == "weak":
        assert seen["argv"][1:4] == ["-I", "-B", CHILD_PATH]
    else:  # the base interpreter without site-packages, the child mounted read-only
        assert seen["argv"][1:5] == ["-I", "-B", "-S", CHILD_IN_BOX]
    assert not seen["package"] and not seen["child_dir_on_path"]


def test_child_protocol_directly(tmp_path):
    """The child alone, launched the way the parent launches it: config JSON in argv[1]."""
    import json
    import subprocess
    import sys

    from llm_bridge.sandbox import BLOCKED_EXIT_CODE, CHILD_PATH, MEMORY_EXIT_CODE
    from llm_bridge.sandbox.runner import _INTERNAL_MARKER, _MEMORY_MARKER, INTERNAL_EXIT_CODE

    root = os.path.realpath(tmp_path)

    def child(code: str):
        code_path = os.path.join(root, "main.py")
        with open(code_path, "w", encoding="utf-8") as fh:
            fh.write(code)
        cfg = {"root": root, "code_path": code_path, "cpu_soft": 5, "cpu_hard": 6,
               "as_bytes": 512 * 2**20, "fsize_bytes": 2**20,
               "blocked_code": BLOCKED_EXIT_CODE, "blocked_marker": BLOCKED_MARKER,
               "memory_code": MEMORY_EXIT_CODE, "memory_marker": _MEMORY_MARKER,
               "internal_code": INTERNAL_EXIT_CODE, "internal_marker": _INTERNAL_MARKER}
        return subprocess.run([sys.executable, "-I", "-B", CHILD_PATH, json.dumps(cfg)], cwd=root,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env={"PATH": os.environ.get("PATH", os.defpath)}, timeout=30)

    ok = child("import sys; print(sys.argv[0].endswith('main.py'), __name__)")
    assert ok.returncode == 0 and ok.stdout == "True __main__\n", ok.stderr
    blocked = child("import os; os.system('echo hi')")
    assert blocked.returncode == BLOCKED_EXIT_CODE and BLOCKED_MARKER in blocked.stderr
    assert "hi" not in blocked.stdout
    memory = child("x = bytearray(10**10)")
    assert memory.returncode == MEMORY_EXIT_CODE and _MEMORY_MARKER in memory.stderr
    failed = child("raise ValueError('boom')")
    assert failed.returncode == 1 and "ValueError: boom" in failed.stderr
    assert "child.py" not in failed.stderr  # the traceback starts at the user's file


def test_hook_functions_defaults_are_protected_but_user_functions_are_not():
    r = run("""
        import gc
        hook = next(f for f in gc.get_objects() if type(f).__name__ == "function"
                    and f.__name__ == "hook" and f.__code__.co_filename.endswith("child.py"))
        hook.__defaults__ = hook.__defaults__[:1] + hook.__defaults__[1:]
        print("replaced")
    """)
    assert_blocked(r)
    assert "replaced" not in r.stdout and "__defaults__" in r.stderr
    r = run("""
        def hook(a=1):
            return a
        hook.__defaults__ = (2,)
        print(hook())
    """)
    assert r.status == "passed", r.stderr
    assert r.stdout == "2\n"


def test_result_to_dict():
    import json

    r = run("print('x')")
    d = r.to_dict()
    assert d["status"] == "passed" and d["passed"] is True and d["stdout"] == "x\n"
    assert set(d) == {"status", "returncode", "stdout", "stderr", "seconds", "network_isolated",
                      "isolation", "passed"}
    assert d["isolation"] == os.environ["LLM_BRIDGE_SANDBOX"]
    json.dumps(d, allow_nan=False)
