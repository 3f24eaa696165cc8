"""Client import through the real gateway, importer and clients services, on both databases:
files of each kind up to the stored clients (searchable, with their history naming the
import); dry run writes nothing; the three modes; duplicates in the file and against the
register; failed rows with their column and the report; files refused with a reason;
cancel, revert, resume after the importer is killed mid-job (every row exactly once);
templates; who sees which job; the events valid against docs/events."""
import csv
import io
import json
import signal
import time
from pathlib import Path

import jsonschema
import pytest
import requests
from openpyxl import Workbook, load_workbook
from stdnum.cz.dic import calc_check_digit_legal

from crm_common.testing import TEST_ADMIN_TOKEN, EventTap

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"
REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
PASSWORD = "Heslo-pro-testy-2026"
LIMIT = 2 * 1000 * 1000


def ico(seed: int) -> str:
    """A valid IČO (mod 11) from a number."""
    body = f"{seed % 10_000_000:07d}"
    return body + calc_check_digit_legal(body)


class Person:
    def __init__(self, base: str, token: str):
        self.base, self.http = base, requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def __getattr__(self, method):
        def call(path, **kwargs):
            kwargs.setdefault("timeout", 60)
            return self.http.request(method.upper(), self.base + "/api/v1" + path, **kwargs)
        return call

    def upload(self, name: str, data: bytes, **form):
        return self.post("/imports", files={"file": (name, data)},
                         data={k: (json.dumps(v) if isinstance(v, dict) else str(v))
                               for k, v in form.items()})

    def finished(self, job_id: str, timeout: float = 90) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(f"/imports/{job_id}").json()
            if job["status"] in ("completed", "failed", "cancelled", "reverted"):
                return job
            assert time.monotonic() < deadline, job
            time.sleep(0.2)

    def run(self, name: str, data: bytes, **form) -> dict:
        started = self.upload(name, data, **form)
        assert started.status_code == 202, started.text
        assert started.headers["Location"] == f"/api/v1/imports/{started.json()['id']}"
        return self.finished(started.json()["id"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crm(request, small_stack, amqp_uri):
    stack = small_stack(request.param, ("clients", "importer"), {
        "IMPORT_MAX_BYTES": str(LIMIT), "SETTINGS_CACHE_SECONDS": "0",
        "AUTH_CACHE_SECONDS": "0", "IMPORTER_POLL_SECONDS": "0.2",
        "IMPORTER_LEASE_SECONDS": "3", "IMPORTER_BATCH_ROWS": "100"})
    tap = EventTap(amqp_uri, [("importer.events", "import.*"),
                              ("clients.events", "client.*")])
    admin = Person(stack.url, TEST_ADMIN_TOKEN)
    people = {"admin": admin}
    for name, role in (("anna", "sales"), ("bob", "sales"), ("rita", "readonly")):
        user = admin.post("/users", json={"email": f"{name}@firma.cz", "name": name.title(),
                                          "role": role, "password": PASSWORD})
        assert user.status_code == 201, user.text
        token = admin.post("/tokens", json={"name": "e2e", "user_id": user.json()["id"],
                                            "scopes": ["write"]})
        assert token.status_code == 201, token.text
        people[name] = Person(stack.url, token.json()["token"])
        people[name].id = user.json()["id"]
    yield stack, people, tap
    tap.close()
    stack.stop()


def csv_bytes(rows, encoding="utf-8-sig", delimiter=";") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def clients_named(person, q: str) -> list[dict]:
    return person.get("/clients", params={"q": q, "limit": 500}).json()["items"]


def test_a_czech_csv_with_a_title_row_becomes_clients(crm):
    _, people, _ = crm
    anna = people["anna"]
    rows = [["Seznam klientů – export z Excelu"], [],
            ["Název firmy", "IČ", "E-mail", "Telefon", "Město", "PSČ", "Kontaktní osoba"],
            ["Žluťoučký kůň s.r.o.", ico(1001), "info@kun.cz", "603 111 222", "Praha",
             "11000", "Ing. Jan Dvořák"],
            ["Pěšina a syn", ico(1002), "", "+420 777 000 111", "Brno", "60200", ""],
            [], ["Bez IČO, a.s.", "", "bez@ico.cz", "", "Plzeň", "", ""]]
    job = anna.run("klienti.csv", csv_bytes(rows, "cp1250"))
    assert job["status"] == "completed", job
    assert (job["format"], job["encoding"], job["delimiter"]) == ("csv", "cp1250", ";")
    assert job["header_row"] == 3 and job["rows_total"] == 3 and job["rows_done"] == 3
    assert job["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "skipped": 0,
                             "failed": 0}
    assert job["mapping"]["IČ"] == "ico" and job["mapping"]["Název firmy"] == "name"
    found = clients_named(anna, "zlutoucky kun")
    assert len(found) == 1
    client = anna.get(f"/clients/{found[0]['id']}").json()
    assert client["ico"] == ico(1001) and client["phone"] == "+420603111222"
    assert client["owner_id"] == anna.id  # owned by whoever imported it
    assert client["registered_address"]["city"] == "Praha"
    history = anna.get(f"/clients/{client['id']}/history").json()["items"]
    assert job["id"] in json.dumps(history)
    contacts = anna.get(f"/clients/{client['id']}/contacts").json()["items"]
    assert [(c["first_name"], c["last_name"]) for c in contacts] == [("Jan", "Dvořák")]
    rows = anna.get(f"/imports/{job['id']}/rows").json()
    assert [r["row"] for r in rows["items"]] == [4, 5, 7]
    assert all(r["status"] == "created" and r["client_id"] for r in rows["items"])


def test_a_dry_run_writes_nothing_and_previews(crm):
    _, people, tap = crm
    anna = people["anna"]
    before = len(clients_named(anna, "nahled"))
    rows = [["Firma", "IČO", "Kategorie"], ["Náhled jedna", int(ico(2001)), "a"],
            ["Náhled dva", float(ico(2002)), "B"], ["Náhled tři", "12345678", "C"]]
    job = anna.run("nahled.xlsx", xlsx_bytes(rows), dry_run="true")
    assert job["status"] == "completed" and job["dry_run"] is True
    assert job["counts"]["created"] == 2 and job["counts"]["failed"] == 1
    assert [p["client"]["ico"] for p in job["preview"]] == [ico(2001), ico(2002)]
    assert job["preview"][0]["client"]["category"] == "A"
    assert len(clients_named(anna, "nahled")) == before == 0
    failed = anna.get(f"/imports/{job['id']}/rows", params={"status": "failed"}).json()
    assert failed["items"][0]["row"] == 4
    assert failed["items"][0]["errors"][0]["column"] == "IČO"
    tap.poll()
    assert not [e for e in tap.events if e.get("subject") == job["id"]]  # no events


def test_upsert_and_update_match_by_ico_then_email(crm):
    _, people, _ = crm
    anna = people["anna"]
    first = anna.run("base.csv", csv_bytes([
        ["Název", "IČO", "E-mail", "Obor"],
        ["Upsert Alfa", ico(3001), "alfa@upsert.cz", "strojírenství"],
        ["Upsert Beta", "", "beta@upsert.cz", "obchod"]]))
    assert first["counts"]["created"] == 2
    again = anna.run("upsert.csv", csv_bytes([
        ["Název", "IČO", "E-mail", "Obor"],
        ["Upsert Alfa", ico(3001), "", "výroba"],  # by IČO: the industry changes
        ["Upsert Beta", "", "BETA@upsert.cz", "obchod"],  # by e-mail: nothing new
        ["Upsert Gama", ico(3003), "", ""]]), mode="upsert")
    assert again["counts"] == {"created": 1, "updated": 1, "unchanged": 1, "skipped": 0,
                               "failed": 0}, again
    alfa = clients_named(anna, "upsert alfa")[0]
    assert anna.get(f"/clients/{alfa['id']}").json()["industry"] == "výroba"
    update = anna.run("update.csv", csv_bytes([
        ["Název", "IČO"], ["Upsert Gama", ico(3003)], ["Neznámá", ico(3004)]]),
        mode="update")
    assert update["counts"]["skipped"] == 1 and update["counts"]["unchanged"] == 1
    skipped = anna.get(f"/imports/{update['id']}/rows", params={"status": "skipped"}).json()
    assert skipped["items"][0]["reason"] == "not_found"
    create = anna.run("create.csv", csv_bytes([["Název", "IČO"], ["Upsert Alfa", ico(3001)]]))
    assert create["counts"]["skipped"] == 1
    row = anna.get(f"/imports/{create['id']}/rows").json()["items"][0]
    assert (row["reason"], row["client_id"]) == ("exists", alfa["id"])


def test_rows_repeated_in_the_file_are_reported_not_doubled(crm):
    _, people, _ = crm
    anna = people["anna"]
    job = anna.run("dvojice.csv", csv_bytes([
        ["Název", "IČO", "E-mail"], ["Dvojice A", ico(4001), ""], ["Dvojice A", ico(4001), ""],
        ["Dvojice B", "", "b@dvojice.cz"], ["Dvojice B2", "", "b@dvojice.cz"]]))
    assert job["counts"]["created"] == 2 and job["counts"]["skipped"] == 2
    skipped = anna.get(f"/imports/{job['id']}/rows", params={"status": "skipped"}).json()
    assert [(r["row"], r["reason"]) for r in skipped["items"]] == [
        (3, "duplicate_in_file"), (5, "duplicate_in_file")]
    assert len(clients_named(anna, "dvojice")) == 2


def test_the_report_gives_failed_rows_as_in_the_file_with_the_error(crm):
    _, people, _ = crm
    anna = people["anna"]
    job = anna.run("chyby.csv", csv_bytes([
        ["Název", "IČO", "E-mail"], ["Chyba jedna", "11111111", "x@chyba.cz"],
        ["Chyba dva", ico(5002), "není e-mail"], ["=HYPERLINK(1)", ico(5003), ""]]))
    assert job["counts"]["failed"] == 2 and job["counts"]["created"] == 1
    report = anna.get(f"/imports/{job['id']}/report")
    assert report.status_code == 200 and report.headers["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == ["Název", "IČO", "E-mail", "Chyba / Error"]
    assert [line[:3] for line in lines[1:]] == [["Chyba jedna", "11111111", "x@chyba.cz"],
                                                ["Chyba dva", ico(5002), "není e-mail"]]
    assert "IČO" in lines[1][3] and "E-mail" in lines[2][3]
    book = load_workbook(io.BytesIO(anna.get(f"/imports/{job['id']}/report",
                                             params={"format": "xlsx"}).content))
    assert [c.value for c in next(book.active.iter_rows())][-1] == "Chyba / Error"
    created = clients_named(anna, "hyperlink")
    assert created and created[0]["name"] == "=HYPERLINK(1)"  # text, stored as given


@pytest.mark.parametrize("name, data, code", [
    ("skoly.csv", "schools", "no_client_columns"),
    ("prazdny.csv", b"", "empty"),
    ("rozbity.xlsx", b"PK\x03\x04" + b"\x00" * 200, "broken"),
    ("obrazek.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "unsupported"),
])
def test_files_that_cannot_be_imported_fail_with_a_reason(crm, name, data, code):
    _, people, _ = crm
    if data == "schools":
        path = REALDATA / "masopust-powerbi_workshop_skoly-cp1250.csv"
        if not path.exists():
            pytest.skip("../shared/realdata is not beside this checkout")
        data = path.read_bytes()
    job = people["anna"].run(name, data)
    assert job["status"] == "failed", job
    assert job["error"]["code"] == code
    assert job["error"]["message_cs"] and job["error"]["message_en"]
    assert job["counts"]["created"] == 0


def test_bad_requests_are_refused_before_a_job(crm):
    _, people, _ = crm
    anna = people["anna"]
    assert anna.post("/imports", json={"file": "x"}).status_code == 415
    bad = anna.upload("a.csv", b"Nazev\nA\n", mode="merge")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "mode"
    bad = anna.upload("a.csv", b"Nazev\nA\n", mapping="{not json")
    assert bad.status_code == 422
    big = anna.upload("a.csv", b"x" * (LIMIT + 1))
    assert big.status_code == 413
    assert people["rita"].upload("a.csv", b"Nazev\nA\n").status_code == 403
    none = anna.post("/imports", files={"other": ("a.csv", b"x")})
    assert none.status_code == 422


def test_templates_map_columns_by_their_headings(crm):
    _, people, _ = crm
    anna, bob = people["anna"], people["bob"]
    template = anna.post("/import-templates", json={
        "name": "Export z účetnictví", "mapping": {"Odběratel": "name", "Reg": "ico",
                                                   "Pozn": None}})
    assert template.status_code == 201, template.text
    template = template.json()
    assert anna.get(f"/import-templates/{template['id']}").json()["mapping"]["Reg"] == "ico"
    job = anna.run("ucetnictvi.csv", csv_bytes([["Odběratel", "Reg", "Pozn"],
                                                ["Šablonová s.r.o.", ico(6001), "x"]]),
                   template_id=template["id"])
    assert job["counts"]["created"] == 1, job
    assert job["mapping"] == {"Odběratel": "name", "Reg": "ico"}
    assert bob.patch(f"/import-templates/{template['id']}",
                     json={"name": "cizí"}).status_code == 403
    renamed = anna.patch(f"/import-templates/{template['id']}", json={"name": "Účetnictví"},
                         headers={"If-Match": 'W/"1"'})
    assert renamed.status_code == 200 and renamed.json()["version"] == 2
    assert anna.delete(f"/import-templates/{template['id']}").status_code == 204
    assert anna.get(f"/import-templates/{template['id']}").status_code == 404


def test_a_job_is_seen_by_its_starter_and_managers_only(crm):
    _, people, _ = crm
    job = people["anna"].run("vlastni.csv", csv_bytes([["Název"], ["Vlastní import"]]))
    assert people["bob"].get(f"/imports/{job['id']}").status_code == 404
    assert job["id"] not in [j["id"] for j in people["bob"].get("/imports").json()["items"]]
    assert people["admin"].get(f"/imports/{job['id']}").status_code == 200
    assert people["bob"].post(f"/imports/{job['id']}/revert").status_code == 404


def test_revert_archives_what_the_import_created_unless_changed_since(crm):
    _, people, tap = crm
    anna = people["anna"]
    job = anna.run("revert.csv", csv_bytes([["Název", "IČO"], ["Vrátit A", ico(7001)],
                                            ["Vrátit B", ico(7002)]]))
    kept = clients_named(anna, "vratit b")[0]
    changed = anna.patch(f"/clients/{kept['id']}", json={"industry": "ručně"},
                         headers={"If-Match": f'W/"{kept["version"]}"'})
    assert changed.status_code == 200, changed.text
    started = anna.post(f"/imports/{job['id']}/revert")
    assert started.status_code == 202 and started.json()["status"] == "reverting"
    done = anna.finished(job["id"])
    assert done["status"] == "reverted" and done["revert"]["archived"] == 1
    assert done["revert"]["kept"] == [{"id": kept["id"], "reason": "changed"}]
    assert [c["name"] for c in clients_named(anna, "vratit")] == ["Vrátit B"]
    assert anna.post(f"/imports/{job['id']}/revert").status_code == 409
    tap.wait_for(lambda e: e["type"] == "import.reverted" and e["subject"] == job["id"])


def test_cancel_stops_a_job_after_its_batch(crm):
    _, people, _ = crm
    anna = people["anna"]
    rows = [["Název", "IČO"]] + [[f"Zrušená {n}", ico(800_000 + n)] for n in range(3000)]
    started = anna.upload("velky.csv", csv_bytes(rows)).json()
    cancelled = anna.post(f"/imports/{started['id']}/cancel")
    assert cancelled.status_code == 200
    done = anna.finished(started["id"])
    assert done["status"] == "cancelled" and done["rows_done"] < 3000, done
    assert anna.post(f"/imports/{started['id']}/cancel").status_code == 409


def test_a_killed_importer_resumes_and_imports_every_row_once(crm):
    stack, people, tap = crm
    anna = people["anna"]
    rows = [["Název", "IČO", "E-mail"]] + [
        [f"Obnova {n}", ico(900_000 + n), f"obnova{n}@firma.cz"] for n in range(2500)]
    job_id = anna.upload("obnova.csv", csv_bytes(rows)).json()["id"]
    deadline = time.monotonic() + 60
    while anna.get(f"/imports/{job_id}").json()["rows_done"] < 300:
        assert time.monotonic() < deadline, stack.tail("importer")
        time.sleep(0.05)
    stack.stop_service("importer", sig=signal.SIGKILL)
    stack.start_service("importer")
    job = anna.finished(job_id, timeout=180)
    assert job["status"] == "completed", job
    assert job["rows_done"] == 2500 and job["counts"]["created"] == 2500, job
    total = anna.get("/clients", params={"q": "obnova", "limit": 1,
                                         "include_total": "true"}).json()
    assert total["total"] == 2500
    page, seen = anna.get(f"/imports/{job_id}/rows", params={"limit": 500}).json(), []
    while True:
        seen += [r["row"] for r in page["items"]]
        if not page["next_cursor"]:
            break
        page = anna.get(f"/imports/{job_id}/rows",
                        params={"limit": 500, "cursor": page["next_cursor"]}).json()
    assert seen == list(range(2, 2502))
    tap.wait_for(lambda e: e["type"] == "import.completed" and e["subject"] == job_id)


def test_every_import_event_matches_its_schema(crm):
    _, _, tap = crm
    tap.poll()
    events = [e for e in tap.events if e["type"].startswith("import.")]
    assert {"import.started", "import.progress", "import.completed", "import.failed",
            "import.cancelled", "import.reverted"} <= {e["type"] for e in events}
    imported = [e for e in tap.events if e["type"].startswith("client.")
                and e["data"].get("import_id")]
    assert {"client.created", "client.updated"} <= {e["type"] for e in imported}
    validators = {}
    # every import event; of the thousands of client.created, the first 300
    clients = [e for e in tap.events if e["type"].startswith("client.")]
    sample = events + [e for n, e in enumerate(clients) if n < 300 or
                       e["type"] != "client.created"]
    for event in sample:
        if event["type"] not in validators:
            schema = json.loads((SCHEMAS / f"{event['type']}.v1.json").read_text())
            validators[event["type"]] = jsonschema.Draft202012Validator(
                schema, format_checker=jsonschema.FormatChecker())
        validators[event["type"]].validate(event)
