"""Passwords, hashed with argon2 (argon2-cffi's defaults: RFC 9106's second choice)."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256  # hashing a megabyte on every login attempt would be a cheap attack

_hasher = PasswordHasher()
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
    if len(set(password)) < 4:
        return ["Too easy to guess: use more different characters."]
    return []


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
