"""The broker goes away under the gateway: clear 503 problems, nothing half-done, and it
recovers by itself when the broker is back."""
import pytest

from crm_common.rpc import RpcPool
from crm_common.testing import TcpProxy, database_env, start_stack, wait_until
from crm_gateway import create_app

pytestmark = [pytest.mark.fault, pytest.mark.integration]

AUTH = {"Authorization": "Bearer fault-token"}


@pytest.fixture(scope="module")
def clients_service(amqp_uri, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fault")
    stack = start_stack(tmp, amqp_uri, database_env("sqlite", tmp, services=["clients"]),
                        services=["clients"], gateway=False, fake_ares=False)
    yield stack
    stack.stop()


def test_gateway_answers_503_while_the_broker_is_unreachable(clients_service, amqp_uri):
    proxy = TcpProxy().up()
    pool = RpcPool(proxy.uri(amqp_uri), timeout=3)
    app = create_app({"RPC": pool, "CRM_BOOTSTRAP_ADMIN_TOKEN": "fault-token"})
    http = app.test_client()
    try:
        first = http.post("/api/v1/clients", json={"name": "before"}, headers=AUTH)
        assert first.status_code == 201, first.get_json()

        proxy.down()
        failed = http.post("/api/v1/clients", json={"name": "during"}, headers=AUTH)
        assert failed.status_code == 503
        assert failed.content_type.startswith("application/problem+json")
        assert failed.headers.get("Retry-After")
        assert http.get("/readyz").status_code == 503

        proxy.up()
        again = wait_until(lambda: (r := http.post("/api/v1/clients", json={"name": "after"},
                                                   headers=AUTH)).status_code == 201 and r,
                           timeout=20, what="gateway recovering")
        assert again.get_json()["name"] == "after"
        names = {c["name"] for c in http.get("/api/v1/clients", headers=AUTH)
                 .get_json()["items"]}
        assert {"before", "after"} <= names and "during" not in names
    finally:
        pool.close()
        proxy.down()

