"""The client register's domain: plain Python, no framework."""
from dataclasses import dataclass, field
from datetime import datetime

from stdnum.cz import dic as cz_dic
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

from crm_common.events import rfc3339, to_utc

KINDS = ("company", "person")
# Fields the business register is the authority for.
REGISTRY_FIELDS = ("name", "dic", "vat_payer", "legal_form", "legal_form_name", "nace",
                   "registered_address")


class InvalidValue(ValueError):
    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


def normalize_ico(value) -> str | None:
    """IČO: digits only, an IČO typed as 7 digits (or fewer) is zero-padded to 8."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).replace(" ", "").strip()
    if not text.isdigit() or len(text) > 8:
        raise InvalidValue("ico", "IČO must be up to 8 digits")
    text = text.zfill(8)
    if cz_dic.calc_check_digit_legal(text[:7]) != text[7]:
        raise InvalidValue("ico", "IČO has a wrong check digit")
    return text


def normalize_dic(value) -> str | None:
    """DIČ: Czech ones checked by python-stdnum; other EU VAT numbers by their own rules."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).replace(" ", "").upper()
    try:
        if text.startswith("CZ") or text.isdigit():
            return "CZ" + cz_dic.validate(text)
        return eu_vat.compact(eu_vat.validate(text))
    except StdnumError as exc:
        raise InvalidValue("dic", f"DIČ is not valid: {exc.message}") from exc


@dataclass
class Client:
    id: str
    name: str
    kind: str = "company"
    ico: str | None = None
    dic: str | None = None
    vat_payer: bool | None = None
    legal_form: str | None = None
    legal_form_name: str | None = None
    nace: list = field(default_factory=list)
    registered_address: dict | None = None
    email: str | None = None
    phone: str | None = None
    registry_source: str | None = None
    registry_fetched_at: datetime | None = None
    registry_status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    def apply_registry(self, record: dict, fetched_at: datetime, now: datetime) -> dict:
        """Take the register's data; returns {field: {before, after}} of what changed.

        A lookup older than the data already applied is ignored, so lookups delivered
        out of order never roll a client back.
        """
        if self.registry_fetched_at and to_utc(self.registry_fetched_at) >= fetched_at \
                and self.registry_status == "ok":
            return {}
        changes = {}
        for name in REGISTRY_FIELDS:
            if name not in record:
                continue
            after = record[name]
            if name == "name" and not after:
                continue
            before = getattr(self, name)
            if before != after:
                changes[name] = {"before": before, "after": after}
                setattr(self, name, after)
        registry_before = self.registry
        self.registry_source, self.registry_fetched_at, self.registry_status = \
            "ares", fetched_at, "ok"
        changes["registry"] = {"before": registry_before, "after": self.registry}
        self._touch(now)
        return changes

    def mark_registry(self, status: str, now: datetime) -> dict:
        """Record a failed lookup; the data stays as entered."""
        if self.registry_status == status or (self.registry_status == "ok" and
                                              status == "unavailable"):
            return {}
        before = self.registry
        self.registry_source, self.registry_status = "ares", status
        self._touch(now)
        return {"registry": {"before": before, "after": self.registry}}

    @property
    def registry(self) -> dict | None:
        if not self.registry_status:
            return None
        fetched = self.registry_fetched_at
        return {"source": self.registry_source, "status": self.registry_status,
                "fetched_at": rfc3339(fetched) if fetched else None}

    def _touch(self, now: datetime):
        self.updated_at = now
        self.version += 1

