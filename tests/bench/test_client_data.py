"""The generated clients of the scale benchmark (bench/client_data.py) and the rows the
loader makes of them (bench/client_loader.py): valid for the service, deterministic,
with the near-duplicates the duplicate report is to find."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ (importlib mode)
from bench import client_data, client_loader  # noqa: E402
from clients_service.schemas import ClientCreateSchema, ContactCreateSchema  # noqa: E402
from clients_service.search import fold, name_key  # noqa: E402
from crm_common.ico import is_valid  # noqa: E402

COUNT = 600


def test_the_same_seed_gives_the_same_clients_and_another_seed_others():
    first = [item.client for item in client_data.clients(COUNT)]
    assert first == [item.client for item in client_data.clients(COUNT)]
    assert first != [item.client for item in client_data.clients(COUNT, seed=7)]
    # a part made alone is the same as made with the rest (chunks run in parallel)
    assert [item.client for item in client_data.clients(COUNT, start=500)] == first[500:]


def test_clients_and_contacts_are_what_the_api_accepts():
    client_schema, contact_schema = ClientCreateSchema(), ContactCreateSchema()
    for item in client_data.clients(COUNT):
        assert not client_schema.validate(item.client), item.client
        assert item.contacts and item.contacts[0]["primary"]
        for contact in item.contacts:
            assert not contact_schema.validate(contact), contact


def test_icos_are_valid_and_unique():
    icos = [client_data.ico_of(index) for index in range(20_000)]
    assert all(is_valid(ico) for ico in icos[:2_000])
    assert len(set(icos)) == len(icos)
    given = [item.client["ico"] for item in client_data.clients(COUNT) if item.client["ico"]]
    assert len(given) == len(set(given)) > COUNT // 2


def test_company_names_differ_unless_a_duplicate_repeats_one():
    names = [client_data.company_name(index) for index in range(20_000)]
    assert len({name_key(name) for name in names}) == len(names)


def test_near_duplicates_share_a_duplicate_key_with_their_original():
    items = list(client_data.clients(2_000))
    duplicates = [item for item in items if item.duplicate_of is not None]
    assert 10 <= len(duplicates) <= 60  # about 1.5 %

    def keys(item):
        return {(row["kind"], row["value"]) for row in
                client_loader.rows_of(item, len(items))["client_keys"]}
    for item in duplicates:
        assert keys(item) & keys(items[item.duplicate_of]), item.client


def test_loader_rows_carry_the_search_columns_and_copy_escapes_text():
    item = next(client_data.clients(1))
    rows = client_loader.rows_of(item, 1)
    client = rows["clients"][0]
    person = item.contacts[0]
    assert client["search_text"] and client["name_folded"] and client["city"]
    assert fold(person["last_name"]) in client["search_text"]
    assert (client["ico"] or "") in client["search_text"]
    assert len(rows["contacts"]) == len(rows["client_contacts"]) == 2
    assert [link["is_primary"] for link in rows["client_contacts"]] == [True, False]
    line = client_loader.copy_text("clients", [dict(client, description="a\tb\\c\nd",
                                                    registered_address=None)])
    assert "a\\tb\\\\c\\nd" in line and "\tnull\t" in line and line.count("\n") == 1
