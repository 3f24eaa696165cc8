"""The queries of the client register, so handlers speak of clients, not of sessions."""
import dataclasses
import uuid
from datetime import datetime

from sqlalchemy import (Text, and_, bindparam, cast, delete, exists, false, func, insert,
                        literal, not_, or_, select, true, tuple_, union_all, update)
from sqlalchemy.orm import load_only

from crm_common.access import SYSTEM, Caller
from crm_common.db import json_list_holds, take_turns
from crm_common.errors import Conflict, NotFound, ValidationFailed
from crm_common.pagination import cursor_values, newest_first, offset_page, values_cursor

from .contacts import Contact, ContactLink
from . import search, search_index
from .custom_fields import Definition
from .domain import Client
from .orm import (client_contacts, client_history, client_keys, clients, contacts,
                  custom_field_definitions)




_OWNER_OF = select(clients.c.owner_id).where(clients.c.id == bindparam("client_id"))


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

    def check_visible(self, client_id: str) -> None:
        """NotFound unless the client exists and the caller may see it: for a read about
        a client (its people, its subsidiaries) that needs none of its 50 columns but its
        owner (loading the whole client was half of such a read)."""
        owner = self.session.execute(_OWNER_OF, {"client_id": client_id}).first()
        if owner is None or not self.caller.may_see(owner.owner_id):
            raise NotFound(f"client {client_id} does not exist")

    def visible(self, query):
        """`query` over clients narrowed to those the caller may see."""
        return visible_clients(query, self.caller)

    def find(self, client_id: str | None = None, ico: str | None = None) -> list[Client]:
        """The client with `client_id`, else every client with the IČO."""
        if client_id:
            client = self.session.get(Client, client_id)
            return [client] if client else []
        return list(self.session.scalars(select(Client).where(clients.c.ico == ico)))

    def search(self, filters: dict, q: str | None, sort: str | None, limit: int,
               cursor: str | None, include_total: bool, dump,
               columns: list[str] | None = None) -> dict:
        """A page of the clients matching `q` and `filters`, in the order `sort` names:
        ranked (exact IČO, then names starting with the words, then the rest) when there is
        a `q` and no `sort`, else newest first. The cursor stays right for its order.
        `columns`: the only fields of each client read (`dump` reads no other)."""
        entity = select(Client)
        if columns:
            entity = entity.options(load_only(*(getattr(Client, name) for name in columns)))
        filtered = self.visible(self._filtered(entity, filters))
        terms = search.terms(q) if q else []
        query = filtered.where(self._matches(terms)) if terms else filtered
        if q and not terms:
            query = query.where(false())  # nothing searchable in it: nothing found
        total = self.session.scalar(select(func.count()).select_from(
            query.order_by(None).subquery())) if include_total else None
        if terms and not sort:
            page = offset_page(lambda offset, count: self._ranked(
                filtered, entity, q, terms, offset, count), limit, cursor, dump)
        elif sort in (None, "-created_at"):  # newest first, the list's own order
            page = newest_first(self.session, query, clients.c.created_at, clients.c.id,
                                limit, cursor, dump,
                                key=lambda client: (client.created_at, client.id))
        else:
            page = self._sorted(query, sort, limit, cursor, dump)
        if include_total:
            page["total"] = total
        return page

    def _sqlite(self) -> bool:
        return self.session.get_bind().dialect.name == "sqlite"

    def _matches(self, terms: list[str]):
        if self._sqlite():
            return search_index.matches_sqlite(terms)
        return and_(*(clients.c.search_text.op("~")(f"(^| ){term}") for term in terms))

    def _ranked(self, filtered, entity, q: str, terms: list[str], offset: int, count: int
                ) -> list[Client]:
        """Matches (among `filtered`; read as `entity` selects them) `offset` to
        `offset + count` in rank order: the exact IČO, then names starting with the words,
        then the rest, each by name (byte order: folded names are ASCII). Each rank is a
        query of its own in the order of the name index, so that for a common word
        ("novak" in tens of thousands of a million clients) the database walks that index
        until the page is full instead of sorting every match; for a rare one it takes the
        few matches from the search index."""
        c = clients.c
        name = self._name_order()
        first = " ".join(terms)
        # a name starting with the words matches them (the search text starts with it):
        # that rank is a range of the name index, no search needed
        starts = and_(name >= first, name < first[:-1] + chr(ord(first[-1]) + 1))
        matches = self._matches(terms)
        ico = search.digits_of(q)
        others = c.ico.is_distinct_from(ico) if ico else true()
        ranks = [filtered.where(matches, c.ico == ico)] if ico else []
        ranks += [filtered.where(others, starts),
                  filtered.where(matches, others, or_(c.name_folded.is_(None),
                                                      not_(starts)))]

        def first_of(rank: int, rank_query):  # the first `offset + count` of one rank
            found = rank_query.with_only_columns(literal(rank).label("rank"),
                                                 name.label("name"), c.id) \
                .order_by(name, c.id).limit(offset + count).subquery()
            return select(found.c.rank, found.c.name, found.c.id)
        ranked = union_all(*(first_of(n, rank_query) for n, rank_query in enumerate(ranks))
                           ).subquery("ranked")
        return self.session.scalars(
            entity.join(ranked, ranked.c.id == c.id)
            .order_by(ranked.c.rank, ranked.c.name, ranked.c.id)
            .offset(offset).limit(count)).all()

    def _name_order(self):
        """The folded name in byte order, as PostgreSQL's index ix_clients_name_c holds it
        (SQLite's default order is bytes already)."""
        return clients.c.name_folded if self._sqlite() else clients.c.name_folded.collate("C")

    def _filtered(self, query, filters: dict):
        c = clients.c
        archived = filters.get("archived", "false")
        if archived == "false":
            query = query.where(c.archived_at.is_(None))
        elif archived == "only":
            query = query.where(c.archived_at.is_not(None))
        for name in ("relationship", "category", "owner_id", "parent_id", "registry_status",
                     "ico"):
            if filters.get(name) is not None:
                query = query.where(getattr(c, name) == filters[name])
        if filters.get("vat_payer") is not None:
            query = query.where(c.vat_payer.is_(filters["vat_payer"]))
        if filters.get("city"):
            query = query.where(c.city.like(f"{search.fold(filters['city'])}%"))
        if filters.get("created_after") is not None:
            query = query.where(c.created_at >= filters["created_after"])
        if filters.get("created_before") is not None:
            query = query.where(c.created_at < filters["created_before"])
        for tag in filters.get("tags") or ():
            query = query.where(self._has_tag(tag))
        for key, value in (filters.get("custom_fields") or {}).items():
            query = query.where(c.custom_fields[key].as_string() == value)
        return query

    def _has_tag(self, tag: str):
        return json_list_holds(self.session, clients.c.tags, tag)

    def _sorted(self, query, sort: str, limit: int, cursor: str | None, dump) -> dict:
        descending = sort.startswith("-")
        column = SORTS[sort.lstrip("-")]
        key = (column.desc(), clients.c.id.desc()) if descending else (column.asc(),
                                                                        clients.c.id.asc())
        if cursor:
            value, last_id = _decode_sort_cursor(cursor, sort, column)
            after = tuple_(column, clients.c.id)
            query = query.where(after < tuple_(value, last_id) if descending
                                else after > tuple_(value, last_id))
        found = self.session.scalars(query.order_by(*key).limit(limit + 1)).all()
        next_cursor = _sort_cursor(sort, found[limit - 1]) if len(found) > limit else None
        return {"items": [dump(row) for row in found[:limit]], "next_cursor": next_cursor}

    def reindex(self, client_ids) -> None:
        """Work out the derived search, sort and filter columns of these clients again
        (after a write of them or of their contact persons)."""
        ids = list(dict.fromkeys(i for i in client_ids if i))
        if not ids:
            return
        self.session.flush()
        people: dict = {}
        for row in self.session.execute(
                select(client_contacts.c.client_id, contacts.c.first_name,
                       contacts.c.last_name).join(contacts, contacts.c.id ==
                                                  client_contacts.c.contact_id)
                .where(client_contacts.c.client_id.in_(ids))):
            people.setdefault(row.client_id, []).append(
                " ".join(p for p in (row.first_name, row.last_name) if p))
        rows = self.session.execute(select(
            clients.c.id, clients.c.name, clients.c.ico, clients.c.dic, clients.c.emails,
            clients.c.phones, clients.c.registered_address, clients.c.contact_address)
            .where(clients.c.id.in_(ids))).all()
        self.session.execute(delete(client_keys).where(client_keys.c.client_id.in_(ids)))
        self.add_keys([dict(row._mapping) for row in rows])
        if rows:
            self.session.execute(
                update(clients).where(clients.c.id == bindparam("row_id"))
                .values(search_text=bindparam("st"), name_folded=bindparam("nf"),
                        city=bindparam("ct"))
                .execution_options(synchronize_session=False),
                [{"row_id": row.id, **dict(zip(("st", "nf", "ct"), search.derived(
                    dict(row._mapping), people.get(row.id, ())).values()))} for row in rows])

    def add_keys(self, rows: list[dict]) -> None:
        """The duplicate keys of new clients (`rows`: their fields, with `id`)."""
        keys = [{"client_id": row["id"], "kind": kind, "value": value}
                for row in rows for kind, value in search.duplicate_keys(row)]
        if keys:
            self.session.execute(insert(client_keys), keys)

    def active_with_ico(self, icos, but: str | None = None) -> dict[str, str]:
        """{IČO: id} of active clients holding these IČOs (other than `but`)."""
        query = select(clients.c.ico, clients.c.id).where(
            clients.c.ico.in_(list(icos)), clients.c.archived_at.is_(None))
        if but:
            query = query.where(clients.c.id != but)
        return {row.ico: row.id for row in self.session.execute(query.order_by(
            clients.c.created_at))}

    def refreshable(self, among: list[str] | None = None, after: str | None = None,
                    limit: int | None = None) -> list:
        """(id, ico) rows, by id, of the clients the register may refresh that the caller
        may see: not archived, erased or merged. Of `among` (those ids) whatever their
        IČO, so the caller can tell "no IČO" from "not found"; else every one with an IČO
        after the id `after` (keyset)."""
        c = clients.c
        query = self.visible(select(c.id, c.ico).where(
            c.archived_at.is_(None), c.erased_at.is_(None), c.merged_into.is_(None)))
        if among is not None:
            query = query.where(c.id.in_(among))
        else:
            query = query.where(c.ico.is_not(None))
        if after is not None:
            query = query.where(c.id > after)
        return self.session.execute(query.order_by(c.id).limit(limit)).all()

    def many(self, client_ids) -> dict[str, Client]:
        """{id: client} of those of `client_ids` that exist and the caller may see."""
        found = self.session.scalars(select(Client).where(clients.c.id.in_(list(client_ids))))
        return {client.id: client for client in found if self.caller.may_see(client.owner_id)}

    def holding_icos(self, icos) -> list[Client]:
        """The clients holding these IČOs, archived ones too but not merged ones (they live
        on in the client they were merged into), oldest first; whoever may see them."""
        if not icos:
            return []
        return list(self.session.scalars(select(Client).where(
            clients.c.ico.in_(list(icos)), clients.c.merged_into.is_(None))
            .order_by(clients.c.created_at, clients.c.id)))

    def active_with_emails(self, emails) -> list[tuple[str, Client]]:
        """`(e-mail, client)` of the active clients having one of these e-mails among theirs
        (given as their duplicate keys are: trimmed, lower case); through the key index,
        whoever may see them."""
        if not emails:
            return []
        keys = client_keys.c
        rows = self.session.execute(
            select(Client, keys.value).join(client_keys, keys.client_id == clients.c.id)
            .where(keys.kind == "email", keys.value.in_(list(emails)),
                   clients.c.archived_at.is_(None), clients.c.merged_into.is_(None)))
        return [(row[1], row[0]) for row in rows]

    def possible_duplicates(self, client_id: str, limit: int = 10) -> list[dict]:
        """Active clients sharing an e-mail, a phone or the name with this one (those the
        caller may see), the strongest reason first."""
        mine, theirs = client_keys.alias("mine"), client_keys.alias("theirs")
        query = self.visible(
            select(clients.c.id, clients.c.name, theirs.c.kind)
            .join(theirs, theirs.c.client_id == clients.c.id)
            .join(mine, and_(mine.c.kind == theirs.c.kind, mine.c.value == theirs.c.value))
            .where(mine.c.client_id == client_id, theirs.c.client_id != client_id,
                   clients.c.archived_at.is_(None)))
        found: dict = {}
        for row in self.session.execute(query.limit(limit * 3)):
            reasons = found.setdefault(row.id, {"id": row.id, "name": row.name,
                                                "reasons": set()})["reasons"]
            reasons.add(row.kind)
        return [{"id": item["id"], "name": item["name"],
                 "reason": next(r for r in ("email", "phone", "name") if r in item["reasons"])}
                for item in list(found.values())[:limit]]

    def duplicate_groups(self, limit: int, cursor: str | None) -> dict:
        """Groups of active clients sharing a key, by kind and value, a page at a time:
        found through the key index, never by comparing every pair."""
        keys = client_keys.c
        shared = self.visible(
            select(keys.kind, keys.value).join(clients, clients.c.id == keys.client_id)
            .where(clients.c.archived_at.is_(None))
            .group_by(keys.kind, keys.value).having(func.count() > 1))
        if cursor:
            kind, value = cursor_values(cursor, 2)
            shared = shared.where(tuple_(keys.kind, keys.value) > tuple_(kind, value))
        groups = self.session.execute(shared.order_by(keys.kind, keys.value)
                                      .limit(limit + 1)).all()
        page = groups[:limit]
        members: dict = {}
        if page:
            rows = self.session.execute(self.visible(
                select(keys.kind, keys.value, clients.c.id, clients.c.name)
                .join(clients, clients.c.id == keys.client_id)
                .where(clients.c.archived_at.is_(None),
                       tuple_(keys.kind, keys.value).in_([tuple(g) for g in page])))
                .order_by(clients.c.created_at, clients.c.id))
            for row in rows:
                members.setdefault((row.kind, row.value), []).append(
                    {"id": row.id, "name": row.name})
        items = [{"reason": kind, "value": value, "clients": members.get((kind, value), [])}
                 for kind, value in page]
        next_cursor = values_cursor(*page[-1]) if len(groups) > limit else None
        return {"items": items, "next_cursor": next_cursor}

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
        self.check_visible(client_id)
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

    def histories(self, client_ids) -> dict[str, list]:
        """Every history row (action, changes) of these clients, oldest first."""
        columns = client_history.c
        found: dict[str, list] = {}
        for row in self.session.execute(
                select(columns.client_id, columns.action, columns.changes)
                .where(columns.client_id.in_(list(client_ids)))
                .order_by(columns.at, columns.id)):
            found.setdefault(row.client_id, []).append(row)
        return found

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


