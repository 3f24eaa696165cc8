"""One row -> the clients service's payloads; each normaliser alone, with round trips
through what Excel and people make of IČO numbers, phones, dates and decimals."""
import datetime
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st
from stdnum.cz.dic import calc_check_digit_legal

from importer_service.mapping import suggest
from importer_service.values import (Problem, build_row, excel_serial_date, split_person_name,
                                     to_bool, to_country, to_custom, to_date, to_decimal,
                                     to_dic, to_emails, to_ico, to_number, to_phones,
                                     to_postal_code, to_text, to_website)

USERS = [{"id": "u1", "email": "Jana.Mala@firma.cz", "name": "Jana Malá"},
         {"id": "u2", "email": "petr@firma.cz", "name": "Petr Veliký"}]
CUSTOM = [{"key": "sklad_m2", "label": "Sklad m²", "type": "decimal"},
          {"key": "od", "label": "Klientem od", "type": "date"},
          {"key": "vip", "label": "VIP", "type": "bool"},
          {"key": "pocet", "label": "Počet poboček", "type": "number"},
          {"key": "velikost", "label": "Velikost", "type": "choice",
           "choices": ["Malá", "Střední", "Velká"]},
          {"key": "kanaly", "label": "Kanály", "type": "multi_choice",
           "options": ["E-mail", "Telefon"]},
          {"key": "portal", "label": "Portál", "type": "url"},
          {"key": "fakturace", "label": "Fakturační e-mail", "type": "email"},
          {"key": "pozn", "label": "Interní", "type": "text"}]


def row(headers, values, **kwargs):
    mapping = kwargs.pop("mapping", None) or suggest(headers, kwargs.get("custom_fields", ()))
    return build_row(7, values, headers, mapping, **kwargs)


def test_a_full_company_row():
    headers = ["Název", "IČO", "DIČ", "E-mail", "Telefon", "Web", "Ulice", "Město", "PSČ",
               "Stát", "Kategorie", "Vztah", "Obor", "Štítky", "Obchodník", "Poznámka"]
    values = [" Žluťoučký kůň s.r.o. ", 1569651.0, "cz 01569651", "INFO@kun.cz ",
              603111222.0, "www.kun.cz", "Dlouhá 12", "Praha", 11000.0, "Česká republika",
              "a", "Zákazník", "Stavebnictví", "vip; stavby, vip", "jana.mala@firma.cz",
              "řádek 1\r\nřádek 2\x00"]
    result = row(headers, values, users=USERS)
    assert result.problems == []
    assert result.number == 7
    assert result.client == {
        "name": "Žluťoučký kůň s.r.o.", "kind": "company", "ico": "01569651",
        "dic": "CZ01569651", "email": "INFO@kun.cz", "phone": "+420603111222",
        "website": "https://www.kun.cz",
        "registered_address": {"street": "Dlouhá 12", "city": "Praha", "postal_code": "110 00",
                               "country_code": "CZ"},
        "category": "A", "relationship": "customer", "industry": "Stavebnictví",
        "tags": ["vip", "stavby"], "owner_id": "u1", "description": "řádek 1\nřádek 2"}
    assert result.contact is None
    assert result.keys == {"ico": "01569651", "email": "info@kun.cz"}


def test_only_values_the_file_has_appear():
    headers = ["Název", "IČO", "E-mail", "Město", "Poznámka"]
    result = row(headers, ["Firma", None, "  ", None, ""])
    assert result.client == {"name": "Firma", "kind": "company"}
    assert result.keys == {"ico": None, "email": None}


def test_an_address_without_a_country_gets_the_default_one():
    headers = ["Název", "Město", "PSČ"]
    assert row(headers, ["F", "Bratislava", "811 01"], default_country="SK").client[
        "registered_address"] == {"city": "Bratislava", "postal_code": "811 01",
                                  "country_code": "SK"}
    assert "registered_address" not in row(headers, ["F", None, None]).client


def test_several_emails_and_phones_make_lists():
    headers = ["Název", "E-mail", "Telefon", "Mobil"]
    result = row(headers, ["F", "a@f.cz; b@f.cz,A@f.cz", "+420 222 111 333", "603111222.0"])
    assert result.client["emails"] == [{"value": "a@f.cz"}, {"value": "b@f.cz"}]
    assert result.client["phones"] == [{"value": "+420222111333"}, {"value": "+420603111222"}]
    assert "email" not in result.client and "phone" not in result.client  # one form only
    assert result.keys["email"] == "a@f.cz"


