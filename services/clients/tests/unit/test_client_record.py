"""The complete client record: values normalised, edits with If-Match, archive, history."""
import json

import pytest
from sqlalchemy import select

from clients_service import handlers
from clients_service.contact_data import InvalidValue, normalize_bank_account, normalize_phone
from crm_common.errors import Conflict, NotFound, PreconditionFailed, ValidationFailed
from crm_common.messaging import outbox


def _events(uow_factory, event_type=None):
    with uow_factory() as u:
        events = [json.loads(r.payload) for r in u.session.execute(
            select(outbox).order_by(outbox.c.id))]
    return [e for e in events if event_type in (None, e["type"])]


def _create(uow_factory, **payload):
    with uow_factory() as u:
        return handlers.create_client(u, {"name": "Dvořák a syn", **payload})


# -- values ---------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["603 111 222", "+420 603 111 222", "00420603111222",
                                   "603111222", "+420603111222"])
def test_czech_phone_numbers_become_e164(typed):
    assert normalize_phone(typed) == "+420603111222"


def test_foreign_numbers_keep_their_country():
    assert normalize_phone("+49 30 901820") == "+4930901820"


@pytest.mark.parametrize("typed", ["12", "abc", "", "+420 123", "603 111 222 333 444"])
def test_invalid_phone_numbers_are_refused(typed):
    with pytest.raises(InvalidValue):
        normalize_phone(typed)


@pytest.mark.parametrize("typed, stored", [
    ("19-2000145399/0800", "19-2000145399/0800"),
    ("000019-2000145399/0800", "19-2000145399/0800"),
    ("2000145399/0800", "2000145399/0800"),
    ("CZ65 0800 0000 1920 0014 5399", "CZ6508000000192000145399"),
    ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
])
def test_bank_accounts_czech_or_iban(typed, stored):
    assert normalize_bank_account(typed) == stored


@pytest.mark.parametrize("typed", ["19-2000145398/0800", "2000145399/9999", "CZ6508000000192000145398",
                                   "not an account"])
def test_invalid_bank_accounts_are_refused(typed):
    with pytest.raises(InvalidValue):
        normalize_bank_account(typed)


def test_create_takes_the_whole_record(uow):
    client = _create(uow, phones=[{"value": "603 111 222", "label": "mobil"}],
                     emails=[{"value": "obchod@dvorak.cz", "label": "obchod"}],
                     relationship="customer", category="A", tags=["VIP", " VIP ", "Brno"],
                     bank_accounts=[{"number": "19-2000145399/0800", "primary": True}],
                     billing={"currency": "CZK", "payment_terms_days": 14,
                              "credit_limit": "250000.5"},
                     contact_address={"city": "Brno"}, delivery_addresses=[{"city": "Zlín"}],
                     contact_preferences={"preferred_channel": "email"},
                     website="https://dvorak.cz", owner_id="user:bob")
    assert client["phone"] == "+420603111222" and client["phones"][0]["label"] == "mobil"
    assert client["email"] == "obchod@dvorak.cz"
    assert client["tags"] == ["VIP", "Brno"]
    assert client["billing"]["credit_limit"] == "250000.50"
    assert client["bank_accounts"] == [{"number": "19-2000145399/0800", "currency": "CZK",
                                        "primary": True}]
    assert client["created_by"] == client["updated_by"] == "user:alice"
    assert client["archived_at"] is None


def test_a_patch_of_billing_or_preferences_changes_only_the_keys_sent(uow):
    client = _create(uow, contact_preferences={"preferred_channel": "phone",
                                               "do_not_contact": True},
                     billing={"currency": "EUR", "credit_limit": "1000"})
    assert client["billing"] == {"currency": "EUR", "credit_limit": "1000.00",
                                 "payment_terms_days": None, "price_group": None}
    with uow() as u:
        updated = handlers.update_client(u, client["id"], {
            "contact_preferences": {"preferred_channel": "email"},
            "billing": {"price_group": "VIP"}})
    assert updated["contact_preferences"] == {"preferred_channel": "email",
                                              "do_not_contact": True}
    assert updated["billing"]["credit_limit"] == "1000.00"
    assert updated["billing"]["price_group"] == "VIP"
    with uow() as u:
        cleared = handlers.update_client(u, client["id"], {"billing": None})
    assert cleared["billing"] is None


