"""The import's batch (`import_batch`) and its revert (`revert_import`) against real SQLite
and PostgreSQL databases."""
import json
import threading
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import func, select
from stdnum.cz.dic import calc_check_digit_legal

from clients_service import (contact_handlers as contacts, custom_field_handlers as custom,
                             handlers, merge_handlers, search_index)
from clients_service.import_handlers import import_batch, revert_import
from clients_service.orm import client_contacts, client_history, clients, metadata
from clients_service.orm import contacts as contacts_table
from crm_common.access import SYSTEM, Caller
from crm_common.db import make_engine, make_session_factory
from crm_common.errors import ValidationFailed
from crm_common.events import EventContext
from crm_common.messaging import idempotency_keys, metadata as messaging_metadata, outbox
from crm_common.uow import UnitOfWork

SCHEMAS = Path(__file__).resolve().parents[4] / "docs" / "events"
ANNA = Caller(user_id="anna", role="sales", own_only=True)
TABLES = (clients, client_history, contacts_table, client_contacts, outbox, idempotency_keys)


def ico(n: int) -> str:
    """A valid IČO made of a 7-digit number."""
    base = f"{n:07d}"
    return base + calc_check_digit_legal(base)


@pytest.fixture
def uow(database_url):
    engine = make_engine(database_url)
    metadata.create_all(engine)
    messaging_metadata.create_all(engine)
    with engine.begin() as connection:
        search_index.create(connection)
    factory = make_session_factory(engine)
    yield lambda actor="user:alice", caller=SYSTEM: UnitOfWork(
        factory, "clients", EventContext(actor=actor, caller=caller))
    engine.dispose()


def run(uow, mode, rows, import_id="imp-1", dry_run=False, **who):
    with uow(**who) as u:
        return import_batch(u, import_id, mode, rows, dry_run)


def revert(uow, client_ids, import_id="imp-1", **who):
    with uow(**who) as u:
        return revert_import(u, import_id, client_ids)


def create(uow, payload, **who):
    with uow(**who) as u:
        return handlers.create_client(u, payload)


def get(uow, client_id):
    with uow() as u:
        return handlers.get_client(u, client_id)


def row(number, contact=None, **client):
    return {"row": number, "client": client, "contact": contact}


def counts(uow) -> dict:
    with uow() as u:
        return {table.name: u.session.scalar(select(func.count()).select_from(table))
                for table in TABLES}


def events(uow) -> list[dict]:
    with uow() as u:
        return [json.loads(r.payload) for r in
                u.session.execute(select(outbox).order_by(outbox.c.id))]


def history(uow, client_id) -> list[dict]:
    with uow() as u:
        return list(reversed(handlers.client_history(u, client_id, limit=100)["items"]))


def people(uow, client_id) -> list[dict]:
    with uow() as u:
        return contacts.list_contacts(u, client_id)["items"]


def statuses(results) -> list[tuple]:
    return [(r["row"], r["status"], r["reason"]) for r in results]


def valid_against_schema(event: dict) -> None:
    schema = json.loads((SCHEMAS / f"{event['type']}.v1.json").read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()
                                    ).validate(event)


# -- the statuses of each mode ---------------------------------------------------------

def test_create_mode_creates_new_rows_and_skips_those_in_the_register(uow):
    by_ico = create(uow, {"name": "Alfa", "ico": ico(1)})
    by_email = create(uow, {"name": "Beta", "email": "info@beta.cz"})
    results = run(uow, "create", [
        row(2, name="Nová", ico=ico(2), email="nova@x.cz"),
        row(3, name="Alfa again", ico=ico(1)),
        row(4, name="Beta again", email="INFO@beta.cz"),
        row(5, name="Bad", ico="25063678"),
        row(6, name="Bez IČO")])
    assert statuses(results) == [(2, "created", None), (3, "skipped", "exists"),
                                 (4, "skipped", "exists"), (5, "failed", "invalid"),
                                 (6, "created", None)]
    assert results[1]["client_id"] == by_ico["id"] and results[2]["client_id"] == by_email["id"]
    assert results[3]["errors"] == [{"field": "ico", "message": "IČO has a wrong check digit"}]
    assert results[3]["client_id"] is None
    assert all(r["errors"] is None for r in results if r["status"] != "failed")
    assert all(set(r) == {"row", "status", "client_id", "errors", "reason", "changes"}
               for r in results)  # no "client" outside a dry run
    new = get(uow, results[0]["client_id"])
    assert (new["name"], new["ico"], new["email"]) == ("Nová", ico(2), "nova@x.cz")
    assert new["registry"]["status"] == "pending" and new["created_by"] == "user:alice"
    assert get(uow, by_ico["id"])["name"] == "Alfa"  # the skipped ones stay as they were


