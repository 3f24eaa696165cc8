"""Errors a service raises across RPC; the gateway turns them into problem+json.

nameko sends the exception's class name and args; keep args JSON-safe.
"""


class CrmError(Exception):
    status = 400


class ValidationFailed(CrmError):
    """args[0]: {field: [messages]}"""
    status = 422

    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


class NotFound(CrmError):
    status = 404


class Forbidden(CrmError):
    """The caller may see the record but not do this to it (another person's template)."""
    status = 403


class Conflict(CrmError):
    """args: (message,) or (message, {details for the problem: existing_id, ...})."""
    status = 409

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(*((message, details) if details else (message,)))
        self.details = details or {}


class PreconditionFailed(CrmError):
    """The caller's `If-Match` names a version that is no longer the current one (someone
    else changed the record since it was read): nothing was changed."""
    status = 412


class PayloadTooLarge(CrmError):
    """What the caller sent is larger than the service takes (an attachment over its
    limit): nothing was stored."""
    status = 413


class DataDamaged(CrmError):
    """Stored bytes no longer match the checksum recorded when they were stored (or are
    gone): they are not handed out. Not the caller's fault; operators restore them."""
    status = 500


class ServiceUnavailable(CrmError):
    """The service could not reach what it needs (its database): nothing was done; the
    caller may simply try again later."""
    status = 503


class OutcomeUnknown(CrmError):
    """The database connection failed while the change was being committed (or after an
    earlier part of the call had committed): it may or may not be stored. A retry with the
    same Idempotency-Key finds out without doing it twice."""
    status = 504


class DeadlineExceeded(CrmError):
    """The caller's deadline passed before the work began: nothing was done (the caller has
    already answered "outcome unknown"; a retry with its Idempotency-Key is safe)."""
    status = 504


class PoisonEvent(Exception):
    """An event handler's verdict that an event can never be processed (not a retryable
    failure): it is parked at once instead of going through the retry delays."""
