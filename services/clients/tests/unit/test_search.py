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
