"""The shipped images and docker-compose.yml, run for real: `make smoke` (scripts/smoke.sh).

Driven through the Docker API (the Docker SDK for Python) and the compose command, so the same
test runs on an operator's Docker host and here, where podman serves the Docker API. The stack
runs with the fake ARES (profile `fake`), on its own ports, and is removed with its volumes
afterwards. What it proves:
- every image runs as a non-root user and declares a healthcheck;
- `up` gives a working system: a new client gets its ARES data and its timeline entries;
- `--scale activities=3` runs three competing consumers, and every event is handled once;
- RabbitMQ's container restarted under load loses nothing: every client the API accepted gets
  exactly one "Client created" entry.
"""
import os
import secrets
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import docker
import pytest
import requests

from crm_common.stack import free_port
from crm_common.testing import wait_until

ROOT = Path(__file__).resolve().parents[2]
PROJECT = os.environ.get("COMPOSE_PROJECT_NAME", "crmsmoke")
SAD = "25063677"   # a recording of the fake ARES: SAD s.r.o.
IMAGES = ["clients", "deals", "activities", "ares", "importer", "gateway"]
UP_TIMEOUT = 300
HTTP_TIMEOUT = 30   # above the gateway's RPC deadline (10 s): its 504 is an answer, not a hang

pytestmark = pytest.mark.timeout(900)


def compose_command() -> list[str]:
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed")


class Stack:
    def __init__(self):
        self.command = compose_command()
        files = os.environ.get("SMOKE_COMPOSE_FILES", "docker-compose.yml").split(":")
        self.files = [arg for f in files for arg in ("-f", str(ROOT / f))]
        self.gateway_port = free_port()
        self.management_port = free_port()
        self.token = secrets.token_urlsafe(36)
        self.env = {
            **os.environ,
            "COMPOSE_PROJECT_NAME": PROJECT,
            "GATEWAY_PORT": str(self.gateway_port),
            "RABBITMQ_MANAGEMENT_PORT": str(self.management_port),
            "CRM_BOOTSTRAP_ADMIN_TOKEN": self.token,
            "ARES_BASE_URL": "http://fake-ares:8099/ekonomicke-subjekty-v-be/rest",
            "POSTGRES_PASSWORD": secrets.token_hex(12),
            **{f"{name.upper()}_DB_PASSWORD": secrets.token_hex(12) for name in IMAGES},
        }
        self.docker = docker.from_env(timeout=120)
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {self.token}"
        self.url = f"http://127.0.0.1:{self.gateway_port}"

    def compose(self, *args, timeout=UP_TIMEOUT, check=True) -> subprocess.CompletedProcess:
        argv = [*self.command, *self.files, "--profile", "fake", *args]
        result = subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def containers(self, service: str, all=False):
        return self.docker.containers.list(all=all, filters={"label": [
            f"com.docker.compose.project={PROJECT}", f"com.docker.compose.service={service}"]})

    def get(self, path: str, **kwargs):
        return self.api.get(self.url + path, timeout=HTTP_TIMEOUT, **kwargs)

    def post(self, path: str, **kwargs):
        return self.api.post(self.url + path, timeout=HTTP_TIMEOUT, **kwargs)

    def management(self, path: str):
        response = requests.get(f"http://127.0.0.1:{self.management_port}/api{path}",
                                auth=("guest", "guest"), timeout=10)
        response.raise_for_status()
        return response.json()

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "60", check=False, timeout=60).stdout


@pytest.fixture(scope="module")
def stack():
    stack = Stack()
    stack.compose("down", "--volumes", "--remove-orphans", check=False)
    build = ["--build"] if os.environ.get("SMOKE_BUILD", "compose") == "compose" else ["--no-build"]
    failed = True
    try:
        stack.compose("up", "-d", *build, timeout=1200 if build == ["--build"] else UP_TIMEOUT)
        wait_until(lambda: stack.get("/healthz").status_code == 200, 120, interval=1,
                   what="the gateway's /healthz")
        # a container is healthy once its process runs; the clients service answers RPCs only
        # after nameko has started, which takes a while on a busy two-core machine
        wait_until(lambda: stack.get("/api/v1/clients?limit=1").status_code == 200, 180,
                   interval=2, what="the clients service answering through the gateway")
        failed = False
        yield stack
    finally:
        if failed or os.environ.get("SMOKE_LOGS"):
            print(stack.logs())
        stack.compose("down", "--volumes", "--remove-orphans", check=False)


