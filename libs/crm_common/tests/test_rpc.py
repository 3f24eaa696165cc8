"""The gateway's RPC client against a real nameko service on a real broker."""
import time

import pytest

from crm_common.rpc import RemoteError, RpcPool, RpcTimeout
from crm_common.testing import TcpProxy, database_env, start_stack


@pytest.fixture(scope="module")
def deals(amqp_uri, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rpc")
    stack = start_stack(tmp, amqp_uri, database_env("sqlite", tmp, services=["deals"]),
                        services=["deals"], gateway=False, fake_ares=False)
    yield stack
    stack.stop()


def test_calls_errors_and_parallel_fan_out(deals, amqp_uri):
    pool = RpcPool(amqp_uri, timeout=5)
    try:
        assert pool.call("deals", "health", {}) == {"service": "deals", "status": "ok"}
        with pytest.raises(RemoteError) as exc:
            pool.call("nobody", "health", {})
        assert exc.value.exc_type == "ServiceUnavailable"  # returned at once, no timeout
        with pytest.raises(RemoteError) as exc:
            pool.call("deals", "no_such_method", {})
        assert exc.value.exc_type == "MethodNotFound"
        results = pool.fan_out({f"c{i}": ("deals", "health", {}) for i in range(6)})
        assert all(r == {"service": "deals", "status": "ok"} for r in results.values())
    finally:
        pool.close()


def test_a_silent_service_times_out(deals, amqp_uri):
    proxy = TcpProxy().up()
    pool = RpcPool(proxy.uri(amqp_uri), timeout=1)
    try:
        pool.call("deals", "health", {})
        proxy.stalled.set()  # nothing comes back
        started = time.monotonic()
        with pytest.raises((RpcTimeout, OSError)):
            pool.call("deals", "health", {})
        assert time.monotonic() - started < 10
    finally:
        pool.close()
        proxy.down()


def test_a_pooled_connection_broken_while_idle_is_replaced_before_sending(deals, amqp_uri):
    proxy = TcpProxy().up()
    pool = RpcPool(proxy.uri(amqp_uri), timeout=5)
    try:
        pool.call("deals", "health", {})
        proxy.down()  # e.g. the broker restarted while the connection sat in the pool
        proxy.up()
        assert pool.call("deals", "health", {}) == {"service": "deals", "status": "ok"}
    finally:
        pool.close()
        proxy.down()
