"""The queries of the client register, so handlers speak of clients, not of sessions."""
import uuid
from datetime import datetime

from sqlalchemy import Text, cast, delete, exists, insert, select, update

from crm_common.access import SYSTEM, Caller
from crm_common.db import take_turns
from crm_common.errors import Conflict, NotFound, ValidationFailed
from crm_common.pagination import newest_first

from .contacts import Contact, ContactLink
from .custom_fields import Definition
from .domain import Client
from .orm import (client_contacts, client_history, clients, contacts,
                  custom_field_definitions)

ARCHIVED_FILTERS = ("false", "true", "only")  # ?archived=: leave out, include, only


class Clients:
    """`caller`: whom the answers are for; a client they may not see (the record-level
    rule) is answered exactly as one that does not exist."""

    def __init__(self, session, caller: Caller = SYSTEM):
        self.session = session
        self.caller = caller

    def get(self, client_id: str) -> Client:
        client = self.session.get(Client, client_id)
        if client is None or not self.caller.may_see(client.owner_id):
            raise NotFound(f"client {client_id} does not exist")
        return client

    def visible(self, query):
        """`query` over clients narrowed to those the caller may see."""
        return visible_clients(query, self.caller)

    def find(self, client_id: str | None = None, ico: str | None = None) -> list[Client]:
        """The client with `client_id`, else every client with the IČO."""
        if client_id:
            client = self.session.get(Client, client_id)
            return [client] if client else []
        return list(self.session.scalars(select(Client).where(clients.c.ico == ico)))

    def page(self, limit, cursor, ico: str | None = None, archived: str = "false", dump=None
             ) -> dict:
        """Newest first, keyset-paginated: a cursor stays valid while clients are added."""
        query = self.visible(select(Client))
        if ico:
            query = query.where(clients.c.ico == ico)
        if archived == "false":
            query = query.where(clients.c.archived_at.is_(None))
        elif archived == "only":
            query = query.where(clients.c.archived_at.is_not(None))
        return newest_first(self.session, query, clients.c.created_at, clients.c.id, limit,
                            cursor, dump, key=lambda client: (client.created_at, client.id))

    # -- hierarchy --------------------------------------------------------------------

    def check_parent(self, client_id: str | None, parent_id: str | None) -> None:
        """A parent must exist and must not be the client or one of its subsidiaries."""
        if parent_id is None:
            return
        # two concurrent moves (X under Y, Y under X) would each see no cycle: moves take
        # turns, and each one sees the others' result
        take_turns(self.session, "clients:hierarchy")
        parent = self.session.get(Client, parent_id)
        if parent is None or not self.caller.may_see(parent.owner_id):
            raise ValidationFailed({"parent_id": [f"Client {parent_id} does not exist."]})
        ancestor, seen = parent_id, set()
        while ancestor is not None and ancestor not in seen:
            if ancestor == client_id:
                raise Conflict("parent_id: the client would become its own parent company "
                               f"(through {parent_id})")
            seen.add(ancestor)
            ancestor = self.session.scalar(select(clients.c.parent_id).where(
                clients.c.id == ancestor))

    def subsidiaries(self, client_id: str, whole_subtree: bool, limit: int) -> list[Client]:
        """Direct subsidiaries, or the whole subtree level by level (parents before their
        children, by name within a level), the first `limit` of them."""
        self.get(client_id)
        found, level, seen = [], [client_id], {client_id}
        while level and len(found) < limit:
            children = [c for c in self.session.scalars(
                select(Client).where(clients.c.parent_id.in_(level))
                .order_by(clients.c.name, clients.c.id)) if c.id not in seen]
            # a hidden company in between still leads to the visible ones below it
            found += [c for c in children if self.caller.may_see(c.owner_id)
                      ][:limit - len(found)]
            seen.update(c.id for c in children)
            level = [c.id for c in children] if whole_subtree else []
        return found

    # -- history --------------------------------------------------------------------

    def record(self, client: Client, action: str, changes: dict, actor: str | None,
               at: datetime) -> None:
        self.record_many([history_row(client.id, action, changes, actor, at,
                                      client.version)])

    def record_many(self, rows: list[dict]) -> None:
        if rows:
            self.session.execute(insert(client_history), rows)

    def scrub_history(self, client_id: str | None = None, mentioning: str | None = None
                      ) -> None:
        """Erasure: the values go from the history rows of a client (or from the rows that
        mention a record, such as an erased contact person); who did what, and when, stay."""
        columns = client_history.c
        query = update(client_history)
        if client_id:
            query = query.where(columns.client_id == client_id)
        if mentioning:
            query = query.where(cast(columns.changes, Text).like(f"%{mentioning}%"))
        self.session.execute(query.values(changes={}))

    def clients_mentioning(self, record_id: str) -> list[str]:
        """The clients whose history names a record (a contact person deleted since)."""
        columns = client_history.c
        return list(dict.fromkeys(self.session.scalars(
            select(columns.client_id).where(cast(columns.changes, Text).like(
                f"%{record_id}%")).order_by(columns.at))))

    def history(self, client_id: str, limit, cursor, dump) -> dict:
        self.get(client_id)  # NotFound for a client that never existed
        columns = client_history.c
        query = select(client_history).where(columns.client_id == client_id)
        return newest_first(self.session, query, columns.at, columns.id, limit, cursor,
                            lambda row: dump(row._mapping), key=lambda row: (row.at, row.id),
                            rows=lambda q: self.session.execute(q).all())


