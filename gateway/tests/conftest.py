import pytest

from crm_gateway import create_app
from gateway_support import FakeRpc, TOKEN


@pytest.fixture
def rpc():
    return FakeRpc()


@pytest.fixture
def app(rpc):
    return create_app({"RPC": rpc, "CRM_BOOTSTRAP_ADMIN_TOKEN": TOKEN, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()
