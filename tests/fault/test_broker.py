"""The broker fails under a stream of creations: a private RabbitMQ node (killed, alarmed,
fed poison) behind a stack on SQLite, shared by these scenarios."""
import json
import time
from contextlib import contextmanager

import pika
import pytest

from crm_common.events import CONTENT_TYPE
from crm_common.parking import list_parked
from crm_common.testing import database_env
from fault_harness import Fault, run_scenario
from fault_system import running_system

pytestmark = [pytest.mark.fault, pytest.mark.integration]

HANDLER_QUEUES = ("evt-clients-client.created--ares.on_client_created",
                  "evt-clients-client.created--activities.on_client_created")
POISON = {b"{": "not JSON", json.dumps({"hello": 1}).encode(): "JSON, not a CloudEvent"}
PARK_WITHIN = 4.0  # seconds; the first retry delay is 5 s (CRM_RETRY_DELAYS=5,30)
FAST_ANSWER = 3.0  # seconds; the gateway's RPC timeout is 10 s


@contextmanager
def broker_back(rabbit):
    """A scenario that broke off with the node down or alarmed must not leave it so."""
    try:
        yield
    finally:
        if not rabbit.running:
            rabbit.start()
        else:
            rabbit.clear_memory_alarm()


@pytest.fixture(scope="module")
def system(private_rabbit, fake_ares, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fault-broker")
    with running_system(tmp, private_rabbit.amqp_uri, database_env("sqlite", tmp), fake_ares,
                        setup="private broker node, SQLite") as system:
        yield system


def test_broker_killed_and_restarted(system, private_rabbit):
    fault = Fault(inject=private_rabbit.kill, clear=private_rabbit.start, hold=2, lasts=8)
    with broker_back(private_rabbit):
        outcome = run_scenario(system, "broker kill -9", "The RabbitMQ node's Erlang VM gets "
                               "SIGKILL mid-stream and is started again 2 s later on the same "
                               "data (durable queues and persistent messages survive; what was "
                               "in flight is redelivered).", fault)
    outcome.notes.append(f"the node took {private_rabbit.start_seconds[-1]:.1f} s to start "
                         f"again; the subscriber reconnected "
                         f"{outcome.numbers.get('subscriber_reconnects')} times")
    outcome.verify()


def test_memory_alarm_raised_then_cleared(system, private_rabbit):
    fault = Fault(inject=private_rabbit.raise_memory_alarm,
                  clear=private_rabbit.clear_memory_alarm, hold=6)
    with broker_back(private_rabbit):
        outcome = run_scenario(system, "memory alarm 6 s", "The node's memory high watermark "
                               "is set to 0 (the alarm blocks every publishing connection) for "
                               "6 s, then back to 0.4. Meanwhile the gateway must answer at "
                               "once with 503/504 problems, and recover after.", fault)
    n = outcome.numbers
    p95 = n.get("in_effect_p95_seconds")
    outcome.notes.append(f"{n.get('in_effect_requests')} requests in flight while the alarm "
                         f"was raised: p95 {p95} s; slowest: "
                         f"{'; '.join(n.get('slowest_in_fault') or ['none'])}")
    outcome.check(p95 is not None and p95 < FAST_ANSWER,
                  f"while the alarm was raised the gateway answered slowly: p95 {p95} s of "
                  f"{n.get('in_effect_requests')} requests in flight (limit {FAST_ANSWER} s)")
    outcome.verify()


def test_poison_events_are_parked_and_the_rest_flows(system, private_rabbit):
    uri = private_rabbit.amqp_uri
    found = {}

    def publish_poison():
        connection = pika.BlockingConnection(pika.URLParameters(uri))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            for body in POISON:
                channel.basic_publish("clients.events", "client.created", body,
                                      pika.BasicProperties(content_type=CONTENT_TYPE,
                                                           delivery_mode=2))
        finally:
            connection.close()
        found["published"] = time.monotonic()

    def wait_parked():
        deadline = found["published"] + PARK_WITHIN
        while time.monotonic() < deadline and not _all_parked(uri, found):
            time.sleep(0.3)
        found["seconds"] = time.monotonic() - found["published"]
        found["parked"] = {q: list(v) for q, v in found.get("by_queue", {}).items()}

    fault = Fault(inject=publish_poison, clear=lambda: None, hold=0, lasts=PARK_WITHIN)
    outcome = run_scenario(system, "poison events", "Two poison messages are published to "
                           "`clients.events` with routing key `client.created` mid-stream: "
                           "`{` (not JSON) and `{\"hello\": 1}` (JSON, not a CloudEvent), as "
                           "`application/cloudevents+json`. Both handlers of `client.created` "
                           f"must park both at once (within {PARK_WITHIN:g} s, before the first "
                           "retry delay of 5 s) with the reason in `x-crm-error`, and every "
                           "client of the stream must still complete.", fault,
                           during=wait_parked)
    at_once = found.get("parked", {})
    for queue in HANDLER_QUEUES:
        parked = at_once.get(queue, [])
        outcome.check(len(parked) == len(POISON),
                      f"{queue}: {len(parked)} of {len(POISON)} poison messages parked within "
                      f"{PARK_WITHIN:g} s")
        outcome.check(all(p.get("error") for p in parked),
                      f"{queue}: parked without a reason in x-crm-error")
    reasons = sorted({str(p.get("error"))[:80] for q in HANDLER_QUEUES
                      for p in at_once.get(q, [])})
    outcome.notes.append(f"parking queues checked for {found.get('seconds', 0):.1f} s after "
                         f"publishing; reasons in x-crm-error: {'; '.join(reasons) or 'none'}")
    for queue in HANDLER_QUEUES:
        where = ", ".join(f"{k}: {'none' if v is None else v}"
                          for k, v in _where(uri, queue).items())
        outcome.notes.append(f"at the end, `{queue}`: {where}")
    outcome.verify()


def _all_parked(uri: str, found: dict) -> bool:
    by_queue = {}
    for queue in HANDLER_QUEUES:
        bodies = {p["body"].encode(): p for p in list_parked(uri, queue)}
        by_queue[queue] = [bodies[b] for b in POISON if b in bodies]
    found["by_queue"] = by_queue
    return all(len(v) == len(POISON) for v in by_queue.values())


def _where(uri: str, queue: str) -> dict:
    """How many messages wait in the handler's queue, its retry queues and its parking."""
    connection = pika.BlockingConnection(pika.URLParameters(uri))
    counts = {}
    try:
        for name in (queue, f"{queue}.retry.5000ms", f"{queue}.retry.30000ms",
                     f"{queue}.parking"):
            channel = connection.channel()
            try:
                counts[name.removeprefix(queue) or "queue"] = \
                    channel.queue_declare(name, passive=True).method.message_count
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:
                counts[name.removeprefix(queue) or "queue"] = None  # no such queue
    finally:
        connection.close()
    return counts
