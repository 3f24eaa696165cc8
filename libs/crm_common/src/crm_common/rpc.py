"""A thread-safe RPC client speaking nameko's AMQP RPC protocol, for the (non-eventlet) gateway.

Each client owns one connection and an exclusive reply queue; a pool hands clients to
threads, so concurrent requests and parallel fan-out never share a channel.

Every call carries its deadline: the context header `nameko.deadline` (absolute UNIX time in
integer milliseconds; the services skip a call that reaches them later) and the AMQP
`expiration` (the milliseconds left, so a request still queued at the deadline is dropped by
the broker). Failures come in two kinds the caller must tell apart:

* `NotSent`: nothing was done (the request never left), safe to send again;
* `RpcTimeout`: the request left but no answer came in time; it may or may not have been
  carried out (retry a write with the same idempotency key).
"""
import json
import logging
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import amqp.exceptions
import kombu
import kombu.exceptions

from . import config
from .amqp import RPC_EXCHANGE

log = logging.getLogger(__name__)

# the connection (or its channel) is gone or unusable
CONNECTION_ERRORS = (OSError, amqp.exceptions.AMQPError, kombu.exceptions.KombuError)

HEADER_PREFIX = "nameko"
DEADLINE_KEY = "deadline"  # -> header `nameko.deadline`, UNIX time in integer milliseconds
KEEP_ALIVE_INTERVAL = 1.0  # seconds between looks at idle connections (at most)
WAIT_SLICE = 0.25  # a waiting call looks this often whether the pool learnt of a block
CLOSE_TIMEOUT = 1.0  # seconds a polite close may wait for the broker's Close-Ok


class RpcTimeout(Exception):
    """No answer by the deadline: the request may or may not have been carried out."""


class NotSent(Exception):
    """Nothing was done: the request never left (safe to send again)."""


class BrokerBlocked(NotSent):
    """The broker is blocking publishers (a memory or disk alarm), so nothing was sent."""


class RemoteError(Exception):
    """The service raised; `exc_type` is its class name, `args_` its JSON args."""

    def __init__(self, exc_type: str, value: str, args_: list):
        super().__init__(f"{exc_type}: {value}")
        self.exc_type = exc_type
        self.value = value
        self.args_ = args_


def _ignore(*_args):
    pass


