"""Use cases of the client register. Each runs in one unit of work and stages its events."""
import dataclasses
import hashlib
import uuid

from sqlalchemy import bindparam, insert, select

from crm_common.access import SYSTEM, Caller
from crm_common.db import take_turns
from crm_common.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from crm_common.events import parse_time, rfc3339, utcnow
from crm_common.fields import load
from crm_common.pagination import offset_page

from . import search
from .domain import EDITABLE, Client, new_client_fields, registry_view
from .orm import clients
from crm_common.concurrency import concurrent_writes
from .custom_field_handlers import custom_values
from .repository import SORTS, Clients, CustomFields, history_row
from .schemas import (ClientCreateSchema, ClientFiltersSchema, ClientPatchSchema, ClientSchema,
                      HistoryEntrySchema)

CREATE = "clients.create"  # the scopes of their Idempotency-Keys
CREATE_MANY = "clients.create_many"
UPDATE = "clients.update"
ARCHIVE = "clients.archive"
RESTORE = "clients.restore"
ERASE = "clients.erase"
ERASED = "(erased)"  # what the history shows in place of an erased value
MAX_BATCH = 1000
REGISTRY_ACTOR = "system:ares"  # who the history names for what the register changed
_create_schema = ClientCreateSchema()
_patch_schema = ClientPatchSchema()
_client_schema = ClientSchema()
_history_schema = HistoryEntrySchema()
_filters_schema = ClientFiltersSchema()
# the columns of the domain object (not the derived search columns)
CLIENT_COLUMNS = [column for column in clients.c if column.name in
                  {field.name for field in dataclasses.fields(Client)}]
SORT_NAMES = [order for name in SORTS for order in (name, f"-{name}")]
_TIME_FIELDS = ("archived_at", "erased_at", "created_at", "updated_at")
_RESOURCE_FIELDS = tuple(name for name in _client_schema.fields
                         if name not in _TIME_FIELDS + ("registry",))


def clients_of(uow) -> Clients:
    """The register as the caller may see it."""
    return Clients(uow.session, uow.context.caller)


def owned_by_default(data: dict, caller: Caller) -> dict:
    """A client someone creates without naming an owner is theirs (so a sales rep who may
    see only their own clients sees the ones they create)."""
    if data.get("owner_id") is None and caller.user_id:
        data["owner_id"] = caller.user_id
    return data


def to_resource(client: Client) -> dict:
    return _client_schema.dump(client)


def event_client(resource: dict) -> dict:
    """The client as events carry it (client.v1 in docs/events): the resource without
    `merged_into`, which is never set on a client that still changes."""
    return {name: value for name, value in resource.items() if name != "merged_into"}


def create_client(uow, payload: dict, idempotency_key: str | None = None) -> dict:
    replayed = uow.replay(CREATE, idempotency_key, payload)
    if replayed is not None:
        return replayed
    actor = uow.context.actor
    data = owned_by_default(load(_create_schema, payload), uow.context.caller)
    clients_of(uow).check_parent(None, data.get("parent_id"))
    data["custom_fields"] = custom_values(uow.session, "client", data.get("custom_fields"),
                                          {}, None, creating=True)
    fields = new_client_fields(str(uuid.uuid4()), data, utcnow(), actor)
    ico_free(uow, fields["ico"])
    client = Client(**fields)
    uow.session.add(client)
    uow.session.flush()
    clients_of(uow).reindex([client.id])
    clients_of(uow).record(client, "created", created_changes(vars_of(client)), actor,
                                client.created_at)
    resource = to_resource(client)
    uow.emit("client.created", client.id, {"client": event_client(resource)})
    return uow.commit_once(CREATE, idempotency_key, payload, _with_duplicates(uow, resource))


def ico_free(uow, ico: str | None, but: str | None = None) -> None:
    """One active client per IČO: another one holding it -> Conflict naming it (writers of
    one IČO take turns, so two at the same moment cannot both take it; a batch takes turns
    with all of them)."""
    if not ico:
        return
    take_turns(uow.session, "clients:ico", shared=True)
    take_turns(uow.session, f"clients:ico:{ico}")
    holder = Clients(uow.session).active_with_ico([ico], but=but).get(ico)
    if holder:
        raise Conflict(f"ico: client {holder} has the IČO {ico} already",
                       {"existing_id": holder})


