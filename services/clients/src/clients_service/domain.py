"""The client register's domain: plain Python, no framework."""
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from stdnum.cz import dic as cz_dic
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError

from crm_common import ico
from crm_common.events import rfc3339, to_utc

from crm_common.changes import assign
from .contact_data import InvalidValue, first_value, with_first_value

KINDS = ("company", "person")
RELATIONSHIPS = ("customer", "prospect", "partner", "supplier", "competitor", "other")
CATEGORIES = ("A", "B", "C")
CHANNELS = ("email", "phone", "post", "meeting")
# Fields the business register is the authority for.
REGISTRY_FIELDS = ("name", "dic", "vat_payer", "vat_group_dic", "legal_form",
                   "legal_form_name", "nace", "registered_address", "dissolved_on")
# those a user may override (a trade name, say): a user's edit survives later refreshes
OVERRIDABLE = ("name", "dic", "vat_payer", "legal_form", "legal_form_name", "nace",
               "registered_address")
# what the register says that has no column of the client: kept in `registry_values` only,
# so that the card shows it
REGISTER_ONLY = ("established_on", "delivery_address", "primary_source",
                 "updated_in_registry_on")
# display-only keys of a register address that the client's own address does not keep
# (its Address has five keys in every event; `registry_values` keeps the register's whole)
REGISTER_ADDRESS_EXTRAS = ("postal_code_formatted",)


