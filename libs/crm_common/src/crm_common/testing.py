"""pytest fixtures shared by every service's tests: a private RabbitMQ vhost, PostgreSQL
databases, the stack of processes, and an event tap that is not nameko or kombu (pika).

With CI=true a missing broker or database fails the test instead of skipping it.
"""
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from urllib.parse import quote

import pytest

from .events import CONTENT_TYPE
from .stack import SERVICES, Stack, free_port

RABBIT_HOST = os.environ.get("TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_PORT = int(os.environ.get("TEST_RABBIT_PORT", "5672"))
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _unavailable(what: str):
    message = f"{what} is not reachable"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI=true: integration tests must not skip)")
    pytest.skip(message)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=60)


def create_vhost(prefix: str = "crm-test") -> tuple[str, str | None]:
    """(amqp uri, vhost) of a fresh vhost; the default vhost when rabbitmqctl is missing."""
    if shutil.which("rabbitmqctl") is None:
        return f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/", None
    vhost = f"{prefix}-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/{quote(vhost, safe='')}", vhost


def delete_vhost(vhost: str | None) -> None:
    if vhost:
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def amqp_uri():
    """A fresh vhost for this test session, so leftovers of other runs never interfere."""
    if not _port_open(RABBIT_HOST, RABBIT_PORT):
        _unavailable(f"RabbitMQ at {RABBIT_HOST}:{RABBIT_PORT}")
    uri, vhost = create_vhost()
    yield uri
    delete_vhost(vhost)


@pytest.fixture(scope="session")
def postgres_admin():
    try:
        import psycopg2
        conn = psycopg2.connect(PG_ADMIN_URL, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"PostgreSQL at {PG_ADMIN_URL} ({exc})")
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def make_postgres_db(postgres_admin):
    """Creates throw-away PostgreSQL databases; returns their SQLAlchemy URLs."""
    created = []

    def make(label: str) -> str:
        name = f"crm_test_{uuid.uuid4().hex[:8]}_{label}"
        with postgres_admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        return f"{base}/{name}".replace("postgresql://", "postgresql+psycopg2://")

    yield make
    with postgres_admin.cursor() as cur:
        for name in created:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_private(server_class):
    """A started private server of `crm_common.testing_nodes` (a RabbitMQ node or a
    PostgreSQL cluster a test may kill); skipped, or failed with CI=true, when this machine
    cannot run one."""
    from .testing_nodes import NodeUnavailable
    try:
        server = server_class()
    except NodeUnavailable as exc:
        _unavailable(str(exc))
    try:
        return server.start()
    except BaseException:
        server.close()
        raise


@pytest.fixture(scope="session")
def private_rabbit():
    """One private RabbitMQ node for the session (starting one takes 5-15 s). A test that
    kills it or raises an alarm leaves it running and clear again."""
    from .testing_nodes import PrivateRabbit
    rabbit = start_private(PrivateRabbit)
    yield rabbit
    rabbit.close()


