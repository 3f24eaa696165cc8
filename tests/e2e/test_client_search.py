"""Searching, filtering and sorting the register through the gateway, on both databases
(SQLite's FTS5, PostgreSQL's trigram index)."""
import pytest
import requests

from crm_common.testing import TEST_ADMIN_TOKEN


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request, small_stack):
    stack = small_stack(request.param, ("clients",))
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {TEST_ADMIN_TOKEN}"
    base = stack.url + "/api/v1/clients"

    def call(method, path="", **kwargs):
        return http.request(method, base + path, timeout=30, **kwargs)
    made = call("POST", "/batch", json={"items": [
        {"name": "Žluťoučký kůň, s.r.o.", "ico": "25596641", "phone": "603 111 222",
         "relationship": "customer", "tags": ["VIP"], "registered_address": {"city": "Praha"}},
        {"name": "Superfaktura.cz, s.r.o.", "email": "info@superfaktura.cz", "tags": ["VIP"]},
        {"name": "Jan Dvořák", "kind": "person", "registered_address": {"city": "Brno"}},
        *({"name": f"Stavby Novák {n:02d}", "relationship": "prospect"} for n in range(17)),
    ]})
    assert made.status_code == 200 and all(i["status"] == 201 for i in made.json()["items"])
    person = call("POST", f"/{made.json()['items'][1]['client']['id']}/contacts",
                  json={"first_name": "Petra", "last_name": "Veselá"})
    assert person.status_code == 201
    yield call
    stack.stop()


def names(answer) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [client["name"] for client in answer.json()["items"]]


@pytest.mark.parametrize("q, expected", [
    ("dvorak", ["Jan Dvořák"]), ("zlutoucky kun", ["Žluťoučký kůň, s.r.o."]),
    ("superfak", ["Superfaktura.cz, s.r.o."]), ("255 96 641", ["Žluťoučký kůň, s.r.o."]),
    ("+420 603 111 222", ["Žluťoučký kůň, s.r.o."]), ("vesela", ["Superfaktura.cz, s.r.o."]),
    ("info@superfaktura.cz", ["Superfaktura.cz, s.r.o."]), ("xyzzy", []),
])
def test_search(api, q, expected):
    assert names(api("GET", params={"q": q})) == expected


def test_filters_with_a_total(api):
    answer = api("GET", params={"tag": "VIP", "include_total": "true", "sort": "name"})
    assert names(answer) == ["Superfaktura.cz, s.r.o.", "Žluťoučký kůň, s.r.o."]
    assert answer.json()["total"] == 2
    assert names(api("GET", params={"city": "praha", "relationship": "customer"})) == [
        "Žluťoučký kůň, s.r.o."]
    assert api("GET", params={"colour": "red"}).status_code == 422


@pytest.mark.parametrize("sort", ["name", "-name", "created_at", "-updated_at"])
def test_paging_a_sorted_search_skips_and_repeats_nothing(api, sort):
    seen, url, params = [], "", {"q": "stavby", "sort": sort, "limit": 4}
    while True:
        answer = api("GET", url, params=params)
        assert answer.status_code == 200, answer.text
        seen += [client["id"] for client in answer.json()["items"]]
        if "Link" not in answer.headers:
            break
        link = answer.headers["Link"]
        url, params = link[link.index("?"):link.index(">")], None
    assert len(seen) == len(set(seen)) == 17


def test_export_holds_what_the_list_shows(api):
    import csv
    import io

    from openpyxl import load_workbook
    answer = api("GET", "/export", params={"tag": "VIP", "sort": "name",
                                           "columns": ["name", "tags", "city"]})
    assert answer.status_code == 200, answer.text
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    assert rows == [["Název", "Štítky", "Město"], ["Superfaktura.cz, s.r.o.", "VIP", ""],
                    ["Žluťoučký kůň, s.r.o.", "VIP", "Praha"]]
    book = api("GET", "/export", params={"format": "xlsx", "q": "stavby", "lang": "en"})
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet.max_row == 18 and sheet.cell(1, 1).value == "Name"


def test_a_second_client_with_the_same_ico_is_a_conflict_naming_the_first(api):
    first = api("GET", params={"ico": "25596641"}).json()["items"][0]
    again = api("POST", json={"name": "Zase kůň", "ico": "255 96 641"})
    assert again.status_code == 409
    assert again.json()["existing_id"] == first["id"]
    assert again.json()["existing_url"] == f"/api/v1/clients/{first['id']}"
    twin = api("POST", json={"name": "ŽLUŤOUČKÝ KŮŇ a.s."})
    assert twin.status_code == 201
    assert [d["reason"] for d in twin.json()["possible_duplicates"]] == ["name"]
    report = api("GET", "/duplicates").json()["items"]
    assert any(g["reason"] == "name" and g["value"] == "zlutoucky kun" and
               {c["id"] for c in g["clients"]} == {first["id"], twin.json()["id"]}
               for g in report)