def test_upsert_updates_matches_creates_the_rest_and_leaves_equal_ones_unchanged(uow):
    alfa = create(uow, {"name": "Alfa", "ico": ico(1), "tags": ["vip"],
                        "emails": [{"value": "a@alfa.cz", "label": "work"}]})
    beta = create(uow, {"name": "Beta", "email": "b@beta.cz", "industry": "IT"})
    results = run(uow, "upsert", [
        row(2, ico=ico(1), tags=["nový", "vip"], email="second@alfa.cz", industry="Stavby"),
        row(3, email="b@beta.cz", industry="IT"),
        row(4, name="Gama", email="g@gama.cz")])
    assert statuses(results) == [(2, "updated", None), (3, "unchanged", None),
                                 (4, "created", None)]
    assert [r["client_id"] for r in results[:2]] == [alfa["id"], beta["id"]]
    changes = results[0]["changes"]
    assert changes["tags"] == {"before": ["vip"], "after": ["vip", "nový"]}
    assert changes["industry"] == {"before": None, "after": "Stavby"}
    assert changes["emails"]["after"] == [{"value": "a@alfa.cz", "label": "work"},
                                          {"value": "second@alfa.cz", "label": None}]
    assert "email" not in changes  # the primary e-mail stays the primary one
    assert results[1]["changes"] is None
    stored = get(uow, alfa["id"])
    assert stored["version"] == alfa["version"] + 1 and stored["updated_by"] == "user:alice"
    assert (stored["name"], stored["email"], stored["tags"]) == ("Alfa", "a@alfa.cz",
                                                                 ["vip", "nový"])
    assert get(uow, beta["id"])["version"] == beta["version"]


def test_update_mode_changes_matches_and_skips_rows_that_match_nothing(uow):
    alfa = create(uow, {"name": "Alfa", "ico": ico(1), "category": "C"})
    results = run(uow, "update", [row(2, ico=ico(1), category="A"),
                                  row(3, name="Nikdo", ico=ico(2)),
                                  row(4, name="Nikdo", email="nikdo@x.cz")])
    assert statuses(results) == [(2, "updated", None), (3, "skipped", "not_found"),
                                 (4, "skipped", "not_found")]
    assert results[0]["changes"] == {"category": {"before": "C", "after": "A"}}
    assert results[1]["client_id"] is None
    assert counts(uow)["clients"] == 1


def test_an_invalid_value_fails_the_row_with_the_single_write_s_messages(uow):
    create(uow, {"name": "Alfa", "ico": ico(1)})
    results = run(uow, "upsert", [
        row(2, name="X", website="not a url", colour="red"),
        row(3, ico=ico(1), category="Z"),
        row(4, name="Y", emails=[{"value": "nope"}]),
        row(5, name="Fine"),
        row(6, name="Z", emails=5, email=["x"], ico={"a": 1}, tags="x", custom_fields=[1])])
    assert statuses(results)[:3] == [(2, "failed", "invalid"), (3, "failed", "invalid"),
                                     (4, "failed", "invalid")]
    assert results[4]["status"] == "failed" and {e["field"] for e in results[4]["errors"]} \
        >= {"emails", "email", "tags", "custom_fields"}
    assert sorted(e["field"] for e in results[0]["errors"]) == ["colour", "website"]
    assert {"field": "colour", "message": "Unknown field."} in results[0]["errors"]
    assert results[1]["errors"] == [{"field": "category", "message": "Must be one of: A, B, C."}]
    assert results[2]["errors"] == [{"field": "emails.0.value",
                                     "message": "Not a valid email address."}]
    assert results[3]["status"] == "created"


# -- matching -----------------------------------------------------------------------------

def test_a_parent_company_that_would_be_its_own_subsidiary_fails_the_row(uow):
    parent = create(uow, {"name": "Matka", "ico": ico(1)})
    child = create(uow, {"name": "Dcera", "ico": ico(2), "parent_id": parent["id"]})
    results = run(uow, "update", [row(2, ico=ico(1), parent_id=child["id"]),
                                  row(3, ico=ico(2), category="A")])
    assert statuses(results) == [(2, "failed", "invalid"), (3, "updated", None)]
    assert results[0]["errors"][0]["field"] == "parent_id"


