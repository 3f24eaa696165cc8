"""What the images run: crm_common.serve (the service as PID 1), crm_common.healthcheck (the
container's health) and crm_common.db.while_unreachable (one-shot jobs waiting for their
database server)."""
import pytest
from sqlalchemy.exc import OperationalError

from crm_common import healthcheck, serve
from crm_common.db import while_unreachable
from crm_common.fake_http import FakeHttpServer
from crm_common.stack import SERVICES


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_serve_runs_nameko_with_the_services_config_and_class(name):
    assert serve.command(name) == ["nameko", "run", "--config", f"services/{name}/config.yaml",
                                   SERVICES[name]]


def test_serve_refuses_an_unknown_service(monkeypatch):
    monkeypatch.setenv("CRM_SERVICE", "billing")
    with pytest.raises(SystemExit, match="unknown service 'billing'"):
        serve.main([])


def test_serve_replaces_itself_with_nameko(monkeypatch):
    execs = []
    monkeypatch.setattr(serve.os, "execvp", lambda file, argv: execs.append((file, argv)))
    monkeypatch.setenv("CRM_SERVICE", "deals")
    serve.main([])
    assert execs == [("nameko", serve.command("deals"))]


@pytest.mark.parametrize("state, alive", [("S", True), ("R", True), ("D", True),
                                          ("Z", False), ("T", False), ("t", False),
                                          ("X", False)])
def test_process_alive_reads_the_state_after_the_command_name(tmp_path, state, alive):
    stat = tmp_path / "stat"
    # a command name with spaces and parentheses must not shift the fields
    stat.write_text(f"1 (nameko (run) x) {state} 0 1 1 0 -1 4194560\n")
    assert healthcheck.process_alive(str(stat)) is alive


def test_process_alive_is_false_without_the_file(tmp_path):
    assert healthcheck.process_alive(str(tmp_path / "missing")) is False


class _Statuses(FakeHttpServer):
    NAME = "statuses"

    def handle(self, method, path, body):
        return {"/ok": 200, "/broken": 500}.get(path, 404), b""


@pytest.fixture
def http_answer():
    with _Statuses() as server:
        yield f"http://{server.host}:{server.port}"


def test_healthy_asks_the_url_when_one_is_set(http_answer):
    assert healthcheck.healthy({"CRM_HEALTH_URL": f"{http_answer}/ok"}) is True
    assert healthcheck.healthy({"CRM_HEALTH_URL": f"{http_answer}/broken"}) is False
    assert healthcheck.healthy({"CRM_HEALTH_URL": f"{http_answer}/missing"}) is False
    assert healthcheck.healthy({"CRM_HEALTH_URL": "http://127.0.0.1:1/"}) is False
    assert healthcheck.healthy({"CRM_HEALTH_URL": "not a url"}) is False


def test_healthy_asks_the_process_without_a_url(monkeypatch):
    monkeypatch.setattr(healthcheck, "process_alive", lambda: "asked")
    assert healthcheck.healthy({}) == "asked"


def _unreachable():
    return OperationalError("connect", {}, Exception('could not translate host name "postgres"'))


def test_while_unreachable_repeats_until_the_server_answers(capsys):
    attempts = []

    def work():
        attempts.append(1)
        if len(attempts) < 3:
            raise _unreachable()
        return "migrated"
    assert while_unreachable("postgresql://db/x", work, timeout=10, interval=0) == "migrated"
    assert len(attempts) == 3
    assert capsys.readouterr().err.count("waiting for the database") == 2


def test_while_unreachable_gives_up_after_its_timeout():
    attempts = []

    def work():
        attempts.append(1)
        raise _unreachable()
    with pytest.raises(OperationalError):
        while_unreachable("postgresql://db/x", work, timeout=0.05, interval=0.01)
    assert len(attempts) >= 2


def test_while_unreachable_never_repeats_sqlite_or_other_errors():
    attempts = []

    def locked():
        attempts.append(1)
        raise _unreachable()
    with pytest.raises(OperationalError):
        while_unreachable("sqlite:///var/x.db", locked, timeout=10, interval=0)
    assert len(attempts) == 1

    def broken():
        attempts.append(1)
        raise ValueError("a bug")
    with pytest.raises(ValueError):
        while_unreachable("postgresql://db/x", broken, timeout=10, interval=0)
    assert len(attempts) == 2


def test_while_unreachable_does_not_wait_on_a_wrong_password():
    attempts = []

    def refused():
        attempts.append(1)
        raise OperationalError("connect", {}, Exception(
            'FATAL:  password authentication failed for user "clients"'))
    with pytest.raises(OperationalError):
        while_unreachable("postgresql://db/x", refused, timeout=10, interval=0)
    assert len(attempts) == 1
