"""marshmallow fields every service's edge uses."""
from marshmallow import Schema, ValidationError, fields

from .errors import ValidationFailed
from .events import rfc3339


def load(schema: Schema, data) -> dict:
    """`schema.load(data)`, with a bad input raised as the ValidationFailed callers get."""
    try:
        return schema.load(data or {})
    except ValidationError as exc:
        raise ValidationFailed(exc.messages) from exc


class UtcDateTime(fields.DateTime):
    """Always RFC 3339 in UTC (`...Z`), whatever the database dialect handed back."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else rfc3339(value)
