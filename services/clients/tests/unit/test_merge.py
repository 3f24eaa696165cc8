"""Merging a duplicate into the client that stays: values picked per field, lists united,
contact persons and subsidiaries moved, the source archived pointing to the target, both
histories, the events; and every refusal leaves both clients as they were."""
import json

import pytest
from sqlalchemy import select

from clients_service import contact_handlers as contacts, handlers, merge
from clients_service.merge_handlers import merge_clients
from crm_common.access import Caller
from crm_common.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from crm_common.messaging import outbox

SAD = "25063677"
CVUT = "68407700"


def _events(uow_factory, event_type):
    with uow_factory() as u:
        events = [json.loads(r.payload) for r in u.session.execute(
            select(outbox).order_by(outbox.c.id))]
    return [e for e in events if e["type"] == event_type]


def _create(uow_factory, **payload):
    """The client as GET answers it (a create's answer adds possible_duplicates)."""
    with uow_factory() as u:
        created = handlers.create_client(u, payload)
    created.pop("possible_duplicates")
    return created


def _add_contact(uow_factory, client_id, **payload):
    with uow_factory() as u:
        return contacts.add_contact(u, client_id, payload)


def _merge(uow_factory, target, source, fields=None, **kwargs):
    with uow_factory() as u:
        return merge_clients(u, target, source, fields, **kwargs)


def _get(uow_factory, client_id):
    with uow_factory() as u:
        return handlers.get_client(u, client_id)


@pytest.fixture
def pair(uow):
    """Two records of one company, typed by two people."""
    target = _create(uow, name="Dvořák a syn s.r.o.", email="info@dvorak.cz",
                     phones=[{"value": "603 111 222"}], tags=["vip"], relationship="customer",
                     bank_accounts=[{"number": "19-2000145399/0800", "primary": True}],
                     custom_fields={})
    source = _create(uow, name="Dvorak a syn", email="obchod@dvorak.cz",
                     phones=[{"value": "603 111 222"}, {"value": "+420 777 123 456"}], tags=["vip", "praha"],
                     website="https://dvorak.cz", category="A",
                     contact_address={"street": "Lidická 5", "city": "Brno"},
                     bank_accounts=[{"number": "CZ6508000000192000145399", "primary": True}],
                     delivery_addresses=[{"street": "Skladová 1", "city": "Brno"}])
    return target, source


def test_the_target_keeps_its_values_fills_its_blanks_and_unites_the_lists(uow, pair):
    target, source = pair
    merged = _merge(uow, target["id"], source["id"])
    assert merged["id"] == target["id"] and merged["version"] == target["version"] + 1
    assert merged["name"] == "Dvořák a syn s.r.o." and merged["relationship"] == "customer"
    assert merged["website"] == "https://dvorak.cz" and merged["category"] == "A"  # blanks
    assert merged["contact_address"]["city"] == "Brno"
    assert [e["value"] for e in merged["emails"]] == ["info@dvorak.cz", "obchod@dvorak.cz"]
    assert merged["email"] == "info@dvorak.cz"
    assert [p["value"] for p in merged["phones"]] == ["+420603111222", "+420777123456"]
    assert merged["tags"] == ["vip", "praha"]
    assert [(a["number"], a["primary"]) for a in merged["bank_accounts"]] == [
        ("19-2000145399/0800", True), ("CZ6508000000192000145399", False)]
    assert [a["street"] for a in merged["delivery_addresses"]] == ["Skladová 1"]
    source_now = _get(uow, source["id"])
    assert source_now["merged_into"] == target["id"] and source_now["archived_at"]
    assert merged["merged_into"] is None


def test_picked_fields_take_the_source_s_value(uow, pair):
    target, source = pair
    merged = _merge(uow, target["id"], source["id"], {
        "name": "source", "emails": "source", "category": "target", "tags": "source"})
    assert merged["name"] == "Dvorak a syn"
    assert merged["email"] == "obchod@dvorak.cz"  # the source's list first
    assert [e["value"] for e in merged["emails"]] == ["obchod@dvorak.cz", "info@dvorak.cz"]
    assert merged["category"] is None  # picked: the target's, empty as it is
    assert merged["tags"] == ["vip", "praha"]


def test_custom_field_values_are_picked_per_key(uow):
    with uow() as u:
        from clients_service import custom_field_handlers as custom
        for key in ("segment", "region"):
            custom.create_definition(u, {"key": key, "label": key, "type": "text",
                                         "applies_to": "client"})
    target = _create(uow, name="A", custom_fields={"segment": "retail"})
    source = _create(uow, name="B", custom_fields={"segment": "b2b", "region": "Morava"})
    merged = _merge(uow, target["id"], source["id"])
    assert merged["custom_fields"] == {"segment": "retail", "region": "Morava"}
    other = _create(uow, name="C", custom_fields={"segment": "gov"})
    merged = _merge(uow, target["id"], other["id"], {"custom_fields": {"segment": "source"}})
    assert merged["custom_fields"]["segment"] == "gov"