def test_a_phone_extension_is_kept(uow):
    assert _create(uow, phone="603 111 222 ext. 5")["phone"] == "+420603111222;ext=5"


def test_single_email_and_phone_still_work(uow):
    client = _create(uow, email="a@b.cz", phone="603111222")
    assert client["emails"] == [{"value": "a@b.cz", "label": None}]
    assert client["phones"] == [{"value": "+420603111222", "label": None}]


@pytest.mark.parametrize("payload, field", [
    ({"phones": [{"value": "12"}]}, "phones"),
    ({"phone": "12"}, "phone"),
    ({"bank_accounts": [{"number": "19-2000145398/0800"}]}, "bank_accounts"),
    ({"bank_accounts": [{"number": "2000145399/0800", "primary": True},
                        {"number": "19-2000145399/0800", "primary": True}]}, "bank_accounts"),
    ({"billing": {"credit_limit": 1000.5}}, "billing"),
    ({"billing": {"credit_limit": "NaN"}}, "billing"),
    ({"billing": {"currency": "koruna"}}, "billing"),
    ({"relationship": "friend"}, "relationship"),
    ({"category": "D"}, "category"),
    ({"website": "not a url"}, "website"),
    ({"email": "a@b.cz", "emails": []}, "email"),
    ({"emails": [{"value": "nope"}]}, "emails"),
    ({"tags": "VIP"}, "tags"),
    ({"name": "A\x00B"}, "name"),
    ({"description": "\ud800"}, "description"),
    ({"custom_fields": {"x": "\x00"}}, "custom_fields"),
    ({"billing": {"credit_limit": "12.345"}}, "billing"),
    ({"billing": {"credit_limit": "1e5"}}, "billing"),
    ({"billing": {"credit_limit": " 12 "}}, "billing"),
    ({"billing": {"credit_limit": "-0"}}, "billing"),
    ({"billing": {"currency": "CZK\n"}}, "billing"),
    ({"bank_accounts": [{"number": "2000145399/0800abc"}]}, "bank_accounts"),
    ({"bank_accounts": [{"number": "19-2000145399/08000"}]}, "bank_accounts"),
])
def test_invalid_values_name_the_field_and_store_nothing(uow, payload, field):
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        handlers.create_client(u, {"name": "X", **payload})
    assert {name.split(".")[0] for name in exc.value.errors} == {field}
    assert _events(uow) == []


# -- edits ----------------------------------------------------------------------------

def test_patch_changes_only_what_is_sent_and_says_before_and_after(uow):
    client = _create(uow, email="a@b.cz", tags=["A"])
    with uow("user:bob") as u:
        updated = handlers.update_client(u, client["id"], {
            "tags": ["B", "C"], "phone": "603 111 222", "industry": "stavebnictví"},
            if_match=client["version"])
    assert updated["tags"] == ["B", "C"] and updated["email"] == "a@b.cz"
    assert updated["phones"] == [{"value": "+420603111222", "label": None}]
    assert updated["version"] == client["version"] + 1 and updated["updated_by"] == "user:bob"
    [event] = _events(uow, "client.updated")
    assert event["data"]["source"] == "user" and event["actor"] == "user:bob"
    assert event["data"]["changes"]["tags"] == {"before": ["A"], "after": ["B", "C"]}
    assert event["data"]["changes"]["phone"] == {"before": None, "after": "+420603111222"}
    assert set(event["data"]["changes"]) == {"tags", "phone", "phones", "industry"}