def normalize_ico(value) -> str | None:
    """IČO: digits only, an IČO typed as 7 digits (or fewer) is zero-padded to 8."""
    if value is None or str(value).strip() == "":
        return None
    try:
        return ico.validate(value)
    except ValueError as exc:
        raise InvalidValue("ico", str(exc)) from exc


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
    vat_group_dic: str | None = None
    legal_form: str | None = None
    legal_form_name: str | None = None
    nace: list = field(default_factory=list)
    registered_address: dict | None = None
    dissolved_on: str | None = None
    email: str | None = None
    phone: str | None = None
    registry_source: str | None = None
    registry_fetched_at: datetime | None = None
    registry_status: str | None = None
    # when the register last answered for this client (lookup time): older answers
    # delivered late are ignored, whatever they say
    registry_checked_at: datetime | None = None
    website: str | None = None
    description: str | None = None
    industry: str | None = None
    relationship: str | None = None
    category: str | None = None
    tags: list = field(default_factory=list)
    owner_id: str | None = None
    parent_id: str | None = None  # the parent company (a group of any depth)
    emails: list = field(default_factory=list)  # [{value, label}]; `email` is the first
    phones: list = field(default_factory=list)  # E.164; `phone` is the first
    contact_address: dict | None = None
    delivery_addresses: list = field(default_factory=list)
    bank_accounts: list = field(default_factory=list)  # [{number, currency, primary}]
    billing: dict | None = None
    contact_preferences: dict | None = None
    custom_fields: dict = field(default_factory=dict)  # {key: value}, see custom_fields.py
    # the register's own values of REGISTRY_FIELDS (last answer), and the fields whose
    # value is the user's instead
    registry_values: dict | None = None
    registry_overrides: list = field(default_factory=list)
    created_by: str | None = None
    updated_by: str | None = None
    archived_at: datetime | None = None
    erased_at: datetime | None = None  # its personal data was erased (GDPR)
    merged_into: str | None = None  # the client it was merged into (then archived)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    def edit(self, values: dict, actor: str | None, now: datetime) -> dict:
        """A user's partial update (validated values): each field sent replaces that field,
        lists whole. Returns {field: {before, after}} of what really changed."""
        values = dict(values)
        overrides = values.pop("registry_overrides", None)
        for name in MERGED_OBJECTS:  # one key sent changes that key, never the others
            if values.get(name) is not None:
                values[name] = with_defaults(name, {**(getattr(self, name) or {}),
                                                    **values[name]})
        for single, many in (("email", "emails"), ("phone", "phones")):
            if single in values:
                values[many] = with_first_value(getattr(self, many), values.pop(single))
        if "ico" in values:
            values["ico"] = normalize_ico(values["ico"])
        if "dic" in values:
            values["dic"] = normalize_dic(values["dic"])
        changes = assign(self, values)
        for single, many in (("email", "emails"), ("phone", "phones")):
            before, after = getattr(self, single), first_value(getattr(self, many))
            if before != after:
                changes[single] = {"before": before, "after": after}
                setattr(self, single, after)
        if "ico" in changes:  # another subject: what the register said no longer holds
            registry_before = self.registry
            self.registry_source = "ares" if self.ico else None
            self.registry_status = "pending" if self.ico else None
            self.registry_fetched_at = self.registry_checked_at = None
            self.registry_values = None  # so no override given back takes the old values
            changes["registry"] = {"before": registry_before, "after": self.registry}
        self._override(changes, overrides)
        if changes:
            self.updated_by = actor
            self._touch(now)
        return changes

    def _override(self, changes: dict, sent: list | None) -> None:
        """A user's edit of a register field makes it theirs; `sent` (the whole list, when
        given) also gives fields back to the register, which takes its value again."""
        before = list(self.registry_overrides)
        wanted = set(before if sent is None else sent)
        if self.ico:
            wanted |= {name for name in changes if name in OVERRIDABLE}
        after = [name for name in OVERRIDABLE if name in wanted]
        for name in set(before) - set(after):
            if self.registry_values and name in self.registry_values and \
                    not absent(self.registry_values[name]):
                value = applied_value(name, self.registry_values[name])
                if getattr(self, name) != value:
                    changes[name] = {"before": getattr(self, name), "after": value}
                    setattr(self, name, value)
        if after != before:
            changes["registry_overrides"] = {"before": before, "after": after}
            self.registry_overrides = after

    def erase(self, actor: str | None, now: datetime) -> list[str]:
        """GDPR erasure of a person: every value that could identify them is dropped; what
        stays is the record's id, kind, classification and dates (deals and activities may
        point at it). It leaves the lists (archived). Returns the names of the fields
        erased, never their values."""
        if self.kind != "person":
            raise ValueError("only a person's data is personal data")
        erased = [name for name in PERSONAL_FIELDS if getattr(self, name) not in
                  (None, "", [], {})]
        blank = Client(id=self.id, name=ERASED_NAME)
        for name in PERSONAL_FIELDS:
            setattr(self, name, getattr(blank, name))
        self.registry_source = self.registry_status = None
        self.registry_fetched_at = self.registry_checked_at = None
        self.archived_at = self.archived_at or now
        self.erased_at, self.updated_by = now, actor
        self._touch(now)
        return erased

    def archive(self, actor: str | None, now: datetime) -> dict:
        if self.archived_at is not None:
            return {}
        return self._set_archived(now, actor, now)

    def restore(self, actor: str | None, now: datetime) -> dict:
        if self.archived_at is None:
            return {}
        return self._set_archived(None, actor, now)

    def merge_into(self, target_id: str, actor: str | None, now: datetime) -> dict:
        """This client was merged into `target_id`: it leaves the lists for good (it points
        there, and is never changed again)."""
        changes = {} if self.archived_at is not None else self._set_archived(now, actor, now)
        self.merged_into, self.updated_by = target_id, actor
        if not changes:
            self._touch(now)
        return {"merged_into": {"before": None, "after": target_id}, **changes}

    def _set_archived(self, archived_at, actor, now) -> dict:
        changes = {"archived_at": {"before": rfc3339(self.archived_at) if self.archived_at
                                   else None,
                                   "after": rfc3339(archived_at) if archived_at else None}}
        self.archived_at, self.updated_by = archived_at, actor
        self._touch(now)
        return changes

    def apply_registry(self, record: dict, fetched_at: datetime, now: datetime) -> dict:
        """Take the register's data; returns {field: {before, after}} of what changed.

        What the register leaves out (no DIČ, no address) keeps what the user entered:
        absence in ARES is no proof. An answer older than the last one applied is ignored.
        """
        if self._outdated(fetched_at):
            return {}
        changes, registry_before = {}, self.registry
        self.registry_values = {name: record.get(name)
                                for name in REGISTRY_FIELDS + REGISTER_ONLY}
        for name in REGISTRY_FIELDS:
            after = applied_value(name, record.get(name))
            if name in self.registry_overrides:
                continue  # the user's value stands; the register's is in registry_values
            if absent(after) and name != "dissolved_on":  # None there means "not dissolved"
                continue
            before = getattr(self, name)
            if before != after:
                changes[name] = {"before": before, "after": after}
                setattr(self, name, after)
        self.registry_source, self.registry_fetched_at, self.registry_status = \
            "ares", fetched_at, "ok"
        self.registry_checked_at = fetched_at
        changes["registry"] = {"before": registry_before, "after": self.registry}
        self._touch(now)
        return changes

    def mark_registry(self, status: str, checked_at: datetime, now: datetime) -> dict:
        """Record a failed lookup; the data stays as entered."""
        if self._outdated(checked_at):
            return {}
        self.registry_checked_at = checked_at
        if self.registry_status == status or (self.registry_status == "ok" and
                                              status == "unavailable"):
            return {}  # an outage does not make loaded data any less true
        before = self.registry
        self.registry_source, self.registry_status = "ares", status
        self._touch(now)
        return {"registry": {"before": before, "after": self.registry}}

    def _outdated(self, answered_at: datetime) -> bool:
        return self.registry_checked_at is not None and \
            to_utc(self.registry_checked_at) > to_utc(answered_at)

    @property
    def registry(self) -> dict | None:
        return registry_view(self.registry_source, self.registry_status,
                             self.registry_fetched_at, self.registry_values)

    def _touch(self, now: datetime):
        self.updated_at = now
        self.version += 1