def test_images_run_as_a_user_and_declare_a_healthcheck(stack):
    prefix, tag = stack.env.get("CRM_IMAGE_PREFIX", "crm"), stack.env.get("CRM_IMAGE_TAG", "dev")
    for name in IMAGES:
        image = f"{prefix}/{name}:{tag}"
        uid = stack.docker.containers.run(image, ["python", "-c", "import os; print(os.getuid())"],
                                          remove=True)
        assert uid.decode().strip() == "10001", name
        # what a container gets from the image (podman's API leaves it out of the image's config)
        created = stack.docker.containers.create(image, ["true"])
        try:
            healthcheck = created.attrs["Config"].get("Healthcheck") or {}
        finally:
            created.remove()
        assert healthcheck.get("Test") == ["CMD", "python", "-m", "crm_common.healthcheck"], name
    for name in ["clients", "activities", "ares", "gateway"]:
        [container] = stack.containers(name)
        wait_until(lambda: _health(container) == "healthy", 120, interval=1,
                   what=f"{name} healthy")
    migrations = stack.containers("migrate-clients", all=True)
    assert [c.attrs["State"]["ExitCode"] for c in migrations] == [0]
    # the compose file's options reach PostgreSQL (every service keeps a pool for writes and
    # one for reads: the default 100 connections are too few)
    [postgres] = stack.containers("postgres")
    shown = postgres.exec_run(["psql", "-h", "127.0.0.1", "-U", "crm", "-d", "postgres", "-tAc",
                               "SHOW max_connections"],
                              environment={"PGPASSWORD": stack.env["POSTGRES_PASSWORD"]})
    assert (shown.exit_code, shown.output.decode().strip()) == (0, "300")


def _health(container) -> str:
    container.reload()
    return container.attrs["State"].get("Health", {}).get("Status", "")


def test_a_new_client_gets_its_registry_data_and_timeline(stack):
    response = stack.post("/api/v1/clients", json={"name": "Sad", "ico": SAD})
    assert response.status_code == 201, response.text
    client_id = response.json()["id"]

    def enriched():
        body = stack.get(f"/api/v1/clients/{client_id}").json()
        return body if body["registry"]["status"] == "ok" else None
    client = wait_until(enriched, 60, interval=1, what="ARES data on the client")
    assert client["name"] == "SAD s.r.o." and client["dic"] == "CZ25063677"

    def timeline():
        items = stack.get(f"/api/v1/clients/{client_id}/timeline").json()["items"]
        return items if len(items) >= 2 else None
    titles = [entry["title"] for entry in wait_until(timeline, 60, interval=1,
                                                     what="the timeline")]
    assert titles[:2] == ["Data loaded from ARES", "Client created"]


def test_three_activities_replicas_and_a_broker_restart_lose_nothing(stack):
    stack.compose("up", "-d", "--no-build", "--no-recreate", "--scale", "activities=3")
    wait_until(lambda: len(stack.containers("activities")) == 3, 120, interval=1,
               what="three activities containers")

    def consumers_on_every_activities_queue():
        # evt-<source>-<event type>--activities.<handler>: each replica consumes from each
        queues = [q for q in stack.management("/queues/%2F")
                  if "--activities." in q["name"] and not q["name"].endswith(".parking")]
        return queues and all(q.get("consumers", 0) >= 3 for q in queues)
    wait_until(consumers_on_every_activities_queue, 120, interval=1,
               what="three consumers on activities' queues")

    accepted: dict[str, str] = {}          # idempotency key -> client id
    stop = threading.Event()
    errors: list[str] = []                 # answers no broker restart excuses

    def create(key: str) -> bool:
        try:
            response = stack.post("/api/v1/clients", json={"name": f"Smoke {key[:8]}"},
                                  headers={"Idempotency-Key": key})
        except requests.RequestException:
            return False
        if response.status_code >= 500 and response.status_code not in (502, 503, 504):
            errors.append(f"{response.status_code} {response.text[:300]}")
        if response.status_code in (200, 201):
            accepted[key] = response.json()["id"]
            return True
        return False

    keys = [str(uuid.uuid4()) for _ in range(60)]
    pending = list(keys)

    def writer():
        while pending and not stop.is_set():
            key = pending[0]
            if create(key):
                pending.pop(0)
            else:
                time.sleep(0.5)   # the broker is away: the same key again
            time.sleep(0.05)

    thread = threading.Thread(target=writer)
    thread.start()
    wait_until(lambda: len(accepted) >= 15, 60, interval=1,
               what="clients created before the restart")
    [rabbitmq] = stack.containers("rabbitmq")
    rabbitmq.restart(timeout=30)
    thread.join(timeout=300)
    stop.set()
    assert not pending, f"{len(pending)} clients never accepted after the restart"
    assert len(accepted) == len(keys)

    def created_entries(client_id):
        items = stack.get(f"/api/v1/clients/{client_id}/timeline").json()["items"]
        return [e for e in items if e["title"] == "Client created"]

    def all_handled():
        counts = {cid: len(created_entries(cid)) for cid in accepted.values()}
        return counts if all(counts.values()) else None
    counts = wait_until(all_handled, 180, interval=3,
                        what="a timeline entry for every accepted client")
    assert set(counts.values()) == {1}, {cid: n for cid, n in counts.items() if n != 1}
    assert not errors, errors[:3]