def test_contact_persons_move_and_the_target_keeps_its_primary(uow, pair):
    target, source = pair
    eva = _add_contact(uow, target["id"], last_name="Malá")  # the target's primary
    jan = _add_contact(uow, source["id"], last_name="Dvořák", position="jednatel")
    both = _add_contact(uow, source["id"], last_name="Sdílená", position="účetní")
    with uow() as u:
        contacts.add_contact(u, target["id"], {"contact_id": both["id"]})
    _merge(uow, target["id"], source["id"])
    with uow() as u:
        page = contacts.list_contacts(u, target["id"])
        assert contacts.list_contacts(u, source["id"])["items"] == []
    people = {c["last_name"]: c for c in page["items"]}
    assert set(people) == {"Malá", "Dvořák", "Sdílená"}
    link = {c["last_name"]: next(l for l in c["clients"] if l["client_id"] == target["id"])
            for c in page["items"]}
    assert link["Malá"]["primary"] and not link["Dvořák"]["primary"]
    assert link["Dvořák"]["position"] == "jednatel"
    assert link["Sdílená"]["position"] == "účetní"  # the target's link had none
    moved = _events(uow, "contact.updated")
    assert {e["subject"] for e in moved} >= {jan["id"], both["id"]}
    assert eva["id"] not in {e["subject"] for e in moved}
    with uow() as u:  # the target is found by its new people's names
        assert [c["id"] for c in handlers.list_clients(u, q="sdilena")["items"]] == \
            [target["id"]]


def test_the_source_s_primary_contact_becomes_the_target_s_when_it_has_none(uow, pair):
    target, source = pair
    jan = _add_contact(uow, source["id"], last_name="Dvořák")
    _merge(uow, target["id"], source["id"])
    with uow() as u:
        [person] = contacts.list_contacts(u, target["id"])["items"]
    assert person["id"] == jan["id"] and person["clients"][0]["primary"]


def test_subsidiaries_move_and_a_target_below_the_source_takes_its_parent(uow):
    group = _create(uow, name="Holding")
    source = _create(uow, name="Matka", parent_id=group["id"])
    target = _create(uow, name="Matka s.r.o.", parent_id=source["id"])
    child = _create(uow, name="Dcera", parent_id=source["id"])
    merged = _merge(uow, target["id"], source["id"])
    assert merged["parent_id"] == group["id"]
    assert _get(uow, child["id"])["parent_id"] == target["id"]
    [event] = [e for e in _events(uow, "client.updated") if e["subject"] == child["id"]]
    assert event["data"]["changes"]["parent_id"] == {"before": source["id"],
                                                     "after": target["id"]}
    with uow() as u:
        assert handlers.client_history(u, child["id"])["items"][0]["changes"][
            "parent_id"]["after"] == target["id"]


def test_both_histories_show_the_merge_and_the_target_s_keeps_the_whole_source(uow, pair):
    target, source = pair
    _add_contact(uow, source["id"], last_name="Dvořák")
    _merge(uow, target["id"], source["id"], {"name": "source"})
    with uow() as u:
        [mine] = [h for h in handlers.client_history(u, target["id"])["items"]
                  if h["action"] == "merged"]
        [theirs] = [h for h in handlers.client_history(u, source["id"])["items"]
                    if h["action"] == "merged"]
    merged_from = mine["changes"]["merged_from"]["after"]
    assert merged_from["record"] == source  # every value it had
    assert [c["name"] for c in merged_from["contacts"]] == ["Dvořák"]
    assert mine["changes"]["name"] == {"before": "Dvořák a syn s.r.o.",
                                       "after": "Dvorak a syn"}
    assert theirs["changes"]["merged_into"] == {"before": None, "after": target["id"]}
    assert theirs["changes"]["archived_at"]["after"]
    assert theirs["changes"]["contacts"]["after"] == []


def test_the_merged_event_names_both_and_the_target_s_update_is_a_user_s(uow, pair):
    target, source = pair
    _merge(uow, target["id"], source["id"])
    [event] = _events(uow, "client.merged")
    assert event["subject"] == target["id"]
    data = event["data"]
    assert (data["target_id"], data["source_id"]) == (target["id"], source["id"])
    assert data["source"] == {"name": "Dvorak a syn", "ico": None}
    [update] = [e for e in _events(uow, "client.updated") if e["subject"] == target["id"]]
    assert update["data"]["source"] == "user" and "website" in update["data"]["changes"]
    assert "merged_into" not in update["data"]["client"]


def test_the_source_s_ico_can_move_to_the_target(uow):
    target = _create(uow, name="Sad", ico=SAD)
    source = _create(uow, name="Sad Praha", ico=CVUT)
    merged = _merge(uow, target["id"], source["id"], {"ico": "source"})
    assert merged["ico"] == CVUT and merged["registry"]["status"] == "pending"
    # the archived source no longer holds it: a third client cannot take it either way
    with uow() as u, pytest.raises(Conflict) as refused:
        handlers.create_client(u, {"name": "Třetí", "ico": CVUT})
    assert refused.value.details["existing_id"] == target["id"]
    with uow() as u:
        assert handlers.create_client(u, {"name": "Nový Sad", "ico": SAD})["ico"] == SAD