def test_a_stale_if_match_changes_nothing(uow):
    client = _create(uow)
    with uow() as u:
        handlers.update_client(u, client["id"], {"industry": "IT"}, if_match=client["version"])
    with uow() as u, pytest.raises(PreconditionFailed):
        handlers.update_client(u, client["id"], {"industry": "stavby"},
                               if_match=client["version"])
    with uow() as u:
        assert handlers.get_client(u, client["id"])["industry"] == "IT"
        assert len(handlers.client_history(u, client["id"])["items"]) == 2
    assert len(_events(uow, "client.updated")) == 1


def test_a_patch_that_changes_nothing_emits_nothing(uow):
    client = _create(uow, industry="IT")
    with uow() as u:
        same = handlers.update_client(u, client["id"], {"industry": "IT"})
    assert same["version"] == client["version"]
    assert _events(uow, "client.updated") == []


def test_patch_validates_like_create(uow):
    client = _create(uow)
    for payload, field in [({"name": "  "}, "name"), ({"ico": "25063678"}, "ico"),
                           ({"colour": "red"}, "colour"), ({"phones": [{"value": "1"}]},
                                                           "phones")]:
        with uow() as u, pytest.raises(ValidationFailed) as exc:
            handlers.update_client(u, client["id"], payload)
        assert field in exc.value.errors
    with uow() as u, pytest.raises(NotFound):
        handlers.update_client(u, "nope", {"industry": "IT"})


def test_another_ico_makes_the_register_data_pending_again(uow):
    client = _create(uow)
    with uow() as u:
        updated = handlers.update_client(u, client["id"], {"ico": "25596641"})
    assert updated["ico"] == "25596641" and updated["registry"]["status"] == "pending"
    [event] = _events(uow, "client.updated")
    assert set(event["data"]["changes"]) == {"ico", "registry"}


def test_setting_email_replaces_the_first_and_keeps_the_rest(uow):
    client = _create(uow, emails=[{"value": "a@b.cz", "label": "main"},
                                  {"value": "c@d.cz", "label": None}])
    with uow() as u:
        updated = handlers.update_client(u, client["id"], {"email": "x@y.cz"})
    assert updated["emails"] == [{"value": "x@y.cz", "label": "main"},
                                 {"value": "c@d.cz", "label": None}]
    with uow() as u:
        cleared = handlers.update_client(u, client["id"], {"email": None})
    assert cleared["email"] == "c@d.cz"


def test_the_same_idempotency_key_updates_once(uow):
    client = _create(uow)
    for _ in range(2):
        with uow() as u:
            answer = handlers.update_client(u, client["id"], {"industry": "IT"},
                                            idempotency_key="k1")
    assert answer["version"] == client["version"] + 1
    assert len(_events(uow, "client.updated")) == 1


# -- archive, history -----------------------------------------------------------------

def test_archive_and_restore(uow):
    client = _create(uow)
    with uow() as u:
        archived = handlers.archive_client(u, client["id"], if_match=client["version"])
    assert archived["archived_at"] is not None
    with uow() as u:
        assert handlers.list_clients(u)["items"] == []
        assert [c["id"] for c in handlers.list_clients(u, archived="only")["items"]] == \
            [client["id"]]
        assert len(handlers.list_clients(u, archived="true")["items"]) == 1
        again = handlers.archive_client(u, client["id"])  # nothing more to do
    assert again["version"] == archived["version"]
    with uow() as u:
        restored = handlers.restore_client(u, client["id"])
    assert restored["archived_at"] is None
    with uow() as u:
        assert [c["id"] for c in handlers.list_clients(u)["items"]] == [client["id"]]
    assert [e["type"] for e in _events(uow)][1:] == ["client.archived", "client.restored"]
    archived_event = _events(uow, "client.archived")[0]["data"]
    assert archived_event["client_id"] == client["id"] and archived_event["archived_at"]


