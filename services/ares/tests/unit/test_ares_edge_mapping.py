"""The mapping's newer parts: every shared recording, the statutory bodies of a VR record, the
delivery address, formatted PSČ, the search answer, and fields whose type changed."""
import copy
import json
import logging
from datetime import date
from pathlib import Path

import pytest

from ares_service.mapping import (map_delivery_address, map_statutory_people, map_subject,
                                  search_subjects)

# the project's shared folder lies beside the repository (as on CI)
SHARED = Path(__file__).resolve().parents[4].parent / "shared" / "ares"
TODAY = date(2024, 1, 1)
PERSON_KEYS = {"key", "kind", "name", "first_name", "last_name", "degree_before", "degree_after",
               "role", "body", "since", "birth_date"}


def shared_recordings():
    if not SHARED.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason="shared recordings not on this machine"))]
    return sorted(SHARED.glob("*.json"))


@pytest.mark.parametrize("path", shared_recordings(), ids=lambda p: getattr(p, "name", "none"))
def test_every_recording_maps(path, caplog):
    body = json.loads(path.read_text(encoding="utf-8"))
    record = map_subject(body)
    people = map_statutory_people(body, TODAY)
    if isinstance(body.get("ico"), str):  # an EkonomickySubjekt
        assert record["ico"] == body["ico"] and record["name"]
        assert record["registered_address"]["postal_code_formatted"].replace(" ", "") == \
            record["registered_address"]["postal_code"]
        assert record["delivery_address"]["lines"] and record["primary_source"]
    if "zaznamy" in body:
        assert people and all(set(p) == PERSON_KEYS for p in people)
        text = json.dumps(people, ensure_ascii=False)
        assert "datumNarozeni" not in text and "1967-09-07" not in text and "Leeuwerweg" not in text
    else:
        assert people == []
    assert "WARNING" not in caplog.text  # the real answers have every field in its schema type


def test_statutory_people_of_recording_10(recording):
    people = map_statutory_people(recording("10"), TODAY)
    assert [{k: p[k] for k in PERSON_KEYS - {"key"}} for p in people] == [
        {"kind": "person", "name": "Ing. Lenka Kučerová", "first_name": "Lenka", "last_name": "Kučerová",
         "degree_before": "Ing.", "degree_after": None, "role": "Prokura", "body": "Prokura",
         "since": "2018-06-09", "birth_date": None},
        {"kind": "person", "name": "Koen Quaghebeur", "first_name": "Koen", "last_name": "Quaghebeur",
         "degree_before": None, "degree_after": None, "role": "jednatel", "body": "Statutární orgán",
         "since": "2010-09-15", "birth_date": None},
    ]
    assert all(len(p["key"]) == 16 for p in people)
    assert [p["key"] for p in map_statutory_people(recording("10"), TODAY)] == [p["key"] for p in people]


# -- synthetic VR records (field names and types from the OpenAPI schema) ------------------------

def member(first="Jan", last="Novák", **changes):
    entry = {"datumZapisu": "2020-01-10", "typAngazma": "STATUTARNI_ORGAN_CLEN",
             "nazevAngazma": "Člen statutárního orgánu",
             "clenstvi": {"clenstvi": {"vznikClenstvi": "2020-01-01"},
                          "funkce": {"nazev": "jednatel", "vznikFunkce": "2020-01-02"}},
             "fyzickaOsoba": {"jmeno": first, "prijmeni": last, "datumNarozeni": "1970-01-01",
                              "adresa": {"textovaAdresa": "Kotlářská 2, Brno"}}}
    entry.update(changes)
    return entry


def vr(*members, **organ):
    return {"icoId": "27074358", "zaznamy": [{"primarniZaznam": True, "statutarniOrgany": [
        {"nazevOrganu": "Statutární orgán", "clenoveOrganu": list(members), **organ}]}]}


def names(payload):
    return [p["name"] for p in map_statutory_people(payload, TODAY)]


def test_person_fields_and_degrees():
    (person,) = map_statutory_people(vr(member(fyzickaOsoba={
        "jmeno": "JAN", "prijmeni": "NOVÁK-SVOBODA", "titulPredJmenem": "Ing.", "titulZaJmenem": "Ph.D.",
        "datumNarozeni": "1970-01-01"})), TODAY)
    assert person["name"] == "Ing. Jan Novák-Svoboda, Ph.D."
    assert (person["first_name"], person["last_name"]) == ("Jan", "Novák-Svoboda")
    assert (person["degree_before"], person["degree_after"]) == ("Ing.", "Ph.D.")
    assert (person["role"], person["body"], person["since"]) == ("jednatel", "Statutární orgán", "2020-01-02")
    assert person["birth_date"] is None and person["kind"] == "person"