@pytest.fixture(scope="session")
def private_postgres():
    """One private PostgreSQL cluster for the session; a test that stops it starts it again."""
    from .testing_nodes import PrivatePostgres
    postgres = start_private(PrivatePostgres)
    yield postgres
    postgres.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database of each backend in turn (SQLite file, PostgreSQL database)."""
    if request.param == "postgresql":
        return request.getfixturevalue("make_postgres_db")("test")
    return f"sqlite:///{tmp_path / 'test.db'}"


def database_env(backend: str, tmp_path, make_postgres_db=None, services=SERVICES) -> dict:
    """Each service's database URL, and the gateway's (users, tokens, the audit log)."""
    env = {}
    for name in (*services, "gateway"):
        if backend == "postgresql":
            env[f"{name.upper()}_DATABASE_URL"] = make_postgres_db(name)
        else:
            env[f"{name.upper()}_DATABASE_URL"] = f"sqlite:///{tmp_path / (name + '.db')}"
    return env


# the bootstrap admin token of the stacks tests start (32 characters at least, as the
# gateway demands)
TEST_ADMIN_TOKEN = "test-admin-0f3a9c5e7b1d24680f3a9c5e"


def start_stack(tmp_path, amqp_uri, db_env: dict, services=tuple(SERVICES), gateway=True,
                extra_env: dict | None = None, fake_ares=True,
                replicas: dict[str, int] | None = None) -> Stack:
    env = {"AMQP_URI": amqp_uri, "CRM_BOOTSTRAP_ADMIN_TOKEN": TEST_ADMIN_TOKEN,
           "OUTBOX_SWEEP_SECONDS": "1", "ARES_RETRY_BASE_SECONDS": "1",
           "ARES_BREAKER_COOLDOWN_SECONDS": "1", "ARES_METRICS_PORT": "0",
           "CRM_RETRY_DELAYS": "0.2,0.5,1",
           "LOG_LEVEL": "INFO", **db_env, **(extra_env or {})}
    stack = Stack(env=env, var_dir=tmp_path / "var", services=services, gateway=gateway,
                  fake_ares=fake_ares, gateway_port=free_port(), replicas=replicas)
    try:
        stack.start()
    except Exception:
        stack.stop()
        raise
    return stack


class EventTap:
    """A queue bound to event exchanges, read with pika (an AMQP client that is not kombu)."""

    def __init__(self, amqp_uri: str, bindings: list[tuple[str, str]]):
        import pika
        self.connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        self.channel = self.connection.channel()
        self.queue = f"test-tap-{uuid.uuid4().hex[:8]}"
        self.channel.queue_declare(self.queue, exclusive=True)
        for exchange, key in bindings:
            self.channel.exchange_declare(exchange, exchange_type="topic", durable=True)
            self.channel.queue_bind(self.queue, exchange, routing_key=key)
        self.events: list[dict] = []
        self.raw: list[tuple] = []

    def poll(self):
        while True:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return
            self.raw.append((method, properties, body))
            self.events.append(json.loads(body))

    def wait_for(self, predicate, timeout: float = 15, what: str = "event") -> dict:
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            for event in self.events:
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                seen = [(e.get("type"), e.get("subject")) for e in self.events]
                raise AssertionError(f"no {what} within {timeout}s; saw {seen}")
            self.connection.sleep(0.1)

    def of_type(self, event_type: str) -> list[dict]:
        self.poll()
        return [e for e in self.events if e.get("type") == event_type]

    def close(self):
        try:
            self.connection.close()
        except Exception:  # noqa: BLE001
            pass


def wait_until(check, timeout: float = 15, interval: float = 0.1, what: str = "condition"):
    """Poll `check()` until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - not there yet (e.g. still starting)
            last = exc
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")


@pytest.fixture
def event_tap(amqp_uri):
    taps = []

    def make(bindings):
        tap = EventTap(amqp_uri, bindings)
        taps.append(tap)
        return tap

    yield make
    for tap in taps:
        tap.close()


def publish_event(amqp_uri: str, service: str, event: dict):
    """Publish a CloudEvent as `service` would (to `<service>.events`), with pika."""
    import pika
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.exchange_declare(f"{service}.events", exchange_type="topic", durable=True)
        channel.confirm_delivery()
        channel.basic_publish(f"{service}.events", event["type"], json.dumps(event).encode(),
                              pika.BasicProperties(content_type=CONTENT_TYPE,
                                                   delivery_mode=2, message_id=event["id"]))
    finally:
        connection.close()


def cloud_event(service: str, event_type: str, subject: str, data: dict, **extra) -> dict:
    from .events import EventContext, make_event
    event = make_event(service, event_type, subject, data, EventContext(actor="test"))
    event.update(extra)
    return event