def applied_value(name: str, value):
    """The register's value of a field as the client keeps it."""
    if name == "registered_address" and isinstance(value, dict):
        return {key: item for key, item in value.items()
                if key not in REGISTER_ADDRESS_EXTRAS}
    return value


def registry_view(source, status, fetched_at, values: dict | None = None) -> dict | None:
    """The register's state for a client; `values`: what it last said (also for fields
    the user overrode)."""
    if not status:
        return None
    return {"source": source, "status": status,
            "fetched_at": rfc3339(fetched_at) if fetched_at else None, "values": values}


ERASED_NAME = "Erased person"
# what identifies a person client, dropped by `Client.erase`
PERSONAL_FIELDS = ("name", "ico", "dic", "vat_payer", "vat_group_dic", "legal_form",
                   "legal_form_name", "nace", "registered_address", "dissolved_on", "email",
                   "phone", "website", "description", "industry", "tags", "emails", "phones",
                   "contact_address", "delivery_addresses", "bank_accounts", "billing",
                   "contact_preferences", "custom_fields", "registry_values",
                   "registry_overrides")

# objects of a client whose keys a PATCH changes one by one, and what their keys are when
# never given (so that dropping `do_not_contact` can never read as consent)
MERGED_OBJECTS = {
    "billing": {"currency": None, "payment_terms_days": None, "credit_limit": None,
                "price_group": None},
    "contact_preferences": {"preferred_channel": None, "do_not_contact": False},
}


def with_defaults(name: str, value: dict) -> dict:
    return {**MERGED_OBJECTS[name], **value}


# what a user may set on create and change with PATCH (`email` / `phone` stand for the
# first of `emails` / `phones`); the rest is the register's or the system's
EDITABLE = ("kind", "name", "ico", "dic", "email", "phone", "registered_address", "website",
            "description", "industry", "relationship", "category", "tags", "owner_id",
            "parent_id", "emails", "phones", "contact_address", "delivery_addresses", "bank_accounts",
            "billing", "contact_preferences", "custom_fields", "vat_payer", "legal_form",
            "legal_form_name", "nace", "registry_overrides")


def new_client_fields(client_id: str, data: dict, now: datetime, actor: str | None = None
                      ) -> dict:
    """Every field of a client created from validated input (`Client(**fields)`, or a row
    of a bulk insert): with an IČO, its register data is pending."""
    ico = normalize_ico(data.get("ico"))
    values = {f.name: f.default_factory() if f.default_factory is not dataclasses.MISSING
              else f.default for f in dataclasses.fields(Client)
              if f.default is not dataclasses.MISSING
              or f.default_factory is not dataclasses.MISSING}
    values.update({name: data[name] for name in EDITABLE if name in data})
    for name in MERGED_OBJECTS:
        if values.get(name) is not None:
            values[name] = with_defaults(name, values[name])
    emails = data.get("emails") or with_first_value([], data.get("email"))
    phones = data.get("phones") or with_first_value([], data.get("phone"))
    values.update(
        id=client_id, kind=data["kind"], name=(data.get("name") or "").strip() or f"IČO {ico}",
        ico=ico, dic=normalize_dic(data.get("dic")), emails=emails, phones=phones,
        email=first_value(emails), phone=first_value(phones),
        registry_status="pending" if ico else None, registry_source="ares" if ico else None,
        created_by=actor, updated_by=actor, created_at=now, updated_at=now)
    return values


def imported_values(client: Client, values: dict) -> dict:
    """A file's values for an existing client, as `Client.edit` takes them: its tags,
    e-mails and phones are added to the client's own (a file seldom knows which e-mail is
    the primary one, and an import must not drop the others); every other field given
    replaces the client's."""
    values = dict(values)
    if "tags" in values:
        values["tags"] = list(dict.fromkeys([*client.tags, *values["tags"]]))
    for single, many, key in (("email", "emails", str.lower), ("phone", "phones", str)):
        sent = values.pop(many, None) or ([{"value": values[single], "label": None}]
                                          if values.get(single) else [])
        values.pop(single, None)
        held = {key(entry["value"]) for entry in getattr(client, many)}
        added = [entry for entry in sent if key(entry["value"]) not in held]
        if added:
            values[many] = [*getattr(client, many), *added]
    return values


def absent(value) -> bool:
    if isinstance(value, dict):
        return not any(value.values())
    return value is None or value == "" or value == []
