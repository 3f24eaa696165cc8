"""The ARES service alone on a real RabbitMQ and database, talking HTTP to a fake ARES."""
import pytest

from ares_service.fake import FakeAres
from crm_common.rpc import RemoteError, RpcPool
from crm_common.testing import cloud_event, database_env, publish_event, start_stack


@pytest.fixture(scope="module")
def fake_ares():
    with FakeAres() as fake:
        yield fake


@pytest.fixture(scope="module")
def service(amqp_uri, tmp_path_factory, fake_ares):
    tmp = tmp_path_factory.mktemp("ares")
    stack = start_stack(tmp, amqp_uri, database_env("sqlite", tmp, services=["ares"]),
                        services=["ares"], gateway=False, fake_ares=False,
                        extra_env={"ARES_BASE_URL": fake_ares.url,
                                   "ARES_READ_TIMEOUT": "2"})
    pool = RpcPool(amqp_uri)
    yield pool
    pool.close()
    stack.stop()


def _created(client_id, ico):
    return cloud_event("clients", "client.created", client_id,
                       {"client": {"id": client_id, "name": "x", "ico": ico}})


def test_found_ico_is_published_and_cached(service, fake_ares, event_tap, amqp_uri):
    tap = event_tap([("ares.events", "ares.*")])
    event = _created("c-sad", "25063677")
    publish_event(amqp_uri, "clients", event)
    done = tap.wait_for(lambda e: e["data"]["client_id"] == "c-sad")
    assert done["type"] == "ares.lookup_succeeded" and done["causationid"] == event["id"]
    assert done["correlationid"] == event["correlationid"]
    record = done["data"]["record"]
    assert record["dic"] == "CZ25063677" and record["vat_payer"] is True
    assert record["registered_address"]["postal_code"] == "27704"
    asked = len(fake_ares.requests)
    publish_event(amqp_uri, "clients", _created("c-sad-2", "25063677"))
    again = tap.wait_for(lambda e: e["data"]["client_id"] == "c-sad-2")
    assert again["data"]["cached"] is True and len(fake_ares.requests) == asked


def test_unknown_ico_is_reported(service, event_tap, amqp_uri):
    tap = event_tap([("ares.events", "ares.*")])
    publish_event(amqp_uri, "clients", _created("c-gone", "25596641"))
    failed = tap.wait_for(lambda e: e["data"]["client_id"] == "c-gone")
    assert failed["type"] == "ares.lookup_failed"
    assert failed["data"]["reason"] == "not_found" and failed["data"]["will_retry"] is False


def test_outage_is_reported_then_retried_until_it_works(service, fake_ares, event_tap,
                                                        amqp_uri):
    tap = event_tap([("ares.events", "ares.*")])
    fake_ares.set_mode("error500")
    try:
        publish_event(amqp_uri, "clients", _created("c-cvut", "68407700"))
        failed = tap.wait_for(lambda e: e["data"]["client_id"] == "c-cvut")
        assert failed["data"]["reason"] == "unavailable" and failed["data"]["will_retry"]
    finally:
        fake_ares.set_mode("ok")
    done = tap.wait_for(lambda e: e["type"] == "ares.lookup_succeeded"
                        and e["data"]["client_id"] == "c-cvut", timeout=30)
    assert done["data"]["record"]["registered_address"]["city"] == "Praha 6"
    assert done["correlationid"] == failed["correlationid"]
    assert done["data"]["attempt"] >= 2
    assert len([e for e in tap.of_type("ares.lookup_failed")
                if e["data"]["client_id"] == "c-cvut"]) == 1


def test_lookup_rpc_validates_the_ico(service):
    with pytest.raises(RemoteError) as exc:
        service.call("ares", "lookup", {"ico": "25063678"})
    assert exc.value.exc_type == "ValidationFailed"
    answer = service.call("ares", "lookup", {"ico": "1603094"})
    assert answer["status"] == "found" and answer["record"]["dic"] is None
