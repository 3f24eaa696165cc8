"""Use cases of contact persons. Each runs in one unit of work and stages its events.

The events carry a contact as `contact_event` writes it (their own contract, not the REST
resource); a change of a client's contacts is also written into that client's history.
"""
import dataclasses
import uuid

from sqlalchemy.exc import IntegrityError

from crm_common.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from crm_common.events import rfc3339, utcnow
from crm_common.fields import load
from crm_common.pagination import offset_page

from . import vcard
from crm_common.concurrency import concurrent_writes
from .contacts import Contact, ContactLink, full_name_key, new_contact
from .custom_field_handlers import custom_values
from .repository import Clients, Contacts
from .schemas import (ContactCreateSchema, ContactLinkSchema, ContactPatchSchema,
                      ContactSchema, LinkSchema)

ADD = "contacts.add"  # the scopes of their Idempotency-Keys
UPDATE = "contacts.update"
LINK = "contacts.link"
UNLINK = "contacts.unlink"
DELETE = "contacts.delete"
ERASE = "contacts.erase"
_create_schema = ContactCreateSchema()
_patch_schema = ContactPatchSchema()
_link_schema = ContactLinkSchema()
_contact_schema = ContactSchema()
_links_schema = LinkSchema(many=True)
_link_schema_one = LinkSchema()


def _repositories(uow) -> tuple[Clients, Contacts]:
    """The client register and the contact persons as the caller may see them."""
    caller = uow.context.caller
    return Clients(uow.session, caller), Contacts(uow.session, caller)


def to_resource(contact: Contact, links: list[ContactLink]) -> dict:
    return dict(_contact_schema.dump(contact), clients=_links_schema.dump(links))


def contact_event(contact: Contact, links: list[ContactLink]) -> dict:
    return {"id": contact.id, "name": contact.name, "first_name": contact.first_name,
            "last_name": contact.last_name, "degree": contact.degree,
            "position": contact.position, "emails": contact.emails, "phones": contact.phones,
            "clients": _links(links)}


def add_contact(uow, client_id: str, payload: dict, idempotency_key: str | None = None,
                unique_name: bool = False) -> dict:
    """A new contact person of the client, or (with `contact_id`) an existing one linked to
    it. The first contact person of a client is its primary one unless `primary: false`.
    `unique_name`: a new person named as a contact of the client already is refused
    (Conflict, details {"reason": "exists", "contact_id"}); checked after the replay, so
    a retry with the key gives the first answer whatever was added since."""
    request = {"client_id": client_id, "contact": payload}
    replayed = uow.replay(ADD, idempotency_key, request)
    if replayed is not None:
        return replayed
    existing = isinstance(payload, dict) and "contact_id" in payload
    data = load(_link_schema if existing else _create_schema, payload)
    clients, repo = _repositories(uow)
    client = clients.get(client_id)
    if client.erased_at is not None:
        raise Conflict(f"client {client_id} was erased (GDPR): it takes no contact persons")
    if client.merged_into is not None:
        raise Conflict(f"client {client_id} was merged into {client.merged_into}: add them "
                       "there", {"existing_id": client.merged_into})
    actor, now = uow.context.actor, utcnow()
    if existing:
        contact = repo.get(data["contact_id"], for_update=True)
        if repo.link_of(client_id, contact.id):
            raise Conflict(f"contact_id: {contact.name} is already a contact of this client")
        links_before = repo.links_of(contact.id)
    else:
        data["custom_fields"] = custom_values(uow.session, "contact", data.get("custom_fields"),
                                              {}, None, creating=True)
        contact = new_contact(str(uuid.uuid4()), data, actor, now)
        if unique_name:
            _refuse_namesake(repo, client_id, contact)
        uow.session.add(contact)
    primary = data.get("primary")
    link = ContactLink(client_id, contact.id, data.get("position", contact.position),
                       not repo.has_contacts(client_id) if primary is None else primary)
    if primary is None and link.primary:
        link = _first_link(uow, repo, link, now)
    else:
        _write(uow, lambda: repo.link(link, now))
    links = repo.links_of(contact.id)
    clients.reindex([client_id])
    clients.record(client, "contact_added", {"contacts": {
        "before": None, "after": link_summary(contact, link)}}, actor, now)
    if existing:
        uow.emit("contact.updated", contact.id, {
            "contact": contact_event(contact, links), "changes": {"clients": {
                "before": _links(links_before), "after": _links(links)}}})
    else:
        uow.emit("contact.created", contact.id, {
            "contact": contact_event(contact, links), "client_id": client_id})
    return uow.commit_once(ADD, idempotency_key, request,
                           to_resource(contact, repo.seen(links)))