def test_the_ico_is_matched_before_the_email(uow):
    by_ico = create(uow, {"name": "Podle IČO", "ico": ico(1)})
    create(uow, {"name": "Podle e-mailu", "email": "shared@x.cz"})
    [result] = run(uow, "upsert", [row(2, ico=ico(1), email="shared@x.cz")])
    assert result["client_id"] == by_ico["id"] and result["status"] == "updated"


def test_any_email_of_a_client_matches_whatever_its_case(uow):
    client = create(uow, {"name": "Alfa", "emails": [{"value": "first@alfa.cz"},
                                                      {"value": "Second@Alfa.cz"}]})
    [result] = run(uow, "update", [row(2, email=" SECOND@alfa.CZ ".strip(), category="B")])
    assert (result["status"], result["client_id"]) == ("updated", client["id"])
    assert "emails" not in result["changes"]  # the e-mail it was found by is no news


def test_a_client_with_another_ico_is_not_matched_by_its_email(uow):
    create(uow, {"name": "Účetní", "ico": ico(1), "email": "ucetni@x.cz"})
    [result] = run(uow, "upsert", [row(2, name="Jiná firma", ico=ico(2), email="ucetni@x.cz")])
    assert result["status"] == "created"


def test_a_match_by_email_takes_the_file_s_ico(uow):
    client = create(uow, {"name": "Bez IČO", "email": "a@x.cz"})
    [result] = run(uow, "upsert", [row(2, ico=ico(5), email="a@x.cz")])
    assert result["changes"]["ico"] == {"before": None, "after": ico(5)}
    assert get(uow, client["id"])["registry"]["status"] == "pending"


def test_an_email_several_clients_share_matches_none(uow):
    create(uow, {"name": "Jedna", "email": "spolecny@x.cz"})
    create(uow, {"name": "Druhá", "emails": [{"value": "jiny@x.cz"},
                                            {"value": "spolecny@x.cz"}]})
    before = counts(uow)
    for mode in ("upsert", "update"):
        [result] = run(uow, mode, [row(2, name="Kdo", email="spolecny@x.cz")], mode)
        assert (result["status"], result["reason"], result["client_id"]) == \
            ("failed", "ambiguous", None)
        assert result["errors"] == [{"field": "email", "message": "2 clients have this "
                                     "e-mail: the row cannot tell which one it is."}]
    # a create only needs to know that the row is in the register
    [result] = run(uow, "create", [row(2, name="Kdo", email="spolecny@x.cz")])
    assert (result["status"], result["reason"], result["client_id"]) == \
        ("skipped", "exists", None)
    assert {name: n for name, n in counts(uow).items() if name != "idempotency_keys"} == \
        {name: n for name, n in before.items() if name != "idempotency_keys"}


def test_an_archived_client_with_the_ico_is_neither_duplicated_nor_restored(uow):
    archived = create(uow, {"name": "Stará", "ico": ico(1)})
    with uow() as u:
        handlers.archive_client(u, archived["id"])
    for mode in ("upsert", "update"):
        [result] = run(uow, mode, [row(2, name="Nová", ico=ico(1))], mode)
        assert (result["status"], result["reason"], result["client_id"]) == \
            ("failed", "archived", archived["id"])
        assert result["errors"][0]["field"] == "ico" and archived["id"] in \
            result["errors"][0]["message"]
    [result] = run(uow, "create", [row(2, name="Nová", ico=ico(1))])
    assert (result["status"], result["reason"], result["client_id"]) == \
        ("skipped", "exists", archived["id"])
    assert counts(uow)["clients"] == 1 and get(uow, archived["id"])["archived_at"]


def test_an_active_client_is_matched_before_an_archived_one_with_the_ico(uow):
    old = create(uow, {"name": "Stará", "ico": ico(1)})
    with uow() as u:
        handlers.archive_client(u, old["id"])
    current = create(uow, {"name": "Nová", "ico": ico(1)})
    [result] = run(uow, "upsert", [row(2, ico=ico(1), category="A")])
    assert (result["status"], result["client_id"]) == ("updated", current["id"])