def visible_clients(query, caller: Caller):
    if caller.restricted:
        query = query.where(clients.c.owner_id == caller.user_id)
    return query


def history_row(client_id: str, action: str, changes: dict, actor: str | None,
                at: datetime, version: int | None) -> dict:
    return {"id": str(uuid.uuid4()), "client_id": client_id, "at": at, "actor": actor,
            "action": action, "changes": changes, "version": version}


class Contacts:
    """Contact persons and their links to clients. `caller`: a person is visible to whom
    sees one of their clients (the record-level rule)."""

    def __init__(self, session, caller: Caller = SYSTEM):
        self.session = session
        self.caller = caller

    def get(self, contact_id: str, for_update: bool = False) -> Contact:
        """`for_update`: the row locked until the transaction ends (PostgreSQL), so that an
        erasure and a new link of the same person take turns."""
        contact = self.session.get(Contact, contact_id, with_for_update=for_update or None)
        if contact is None or not self._visible(contact_id):
            raise NotFound(f"contact {contact_id} does not exist")
        return contact

    def _visible(self, contact_id: str) -> bool:
        if not self.caller.restricted:
            return True
        columns = client_contacts.c
        return bool(self.session.scalar(select(exists(visible_clients(
            select(clients.c.id).join(client_contacts, columns.client_id == clients.c.id)
            .where(columns.contact_id == contact_id), self.caller)))))

    def seen(self, links: list[ContactLink]) -> list[ContactLink]:
        """The links to clients the caller may see: what an answer shows (an event tells
        every link)."""
        if not self.caller.restricted or not links:
            return links
        shown = set(self.session.scalars(visible_clients(select(clients.c.id).where(
            clients.c.id.in_({link.client_id for link in links})), self.caller)))
        return [link for link in links if link.client_id in shown]

    def links_of(self, contact_id: str) -> list[ContactLink]:
        return self.links_of_many([contact_id]).get(contact_id, [])

    def links_of_many(self, contact_ids: list[str]) -> dict[str, list[ContactLink]]:
        columns = client_contacts.c
        rows = self.session.execute(select(client_contacts).where(
            columns.contact_id.in_(contact_ids)).order_by(columns.created_at,
                                                          columns.client_id))
        links: dict[str, list[ContactLink]] = {}
        for row in rows:
            links.setdefault(row.contact_id, []).append(_link(row))
        return links

    def of_client(self, client_id: str, offset: int = 0, limit: int | None = None
                  ) -> list[tuple[Contact, ContactLink]]:
        """The client's contact persons, the primary one first, then by name."""
        columns = client_contacts.c
        rows = self.session.execute(
            select(Contact, client_contacts).join(
                client_contacts, columns.contact_id == contacts.c.id)
            .where(columns.client_id == client_id)
            .order_by(columns.is_primary.desc(), contacts.c.last_name, contacts.c.first_name,
                      contacts.c.id).offset(offset).limit(limit))
        return [(row[0], _link(row)) for row in rows]

    def link_of(self, client_id: str, contact_id: str) -> ContactLink | None:
        columns = client_contacts.c
        row = self.session.execute(select(client_contacts).where(
            columns.client_id == client_id, columns.contact_id == contact_id)).first()
        return _link(row) if row else None

    def link(self, link: ContactLink, now: datetime) -> None:
        if link.primary:
            self._unset_primary(link.client_id)
        self.session.execute(insert(client_contacts).values(
            client_id=link.client_id, contact_id=link.contact_id, position=link.position,
            is_primary=link.primary, created_at=now))

    def change_link(self, link: ContactLink) -> None:
        if link.primary:
            self._unset_primary(link.client_id, but=link.contact_id)
        columns = client_contacts.c
        self.session.execute(update(client_contacts).where(
            columns.client_id == link.client_id, columns.contact_id == link.contact_id)
            .values(position=link.position, is_primary=link.primary))

    def unlink(self, client_id: str, contact_id: str) -> None:
        columns = client_contacts.c
        self.session.execute(delete(client_contacts).where(
            columns.client_id == client_id, columns.contact_id == contact_id))

    def has_contacts(self, client_id: str) -> bool:
        return self.session.scalar(select(client_contacts.c.contact_id).where(
            client_contacts.c.client_id == client_id).limit(1)) is not None

    def delete(self, contact: Contact) -> None:
        self.session.execute(delete(client_contacts).where(
            client_contacts.c.contact_id == contact.id))
        self.session.delete(contact)

    def _unset_primary(self, client_id: str, but: str | None = None) -> None:
        columns = client_contacts.c
        query = update(client_contacts).where(columns.client_id == client_id,
                                              columns.is_primary.is_(True))
        if but:
            query = query.where(columns.contact_id != but)
        self.session.execute(query.values(is_primary=False))
        self.session.flush()


