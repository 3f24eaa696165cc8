"""kombu helpers: bounded connections with publisher confirms and heartbeats, and the
exchanges we publish to.

Every broker operation is bounded: a broker that keeps the TCP connection but stops answering
(a memory or disk alarm, a paused node, a proxy holding the socket) must never block a relay
or a worker forever. A connection that failed is dropped without the AMQP close handshake,
which would wait for the same silent broker.
"""
import socket

import kombu

from . import config

RPC_EXCHANGE = "nameko-rpc"  # nameko's RPC exchange; the gateway's client speaks its protocol


def confirmed_connection(uri: str, *, confirms: bool = True, heartbeat: int | None = None,
                         timeout: float | None = None, **kwargs) -> kombu.Connection:
    """An unconnected connection; with `confirms`, a publish waits for the broker's confirm,
    so a publish that returns has been taken over by the broker."""
    timeout = config.amqp_timeout() if timeout is None else timeout
    options = dict(kwargs.pop("transport_options", None) or {}, confirm_publish=confirms)
    return kombu.Connection(uri, transport_options=options, connect_timeout=timeout,
                            heartbeat=config.amqp_heartbeat() if heartbeat is None else heartbeat,
                            **kwargs)


def open_connection(uri: str, *, confirms: bool = True, heartbeat: int | None = None,
                    timeout: float | None = None, **kwargs) -> kombu.Connection:
    """A connected connection whose every read and write waits at most `timeout`.

    One attempt, no kombu retry loop: callers have their own backoff.
    """
    timeout = config.amqp_timeout() if timeout is None else timeout
    connection = confirmed_connection(uri, confirms=confirms, heartbeat=heartbeat,
                                      timeout=timeout, **kwargs)
    try:
        connection.ensure_connection(max_retries=0)
        # py-amqp waits without a timeout for Declare-Ok, Close-Ok, ...; the socket's own
        # timeout bounds those too (explicit per-call timeouts still take precedence)
        connection.connection.transport.sock.settimeout(timeout)
    except BaseException:
        discard(connection)
        raise
    return connection


def discard(connection: kombu.Connection | None) -> None:
    """Close without waiting for the broker (no Channel.Close-Ok, no Connection.Close-Ok)."""
    if connection is None:
        return
    try:
        connection.collect()
    except Exception:  # noqa: BLE001 - it is broken already; all we want is the socket gone
        pass


def keep_alive(connection: kombu.Connection) -> None:
    """Read what the broker sent (its heartbeats, connection.blocked) and send ours when due.

    Call it every few seconds on a connection that sits idle; raises when the connection is
    dead (the caller discards it and opens a new one when it next needs one).
    """
    try:
        connection.drain_events(timeout=0)
    except socket.timeout:
        pass
    connection.heartbeat_check()


def events_exchange(service: str) -> kombu.Exchange:
    return kombu.Exchange(f"{service}.events", type="topic", durable=True, auto_delete=False)