def test_a_target_without_an_ico_takes_the_source_s_but_not_its_register_fields(uow):
    target = _create(uow, name="Sad", dic=None)
    source = _create(uow, name="Sad s.r.o.", ico=SAD, dic="CZ25063677")
    merged = _merge(uow, target["id"], source["id"])
    assert merged["ico"] == SAD and merged["registry"]["status"] == "pending"
    assert merged["dic"] is None  # the lookup of the new IČO fills it


def test_a_merged_client_is_never_changed_again(uow, pair):
    target, source = pair
    _merge(uow, target["id"], source["id"])
    calls = [lambda u: handlers.update_client(u, source["id"], {"name": "x"}),
             lambda u: handlers.restore_client(u, source["id"]),
             lambda u: contacts.add_contact(u, source["id"], {"last_name": "Nový"}),
             lambda u: merge_clients(u, target["id"], source["id"], None),
             lambda u: merge_clients(u, source["id"], target["id"], None)]
    for call in calls:
        with uow() as u, pytest.raises(Conflict) as refused:
            call(u)
        assert refused.value.details.get("existing_id") == target["id"] or \
            "archived" in str(refused.value)


@pytest.mark.parametrize("fields, message", [
    ({"colour": "source"}, "fields.colour"),
    ({"name": "both"}, "fields.name"),
    ({"custom_fields": {"segment": "both"}}, "fields.custom_fields"),
    ({"custom_fields": "source"}, "fields.custom_fields"),
    ({"email": "source"}, "fields.email"),
    (["name"], "fields"),
])
def test_bad_picks_are_refused_and_nothing_changes(uow, pair, fields, message):
    target, source = pair
    with uow() as u, pytest.raises(ValidationFailed) as refused:
        merge_clients(u, target["id"], source["id"], fields)
    assert message in refused.value.errors
    assert _get(uow, target["id"]) == target and _get(uow, source["id"]) == source


def test_refusals_leave_both_clients_as_they_were(uow, pair):
    target, source = pair
    person = _create(uow, kind="person", name="Jan Dvořák")
    with uow() as u, pytest.raises(Conflict, match="itself"):
        merge_clients(u, target["id"], target["id"], None)
    with uow() as u, pytest.raises(NotFound):
        merge_clients(u, target["id"], "00000000-0000-0000-0000-000000000000", None)
    with uow() as u, pytest.raises(Conflict, match="kind"):
        merge_clients(u, target["id"], person["id"], None)
    with uow() as u, pytest.raises(PreconditionFailed):
        merge_clients(u, target["id"], source["id"], None, if_match=target["version"] + 1)
    with uow() as u:
        handlers.archive_client(u, target["id"])
    with uow() as u, pytest.raises(Conflict, match="archived"):
        merge_clients(u, target["id"], source["id"], None)
    assert _get(uow, source["id"]) == source
    assert _events(uow, "client.merged") == []


def test_a_merge_sent_again_with_its_key_answers_the_same_and_merges_once(uow, pair):
    target, source = pair
    first = _merge(uow, target["id"], source["id"], idempotency_key="m-1")
    again = _merge(uow, target["id"], source["id"], idempotency_key="m-1")
    assert again == first and len(_events(uow, "client.merged")) == 1


def test_a_restricted_rep_merges_only_their_own_clients(uow):
    anna = Caller(user_id="anna", role="sales", own_only=True)
    with uow("user:anna", anna) as u:
        annas = handlers.create_client(u, {"name": "Annina"})
    bobs = _create(uow, name="Bobova", owner_id="bob")
    with uow("user:anna", anna) as u, pytest.raises(NotFound):
        merge_clients(u, annas["id"], bobs["id"], None)
    with uow("user:anna", anna) as u, pytest.raises(NotFound):
        merge_clients(u, bobs["id"], annas["id"], None)


def test_erasing_a_merged_person_scrubs_the_merge_s_record_of_them(uow):
    target = _create(uow, kind="person", name="Jana Nováková")
    source = _create(uow, kind="person", name="Jana Novakova", email="jana@example.cz")
    _merge(uow, target["id"], source["id"], {"emails": "target"})
    with uow() as u:
        handlers.erase_client(u, source["id"])
    with uow() as u:
        history = handlers.client_history(u, target["id"])["items"]
    assert "jana@example.cz" not in json.dumps([h for h in history
                                                if h["action"] == "merged"])


def test_united_keeps_the_first_side_s_entry_of_a_value():
    first = [{"value": "a@x.cz", "label": "work"}]
    second = [{"value": "a@x.cz", "label": None}, {"value": "b@x.cz", "label": None}]
    assert merge.united(first, second, "value") == [first[0], second[1]]
    assert merge.united(["a", "b"], ["b", "c"], None) == ["a", "b", "c"]