def test_history_holds_every_write_newest_first(uow):
    client = _create(uow, industry="IT")
    with uow("user:bob") as u:
        handlers.update_client(u, client["id"], {"industry": "stavby"})
    with uow() as u:
        handlers.archive_client(u, client["id"])
    with uow() as u:
        page = handlers.client_history(u, client["id"], limit=2)
        rest = handlers.client_history(u, client["id"], cursor=page["next_cursor"])
    entries = page["items"] + rest["items"]
    assert [e["action"] for e in entries] == ["archived", "updated", "created"]
    assert entries[1]["actor"] == "user:bob"
    assert entries[1]["changes"] == {"industry": {"before": "IT", "after": "stavby"}}
    assert entries[2]["changes"]["name"] == {"before": None, "after": "Dvořák a syn"}
    with uow() as u, pytest.raises(NotFound):
        handlers.client_history(u, "nope")


def test_registry_changes_are_in_the_history(uow):
    client = _create(uow, ico="25596641")
    event = {"id": "e1", "type": "ares.lookup_succeeded", "data": {
        "client_id": client["id"], "ico": "25596641", "fetched_at": "2026-01-01T10:00:00Z",
        "record": {"name": "ALTA a.s.", "legal_form": "121"}}}
    with uow() as u:
        handlers.apply_registry_data(u, event)
        u.commit()
    with uow() as u:
        [latest, created] = handlers.client_history(u, client["id"])["items"]
    assert latest["action"] == "registry" and latest["actor"] == "system:ares"
    assert latest["changes"]["name"] == {"before": "Dvořák a syn", "after": "ALTA a.s."}


def test_a_batch_writes_each_clients_creation_into_its_history(uow):
    with uow() as u:
        results = handlers.create_clients(u, [{"name": "A"}, {"name": "B", "phone": "1"}])
    assert [r["status"] for r in results] == [201, 422]
    with uow() as u:
        [entry] = handlers.client_history(u, results[0]["client"]["id"])["items"]
    assert entry["action"] == "created" and entry["actor"] == "user:alice"


# -- hierarchy ------------------------------------------------------------------------

def test_a_group_of_any_depth_and_its_subsidiaries(uow):
    group = _create(uow, name="Skupina")
    a = _create(uow, name="A", parent_id=group["id"])
    b = _create(uow, name="B", parent_id=group["id"])
    a1 = _create(uow, name="A1", parent_id=a["id"])
    a11 = _create(uow, name="A11", parent_id=a1["id"])
    with uow() as u:
        direct = handlers.subsidiaries(u, group["id"])["items"]
        subtree = handlers.subsidiaries(u, group["id"], depth="all")["items"]
    assert [c["name"] for c in direct] == ["A", "B"]
    assert [c["name"] for c in subtree] == ["A", "B", "A1", "A11"]
    assert {c["id"] for c in subtree} == {a["id"], b["id"], a1["id"], a11["id"]}


@pytest.mark.parametrize("depth", [1, 3])
def test_a_cycle_is_refused_naming_parent_id(uow, depth):
    chain = [_create(uow, name="0")]
    for level in range(1, depth + 1):
        chain.append(_create(uow, name=str(level), parent_id=chain[-1]["id"]))
    with uow() as u, pytest.raises(Conflict) as exc:
        handlers.update_client(u, chain[0]["id"], {"parent_id": chain[-1]["id"]})
    assert "parent_id" in str(exc.value)
    with uow() as u, pytest.raises(Conflict):
        handlers.update_client(u, chain[0]["id"], {"parent_id": chain[0]["id"]})
    with uow() as u:
        assert handlers.get_client(u, chain[0]["id"])["parent_id"] is None


