"""A backlog of events waiting for the activities service (it was down) is worked off in
batches, one transaction each, with exactly one timeline entry per event; SQLite and
PostgreSQL, the service for real (`nameko run`) on a private vhost."""
import json
import uuid

import pika
import pytest
from sqlalchemy import create_engine, func, select

from activities_service.orm import timeline_entries
from activities_service.service import CONSUMER
from crm_common.events import CONTENT_TYPE
from crm_common.messaging import inbox
from crm_common.stack import Stack
from crm_common.testing import (cloud_event, create_vhost, database_env, delete_vhost,
                                wait_until)

BACKLOG = 400


@pytest.fixture(params=["sqlite", "postgresql"])
def stopped_service(request, tmp_path):
    """The activities service's database and queues made (the release step), not started."""
    amqp_uri, vhost = create_vhost("crm-backlog")
    make_postgres_db = request.getfixturevalue("make_postgres_db") \
        if request.param == "postgresql" else None
    env = {"AMQP_URI": amqp_uri, "LOG_LEVEL": "INFO",
           **database_env(request.param, tmp_path, make_postgres_db, ["activities"])}
    stack = Stack(env=env, var_dir=tmp_path / "var", services=["activities"], gateway=False)
    stack.migrate()
    engine = create_engine(env["ACTIVITIES_DATABASE_URL"])
    yield stack, engine
    stack.stop()
    engine.dispose()
    delete_vhost(vhost)


def _publish(amqp_uri: str, events: list[dict]):
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    channel.confirm_delivery()
    for event in events:
        channel.basic_publish("clients.events", event["type"], json.dumps(event).encode(),
                              pika.BasicProperties(content_type=CONTENT_TYPE, delivery_mode=2,
                                                   message_id=event["id"]))
    connection.close()


def _client_created(n: int) -> dict:
    client = {"id": str(uuid.uuid4()), "name": f"Backlog {n}", "ico": None}
    return cloud_event("clients", "client.created", client["id"], {"client": client})


def test_a_backlog_is_worked_off_in_batches_with_one_entry_per_event(stopped_service):
    stack, engine = stopped_service
    events = [_client_created(n) for n in range(BACKLOG)]
    _publish(stack.env["AMQP_URI"], events + events[::7])  # every 7th one twice
    stack.start_service("activities")
    stack.wait_services()

    def entries() -> int:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(timeline_entries))
    wait_until(lambda: entries() >= BACKLOG, timeout=20, what="the backlog worked off")
    with engine.connect() as conn:
        recorded = conn.scalars(select(timeline_entries.c.event_id)).all()
        # a batch's inbox rows share their processed_at: one value per transaction
        transactions = conn.scalar(select(func.count(inbox.c.processed_at.distinct()))
                                   .where(inbox.c.consumer == CONSUMER))
    assert sorted(recorded) == sorted(event["id"] for event in events)
    assert transactions <= BACKLOG / 10