SORTS = {"name": clients.c.name_folded, "created_at": clients.c.created_at,
         "updated_at": clients.c.updated_at}


def _sort_cursor(sort: str, client: Client) -> str:
    column = sort.lstrip("-")
    if column == "name":
        value = search.fold(client.name)[:255]
    else:
        value = getattr(client, column).isoformat()
    return values_cursor(sort, value, client.id)


def _decode_sort_cursor(cursor: str, sort: str, column):
    named, value, last_id = cursor_values(cursor, 3, "Not a cursor of this order (sort).")
    if named != sort:
        raise ValidationFailed({"cursor": ["Not a cursor of this order (sort)."]})
    if column is clients.c.name_folded:
        return value, last_id
    try:
        return datetime.fromisoformat(value), last_id
    except ValueError as exc:
        raise ValidationFailed({"cursor": ["Not a cursor of this order (sort)."]}) from exc


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

    def of_clients(self, client_ids) -> dict[str, list[Contact]]:
        """{client id: its contact persons} of many clients at once."""
        if not client_ids:
            return {}
        columns = client_contacts.c
        people: dict[str, list[Contact]] = {}
        for row in self.session.execute(
                select(Contact, columns.client_id).join(
                    client_contacts, columns.contact_id == contacts.c.id)
                .where(columns.client_id.in_(list(client_ids)))):
            people.setdefault(row[1], []).append(row[0])
        return people

    def add_many(self, people: list[tuple[Contact, ContactLink]], now: datetime) -> None:
        """New contact persons, each linked to a client, in two multi-row inserts (a batch's:
        none of these clients has another primary contact)."""
        if not people:
            return
        self.session.execute(insert(contacts), [
            {name: getattr(contact, name) for name in _CONTACT_FIELDS} for contact, _ in people])
        self.session.execute(insert(client_contacts), [
            {"client_id": link.client_id, "contact_id": link.contact_id,
             "position": link.position, "is_primary": link.primary, "created_at": now}
            for _, link in people])

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


# the columns of a contact person (dataclasses.asdict, which deep-copies every value, was
# most of a batch's insert of them)
_CONTACT_FIELDS = tuple(field.name for field in dataclasses.fields(Contact))


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