def test_a_parent_that_does_not_exist_is_422(uow):
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        handlers.create_client(u, {"name": "X", "parent_id": "nope"})
    assert "parent_id" in exc.value.errors
    with uow() as u:
        [result] = handlers.create_clients(u, [{"name": "Y", "parent_id": "nope"}])
    assert result["status"] == 422 and "parent_id" in result["errors"]


def test_subsidiaries_depth_is_checked(uow):
    client = _create(uow)
    with uow() as u, pytest.raises(ValidationFailed):
        handlers.subsidiaries(u, client["id"], depth="2")
    with uow() as u, pytest.raises(NotFound):
        handlers.subsidiaries(u, "nope")


# -- registry overrides ---------------------------------------------------------------

def _ares_answers(uow, client_id, record, at="2026-01-01T10:00:00Z"):
    event = {"id": f"e-{at}", "type": "ares.lookup_succeeded", "data": {
        "client_id": client_id, "ico": "25596641", "fetched_at": at, "record": record}}
    with uow() as u:
        handlers.apply_registry_data(u, event)
        u.commit()


REGISTER = {"name": "ALTA a.s.", "dic": "CZ25596641", "legal_form": "121",
            "registered_address": {"city": "Brno"}}


def test_a_users_trade_name_survives_refreshes_and_the_registers_stays_visible(uow):
    client = _create(uow, ico="25596641")
    _ares_answers(uow, client["id"], REGISTER)
    with uow() as u:
        renamed = handlers.update_client(u, client["id"], {"name": "Alta (Brno)"})
    assert renamed["registry_overrides"] == ["name"]
    _ares_answers(uow, client["id"], dict(REGISTER, name="ALTA a.s. nově",
                                          legal_form="112"), at="2026-02-01T10:00:00Z")
    with uow() as u:
        got = handlers.get_client(u, client["id"])
    assert got["name"] == "Alta (Brno)" and got["legal_form"] == "112"
    assert got["registry"]["values"]["name"] == "ALTA a.s. nově"
    with uow() as u:  # given back to the register: its value at once
        back = handlers.update_client(u, client["id"], {"registry_overrides": []})
    assert back["name"] == "ALTA a.s. nově" and back["registry_overrides"] == []


def test_edits_before_any_ico_are_no_overrides(uow):
    client = _create(uow)
    with uow() as u:
        edited = handlers.update_client(u, client["id"], {"name": "Jiný název"})
    assert edited["registry_overrides"] == []
    with uow() as u, pytest.raises(ValidationFailed):
        handlers.update_client(u, client["id"], {"registry_overrides": ["email"]})


def test_a_large_group_comes_a_page_at_a_time(uow):
    group = _create(uow, name="Skupina")
    for name in ("A", "B", "C"):
        _create(uow, name=name, parent_id=group["id"])
    with uow() as u:
        first = handlers.subsidiaries(u, group["id"], depth="all", limit=2)
        rest = handlers.subsidiaries(u, group["id"], depth="all", limit=2,
                                     cursor=first["next_cursor"])
    assert [c["name"] for c in first["items"] + rest["items"]] == ["A", "B", "C"]
    assert rest["next_cursor"] is None


def test_a_batchs_answers_are_the_resources_a_read_gives(uow):
    full = {"name": "Plná", "ico": "25596641", "dic": "CZ25596641",
            "emails": [{"value": "a@b.cz", "label": "x"}], "phones": [{"value": "603111222"}],
            "tags": ["A"], "billing": {"credit_limit": "5"}, "contact_address": {"city": "X"},
            "delivery_addresses": [{"city": "Y"}], "relationship": "partner",
            "bank_accounts": [{"number": "2000145399/0800"}], "owner_id": "u",
            "contact_preferences": {"do_not_contact": True}, "website": "https://x.cz"}
    with uow() as u:
        [answer, bare] = handlers.create_clients(u, [full, {"name": "Holá"}])
    for result in (answer, bare):
        with uow() as u:
            assert result["client"] == handlers.get_client(u, result["client"]["id"])
