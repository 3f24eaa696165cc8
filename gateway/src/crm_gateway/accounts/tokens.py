"""API tokens for integrations: a secret shown once and stored as its SHA-256 (a random
256-bit secret needs no slow hash), named, scoped, expiring, revocable, last use recorded.

A token acts as its user with the user's current role, narrowed by its scopes: `read` or
`write` for everything, or `<resource>:read|write` for one resource (`write` includes
`read`).
"""
import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from werkzeug.exceptions import NotFound

from crm_common.events import rfc3339, utcnow

from .orm import api_tokens, users
from .store import aware

PREFIX = "crm_"
LAST_USE_RESOLUTION = timedelta(minutes=1)  # not one write per request


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def allows(scopes: list[str] | None, resource: str, kind: str) -> bool:
    """Do `scopes` let a token `kind` ("read" | "write") `resource`? None: unscoped."""
    if scopes is None:
        return True
    wanted = {kind, f"{resource}:{kind}"}
    if kind == "read":
        wanted |= {"write", f"{resource}:write"}
    return bool(wanted & set(scopes))


def covers(scopes: list[str] | None, scope: str) -> bool:
    """Do `scopes` include all that `scope` grants?"""
    if scopes is None:
        return True
    if ":" in scope:
        resource, kind = scope.split(":", 1)
        return allows(scopes, resource, kind)
    return scope in scopes or (scope == "read" and "write" in scopes)


def scope_problems(scopes, resources) -> list[str]:
    if not isinstance(scopes, list) or not scopes:
        return ["Give at least one scope: read, write, or <resource>:read|write."]
    known = {"read", "write"} | {f"{r}:{k}" for r in resources for k in ("read", "write")}
    wrong = [s for s in scopes if s not in known]
    return [f"Unknown scope {s!r}; one of read, write, or <resource>:read|write with "
            f"resource one of {', '.join(sorted(resources))}." for s in wrong[:5]]


def to_resource(row) -> dict:
    return {"id": row.id, "name": row.name, "user_id": row.user_id, "prefix": row.prefix,
            "scopes": list(row.scopes), "created_at": rfc3339(aware(row.created_at)),
            "created_by": row.created_by,
            "expires_at": _time(row.expires_at), "last_used_at": _time(row.last_used_at),
            "revoked_at": _time(row.revoked_at), "active": _active(row, utcnow())}


def _time(moment):
    return rfc3339(aware(moment)) if moment else None


def _active(row, now: datetime) -> bool:
    return row.revoked_at is None and (row.expires_at is None or aware(row.expires_at) > now)


def create(connection, user_id: str, name: str, scopes: list[str],
           expires_at: datetime | None, created_by: str | None) -> dict:
    secret = PREFIX + secrets.token_urlsafe(32)
    row = {"id": str(uuid.uuid4()), "user_id": user_id, "name": name,
           "token_hash": digest(secret), "prefix": secret[:10], "scopes": scopes,
           "expires_at": expires_at, "created_at": utcnow(), "created_by": created_by,
           "last_used_at": None, "revoked_at": None}
    connection.execute(api_tokens.insert().values(row))
    return dict(to_resource(get_row(connection, row["id"])), token=secret)


def get_row(connection, token_id: str, user_id: str | None = None):
    query = select(api_tokens).where(api_tokens.c.id == token_id)
    if user_id is not None:  # someone else's token: as if it did not exist
        query = query.where(api_tokens.c.user_id == user_id)
    row = connection.execute(query).first()
    if row is None:
        raise NotFound(f"Token {token_id} does not exist.")
    return row


def page(connection, user_id: str | None, limit: int, offset: int) -> tuple[list, bool]:
    query = select(api_tokens).order_by(api_tokens.c.created_at.desc(), api_tokens.c.id)
    if user_id is not None:
        query = query.where(api_tokens.c.user_id == user_id)
    rows = connection.execute(query.offset(offset).limit(limit + 1)).all()
    return [to_resource(row) for row in rows[:limit]], len(rows) > limit


def revoke(connection, token_id: str, user_id: str | None) -> dict:
    row = get_row(connection, token_id, user_id)
    if row.revoked_at is None:
        connection.execute(update(api_tokens).where(api_tokens.c.id == token_id)
                           .values(revoked_at=utcnow()))
    return to_resource(get_row(connection, token_id))


def authenticate(connection, secret: str):
    """(token row, user row) of a live token of an active user, else None; notes the use."""
    if not secret.startswith(PREFIX):
        return None
    found = connection.execute(
        select(api_tokens, users.c.role, users.c.active, users.c.email)
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(api_tokens.c.token_hash == digest(secret))).first()
    now = utcnow()
    if found is None or not found.active or not _active(found, now):
        return None
    last = aware(found.last_used_at)
    if last is None or now - last >= LAST_USE_RESOLUTION:
        connection.execute(update(api_tokens).where(api_tokens.c.id == found.id)
                           .values(last_used_at=now))
    return found
