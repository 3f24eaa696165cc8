"""SQLite allows one process per database file: a second one is refused with a clear
message, a crashed holder leaves no stale lock, and migrations respect it too."""
import os
import signal
import subprocess
import sys

import pytest

from crm_common.db import DatabaseInUse, claim_sqlite_database, sqlite_file
from crm_common.migrate import upgrade
from crm_common.rpc import RpcPool
from crm_common.stack import repo_root
from crm_common.testing import database_env, start_stack

HOLD = """
import sys, time
from crm_common.db import claim_sqlite_database
claim_sqlite_database(sys.argv[1])
print("claimed", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding an SQLite database: `holder(url) -> Popen`."""
    procs = []

    def hold(url: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE,
                                text=True)
        procs.append(proc)
        assert proc.stdout.readline() == "claimed\n"
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


def _claim_elsewhere(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import sys; from crm_common.db import "
                           "claim_sqlite_database as c; c(sys.argv[1])", url],
                          capture_output=True, text=True, timeout=60)


def test_a_second_process_is_refused_with_a_clear_message(tmp_path, holder):
    url = f"sqlite:///{tmp_path / 'clients.db'}"
    other = holder(url)
    with pytest.raises(DatabaseInUse) as refused:
        claim_sqlite_database(url, "clients")
    message = str(refused.value)
    assert str(tmp_path / "clients.db") in message
    assert f"pid {other.pid}" in message
    assert "SQLite allows one service process per database" in message
    assert "PostgreSQL (CLIENTS_DATABASE_URL)" in message


def test_the_lock_goes_with_a_killed_holder(tmp_path, holder):
    url = f"sqlite:///{tmp_path / 'clients.db'}"
    other = holder(url)
    assert _claim_elsewhere(url).returncode != 0
    other.send_signal(signal.SIGKILL)
    other.wait()
    claim = claim_sqlite_database(url)  # no stale lock after kill -9
    try:
        assert claim_sqlite_database(url) is claim  # this process already has it
        refused = _claim_elsewhere(url)
        assert "DatabaseInUse" in refused.stderr and f"pid {os.getpid()}" in refused.stderr
    finally:
        claim.release()
    assert _claim_elsewhere(url).returncode == 0


def test_only_sqlite_files_are_claimed(tmp_path, monkeypatch):
    assert claim_sqlite_database("postgresql+psycopg2://postgres@127.0.0.1/x") is None
    assert claim_sqlite_database("sqlite://") is None
    assert claim_sqlite_database("sqlite:///:memory:") is None
    assert sqlite_file("sqlite:///file:x?mode=memory&uri=true") is None
    monkeypatch.chdir(tmp_path)  # a relative path is the same file wherever it is named
    assert sqlite_file("sqlite:///var/x.db") == sqlite_file(f"sqlite:///{tmp_path}/var/x.db")


def test_migrating_a_database_a_process_holds_is_refused(tmp_path, holder, monkeypatch):
    url = f"sqlite:///{tmp_path / 'deals.db'}"
    env = dict(os.environ, DEALS_DATABASE_URL=url)
    migrate = [sys.executable, "-m", "crm_common.migrate", "services/deals"]
    other = holder(url)
    refused = subprocess.run(migrate, cwd=repo_root(), env=env, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0
    assert "cannot migrate deals: SQLite database" in refused.stderr
    assert "stop that process first" in refused.stderr
    other.kill()
    other.wait()
    # in this process: migrating holds the file only while it migrates
    monkeypatch.setenv("DEALS_DATABASE_URL", url)
    upgrade(repo_root() / "services" / "deals", "deals")
    assert _claim_elsewhere(url).returncode == 0


def test_a_second_service_process_on_one_sqlite_file_exits(amqp_uri, tmp_path):
    stack = start_stack(tmp_path, amqp_uri, database_env("sqlite", tmp_path,
                                                         services=["deals"]),
                        services=["deals"], gateway=False, fake_ares=False)
    try:
        second = stack.start_service("deals", replica=2)
        assert second.wait(60) != 0
        log = stack.tail("deals.2", 200)
        assert "DatabaseInUse" in log and str(tmp_path / "deals.db") in log
        assert "SQLite allows one service process per database" in log
        pool = RpcPool(amqp_uri, timeout=5)
        try:  # the first one is unharmed
            assert pool.call("deals", "health", {})["status"] == "ok"
        finally:
            pool.close()
    finally:
        stack.stop()
