"""The local stack as real processes on a real broker: replicas, restarting crashed
services (`make run`'s loop, `make up`'s detached supervisor) and stopping everything."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

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


def _children(pid: int) -> list[int]:
    from pathlib import Path
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()]


def _get(url: str, timeout: float = 10, token: str | None = None):
    import urllib.request
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}
                                     if token else {})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return answer.status, answer.read()


def test_the_gateway_runs_under_gunicorn_supervised_and_stops_gracefully(amqp_uri, tmp_path):
    """`make run`'s gateway is gunicorn (crm_gateway/gunicorn_conf.py): ready through the
    stack's /readyz wait, its lines in var/logs/gateway.log, a dead worker replaced by its
    master, a dead master restarted by the stack, and SIGTERM lets a request in flight
    finish."""
    from crm_common.testing import TEST_ADMIN_TOKEN
    stack = start_stack(tmp_path, amqp_uri,
                        database_env("sqlite", tmp_path, services=[SERVICE]),
                        services=[SERVICE], fake_ares=False,
                        extra_env={"GATEWAY_WORKERS": "2", "STATUS_TIMEOUT": "3",
                                   "STATUS_CACHE_SECONDS": "0"})
    said: list[str] = []
    stop = threading.Event()
    supervisor = threading.Thread(target=stack.supervise, kwargs=dict(
        stop=stop, policy=RestartPolicy(initial=0.2, maximum=0.4), poll=0.05,
        say=said.append), daemon=True)
    try:
        master = stack.procs["gateway"]
        with open(f"/proc/{master.pid}/cmdline") as cmdline:
            assert "gunicorn" in cmdline.read()
        workers = wait_until(lambda: len(_children(master.pid)) == 2
                             and _children(master.pid), what="two gunicorn workers")
        assert _get(stack.url + "/readyz")[0] == 200
        log = stack.tail("gateway", 200)
        assert "gunicorn.error [-] Listening at: http://127.0.0.1:" in log
        assert " INFO crm_gateway.access [" in log and "GET /readyz 200" in log
        supervisor.start()

        # a worker dies: its master starts another, the stack has nothing to do
        os.kill(workers[0], signal.SIGKILL)
        wait_until(lambda: len(_children(master.pid)) == 2
                   and workers[0] not in _children(master.pid), what="a new worker")
        assert stack.procs["gateway"] is master and not said
        wait_until(lambda: _get(stack.url + "/readyz")[0] == 200, what="ready again")

        # the master dies with its workers: the stack restarts the gateway on its port
        os.killpg(master.pid, signal.SIGKILL)
        wait_until(lambda: stack.procs["gateway"] is not master, what="a restart")
        assert said[0].startswith("gateway exited with code -9; restarting in 0.2s")
        wait_until(lambda: _get(stack.url + "/readyz")[0] == 200, timeout=30,
                   what="the restarted gateway")
        assert "restarted by the stack after exit code -9" in stack.tail("gateway", 200)

        # SIGTERM while a request is in flight: it is answered, then everything exits.
        # With deals stopped (its RPC queue stays), its `health` waits STATUS_TIMEOUT.
        stop.set()
        supervisor.join(5)
        stack.stop_service(SERVICE)
        restarted = stack.procs["gateway"]
        workers = _children(restarted.pid)
        answer: dict = {}

        def status():
            try:
                answer["status"] = _get(stack.url + "/api/v1/status", token=TEST_ADMIN_TOKEN)
            except Exception as exc:  # noqa: BLE001 - the test says what it got
                answer["error"] = exc
        request = threading.Thread(target=status)
        request.start()
        time.sleep(1)  # in flight: waiting for deals
        started = time.monotonic()
        stack.stop()
        request.join(10)
        assert answer.get("status", (None,))[0] == 200, answer
        assert b'"deals"' in answer["status"][1]
        assert time.monotonic() - started < 10
        assert not any(_alive(pid) for pid in [restarted.pid, *workers])
        assert "Shutting down: Master" in stack.tail("gateway", 20)
    finally:
        stop.set()
        stack.stop()


def test_the_gateway_under_gevent_fans_out(amqp_uri, tmp_path):
    """GATEWAY_WORKER_CLASS=gevent: gunicorn monkey-patches the worker, so the RPC pool's
    threads, its fan-out and py-amqp's sockets are greenlets and green sockets; the client
    card's parallel sections still arrive, also for requests served at once."""
    pytest.importorskip("gevent")
    import requests
    from concurrent.futures import ThreadPoolExecutor
    from crm_common.testing import TEST_ADMIN_TOKEN
    services = ["clients", "activities"]
    stack = start_stack(tmp_path, amqp_uri, database_env("sqlite", tmp_path, services=services),
                        services=services, fake_ares=False,
                        extra_env={"GATEWAY_WORKER_CLASS": "gevent", "GATEWAY_WORKERS": "1"})
    try:
        assert "Using worker: gevent" in stack.tail("gateway", 50)
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {TEST_ADMIN_TOKEN}"
        base = stack.url + "/api/v1/clients"
        parent = api.post(base, json={"name": "Skupina a.s."}, timeout=30).json()
        client = api.post(base, json={"name": "Dcera s.r.o.", "parent_id": parent["id"]},
                          timeout=30).json()
        added = api.post(f"{base}/{client['id']}/contacts",
                         json={"first_name": "Jana", "last_name": "Karta"}, timeout=30)
        assert added.status_code == 201, added.text

        def card(_):
            answer = api.get(f"{base}/{client['id']}/card", timeout=30)
            assert answer.status_code == 200, answer.text
            return answer.json()

        first = wait_until(lambda: (c := card(0))["timeline"].get("items") and c,
                           what="the card's timeline")
        assert first["parent"]["client"]["id"] == parent["id"]
        assert [c["last_name"] for c in first["contacts"]["items"]] == ["Karta"]
        with ThreadPoolExecutor(8) as pool:
            cards = list(pool.map(card, range(40)))
        for got in cards:
            assert {name: got[name]["status"] for name in
                    ("contacts", "subsidiaries", "timeline", "parent")} == dict.fromkeys(
                ("contacts", "subsidiaries", "timeline", "parent"), "ok")
    finally:
        stack.stop()
