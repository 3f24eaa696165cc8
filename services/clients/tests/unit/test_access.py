"""The record-level rule in the clients service's queries: a sales rep restricted to their
own clients gets NotFound for anyone else's, and lists leave them out."""
import pytest

from clients_service import contact_handlers as contacts, handlers
from crm_common.access import Caller
from crm_common.errors import NotFound, ValidationFailed

ANNA = Caller(user_id="anna", role="sales", own_only=True)
BOB = Caller(user_id="bob", role="sales", own_only=True)
BOB_UNRESTRICTED = Caller(user_id="bob", role="sales", own_only=False)
MANAGER = Caller(user_id="marie", role="manager", own_only=True)


def as_(uow, caller):
    return uow(f"user:{caller.user_id}", caller)


@pytest.fixture
def annas(uow):
    with as_(uow, ANNA) as u:
        client = handlers.create_client(u, {"name": "Annina firma"})
    with as_(uow, ANNA) as u:
        person = contacts.add_contact(u, client["id"], {"last_name": "Dvořák"})
    return client, person


def test_a_client_created_without_an_owner_is_its_creator_s(annas):
    assert annas[0]["owner_id"] == "anna"


def test_someone_else_s_client_does_not_exist_for_a_restricted_rep(uow, annas):
    client, person = annas
    calls = [
        lambda u: handlers.get_client(u, client["id"]),
        lambda u: handlers.update_client(u, client["id"], {"name": "x"}),
        lambda u: handlers.archive_client(u, client["id"]),
        lambda u: handlers.client_history(u, client["id"]),
        lambda u: handlers.subsidiaries(u, client["id"]),
        lambda u: contacts.list_contacts(u, client["id"]),
        lambda u: contacts.get_contact(u, person["id"]),
        lambda u: contacts.update_contact(u, person["id"], {"position": "CEO"}),
        lambda u: contacts.delete_contact(u, person["id"]),
        lambda u: contacts.client_vcards(u, client["id"]),
        lambda u: contacts.add_contact(u, client["id"], {"last_name": "Novák"}),
    ]
    for call in calls:
        with as_(uow, BOB) as u, pytest.raises(NotFound):
            call(u)
    for caller in (ANNA, MANAGER, BOB_UNRESTRICTED):
        with as_(uow, caller) as u:
            assert handlers.get_client(u, client["id"])["name"] == "Annina firma"
            assert contacts.get_contact(u, person["id"])["id"] == person["id"]


def test_lists_leave_out_what_a_restricted_rep_may_not_see(uow, annas):
    with as_(uow, BOB) as u:
        bobs = handlers.create_client(u, {"name": "Bobova firma"})
    with as_(uow, BOB) as u:
        assert [c["id"] for c in handlers.list_clients(u)["items"]] == [bobs["id"]]
    with as_(uow, MANAGER) as u:
        assert len(handlers.list_clients(u)["items"]) == 2


def test_a_hidden_client_cannot_become_a_parent(uow, annas):
    with as_(uow, BOB) as u:
        bobs = handlers.create_client(u, {"name": "Bobova firma"})
    with as_(uow, BOB) as u, pytest.raises(ValidationFailed) as refused:
        handlers.update_client(u, bobs["id"], {"parent_id": annas[0]["id"]})
    assert "parent_id" in refused.value.errors


def test_a_shared_person_shows_only_the_links_the_rep_may_see(uow, annas):
    client, person = annas
    with as_(uow, BOB) as u:
        bobs = handlers.create_client(u, {"name": "Bobova firma"})
    with uow() as u:  # an administrator links the person to Bob's client too
        contacts.add_contact(u, bobs["id"], {"contact_id": person["id"]})
    with as_(uow, BOB) as u:
        seen = contacts.get_contact(u, person["id"])
    assert [link["client_id"] for link in seen["clients"]] == [bobs["id"]]
    with uow() as u:
        assert len(contacts.get_contact(u, person["id"])["clients"]) == 2


def test_a_subsidiary_below_a_hidden_company_is_still_found(uow):
    with as_(uow, BOB) as u:
        top = handlers.create_client(u, {"name": "Holding"})
    with uow() as u:
        middle = handlers.create_client(u, {"name": "Mezi", "parent_id": top["id"],
                                            "owner_id": "anna"})
    with uow() as u:
        bottom = handlers.create_client(u, {"name": "Dole", "parent_id": middle["id"],
                                            "owner_id": "bob"})
    with as_(uow, BOB) as u:
        group = handlers.subsidiaries(u, top["id"], depth="all")
    assert [c["id"] for c in group["items"]] == [bottom["id"]]


def test_a_restricted_rep_deleting_a_shared_person_only_unlinks_them_from_their_clients(
        uow, annas):
    client, person = annas
    with as_(uow, BOB) as u:
        bobs = handlers.create_client(u, {"name": "Bobova firma"})
    with uow() as u:
        contacts.add_contact(u, bobs["id"], {"contact_id": person["id"]})
    with as_(uow, BOB) as u:
        assert contacts.delete_contact(u, person["id"]) == {"id": person["id"],
                                                              "deleted": True}
    with as_(uow, BOB) as u, pytest.raises(NotFound):
        contacts.get_contact(u, person["id"])
    with as_(uow, ANNA) as u:
        kept = contacts.get_contact(u, person["id"])
        assert [link["client_id"] for link in kept["clients"]] == [client["id"]]
        assert len(contacts.list_contacts(u, client["id"])["items"]) == 1