def test_since_falls_back_to_membership_then_entry_date():
    no_function_start = member(clenstvi={"clenstvi": {"vznikClenstvi": "2019-05-05"}, "funkce": {"nazev": "předseda"}})
    assert map_statutory_people(vr(no_function_start), TODAY)[0]["since"] == "2019-05-05"
    assert map_statutory_people(vr(member(clenstvi={})), TODAY)[0]["since"] == "2020-01-10"
    assert map_statutory_people(vr(member(clenstvi={})), TODAY)[0]["role"] == "Člen statutárního orgánu"


@pytest.mark.parametrize("changes, current", [
    ({"datumVymazu": "2021-01-01"}, False),
    ({"clenstvi": {"funkce": {"nazev": "jednatel", "zanikFunkce": "2023-12-31"}}}, False),
    ({"clenstvi": {"clenstvi": {"zanikClenstvi": "2024-01-01"}}}, False),  # ends today
    ({"clenstvi": {"funkce": {"nazev": "jednatel", "zanikFunkce": "2024-06-30"}}}, True),  # not yet
    ({"clenstvi": {"funkce": {"zanikFunkce": "soon"}}}, True),  # unreadable date: skipped
])
def test_current_members_only(changes, current):
    assert names(vr(member(**changes))) == (["Jan Novák"] if current else [])


def test_struck_organ_and_record_have_no_current_members():
    assert names(vr(member(), datumVymazu="2022-02-02")) == []
    payload = vr(member())
    payload["zaznamy"][0]["datumVymazu"] = "2022-02-02"
    assert names(payload) == []


def test_primary_record_else_the_first():
    old, new = vr(member("Petr", "Starý"))["zaznamy"][0], vr(member())["zaznamy"][0]
    old["primarniZaznam"] = False
    assert names({"zaznamy": [old, new]}) == ["Jan Novák"]
    new["primarniZaznam"] = False
    assert names({"zaznamy": [old, new]}) == ["Petr Starý"]


def test_legal_person_member_and_nameless_members():
    company = member(fyzickaOsoba=None, pravnickaOsoba={"ico": "25063677", "obchodniJmeno": "SAD s.r.o."})
    nameless = member(fyzickaOsoba={"datumNarozeni": "1970-01-01"})
    hidden = {"skrytyUdaj": {"hodnota": "x"}, "typAngazma": "STATUTARNI_ORGAN_CLEN"}
    people = map_statutory_people(vr(company, nameless, hidden), TODAY)
    assert people == [{**people[0], "kind": "company", "name": "SAD s.r.o.", "first_name": None,
                       "last_name": None, "degree_before": None, "degree_after": None}]


def test_identical_entries_are_one_person():
    assert names(vr(member(), member(), member(first="Eva"))) == ["Jan Novák", "Eva Novák"]


def test_body_name_from_the_organ_type():
    payload = vr(member())
    organ = payload["zaznamy"][0]["statutarniOrgany"][0]
    del organ["nazevOrganu"]
    organ["typOrganu"] = "PROKURA"
    assert map_statutory_people(payload, TODAY)[0]["body"] == "Prokura"
    organ["typOrganu"] = "NOVY_TYP"
    assert map_statutory_people(payload, TODAY)[0]["body"] == "NOVY_TYP"


def test_other_organs_and_shareholders_are_not_statutory():
    payload = vr()
    payload["zaznamy"][0]["ostatniOrgany"] = [{"nazevOrganu": "Dozorčí rada", "clenoveOrganu": [member()]}]
    assert names(payload) == []


# -- fields whose type changed ---------------------------------------------------------------

@pytest.mark.parametrize("payload", [
    {"zaznamy": "x"}, {"zaznamy": [1, "x", None]}, {"zaznamy": [{"statutarniOrgany": "jednatel"}]},
    {"zaznamy": [{"statutarniOrgany": [{"clenoveOrganu": {"fyzickaOsoba": {}}}]}]},
    {"zaznamy": [{"statutarniOrgany": [{"clenoveOrganu": [{"fyzickaOsoba": "Jan Novák"}]}]}]},
    {"zaznamy": [{"datumVymazu": 20200101, "statutarniOrgany": [7]}]},
])
def test_vr_fields_of_another_type_are_skipped(payload, caplog):
    with caplog.at_level(logging.WARNING, "ares_service.mapping"):
        assert map_statutory_people(payload, TODAY) == []
    assert "ARES" in caplog.text


