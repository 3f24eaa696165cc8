"""map_subject against the recorded ARES bodies and synthetic payloads built from the OpenAPI schema."""
import copy

import pytest

from ares_service.mapping import map_subject

RECORD_KEYS = {
    "ico", "name", "dic", "vat_payer", "vat_group_dic", "legal_form", "legal_form_name", "nace",
    "registered_address", "delivery_address", "primary_source", "established_on", "dissolved_on",
    "updated_in_registry_on",
}
ADDRESS_KEYS = {"street", "city", "postal_code", "postal_code_formatted", "country_code", "text"}


def test_company_vat_payer_village_address(recording):
    assert map_subject(recording("04")) == {
        "ico": "25063677",
        "name": "SAD s.r.o.",
        "dic": "CZ25063677",
        "vat_payer": True,
        "vat_group_dic": None,
        "legal_form": "112",
        "legal_form_name": "Společnost s ručením omezeným",
        "nace": ["471", "5590", "00", "01", "011", "10390"],
        "registered_address": {
            "street": "Daminěves 35",
            "city": "Cítov",
            "postal_code": "27704",
            "postal_code_formatted": "277 04",
            "country_code": "CZ",
            "text": "Daminěves 35, 27704 Cítov",
        },
        "delivery_address": {"lines": ["Daminěves 35", "27704 Cítov"], "text": "Daminěves 35, 27704 Cítov"},
        "primary_source": "vr",
        "established_on": "1996-07-08",
        "dissolved_on": None,
        "updated_in_registry_on": "2023-11-04",
    }


def test_sole_trader_without_vat(recording):
    record = map_subject(recording("03"))
    assert record["ico"] == "01603094"
    assert record["name"] == "Bc. Kristýna Vokálová"
    assert record["dic"] is None
    assert record["vat_payer"] is False
    assert record["legal_form"] == "101"
    assert record["legal_form_name"] == "Fyzická osoba podnikající dle živnostenského zákona"
    assert record["nace"][:2] == ["461", "63910"] and record["nace"][-1] == "J"
    assert record["registered_address"] == {
        "street": "Zábědov 89",
        "city": "Nový Bydžov",
        "postal_code": "50401",
        "postal_code_formatted": "504 01",
        "country_code": "CZ",
        "text": "Zábědov 89, 50401 Nový Bydžov",
    }
    assert record["established_on"] == "2013-04-15"
    assert record["updated_in_registry_on"] == "2023-08-09"


def test_public_university_in_prague(recording):
    record = map_subject(recording("05"))
    assert record["ico"] == "68407700"
    assert record["name"] == "České vysoké učení technické v Praze"
    assert record["dic"] == "CZ68407700"
    assert record["vat_payer"] is True
    assert (record["legal_form"], record["legal_form_name"]) == ("601", "Vysoká škola (veřejná, státní)")
    assert record["nace"] == ["55902", "7219", "85420"]
    assert record["registered_address"] == {
        "street": "Jugoslávských partyzánů 1580/3",
        "city": "Praha 6",
        "postal_code": "16000",
        "postal_code_formatted": "160 00",
        "country_code": "CZ",
        "text": "Jugoslávských partyzánů 1580/3, Dejvice, 16000 Praha 6",
    }
    assert record["established_on"] == "1999-01-01"
    assert record["dissolved_on"] is None


# -- synthetic payloads (field names and types from the OpenAPI schema) ----------------------------

BASE = {
    "ico": "27074358",
    "obchodniJmeno": "Example s.r.o.",
    "pravniForma": "112",
    "sidlo": {
        "kodStatu": "CZ",
        "nazevObce": "Brno",
        "nazevCastiObce": "Veveří",
        "nazevUlice": "Kotlářská",
        "cisloDomovni": 267,
        "cisloOrientacni": 2,
        "psc": 60200,
        "typCisloDomovni": 1,
    },
}


def subject(**sidlo_changes):
    payload = copy.deepcopy(BASE)
    for key, value in sidlo_changes.items():
        if value is ...:
            payload["sidlo"].pop(key, None)
        else:
            payload["sidlo"][key] = value
    return payload


def address(payload):
    return map_subject(payload)["registered_address"]


def test_integer_typ_cislo_domovni_and_composed_text():
    assert address(subject()) == {
        "street": "Kotlářská 267/2",
        "city": "Brno",
        "postal_code": "60200",
        "postal_code_formatted": "602 00",
        "country_code": "CZ",
        "text": "Kotlářská 267/2, Veveří, 60200 Brno",
    }


@pytest.mark.parametrize("typ", [2, "2"])
def test_evidencni_cislo(typ):
    addr = address(subject(typCisloDomovni=typ, cisloOrientacni=..., nazevUlice=..., nazevCastiObce="Lhotka", cisloDomovni=123))
    assert addr["street"] == "Lhotka č. ev. 123"
    assert addr["text"] == "Lhotka č. ev. 123, 60200 Brno"


def test_orientacni_letter():
    assert address(subject(cisloOrientacniPismeno="a"))["street"] == "Kotlářská 267/2a"