def _refuse_namesake(repo: Contacts, client_id: str, contact: Contact) -> None:
    key = full_name_key(contact)
    for other, _ in repo.of_client(client_id):
        if full_name_key(other) == key:
            raise Conflict(f"{other.name} is already a contact of this client",
                           {"reason": "exists", "contact_id": other.id})


def list_contacts(uow, client_id: str, limit: int = 50, cursor: str | None = None) -> dict:
    """The client's contact persons, the primary one first, then by name."""
    clients, _ = _repositories(uow)
    clients.check_visible(client_id)
    return contacts_page(uow, client_id, limit, cursor)


def contacts_page(uow, client_id: str, limit: int = 50, cursor: str | None = None) -> dict:
    """`list_contacts` of a client the caller is known to see (checked already)."""
    _, repo = _repositories(uow)

    def fetch(offset, count):
        found = repo.of_client(client_id, offset, count)
        links = repo.links_of_many([contact.id for contact, _ in found])
        return [(contact, link, repo.seen(links.get(contact.id, [])))
                for contact, link in found]
    return offset_page(fetch, limit, cursor, lambda found: dict(
        to_resource(found[0], found[2]), link=_link_schema_one.dump(found[1])))


def get_contact(uow, contact_id: str) -> dict:
    repo = _repositories(uow)[1]
    contact = repo.get(contact_id)
    return to_resource(contact, repo.seen(repo.links_of(contact_id)))


def contact_vcard(uow, contact_id: str) -> str:
    """The person as a vCard 4.0, with their first client as ORG."""
    clients, repo = _repositories(uow)
    contact = repo.get(contact_id)
    links = repo.seen(repo.links_of(contact_id))
    link = next((link for link in links if link.primary), links[0] if links else None)
    names = {link.client_id: clients.get(link.client_id).name} if link else {}
    return vcard.vcards([(contact, link)], names)


def client_vcards(uow, client_id: str) -> str:
    """Every contact person of the client, one vCard each, in one text."""
    clients, repo = _repositories(uow)
    client = clients.get(client_id)
    return vcard.vcards(repo.of_client(client_id), {client.id: client.name})


def update_contact(uow, contact_id: str, payload: dict, if_match: int | None = None,
                   idempotency_key: str | None = None) -> dict:
    request = {"contact_id": contact_id, "changes": payload, "if_match": if_match}
    replayed = uow.replay(UPDATE, idempotency_key, request)
    if replayed is not None:
        return replayed
    data = load(_patch_schema, payload)
    repo = _repositories(uow)[1]
    contact = _current(repo, contact_id, if_match)
    if "custom_fields" in data:
        data["custom_fields"] = custom_values(uow.session, "contact", data["custom_fields"],
                                              contact.custom_fields, contact.id, False)
    changes = contact.edit(data, uow.context.actor, utcnow())
    if changes:
        _write(uow, uow.session.flush)
        if not (contact.first_name or contact.last_name):
            raise ValidationFailed({"last_name": ["A contact keeps a first or a last name."]})
        Clients(uow.session).reindex(_client_ids(repo.links_of(contact.id)))
        uow.emit("contact.updated", contact.id, {
            "contact": contact_event(contact, repo.links_of(contact.id)), "changes": changes})
    return uow.commit_once(UPDATE, idempotency_key, request,
                           to_resource(contact, repo.seen(repo.links_of(contact.id))))


def update_link(uow, client_id: str, contact_id: str, payload: dict,
                idempotency_key: str | None = None) -> dict:
    """The contact's position at this client, or made (or no longer) its primary contact."""
    request = {"client_id": client_id, "contact_id": contact_id, "link": payload}
    replayed = uow.replay(LINK, idempotency_key, request)
    if replayed is not None:
        return replayed
    data = load(_link_schema, payload)
    if "contact_id" in data:
        raise ValidationFailed({"contact_id": ["The contact is named in the path."]})
    (clients, repo), actor, now = _repositories(uow), uow.context.actor, utcnow()
    client, contact = clients.get(client_id), repo.get(contact_id, for_update=True)
    before = _found_link(repo, client_id, contact)
    after = ContactLink(client_id, contact_id, data.get("position", before.position),
                        before.primary if data.get("primary") is None else data["primary"])
    if after != before:
        clients.record(client, "contact_changed", {"contacts": {
            "before": link_summary(contact, before),
            "after": link_summary(contact, after)}}, actor, now)
        links_before = repo.links_of(contact_id)
        _write(uow, lambda: repo.change_link(after))
        links = repo.links_of(contact_id)
        uow.emit("contact.updated", contact.id, {
            "contact": contact_event(contact, links), "changes": {"clients": {
                "before": _links(links_before), "after": _links(links)}}})
    return uow.commit_once(LINK, idempotency_key, request,
                           to_resource(contact, repo.seen(repo.links_of(contact_id))))


