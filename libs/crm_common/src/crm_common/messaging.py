"""The outbox, inbox and idempotency-key tables. Every service has them in its own database;
`crm_common.retention` prunes them. A change here is frozen as a new
`crm_common.migrate.*_messaging_tables_v<N>` plus a migration in every service."""
from sqlalchemy import (Column, DateTime, Index, Integer, MetaData, String, Table, Text,
                        PrimaryKeyConstraint)

metadata = MetaData()

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("subject", String(100), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
)
# the relay reads pending rows in id order; sent rows (nearly all of them) stay out of it
Index("ix_outbox_pending", outbox.c.id, postgresql_where=outbox.c.sent_at.is_(None),
      sqlite_where=outbox.c.sent_at.is_(None))
# retention deletes sent rows by age; partial too, else SQLite's planner may serve the
# relay's `sent_at IS NULL` from it (or scan the table) instead of from the pending index
Index("ix_outbox_sent_at", outbox.c.sent_at, postgresql_where=outbox.c.sent_at.isnot(None),
      sqlite_where=outbox.c.sent_at.isnot(None))

inbox = Table(
    "inbox", metadata,
    Column("consumer", String(200), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
)
Index("ix_inbox_processed_at", inbox.c.processed_at)  # retention

# Idempotency-Key of writes: the first answer is kept and given again to a retry
# (e.g. after a timeout), so a retried POST never creates a second record.
idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("scope", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
)
Index("ix_idempotency_keys_created_at", idempotency_keys.c.created_at)  # retention