def test_a_restricted_rep_does_not_update_clients_they_may_not_see(uow):
    someone_elses = create(uow, {"name": "Cizí", "ico": ico(1), "owner_id": "bob"})
    annas = create(uow, {"name": "Annina", "ico": ico(2), "owner_id": "anna"})
    rows = [row(2, ico=ico(1), category="A"), row(3, ico=ico(2), category="A"),
            row(4, name="Nová", ico=ico(3))]
    results = run(uow, "upsert", rows, actor="user:anna", caller=ANNA)
    assert statuses(results) == [(2, "skipped", "not_visible"), (3, "updated", None),
                                 (4, "created", None)]
    assert results[0]["client_id"] is None and results[1]["client_id"] == annas["id"]
    assert get(uow, results[2]["client_id"])["owner_id"] == "anna"  # hers, as she created it
    assert get(uow, someone_elses["id"])["category"] is None
    results = run(uow, "create", rows[:2], import_id="imp-2", actor="user:anna",
                  caller=ANNA)
    assert [(r["reason"], r["client_id"]) for r in results] == [("exists", None),
                                                                 ("exists", annas["id"])]


def test_matching_takes_one_query_per_kind_of_key_whatever_the_batch(uow, monkeypatch):
    from clients_service.repository import Clients
    calls = []
    for name in ("holding_icos", "active_with_emails"):
        original = getattr(Clients, name)
        monkeypatch.setattr(Clients, name, lambda self, keys, _o=original, _n=name: (
            calls.append(_n), _o(self, keys))[1])
    for n in range(5):
        create(uow, {"name": f"c{n}", "ico": ico(n + 1), "email": f"c{n}@x.cz"})
    rows = [row(n + 2, ico=ico(n + 1), category="A") for n in range(5)] + \
        [row(n + 10, email=f"c{n}@x.cz", name="x") for n in range(5)]
    results = run(uow, "upsert", rows)
    assert sorted(calls) == ["active_with_emails", "holding_icos"]
    assert [r["status"] for r in results] == ["updated"] * 5 + ["skipped"] * 5


# -- contact persons ----------------------------------------------------------------------

JAN = {"first_name": "Jan", "last_name": "Novák", "degree": "Ing.", "position": "jednatel",
       "emails": [{"value": "jan@novak.cz"}], "phones": [{"value": "603 111 222"}]}


def test_a_new_client_s_contact_person_is_created_as_its_primary_one(uow):
    [result] = run(uow, "create", [row(2, JAN, name="Novák s.r.o.")])
    [person] = people(uow, result["client_id"])
    assert (person["name"], person["position"], person["phones"][0]["value"]) == \
        ("Ing. Jan Novák", "jednatel", "+420603111222")
    assert person["link"]["primary"] is True and person["created_by"] == "user:alice"
    with uow() as u:  # the client is found by its person's name
        found = handlers.list_clients(u, q="novak jan")["items"]
    assert [c["id"] for c in found] == [result["client_id"]]


def test_a_contact_person_is_added_to_a_matched_client_once(uow):
    client = create(uow, {"name": "Alfa", "ico": ico(1)})
    with uow() as u:
        contacts.add_contact(u, client["id"], {"first_name": "Eva", "last_name": "Malá"})
    results = run(uow, "upsert", [row(2, JAN, ico=ico(1))])
    assert results[0]["status"] == "updated"
    assert results[0]["changes"]["contacts"]["after"]["name"] == "Ing. Jan Novák"
    assert sorted((p["name"], p["link"]["primary"]) for p in people(uow, client["id"])) == \
        [("Eva Malá", True), ("Ing. Jan Novák", False)]
    # the same person again: by e-mail (any case), by name (case and diacritics aside)
    same = [dict(JAN, first_name="Honza", emails=[{"value": "JAN@novak.cz"}]),
            {"first_name": "JAN", "last_name": "NOVAK"}]
    for number, person in enumerate(same):
        [result] = run(uow, "upsert", [row(2, person, ico=ico(1))], import_id=f"again-{number}")
        assert result["status"] == "unchanged"
    assert len(people(uow, client["id"])) == 2


def test_the_first_contact_person_of_a_matched_client_is_its_primary_one(uow):
    client = create(uow, {"name": "Alfa", "ico": ico(1)})
    run(uow, "update", [row(2, JAN, ico=ico(1))])
    assert [p["link"]["primary"] for p in people(uow, client["id"])] == [True]


