"""The whole system on a real RabbitMQ: every service and the gateway as processes, ARES
served by the fake (a real HTTP server with the recorded answers), on SQLite and PostgreSQL."""
import pytest
import requests

from ares_service.fake import FakeAres
from crm_common.testing import TEST_ADMIN_TOKEN, EventTap, database_env, start_stack

TOKEN = TEST_ADMIN_TOKEN


class Api:
    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {TOKEN}"

    def __getattr__(self, method):
        def call(path, **kwargs):
            kwargs.setdefault("timeout", 30)
            return self.http.request(method.upper(), self.base + path, **kwargs)
        return call


class System:
    def __init__(self, stack, fake, tap, amqp_uri):
        self.stack, self.fake, self.tap, self.amqp_uri = stack, fake, tap, amqp_uri
        self.api = Api(stack.url)

    def free_ico(self, ico: str) -> None:
        """Archive the active clients holding `ico`: one active client per IČO, and the
        fake ARES knows only a few, which several tests take in turn."""
        for client in self.api.get("/api/v1/clients", params={"ico": ico}).json()["items"]:
            assert self.api.post(f"/api/v1/clients/{client['id']}/archive").status_code == 200


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def system(request, amqp_uri, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"e2e-{request.param}")
    make_pg = request.getfixturevalue("make_postgres_db") if request.param == "postgresql" \
        else None
    fake = FakeAres().start()
    tap = EventTap(amqp_uri, [(f"{s}.events", "#") for s in
                              ("clients", "ares", "activities", "deals", "importer")])
    stack = start_stack(tmp, amqp_uri, database_env(request.param, tmp, make_pg),
                        extra_env={"ARES_BASE_URL": fake.url, "ARES_READ_TIMEOUT": "2"},
                        fake_ares=False)
    yield System(stack, fake, tap, amqp_uri)
    stack.stop()
    tap.close()
    fake.stop()




@pytest.fixture(scope="module")
def small_stack(request, amqp_uri, tmp_path_factory):
    """`small_stack(backend, services, extra_env)`: a stack of a few services and the
    gateway on "sqlite" or "postgresql", ARES unreachable (nothing there waits for it);
    the caller stops it."""
    def start(backend: str, services, extra_env=None):
        tmp = tmp_path_factory.mktemp(f"stack-{backend}")
        make_pg = request.getfixturevalue("make_postgres_db") if backend == "postgresql" \
            else None
        return start_stack(tmp, amqp_uri, database_env(backend, tmp, make_pg),
                           services=services, fake_ares=False,
                           extra_env={"ARES_BASE_URL": "http://127.0.0.1:9/nothing",
                                      **(extra_env or {})})
    return start