def remove_link(uow, client_id: str, contact_id: str, idempotency_key: str | None = None
                ) -> dict:
    """The person no longer works with this client; they stay a contact of the others."""
    request = {"client_id": client_id, "contact_id": contact_id}
    replayed = uow.replay(UNLINK, idempotency_key, request)
    if replayed is not None:
        return replayed
    (clients, repo), actor, now = _repositories(uow), uow.context.actor, utcnow()
    client, contact = clients.get(client_id), repo.get(contact_id, for_update=True)
    link = _found_link(repo, client_id, contact)
    links_before = repo.links_of(contact_id)
    repo.unlink(client_id, contact_id)
    clients.reindex([client_id])
    clients.record(client, "contact_removed", {"contacts": {
        "before": link_summary(contact, link), "after": None}}, actor, now)
    links = repo.links_of(contact_id)
    uow.emit("contact.updated", contact.id, {
        "contact": contact_event(contact, links), "changes": {"clients": {
            "before": _links(links_before), "after": _links(links)}}})
    return uow.commit_once(UNLINK, idempotency_key, request,
                           to_resource(contact, repo.seen(links)))


def delete_contact(uow, contact_id: str, if_match: int | None = None,
                   idempotency_key: str | None = None) -> dict:
    """The contact person and their links are gone; each client's history says so."""
    request = {"contact_id": contact_id, "if_match": if_match}
    replayed = uow.replay(DELETE, idempotency_key, request)
    if replayed is not None:
        return replayed
    repo, actor, now = _repositories(uow)[1], uow.context.actor, utcnow()
    contact = _current(repo, contact_id, if_match, for_update=True)
    links = repo.links_of(contact_id)
    clients = Clients(uow.session)  # every client's history says so, seen or not
    shown = repo.seen(links)
    if len(shown) < len(links):  # clients the caller may not see keep the person
        return uow.commit_once(DELETE, idempotency_key, request,
                               _unlink_seen(uow, repo, clients, contact, links, shown, now))
    for link in links:
        clients.record(clients.get(link.client_id), "contact_removed", {"contacts": {
            "before": link_summary(contact, link), "after": None}}, actor, now)
    repo.delete(contact)
    _write(uow, uow.session.flush)
    clients.reindex(_client_ids(links))
    uow.emit("contact.deleted", contact_id, {
        "contact_id": contact_id, "name": contact.name, "client_ids": _client_ids(links)})
    answer = {"id": contact_id, "deleted": True}
    return uow.commit_once(DELETE, idempotency_key, request, answer)


def _unlink_seen(uow, repo: Contacts, clients: Clients, contact: Contact,
                 links: list[ContactLink], shown: list[ContactLink], now) -> dict:
    """A restricted caller's delete: the person leaves the clients they see; to them it is
    gone, and the others never learn it was shared."""
    for link in shown:
        repo.unlink(link.client_id, contact.id)
        clients.record(clients.get(link.client_id), "contact_removed", {"contacts": {
            "before": link_summary(contact, link), "after": None}}, uow.context.actor, now)
    after = repo.links_of(contact.id)
    clients.reindex(_client_ids(shown))
    uow.emit("contact.updated", contact.id, {
        "contact": contact_event(contact, after), "changes": {"clients": {
            "before": _links(links), "after": _links(after)}}})
    return {"id": contact.id, "deleted": True}