def test_an_invalid_contact_person_fails_the_whole_row(uow):
    results = run(uow, "upsert", [row(2, {"last_name": "X", "emails": [{"value": "x"}]},
                                      name="Alfa"),
                                  row(3, {"position": "CEO"}, name="Beta"),
                                  row(4, {"first_name": None, "last_name": ""}, name="Gama")])
    assert [r["status"] for r in results] == ["failed", "failed", "created"]
    assert results[0]["errors"] == [{"field": "contact.emails.0.value",
                                     "message": "Not a valid email address."}]
    assert results[1]["errors"] == [{"field": "contact.last_name",
                                     "message": "Give a first or a last name."}]
    # a contact person with no values is none
    assert counts(uow)["clients"] == 1 and people(uow, results[2]["client_id"]) == []


# -- custom fields --------------------------------------------------------------------

@pytest.fixture
def fields(uow):
    with uow() as u:
        custom.create_definition(u, {"key": "sklad_m2", "label": "Sklad", "type": "number",
                                     "applies_to": "client"})
    with uow() as u:
        custom.create_definition(u, {"key": "erp_id", "label": "ERP id", "type": "text",
                                     "applies_to": "client", "unique": True})


def test_custom_fields_are_checked_and_merged_key_by_key(uow, fields):
    client = create(uow, {"name": "Alfa", "ico": ico(1),
                          "custom_fields": {"sklad_m2": 100, "erp_id": "E-1"}})
    results = run(uow, "upsert", [
        row(2, ico=ico(1), custom_fields={"sklad_m2": 250}),
        row(3, name="Beta", custom_fields={"sklad_m2": "hodně"}),
        row(4, name="Gama", custom_fields={"barva": "red"}),
        row(5, name="Delta", custom_fields={"erp_id": "E-2", "sklad_m2": 5})])
    assert statuses(results) == [(2, "updated", None), (3, "failed", "invalid"),
                                 (4, "failed", "invalid"), (5, "created", None)]
    assert results[0]["changes"]["custom_fields"] == {
        "before": {"sklad_m2": 100, "erp_id": "E-1"},
        "after": {"sklad_m2": 250, "erp_id": "E-1"}}
    assert results[1]["errors"] == [{"field": "custom_fields.sklad_m2",
                                     "message": "A number."}]
    assert results[2]["errors"] == [{"field": "custom_fields.barva",
                                     "message": "Unknown custom field."}]
    assert get(uow, client["id"])["custom_fields"] == {"sklad_m2": 250, "erp_id": "E-1"}


def test_a_unique_custom_field_value_is_taken_once_in_the_register_and_the_batch(uow, fields):
    create(uow, {"name": "Alfa", "custom_fields": {"erp_id": "E-1"}})
    results = run(uow, "upsert", [row(2, name="Beta", custom_fields={"erp_id": "E-1"}),
                                  row(3, name="Gama", custom_fields={"erp_id": "E-2"}),
                                  row(4, name="Delta", custom_fields={"erp_id": "E-2"})])
    assert statuses(results) == [(2, "failed", "invalid"), (3, "created", None),
                                 (4, "failed", "invalid")]
    assert results[0]["errors"] == [{"field": "custom_fields.erp_id",
                                     "message": "Another client has this ERP id already."}]
    assert results[2]["errors"] == [{
        "field": "custom_fields.erp_id",
        "message": "An earlier client of this batch has this value already."}]


# -- dry run ------------------------------------------------------------------------------

def test_a_dry_run_answers_as_the_real_one_would_and_writes_nothing(uow, fields):
    alfa = create(uow, {"name": "Alfa", "ico": ico(1), "tags": ["a"]})
    rows = [row(2, JAN, name="Nová", ico=ico(2), custom_fields={"erp_id": "E-9"}),
            row(3, ico=ico(1), tags=["b"]),
            row(4, ico=ico(1), tags=["c"]),
            row(5, name="Bad", ico="123")]
    before = counts(uow)
    preview = run(uow, "upsert", rows, dry_run=True)
    assert counts(uow) == before
    assert statuses(preview) == [(2, "created", None), (3, "updated", None),
                                 (4, "skipped", "duplicate_in_file"), (5, "failed", "invalid")]
    new, merged = preview[0]["client"], preview[1]["client"]
    assert (new["name"], new["ico"], new["custom_fields"], new["version"]) == \
        ("Nová", ico(2), {"erp_id": "E-9"}, 1)
    assert new["registry"]["status"] == "pending" and new["id"] == preview[0]["client_id"]
    assert (merged["id"], merged["tags"], merged["version"]) == (alfa["id"], ["a", "b"], 2)
    assert preview[2]["client"] is None and preview[3]["client"] is None
    stored = get(uow, alfa["id"])
    assert (stored["tags"], stored["version"]) == (["a"], 1)
    real = run(uow, "upsert", rows)  # the real run: the same words, without resources
    assert statuses(real) == statuses(preview) and "client" not in real[0]
    assert real[1]["changes"] == preview[1]["changes"]


