"""Phones, bank accounts and list-of-values fields of a client: plain Python, no framework.

Every normaliser returns the canonical form or raises `InvalidValue` naming the field.
"""
import re

from stdnum import iban
from stdnum.cz import bankaccount
from stdnum.exceptions import InvalidFormat, ValidationError as StdnumError

from crm_common.phones import e164

_CZECH_ACCOUNT = re.compile(r"([0-9]{1,6}-)?[0-9]{2,10}/[0-9]{4}")  # all of it, nothing after


class InvalidValue(ValueError):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def normalize_phone(value, field_name: str = "phone") -> str:
    """E.164 (`+420603111222`): `603 111 222`, `+420 603 111 222` and `00420603111222` alike."""
    try:
        return e164(value)
    except ValueError as exc:
        raise InvalidValue(field_name, str(exc)) from exc


def normalize_bank_account(value, field_name: str = "number") -> str:
    """A Czech account (`19-2000145399/0800`, checked with its bank code) or an IBAN
    (compact, upper case)."""
    text = str(value or "").strip()
    try:
        if "/" in text:
            if not _CZECH_ACCOUNT.fullmatch(text.replace(" ", "")):
                raise InvalidFormat()
            compact = bankaccount.validate(text)
            prefix_number, bank = compact.split("/")
            prefix, _, number = prefix_number.rpartition("-")
            prefix = prefix.lstrip("0")
            return f"{prefix + '-' if prefix else ''}{number.lstrip('0')}/{bank}"
        return iban.validate(text)
    except StdnumError as exc:
        raise InvalidValue(field_name, "Not a valid Czech account number (prefix-number/bank "
                                       f"code) or IBAN: {exc.message}") from exc


def first_value(entries: list | None) -> str | None:
    """`email` / `phone` of the resource: the first of its list."""
    return entries[0]["value"] if entries else None


def with_first_value(entries: list | None, value: str | None) -> list:
    """The list after `email` / `phone` was set on its own: the first entry's value replaced
    (its label kept), added when the list was empty, removed when set to null."""
    rest = list(entries or [])
    head = rest.pop(0) if rest else {"value": None, "label": None}
    if value is None:
        return rest
    return [{"value": value, "label": head.get("label")}, *rest]
