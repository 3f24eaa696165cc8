"""The ARES service's own tables: the lookup cache and the refresh (retry) queue."""
from sqlalchemy import (JSON, Column, DateTime, Integer, MetaData, String, Table, Text,
                        UniqueConstraint)

metadata = MetaData()

# One row per IČO: the last answer of the register (found or not found) and until when
# it may be reused. Repeating the same query is what the ministry blocks clients for.
lookup_cache = Table(
    "lookup_cache", metadata,
    Column("ico", String(8), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("record", JSON),
    Column("raw", JSON),
    Column("detail", Text),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# Lookups that could not reach ARES: retried with backoff until they get an answer.
refresh_queue = Table(
    "refresh_queue", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ico", String(8), nullable=False),
    Column("client_id", String(36), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, index=True),
    Column("last_error", Text),
    Column("correlation_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("ico", "client_id", name="uq_refresh_ico_client"),
)