def _icos_free(uow, rows: list[dict], results: list[dict]) -> list[dict]:
    """The rows of a batch whose IČO no active client holds (nor an earlier row); the
    others' results become 409s naming the holder."""
    icos = {row["ico"] for row in rows if row.get("ico")}
    if not icos:
        return rows
    take_turns(uow.session, "clients:ico")
    holders = Clients(uow.session).active_with_ico(icos)
    kept, positions = [], {result["client"]["id"]: index for index, result in
                           enumerate(results) if result.get("status") == 201 and
                           "client" in result}
    for row in rows:
        holder = holders.get(row["ico"]) if row.get("ico") else None
        if holder is None:
            kept.append(row)
            if row.get("ico"):
                holders[row["ico"]] = row["id"]
            continue
        results[positions[row["id"]]] = {
            "status": 409, "existing_id": holder,
            "errors": {"ico": [f"Client {holder} has the IČO {row['ico']} already."]}}
    return kept


def _with_duplicates(uow, resource: dict) -> dict:
    """The answer to a write: the client, and the clients it may be a duplicate of (the
    same e-mail, phone or name; the write went through all the same)."""
    return dict(resource, possible_duplicates=clients_of(uow).possible_duplicates(
        resource["id"]))


def created_changes(fields: dict) -> dict:
    """The history of a creation: every field the user set, from nothing."""
    return {name: {"before": None, "after": fields[name]} for name in EDITABLE
            if fields.get(name) not in (None, "", [], {})}


def vars_of(client: Client) -> dict:
    return {name: getattr(client, name) for name in EDITABLE}


def create_clients(uow, items: list, idempotency_key: str | None = None,
                   positions: list[int] | None = None) -> list[dict]:
    """Many clients in one transaction (`POST /clients/batch`, the import): one result per
    item, in order: `{"status": 201, "client": ...}` or `{"status": 422, "errors": ...}`.

    Each item is validated like a single create and an invalid one never stops the others.
    Item `i` is idempotent under the key `<idempotency_key>:<position i>`, its position in
    the caller's own list (`positions`, when a caller such as the gateway leaves out items
    it refused itself), so the same batch sent again, or again with its refused items
    corrected, answers the same for the rest and creates nothing twice.
    """
    if not isinstance(items, list) or not items or len(items) > MAX_BATCH:
        raise ValidationFailed({"items": [f"Give 1 to {MAX_BATCH} clients."]})
    if positions is None:
        positions = list(range(len(items)))
    if len(positions) != len(items) or len(set(positions)) != len(positions) or \
            not all(isinstance(p, int) and 0 <= p < 10 * MAX_BATCH for p in positions):
        raise ValidationFailed({"positions": ["One distinct position per item."]})
    keys = [item_key(idempotency_key, p) if idempotency_key else None for p in positions]
    for _ in range(3):  # a concurrent request with the same keys won: take its answers
        results = _create_batch(uow, items, keys)
        if results is not None:
            return results
    raise Conflict("the same batch is being created concurrently; send it again")


class UniqueInBatch:
    """Unique custom field values are checked against the stored clients, and here against
    the batch's earlier items (not stored until the batch is)."""

    def __init__(self, definitions: dict):
        self.keys = [key for key, definition in definitions.items() if definition.unique]
        self.seen: set[tuple[str, str]] = set()

    def claim(self, values: dict) -> None:
        mine = {(key, values[key]) for key in self.keys if values.get(key) is not None}
        taken = sorted(key for key, _ in mine & self.seen)
        if taken:
            raise ValidationFailed({f"custom_fields.{key}": [
                "An earlier client of this batch has this value already."] for key in taken})
        self.seen |= mine


def item_key(key: str, position: int) -> str:
    """The key of one item of a batch, within the 200 characters a key is stored in."""
    if len(key) > 180:
        key = hashlib.sha256(key.encode()).hexdigest()
    return f"{key}:{position}"


def _create_batch(uow, items: list, keys: list) -> list[dict] | None:
    replayed = uow.replay_many(CREATE_MANY, keys, items)
    moment, actor = utcnow(), uow.context.actor
    definitions = CustomFields(uow.session).by_key("client")  # once for the whole batch
    unique = UniqueInBatch(definitions)
    results, rows = [], []
    for payload, earlier in zip(items, replayed):
        if isinstance(earlier, dict):
            results.append({"status": 201, "client": earlier})
            continue
        try:
            if isinstance(earlier, ValidationFailed):
                raise earlier
            row = new_client_row(uow, payload, definitions, unique, moment)
        except ValidationFailed as exc:
            results.append({"status": 422, "errors": exc.errors})
            continue
        rows.append(row)
        results.append({"status": 201, "client": row_resource(row)})
    rows = _icos_free(uow, rows, results)
    insert_new_clients(uow, rows, [creation_history(row, actor) for row in rows])
    created = [(index, result["client"]) for index, result in enumerate(results)
               if result["status"] == 201 and replayed[index] is None]
    uow.emit_many([created_event(client) for _, client in created])
    answered = [(keys[index], items[index], client) for index, client in created if keys[index]]
    return results if uow.commit_many_once(CREATE_MANY, answered) else None


