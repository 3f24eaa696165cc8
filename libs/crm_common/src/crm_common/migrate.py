"""Migrations run once per release (a one-shot job), never from every replica.

`crm-migrate services/clients` upgrades that service's database (`<SERVICE>_DATABASE_URL`)
to head. Each service's `migrations/env.py` calls `run_env` below. An SQLite database is
claimed while it migrates, so migrating one a service process holds is refused.
"""
import argparse
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from . import config
from .db import DatabaseInUse, make_engine, sqlite_database_claimed, while_unreachable
from .messaging import metadata as messaging_metadata


def alembic_config(service_dir: str | Path, service: str | None = None) -> Config:
    service_dir = Path(service_dir).resolve()
    service = service or service_dir.name
    cfg = Config()
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    cfg.set_main_option("sqlalchemy.url", config.database_url(service).replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service_dir: str | Path, service: str | None = None, revision: str = "head"):
    cfg = alembic_config(service_dir, service)
    while_unreachable(cfg.get_main_option("sqlalchemy.url"), lambda: command.upgrade(cfg, revision))


def run_env(context, service_metadata, messaging: bool = True) -> None:
    """The body of every service's alembic env.py: its tables plus outbox and inbox
    (`messaging=False`: the gateway, which publishes no events)."""
    target = [service_metadata, messaging_metadata] if messaging else [service_metadata]
    # what a service makes with its own SQL (an FTS5 table and its shadow tables, an index
    # of an extension's operator class): autogenerate must neither drop nor report them
    unmanaged = tuple(service_metadata.info.get("unmanaged", ()))

    def include_object(obj, name, type_, reflected, compare_to):
        return not (reflected and compare_to is None and name and name.startswith(unmanaged)
                    and unmanaged)
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    # refused (DatabaseInUse) while a service process holds its SQLite file
    with sqlite_database_claimed(url, context.config.attributes.get("service")):
        engine = make_engine(url)
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target,
                              render_as_batch=url.startswith("sqlite"),
                              include_object=include_object)
            with context.begin_transaction():
                context.run_migrations()
        engine.dispose()


def create_messaging_tables_v1() -> None:
    """The outbox, inbox and idempotency-key tables (version 1), for each service's first
    migration.

    Frozen here once instead of copied into every service; a later change to them gets a
    `..._v2` function and a new migration in each service.
    """
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"))
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"))
    op.create_index("ix_outbox_pending", "outbox", ["sent_at", "id"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"))


def drop_messaging_tables_v1() -> None:
    from alembic import op

    op.drop_table("idempotency_keys")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("inbox")


def upgrade_messaging_tables_v2() -> None:
    """Version 2, for each service's migration `0002`: the pending index of the outbox
    becomes partial (`WHERE sent_at IS NULL`: sent rows, nearly all of them, stay out of
    it), and the columns retention prunes by get indexes (the outbox's partial the other
    way round, so no planner serves the relay from it). Rows are kept as they are."""
    import sqlalchemy as sa
    from alembic import op

    pending = sa.text("sent_at IS NULL")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index("ix_outbox_pending", "outbox", ["id"], unique=False,
                    postgresql_where=pending, sqlite_where=pending)
    sent = sa.text("sent_at IS NOT NULL")
    op.create_index("ix_outbox_sent_at", "outbox", ["sent_at"], unique=False,
                    postgresql_where=sent, sqlite_where=sent)
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"], unique=False)
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"],
                    unique=False)


def downgrade_messaging_tables_v2() -> None:
    from alembic import op

    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_index("ix_inbox_processed_at", table_name="inbox")
    op.drop_index("ix_outbox_sent_at", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index("ix_outbox_pending", "outbox", ["sent_at", "id"], unique=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service_dirs", nargs="+", help="e.g. services/clients")
    parser.add_argument("--revision", default="head")
    parser.add_argument("--queues", action="store_true",
                        help="also declare the service's event queues on the broker "
                             "(AMQP_URI), so no event is missed before it first starts")
    args = parser.parse_args(argv)
    for service_dir in args.service_dirs:
        try:
            upgrade(service_dir, revision=args.revision)
        except DatabaseInUse as exc:
            sys.exit(f"cannot migrate {Path(service_dir).name}: {exc}")
        name = Path(service_dir).resolve().name
        print(f"migrated {name} to {args.revision}", file=sys.stderr)
        from .stack import SERVICES
        if args.queues and name in SERVICES:  # the gateway has no queues
            from .topology import declare, load_service_class
            declared = declare(config.amqp_uri(), load_service_class(SERVICES[name]))
            print(f"declared {name}'s queues: {', '.join(declared) or 'none'}", file=sys.stderr)


if __name__ == "__main__":
    main()
