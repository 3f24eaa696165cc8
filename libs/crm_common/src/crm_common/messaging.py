"""The outbox and inbox tables. Every service has both in its own database."""
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
Index("ix_outbox_pending", outbox.c.sent_at, outbox.c.id)

inbox = Table(
    "inbox", metadata,
    Column("consumer", String(200), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
)

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
