"""Password login for people: a server-side session behind an HttpOnly cookie, with a CSRF
token that cookie-authenticated writes must send back; failed logins rate-limited per
account and per address."""
import hmac
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select

from crm_common.events import rfc3339, utcnow

from . import passwords, users
from .orm import login_failures, sessions
from .orm import users as users_table
from .store import aware
from .tokens import digest

COOKIE = "crm_session"
CSRF_HEADER = "X-CSRF-Token"


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"too many failed logins; retry in {retry_after}s")
        self.retry_after = retry_after


class LoginFailed(Exception):
    pass


def login(open_transaction, email: str, password: str, ip: str, limits: dict
          ) -> tuple[dict, str]:
    """(session answer, cookie value); TooManyAttempts or LoginFailed otherwise.

    The attempt is counted as a failure before the password is checked (so concurrent
    guesses cannot all slip under the limit) and uncounted when it was right; a locked
    account or address is refused without checking, so guessing goes no faster. The hash
    is checked outside any transaction: it must not hold the database."""
    account = normalized(email)
    with open_transaction() as connection:
        attempt = count_attempt(connection, account, ip, limits)
        row = users.by_email(connection, account)
    ok = passwords.verify(row.password_hash if row is not None else None, password)
    if not ok or not row.active:
        raise LoginFailed()
    with open_transaction() as connection:
        connection.execute(delete(login_failures).where(
            (login_failures.c.account == account) | (login_failures.c.id == attempt)))
        users.rehash_if_needed(connection, row, password)
        return start(connection, row, ip, limits)


def normalized(email: str) -> str:
    return email.strip().lower()[:254]


def count_attempt(connection, account: str, ip: str, limits: dict) -> int:
    """TooManyAttempts while the account or the address is locked; else the attempt is
    recorded as a failure (its id, to take it back when it succeeds)."""
    now = utcnow()
    window = timedelta(seconds=limits["window"])
    _check_limit(connection, login_failures.c.account == account, limits["per_account"],
                 now, window)
    _check_limit(connection, login_failures.c.ip == ip, limits["per_ip"], now, window)
    return connection.execute(login_failures.insert().values(
        account=account, ip=ip, at=now)).inserted_primary_key[0]


def forgive(connection, attempt: int) -> None:
    """The attempt was right after all."""
    connection.execute(delete(login_failures).where(login_failures.c.id == attempt))


def start(connection, row, ip: str, limits: dict) -> tuple[dict, str]:
    """A new session of the user `row`: (answer, cookie value)."""
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(hours=limits["session_hours"])
    connection.execute(sessions.insert().values(
        id=str(uuid.uuid4()), token_hash=digest(cookie), user_id=row.id, csrf_token=csrf,
        created_at=now, expires_at=expires, ip=ip))
    return {"user": users.to_resource(row), "csrf_token": csrf,
            "expires_at": rfc3339(expires)}, cookie


def _check_limit(connection, which, limit: int, now, window) -> None:
    since = now - window
    count, oldest = connection.execute(
        select(func.count(), func.min(login_failures.c.at))
        .where(which, login_failures.c.at > since)).one()
    if count >= limit:
        retry = int((aware(oldest) + window - now).total_seconds()) + 1
        raise TooManyAttempts(max(retry, 1))


def logout(connection, cookie: str) -> bool:
    """True when a session ended."""
    return connection.execute(delete(sessions).where(
        sessions.c.token_hash == digest(cookie))).rowcount > 0


def authenticate(connection, cookie: str):
    """(session row, user row) of a live session of an active user, else None."""
    found = connection.execute(
        select(sessions.c.id.label("session_id"), sessions.c.csrf_token, sessions.c.expires_at,
               sessions.c.user_id, users_table.c.role, users_table.c.active,
               users_table.c.email)
        .join(users_table, users_table.c.id == sessions.c.user_id)
        .where(sessions.c.token_hash == digest(cookie))).first()
    if found is None or not found.active or aware(found.expires_at) <= utcnow():
        return None
    return found


def csrf_ok(expected: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(expected.encode(), sent.encode(
        "utf-8", "surrogatepass"))


def prune(connection, window_seconds: float) -> None:
    """Expired sessions and old failures go (called now and then, not per request)."""
    now = utcnow()
    connection.execute(delete(sessions).where(sessions.c.expires_at <= now))
    connection.execute(delete(login_failures).where(
        login_failures.c.at <= now - timedelta(seconds=window_seconds)))
