"""Use cases of the client register. Each runs in one unit of work and stages its events."""
import uuid

from sqlalchemy import select

from crm_common.errors import NotFound, ValidationFailed
from crm_common.events import parse_time, utcnow
from crm_common.fields import load
from crm_common.pagination import newest_first

from .domain import Client, normalize_dic, normalize_ico
from .orm import clients
from .schemas import ClientCreateSchema, ClientSchema

CREATE = "clients.create"  # the scope of its Idempotency-Keys
_create_schema = ClientCreateSchema()
_client_schema = ClientSchema()



def to_resource(client: Client) -> dict:
    return _client_schema.dump(client)


def create_client(uow, payload: dict, idempotency_key: str | None = None) -> dict:
    replayed = uow.replay(CREATE, idempotency_key, payload)
    if replayed is not None:
        return replayed
    data = load(_create_schema, payload)
    moment = utcnow()
    ico = normalize_ico(data.get("ico"))
    client = Client(
        id=str(uuid.uuid4()), kind=data["kind"], name=(data.get("name") or "").strip() or
        f"IČO {ico}", ico=ico, dic=normalize_dic(data.get("dic")), email=data.get("email"),
        phone=data.get("phone"), registered_address=data.get("registered_address"),
        registry_status="pending" if ico else None, registry_source="ares" if ico else None,
        created_at=moment, updated_at=moment)
    uow.session.add(client)
    uow.session.flush()
    resource = to_resource(client)
    uow.emit("client.created", client.id, {"client": resource})
    return uow.commit_once(CREATE, idempotency_key, payload, resource)


def get_client(uow, client_id: str) -> dict:
    client = uow.session.get(Client, client_id)
    if client is None:
        raise NotFound(f"client {client_id} does not exist")
    return to_resource(client)


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
