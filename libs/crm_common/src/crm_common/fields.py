"""marshmallow fields and schemas every service's edge uses."""
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from datetime import timezone

from .errors import ValidationFailed
from .events import rfc3339


def load(schema: Schema, data) -> dict:
    """`schema.load(data)`, with a bad input raised as the ValidationFailed callers get."""
    try:
        return schema.load(data or {})
    except ValidationError as exc:
        raise ValidationFailed(exc.messages) from exc


class FullMatch(validate.Regexp):
    """A Regexp the whole value must match: re's `$` also matches before a final newline,
    so "CZK\\n" would pass `^[A-Z]{3}$` (the pattern stays as OpenAPI documents it)."""

    def __call__(self, value):
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


def reasonable_time(value) -> None:
    """A moment a CRM records (1900-2200, convertible to UTC): year 1 with a +14:00 offset
    overflows the conversion, and no meeting happened before 1900."""
    try:
        utc = value.astimezone(timezone.utc) if value.tzinfo else value
    except OverflowError:
        utc = None
    if utc is None or not 1900 <= utc.year <= 2200:
        raise ValidationError("A time between the years 1900 and 2200.")


class UtcDateTime(fields.DateTime):
    """Always RFC 3339 in UTC (`...Z`), whatever the database dialect handed back."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else rfc3339(value)


def unstorable_text(value) -> str | None:
    """Why a string cannot be stored as text on every database, or None: PostgreSQL refuses
    NUL, and a lone surrogate (JSON "\\ud800") is not UTF-8 at all."""
    if "\x00" in value:
        return "Text cannot contain the NUL character."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text must be valid Unicode (a lone surrogate is not)."
    return None


def text_errors(value, path: tuple = ()) -> dict:
    """{dotted path: [message]} of every string in `value` (keys too) that cannot be
    stored."""
    errors = {}
    if isinstance(value, str):
        problem = unstorable_text(value)
        if problem:
            errors[".".join(map(str, path)) or "_schema"] = [problem]
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and unstorable_text(key):
                errors[".".join(map(str, path + (key.encode("utf-8", "replace")
                                                   .decode("utf-8"),)))] = [
                    unstorable_text(key)]
            else:
                errors.update(text_errors(item, path + (key,)))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            errors.update(text_errors(item, path + (index,)))
    return errors


class StrictBoolean(fields.Boolean):
    """JSON true or false only: not 0 and 1, not "yes" (they equal True and False in
    Python, so marshmallow's own truthy sets cannot keep them out)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictSchema(Schema):
    """An input schema: unknown fields are errors, never dropped, and no text that a
    database would refuse (NUL, lone surrogates) gets past it."""
    class Meta:
        unknown = RAISE

    @pre_load
    def _storable_text(self, data, **_):
        errors = text_errors(data)
        if errors:
            raise ValidationError(errors)
        return data
