"""The first administrator: from `CRM_ADMIN_EMAIL` and `CRM_ADMIN_PASSWORD`, or through a
one-time setup link. `python -m crm_gateway.setup` (run by `make run` after the
migrations) does whichever applies and prints how to log in."""
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from crm_common.events import utcnow

from .orm import settings
from .store import aware
from .tokens import digest
from . import users

SETUP_KEY = "setup_token"  # a row of `settings`: {"digest", "expires_at"}


def issue(connection, hours: float) -> str:
    """A new one-time token (replacing any earlier one)."""
    token = secrets.token_urlsafe(24)
    expires = utcnow() + timedelta(hours=hours)
    connection.execute(delete(settings).where(settings.c.key == SETUP_KEY))
    connection.execute(settings.insert().values(
        key=SETUP_KEY, value={"digest": digest(token), "expires_at": expires.isoformat()},
        updated_at=utcnow(), updated_by="setup"))
    return token


def redeem(connection, token: str) -> bool:
    """True once for the right, unexpired token while no user exists; it is used up."""
    from datetime import datetime  # noqa: PLC0415

    if users.count(connection) > 0:
        return False
    row = connection.execute(select(settings).where(settings.c.key == SETUP_KEY)).first()
    if row is None or not isinstance(row.value, dict):
        return False
    expires = aware(datetime.fromisoformat(row.value["expires_at"]))
    if expires <= utcnow() or not secrets.compare_digest(
            row.value["digest"], digest(token)):
        return False
    connection.execute(delete(settings).where(settings.c.key == SETUP_KEY))
    return True