# -- idempotency ----------------------------------------------------------------------

def test_rows_sent_again_answer_as_before_and_write_nothing(uow):
    create(uow, {"name": "Alfa", "ico": ico(1)})
    rows = [row(2, JAN, name="Nová", ico=ico(2)), row(3, ico=ico(1), category="A"),
            row(4, name="Bad", ico="1"), row(5, name="Dup", ico=ico(2))]
    first = run(uow, "upsert", rows)
    written = counts(uow)
    assert run(uow, "upsert", rows) == first
    assert counts(uow) == written
    # resumed with the next rows in the same batch: the old answer, the new rows done
    again = run(uow, "upsert", rows[2:] + [row(6, name="Další")])
    assert again[:2] == first[2:] and again[2]["status"] == "created"
    assert counts(uow)["clients"] == written["clients"] + 1
    # the same row number with other values: refused, the row's first answer stands
    [changed] = run(uow, "upsert", [row(2, name="Jiná")])
    assert changed["status"] == "failed" and changed["errors"][0]["field"] == \
        "Idempotency-Key"


def test_another_import_s_rows_have_keys_of_their_own(uow):
    first = run(uow, "create", [row(2, name="A")], import_id="one")
    second = run(uow, "create", [row(2, name="A")], import_id="two")
    assert first[0]["client_id"] != second[0]["client_id"]


def test_concurrent_copies_of_one_batch_import_it_once(uow):
    rows = [row(n, name=f"c{n}", ico=ico(n)) for n in range(1, 151)]
    answers, errors = [], []

    def send():
        try:
            answers.append(run(uow, "create", rows))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and answers[0] == answers[1] == answers[2]
    assert counts(uow)["clients"] == 150 and len(events(uow)) == 150


# -- duplicates within the batch ----------------------------------------------------------

def test_a_later_row_with_an_earlier_row_s_ico_or_email_is_a_duplicate(uow):
    results = run(uow, "upsert", [
        row(2, name="A", ico=ico(1)), row(3, name="A2", ico=ico(1)),
        row(4, name="B", ico=ico(5), email="b@x.cz"), row(5, name="B2", email="B@X.cz"),
        row(6, name="Bad", ico=ico(3), website="bad"), row(7, name="Good", ico=ico(3)),
        row(8, name="Other company", ico=ico(4), email="b@x.cz")])
    assert statuses(results) == [
        (2, "created", None), (3, "skipped", "duplicate_in_file"), (4, "created", None),
        (5, "skipped", "duplicate_in_file"), (6, "failed", "invalid"), (7, "created", None),
        (8, "created", None)]
    assert results[1]["client_id"] == results[0]["client_id"]
    assert results[3]["client_id"] == results[2]["client_id"]
    assert counts(uow)["clients"] == 4


def test_two_rows_matching_one_client_update_it_once(uow):
    client = create(uow, {"name": "Alfa", "ico": ico(1), "email": "a@alfa.cz"})
    results = run(uow, "upsert", [row(2, ico=ico(1), category="A"),
                                  row(3, email="a@alfa.cz", category="B")])
    assert statuses(results) == [(2, "updated", None), (3, "skipped", "duplicate_in_file")]
    assert results[1]["client_id"] == client["id"]
    assert get(uow, client["id"])["category"] == "A"


# -- history and events ---------------------------------------------------------------

