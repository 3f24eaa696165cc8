"""The gateway on a real broker that misbehaves: a paused service, a memory alarm. A stand-in
clients service (pika, in a thread) answers `clients.create` as nameko would."""
import json
import threading
import time
import uuid

import pika
import pytest
from gateway_support import AUTH, CLIENT, TOKEN

from crm_common.amqp import RPC_EXCHANGE
from crm_common.testing import wait_until
from crm_gateway import create_app

pytestmark = pytest.mark.integration


class FakeClientsService:
    """Consumes `clients.*` from its own queue while `running` is set (cleared: a paused
    service whose queue stays bound); records what it handled."""

    def __init__(self, amqp_uri: str):
        self.amqp_uri = amqp_uri
        self.queue = f"test-gw-clients-{uuid.uuid4().hex[:6]}"
        self.handled: list[dict] = []
        self.running = threading.Event()
        self.running.set()
        self._stop = threading.Event()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10), "the fake service did not start"

    def _serve(self, ready):
        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_uri))
        channel = connection.channel()
        channel.exchange_declare(RPC_EXCHANGE, exchange_type="topic", durable=True)
        channel.queue_declare(self.queue, exclusive=True)
        channel.queue_bind(self.queue, RPC_EXCHANGE, routing_key="clients.*")
        ready.set()
        try:
            while not self._stop.is_set():
                method = None
                if self.running.is_set():
                    method, props, body = channel.basic_get(self.queue, auto_ack=True)
                if method is None:
                    connection.sleep(0.02)
                    continue
                self.handled.append(json.loads(body)["kwargs"])
                channel.basic_publish(RPC_EXCHANGE, props.reply_to, json.dumps(
                    {"result": CLIENT, "error": None}), pika.BasicProperties(
                    correlation_id=props.correlation_id, content_type="application/json"))
        finally:
            connection.close()

    def close(self):
        self._stop.set()
        self._thread.join(10)


def gateway(amqp_uri: str, rpc_timeout: float):
    app = create_app({"AMQP_URI": amqp_uri, "RPC_TIMEOUT": rpc_timeout, "AMQP_HEARTBEAT": 2,
                      "CRM_BOOTSTRAP_ADMIN_TOKEN": TOKEN, "READY_CACHE_SECONDS": 0})
    return app, app.test_client()


def create(http, name: str, **headers):
    started = time.monotonic()
    response = http.post("/api/v1/clients", json={"name": name}, headers={**AUTH, **headers})
    return response, time.monotonic() - started


def test_a_paused_service_gives_504_and_never_runs_the_request_later(amqp_uri):
    service = FakeClientsService(amqp_uri)
    app, http = gateway(amqp_uri, rpc_timeout=1)
    try:
        assert create(http, "before")[0].status_code == 201
        service.running.clear()  # paused: its queue is still bound, nobody reads it
        response, took = create(http, "during")
        assert response.status_code == 504, response.get_json()
        assert response.json["type"] == "urn:crm:problem:outcome-unknown"
        assert response.json["idempotency_key"].startswith("auto-")
        # answered at its 1 s deadline, not held for the paused service (the margin is for
        # a machine busy with the other tests: 2.5 s was seen under CI's load)
        assert took < 4
        time.sleep(0.5)  # the queued request's deadline passes
        service.running.set()
        assert create(http, "after")[0].status_code == 201
        names = [kwargs["payload"]["name"] for kwargs in service.handled]
        assert names == ["before", "after"]  # "during" expired in the queue
    finally:
        app.extensions["crm_rpc"].close()
        service.close()


def test_memory_alarm_raised_then_cleared(private_rabbit):
    """The gateway answers at once while the broker blocks publishers, then recovers."""
    service = FakeClientsService(private_rabbit.amqp_uri)
    app, http = gateway(private_rabbit.amqp_uri, rpc_timeout=5)
    try:
        assert create(http, "before")[0].status_code == 201
        private_rabbit.raise_memory_alarm()
        try:
            # the first request to publish is held by the broker: it may still run later
            response, took = create(http, "held", **{"Idempotency-Key": "alarm-1"})
            assert response.status_code == 504 and took < 2, (response.status_code, took)
            assert response.json["idempotency_key"] == "alarm-1"
            # from then on the gateway knows: nothing is sent, a clear 503 at once
            response, took = create(http, "refused")
            assert response.status_code == 503 and took < 0.5, (response.status_code, took)
            assert response.json["type"] == "urn:crm:problem:service-unavailable"
            assert response.headers["Retry-After"]
            ready = http.get("/readyz")
            assert ready.status_code == 200 and ready.json["broker"] == "blocked"
        finally:
            private_rabbit.clear_memory_alarm()
        recovered = wait_until(
            lambda: (r := create(http, "after")[0]).status_code == 201 and r,
            timeout=10, what="the gateway to recover after the alarm")
        assert recovered.json["id"] == CLIENT["id"]
        assert http.get("/readyz").json["broker"] == "ok"
        names = [kwargs["payload"]["name"] for kwargs in service.handled]
        assert "refused" not in names
    finally:
        app.extensions["crm_rpc"].close()
        service.close()
