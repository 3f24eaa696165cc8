"""The local stack as real processes on a real broker: replicas, restarting crashed
services (`make run`'s loop, `make up`'s detached supervisor) and stopping everything."""
import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from crm_common.rpc import RpcPool
from crm_common.stack import RestartPolicy, _alive, repo_root
from crm_common.testing import database_env, start_stack, wait_until

SERVICE = "deals"  # the smallest service: its `health` RPC is all these tests need


def _answers(amqp_uri: str) -> bool:
    pool = RpcPool(amqp_uri, timeout=2)
    try:
        return pool.call(SERVICE, "health", {}) == {"service": SERVICE, "status": "ok"}
    finally:
        pool.close()


def test_replicas_and_the_supervising_loop(amqp_uri, tmp_path, make_postgres_db):
    # two processes on one database: PostgreSQL (SQLite allows one process per file)
    stack = start_stack(tmp_path, amqp_uri,
                        database_env("postgresql", tmp_path, make_postgres_db, [SERVICE]),
                        services=[SERVICE], gateway=False, fake_ares=False,
                        replicas={SERVICE: 2})
    said: list[str] = []
    stop = threading.Event()
    supervisor = threading.Thread(target=stack.supervise, kwargs=dict(
        stop=stop, policy=RestartPolicy(initial=0.2, maximum=0.4), poll=0.05,
        say=said.append), daemon=True)
    try:
        assert set(stack.procs) == {SERVICE, f"{SERVICE}.2"}
        assert (stack.logs / f"{SERVICE}.2.log").exists()
        supervisor.start()

        crashed = stack.procs[f"{SERVICE}.2"]
        os.killpg(crashed.pid, signal.SIGKILL)
        wait_until(lambda: stack.procs[f"{SERVICE}.2"] is not crashed, what="a restart")
        assert said[0] == (f"{SERVICE}.2 exited with code -9; restarting in 0.2s "
                           f"(log: {stack.logs / f'{SERVICE}.2.log'})")
        assert "restarted by the stack after exit code -9" in stack.tail(f"{SERVICE}.2")

        # a process stopped on purpose stays stopped; the restarted replica answers alone
        stack.stop_service(SERVICE)
        wait_until(lambda: _answers(amqp_uri), timeout=30, what="the restarted replica")
        assert SERVICE not in stack.procs
        assert not any(m.startswith(f"{SERVICE} exited") for m in said)

        # it keeps crashing: the delay doubles, up to the maximum
        for delay in ("0.4s", "0.4s"):
            crashed = stack.procs[f"{SERVICE}.2"]
            os.killpg(crashed.pid, signal.SIGKILL)
            wait_until(lambda: stack.procs[f"{SERVICE}.2"] is not crashed, what="a restart")
            assert f"restarting in {delay} " in [m for m in said if "exited" in m][-1]
    finally:
        stop.set()
        supervisor.join(5) if supervisor.is_alive() else None
        stack.stop()
    assert not supervisor.is_alive()


def _cli_env(amqp_uri, tmp_path) -> dict:
    return dict(os.environ, AMQP_URI=amqp_uri, CRM_VAR_DIR=str(tmp_path / "var"),
                **database_env("sqlite", tmp_path, services=[SERVICE]))


def _cli(command: str, env: dict, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crm_common.stack", command,
                           "--services", SERVICE, "--no-gateway"],
                          cwd=repo_root(), env=env, capture_output=True, text=True,
                          timeout=timeout)


def _state(tmp_path) -> dict:
    return json.loads((tmp_path / "var" / "stack.json").read_text())


@pytest.fixture
def cli(amqp_uri, tmp_path):
    env = _cli_env(amqp_uri, tmp_path)
    yield env
    _cli("down", env)  # whatever a failed test left


def test_up_restarts_a_crashed_service_and_down_leaves_nothing(cli, amqp_uri, tmp_path):
    up = _cli("up", cli)
    assert up.returncode == 0, up.stderr + up.stdout
    assert "CRM is running" in up.stdout
    state = _state(tmp_path)
    supervisor, first = state["supervisor"], state["children"][SERVICE]
    assert state["ready"] and _alive(supervisor) and _alive(first)
    assert _answers(amqp_uri)
    assert _cli("up", cli).returncode != 0  # one stack per var/

    os.killpg(first, signal.SIGKILL)
    second = wait_until(lambda: _state(tmp_path)["children"][SERVICE] != first
                        and _state(tmp_path)["children"][SERVICE], what="a restart")
    log = (tmp_path / "var" / "logs" / "stack.log").read_text()
    assert f"{SERVICE} exited with code -9; restarting in 1s (log: " in log
    wait_until(lambda: _answers(amqp_uri), timeout=30, what="the restarted service")

    down = _cli("down", cli)
    assert down.returncode == 0, down.stderr
    assert not (tmp_path / "var" / "stack.json").exists()
    assert not any(_alive(pid) for pid in (supervisor, first, second))
    assert "left running" not in down.stdout  # the supervisor stopped them itself


def test_down_kills_the_children_of_a_dead_supervisor(cli, tmp_path):
    assert _cli("up", cli).returncode == 0
    state = _state(tmp_path)
    child = state["children"][SERVICE]
    os.kill(state["supervisor"], signal.SIGKILL)
    wait_until(lambda: not _alive(state["supervisor"]), what="the supervisor gone")
    assert _alive(child)
    again = _cli("up", cli)  # would start a second deals beside the orphan
    assert again.returncode != 0 and f"still running (pids {child})" in again.stderr

    down = _cli("down", cli)
    assert down.returncode == 0, down.stderr
    assert f"stopped {SERVICE} ({child}), which the supervisor left running" in down.stdout
    assert not _alive(child)


def test_run_restarts_in_the_foreground_and_ctrl_c_stops_all(amqp_uri, tmp_path):
    run = subprocess.Popen([sys.executable, "-m", "crm_common.stack", "run",
                            "--services", SERVICE, "--no-gateway"],
                           cwd=repo_root(), env=_cli_env(amqp_uri, tmp_path),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in run.stdout:  # until it is ready
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        assert "CRM is running.\n" in lines, "".join(lines)
        child = _state(tmp_path)["children"][SERVICE]
        os.killpg(child, signal.SIGKILL)
        line = run.stdout.readline()
        assert line.startswith(f"{SERVICE} exited with code -9; restarting in 1s (log: ")
        assert run.stdout.readline().startswith(f"{SERVICE} restarted (pid ")
        restarted = _state(tmp_path)["children"][SERVICE]
        wait_until(lambda: _answers(amqp_uri), timeout=30, what="the restarted service")

        run.send_signal(signal.SIGINT)  # Ctrl-C
        assert run.wait(30) == 0
        assert not _alive(restarted) and not _alive(child)
        assert not (tmp_path / "var" / "stack.json").exists()
    finally:
        if run.poll() is None:
            run.kill()
