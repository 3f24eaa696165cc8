import shutil

import pytest

from crm_gateway import create_app
from gateway_support import FakeRpc, TOKEN, migrated_database


@pytest.fixture(scope="session")
def gateway_template(tmp_path_factory):
    """The gateway's database migrated once; each test gets a copy."""
    return migrated_database(tmp_path_factory.mktemp("gateway-db") / "template.db")


@pytest.fixture(autouse=True)
def gateway_database(gateway_template, tmp_path, monkeypatch):
    """Every app a test makes keeps its users, tokens and audit log in its own file."""
    path = tmp_path / "gateway.db"
    shutil.copy(gateway_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("GATEWAY_DATABASE_URL", url)
    return url


@pytest.fixture
def rpc():
    return FakeRpc()


@pytest.fixture
def app(rpc):
    return create_app({"RPC": rpc, "CRM_BOOTSTRAP_ADMIN_TOKEN": TOKEN, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()