def test_history_names_the_import(uow):
    existing = create(uow, {"name": "Alfa", "ico": ico(1)})
    results = run(uow, "upsert", [row(2, JAN, name="Nová"), row(3, JAN, ico=ico(1),
                                                               category="A")])
    mark = {"before": None, "after": "imp-1"}
    [created] = history(uow, results[0]["client_id"])
    assert created["action"] == "created" and created["changes"]["import_id"] == mark
    assert created["changes"]["name"] == {"before": None, "after": "Nová"}
    assert created["changes"]["contacts"]["after"]["name"] == "Ing. Jan Novák"
    assert created["actor"] == "user:alice"
    first, *imported = history(uow, existing["id"])
    assert first["action"] == "created" and "import_id" not in first["changes"]
    by_action = {entry["action"]: entry for entry in imported}  # written at one moment
    assert sorted(by_action) == ["contact_added", "updated"]
    assert by_action["updated"]["changes"] == {"category": {"before": None, "after": "A"},
                                               "import_id": mark}
    assert by_action["updated"]["version"] == 2
    assert by_action["contact_added"]["changes"]["import_id"] == mark


def test_events_say_the_import_and_match_their_schemas(uow):
    existing = create(uow, {"name": "Alfa", "ico": ico(1)})
    results = run(uow, "upsert", [row(2, JAN, name="Nová", ico=ico(2)),
                                  row(3, ico=ico(1), category="A"),
                                  row(4, {"last_name": "Malá"}, ico=ico(1))])
    emitted = [e for e in events(uow) if e["subject"] != existing["id"] or
               e["type"] != "client.created"]
    assert [e["type"] for e in emitted] == ["client.created", "contact.created",
                                            "client.updated"]
    created, person, updated = emitted
    assert created["subject"] == results[0]["client_id"]
    assert created["data"]["source"] == "import" and created["data"]["import_id"] == "imp-1"
    assert created["data"]["client"]["ico"] == ico(2) and created["actor"] == "user:alice"
    assert person["data"]["client_id"] == results[0]["client_id"]
    assert person["data"]["contact"]["clients"] == [
        {"client_id": results[0]["client_id"], "position": "jednatel", "primary": True}]
    assert updated["data"]["source"] == "import" and updated["data"]["import_id"] == "imp-1"
    assert updated["data"]["changes"] == {"category": {"before": None, "after": "A"}}
    assert updated["data"]["client"]["version"] == 2
    assert results[2]["status"] == "skipped"  # the same client again in this batch
    for event in events(uow):
        valid_against_schema(event)


def test_a_contact_added_to_a_matched_client_is_published_and_valid(uow):
    existing = create(uow, {"name": "Alfa", "ico": ico(1)})
    run(uow, "update", [row(2, JAN, ico=ico(1))])
    [person] = [e for e in events(uow) if e["type"] == "contact.created"]
    assert person["data"]["client_id"] == existing["id"]
    assert not [e for e in events(uow) if e["type"] == "client.updated"]
    valid_against_schema(person)


# -- revert -----------------------------------------------------------------------------

def _ares(client_id, ico_):
    return {"id": "e-1", "type": "ares.lookup_succeeded", "data": {
        "client_id": client_id, "ico": ico_, "fetched_at": "2026-01-01T10:00:00Z",
        "record": {"name": "Z registru s.r.o.", "legal_form": "112"}}}


def test_revert_archives_only_the_import_s_clients_nobody_changed(uow):
    manual = create(uow, {"name": "Ruční"})
    results = run(uow, "create", [row(2, JAN, name="Nedotčená"),
                                  row(3, name="Z ARES", ico=ico(3)),
                                  row(4, name="Upravená"),
                                  row(5, name="Sloučená"),
                                  row(6, name="Archivovaná")])
    untouched, enriched, edited, merged, archived = [r["client_id"] for r in results]
    other = run(uow, "create", [row(2, name="Jiný import")], import_id="imp-2")[0]
    with uow("system:ares") as u:
        handlers.apply_registry_data(u, _ares(enriched, ico(3)))
        u.commit()
    with uow() as u:
        handlers.update_client(u, edited, {"category": "A"})
    with uow() as u:
        merge_handlers.merge_clients(u, manual["id"], merged)
    with uow() as u:
        handlers.archive_client(u, archived)
    ids = [untouched, enriched, edited, merged, archived, manual["id"],
           other["client_id"], "00000000-0000-0000-0000-000000000000"]
    answer = revert(uow, ids)
    assert answer == {"archived": [untouched, enriched], "kept": [
        {"id": edited, "reason": "changed"}, {"id": merged, "reason": "merged"},
        {"id": archived, "reason": "already_archived"},
        {"id": manual["id"], "reason": "not_from_import"},
        {"id": other["client_id"], "reason": "not_from_import"},
        {"id": "00000000-0000-0000-0000-000000000000", "reason": "not_found"}]}
    assert get(uow, untouched)["archived_at"] and not get(uow, edited)["archived_at"]
    assert history(uow, untouched)[-1]["action"] == "archived"
    assert history(uow, untouched)[-1]["changes"]["import_id"] == {"before": None,
                                                                    "after": "imp-1"}
    archived_events = [e for e in events(uow) if e["type"] == "client.archived"]
    assert [e["subject"] for e in archived_events[-2:]] == [untouched, enriched]
    for event in archived_events:
        valid_against_schema(event)
    # again: nothing more is archived, the same ones answer as archived already
    written = counts(uow)
    again = revert(uow, ids)
    assert again["archived"] == []
    assert [k for k in again["kept"] if k["id"] in (untouched, enriched)] == [
        {"id": untouched, "reason": "already_archived"},
        {"id": enriched, "reason": "already_archived"}]
    assert counts(uow) == written