class RpcClient:
    """One connection, one reply queue; used by one thread at a time."""

    def __init__(self, amqp_uri: str, timeout: float = 15.0, *, heartbeat: int | None = None,
                 operation_timeout: float | None = None, connect_timeout: float | None = None,
                 on_blocked=_ignore, on_unblocked=_ignore, broker_blocked=lambda: None):
        self.timeout = timeout
        self.operation_timeout = config.amqp_timeout() if operation_timeout is None \
            else operation_timeout
        self.blocked: str | None = None  # why the broker blocks this connection's publishes
        self.broken = False  # a connection error happened: never reuse this client
        self._on_blocked, self._on_unblocked = on_blocked, on_unblocked
        self._broker_blocked = broker_blocked  # what the pool knows from other connections
        self._replies: dict[str, dict] = {}
        self._waiting: set[str] = set()
        self.connection = kombu.Connection(
            amqp_uri, heartbeat=config.amqp_heartbeat() if heartbeat is None else heartbeat,
            connect_timeout=connect_timeout or self.operation_timeout,
            transport_options={"on_blocked": self._blocked_by_broker,
                               "on_unblocked": self._unblocked_by_broker})
        try:
            self.connection.ensure_connection(max_retries=0)  # one attempt; callers retry
            self._set_up()
        except BaseException:
            self.discard()  # never leak a connection the caller has no handle on
            raise

    def _set_up(self):
        # py-amqp itself, not kombu's wrapper, which would silently reconnect a dropped
        # connection (without our channel and reply queue)
        self._amqp = self.connection.connection
        # py-amqp waits for Declare-Ok, Close-Ok, ... without a timeout of its own: the
        # socket's default timeout bounds them, so a silent broker cannot block us forever
        self._amqp.transport.sock.settimeout(self.operation_timeout)
        self.channel = self.connection.channel()
        self.exchange = kombu.Exchange(RPC_EXCHANGE, type="topic", durable=True)
        self.reply_to = f"rpc.reply-gateway-{uuid.uuid4()}"
        self.reply_queue = kombu.Queue(self.reply_to, exchange=self.exchange,
                                       routing_key=self.reply_to, exclusive=True,
                                       auto_delete=True)
        self.reply_queue(self.channel).declare()
        # mandatory publish: with no service bound the broker returns the call at once
        self.channel.events["basic_return"].add(self._on_return)
        self.consumer = kombu.Consumer(self.channel, [self.reply_queue],
                                       callbacks=[self._on_reply], no_ack=True,
                                       accept=["json"])
        self.consumer.consume()

    @property
    def heartbeat(self) -> float:
        """The interval agreed with the broker (0: off)."""
        return self._amqp.heartbeat or 0

    # -- broker notifications (run inside drain_events, in whichever thread drains) --

    def _blocked_by_broker(self, reason=None):
        self.blocked = reason or "the broker blocks publishers"
        log.warning("RPC connection blocked by the broker: %s", self.blocked)
        self._on_blocked(self, self.blocked)

    def _unblocked_by_broker(self):
        self.blocked = None
        log.info("RPC connection unblocked by the broker")
        self._on_unblocked(self)

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

    # -- keeping the connection alive --

    def _drain_pending(self, limit: int = 100):
        """Handle what the broker already sent (heartbeats, replies, blocked/unblocked)
        without waiting."""
        for _ in range(limit):
            try:
                self._amqp.drain_events(timeout=0)
            except socket.timeout:
                return

    def keep_alive(self) -> bool:
        """For an idle client: read the broker's frames and send our heartbeat when due.
        False when the connection is dead (the caller drops the client)."""
        try:
            self._drain_pending()
            self._amqp.heartbeat_tick()
            return True
        except CONNECTION_ERRORS:
            self.broken = True
            return False

    def ping(self, timeout: float) -> None:
        """One round trip to the broker on this connection (raises when it does not answer
        in `timeout`): a passive declare of our own reply queue."""
        try:
            with self._amqp.transport.having_timeout(timeout):
                self._drain_pending()
                self.channel.queue_declare(queue=self.reply_to, passive=True)
        except CONNECTION_ERRORS:
            self.broken = True
            raise

    # -- calls --

    def call(self, service: str, method: str, kwargs: dict | None = None,
             context: dict | None = None, timeout: float | None = None,
             deadline: float | None = None):
        """`deadline` (time.monotonic()) wins over `timeout`; else now + timeout."""
        if deadline is None:
            deadline = time.monotonic() + (timeout or self.timeout)
        correlation = str(uuid.uuid4())
        self._waiting.add(correlation)
        try:
            self._send(service, method, kwargs, context, deadline, correlation)
            return self._result(self._wait(service, method, deadline, correlation))
        finally:
            self._waiting.discard(correlation)
            self._replies.pop(correlation, None)

    def _send(self, service, method, kwargs, context, deadline, correlation):
        try:
            # a connection the broker closed (or blocked) while it sat idle shows up here
            self._drain_pending()
        except CONNECTION_ERRORS as exc:
            self.broken = True
            raise NotSent(f"{service}.{method}: connection lost before sending: {exc}") from exc
        if self.blocked:
            raise BrokerBlocked(f"{service}.{method}: {self.blocked}")
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:  # e.g. connecting took it all
            raise NotSent(f"{service}.{method}: the deadline passed before sending")
        headers = {f"{HEADER_PREFIX}.{k}": v for k, v in (context or {}).items() if v}
        headers[f"{HEADER_PREFIX}.{DEADLINE_KEY}"] = int(time.time() * 1000) + remaining_ms
        message = self.channel.prepare_message(
            json.dumps({"args": [], "kwargs": kwargs or {}}), None, "application/json",
            "utf-8", headers, {"reply_to": self.reply_to, "correlation_id": correlation,
                               "expiration": str(remaining_ms)})
        try:
            self.channel.basic_publish(message, exchange=RPC_EXCHANGE,
                                       routing_key=f"{service}.{method}", mandatory=True)
        except CONNECTION_ERRORS as exc:
            # a failed write may still have put part of the request on the wire, but the
            # broker only routes a complete message: an incomplete one is never delivered
            self.broken = True
            raise NotSent(f"{service}.{method}: {exc}") from exc

    def _wait(self, service, method, deadline, correlation) -> dict:
        """Read frames until our reply, the deadline, or a reason to stop waiting."""
        while correlation not in self._replies:
            blocked = self.blocked or self._broker_blocked()
            if blocked:
                # the broker holds our request, or the service's reply (its connection is
                # blocked too), until the alarm clears; waiting would only use up the deadline
                raise RpcTimeout(f"{service}.{method}: the broker started blocking publishers "
                                 f"({blocked}) before the answer came")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RpcTimeout(f"{service}.{method} did not answer in time")
            # short slices: notice a block another connection learnt of, and heartbeats
            slice_ = min(remaining, WAIT_SLICE)
            try:
                self._amqp.drain_events(timeout=slice_)
            except socket.timeout:
                pass
            except CONNECTION_ERRORS as exc:
                self.broken = True
                raise RpcTimeout(f"{service}.{method}: connection lost while waiting for "
                                 f"the answer: {exc}") from exc
            try:
                self._amqp.heartbeat_tick()
            except CONNECTION_ERRORS as exc:
                self.broken = True
                raise RpcTimeout(f"{service}.{method}: the broker stopped answering while "
                                 f"we waited: {exc}") from exc
        return self._replies[correlation]

    @staticmethod
    def _result(reply: dict):
        error = reply.get("error")
        if error:
            raise RemoteError(error.get("exc_type"), error.get("value"),
                              error.get("exc_args") or [])
        return reply.get("result")

    # -- closing --

    def close(self):
        """Close politely (the broker deletes the reply queue at once); a broken or blocked
        connection would not answer the close handshake, so it is just dropped."""
        if self.broken or self.blocked:
            self.discard()
            return
        try:
            # a close must never hold up a shutdown for long
            self._amqp.transport.sock.settimeout(min(CLOSE_TIMEOUT, self.operation_timeout))
            self.connection.release()
        except Exception:  # noqa: BLE001 - closing anyway
            self.discard()

    def discard(self):
        """Drop the connection without the AMQP close handshake."""
        try:
            self.connection.collect()
        except Exception:  # noqa: BLE001 - it is broken already; all we want is the socket gone
            pass


