"""The organisation's settings (`/api/v1/settings`), read on every request through a short
cache: a change reaches every gateway process within `SETTINGS_CACHE_SECONDS`."""
import threading
import time

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from crm_common.events import utcnow

from .orm import settings

DEFAULTS = {"sales_see_own_only": False}

_lock = threading.Lock()


def read(connection) -> dict:
    stored = {row.key: row.value for row in connection.execute(select(settings))}
    return {key: stored.get(key, default) for key, default in DEFAULTS.items()}


def write(connection, changes: dict, actor: str | None) -> dict:
    """Store the changes (the caller forgets its cache once they are committed)."""
    now = utcnow()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for key, value in changes.items():
        statement = dialect.insert(settings).values(key=key, value=value, updated_at=now,
                                                    updated_by=actor)
        connection.execute(statement.on_conflict_do_update(
            index_elements=["key"], set_={"value": value, "updated_at": now,
                                          "updated_by": actor}))
    return read(connection)


def current(cache: dict, open_connection, max_age: float) -> dict:
    """The settings as of at most `max_age` seconds ago (`cache`: the app's)."""
    now = time.monotonic()
    value, until = cache.get("entry", (None, 0.0))
    if until > now:
        return value
    with _lock:
        value, until = cache.get("entry", (None, 0.0))
        if until <= now:
            with open_connection() as connection:
                value = read(connection)
            cache["entry"] = (value, now + max_age)
    return value