def test_bad_values_are_problems_naming_column_and_field():
    headers = ["Název", "IČO", "E-mail", "Telefon", "Web", "PSČ", "Stát", "Kategorie", "Vztah",
               "Obchodník"]
    result = row(headers, ["F", "12345678", "not-an-email", "12", "nic", "1100", "Narnie", "D",
                           "kamarád", "nikdo@firma.cz"], users=USERS)
    fields = {(p.column, p.field) for p in result.problems}
    assert fields == {("IČO", "ico"), ("E-mail", "emails"), ("Telefon", "phones"),
                      ("Web", "website"), ("Stát", "registered_address.country_code"), ("Kategorie", "category"),
                      ("Vztah", "relationship"), ("Obchodník", "owner_id")}
    assert all(isinstance(p, Problem) and p.message.endswith(".") for p in result.problems)
    assert "ico" not in result.client
    # the postal code of an unknown country is taken as written
    assert "registered_address" not in result.client or \
        result.client["registered_address"] == {"postal_code": "1100"}
    assert [p.field for p in row(["Název", "PSČ"], ["F", "1100"]).problems] == [
        "registered_address.postal_code"]


def test_a_cell_longer_than_the_field_is_a_problem_not_truncated():
    result = row(["Název", "Obor"], ["x" * 256, "y" * 121])
    assert {p.field for p in result.problems} == {"name", "industry"}
    assert "255" in result.problems[0].message


def test_too_many_tags_are_a_problem_not_cut():
    result = row(["Název", "Štítky"], ["F", ",".join(f"t{i}" for i in range(51))])
    assert [p.field for p in result.problems] == ["tags"] and "tags" not in result.client


def test_a_row_with_nothing_to_identify_a_client_by():
    result = row(["Název", "Město"], [None, "Praha"])
    assert [(p.column, p.field) for p in result.problems] == [("Název", "name")]


def test_an_ico_alone_is_enough():
    assert row(["IČO"], [1569651]).problems == []


def test_owner_by_name_or_email_and_ambiguous_names():
    headers = ["Název", "Vlastník"]
    assert row(headers, ["F", "petr veliky"], users=USERS).client["owner_id"] == "u2"
    twins = USERS + [{"id": "u3", "email": "p2@firma.cz", "name": "Petr Veliký"}]
    assert "e-mail" in row(headers, ["F", "Petr Veliký"], users=twins).problems[0].message


# -- names and contact persons ----------------------------------------------------------------

def test_person_columns_without_a_company_column_make_a_person_client():
    result = row(["Jméno", "Příjmení", "E-mail"], ["Jan", "Novák", "jan@novak.cz"])
    assert result.client["name"] == "Jan Novák" and result.client["kind"] == "person"
    assert result.contact is None
    assert row(["Jméno a příjmení"], ["Ing. Eva Malá"]).client == {"name": "Ing. Eva Malá",
                                                                   "kind": "person"}


def test_person_columns_beside_a_company_column_describe_the_contact_person():
    headers = ["Firma", "Jméno", "Příjmení", "Funkce", "Kontakt e-mail", "Kontakt telefon"]
    result = row(headers, ["Kůň s.r.o.", "Jan", "Novák", "jednatel", "jan@kun.cz",
                           "603 111 222, 777111222"])
    assert result.client == {"name": "Kůň s.r.o.", "kind": "company"}
    assert result.contact == {"first_name": "Jan", "last_name": "Novák", "position": "jednatel",
                              "emails": [{"value": "jan@kun.cz"}],
                              "phones": [{"value": "+420603111222"},
                                         {"value": "+420777111222"}]}


def test_a_contact_name_is_split_with_degrees():
    result = row(["Název", "Kontaktní osoba"], ["F", "Ing. Jan Novák, Ph.D."])
    assert result.contact == {"degree": "Ing., Ph.D.", "first_name": "Jan",
                              "last_name": "Novák"}
    assert split_person_name("MUDr. Eva Marie Malá") == ("MUDr.", "Eva Marie", "Malá")
    assert split_person_name("Novák") == (None, None, "Novák")
    assert split_person_name("Ing. arch. Petr Veliký") == ("Ing. arch.", "Petr", "Veliký")