def erase_contact(uow, contact_id: str, idempotency_key: str | None = None) -> dict:
    """GDPR erasure of a contact person: the person and their links are gone, the history
    rows that named them keep who did what when but no values, the messaging tables forget
    them; `contact.erased` tells the other services to do the same. A person deleted
    earlier can be erased too (what the history and the timeline still say of them)."""
    request = {"contact_id": contact_id}
    replayed = uow.replay(ERASE, idempotency_key, request)
    if replayed is not None:
        return replayed
    repo, actor, now = Contacts(uow.session), uow.context.actor, utcnow()
    clients = Clients(uow.session)
    contact = uow.session.get(Contact, contact_id, with_for_update=True)
    if contact is None:
        named_in = clients.clients_mentioning(contact_id)
        if not named_in:
            raise NotFound(f"contact {contact_id} does not exist")
        links = [ContactLink(client_id, contact_id) for client_id in named_in]
    else:
        links = repo.links_of(contact_id)
        repo.delete(contact)
        _write(uow, uow.session.flush)
    clients.reindex(_client_ids(links))
    clients.scrub_history(mentioning=contact_id)
    for link in links:
        clients.record(clients.get(link.client_id), "contact_erased", {}, actor, now)
    uow.forget([contact_id])
    uow.emit("contact.erased", contact_id, {
        "contact_id": contact_id, "client_ids": _client_ids(links), "erased_at": rfc3339(now)})
    return uow.commit_once(ERASE, idempotency_key, request,
                           {"id": contact_id, "erased": True, "erased_at": rfc3339(now)})


def move_contacts(uow, source_id: str, target_id: str, now) -> list[dict]:
    """A merge: the source client's contact persons become the target's. A person of both
    keeps the target's link (and the source's position where the target has none); the
    source's primary contact is the target's only when the target has none. Every link
    moves, whoever may see it. Returns who moved, as the history writes them."""
    repo = Contacts(uow.session)
    target_has_primary = any(link.primary for _, link in repo.of_client(target_id))
    moved = []
    for contact, link in repo.of_client(source_id):
        before = repo.links_of(contact.id)
        repo.unlink(source_id, contact.id)
        kept = repo.link_of(target_id, contact.id)
        if kept is None:
            new = ContactLink(target_id, contact.id, link.position,
                              link.primary and not target_has_primary)
            _write(uow, lambda: repo.link(new, now))
        elif kept.position is None and link.position:
            _write(uow, lambda: repo.change_link(dataclasses.replace(
                kept, position=link.position)))
        after = repo.links_of(contact.id)
        uow.emit("contact.updated", contact.id, {
            "contact": contact_event(contact, after), "changes": {"clients": {
                "before": _links(before), "after": _links(after)}}})
        moved.append(link_summary(contact, link))
    return moved


def _first_link(uow, repo: Contacts, link: ContactLink, now) -> ContactLink:
    """The first contact person of a client becomes its primary one; when another one was
    added at the same moment and took that place, this one is simply not primary (nobody
    asked for it to be)."""
    try:
        with uow.session.begin_nested():
            repo.link(link, now)
        return link
    except IntegrityError:
        if repo.link_of(link.client_id, link.contact_id):
            raise
        second = ContactLink(link.client_id, link.contact_id, link.position, False)
        _write(uow, lambda: repo.link(second, now))
        return second


def _current(repo: Contacts, contact_id: str, if_match: int | None,
             for_update: bool = False) -> Contact:
    contact = repo.get(contact_id, for_update)
    if if_match is not None and contact.version != if_match:
        raise PreconditionFailed(f"contact {contact_id} is at version {contact.version}, "
                                 f"not {if_match}: read it again and reapply your change")
    return contact


def _found_link(repo: Contacts, client_id: str, contact: Contact) -> ContactLink:
    link = repo.link_of(client_id, contact.id)
    if link is None:
        raise NotFound(f"{contact.name} is not a contact of client {client_id}")
    return link


def _write(uow, write) -> None:
    """Run a write; a concurrent one that got there first -> 412 (a version moved on) or
    409 (another primary contact made at the same moment)."""
    with concurrent_writes("the contact was changed by someone else at the same time: "
                           "read it again and reapply your change",
                           "another primary contact was set at the same time; try again"):
        write()
        uow.session.flush()


def link_summary(contact: Contact, link: ContactLink) -> dict:
    return {"id": contact.id, "name": contact.name, "position": link.position,
            "primary": link.primary}


def _links(links: list[ContactLink]) -> list[dict]:
    return [{"client_id": link.client_id, "position": link.position, "primary": link.primary}
            for link in links]


def _client_ids(links: list[ContactLink]) -> list[str]:
    return [link.client_id for link in links]