def new_client_row(uow, payload, definitions: dict, unique: "UniqueInBatch", moment,
                   people=()) -> dict:
    """A new client of a batch, validated as a single create is (ValidationFailed with the
    same messages), as the row to insert: its fields and derived search columns (`people`:
    the names of its contact persons)."""
    data = owned_by_default(load(_create_schema, payload), uow.context.caller)
    if data.get("parent_id"):
        clients_of(uow).check_parent(None, data["parent_id"])
    data["custom_fields"] = custom_values(uow.session, "client", data.get("custom_fields"),
                                          {}, None, True, definitions)
    unique.claim(data["custom_fields"])
    row = new_client_fields(str(uuid.uuid4()), data, moment, uow.context.actor)
    row.update(search.derived(row, people))
    return row


def insert_new_clients(uow, rows: list[dict], history: list[dict]) -> None:
    """New clients in bulk: a plain multi-row insert (the ORM's per-object bookkeeping was a
    third of the time), their duplicate keys and their history rows."""
    if rows:
        uow.session.execute(insert(clients), rows)
        clients_of(uow).add_keys(rows)
    clients_of(uow).record_many(history)


def creation_history(row: dict, actor, more: dict | None = None) -> dict:
    """The history row of a client created from `row`; `more`: what else it records."""
    return history_row(row["id"], "created", {**created_changes(row), **(more or {})}, actor,
                       row["created_at"], row["version"])


def created_event(resource: dict, **more) -> tuple[str, str, dict]:
    """`client.created` of a new client (`more`: data beside the client, e.g. its source)."""
    return "client.created", resource["id"], {"client": event_client(resource), **more}


def row_resource(row: dict, fields=None) -> dict:
    """The resource of a client from its fields, as `to_resource` gives it, for a client
    just made from validated input or one read back (validated on its way in): its values
    are already what the schema would dump (marshmallow walking 40 fields per client was a
    third of a batch's time, and two thirds of the service's time per exported client),
    only the times need writing. `fields`: only these (`row` holds their columns)."""
    resource = {name: row[name] for name in _RESOURCE_FIELDS if name in row}
    for name in _TIME_FIELDS:
        resource[name] = rfc3339(row[name]) if row.get(name) else None
    if "registry_status" in row:
        resource["registry"] = registry_view(row["registry_source"], row["registry_status"],
                                             row["registry_fetched_at"],
                                             row["registry_values"])
    return {name: resource[name] for name in fields or _client_schema.fields}


def get_client(uow, client_id: str) -> dict:
    return read_client(uow.session.connection(), client_id, uow.context.caller)


# built once: a statement made per call spent a third of a read on its cache key
_READ_CLIENT = select(*CLIENT_COLUMNS).where(clients.c.id == bindparam("client_id"))


def read_client(connection, client_id: str, caller: Caller = SYSTEM) -> dict:
    """One primary-key select; on a plain connection, a read needs no unit of work. The
    row becomes the resource as a page's rows do (row_resource), with no domain object and
    no marshmallow dump in between."""
    row = connection.execute(_READ_CLIENT, {"client_id": client_id}).first()
    if row is None or not caller.may_see(row.owner_id):
        raise NotFound(f"client {client_id} does not exist")
    return row_resource(row._mapping)


def list_clients(uow, limit: int = 50, cursor: str | None = None, ico: str | None = None,
                 archived: str = "false", q: str | None = None, filters: dict | None = None,
                 sort: str | None = None, include_total: bool = False,
                 fields: list | None = None) -> dict:
    """The register, searched (`q`), filtered and sorted, a page at a time; archived
    clients only when asked for. See schemas.ClientFiltersSchema for the filters.
    `fields`: only these fields of each client (an export reads a few of 40)."""
    wanted = load(_filters_schema, dict(filters or {}, archived=archived,
                                        **({"ico": ico} if ico else {})))
    if sort is not None and sort.lstrip("-") not in SORTS:
        raise ValidationFailed({"sort": [f"One of {', '.join(SORT_NAMES)}."]})
    if q is not None and (not isinstance(q, str) or len(q) > 200):
        raise ValidationFailed({"q": ["Up to 200 characters."]})
    columns = _columns_of(fields) if fields is not None else _CLIENT_FIELDS

    def dump(client: Client) -> dict:  # a client of the page, none of its other columns read
        return row_resource({name: getattr(client, name) for name in columns}, fields)
    return clients_of(uow).search(wanted, q, sort, limit, cursor, bool(include_total), dump,
                                columns if fields is not None else None)