def test_a_client_a_later_import_changed_is_kept(uow):
    [created] = run(uow, "create", [row(2, name="Alfa", ico=ico(1))])
    run(uow, "upsert", [row(2, ico=ico(1), category="A")], import_id="imp-2")
    assert revert(uow, [created["client_id"]])["kept"] == [
        {"id": created["client_id"], "reason": "changed"}]


def test_a_restricted_rep_reverts_only_what_they_may_see(uow):
    [created] = run(uow, "create", [row(2, name="Bobova", owner_id="bob")])
    assert revert(uow, [created["client_id"]], actor="user:anna", caller=ANNA) == {
        "archived": [], "kept": [{"id": created["client_id"], "reason": "not_found"}]}


# -- what cannot even be read -------------------------------------------------------

@pytest.mark.parametrize("arguments, field", [
    ({"rows": None}, "rows"),
    ({"rows": {"row": 1}}, "rows"),
    ({"rows": []}, "rows"),
    ({"rows": [row(n, name="x") for n in range(1001)]}, "rows"),
    ({"rows": [row(2, name="x"), row(2, name="y")]}, "rows.1.row"),
    ({"rows": [{"row": "2", "client": {}}]}, "rows.0.row"),
    ({"rows": [{"row": True, "client": {}}]}, "rows.0.row"),
    ({"rows": [{"row": -1, "client": {}}]}, "rows.0.row"),
    ({"rows": [{"row": 2}]}, "rows.0.client"),
    ({"rows": [{"row": 2, "client": "Alfa"}]}, "rows.0.client"),
    ({"rows": [{"row": 2, "client": {}, "contact": "Jan"}]}, "rows.0.contact"),
    ({"rows": [{"row": 2, "client": {}, "colour": 1}]}, "rows.0.colour"),
    ({"rows": ["Alfa"]}, "rows.0"),
    ({"mode": "merge"}, "mode"),
    ({"mode": ["create"]}, "mode"),
    ({"import_id": ""}, "import_id"),
    ({"import_id": "x" * 101}, "import_id"),
    ({"import_id": 7}, "import_id"),
    ({"dry_run": "yes"}, "dry_run"),
])
def test_a_batch_that_cannot_be_read_is_refused_whole(uow, arguments, field):
    request = {"import_id": "imp-1", "mode": "create", "rows": [row(2, name="x")],
               "dry_run": False, **arguments}
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        import_batch(u, **request)
    assert field in exc.value.errors and all(
        isinstance(m, str) and m for messages in exc.value.errors.values() for m in messages)
    assert counts(uow)["clients"] == 0


@pytest.mark.parametrize("import_id, client_ids, field", [
    ("imp-1", None, "client_ids"), ("imp-1", "id", "client_ids"),
    ("imp-1", [1], "client_ids"), ("imp-1", ["x"] * 1001, "client_ids"),
    (None, [], "import_id")])
def test_a_revert_that_cannot_be_read_is_refused(uow, import_id, client_ids, field):
    with uow() as u, pytest.raises(ValidationFailed) as exc:
        revert_import(u, import_id, client_ids)
    assert field in exc.value.errors


def test_nothing_to_revert_answers_nothing(uow):
    assert revert(uow, []) == {"archived": [], "kept": []}
