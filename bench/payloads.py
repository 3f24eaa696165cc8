"""Bodies as the services make them: a client resource (the shape clients_service dumps) in
a `client.created` CloudEvent, serialized as the outbox stores and the relay publishes it."""
import json
import uuid

from crm_common.events import EventContext, make_event, rfc3339, utcnow

SOURCE_SERVICE = "clients"
EVENT_TYPE = "client.created"


def client_resource(n: int) -> dict:
    """A company without IČO (no ARES lookup), every field a real resource has."""
    now = rfc3339(utcnow())
    return {"id": str(uuid.uuid4()), "kind": "company", "name": f"Bench {n} s.r.o.",
            "ico": None, "dic": None, "vat_payer": None, "vat_group_dic": None,
            "legal_form": None, "legal_form_name": None, "nace": [],
            "registered_address": None, "dissolved_on": None,
            "email": f"bench{n}@example.com", "phone": "+420 601 000 000", "registry": None,
            "created_at": now, "updated_at": now, "version": 1}


def client_created(n: int) -> dict:
    client = client_resource(n)
    return make_event(SOURCE_SERVICE, EVENT_TYPE, client["id"], {"client": client},
                      EventContext(actor="bench"))


def outbox_payload(n: int = 0) -> bytes:
    """What `UnitOfWork.emit` stores in the outbox for one `client.created` (UTF-8)."""
    return json.dumps(client_created(n), ensure_ascii=False).encode()


def new_client(n: int) -> dict:
    """A POST /api/v1/clients body without IČO."""
    return {"name": f"Bench {n} s.r.o.", "email": f"bench{n}@example.com"}
