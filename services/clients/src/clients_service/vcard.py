"""Contact persons as vCard 4.0 (RFC 6350), written with vobject, for Outlook and phones."""
import re

import vobject

from .contacts import Contact, ContactLink

_TOKEN = re.compile(r"[^\W_][\w-]{0,59}")  # letters, digits, - (any script)


def vcards(people: list[tuple[Contact, ContactLink | None]], organisations: dict[str, str]
           ) -> str:
    """One vCard per person, one after another (a .vcf file may hold many). A person's
    ORG and TITLE are those of their link (the client's name, their position there)."""
    return "".join(vcard(contact, link, organisations.get(link.client_id) if link else None)
                   for contact, link in people)


def vcard(contact: Contact, link: ContactLink | None, organisation: str | None) -> str:
    card = vobject.vCard()
    card.add("version").value = "4.0"
    card.add("uid").value = f"urn:uuid:{contact.id}"
    card.add("fn").value = contact.name or "—"
    card.add("n").value = vobject.vcard.Name(family=contact.last_name or "",
                                             given=contact.first_name or "",
                                             prefix=contact.degree or "")
    title = (link.position if link else None) or contact.position
    if title:
        card.add("title").value = title
    if organisation:
        card.add("org").value = [organisation]
    for position, email in enumerate(contact.emails):
        line = card.add("email")
        line.value = email["value"]
        _typed(line, email.get("label"), preferred=position == 0)
    for position, phone in enumerate(contact.phones):
        line = card.add("tel")
        line.value = f"tel:{phone['value']}"
        line.params["VALUE"] = ["uri"]
        _typed(line, phone.get("label"), preferred=position == 0)
    if contact.note:
        card.add("note").value = contact.note
    if contact.updated_at:
        card.add("rev").value = contact.updated_at.strftime("%Y%m%dT%H%M%SZ")
    return card.serialize()


def _typed(line, label: str | None, preferred: bool) -> None:
    """A label that is a plain word (work, home, cell, fakturace) becomes the TYPE; any
    other is left out rather than written into the card's syntax."""
    if label and _TOKEN.fullmatch(label):
        line.params["TYPE"] = [label]
    if preferred:
        line.params["PREF"] = ["1"]
