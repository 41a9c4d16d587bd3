"""Choosing the sandbox: the kernel one by default, a refusal where it does not work, the weak
mode only when accepted explicitly (argument, environment variable, ``--weak-sandbox``)."""

from __future__ import annotations

import os
import warnings

import pytest

from llm_bridge.errors import ConfigError
from llm_bridge.sandbox import run_python


def test_without_the_kernel_sandbox_grading_refuses_unless_weak_is_accepted(monkeypatch):
    from llm_bridge.errors import SandboxError
    from llm_bridge.sandbox import kernel, runner

    monkeypatch.setattr(kernel, "kernel_sandbox_status", lambda: (False, "bwrap is not installed"))
    monkeypatch.delenv("LLM_BRIDGE_SANDBOX", raising=False)
    for kw in ({}, {"isolation": "kernel"}):
        with pytest.raises(SandboxError, match="bwrap is not installed.*--weak-sandbox"):
            run_python("print(1)", **kw)
    monkeypatch.setattr(runner, "_WEAK_WARNED", set())
    with pytest.warns(RuntimeWarning, match="WEAK sandbox"):
        r = run_python("print(1)", isolation="weak")
    assert r.passed and r.isolation == "weak"
    monkeypatch.setenv("LLM_BRIDGE_SANDBOX", "weak")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert run_python("print(1)").isolation == "weak"
    monkeypatch.setenv("LLM_BRIDGE_SANDBOX", "none")
    with pytest.raises(ConfigError, match="LLM_BRIDGE_SANDBOX"):
        run_python("print(1)")


def test_the_audit_hook_can_be_left_out_only_in_the_kernel_sandbox():
    with pytest.raises(ConfigError, match="audit_hook"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        run_python("print(1)", audit_hook=False, isolation="weak")
    # the kernel refuses the fork: system() reports exit status 127
    r = run_python("import os; print(os.system('true') >> 8)", audit_hook=False, isolation="kernel")
    assert r.status == "passed" and r.stdout == "127\n", r


def test_a_failed_bubblewrap_set_up_is_an_error_not_a_failure(monkeypatch):
    from llm_bridge.sandbox import kernel

    real = kernel._system_binds
    monkeypatch.setattr(kernel, "_system_binds",
                        lambda: real() + ["--ro-bind", "/nonexistent-llm-bridge-path", "/x"])
    r = run_python("print(1)", isolation="kernel")
    assert r.status == "error" and "could not start the sandbox (bwrap)" in r.stderr, r


def test_command_line_refuses_code_tasks_without_the_kernel_sandbox(tmp_path):
    """As a user runs it: no bwrap on PATH, HumanEval -> one line, exit 2, before any model
    loads; --weak-sandbox is the explicit way out (checked up to the task's creation)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "LLM_BRIDGE_SANDBOX"}
    env["LLM_BRIDGE_BWRAP"] = str(tmp_path / "no-bwrap-here")
    cmd = [sys.executable, "-m", "persuasion_cli", "bridge", "evaluate", "--task", "humaneval",
           "--n", "1", "--out", str(tmp_path / "out")]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "kernel sandbox is not available" in lines[0] and \
        "--weak-sandbox" in lines[0], p.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # --weak-sandbox accepts the weak mode: the task is made, the run goes on to the models
    # (here a missing Advisor folder, the next thing that can fail)
    cmd += ["--weak-sandbox", "--advisor", str(tmp_path / "no-such-model")]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert "kernel sandbox" not in p.stderr and "no-such-model" in p.stderr, p.stderr


@pytest.mark.parametrize("code, problem", [("print(1)\x00", "NUL"), ("print('\ud800')", "UTF-8")])
def test_code_that_cannot_be_written_as_a_file_is_refused(code, problem):
    with pytest.raises(ConfigError, match=f"code: .*{problem}"):
        run_python(code, isolation="kernel")


def test_a_root_grader_runs_bubblewrap_as_an_unprivileged_uid_where_python_allows(monkeypatch):
    """With a Python installation readable by uid 65534 (the system's /usr/bin/python3.11
    here), a root grader's sandbox is 65534 outside its namespace too; where the installation
    is not readable (a Python under /root), bubblewrap runs as the caller."""
    import shutil as _shutil

    from llm_bridge.sandbox import kernel

    system_python = _shutil.which("python3.11", path="/usr/bin")
    if os.geteuid() != 0 or system_python is None:
        pytest.skip("needs a root grader and /usr/bin/python3.11")
    monkeypatch.setattr(kernel, "_python_binds", lambda packages: ([], system_python,
                                                                    ["-I", "-B", "-S"]))
    kernel.host_uid.cache_clear()
    try:
        assert kernel.host_uid() == kernel.SANDBOX_UID
        r = run_python("print(open('/proc/self/uid_map').read().split())", isolation="kernel")
        assert r.status == "passed", r.stderr
        assert r.stdout.strip() == "['65534', '65534', '1']"
        probe = run_python("import os; os.close(os.open('/proc/sys/kernel/hostname', os.O_WRONLY))",
                           isolation="kernel", audit_hook=False)
        assert probe.status == "failed", probe
    finally:  # the test's own interpreter decides again for the rest of the suite
        kernel.host_uid.cache_clear()
