"""marshmallow fields every service's edge uses."""
from marshmallow import fields

from .events import rfc3339


class UtcDateTime(fields.DateTime):
    """Always RFC 3339 in UTC (`...Z`), whatever the database dialect handed back."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else rfc3339(value)
