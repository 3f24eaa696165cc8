"""The deals service runs on a real broker and database (its issue builds the rest)."""
import pytest

from crm_common.rpc import RpcPool
from crm_common.testing import database_env, start_stack


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_deals_answers_health_on_both_dialects(dialect, amqp_uri, tmp_path, request):
    make_pg = request.getfixturevalue("make_postgres_db") if dialect == "postgresql" else None
    stack = start_stack(tmp_path, amqp_uri, database_env(dialect, tmp_path, make_pg, ["deals"]),
                        services=["deals"], gateway=False, fake_ares=False)
    pool = RpcPool(amqp_uri)
    try:
        assert pool.call("deals", "health", {}) == {"service": "deals", "status": "ok"}
    finally:
        pool.close()
        stack.stop()