_CLIENT_FIELDS = [field.name for field in dataclasses.fields(Client)]
# the columns a resource field is made of, where they are not the field itself
_FIELD_COLUMNS = {"registry": ("registry_source", "registry_status", "registry_fetched_at",
                               "registry_values")}
# what a page needs of every client whatever the fields: its id, its cursor's values
_ALWAYS_READ = ("id", "name", "created_at", "updated_at")


def _columns_of(fields) -> list[str]:
    if not isinstance(fields, list) or not fields or \
            not set(fields) <= set(_client_schema.fields):
        raise ValidationFailed({"fields": [
            f"A list of the client's fields: {', '.join(_client_schema.fields)}."]})
    return list(dict.fromkeys([*_ALWAYS_READ, *(column for name in fields for column in
                                               _FIELD_COLUMNS.get(name, (name,)))]))


def duplicate_report(uow, limit: int = 50, cursor: str | None = None) -> dict:
    """Groups of active clients that share an e-mail, a phone or a name (legal form
    aside), the caller's view of them."""
    limit = max(1, min(int(limit or 50), 500))
    return clients_of(uow).duplicate_groups(limit, cursor)


def update_client(uow, client_id: str, payload: dict, if_match: int | None = None,
                  idempotency_key: str | None = None) -> dict:
    """A user's partial update (PATCH): `client.updated` with before and after of each
    changed field, a history row. `if_match`: the version the caller read; another one is
    current -> PreconditionFailed and nothing changes."""
    request = {"client_id": client_id, "changes": payload, "if_match": if_match}
    replayed = uow.replay(UPDATE, idempotency_key, request)
    if replayed is not None:
        return replayed
    data = load(_patch_schema, payload)
    client = current_client(uow, client_id, if_match)
    if "parent_id" in data and data["parent_id"] != client.parent_id:
        clients_of(uow).check_parent(client.id, data["parent_id"])
    if "custom_fields" in data:
        data["custom_fields"] = custom_values(uow.session, "client", data["custom_fields"],
                                              client.custom_fields, client.id, creating=False)
    actor, now = uow.context.actor, utcnow()
    before_ico = client.ico
    changes = client.edit(data, actor, now)
    if client.ico != before_ico and client.archived_at is None:
        ico_free(uow, client.ico, but=client.id)
    if changes:
        save_client(uow, client, "updated", changes, actor, now)
        uow.emit("client.updated", client.id, {
            "client": event_client(to_resource(client)), "source": "user",
            "changes": changes})
    return uow.commit_once(UPDATE, idempotency_key, request,
                           _with_duplicates(uow, to_resource(client)))


def archive_client(uow, client_id: str, if_match: int | None = None,
                   idempotency_key: str | None = None) -> dict:
    return _archive_or_restore(uow, ARCHIVE, client_id, if_match, idempotency_key)


def restore_client(uow, client_id: str, if_match: int | None = None,
                   idempotency_key: str | None = None) -> dict:
    return _archive_or_restore(uow, RESTORE, client_id, if_match, idempotency_key)


def _archive_or_restore(uow, operation: str, client_id: str, if_match, idempotency_key
                        ) -> dict:
    """Archive (or restore) a client: `client.archived` / `client.restored`; archiving an
    archived client (restoring an active one) changes nothing and emits nothing."""
    request = {"client_id": client_id, "if_match": if_match}
    replayed = uow.replay(operation, idempotency_key, request)
    if replayed is not None:
        return replayed
    client = current_client(uow, client_id, if_match)
    actor, now = uow.context.actor, utcnow()
    action = "archived" if operation == ARCHIVE else "restored"
    if operation == RESTORE and client.archived_at is not None:
        ico_free(uow, client.ico, but=client.id)  # back among the active ones
    changes = (client.archive if operation == ARCHIVE else client.restore)(actor, now)
    if changes:
        save_client(uow, client, action, changes, actor, now)
        uow.emit(f"client.{action}", client.id, archive_event_data(client))
    return uow.commit_once(operation, idempotency_key, request, to_resource(client))


def archive_event_data(client: Client) -> dict:
    """The data of `client.archived` / `client.restored`."""
    return {"client_id": client.id, "name": client.name, "version": client.version,
            "archived_at": rfc3339(client.archived_at) if client.archived_at else None}


