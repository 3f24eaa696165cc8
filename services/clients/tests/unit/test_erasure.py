"""GDPR erasure: nothing of the erased values remains in the clients service's tables."""
import json

import pytest
from sqlalchemy import select, text, update

from clients_service import contact_handlers as contacts, handlers
from crm_common.errors import Conflict, NotFound
from crm_common.events import utcnow
from crm_common.messaging import outbox

SECRETS = ("Jana", "Nováková", "jana@example.cz", "+420603111222", "Lidická 5",
           "19-2000145399/0800", "tajná poznámka", "Zbyněk", "zbynek@example.cz")


def _dump_all(engine) -> str:
    """Every row of every table, as text."""
    with engine.connect() as conn:
        tables = [row[0] for row in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))]
        return json.dumps({table: [list(map(str, row)) for row in conn.execute(
            text(f'SELECT * FROM "{table}"'))] for table in tables}, ensure_ascii=False)


def _relay_sent_everything(uow_factory):
    with uow_factory() as u:
        u.session.execute(update(outbox).values(sent_at=utcnow()))
        u.commit()


def _person(uow_factory):
    with uow_factory() as u:
        jana = handlers.create_client(u, {
            "kind": "person", "name": "Jana Nováková", "email": "jana@example.cz",
            "phone": "603 111 222", "registered_address": {"street": "Lidická 5"},
            "bank_accounts": [{"number": "19-2000145399/0800"}],
            "description": "tajná poznámka", "relationship": "customer"},
            idempotency_key="k-create")
    with uow_factory() as u:
        handlers.update_client(u, jana["id"], {"description": "tajná poznámka 2"})
    return jana


def test_an_erased_person_leaves_nothing_behind(uow, engine):
    jana = _person(uow)
    _relay_sent_everything(uow)
    assert "Nováková" in _dump_all(engine)
    with uow() as u:
        erased = handlers.erase_client(u, jana["id"], idempotency_key="k-erase")
    assert erased["name"] == "Erased person" and erased["erased_at"]
    assert erased["emails"] == [] and erased["relationship"] == "customer"
    everything = _dump_all(engine)
    for secret in SECRETS:
        assert secret not in everything, secret
    with uow() as u:
        history = handlers.client_history(u, jana["id"])["items"]
        assert handlers.list_clients(u)["items"] == []  # archived too
    assert [h["action"] for h in history] == ["erased", "updated", "created"]
    assert all(h["changes"] == {} for h in history[1:])
    assert history[0]["changes"]["email"] == {"before": "(erased)", "after": None}
    with uow() as u:
        events = [json.loads(r.payload) for r in u.session.execute(
            select(outbox).where(outbox.c.sent_at.is_(None)))]
    assert [e["type"] for e in events] == ["client.erased"]
    assert events[0]["data"]["client_id"] == jana["id"]


def test_nothing_brings_an_erased_persons_data_back(uow):
    jana = _person(uow)
    with uow() as u:
        handlers.erase_client(u, jana["id"])
    for change in (lambda u: handlers.update_client(u, jana["id"], {"name": "Jana N."}),
                   lambda u: handlers.restore_client(u, jana["id"]),
                   lambda u: contacts.add_contact(u, jana["id"], {"last_name": "Novák"})):
        with uow() as u, pytest.raises(Conflict):
            change(u)
    with uow() as u:  # a late retry of the request that created her creates nothing
        replayed = handlers.create_client(u, {
            "kind": "person", "name": "Jana Nováková", "email": "jana@example.cz",
            "phone": "603 111 222", "registered_address": {"street": "Lidická 5"},
            "bank_accounts": [{"number": "19-2000145399/0800"}],
            "description": "tajná poznámka", "relationship": "customer"},
            idempotency_key="k-create")
    assert replayed == {"id": jana["id"], "erased": True}
    with uow() as u:
        assert handlers.list_clients(u, archived="true")["items"][0]["name"] == \
            "Erased person"
        assert len(handlers.list_clients(u, archived="true")["items"]) == 1


def test_erasing_twice_changes_nothing_and_a_company_is_refused(uow):
    jana = _person(uow)
    with uow() as u:
        first = handlers.erase_client(u, jana["id"])
    with uow() as u:
        again = handlers.erase_client(u, jana["id"])
    assert again["version"] == first["version"]
    with uow() as u:
        firma = handlers.create_client(u, {"name": "Firma s.r.o."})
    with uow() as u, pytest.raises(Conflict):
        handlers.erase_client(u, firma["id"])
    with uow() as u, pytest.raises(NotFound):
        handlers.erase_client(u, "nope")


def test_an_erased_contact_person_leaves_nothing_behind(uow, engine):
    with uow() as u:
        firma = handlers.create_client(u, {"name": "Firma s.r.o."})
    with uow() as u:
        zbynek = contacts.add_contact(u, firma["id"], {
            "first_name": "Zbyněk", "last_name": "Král",
            "emails": [{"value": "zbynek@example.cz"}]})
    with uow() as u:
        contacts.update_contact(u, zbynek["id"], {"note": "tajná poznámka"})
    _relay_sent_everything(uow)
    with uow() as u:
        contacts.erase_contact(u, zbynek["id"])
    everything = _dump_all(engine)
    for secret in ("Zbyněk", "zbynek@example.cz", "tajná poznámka"):
        assert secret not in everything, secret
    with uow() as u, pytest.raises(NotFound):
        contacts.get_contact(u, zbynek["id"])
    with uow() as u:
        history = handlers.client_history(u, firma["id"])["items"]
    assert [h["action"] for h in history] == ["contact_erased", "contact_added", "created"]
    assert history[1]["changes"] == {}


def test_a_deleted_contact_person_can_still_be_erased(uow, engine):
    with uow() as u:
        firma = handlers.create_client(u, {"name": "Firma s.r.o."})
    with uow() as u:
        zbynek = contacts.add_contact(u, firma["id"], {"first_name": "Zbyněk",
                                                       "last_name": "Král"})
    with uow() as u:
        contacts.delete_contact(u, zbynek["id"])
    assert "Zbyněk" in _dump_all(engine)  # the history says who was removed
    _relay_sent_everything(uow)
    with uow() as u:
        contacts.erase_contact(u, zbynek["id"])
    assert "Zbyněk" not in _dump_all(engine)
    with uow() as u:
        erased = [json.loads(r.payload) for r in u.session.execute(select(outbox))
                  if json.loads(r.payload)["type"] == "contact.erased"]
    assert erased[0]["data"]["client_ids"] == [firma["id"]]
    with uow() as u, pytest.raises(NotFound):
        contacts.erase_contact(u, "never-existed")
