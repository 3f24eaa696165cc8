"""Headings -> targets: what people write in Czech and English, custom fields, suggestions
and the check of a mapping a user sent."""
import pytest

from importer_service.mapping import (IDENTITY_TARGETS, MULTI_TARGETS, TARGETS, check,
                                      describe_targets, fold, suggest, target_for)

SKLAD = {"key": "sklad_m2", "label": "Sklad m²", "type": "decimal"}
REGION = {"key": "region", "label": "Obor", "type": "choice", "choices": ["a"]}

HEADINGS = {
    "name": ["Název", "Název firmy", "Firma", "Společnost", "Obchodní jméno", "Obchodní firma",
             "Company", "Company name", "Name", "Organization", "NAZEV FIRMY", "nazev"],
    "ico": ["IČO", "IČ", "ICO", "IC", "Company ID", "Reg. no", "Registration number", "I.Č.",
            "ičo:", "IČO (8 číslic)"],
    "dic": ["DIČ", "DIC", "VAT", "VAT ID", "Tax ID"],
    "email": ["E-mail", "Email", "Mail", "E-mailová adresa", "EMAIL", "e-mail 2"],
    "phone": ["Telefon", "Tel.", "Mobil", "Mobilní telefon", "Phone", "Mobile", "Telefon 2"],
    "website": ["Web", "WWW", "Webové stránky", "Website", "URL"],
    "street": ["Ulice", "Adresa", "Ulice a číslo", "Street", "Address"],
    "city": ["Město", "Obec", "Místo", "City", "Town", "MESTO"],
    "postal_code": ["PSČ", "PSC", "Postal code", "ZIP"],
    "country": ["Stát", "Země", "Country", "Zeme"],
    "category": ["Kategorie", "Category"],
    "relationship": ["Vztah", "Typ vztahu", "Relationship"],
    "industry": ["Obor", "Odvětví", "Industry"],
    "tags": ["Štítky", "Tagy", "Tags", "stitky"],
    "owner": ["Vlastník", "Obchodník", "Obchodní zástupce", "Owner", "Account owner"],
    "description": ["Poznámka", "Poznámky", "Popis", "Note", "Notes", "Description"],
    "first_name": ["Jméno", "Křestní jméno", "First name", "jmeno"],
    "last_name": ["Příjmení", "Last name", "Surname", "Prijmeni"],
    "full_name": ["Jméno a příjmení", "Celé jméno", "Full name"],
    "contact_name": ["Kontaktní osoba", "Kontakt", "Contact person", "Contact"],
    "contact_email": ["Kontakt e-mail", "E-mail kontaktu", "Contact email",
                      "E-mail kontaktní osoby"],
    "contact_phone": ["Kontakt telefon", "Telefon kontaktu", "Contact phone"],
    "contact_position": ["Funkce", "Pozice", "Position", "Job title"],
}


@pytest.mark.parametrize("target, heading", [(target, heading) for target, headings in
                                             HEADINGS.items() for heading in headings])
def test_headings_people_write(target, heading):
    assert target_for(heading) == target


def test_every_fixed_target_has_headings():
    assert set(HEADINGS) == set(TARGETS)


def test_jmeno_is_a_first_name_but_name_is_the_company():
    assert target_for("Jméno") == "first_name"
    assert target_for("Name") == "name"


@pytest.mark.parametrize("heading", ["", "   ", None, "ZAR_NAZ", "KAPACITA", "X", "Y",
                                     "Okres", "Sloupec C"])
def test_unknown_headings(heading):
    assert target_for(heading) is None


def test_fold():
    assert fold("  E-mailová  ADRESA:\t") == "e mailova adresa"
    assert fold("Žluťoučký kůň, s.r.o.") == "zlutoucky kun s r o"
    assert fold(None) == "" and fold(12) == "12"


def test_custom_fields_by_label_or_key_and_before_fixed_headings():
    assert target_for("Sklad m²", [SKLAD]) == "cf.sklad_m2"
    assert target_for("sklad m2", [SKLAD]) == "cf.sklad_m2"
    assert target_for("SKLAD_M2", [SKLAD]) == "cf.sklad_m2"
    assert target_for("Obor", [REGION]) == "cf.region"  # the administrator's field wins
    retired = dict(SKLAD, retired_at="2024-01-01T00:00:00Z")
    assert target_for("Sklad m²", [retired]) is None


def test_suggest_maps_each_single_target_once_and_multi_targets_from_several_columns():
    headers = ["Firma", "IČO", "Telefon", "Mobil", "Název", "Poznámka", "Popis", "Sklad m²",
               "Něco"]
    assert suggest(headers, [SKLAD]) == {"0": "name", "1": "ico", "2": "phone", "3": "phone",
                                         "5": "description", "6": "description",
                                         "7": "cf.sklad_m2"}
    assert {"phone", "email", "tags", "description"} <= set(MULTI_TARGETS)


def test_describe_targets():
    described = describe_targets([SKLAD])
    assert [d["target"] for d in described] == list(TARGETS) + ["cf.sklad_m2"]
    assert described[0] == {"target": "name", "label_cs": "Název", "label_en": "Company name"}
    assert described[-1] == {"target": "cf.sklad_m2", "label_cs": "Sklad m²",
                             "label_en": "Sklad m²"}


def test_check_accepts_a_good_mapping_and_left_out_columns():
    headers = ["Název", "Telefon", "Mobil", "Nic"]
    assert check({"0": "name", "1": "phone", "2": "phone", "3": None}, headers) == {}
    assert check({"0": "name", "3": ""}, headers) == {}


def test_check_errors_by_column():
    headers = ["Název", "Firma", "X", "Sklad"]
    errors = check({"0": "name", "1": "name", "2": "nope", "3": "cf.sklad_m2", "9": "ico",
                    "-1": "dic", "01": "email", "x": "city"}, headers, [SKLAD])
    assert set(errors) == {"mapping.1", "mapping.2", "mapping.9", "mapping.-1", "mapping.01",
                           "mapping.x"}
    assert "already mapped from column 0" in errors["mapping.1"][0]
    assert "Unknown target" in errors["mapping.2"][0]
    assert check({"0": "cf.sklad_m2"}, headers) == {"mapping.0": ["Unknown target "
                                                                  "'cf.sklad_m2'."]}
    assert check([], headers) == {"mapping": ["An object of {column index: target}."]}


def test_check_wants_a_column_that_identifies_a_client():
    headers = ["Okres", "Kapacita"]
    errors = check({"0": "city", "1": "description"}, headers)
    assert list(errors) == ["mapping"]
    assert set(IDENTITY_TARGETS) >= {"name", "ico", "email", "phone"}