class RpcPool:
    """Clients for many threads. Idle clients are kept alive (heartbeats) by a background
    thread, which also reads the broker's `connection.blocked`/`unblocked`: while a
    connection is blocked, calls fail at once with `BrokerBlocked` instead of waiting."""

    def __init__(self, amqp_uri: str, timeout: float = 15.0, fan_out_workers: int = 8, *,
                 heartbeat: int | None = None, operation_timeout: float | None = None,
                 max_connections: int = 64, max_idle: int = 16):
        """At most `max_connections` broker connections at once (a call waits, up to its
        deadline, for one to come free); at most `max_idle` of them kept while idle."""
        self.amqp_uri = amqp_uri
        self.max_connections, self.max_idle = max(1, max_connections), max(0, max_idle)
        self._open = 0  # connections made and not yet closed
        self._freed = threading.Condition()
        self.timeout = timeout
        self.heartbeat = config.amqp_heartbeat() if heartbeat is None else heartbeat
        self.operation_timeout = config.amqp_timeout() if operation_timeout is None \
            else operation_timeout
        self.connections_opened = 0
        self._idle: list[RpcClient] = []  # LIFO: the warmest connection first
        self._blocked: dict[int, str] = {}  # id(client) -> reason, per the broker
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._keeper: threading.Thread | None = None
        self._executor = ThreadPoolExecutor(fan_out_workers, thread_name_prefix="rpc")

    # -- calls --

    def call(self, service, method, kwargs=None, context=None, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        self._refuse_while_blocked(service, method)
        client, reused = self._acquire(deadline)
        try:
            return self._call_with(client, service, method, kwargs, context, deadline)
        except BrokerBlocked:
            raise
        except NotSent:
            if not reused:
                raise
        # a stale pooled connection: the request never left, send it anew
        client, _ = self._acquire(deadline, fresh=True)
        return self._call_with(client, service, method, kwargs, context, deadline)

    def _call_with(self, client, service, method, kwargs, context, deadline):
        try:
            return client.call(service, method, kwargs, context, deadline=deadline)
        finally:
            self._release(client)

    def fan_out(self, calls: dict, context=None, timeout=None, timings: dict | None = None
                ) -> dict:
        """Run several calls in parallel: {name: (service, method, kwargs)} -> {name: result|exc}.
        `timings`, when given, receives {name: seconds} per call."""
        def timed(name, service, method, kwargs):
            started = time.monotonic()
            try:
                return self.call(service, method, kwargs, context, timeout)
            finally:
                if timings is not None:
                    timings[name] = time.monotonic() - started

        futures = {name: self._executor.submit(timed, name, s, m, kw)
                   for name, (s, m, kw) in calls.items()}
        results = {}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except Exception as exc:  # noqa: BLE001 - the caller decides per part
                results[name] = exc
        return results

    # -- the broker's state --

    def blocked_reason(self) -> str | None:
        """Why the broker blocks our publishers right now (None: it does not, as far as
        we know)."""
        with self._lock:
            return next(iter(self._blocked.values()), None)

    def _refuse_while_blocked(self, service, method):
        reason = self.blocked_reason()
        if reason:
            raise BrokerBlocked(f"{service}.{method}: {reason}")

    def _client_blocked(self, client, reason):
        with self._lock:
            self._blocked[id(client)] = reason

    def _client_unblocked(self, client):
        with self._lock:
            self._blocked.pop(id(client), None)

    def check_broker(self, timeout: float) -> str:
        """"ok" when a round trip to the broker succeeds within `timeout` (on an idle
        connection, else a new one), "blocked" while it blocks our publishers; raises
        NotSent when it cannot be reached."""
        if self.blocked_reason():
            return "blocked"
        deadline = time.monotonic() + timeout
        client, reused = self._acquire(deadline)
        try:
            self._ping(client, deadline)
        except NotSent:
            if not reused:
                raise
            client, _ = self._acquire(deadline, fresh=True)  # that idle one was stale
            self._ping(client, deadline)
        return "ok"

    def _ping(self, client: RpcClient, deadline: float):
        try:
            client.ping(max(0.01, deadline - time.monotonic()))
        except CONNECTION_ERRORS as exc:
            raise NotSent(f"the broker did not answer: {exc}") from exc
        finally:
            self._release(client)  # dropped if it failed

    # -- the clients --

    def _acquire(self, deadline: float, fresh: bool = False) -> tuple[RpcClient, bool]:
        """(client, reused): an idle client, else a new connection (NotSent if none can be
        made before the deadline)."""
        with self._freed:
            while True:
                if not fresh:
                    with self._lock:
                        if self._idle:
                            return self._idle.pop(), True
                if self._open < self.max_connections:
                    self._open += 1
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._freed.wait(remaining):
                    raise NotSent(f"all {self.max_connections} broker connections of this "
                                  "process are busy")
        connect_timeout = min(self.operation_timeout, max(0.1, deadline - time.monotonic()))
        try:
            client = RpcClient(self.amqp_uri, self.timeout, heartbeat=self.heartbeat,
                               operation_timeout=self.operation_timeout,
                               connect_timeout=connect_timeout,
                               on_blocked=self._client_blocked,
                               on_unblocked=self._client_unblocked,
                               broker_blocked=self.blocked_reason)
        except CONNECTION_ERRORS as exc:
            self._closed_one()
            raise NotSent(f"cannot connect to the broker: {exc}") from exc
        except BaseException:
            self._closed_one()
            raise
        with self._lock:
            self.connections_opened += 1
        return client, False

    def _closed_one(self):
        with self._freed:
            self._open -= 1
            self._freed.notify()

    def _release(self, client: RpcClient):
        if client.broken or self._closed.is_set():
            self._drop(client)
            return
        with self._lock:
            self._idle.append(client)
            # past a burst, the pool shrinks back: the longest idle ones go
            surplus = self._idle[:max(0, len(self._idle) - self.max_idle)]
            del self._idle[:len(surplus)]
        for extra in surplus:
            self._drop(extra)
        with self._freed:
            self._freed.notify()  # a caller waiting for a connection can take this one
        self._start_keeper()

    def _drop(self, client: RpcClient):
        self._client_unblocked(client)  # its word on the broker's state goes with it
        client.close()
        self._closed_one()

    def _start_keeper(self):
        if self._keeper is None:
            with self._lock:
                if self._keeper is None:
                    self._keeper = threading.Thread(target=self._keep_idle_alive,
                                                    name="rpc-keepalive", daemon=True)
                    self._keeper.start()

    def _keep_idle_alive(self):
        """Heartbeats need frames read and sent while a connection sits idle, or the broker
        closes it after two intervals; reading also catches `connection.unblocked`."""
        interval = min(KEEP_ALIVE_INTERVAL, self.heartbeat / 4) if self.heartbeat \
            else KEEP_ALIVE_INTERVAL
        while not self._closed.wait(interval):
            with self._lock:
                idle = list(self._idle)
            for client in idle:
                with self._lock:
                    if client not in self._idle:
                        continue  # a caller took it meanwhile
                    self._idle.remove(client)
                if not client.keep_alive():
                    log.info("dropping a broken idle RPC connection")
                self._release(client)

    def close(self):
        self._closed.set()
        with self._lock:
            idle, self._idle = self._idle, []
        for client in idle:
            client.close()
        self._executor.shutdown(wait=False)
