"""The private servers of the fault suite keep what they promised through a crash."""
import pika
import psycopg2
import pytest

from crm_common.testing import start_private
from crm_common.testing_nodes import PrivatePostgres, PrivateRabbit

pytestmark = pytest.mark.integration


def _publish(uri: str, body: bytes) -> None:
    """A persistent message into the durable queue `kept`, confirmed by the broker."""
    connection = pika.BlockingConnection(pika.URLParameters(
        uri + "?blocked_connection_timeout=2"))
    try:
        channel = connection.channel()
        channel.queue_declare("kept", durable=True)
        channel.confirm_delivery()
        channel.basic_publish("", "kept", body, pika.BasicProperties(delivery_mode=2))
    finally:
        if connection.is_open:
            connection.close()


def test_memory_alarm_then_kill_and_restart_keep_a_persistent_message():
    rabbit = start_private(PrivateRabbit)
    try:
        rabbit.raise_memory_alarm()
        with pytest.raises(pika.exceptions.ConnectionBlockedTimeout):
            _publish(rabbit.amqp_uri, b"blocked")  # the broker stops reading publishers
        rabbit.clear_memory_alarm()
        _publish(rabbit.amqp_uri, b"survivor")

        beam = rabbit.beam_pid()
        rabbit.kill()
        assert beam is not None and not rabbit.running
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            pika.BlockingConnection(pika.URLParameters(rabbit.amqp_uri + "?connection_attempts=1"))
        rabbit.start()
        assert rabbit.beam_pid() not in (None, beam) and len(rabbit.start_seconds) == 2

        connection = pika.BlockingConnection(pika.URLParameters(rabbit.amqp_uri))
        channel = connection.channel()
        bodies = []
        while (message := channel.basic_get("kept", auto_ack=True))[0] is not None:
            bodies.append(message[2])
        connection.close()
        assert b"survivor" in bodies
    finally:
        rabbit.close()
    assert not rabbit.dir.exists() and not rabbit.running


def test_a_committed_row_survives_an_immediate_restart_and_a_kill():
    pg = start_private(PrivatePostgres)
    try:
        url = pg.create_database("kept")
        dsn = url.replace("+psycopg2", "")
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE t (v text)")
            cur.execute("INSERT INTO t VALUES ('committed')")
        pg.restart(mode="immediate")
        pg.kill()
        pg.start()
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT v FROM t")
            assert cur.fetchall() == [("committed",)]
    finally:
        pg.close()
    assert not pg.dir.exists()