class TcpProxy:
    """A TCP proxy on loopback that a test can cut (`down`) and restore (`up`), to make the
    broker unreachable for one component while everyone else keeps it."""

    def __init__(self, target_host: str = RABBIT_HOST, target_port: int = RABBIT_PORT):
        import threading
        self.target = (target_host, target_port)
        self.port = free_port()
        self._threading = threading
        self._sockets: list[socket.socket] = []
        self._listener = None
        self._lock = threading.Lock()
        self.stalled = threading.Event()  # set: bytes are swallowed, connections stay open

    def up(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        self._threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def down(self):
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        if listener:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread on Linux
            except OSError:
                pass
            listener.close()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def uri(self, vhost_uri: str) -> str:
        """`vhost_uri` with its host and port replaced by this proxy's."""
        scheme, rest = vhost_uri.split("://", 1)
        creds, tail = rest.split("@", 1)
        path = tail.split("/", 1)[1] if "/" in tail else ""
        return f"{scheme}://{creds}@127.0.0.1:{self.port}/{path}"

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)  # a stalled peer holds the connection open, as a real one
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                self._threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while data := source.recv(65536):
                if not self.stalled.is_set():  # a half-open peer: nothing gets through
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# -- pytest-xdist: which tests go together (make test: `-n N --dist loadgroup`) ---------------
#
# With `--dist loadgroup` a file's tests stay on one worker, as with `loadfile` (they share its
# module fixtures: stacks take seconds to start), except tests marked `xdist_group(name)`: a
# group goes to one worker whatever the files. A module marked `spread` is cut into one
# contiguous share per worker, each share a group, so its tests run on every worker, each
# share on module fixtures of its own (e.g. the schemathesis run: one stack per worker).
#
# xdist's own loadgroup cannot do this under pytest 9.2: it puts the group into `_nodeid`,
# which pytest no longer reads, and it sends ungrouped tests one by one (module fixtures set up
# on every worker). The scheduler below puts ungrouped tests together by file; the group goes
# into the node id (`...::test[x]@group`, as xdist does) so that the controller sees it.

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "spread: under xdist with --dist loadgroup, the module's tests are cut into "
                   "one contiguous share per worker (each share sets up the module's fixtures "
                   "once) instead of all running on one worker")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    _distinct_schemathesis_ids(items)
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and getattr(config.option, "loadgroup", False):  # set in xdist's workers
        _spread(items, int(workers))
        for item in items:
            groups = sorted({str(mark.args[0] if mark.args else
                                 mark.kwargs.get("name", "default"))
                             for mark in item.iter_markers("xdist_group")})
            suffix = "@" + "_".join(groups)
            if groups and not item.nodeid.endswith(suffix):  # xdist did it (pytest < 9.2)
                _set_nodeid(item, item.nodeid + suffix)


def _set_nodeid(item, nodeid: str) -> None:
    if hasattr(item, "_id"):  # pytest >= 9.2: the node id is structured
        from _pytest.nodeid import NodeId
        item._id = NodeId.parse(nodeid)
    else:
        item._nodeid = nodeid


def _distinct_schemathesis_ids(items) -> None:
    """schemathesis (4.x) gives pytest 9.2 the function's name as `originalname`, from which
    pytest now makes the node id: every operation's test had the same id (`test_x` instead of
    `test_x[GET /path]`), which -k, reports and xdist's schedulers (they key tests by id) get
    wrong. The id is made from the item's name again."""
    for item in items:
        if getattr(item, "operation_label", None) and "[" in item.name and \
                not item.nodeid.endswith("]") and "::" in item.nodeid:
            _set_nodeid(item, item.nodeid.rsplit("::", 1)[0] + "::" + item.name)


def _spread(items, workers: int) -> None:
    modules: dict = {}
    for item in items:
        if item.get_closest_marker("spread") is not None:
            modules.setdefault(item.path, []).append(item)
    for path, module_items in modules.items():
        for index, item in enumerate(module_items):
            share = index * workers // len(module_items)
            item.add_marker(pytest.mark.xdist_group(f"{path.name}:{share + 1}of{workers}"))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") == "loadgroup":
        return _group_or_file_scheduling()(config, log)
    return None


def _group_or_file_scheduling():
    from xdist.scheduler import LoadScopeScheduling

    class GroupOrFileScheduling(LoadScopeScheduling):
        """xdist's loadscope with a file or an `xdist_group` as the unit of work; a worker
        gets its next unit when it waits on its last test (not two before: the tests here
        are long, and a unit queued early behind a long one waits while the other worker
        idles)."""

        def _split_scope(self, nodeid: str) -> str:
            if nodeid.rfind("@") > nodeid.rfind("]"):
                return "@" + nodeid.rsplit("@", 1)[1]
            return nodeid.split("::", 1)[0]

        def _reschedule(self, node) -> None:
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            if self._pending_of(self.assigned_work[node]) > 1:
                return
            self._assign_work_unit(node)

    return GroupOrFileScheduling
