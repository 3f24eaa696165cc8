"""Use cases of the client register. Each runs in one unit of work and stages its events."""
import hashlib
import uuid

from sqlalchemy import insert, select

from crm_common.errors import Conflict, NotFound, ValidationFailed
from crm_common.events import parse_time, utcnow
from crm_common.fields import load
from crm_common.pagination import newest_first

from .domain import Client, new_client_fields, registry_view
from .orm import clients
from .schemas import ClientCreateSchema, ClientSchema

CREATE = "clients.create"  # the scopes of their Idempotency-Keys
CREATE_MANY = "clients.create_many"
MAX_BATCH = 1000
_create_schema = ClientCreateSchema()
_client_schema = ClientSchema()



def to_resource(client: Client) -> dict:
    return _client_schema.dump(client)


def create_client(uow, payload: dict, idempotency_key: str | None = None) -> dict:
    replayed = uow.replay(CREATE, idempotency_key, payload)
    if replayed is not None:
        return replayed
    client = _new_client(load(_create_schema, payload), utcnow())
    uow.session.add(client)
    uow.session.flush()
    resource = to_resource(client)
    uow.emit("client.created", client.id, {"client": resource})
    return uow.commit_once(CREATE, idempotency_key, payload, resource)


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


def item_key(key: str, position: int) -> str:
    """The key of one item of a batch, within the 200 characters a key is stored in."""
    if len(key) > 180:
        key = hashlib.sha256(key.encode()).hexdigest()
    return f"{key}:{position}"


def _create_batch(uow, items: list, keys: list) -> list[dict] | None:
    replayed = uow.replay_many(CREATE_MANY, keys, items)
    moment = utcnow()
    results, rows = [], []
    for payload, earlier in zip(items, replayed):
        if isinstance(earlier, dict):
            results.append({"status": 201, "client": earlier})
            continue
        try:
            if isinstance(earlier, ValidationFailed):
                raise earlier
            row = new_client_fields(str(uuid.uuid4()), load(_create_schema, payload), moment)
        except ValidationFailed as exc:
            results.append({"status": 422, "errors": exc.errors})
            continue
        rows.append(row)
        results.append({"status": 201, "client": _row_resource(row)})
    if rows:  # a plain bulk insert: the ORM's per-object bookkeeping was a third of the time
        uow.session.execute(insert(clients), rows)
    created = [(index, result["client"]) for index, (result, earlier) in
               enumerate(zip(results, replayed)) if result["status"] == 201 and earlier is None]
    uow.emit_many([("client.created", client["id"], {"client": client})
                   for _, client in created])
    answered = [(keys[index], items[index], client) for index, client in created if keys[index]]
    return results if uow.commit_many_once(CREATE_MANY, answered) else None


def _row_resource(row: dict) -> dict:
    return _client_schema.dump(dict(row, registry=registry_view(
        row["registry_source"], row["registry_status"], row["registry_fetched_at"])))


def _new_client(data: dict, moment) -> Client:
    return Client(**new_client_fields(str(uuid.uuid4()), data, moment))


def get_client(uow, client_id: str) -> dict:
    return read_client(uow.session.connection(), client_id)


def read_client(connection, client_id: str) -> dict:
    """One primary-key select; on a plain connection, a read needs no unit of work."""
    row = connection.execute(select(clients).where(clients.c.id == client_id)).first()
    if row is None:
        raise NotFound(f"client {client_id} does not exist")
    return to_resource(Client(**row._mapping))


def list_clients(uow, limit: int = 50, cursor: str | None = None, ico: str | None = None
                 ) -> dict:
    """Newest first, keyset-paginated: a cursor stays valid while clients are added."""
    query = select(Client)
    if ico:  # a search, so no check digit test: an IČO typed wrong simply finds nothing
        digits = str(ico).replace(" ", "")
        if not digits.isdigit() or len(digits) > 8:
            raise ValidationFailed({"ico": ["IČO must be up to 8 digits."]})
        query = query.where(clients.c.ico == digits.zfill(8))
    return newest_first(uow.session, query, clients.c.created_at, clients.c.id, limit, cursor,
                        to_resource, key=lambda client: (client.created_at, client.id))


def _clients_for(uow, data: dict) -> list[Client]:
    if data.get("client_id"):
        client = uow.session.get(Client, data["client_id"])
        return [client] if client else []
    return list(uow.session.scalars(select(Client).where(clients.c.ico == data.get("ico"))))


def apply_registry_data(uow, event: dict) -> None:
    """On `ares.lookup_succeeded`: take the register's data, emit `client.updated`."""
    data = event["data"]
    fetched_at = parse_time(data["fetched_at"])
    for client in _clients_for(uow, data):
        if client.ico != data.get("ico"):
            continue  # the IČO changed since the lookup was asked for
        changes = client.apply_registry(data["record"], fetched_at, utcnow())
        _emit_update(uow, client, changes)


def registry_lookup_failed(uow, event: dict) -> None:
    """On `ares.lookup_failed`: the client stays as entered; its registry status says why."""
    data = event["data"]
    for client in _clients_for(uow, data):
        if client.ico == data.get("ico"):
            checked_at = parse_time(event.get("time")) if event.get("time") else utcnow()
            _emit_update(uow, client, client.mark_registry(data["reason"], checked_at, utcnow()))


def _emit_update(uow, client: Client, changes: dict) -> None:
    if not changes:
        return
    uow.session.flush()
    uow.emit("client.updated", client.id, {
        "client": to_resource(client), "source": "ares", "changes": changes})