def test_a_full_name_beside_a_company_is_the_contact_person():
    result = row(["Firma", "Jméno a příjmení", "Pozice"], ["F", "Mgr. Eva Malá", "ředitelka"])
    assert result.client == {"name": "F", "kind": "company"}
    assert result.contact == {"degree": "Mgr.", "first_name": "Eva", "last_name": "Malá",
                              "position": "ředitelka"}


def test_contact_details_without_a_name_are_a_problem():
    result = row(["Název", "Kontakt e-mail"], ["F", "jan@kun.cz"])
    assert [(p.column, p.field) for p in result.problems] == [("Kontakt e-mail",
                                                               "contact.last_name")]


# -- custom fields ----------------------------------------------------------------------------

def test_custom_fields_by_type():
    headers = [d["label"] for d in CUSTOM] + ["Název"]
    values = ["1 234,50", "1. 2. 2024", "ano", 3.0, "střední", "telefon; e-mail",
              "portal.firma.cz", "Fakturace@Firma.cz", "  text \x07 ", "F"]
    result = row(headers, values, custom_fields=CUSTOM)
    assert result.problems == []
    assert result.client["custom_fields"] == {
        "sklad_m2": "1234.50", "od": "2024-02-01", "vip": True, "pocet": 3,
        "velikost": "Střední", "kanaly": ["Telefon", "E-mail"],
        "portal": "https://portal.firma.cz", "fakturace": "Fakturace@Firma.cz",
        "pozn": "text"}


def test_custom_field_problems_name_the_field():
    headers = ["Název", "Sklad m²", "Klientem od", "Velikost"]
    result = row(headers, ["F", "hodně", "31. 2. 2024", "obří"], custom_fields=CUSTOM)
    assert [(p.column, p.field) for p in result.problems] == [
        ("Sklad m²", "custom_fields.sklad_m2"), ("Klientem od", "custom_fields.od"),
        ("Velikost", "custom_fields.velikost")]
    assert "Malá, Střední, Velká" in result.problems[2].message


@pytest.mark.parametrize("value, expected", [
    ("1 234,50", "1234.50"), (1234.5, "1234.5"), (1234.0, "1234"), (12, "12"),
    ("1.234,5", "1234.5"), ("1,234.5", "1234.5"), ("-0,5", "-0.5"), ("1\u00a0000", "1000"),
    ("1.000.000", "1000000"), (1e-05, "0.00001")])
def test_decimals(value, expected):
    assert to_decimal(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("1. 2. 2024", "2024-02-01"), ("01.02.2024", "2024-02-01"), ("1.2.24", "2024-02-01"),
    ("2024-02-01", "2024-02-01"), ("2024-02-01 00:00:00", "2024-02-01"),
    (45323, "2024-02-01"), (45323.75, "2024-02-01"), (20240201, "2024-02-01"),
    (datetime.date(2024, 2, 1), "2024-02-01"), (datetime.datetime(2024, 2, 1, 9), "2024-02-01"),
    (59, "1900-02-28"), (61, "1900-03-01"), (1, "1900-01-01")])
def test_dates(value, expected):
    assert to_date(value) == expected


@pytest.mark.parametrize("value", ["31. 2. 2024", "zítra", 60, 0, -5, True, "1/2/2024"])
def test_not_dates(value):
    with pytest.raises(ValueError):
        to_date(value)


@pytest.mark.parametrize("value, expected", [
    ("ano", True), ("NE", False), ("Yes", True), ("x", True), (1, True), (0.0, False),
    (True, True), ("pravda", True), ("false", False)])
def test_bools(value, expected):
    assert to_bool(value) is expected


def test_numbers_and_texts():
    assert to_number("1 234") == 1234 and to_number("2,5") == 2.5 and to_number(7.0) == 7
    with pytest.raises(ValueError):
        to_number(True)
    assert to_text(1569651.0) == "1569651" and to_text(1.5) == "1.5"
    assert to_text(" a\tb\r\nc\x00\x1b ") == "a\tb\nc"
    assert to_text(datetime.datetime(2024, 2, 1)) == "2024-02-01"
    assert to_custom("x" * 2000, {"type": "text"}) == "x" * 2000
    with pytest.raises(ValueError):
        to_custom("x" * 2001, {"type": "text"})