def test_member_fields_of_another_type_are_skipped(caplog):
    odd = member(clenstvi={"funkce": ["jednatel"]}, datumZapisu=20200110)
    odd["fyzickaOsoba"]["titulPredJmenem"] = ["Ing."]
    (person,) = map_statutory_people(vr(odd), TODAY)
    assert (person["name"], person["role"], person["since"]) == ("Jan Novák", "Člen statutárního orgánu", None)
    assert "FunkceVr" not in caplog.text and "AngazmaClenstviVr.funkce is list" in caplog.text


def test_subject_fields_of_another_type_are_skipped(recording, caplog):
    payload = recording("04")
    payload.update(sidlo=[payload["sidlo"]], datumVzniku=19960708, adresaDorucovaci="Daminěves 35",
                   czNace="471", seznamRegistraci=["AKTIVNI"], primarniZdroj=["vr"], obchodniJmeno={"x": 1})
    with caplog.at_level(logging.WARNING, "ares_service.mapping"):
        record = map_subject(payload)
    assert record["registered_address"] == map_subject({})["registered_address"]
    assert record["established_on"] is None and record["delivery_address"] is None
    assert record["nace"] == [] and record["vat_payer"] is None and record["primary_source"] is None
    assert record["name"] is None and record["dic"] == "CZ25063677"  # the rest still maps
    for field in ("sidlo", "datumVzniku", "adresaDorucovaci", "czNace", "seznamRegistraci"):
        assert f"EkonomickySubjekt.{field} is" in caplog.text
    assert "Daminěves" not in caplog.text  # values are never logged


def test_unknown_fields_are_ignored(recording):
    payload = recording("04")
    plain = map_subject(payload)
    payload.update(novePole={"a": 1}, sidlo={**payload["sidlo"], "noveSidloPole": [1]})
    assert map_subject(payload) == plain


# -- addresses -----------------------------------------------------------------------------------

@pytest.mark.parametrize("sidlo, formatted", [
    ({"psc": 11000}, "110 00"), ({"psc": 1100}, "011 00"), ({"kodStatu": "CZ", "pscTxt": "110 00"}, "110 00"),
    ({"kodStatu": "DE", "pscTxt": "80331"}, "80331"), ({"kodStatu": "SK", "pscTxt": "040 01"}, "040 01"),
    ({"kodStatu": "CZ", "psc": "1100a"}, "1100a"), ({"nazevObce": "Brno"}, None),
])
def test_postal_code_formatted(sidlo, formatted):
    address = map_subject({"sidlo": sidlo})["registered_address"]
    assert address["postal_code_formatted"] == formatted


def test_postal_code_stays_raw():
    assert map_subject({"sidlo": {"psc": 11000}})["registered_address"]["postal_code"] == "11000"


@pytest.mark.parametrize("value, expected", [
    ({"radekAdresy1": "Kotlářská 2", "radekAdresy2": " ", "radekAdresy3": "602 00 Brno"},
     {"lines": ["Kotlářská 2", "602 00 Brno"], "text": "Kotlářská 2, 602 00 Brno"}),
    ({"radekAdresy3": "C", "radekAdresy1": "A", "radekAdresy10": "Z", "jinePole": "x"},
     {"lines": ["A", "C", "Z"], "text": "A, C, Z"}),
    ({}, None), ({"radekAdresy1": ""}, None), (None, None), ("A", None), ({"radekAdresy1": ["A"]}, None),
])
def test_delivery_address(value, expected):
    assert map_delivery_address(value) == expected


# -- the search answer ---------------------------------------------------------------------------

def test_search_subjects(recording):
    sad, cvut = recording("04"), recording("05")
    answer = {"pocetCelkem": 2, "ekonomickeSubjekty": [sad, cvut, sad, 1, {"obchodniJmeno": "X"}, {"ico": 1603094}]}
    found = search_subjects(copy.deepcopy(answer))
    assert list(found) == ["25063677", "68407700", "01603094"]
    assert found["25063677"] == sad


@pytest.mark.parametrize("answer", [None, [], "x", {}, {"pocetCelkem": 0}, {"ekonomickeSubjekty": {}}])
def test_search_answer_of_another_shape(answer):
    assert search_subjects(answer) is None


def test_empty_search_answer():
    assert search_subjects({"pocetCelkem": 0, "ekonomickeSubjekty": []}) == {}


# -- the event schema ----------------------------------------------------------------------------

def test_records_fit_the_lookup_succeeded_schema(recording):
    import jsonschema

    path = Path(__file__).resolve().parents[4] / "docs" / "events" / "ares.lookup_succeeded.v1.json"
    defs = json.loads(path.read_text(encoding="utf-8"))["$defs"]
    validator = jsonschema.Draft202012Validator({"$defs": defs, **defs["Record"]})
    for payload in (recording("03"), recording("04"), recording("05"), {}, {"sidlo": {"kodStatu": "DE"}}):
        validator.validate(map_subject(payload))
