"""Search, filters and sorts of the client list (SQLite's FTS5 here; PostgreSQL in the
interface and end-to-end tests)."""
import pytest

from clients_service import contact_handlers as contacts, handlers
from crm_common.errors import ValidationFailed


def make(uow, **fields):
    with uow() as u:
        return handlers.create_client(u, fields)


def found(uow, q=None, **kwargs):
    with uow() as u:
        return [c["name"] for c in handlers.list_clients(u, q=q, **kwargs)["items"]]


@pytest.fixture
def register(uow):
    made = {
        "kun": make(uow, name="Žluťoučký kůň, s.r.o.", ico="25596641",
                    phones=[{"value": "603 111 222"}], emails=[{"value": "info@kun.cz"}],
                    relationship="customer", category="A", tags=["VIP", "Praha"],
                    registered_address={"city": "Praha 1"}),
        "superfaktura": make(uow, name="Superfaktura.cz, s.r.o.", relationship="prospect",
                             tags=["VIP"], registered_address={"city": "Brno"}),
        "dvorak": make(uow, name="Jan Dvořák", kind="person", ico="27074358",
                       owner_id="anna"),
    }
    with uow() as u:
        contacts.add_contact(u, made["superfaktura"]["id"],
                             {"first_name": "Petra", "last_name": "Nováková"})
    return made


@pytest.mark.parametrize("q, expected", [
    ("dvorak", ["Jan Dvořák"]),
    ("DVOŘÁK", ["Jan Dvořák"]),
    ("zlutoucky kun", ["Žluťoučký kůň, s.r.o."]),
    ("superfak", ["Superfaktura.cz, s.r.o."]),
    ("255 96 641", ["Žluťoučký kůň, s.r.o."]),
    ("25596641", ["Žluťoučký kůň, s.r.o."]),
    ("+420 603 111 222", ["Žluťoučký kůň, s.r.o."]),
    ("603111222", ["Žluťoučký kůň, s.r.o."]),
    ("info@kun", ["Žluťoučký kůň, s.r.o."]),
    ("novakova", ["Superfaktura.cz, s.r.o."]),  # a contact person's name
    ("kůň superfak", []),  # every word must match
    ("nikdo", []),
    ("...", []),
])
def test_search_finds_by_name_ico_phone_email_and_people(uow, register, q, expected):
    assert found(uow, q) == expected


def test_an_exact_ico_ranks_first_then_names_starting_with_the_words(uow, register):
    make(uow, name="Odběratel koně 25596641", description="")
    make(uow, name="Kůň a spol.")
    names = found(uow, "kun")
    assert names[0] == "Kůň a spol."
    assert found(uow, "25596641")[0] == "Žluťoučký kůň, s.r.o."


def test_the_search_follows_changes_and_contact_persons(uow, register):
    with uow() as u:
        handlers.update_client(u, register["dvorak"]["id"], {"name": "Jan Horák"})
    assert found(uow, "dvorak") == [] and found(uow, "horak") == ["Jan Horák"]
    with uow() as u:
        person = contacts.add_contact(u, register["kun"]["id"], {"last_name": "Černý"})
    assert found(uow, "cerny") == ["Žluťoučký kůň, s.r.o."]
    with uow() as u:
        contacts.update_contact(u, person["id"], {"last_name": "Bílý"})
    assert found(uow, "cerny") == [] and found(uow, "bily") == ["Žluťoučký kůň, s.r.o."]
    with uow() as u:
        contacts.delete_contact(u, person["id"])
    assert found(uow, "bily") == []


@pytest.mark.parametrize("filters, expected", [
    ({"relationship": "customer"}, {"Žluťoučký kůň, s.r.o."}),
    ({"tags": ["VIP"]}, {"Žluťoučký kůň, s.r.o.", "Superfaktura.cz, s.r.o."}),
    ({"tags": ["VIP", "Praha"]}, {"Žluťoučký kůň, s.r.o."}),
    ({"city": "praha"}, {"Žluťoučký kůň, s.r.o."}),
    ({"owner_id": "anna"}, {"Jan Dvořák"}),
    ({"category": "A", "relationship": "prospect"}, set()),
    ({"registry_status": "pending"}, {"Žluťoučký kůň, s.r.o.", "Jan Dvořák"}),
])
def test_filters_combine(uow, register, filters, expected):
    assert set(found(uow, filters=filters)) == expected