def test_psc_with_lost_leading_zero_is_padded():
    assert address(subject(psc=1100))["postal_code"] == "01100"


def test_psc_txt_wins():
    assert address(subject(pscTxt="602 00"))["postal_code"] == "602 00"


def test_village_without_part_uses_municipality():
    addr = address(subject(nazevUlice=..., nazevCastiObce=..., cisloOrientacni=..., nazevObce="Cítov", cisloDomovni=35))
    assert addr["street"] == "Cítov 35"


def test_number_from_cislo_do_adresy_when_no_cislo_domovni():
    addr = address(subject(cisloDomovni=..., cisloOrientacni=..., cisloDoAdresy="12-14"))
    assert addr["street"] == "Kotlářská 12-14"


def test_missing_kod_statu_defaults_to_cz_for_czech_psc():
    assert address(subject(kodStatu=...))["country_code"] == "CZ"


def test_foreign_address_keeps_text_and_existing_parts():
    payload = {
        "ico": "05930600",
        "obchodniJmeno": "Foreign GmbH, odštěpný závod",
        "pravniForma": "421",
        "sidlo": {
            "kodStatu": "DE",
            "nazevStatu": "Spolková republika Německo",
            "nazevObce": "München",
            "pscTxt": "80331",
            "textovaAdresa": "Marienplatz 8, 80331 München, Spolková republika Německo",
        },
    }
    record = map_subject(payload)
    assert record["registered_address"] == {
        "street": "München",
        "city": "München",
        "postal_code": "80331",
        "postal_code_formatted": "80331",  # foreign: as given
        "country_code": "DE",
        "text": "Marienplatz 8, 80331 München, Spolková republika Německo",
    }
    assert record["legal_form_name"] == "Odštěpný závod zahraniční právnické osoby"


def test_foreign_address_with_text_only():
    addr = address({"sidlo": {"kodStatu": "SK", "textovaAdresa": "Hlavná 1, 040 01 Košice"}})
    assert addr == {"street": None, "city": None, "postal_code": None, "postal_code_formatted": None,
                    "country_code": "SK", "text": "Hlavná 1, 040 01 Košice"}


def test_foreign_address_composed_text_names_the_country():
    addr = address({"sidlo": {"kodStatu": "AT", "nazevStatu": "Rakousko", "nazevObce": "Wien",
                               "nazevUlice": "Ring", "cisloDoAdresy": "1", "pscTxt": "1010"}})
    assert addr["text"] == "Ring 1, 1010 Wien, Rakousko"
    assert addr["country_code"] == "AT"


def test_empty_object():
    record = map_subject({})
    assert set(record) == RECORD_KEYS
    assert record["vat_payer"] is None  # no registrations listed: unknown, not "no"
    assert record["nace"] == []
    assert record["registered_address"] == dict.fromkeys(ADDRESS_KEYS)
    assert all(record[k] is None for k in RECORD_KEYS - {"nace", "registered_address"})
    assert record["delivery_address"] is None


def test_nulls_everywhere():
    payload = {key: None for key in ("ico", "obchodniJmeno", "dic", "dicSkDph", "pravniForma", "sidlo",
                                     "seznamRegistraci", "czNace", "czNace2008", "datumVzniku")}
    payload["sidlo"] = {key: None for key in BASE["sidlo"]} | {"pscTxt": None, "textovaAdresa": None}
    record = map_subject(payload)
    assert record == map_subject({})


def test_dic_alone_does_not_make_a_vat_payer():
    record = map_subject({"dic": "CZ27074358", "seznamRegistraci": {"stavZdrojeDph": "NEEXISTUJICI"}})
    assert record["dic"] == "CZ27074358" and record["vat_payer"] is False


def test_vat_group_member():
    record = map_subject({
        "dic": "CZ27074358",
        "dicSkDph": "CZ699000001",
        "seznamRegistraci": {"stavZdrojeDph": "NEEXISTUJICI", "stavZdrojeSkDph": "AKTIVNI"},
    })
    assert record["vat_payer"] is True
    assert record["vat_group_dic"] == "CZ699000001"


def test_group_dic_na_is_ignored():
    assert map_subject({"dicSkDph": "N/A"})["vat_group_dic"] is None


def test_nace_falls_back_to_2008():
    assert map_subject({"czNace2008": ["62010", "46"]})["nace"] == ["62010", "46"]
    assert map_subject({"czNace": ["62100"], "czNace2008": ["62010"]})["nace"] == ["62100"]


def test_dates_and_unknown_legal_form():
    record = map_subject({"datumZaniku": "2009-05-31", "datumVzniku": "1995-01-01", "pravniForma": "999"})
    assert record["dissolved_on"] == "2009-05-31"
    assert record["established_on"] == "1995-01-01"
    assert (record["legal_form"], record["legal_form_name"]) == ("999", None)


def test_mapping_does_not_mutate_input(recording):
    payload = recording("05")
    before = copy.deepcopy(payload)
    map_subject(payload)
    assert payload == before