# -- single normalisers -----------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (1569651, "01569651"), (1569651.0, "01569651"), ("1569651.0", "01569651"),
    ("015 69 651", "01569651"), ("01569651", "01569651"), (" 25596641\u00a0", "25596641")])
def test_ico(value, expected):
    assert to_ico(value) == expected


@pytest.mark.parametrize("value", ["25596642", "1569651.5", "abc", True, 123456789])
def test_bad_ico(value):
    with pytest.raises(ValueError):
        to_ico(value)


def test_dic():
    assert to_dic("cz 01569651") == "CZ01569651"
    assert to_dic(1569651.0) == "CZ01569651"
    assert to_dic("SK2020317068") == "SK2020317068"
    with pytest.raises(ValueError):
        to_dic("CZ1234")


def test_emails_phones_websites_countries_postal_codes():
    assert to_emails("mailto:a@b.cz, <c@d.cz>") == ["a@b.cz", "c@d.cz"]
    assert to_phones(420603111222.0) == ["+420603111222"]
    assert to_phones("00421 903 123 456") == ["+421903123456"]
    assert to_website("HTTP://firma.cz/kontakt") == "HTTP://firma.cz/kontakt"
    assert to_website("firma.cz") == "https://firma.cz"
    assert [to_country(c) for c in ("Česko", "ČR", "cz", "Slovensko", "Německo", "at",
                                    "United Kingdom")] == ["CZ", "CZ", "CZ", "SK", "DE", "AT",
                                                           "GB"]
    assert to_postal_code(11000.0, "CZ") == "110 00"
    assert to_postal_code(1001, "SK") == "010 01"  # Excel dropped the leading zero
    assert to_postal_code("110 00", "CZ") == "110 00"
    assert to_postal_code(" SW1A 1AA ", "GB") == "SW1A 1AA"


# -- round trips -------------------------------------------------------------------------------

icos = st.integers(0, 9_999_999).map(lambda n: f"{n:07d}" + calc_check_digit_legal(f"{n:07d}"))


@given(icos)
def test_ico_round_trips_through_what_excel_makes_of_it(ico):
    number = int(ico)
    for typed in (ico, number, float(number), f"{number}.0", f"{ico[:3]} {ico[3:]}"):
        assert to_ico(typed) == ico


czech_mobiles = st.integers(601_000_000, 799_999_999).filter(
    lambda n: str(n)[:3] in ("601", "602", "603", "604", "605", "606", "607", "608", "702",
                             "704", "720", "721", "722", "723", "724", "725", "730", "731",
                             "732", "733", "734", "736", "737", "739", "770", "771", "772",
                             "773", "774", "775", "776", "777", "778", "779", "790", "791",
                             "792", "793", "797", "799"))


@given(czech_mobiles)
def test_phone_round_trips(number):
    expected = [f"+420{number}"]
    text = str(number)
    for typed in (number, float(number), float(f"420{number}"), text,
                  f"{text[:3]} {text[3:6]} {text[6:]}", f"+420 {text}", f"00420{text}"):
        assert to_phones(typed) == expected


@given(st.dates(datetime.date(1900, 3, 1), datetime.date(2099, 12, 31)))
def test_date_round_trips(day):
    iso = day.isoformat()
    serial = (day - datetime.date(1899, 12, 30)).days
    assert excel_serial_date(serial) == day
    for typed in (day, serial, float(serial) + 0.5, f"{day.day}. {day.month}. {day.year}",
                  f"{day:%d.%m.%Y}", iso):
        assert to_date(typed) == iso


@given(st.decimals(min_value=-10**12, max_value=10**12, places=2, allow_nan=False))
def test_decimal_round_trips_from_czech_writing(number):
    whole, _, fraction = f"{abs(number):.2f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", " ")
    typed = ("-" if number < 0 else "") + f"{grouped},{fraction}"
    assert Decimal(to_decimal(typed)) == number