def test_custom_field_filters(uow, register):
    from clients_service import custom_field_handlers as custom
    with uow() as u:
        custom.create_definition(u, {"key": "segment", "label": "Segment", "type": "text",
                                     "applies_to": "client"})
    with uow() as u:
        handlers.update_client(u, register["kun"]["id"], {"custom_fields": {"segment": "B2B"}})
    assert found(uow, filters={"custom_fields": {"segment": "B2B"}}) == [
        "Žluťoučký kůň, s.r.o."]


@pytest.mark.parametrize("sort", ["name", "-name", "created_at", "-created_at", "updated_at",
                                  "-updated_at"])
def test_every_sort_pages_without_skipping_or_repeating(uow, sort):
    for n in range(23):
        make(uow, name=f"Firma {n % 7} číslo {n:02d}")
    seen, cursor = [], None
    while True:
        with uow() as u:
            page = handlers.list_clients(u, limit=5, cursor=cursor, sort=sort,
                                         include_total=True)
        assert page["total"] == 23
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 23
    with uow() as u:
        everything = handlers.list_clients(u, limit=100, sort=sort)["items"]
    assert [c["id"] for c in everything] == seen


def test_search_pages_too(uow):
    for n in range(12):
        make(uow, name=f"Stavby Novák {n:02d}")
    with uow() as u:
        first = handlers.list_clients(u, q="novak", limit=5, include_total=True)
    with uow() as u:
        second = handlers.list_clients(u, q="novak", limit=5, cursor=first["next_cursor"])
    assert first["total"] == 12
    assert not {c["id"] for c in first["items"]} & {c["id"] for c in second["items"]}


@pytest.mark.parametrize("kwargs, field", [
    ({"sort": "ico"}, "sort"),
    ({"filters": {"colour": "red"}}, "colour"),
    ({"filters": {"relationship": "friend"}}, "relationship"),
    ({"filters": {"created_after": "not a date"}}, "created_after"),
    ({"filters": {"created_after": "0001-01-01T00:00:00+14:00"}}, "created_after"),
    ({"filters": {"vat_payer": "maybe"}}, "vat_payer"),
    ({"sort": "name", "cursor": "@"}, "cursor"),
    ({"q": "x" * 201}, "q"),
])
def test_unknown_filters_and_sorts_are_refused(uow, kwargs, field):
    with uow() as u, pytest.raises(ValidationFailed) as refused:
        handlers.list_clients(u, **kwargs)
    assert field in refused.value.errors


# -- duplicates ----------------------------------------------------------------------------

def test_an_ico_another_active_client_has_is_a_conflict_naming_it(uow):
    from crm_common.errors import Conflict
    first = make(uow, name="První", ico="25596641")
    with uow() as u, pytest.raises(Conflict) as refused:
        handlers.create_client(u, {"name": "Druhý", "ico": "255 96 641"})
    assert refused.value.details == {"existing_id": first["id"]}
    other = make(uow, name="Jiný")
    with uow() as u, pytest.raises(Conflict):
        handlers.update_client(u, other["id"], {"ico": "25596641"})
    with uow() as u:
        handlers.archive_client(u, first["id"])
    again = make(uow, name="Nástupce", ico="25596641")  # the holder is archived: free
    with uow() as u, pytest.raises(Conflict) as restoring:
        handlers.restore_client(u, first["id"])
    assert restoring.value.details == {"existing_id": again["id"]}


