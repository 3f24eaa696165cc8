"""A thread-safe RPC client speaking nameko's AMQP RPC protocol, for the (non-eventlet) gateway.

Each client owns one connection and an exclusive reply queue; a pool hands clients to
threads, so concurrent requests and parallel fan-out never share a channel.
"""
import json
import queue
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import amqp.exceptions
import kombu

from .amqp import RPC_EXCHANGE

CONNECTION_ERRORS = (OSError, amqp.exceptions.ConnectionError)

HEADER_PREFIX = "nameko"


class RpcTimeout(Exception):
    pass


class NotSent(Exception):
    """The request never left: its connection was already broken (safe to send again)."""


class RemoteError(Exception):
    """The service raised; `exc_type` is its class name, `args_` its JSON args."""

    def __init__(self, exc_type: str, value: str, args_: list):
        super().__init__(f"{exc_type}: {value}")
        self.exc_type = exc_type
        self.value = value
        self.args_ = args_


class RpcClient:
    def __init__(self, amqp_uri: str, timeout: float = 15.0):
        self.timeout = timeout
        self.connection = kombu.Connection(amqp_uri, connect_timeout=5)
        self.channel = self.connection.channel()
        self.exchange = kombu.Exchange(RPC_EXCHANGE, type="topic", durable=True)
        self.reply_to = f"rpc.reply-gateway-{uuid.uuid4()}"
        self.reply_queue = kombu.Queue(self.reply_to, exchange=self.exchange,
                                       routing_key=self.reply_to, exclusive=True,
                                       auto_delete=True)
        self.reply_queue(self.channel).declare()
        self.producer = kombu.Producer(self.channel)
        self._replies: dict[str, dict] = {}
        self._waiting: set[str] = set()
        # mandatory publish: with no service bound the broker returns the call at once
        self.channel.events["basic_return"].add(self._on_return)
        self.consumer = kombu.Consumer(self.channel, [self.reply_queue],
                                       callbacks=[self._on_reply], no_ack=True,
                                       accept=["json"])
        self.consumer.consume()

    def _check_alive(self):
        """Read what is waiting without blocking: a connection the broker closed while it
        sat in the pool shows up here, before the request is sent."""
        try:
            self.connection.drain_events(timeout=0)
        except socket.timeout:
            pass

    def _on_reply(self, body, message):
        correlation = message.properties.get("correlation_id")
        if correlation in self._waiting:  # late replies of timed-out calls are dropped
            self._replies[correlation] = body

    def _on_return(self, exc, exchange, routing_key, message):
        correlation = message.properties.get("correlation_id")
        if correlation in self._waiting:
            self._replies[correlation] = {"error": {
                "exc_type": "ServiceUnavailable", "exc_args": [],
                "value": f"no service is consuming {routing_key}"}}

    def call(self, service: str, method: str, kwargs: dict | None = None,
             context: dict | None = None, timeout: float | None = None):
        correlation = str(uuid.uuid4())
        self._waiting.add(correlation)
        try:
            return self._call(service, method, kwargs, context, timeout, correlation)
        finally:
            self._waiting.discard(correlation)
            self._replies.pop(correlation, None)

    def _call(self, service, method, kwargs, context, timeout, correlation):
        headers = {f"{HEADER_PREFIX}.{k}": v for k, v in (context or {}).items() if v}
        try:
            self._check_alive()
            self.producer.publish(
                json.dumps({"args": [], "kwargs": kwargs or {}}), exchange=self.exchange,
                routing_key=f"{service}.{method}", reply_to=self.reply_to,
                correlation_id=correlation, content_type="application/json",
                content_encoding="utf-8", headers=headers, retry=False,
                mandatory=True)
        except CONNECTION_ERRORS as exc:  # e.g. the broker restarted since we connected
            raise NotSent(str(exc)) from exc
        limit = timeout or self.timeout
        waited = 0.0
        while correlation not in self._replies:
            try:
                self.connection.drain_events(timeout=0.5)
            except socket.timeout:
                waited += 0.5
                if waited >= limit:
                    raise RpcTimeout(f"{service}.{method} did not answer in {limit}s")
        reply = self._replies[correlation]
        error = reply.get("error")
        if error:
            raise RemoteError(error.get("exc_type"), error.get("value"),
                              error.get("exc_args") or [])
        return reply.get("result")

    def close(self):
        try:
            self.connection.release()
        except Exception:  # noqa: BLE001
            pass


class RpcPool:
    def __init__(self, amqp_uri: str, timeout: float = 15.0, fan_out_workers: int = 8):
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        self._idle: queue.LifoQueue[RpcClient] = queue.LifoQueue()
        self._executor = ThreadPoolExecutor(fan_out_workers, thread_name_prefix="rpc")
        self._lock = threading.Lock()

    @contextmanager
    def client(self, fresh: bool = False):
        try:
            if fresh:
                raise queue.Empty
            client = self._idle.get_nowait()
        except queue.Empty:
            client = RpcClient(self.amqp_uri, self.timeout)
        try:
            yield client
        except (RemoteError, RpcTimeout):
            self._idle.put(client)  # the connection is fine (a late reply is dropped)
            raise
        except Exception:
            client.close()  # broken connection: never reuse it
            raise
        else:
            self._idle.put(client)

    def call(self, service, method, kwargs=None, context=None, timeout=None):
        try:
            with self.client() as client:
                return client.call(service, method, kwargs, context, timeout)
        except NotSent:  # a stale pooled connection: the request never left, send it anew
            with self.client(fresh=True) as client:
                return client.call(service, method, kwargs, context, timeout)

    def fan_out(self, calls: dict, context=None, timeout=None) -> dict:
        """Run several calls in parallel: {name: (service, method, kwargs)} -> {name: result|exc}."""
        futures = {name: self._executor.submit(self.call, s, m, kw, context, timeout)
                   for name, (s, m, kw) in calls.items()}
        results = {}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except Exception as exc:  # noqa: BLE001 - the caller decides per part
                results[name] = exc
        return results

    def close(self):
        while not self._idle.empty():
            self._idle.get_nowait().close()
        self._executor.shutdown(wait=False)
