"""Contact persons: plain Python, no framework.

A contact person may work with several clients; each link (`ContactLink`) carries the
position at that client and whether the person is that client's primary contact.
"""
from dataclasses import dataclass, field
from datetime import datetime

from crm_common.changes import assign
from crm_common.text import fold
from .contact_data import first_value

EDITABLE = ("first_name", "last_name", "degree", "position", "emails", "phones", "note",
            "custom_fields")


@dataclass
class Contact:
    id: str
    first_name: str | None = None
    last_name: str | None = None
    degree: str | None = None  # Ing., Mgr., MUDr. ... as the person writes it
    position: str | None = None  # the person's own job title; per client see ContactLink
    emails: list = field(default_factory=list)  # [{value, label}]
    phones: list = field(default_factory=list)  # E.164
    note: str | None = None
    custom_fields: dict = field(default_factory=dict)
    created_by: str | None = None
    updated_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1

    @property
    def name(self) -> str:
        """As it is written on a letter: `Ing. Jan Novák`."""
        return " ".join(part for part in (self.degree, self.first_name, self.last_name)
                        if part)

    @property
    def email(self) -> str | None:
        return first_value(self.emails)

    @property
    def phone(self) -> str | None:
        return first_value(self.phones)

    def edit(self, values: dict, actor: str | None, now: datetime) -> dict:
        """{field: {before, after}} of what changed."""
        changes = assign(self, values)
        if changes:
            self.updated_by, self.updated_at = actor, now
            self.version += 1
        return changes


def new_contact(contact_id: str, data: dict, actor: str | None, now: datetime) -> Contact:
    return Contact(id=contact_id, **{name: data[name] for name in EDITABLE if name in data},
                   created_by=actor, updated_by=actor, created_at=now, updated_at=now)


@dataclass
class ContactLink:
    client_id: str
    contact_id: str
    position: str | None = None
    primary: bool = False


def same_person(one: Contact, other: Contact) -> bool:
    """Two records of one person: they share an e-mail, or the full name (first and last,
    case and diacritics aside)."""
    emails = {entry["value"].lower() for entry in one.emails}
    if emails & {entry["value"].lower() for entry in other.emails}:
        return True
    name = full_name_key(one)
    return bool(name) and name == full_name_key(other)


def full_name_key(contact: Contact) -> str:
    return fold(" ".join(part for part in (contact.first_name, contact.last_name) if part))
