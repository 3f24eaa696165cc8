"""Queues declared at release time keep the events published before a consumer first runs."""
from crm_common.rpc import RpcPool
from crm_common.testing import (cloud_event, create_vhost, database_env, delete_vhost,
                                publish_event, start_stack, wait_until)
from crm_common.topology import handler_queues, load_service_class


def test_queues_are_read_from_the_service_class():
    clients = load_service_class("clients_service.service:ClientsService")
    assert sorted(q.name for q in handler_queues(clients)) == [
        "evt-ares-ares.lookup_failed--clients.on_lookup_failed",
        "evt-ares-ares.lookup_succeeded--clients.on_lookup_succeeded"]
    [queue] = [q for q in handler_queues(clients) if "succeeded" in q.name]
    assert queue.exchange.name == "ares.events" and queue.routing_key == \
        "ares.lookup_succeeded" and queue.durable and not queue.auto_delete


def test_an_event_published_before_the_consumer_ever_ran_is_handled(amqp_uri, tmp_path):
    """activities has never run on this (new) vhost; the release step declared its queues."""
    amqp_uri, vhost = create_vhost("crm-topology")
    try:
        _early_event_is_kept(amqp_uri, tmp_path)
    finally:
        delete_vhost(vhost)


def _early_event_is_kept(amqp_uri, tmp_path):
    env = database_env("sqlite", tmp_path, services=["activities"])
    stack = start_stack(tmp_path, amqp_uri, env, services=[], gateway=False, fake_ares=False)
    stack.services = ["activities"]
    stack.migrate()  # the release step: schema and queues, no service running yet
    event = cloud_event("clients", "client.created", "c-early",
                        {"client": {"id": "c-early", "name": "Brzký", "ico": None}})
    publish_event(amqp_uri, "clients", event)
    stack.start_service("activities")
    pool = RpcPool(amqp_uri)
    try:
        timeline = wait_until(lambda: pool.call("activities", "timeline",
                                                {"client_id": "c-early"})["items"],
                              timeout=30, what="the early event on the timeline")
        assert [e["title"] for e in timeline] == ["Client created"]
    finally:
        pool.close()
        stack.stop()
