"""Interface tests: the activities service for real (`nameko run`), on a private RabbitMQ
vhost and a throw-away PostgreSQL database (crm_common.testing fixtures)."""
import pytest

from crm_common.rpc import RpcPool
from crm_common.testing import database_env, start_stack


@pytest.fixture(scope="module")
def service(amqp_uri, make_postgres_db, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("activities")
    stack = start_stack(tmp, amqp_uri,
                        database_env("postgresql", tmp, make_postgres_db, ["activities"]),
                        services=["activities"], gateway=False, fake_ares=False)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def rpc(amqp_uri):
    pool = RpcPool(amqp_uri, timeout=10)
    yield pool
    pool.close()
