"""The clients service's part of the client card in one call (`card.card`): what each of
`get`, `list_contacts` and `subsidiaries` would answer, the parent beside them, under the
caller's access rules."""
import pytest

from clients_service import card, contact_handlers as contacts, handlers
from clients_service.merge_handlers import merge_clients
from crm_common.access import SYSTEM, Caller
from crm_common.db import make_session_factory
from crm_common.errors import NotFound
from crm_common.events import EventContext
from crm_common.nameko_glue.database import read_only
from crm_common.uow import UnitOfWork

BOB = Caller(user_id="bob", role="sales", own_only=True)


@pytest.fixture
def reader(engine):
    """A read-only unit of work, as the service's `card` RPC runs in (`self.db.reader()`)."""
    factory = read_only(make_session_factory(engine))
    return lambda caller=SYSTEM: UnitOfWork(factory, "clients", EventContext(
        actor=f"user:{caller.user_id or 'alice'}", caller=caller))


def _create(uow, actor="user:alice", caller=None, **fields):
    with (uow(actor, caller) if caller else uow()) as u:
        return handlers.create_client(u, fields)


def test_the_card_holds_the_client_its_parent_people_and_subsidiaries(uow, reader):
    parent = _create(uow, name="Holding a.s.")
    client = _create(uow, name="Dcera s.r.o.", parent_id=parent["id"])
    subsidiary = _create(uow, name="Vnučka s.r.o.", parent_id=client["id"])
    with uow() as u:
        person = contacts.add_contact(u, client["id"], {"last_name": "Dvořák"})
    with reader() as u:
        answer = card.card(u, client["id"])
    with uow() as u:
        assert answer["client"] == handlers.read_client(u.session.connection(), client["id"])
        assert answer["parent"] == handlers.read_client(u.session.connection(), parent["id"])
        assert answer["contacts"] == contacts.list_contacts(u, client["id"])
        assert answer["subsidiaries"] == handlers.subsidiaries(u, client["id"])
    assert [p["id"] for p in answer["contacts"]["items"]] == [person["id"]]
    assert [c["id"] for c in answer["subsidiaries"]["items"]] == [subsidiary["id"]]


def test_limits_reach_the_sections(uow):
    client = _create(uow, name="Firma s.r.o.")
    for name in ("Dvořák", "Novák", "Svoboda"):
        with uow() as u:
            contacts.add_contact(u, client["id"], {"last_name": name})
    with uow() as u:
        answer = card.card(u, client["id"], contacts_limit=2)
    assert len(answer["contacts"]["items"]) == 2 and answer["contacts"]["next_cursor"]
    assert answer["parent"] is None


def test_a_parent_the_caller_may_not_see_is_no_parent_and_a_hidden_client_no_card(
        uow, reader):
    parent = _create(uow, name="Holding a.s.", owner_id="anna")
    bobs = _create(uow, name="Bobova s.r.o.", parent_id=parent["id"], owner_id="bob")
    annas = _create(uow, name="Annina s.r.o.", owner_id="anna")
    with reader(BOB) as u:
        answer = card.card(u, bobs["id"])
    assert answer["client"]["id"] == bobs["id"] and answer["parent"] is None
    with reader(BOB) as u, pytest.raises(NotFound):
        card.card(u, annas["id"])
    with uow() as u, pytest.raises(NotFound):
        card.card(u, "6c1f3b0e-0000-4000-8000-00000000dead")


def test_a_merged_client_s_card_is_just_the_client_saying_where_it_went(uow):
    survivor = _create(uow, name="Firma s.r.o.")
    merged = _create(uow, name="Firma, s. r. o.")
    with uow() as u:
        merge_clients(u, survivor["id"], merged["id"], None)
    with uow() as u:
        answer = card.card(u, merged["id"])
    assert answer == {"client": answer["client"]}
    assert answer["client"]["merged_into"] == survivor["id"]