def subsidiaries(uow, client_id: str, depth: str = "1", limit: int = 50,
                 cursor: str | None = None) -> dict:
    """The client's subsidiaries: direct ones (`depth=1`) or the whole group (`all`), level
    by level, a page at a time."""
    if depth not in ("1", "all"):
        raise ValidationFailed({"depth": ["1 (direct subsidiaries) or all (the subtree)."]})
    repo = clients_of(uow)
    return offset_page(lambda offset, count: repo.subsidiaries(
        client_id, depth == "all", offset + count)[offset:], limit, cursor, to_resource)


def erase_client(uow, client_id: str, idempotency_key: str | None = None) -> dict:
    """GDPR erasure of a person client: their data leaves the record, its history (who did
    what when stays, the values go) and the messaging tables; `client.erased` tells the
    other services to do the same. Erasing an erased client changes nothing."""
    request = {"client_id": client_id}
    replayed = uow.replay(ERASE, idempotency_key, request)
    if replayed is not None:
        return replayed
    clients_repo = clients_of(uow)
    client = clients_repo.get(client_id)
    if client.erased_at is None:
        actor, now = uow.context.actor, utcnow()
        try:
            erased = client.erase(actor, now)
        except ValueError as exc:
            raise Conflict("kind: only a person client holds personal data to erase; a "
                           "company's contact persons are erased one by one") from exc
        flush_client(uow, client)
        clients_repo.reindex([client.id])
        clients_repo.scrub_history(client_id=client.id)
        # and a merge's record of them in the client they were merged into
        clients_repo.scrub_history(mentioning=client.id)
        clients_repo.record(client, "erased", {name: {"before": ERASED, "after": None}
                                               for name in erased}, actor, now)
        uow.forget([client.id])
        uow.emit("client.erased", client.id, {
            "client_id": client.id, "erased_at": rfc3339(now), "version": client.version})
    return uow.commit_once(ERASE, idempotency_key, request, to_resource(client))


def client_history(uow, client_id: str, limit: int = 50, cursor: str | None = None) -> dict:
    """Every write of the client, newest first."""
    return clients_of(uow).history(client_id, limit, cursor, _history_schema.dump)


def current_client(uow, client_id: str, if_match: int | None) -> Client:
    """The client to change; an erased one is never changed again (nothing may bring the
    person's data back), nor a merged one (it lives on in the client it was merged into)."""
    client = clients_of(uow).get(client_id)
    if client.erased_at is not None:
        raise Conflict(f"client {client_id} was erased (GDPR): it cannot be changed")
    if client.merged_into is not None:
        raise Conflict(f"client {client_id} was merged into {client.merged_into}: change "
                       "that one", {"existing_id": client.merged_into})
    if if_match is not None and client.version != if_match:
        raise PreconditionFailed(f"client {client_id} is at version {client.version}, not "
                                 f"{if_match}: read it again and reapply your change")
    return client


def save_client(uow, client: Client, action: str, changes: dict, actor, now) -> None:
    """Write the change and its history row."""
    flush_client(uow, client)
    clients_of(uow).record(client, action, changes, actor, now)
    clients_of(uow).reindex([client.id])


def flush_client(uow, client: Client) -> None:
    """A concurrent writer that got there first (the version moved on under us) ->
    PreconditionFailed."""
    client_id = client.id  # after a failed flush the object can no longer be read
    with concurrent_writes(f"client {client_id} was changed by someone else at the same "
                           "time: read it again and reapply your change"):
        uow.session.flush()


def apply_registry_data(uow, event: dict) -> None:
    """On `ares.lookup_succeeded`: take the register's data, emit `client.updated`."""
    data = event["data"]
    fetched_at = parse_time(data["fetched_at"])
    for client in clients_of(uow).find(data.get("client_id"), data.get("ico")):
        if client.ico != data.get("ico"):
            continue  # the IČO changed since the lookup was asked for
        changes = client.apply_registry(data["record"], fetched_at, utcnow())
        _emit_registry_update(uow, client, changes)


def registry_lookup_failed(uow, event: dict) -> None:
    """On `ares.lookup_failed`: the client stays as entered; its registry status says why."""
    data = event["data"]
    for client in clients_of(uow).find(data.get("client_id"), data.get("ico")):
        if client.ico == data.get("ico"):
            checked_at = parse_time(event.get("time")) if event.get("time") else utcnow()
            _emit_registry_update(uow, client,
                                  client.mark_registry(data["reason"], checked_at, utcnow()))


def _emit_registry_update(uow, client: Client, changes: dict) -> None:
    if not changes:
        return
    uow.session.flush()
    clients_of(uow).reindex([client.id])
    clients_of(uow).record(client, "registry", changes, REGISTRY_ACTOR,
                                client.updated_at)
    uow.emit("client.updated", client.id, {
        "client": event_client(to_resource(client)), "source": "ares", "changes": changes})
