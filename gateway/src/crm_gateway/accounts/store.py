"""The gateway's database: one engine per app, a transaction per use."""
import contextlib
import threading
from datetime import datetime, timezone

from flask import current_app

from crm_common import config
from crm_common.db import make_engine

_lock = threading.Lock()


def url(app_config) -> str:
    return app_config.get("DATABASE_URL") or config.database_url("gateway")


def engine():
    app = current_app._get_current_object()
    found = app.extensions.get("crm_db")
    if found is None:
        with _lock:
            found = app.extensions.get("crm_db")
            if found is None:
                found = app.extensions["crm_db"] = make_engine(url(app.config))
    return found


@contextlib.contextmanager
def transaction():
    """A connection in a transaction: committed at the end, rolled back on an error."""
    with engine().begin() as connection:
        yield connection


def aware(moment: datetime | None) -> datetime | None:
    """SQLite gives times back without their zone; they were stored in UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment
