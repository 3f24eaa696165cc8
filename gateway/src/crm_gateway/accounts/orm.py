"""The gateway's tables."""
from datetime import timezone

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, ForeignKey, Index,
                        Integer, MetaData, String, Table)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class UtcDateTime(TypeDecorator):
    """Times go in as UTC: SQLite keeps a datetime's clock reading, not its offset, so a
    `+14:00` expiry compared with a UTC one would be 14 hours off."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value

users = Table(
    "users", metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),  # lower case
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("language", String(10), nullable=False),
    Column("password_hash", String(200)),  # argon2; none: cannot log in with a password
    Column("password_changed_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the secret
    Column("prefix", String(16), nullable=False),  # how people recognise it in a list
    Column("scopes", JSON, nullable=False),
    Column("expires_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(100)),
    Column("last_used_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
)

sessions = Table(
    "sessions", metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # of the cookie's value
    Column("user_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Column("ip", String(45)),
)

login_failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(254), nullable=False),
    Column("ip", String(45), nullable=False),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Index("ix_login_failures_account", "account", "at"),
    Index("ix_login_failures_ip", "ip", "at"),
)

settings = Table(
    "settings", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(100)),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("actor", String(100)),
    Column("user_id", String(36), index=True),
    Column("token_id", String(36)),
    Column("ip", String(45)),
    Column("method", String(10), nullable=False),
    Column("path", String(500), nullable=False),
    Column("resource", String(40), nullable=False, index=True),
    Column("action", String(60), nullable=False),
    Column("record_id", String(100)),
    Column("status", Integer, nullable=False),
    Column("correlation_id", String(128)),
)

# saved views of the client list: a user's own, or shared with everyone
views = Table(
    "views", metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(120), nullable=False),
    Column("resource", String(20), nullable=False),  # what it lists: clients (deals later)
    Column("filters", JSON, nullable=False),  # the list's query parameters
    Column("sort", String(40)),
    Column("columns", JSON, nullable=False),
    Column("shared", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
)

# a user's calendar feed token (GET /api/v1/calendar.ics?token=...): one per user, a new
# one replaces it; stored as the SHA-256 of the secret, like an API token
calendar_feeds = Table(
    "calendar_feeds", metadata,
    Column("user_id", String(36), ForeignKey("users.id"), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime()),
)
