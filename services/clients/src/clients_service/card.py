"""The clients service's part of the client card (GET /api/v1/clients/{id}/card) in one
call: the client, its parent company, its contact persons and its direct subsidiaries.
The gateway asks each service of the card once instead of once per section: every RPC
costs the broker, the gateway and the service more than these reads themselves."""
from crm_common.errors import NotFound

from .contact_handlers import contacts_page
from .handlers import read_client, subsidiaries


def card(uow, client_id: str, contacts_limit: int = 50, subsidiaries_limit: int = 50
         ) -> dict:
    """`{"client", "parent", "contacts", "subsidiaries"}`, each as its own RPC answers it
    (`get`, `list_contacts`, `subsidiaries`); only `{"client"}` for a client merged into
    another (the gateway redirects to that one's card). NotFound as `get`."""
    caller, connection = uow.context.caller, uow.session.connection()
    client = read_client(connection, client_id, caller)
    if client.get("merged_into"):
        return {"client": client}
    return {"client": client, "parent": _parent(connection, client.get("parent_id"), caller),
            # the client was seen above: its people need no second check of its owner
            "contacts": contacts_page(uow, client_id, contacts_limit),
            "subsidiaries": subsidiaries(uow, client_id, "1", subsidiaries_limit)}


def _parent(connection, parent_id: str | None, caller) -> dict | None:
    """The parent company; None when there is none or the caller may not see it (no
    parent shown then, and no outage either)."""
    if not parent_id:
        return None
    try:
        return read_client(connection, parent_id, caller)
    except NotFound:
        return None
