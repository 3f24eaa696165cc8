"""Calendar feed tokens: the secret in the URL a calendar app subscribes to
(GET /api/v1/calendar.ics?token=...), because such apps send no headers.

One per user: making a new one replaces (revokes) the old. Stored as its SHA-256 like an
API token (`tokens.digest`); shown once. It lets its holder read that user's feed and
nothing else, and stops working when revoked, replaced, or the user is deactivated.
"""
import secrets

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from crm_common.events import rfc3339, utcnow

from .orm import calendar_feeds, users
from .store import aware
from .tokens import LAST_USE_RESOLUTION, digest

# not `crm_`: a feed token is never taken for an API token, nor one for the other
PREFIX = "crmcal_"


def create(connection, user_id: str) -> dict:
    """A new token for `user_id`, replacing theirs; the secret is in this answer only."""
    secret = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    values = {"token_hash": digest(secret), "created_at": now, "last_used_at": None}
    replace = update(calendar_feeds).where(calendar_feeds.c.user_id == user_id)
    if connection.execute(replace.values(values)).rowcount == 0:
        try:
            with connection.begin_nested():
                connection.execute(calendar_feeds.insert().values(user_id=user_id, **values))
        except IntegrityError:  # another request made one at the same moment: this one wins
            connection.execute(replace.values(values))
    return {"token": secret, "created_at": rfc3339(now)}


def status(connection, user_id: str) -> dict:
    row = connection.execute(select(calendar_feeds).where(
        calendar_feeds.c.user_id == user_id)).first()
    if row is None:
        return {"active": False, "created_at": None, "last_used_at": None}
    return {"active": True, "created_at": rfc3339(aware(row.created_at)),
            "last_used_at": rfc3339(aware(row.last_used_at)) if row.last_used_at else None}


def revoke(connection, user_id: str) -> bool:
    """Forget the user's token (nothing left to show); whether there was one."""
    done = connection.execute(calendar_feeds.delete().where(
        calendar_feeds.c.user_id == user_id))
    return done.rowcount > 0


def authenticate(connection, secret: str):
    """The user row (id, role) of a live feed token of an active user, else None; notes
    the use (once a minute at most)."""
    if not secret.startswith(PREFIX):
        return None
    found = connection.execute(
        select(calendar_feeds.c.user_id, calendar_feeds.c.last_used_at, users.c.role)
        .join(users, users.c.id == calendar_feeds.c.user_id)
        .where(calendar_feeds.c.token_hash == digest(secret), users.c.active.is_(True))
    ).first()
    if found is None:
        return None
    now, last = utcnow(), aware(found.last_used_at)
    if last is None or now - last >= LAST_USE_RESOLUTION:
        connection.execute(update(calendar_feeds).where(
            calendar_feeds.c.user_id == found.user_id).values(last_used_at=now))
    return found