def _link(row) -> ContactLink:
    return ContactLink(client_id=row.client_id, contact_id=row.contact_id,
                       position=row.position, primary=bool(row.is_primary))


class CustomFields:
    """Custom field definitions, and whether a unique value is taken."""

    ENTITY_TABLES = {"client": clients, "contact": contacts}

    def __init__(self, session):
        self.session = session

    def get(self, definition_id: str) -> Definition:
        definition = self.session.get(Definition, definition_id)
        if definition is None:
            raise NotFound(f"custom field {definition_id} does not exist")
        return definition

    def all(self, applies_to: str | None = None, include_retired: bool = True
            ) -> list[Definition]:
        columns = custom_field_definitions.c
        query = select(Definition).order_by(columns.applies_to, columns.key)
        if applies_to:
            query = query.where(columns.applies_to == applies_to)
        if not include_retired:
            query = query.where(columns.retired_at.is_(None))
        return list(self.session.scalars(query))

    def by_key(self, applies_to: str) -> dict[str, Definition]:
        return {definition.key: definition for definition in self.all(applies_to)}

    def exists(self, applies_to: str, key: str) -> bool:
        columns = custom_field_definitions.c
        return self.session.scalar(select(columns.id).where(
            columns.applies_to == applies_to, columns.key == key)) is not None

    def taken_locked(self, applies_to: str, key: str, value: str, entity_id: str | None
                     ) -> bool:
        """`taken`, with the field's value writes taking turns until this transaction ends
        (PostgreSQL; SQLite's writers always do): two records written at the same moment
        cannot both take one unique value."""
        take_turns(self.session, f"custom_field:{applies_to}:{key}")
        return self.taken(applies_to, key, value, entity_id)

    def taken(self, applies_to: str, key: str, value: str, entity_id: str | None) -> bool:
        """Does another client (contact) hold `value` in its custom field `key`?"""
        table = self.ENTITY_TABLES[applies_to]
        query = select(table.c.id).where(table.c.custom_fields[key].as_string() == value)
        if entity_id:
            query = query.where(table.c.id != entity_id)
        return self.session.scalar(query.limit(1)) is not None
