"""What the gateway owns itself: users, API tokens, login sessions, the organisation's
settings and the audit log, in its own database (`GATEWAY_DATABASE_URL`, SQLite under var/
by default), migrated with Alembic like the services' (gateway/migrations)."""
