"""Custom fields: definitions made by administrators at run time (no code, no migration),
and the check of the values written to a client or a contact person. Plain Python.

Values live in the record's `custom_fields` JSON; a retired definition keeps its values
(readable, no longer writable).
"""
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from marshmallow import ValidationError, validate

from crm_common.changes import assign

TYPES = ("text", "number", "decimal", "date", "bool", "choice", "multi_choice", "url", "email")
APPLIES_TO = ("client", "contact", "deal")
UNIQUE_TYPES = ("text", "url", "email", "decimal")  # compared as text, on both databases
MAX_TEXT = 2000
_DECIMAL = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,10})?")  # fullmatch: all of it
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_url = validate.URL(require_tld=False, schemes={"http", "https"})
_email = validate.Email()


@dataclass
class Definition:
    id: str
    key: str
    label: str
    type: str
    applies_to: str
    choices: list = field(default_factory=list)
    required: bool = False
    unique: bool = False
    retired_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    def edit(self, values: dict, now: datetime) -> dict:
        changes = assign(self, values)
        if changes:
            self.updated_at = now
            self.version += 1
        return changes

    def check(self, value):
        """The value as stored, or ValueError saying what is wrong with it."""
        kind = self.type
        if kind == "text":
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                raise ValueError(f"A text of at most {MAX_TEXT} characters.")
            return value
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    (isinstance(value, float) and not math.isfinite(value)):
                raise ValueError("A number.")
            return value
        if kind == "decimal":
            if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
                raise ValueError('An exact decimal string such as "1250.50".')
            return value
        if kind == "date":
            try:
                if isinstance(value, str) and _DATE.fullmatch(value):
                    return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
            raise ValueError("A date as YYYY-MM-DD.")
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError("true or false.")
            return value
        if kind == "choice":
            if value not in self.choices:
                raise ValueError(f"One of: {', '.join(self.choices)}.")
            return value
        if kind == "multi_choice":
            if not isinstance(value, list) or any(item not in self.choices for item in value):
                raise ValueError(f"A list of: {', '.join(self.choices)}.")
            return list(dict.fromkeys(value))
        checker = _url if kind == "url" else _email
        try:
            if not isinstance(value, str):
                raise ValidationError("not text")
            checker(value)
        except ValidationError:
            raise ValueError("A URL (https://...)." if kind == "url" else
                             "An e-mail address.") from None
        return value


def checked_values(definitions: dict[str, Definition], sent, current: dict,
                   creating: bool) -> tuple[dict, dict]:
    """The record's custom fields after `sent` ({key: value}, null removes a key) is merged
    into `current`, and the errors as {"custom_fields.<key>": [message]}."""
    errors: dict[str, list[str]] = {}
    if not isinstance(sent, dict):
        return current, {"custom_fields": ["An object of {key: value}."]}
    values = dict(current)
    for key, value in sent.items():
        definition = definitions.get(key)
        name = f"custom_fields.{key}"
        if definition is None:
            errors[name] = ["Unknown custom field."]
        elif definition.retired_at is not None:
            if current.get(key) != value:  # sending back what GET gave is no change
                errors[name] = ["This custom field is retired: its values are kept, not "
                                "changed."]
        elif value is None or (isinstance(value, str) and not value.strip()):
            if definition.required:
                errors[name] = ["Required."]
            values.pop(key, None)
        else:
            try:
                values[key] = definition.check(value)
            except ValueError as exc:
                errors[name] = [str(exc)]
    if creating:
        for key, definition in definitions.items():
            if definition.required and definition.retired_at is None and \
                    values.get(key) in (None, "", []) and \
                    f"custom_fields.{key}" not in errors:
                errors[f"custom_fields.{key}"] = ["Required."]
    return values, errors
