"""The broker goes away under the gateway: clear 503 problems, nothing half-done, and it
recovers by itself when the broker is back."""
import pytest

from crm_common.rpc import RpcPool
from crm_common.testing import TEST_ADMIN_TOKEN, TcpProxy, database_env, start_stack, wait_until
from crm_gateway import create_app

pytestmark = [pytest.mark.fault, pytest.mark.integration]

AUTH = {"Authorization": f"Bearer {TEST_ADMIN_TOKEN}"}


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
    app = create_app({"RPC": pool, "CRM_BOOTSTRAP_ADMIN_TOKEN": TEST_ADMIN_TOKEN})
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



def test_a_window_of_confirms_ends_in_time_while_the_broker_heartbeats_but_blocks(
        private_rabbit):
    """Under a memory alarm the broker takes no publish but keeps sending heartbeats; the
    wait for confirms must still end at the publisher's timeout (py-amqp's drain_events
    restarted its wait after every heartbeat) and report nothing confirmed."""
    import time

    import kombu

    from crm_common.publisher import Publisher

    publisher = Publisher(private_rabbit.amqp_uri, heartbeat=2, timeout=4)
    publisher.declare(kombu.Queue("window-alarm", durable=True))
    private_rabbit.raise_memory_alarm()
    try:
        started = time.monotonic()
        confirmed, error = publisher.publish_many([
            {"body": b"x", "exchange": "", "routing_key": "window-alarm", "delivery_mode": 2}
            for _ in range(20)])
        waited = time.monotonic() - started
    finally:
        private_rabbit.clear_memory_alarm()
        publisher.close()
    assert confirmed == 0 and error is not None
    assert waited < 4 + 2, f"the wait took {waited:.1f}s past a 4 s timeout"
