"""What a registry refresh may take (`registry_targets`, on SQLite and PostgreSQL), the
register's own values on the client (the card's registry view) and contact persons taken
from the register (`add_contact(unique_name=True)`)."""
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from clients_service import (contact_handlers as contacts, handlers, merge_handlers,
                             search_index)
from clients_service.orm import metadata
from clients_service.registry import registry_targets
from crm_common.access import Caller
from crm_common.db import make_engine, make_session_factory
from crm_common.errors import Conflict, ValidationFailed
from crm_common.events import EventContext
from crm_common.messaging import metadata as messaging_metadata, outbox
from crm_common.uow import UnitOfWork

EVENTS = Path(__file__).resolve().parents[4] / "docs" / "events"
ANNA = Caller(user_id="anna", role="sales", own_only=True)
ICOS = ("25596641", "25063677", "27074358", "45274649", "00006947")


@pytest.fixture(params=["sqlite", "postgresql"])
def units(request, tmp_path):
    """`units(caller=...)`: a unit of work on a fresh clients database, on each backend."""
    url = f"sqlite:///{tmp_path / 'clients.db'}" if request.param == "sqlite" else \
        request.getfixturevalue("make_postgres_db")("clients")
    engine = make_engine(url)
    metadata.create_all(engine)
    messaging_metadata.create_all(engine)
    with engine.begin() as connection:
        search_index.create(connection)
    factory = make_session_factory(engine)
    yield lambda caller=Caller(): UnitOfWork(factory, "clients", EventContext(
        actor=f"user:{caller.user_id}", caller=caller))
    engine.dispose()


@pytest.fixture
def register(units):
    """Five clients with an IČO (one Anna's, one archived, one merged away), one without."""
    made = {}
    with units() as u:
        for n, ico in enumerate(ICOS):
            made[ico] = handlers.create_client(u, {"name": f"Firma {n}", "ico": ico,
                                                   **({"owner_id": "anna"} if n == 0 else {})})
        made["none"] = handlers.create_client(u, {"name": "Bez IČO"})
    with units() as u:
        handlers.archive_client(u, made["27074358"]["id"])
    with units() as u:
        merge_handlers.merge_clients(u, made["25596641"]["id"], made["45274649"]["id"])
    return made


def _all(units, caller=Caller(), **kwargs):
    found, cursor = [], None
    while True:
        with units(caller) as u:
            page = registry_targets(u, cursor=cursor, **kwargs)
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def test_every_refreshable_client_once_by_id_page_by_page(units, register):
    expected = sorted((register[ico]["id"], ico) for ico in ("25596641", "25063677",
                                                             "00006947"))
    found = _all(units, limit=1)
    assert [(item["client_id"], item["ico"]) for item in found] == expected


def test_a_restricted_rep_gets_only_their_own(units, register):
    assert _all(units, ANNA) == [{"client_id": register["25596641"]["id"],
                                  "ico": "25596641"}]


def test_asked_ids_a_page_at_a_time_with_those_without_an_ico(units, register):
    asked = [register[key]["id"] for key in (*ICOS, "none")] + ["no-such-client"]
    items, no_ico, cursor, pages = [], [], None, 0
    while True:
        with units() as u:
            page = registry_targets(u, client_ids=asked, cursor=cursor, limit=2)
        items += page["items"]
        no_ico += page["no_ico"]
        pages, cursor = pages + 1, page["next_cursor"]
        if cursor is None:
            break
    assert pages == 4  # seven ids asked, two a page
    assert sorted(item["ico"] for item in items) == ["00006947", "25063677", "25596641"]
    assert no_ico == [register["none"]["id"]]
    with units(ANNA) as u:  # someone else's client is not found, whatever its IČO
        assert registry_targets(u, client_ids=asked)["items"] == [
            {"client_id": register["25596641"]["id"], "ico": "25596641"}]


@pytest.mark.parametrize("kwargs", [{"client_ids": "x"}, {"client_ids": [1]},
                                    {"client_ids": ["a"] * 10_001}, {"limit": 0},
                                    {"limit": 1001}, {"cursor": "garbage"}])
def test_bad_arguments_are_refused(units, kwargs):
    with units() as u, pytest.raises(ValidationFailed):
        registry_targets(u, **kwargs)


REGISTER_ONLY = {
    "established_on": "1996-07-08", "updated_in_registry_on": "2025-11-02",
    "primary_source": "ros",
    "delivery_address": {"lines": ["SAD s.r.o.", "Daminěves 35", "277 04 Cítov"],
                         "text": "SAD s.r.o., Daminěves 35, 277 04 Cítov"}}


def test_the_register_s_own_values_show_in_the_registry_view(units):
    with units() as u:
        client = handlers.create_client(u, {"name": "sad", "ico": "25063677"})
    address = {"street": "Daminěves 35", "city": "Cítov", "postal_code": "27704",
               "postal_code_formatted": "277 04", "country_code": "CZ",
               "text": "Daminěves 35, 27704 Cítov"}
    record = {"ico": "25063677", "name": "SAD s.r.o.", "dic": None, "vat_payer": None,
              "vat_group_dic": None, "legal_form": "112", "legal_form_name": None,
              "nace": [], "registered_address": address, "dissolved_on": None,
              **REGISTER_ONLY}
    with units() as u:
        handlers.apply_registry_data(u, {"id": "e1", "type": "ares.lookup_succeeded", "data": {
            "client_id": client["id"], "ico": "25063677",
            "fetched_at": "2026-01-01T10:00:00Z", "record": record}})
        u.commit()
    with units() as u:
        stored = handlers.get_client(u, client["id"])
        [event] = [json.loads(row.payload) for row in u.session.execute(select(outbox))
                   if json.loads(row.payload)["type"] == "client.updated"]
    values = stored["registry"]["values"]
    assert {name: values[name] for name in REGISTER_ONLY} == REGISTER_ONLY
    assert values["registered_address"]["postal_code_formatted"] == "277 04"
    # the client's own address keeps the five keys every address has
    assert "postal_code_formatted" not in stored["registered_address"]
    assert stored["registered_address"]["postal_code"] == "27704"
    schema = json.loads((EVENTS / "client.updated.v1.json").read_text(encoding="utf-8"))
    assert not list(Draft202012Validator(schema).iter_errors(event))


def test_a_namesake_of_a_contact_is_refused_only_when_asked(units):
    with units() as u:
        client = handlers.create_client(u, {"name": "Firma"})
    with units() as u:
        first = contacts.add_contact(u, client["id"], {"first_name": "Jan",
                                                       "last_name": "Novák"})
    with units() as u, pytest.raises(Conflict) as refused:
        contacts.add_contact(u, client["id"], {"first_name": "JAN", "last_name": "Novak",
                                               "degree": "Ing."}, "k-1", unique_name=True)
    assert refused.value.details == {"reason": "exists", "contact_id": first["id"]}
    with units() as u:  # the first answer to a key stands, whoever was added since
        added = contacts.add_contact(u, client["id"], {"last_name": "Dvořák"}, "k-2",
                                     unique_name=True)
    with units() as u:
        assert contacts.add_contact(u, client["id"], {"last_name": "Dvořák"}, "k-2",
                                    unique_name=True) == added
        assert contacts.add_contact(u, client["id"], {"first_name": "Jan",
                                                      "last_name": "Novák"})["id"] != \
            first["id"]  # without it, a namesake is another person