def test_a_batch_refuses_taken_icos_item_by_item(uow):
    holder = make(uow, name="Držitel", ico="25596641")
    with uow() as u:
        results = handlers.create_clients(u, [
            {"name": "A", "ico": "25596641"}, {"name": "B", "ico": "27074358"},
            {"name": "C", "ico": "27074358"}, {"name": "D"}])
    assert [r["status"] for r in results] == [409, 201, 409, 201]
    assert results[0]["existing_id"] == holder["id"]
    assert results[2]["existing_id"] == results[1]["client"]["id"]


def test_possible_duplicates_are_named_and_the_write_goes_through(uow):
    first = make(uow, name="Superfaktura.cz, s.r.o.", emails=[{"value": "info@sf.cz"}])
    phone = make(uow, name="Úplně jiná", phones=[{"value": "603 111 222"}])
    with uow() as u:
        second = handlers.create_client(u, {"name": "SUPERFAKTURA.CZ s. r. o."})
    assert second["possible_duplicates"] == [
        {"id": first["id"], "name": "Superfaktura.cz, s.r.o.", "reason": "name"}]
    with uow() as u:
        third = handlers.create_client(u, {"name": "Třetí", "emails": [{"value": "INFO@sf.cz"}],
                                           "phones": [{"value": "+420603111222"}]})
    assert {(d["id"], d["reason"]) for d in third["possible_duplicates"]} == {
        (first["id"], "email"), (phone["id"], "phone")}
    with uow() as u:
        report = handlers.duplicate_report(u, limit=2)
    with uow() as u:
        rest = handlers.duplicate_report(u, limit=2, cursor=report["next_cursor"])
    groups = {(g["reason"], g["value"]): {c["id"] for c in g["clients"]}
              for g in report["items"] + rest["items"]}
    assert groups == {("email", "info@sf.cz"): {first["id"], third["id"]},
                      ("name", "superfaktura cz"): {first["id"], second["id"]},
                      ("phone", "+420603111222"): {phone["id"], third["id"]}}
    with uow() as u:
        handlers.archive_client(u, third["id"])
    with uow() as u:
        assert len(handlers.duplicate_report(u)["items"]) == 1  # archived ones left out


def test_a_list_page_gives_each_client_as_get_does(uow, register):
    """The list writes its resources without marshmallow: the same as one client's."""
    with uow() as u:
        handlers.update_client(u, register["kun"]["id"], {
            "billing": {"payment_terms_days": 14}, "contact_preferences": {
                "do_not_contact": True}, "bank_accounts": [{"number": "2000145399/0800"}],
            "custom_fields": {}, "website": "https://kun.cz"})
        handlers.archive_client(u, register["dvorak"]["id"])
    with uow() as u:  # what the register said, ARES's answer applied
        handlers.apply_registry_data(u, {"id": "e-1", "type": "ares.lookup_succeeded", "data": {
            "client_id": register["kun"]["id"], "ico": "25596641",
            "fetched_at": "2026-01-01T10:00:00Z", "record": {
                "name": "Žluťoučký kůň, s.r.o.", "dic": "CZ25596641", "vat_payer": True,
                "legal_form": "112", "nace": ["471"], "registered_address": {
                    "street": "Hlavní 1", "city": "Praha 1", "postal_code": "110 00",
                    "country_code": "CZ", "text": "Hlavní 1, 110 00 Praha 1"}}}})
        u.commit()
    with uow() as u:
        listed = handlers.list_clients(u, archived="true")["items"]
        assert len(listed) == 3
        for client in listed:
            assert client == handlers.get_client(u, client["id"])


@pytest.mark.parametrize("q, sort", [(None, None), ("kun", None), (None, "name")])
def test_a_page_of_some_fields_holds_just_those_of_each_client(uow, register, q, sort):
    fields = ["name", "registry", "tags", "registered_address", "created_at"]
    with uow() as u:
        full = handlers.list_clients(u, q=q, sort=sort)["items"]
        some = handlers.list_clients(u, q=q, sort=sort, fields=fields)["items"]
    assert some == [{name: client[name] for name in fields} for client in full] and some
    with uow() as u, pytest.raises(ValidationFailed):
        handlers.list_clients(u, fields=["name", "password"])
