"""Sweeps on every engine of :mod:`persuasion.online.executors`: the spec strings, the same
records as in-process runs (compared as JSON, exactly), a Dask worker killed mid-sweep,
an interrupted sweep resumed, a remote Dask scheduler, progress, and Ray where it installs.

Every cluster is on 127.0.0.1 (loopback only)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time

import pytest

from persuasion import Game
from persuasion.errors import GameValidationError
from persuasion.online import sweep as sweep_module
from persuasion.online.executors import ExecutorSpec, open_executor, parse_executor
from persuasion.online.sweep import SweepTaskError, make_tasks, read_results, run_sweep, run_task

PROSECUTOR = Game(["7/10", "3/10"], [[0, 1], [0, 1]], [[1, 0], [0, 1]], name="prosecutor")
OPPOSED = Game(["1/2", "1/2"], [[1, 0], [0, 1]], [[0, 1], [1, 0]], name="opposed")
THREE = Game(["1/2", "1/3", "1/6"], [[1, 0, 2], [0, 1, 0], [2, 0, 1]],
             [[1, 0, 0], [0, 1, 0], [0, 0, 1]], name="three")

#: Environment variable through which the slow task below logs where it ran.
LOG_ENV = "PERSUASION_TEST_TASK_LOG"


def small_tasks(horizon=400, seeds=range(2)):
    """A few games x learners x seeds with a short horizon."""
    return make_tasks([PROSECUTOR, OPPOSED, THREE], ["robust", "plugin"], horizon, seeds)


def canonical(rec: dict) -> str:
    """A record as JSON, without its wall time (the one field that differs between runs)."""
    return json.dumps({k: v for k, v in rec.items() if k != "seconds"}, sort_keys=True)


def in_process(tasks) -> dict[str, str]:
    return {t["key"]: canonical(run_task(t)) for t in tasks}


def keys_in(path) -> list[str]:
    return [json.loads(line)["key"] for line in open(path) if line.strip()]


def slow_logged_task(task: dict) -> dict:
    """:func:`run_task` after a pause, logging ``pid start|done key`` to the file named by
    ``$PERSUASION_TEST_TASK_LOG`` (Dask's workers inherit the environment)."""
    log = os.environ.get(LOG_ENV)
    if log:
        with open(log, "a") as f:
            f.write(f"{os.getpid()} start {task['key']}\n")
    time.sleep(0.4)
    rec = run_task(task)
    if log:
        with open(log, "a") as f:
            f.write(f"{os.getpid()} done {task['key']}\n")
    return rec


def set_env(name: str, value: str | None) -> None:
    """Set (or with None remove) an environment variable: run on Dask's workers."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def failing_task(task: dict) -> dict:
    """:func:`run_task`, except that seed 1 fails."""
    if task["seed"] == 1:
        raise ValueError(f"seed 1 is broken ({task['learner']})")
    return run_task(task)


class RecordingBar:
    """Stands in for tqdm: records the total and every update."""

    instances: list = []

    def __init__(self, total, initial, **kw):
        self.total, self.n, self.updates = total, initial, 0
        RecordingBar.instances.append(self)

    def update(self, k):
        self.n += k
        self.updates += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class StopAfter(RecordingBar):
    """A progress bar whose third update interrupts the sweep (as Ctrl-C would)."""

    def update(self, k):
        super().update(k)
        if self.updates == 3:
            raise KeyboardInterrupt


# ---------------------------------------------------------------- specs

@pytest.mark.parametrize("spec, engine, address", [
    ("local", "local", None),
    ("dask:local", "dask", None),
    ("dask:tcp://127.0.0.1:8786", "dask", "tcp://127.0.0.1:8786"),
    ("dask:tcp://scheduler.example:1", "dask", "tcp://scheduler.example:1"),
    ("dask:tcp://[::1]:8786", "dask", "tcp://[::1]:8786"),
])
def test_dask_and_local_specs_parse(spec, engine, address):
    if engine == "dask":
        pytest.importorskip("distributed", reason="the dask extra is not installed")
    assert parse_executor(spec) == ExecutorSpec(engine, address, spec)


@pytest.mark.parametrize("spec, address", [
    ("ray:local", None),
    ("ray:auto", "auto"),
    ("ray:127.0.0.1:6379", "127.0.0.1:6379"),
    ("ray:ray://head.example:10001", "ray://head.example:10001"),
])
def test_ray_specs_parse(spec, address):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    assert parse_executor(spec) == ExecutorSpec("ray", address, spec)


def test_unreachable_ray_cluster_is_a_prompt_error():
    pytest.importorskip("ray", reason="the ray extra is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GameValidationError, match=rf"cannot reach the Ray cluster at "
                                                  rf"127.0.0.1:{port} \("):
        with open_executor(f"ray:127.0.0.1:{port}", connect_timeout=2):
            pass


@pytest.mark.parametrize("spec, says", [
    ("", "is not an executor"),
    ("bogus", "is not an executor"),
    ("Local", "is not an executor"),
    ("local:4", "is not an executor"),
    ("dask", "is not an executor"),
    ("dask:", "is not an executor"),
    ("dask:127.0.0.1:8786", "is not an executor"),
    ("dask:udp://127.0.0.1:8786", "is not an executor"),
    ("dask:tcp://127.0.0.1", "not HOST:PORT"),
    ("dask:tcp://127.0.0.1:0", "port 0 is not in 1..65535"),
    ("dask:tcp://127.0.0.1:70000", "port 70000 is not in 1..65535"),
    ("dask:tcp://bad host:1", "not HOST:PORT"),
    ("ray:", "is not an executor"),
    ("ray:ray://h", "not HOST:PORT"),
    ("spark:local", "is not an executor"),
])
def test_bad_specs_are_one_line_errors(spec, says):
    with pytest.raises(GameValidationError) as err:
        parse_executor(spec)
    assert err.value.field == "executor" and says in err.value.problem
    assert "\n" not in str(err.value)


def test_a_spec_must_be_a_string():
    with pytest.raises(GameValidationError, match="expected a string"):
        parse_executor(3)


def test_missing_optional_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    monkeypatch.setitem(sys.modules, "ray", None)
    for spec, extra in (("dask:local", "dask"), ("ray:local", "ray")):
        with pytest.raises(GameValidationError) as err:
            parse_executor(spec)
        assert f"pip install 'persuasion[{extra}]'" in err.value.problem
        with pytest.raises(GameValidationError, match=r"needs the optional package"):
            with open_executor(ExecutorSpec(extra, None, spec)):
                pass
    with pytest.raises(GameValidationError, match=r"needs the optional package distributed"):
        run_sweep(small_tasks()[:1], tmp_path / "runs.jsonl", executor="dask:local")
    assert not (tmp_path / "runs.jsonl").exists()  # refused before anything was written


def test_unreachable_dask_scheduler_is_a_prompt_error():
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    with pytest.raises(GameValidationError, match=rf"cannot reach the Dask scheduler at "
                                                  rf"tcp://127.0.0.1:{port}"):
        with open_executor(f"dask:tcp://127.0.0.1:{port}", connect_timeout=2):
            pass
    assert time.perf_counter() - t0 < 10


def test_silent_dask_scheduler_times_out():
    """A port that accepts connections but never speaks Dask: an error after the connect
    timeout (Dask's own client would wait for ever)."""
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        t0 = time.perf_counter()
        with pytest.raises(GameValidationError, match=r"cannot connect to the Dask scheduler "
                                                      r"at .*no Dask scheduler answered within 1 s"):
            with open_executor(f"dask:tcp://127.0.0.1:{s.getsockname()[1]}", connect_timeout=1):
                pass
        assert time.perf_counter() - t0 < 15


class _Greeter:
    """A loopback server that greets every connection with a line of text and then stays
    silent: another service on the port a user named."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            conn.sendall(b"220 hello from another service\r\n")

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("engine", ["dask", "ray"])
def test_another_service_on_the_port_is_a_prompt_one_line_error(engine):
    """Dask's client would read the greeting as a frame length (exabytes) and Ray's would
    retry for minutes: the first bytes are checked before either client is called."""
    pytest.importorskip({"dask": "distributed", "ray": "ray"}[engine],
                        reason=f"the {engine} extra is not installed")
    g = _Greeter()
    try:
        spec = f"dask:tcp://127.0.0.1:{g.port}" if engine == "dask" else f"ray:127.0.0.1:{g.port}"
        t0 = time.perf_counter()
        with pytest.raises(GameValidationError, match=r"^executor: cannot connect to the .* "
                                                      r"\(something else listens there"):
            with open_executor(spec, connect_timeout=2):
                pass
        assert time.perf_counter() - t0 < 10
    finally:
        g.close()


# ---------------------------------------------------------------- identical results

@pytest.mark.parametrize("executor", ["local", "dask:local"])
def test_every_engine_gives_the_in_process_records(tmp_path, monkeypatch, executor):
    if executor.startswith("dask"):
        pytest.importorskip("distributed", reason="the dask extra is not installed")
    tasks = small_tasks()
    expected = in_process(tasks)
    RecordingBar.instances.clear()
    monkeypatch.setattr(sweep_module, "tqdm", RecordingBar)
    path = tmp_path / "runs.jsonl"
    recs = run_sweep(tasks, path, executor=executor, max_workers=2, progress=True)
    assert [r["key"] for r in recs] == [t["key"] for t in tasks]
    assert {r["key"]: canonical(r) for r in recs} == expected
    assert sorted(keys_in(path)) == sorted(expected)  # each once
    bar, = RecordingBar.instances  # the bar advanced once per finished run
    assert bar.total == len(tasks) and bar.updates == len(tasks) and bar.n == len(tasks)


RAY_SCRIPT = """
import json, sys
import persuasion.online.sweep as sweep

class Bar:
    def __init__(self, total, initial, **kw):
        self.total, self.updates = total, 0
        Bar.last = self
    def update(self, k):
        self.updates += k
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return False

sweep.tqdm = Bar
tasks = json.load(open(sys.argv[1]))
sweep.run_sweep(tasks, sys.argv[2], executor="ray:local", max_workers=2)
import ray
initialized = ray.is_initialized()
from persuasion.online.executors import open_executor
with open_executor("ray:local", max_workers=1):
    node = ray.nodes()[0]["NodeManagerAddress"]
print(json.dumps({"total": Bar.last.total, "updates": Bar.last.updates,
                  "initialized": initialized, "node": node}))
"""


def test_ray_gives_the_in_process_records(tmp_path):
    """In a child process (Ray's start-up, about 5 s, stays out of this one): the records, the
    progress, Ray shut down after the sweep, and the local instance on 127.0.0.1 (by default
    Ray binds even a local instance to the machine's network address)."""
    pytest.importorskip("ray", reason="Ray is an optional extra without wheels for every "
                                      "platform and Python version; it is not installed here")
    import subprocess

    tasks = small_tasks(seeds=[0])
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    path = tmp_path / "runs.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    env["RAY_ADDRESS"] = "127.0.0.1:1"  # ray:local starts its own instance all the same
    p = subprocess.run([sys.executable, "-c", RAY_SCRIPT, str(tmp_path / "tasks.json"), str(path)],
                       capture_output=True, text=True, timeout=180, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    progress = json.loads(p.stdout.strip().splitlines()[-1])
    assert progress == {"total": len(tasks), "updates": len(tasks), "initialized": False,
                        "node": "127.0.0.1"}
    assert {r["key"]: canonical(r) for r in read_results(path)} == in_process(tasks)
    assert sorted(keys_in(path)) == sorted(t["key"] for t in tasks)


# ---------------------------------------------------------------- a Dask cluster of 2 workers

@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes on 127.0.0.1 (its nannies restart a killed one)."""
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as c:
        yield c


def test_remote_scheduler_spec(tmp_path, cluster):
    assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    tasks = small_tasks(seeds=[0])
    recs = run_sweep(tasks, tmp_path / "runs.jsonl", executor="dask:" + cluster.scheduler_address,
                     progress=False)
    assert {r["key"]: canonical(r) for r in recs} == in_process(tasks)
    assert len(cluster.scheduler.workers) == 2  # the sweep left the cluster running


def test_killed_worker_loses_and_duplicates_nothing(tmp_path, cluster, monkeypatch):
    import distributed

    log = tmp_path / "tasks.log"
    log.touch()
    monkeypatch.setenv(LOG_ENV, str(log))
    # the workers read the environment at start: pass the log's name to them directly
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        client.run(set_env, LOG_ENV, str(log))
        pids = set(client.run(os.getpid).values())
        assert len(pids) == 2
        tasks = small_tasks(horizon=300)
        expected = in_process(tasks)
        path = tmp_path / "runs.jsonl"
        killed, finished_sweep = {}, threading.Event()

        def kill_a_busy_worker():
            while not finished_sweep.is_set():
                started, finished = {}, set()
                for line in log.read_text().splitlines():
                    pid, what, key = line.split()
                    (finished.add((int(pid), key)) if what == "done"
                     else started.__setitem__(key, int(pid)))
                busy = {key: pid for key, pid in started.items() if (pid, key) not in finished}
                if path.exists() and len(keys_in(path)) >= 2 and busy:
                    key, pid = next(iter(busy.items()))
                    os.kill(pid, signal.SIGKILL)
                    killed.update(pid=pid, key=key)
                    return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        try:
            recs = run_sweep(tasks, path, executor="dask:" + cluster.scheduler_address,
                             progress=False, task_fn=slow_logged_task)
        finally:
            finished_sweep.set()
            killer.join()
        assert killed, "no worker was killed"
        lines = log.read_text().splitlines()
        assert f"{killed['pid']} done {killed['key']}" not in lines  # it died mid-task
        assert any(l.endswith(f"done {killed['key']}") for l in lines)  # re-run elsewhere
        keys = keys_in(path)
        assert sorted(keys) == sorted(expected)  # every key exactly once
        assert {r["key"]: canonical(r) for r in recs} == expected
        client.wait_for_workers(2, timeout=30)  # the nanny restarted the killed worker
        assert killed["pid"] not in set(client.run(os.getpid).values())
        client.run(set_env, LOG_ENV, None)


def test_failed_tasks_are_named_and_a_rerun_completes(tmp_path, cluster):
    tasks = small_tasks(seeds=range(3))
    path = tmp_path / "runs.jsonl"
    spec = "dask:" + cluster.scheduler_address
    with pytest.raises(SweepTaskError) as err:
        run_sweep(tasks, path, executor=spec, progress=False, task_fn=failing_task)
    bad = {t["key"] for t in tasks if t["seed"] == 1}
    assert {k for k, _ in err.value.failures} == bad and err.value.key in bad
    assert f"task {err.value.key}: ValueError: seed 1 is broken" in str(err.value)
    assert sorted(keys_in(path)) == sorted(t["key"] for t in tasks if t["seed"] != 1)
    recs = run_sweep(tasks, path, executor=spec, progress=False)
    assert sorted(keys_in(path)) == sorted(t["key"] for t in tasks)
    assert {r["key"]: canonical(r) for r in recs} == in_process(tasks)


def test_interrupted_sweep_resumes_without_duplicates(tmp_path, cluster, monkeypatch):
    tasks = small_tasks(seeds=range(2))
    path = tmp_path / "runs.jsonl"
    spec = "dask:" + cluster.scheduler_address
    monkeypatch.setattr(sweep_module, "tqdm", StopAfter)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(tasks, path, executor=spec, task_fn=slow_logged_task)
    first = keys_in(path)
    assert len(first) == 3
    monkeypatch.setattr(sweep_module, "tqdm", RecordingBar)
    RecordingBar.instances.clear()
    recs = run_sweep(tasks, path, executor=spec)
    bar, = RecordingBar.instances
    assert (bar.total, bar.updates) == (len(tasks), len(tasks) - 3)  # resumed at 3 of 12
    keys = keys_in(path)
    assert keys[:3] == first and sorted(keys) == sorted(t["key"] for t in tasks)
    assert {r["key"]: canonical(r) for r in recs} == in_process(tasks)
    assert len(read_results(path)) == len(tasks)


def test_a_key_given_twice_runs_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    tasks = small_tasks(seeds=[0])[:2]
    path = tmp_path / "runs.jsonl"
    with ThreadPoolExecutor(2) as pool:
        recs = run_sweep(tasks + tasks, path, executor=pool, progress=False)
    assert len(keys_in(path)) == 2 and len(recs) == 4
