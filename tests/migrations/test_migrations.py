"""Every service's migrations build exactly the tables its code maps, on both dialects,
and go down again cleanly."""
import pytest
from alembic import command

from crm_common.migrate import alembic_config
from crm_common.stack import SERVICES, repo_root


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_migrations_match_the_models(service, dialect, tmp_path, monkeypatch, request):
    if dialect == "postgresql":
        url = request.getfixturevalue("make_postgres_db")(f"mig_{service}")
    else:
        url = f"sqlite:///{tmp_path / (service + '.db')}"
    monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", url)
    config = alembic_config(repo_root() / "services" / service, service)
    command.upgrade(config, "head")
    command.check(config)  # raises when the models have changes no migration holds
    command.downgrade(config, "base")
    command.upgrade(config, "head")
