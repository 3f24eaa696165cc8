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


class Conflict(CrmError):
    status = 409
