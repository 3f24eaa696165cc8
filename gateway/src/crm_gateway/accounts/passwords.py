"""Passwords, hashed with argon2id (OWASP's parameters: 19 MiB, 2 passes, 1 lane), and at
most `CONCURRENT_HASHES` hashed at once per process: every login attempt, wrong ones too,
costs a hash, and unbounded they would let anyone exhaust the gateway's memory."""
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256  # hashing a megabyte on every login attempt would be a cheap attack

# 4 x 19 MiB at most; a gateway process has 16 request threads by default (gunicorn_conf)
CONCURRENT_HASHES = 4
WAIT_FOR_HASHING = 5.0  # seconds; then the attempt is refused as "busy" (503)

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_hashing = threading.BoundedSemaphore(CONCURRENT_HASHES)


class Busy(Exception):
    """Too many passwords being hashed right now: try again in a moment."""


# verified when the account does not exist, so a wrong e-mail takes as long as a wrong
# password (no telling which accounts exist by the time the answer takes)
_DUMMY = _hasher.hash("no such account, but the same work")


def problems(password) -> list[str]:
    """What is wrong with a new password (nothing: an empty list)."""
    if not isinstance(password, str):
        return ["Not a string."]
    if len(password) < MIN_LENGTH:
        return [f"At least {MIN_LENGTH} characters."]
    if len(password) > MAX_LENGTH:
        return [f"At most {MAX_LENGTH} characters."]
    if any(word in password.lower() for word in ("change_me", "changeme", "change-me")):
        return ["A placeholder from an example, not a password."]
    return []


def _bounded(work):
    if not _hashing.acquire(timeout=WAIT_FOR_HASHING):
        raise Busy()
    try:
        return work()
    finally:
        _hashing.release()


def hash_password(password: str) -> str:
    return _bounded(lambda: _hasher.hash(password))


def verify(password_hash: str | None, password: str) -> bool:
    def check():
        try:
            return _hasher.verify(password_hash or _DUMMY, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False
    return _bounded(check)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
