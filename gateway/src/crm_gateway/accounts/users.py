"""Users: the people who log in. Administrators manage them; e-mails are unique whatever
their case."""
import uuid
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict, NotFound, PreconditionFailed

from crm_common.events import rfc3339, utcnow

from . import passwords
from .orm import api_tokens, calendar_feeds, sessions, users
from .store import aware

ROLES = ("admin", "manager", "sales", "readonly")
LANGUAGES = ("cs", "en", "sk", "de", "pl")
DEFAULT_TIME_ZONE = "Europe/Prague"
_ZONES = None


def valid_time_zone(name) -> bool:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return isinstance(name, str) and name in _ZONES


def to_resource(row) -> dict:
    return {"id": row.id, "email": row.email, "name": row.name, "role": row.role,
            "active": bool(row.active), "time_zone": row.time_zone, "language": row.language,
            "has_password": row.password_hash is not None,
            "created_at": rfc3339(aware(row.created_at)),
            "updated_at": rfc3339(aware(row.updated_at)), "version": row.version}


def get_row(connection, user_id: str):
    row = connection.execute(select(users).where(users.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"User {user_id} does not exist.")
    return row


def by_email(connection, email: str):
    return connection.execute(select(users).where(users.c.email == email.lower())).first()


def count(connection) -> int:
    return connection.scalar(select(func.count()).select_from(users))


def page(connection, limit: int, offset: int, role: str | None = None,
         active: bool | None = None, q: str | None = None) -> tuple[list[dict], bool]:
    """By name; one more row than asked tells whether there is a next page."""
    query = select(users).order_by(users.c.name, users.c.id)
    if role:
        query = query.where(users.c.role == role)
    if active is not None:
        query = query.where(users.c.active.is_(active))
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(func.lower(users.c.name).like(pattern) |
                            users.c.email.like(pattern))
    rows = connection.execute(query.offset(offset).limit(limit + 1)).all()
    return [to_resource(row) for row in rows[:limit]], len(rows) > limit


def create(connection, data: dict) -> dict:
    now = utcnow()
    row = {"id": str(uuid.uuid4()), "email": data["email"].lower(), "name": data["name"],
           "role": data["role"], "active": data.get("active", True),
           "time_zone": data.get("time_zone") or DEFAULT_TIME_ZONE,
           "language": data.get("language") or "cs", "password_hash": None,
           "password_changed_at": None, "created_at": now, "updated_at": now, "version": 1}
    if data.get("password"):
        row["password_hash"], row["password_changed_at"] = \
            passwords.hash_password(data["password"]), now
    try:
        with connection.begin_nested():
            connection.execute(users.insert().values(row))
    except IntegrityError as exc:
        raise Conflict(f"email: a user with {row['email']} exists already.") from exc
    return to_resource(get_row(connection, row["id"]))


def change(connection, user_id: str, changes: dict, if_match: int | None) -> dict:
    """A partial update; a deactivated user's sessions end at once (their tokens stop
    working because the user is inactive)."""
    row = get_row(connection, user_id)
    if if_match is not None and row.version != if_match:
        raise PreconditionFailed(f"User {user_id} is at version {row.version}, not "
                                 f"{if_match}: read it again and reapply your change.")
    values = {name: value.lower() if name == "email" else value
              for name, value in changes.items() if getattr(row, name) != value}
    if not values:
        return to_resource(row)
    if row.role == "admin" and row.active and (
            values.get("active") is False or values.get("role", "admin") != "admin") \
            and _active_admins(connection) <= 1:
        raise Conflict("This is the last active administrator: make someone else an "
                       "administrator first.")
    values.update(updated_at=utcnow(), version=row.version + 1)
    try:
        with connection.begin_nested():
            done = connection.execute(update(users).where(
                users.c.id == user_id, users.c.version == row.version).values(values))
    except IntegrityError as exc:
        raise Conflict(f"email: a user with {values.get('email')} exists already.") from exc
    if done.rowcount != 1:
        raise PreconditionFailed(f"User {user_id} was changed by someone else at the same "
                                 "time: read it again and reapply your change.")
    if values.get("active") is False:  # they leave: their tokens are revoked for good
        connection.execute(update(api_tokens).where(
            api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=utcnow()))
        connection.execute(calendar_feeds.delete().where(
            calendar_feeds.c.user_id == user_id))  # and their calendar feed's
    if values.get("active") is False or "role" in values:
        end_sessions(connection, user_id)
    return to_resource(get_row(connection, user_id))


def _active_admins(connection) -> int:
    return connection.scalar(select(func.count()).select_from(users).where(
        users.c.role == "admin", users.c.active.is_(True)))


def set_password(connection, user_id: str, password: str, keep_session: str | None = None
                 ) -> dict:
    """A new password (set by an administrator, or by the user with their old one): every
    session of the user ends but `keep_session` (the one that changed it)."""
    row = get_row(connection, user_id)
    now = utcnow()
    connection.execute(update(users).where(users.c.id == user_id).values(
        password_hash=passwords.hash_password(password), password_changed_at=now,
        updated_at=now, version=row.version + 1))
    end_sessions(connection, user_id, but=keep_session)
    return to_resource(get_row(connection, user_id))


def end_sessions(connection, user_id: str, but: str | None = None) -> None:
    query = sessions.delete().where(sessions.c.user_id == user_id)
    if but:
        query = query.where(sessions.c.id != but)
    connection.execute(query)


def rehash_if_needed(connection, row, password: str) -> None:
    if row.password_hash and passwords.needs_rehash(row.password_hash):
        connection.execute(update(users).where(users.c.id == row.id).values(
            password_hash=passwords.hash_password(password)))


def time_zone(row) -> ZoneInfo:
    return ZoneInfo(row.time_zone)
