"""Map ARES answers to our registry data: an `EkonomickySubjekt` (GET /ekonomicke-subjekty/{ico},
or one entry of a POST .../vyhledat answer) to our registry record, and a public-register (VR)
record (GET /ekonomicke-subjekty-vr/{ico}) to the current members of its statutory bodies.

Field names and types follow the official OpenAPI document (AresRestApi-verejne v1.3.0),
not just the recorded samples: ARES leaves out fields that do not apply, so every field is
optional here; nulls and int-vs-string variants are tolerated. A field of another type than
the schema's (ARES changed it?) is logged at warning and skipped: the mappers never raise.
"""
from __future__ import annotations

import hashlib
import logging
import re
from datetime import date
from typing import Any

log = logging.getLogger(__name__)

# Czech names of common `pravniForma` codes (ARES codebook PravniForma). Unknown codes -> None.
LEGAL_FORM_NAMES = {
    "101": "Fyzická osoba podnikající dle živnostenského zákona",
    "102": "Fyzická osoba podnikající dle živnostenského zákona zapsaná v obchodním rejstříku",
    "105": "Fyzická osoba podnikající dle jiného zákona než živnostenského a zákona o zemědělství",
    "107": "Zemědělský podnikatel – fyzická osoba nezapsaná v obchodním rejstříku",
    "111": "Veřejná obchodní společnost",
    "112": "Společnost s ručením omezeným",
    "113": "Společnost komanditní",
    "117": "Nadace",
    "118": "Nadační fond",
    "121": "Akciová společnost",
    "141": "Obecně prospěšná společnost",
    "145": "Společenství vlastníků jednotek",
    "161": "Ústav",
    "205": "Družstvo",
    "301": "Státní podnik",
    "325": "Organizační složka státu",
    "331": "Příspěvková organizace",
    "421": "Odštěpný závod zahraniční právnické osoby",
    "601": "Vysoká škola (veřejná, státní)",
    "641": "Školská právnická osoba",
    "661": "Veřejná výzkumná instituce",
    "701": "Občanské sdružení",
    "706": "Spolek",
    "721": "Církve a náboženské společnosti",
    "736": "Pobočný spolek",
    "745": "Komora (hospodářská, agrární)",
    "751": "Zájmové sdružení právnických osob",
    "771": "Dobrovolný svazek obcí",
    "801": "Obec",
    "804": "Kraj",
    "932": "Evropská společnost",
}

_ACTIVE = "AKTIVNI"
_EVIDENCNI = 2  # typCisloDomovni 2 = evidenční číslo (temporary buildings), written "č. ev. N"
_TEXTUAL = (str, int)  # codes and numbers ARES has sent both ways
_SUBJECT, _SIDLO = "EkonomickySubjekt", "sidlo"
_CZECH_PSC = re.compile(r"\d{5}")
_DELIVERY_LINE = re.compile(r"radekAdresy(\d+)")


# -- reading fields ------------------------------------------------------------------------------

def _get(obj: dict, key: str, kinds: type | tuple, where: str) -> Any:
    """obj[key] when of the schema's type (a bool only where asked for); None when absent or
    null. Any other type is a change on ARES's side: logged (never the value) and skipped."""
    value = obj.get(key)
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if value is None or (isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))):
        return value
    log.warning("ARES field %s.%s is %s, expected %s: skipped", where, key, type(value).__name__,
                " or ".join(k.__name__ for k in kinds))
    return None


def _object(value: Any, what: str) -> dict:
    if isinstance(value, dict):
        return value
    if value is not None:
        log.warning("ARES %s is %s, not an object: skipped", what, type(value).__name__)
    return {}


def _text(value: Any) -> str | None:
    """A non-empty stripped string; ints (not bools) become strings; anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None


def _str(obj: dict, key: str, where: str, kinds: type | tuple = _TEXTUAL) -> str | None:
    return _text(_get(obj, key, kinds, where))


def _objects(obj: dict, key: str, where: str) -> list[dict]:
    """The objects of a list field; entries of another type are logged and skipped."""
    items = _get(obj, key, list, where) or []
    if not all(isinstance(item, dict) for item in items):
        log.warning("ARES field %s.%s has entries that are not objects: skipped", where, key)
    return [item for item in items if isinstance(item, dict)]


def _int(value: Any) -> int | None:
    # typCisloDomovni is an integer in the schema but has been seen as the string "1".
    try:
        return int(_text(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


# -- EkonomickySubjekt ---------------------------------------------------------------------------

def _house_number(sidlo: dict) -> str | None:
    domovni = _str(sidlo, "cisloDomovni", _SIDLO)
    if domovni is None:
        # Unstructured (mostly foreign or non-standardised) addresses only have cisloDoAdresy.
        return _str(sidlo, "cisloDoAdresy", _SIDLO)
    if _int(_get(sidlo, "typCisloDomovni", _TEXTUAL, _SIDLO)) == _EVIDENCNI:
        domovni = f"č. ev. {domovni}"
    orientacni = _str(sidlo, "cisloOrientacni", _SIDLO)
    if orientacni:
        return f"{domovni}/{orientacni}{_str(sidlo, 'cisloOrientacniPismeno', _SIDLO) or ''}"
    return domovni


def map_address(sidlo: Any) -> dict:
    sidlo = _object(sidlo, _SIDLO)
    street_name = _str(sidlo, "nazevUlice", _SIDLO)
    part, municipality = _str(sidlo, "nazevCastiObce", _SIDLO), _str(sidlo, "nazevObce", _SIDLO)
    # Villages without streets are addressed by the part of the municipality: "Daminěves 35".
    street = " ".join(p for p in (street_name or part or municipality, _house_number(sidlo)) if p) or None
    # Prague's districts ("Praha 6") are what people write as the city.
    city = _str(sidlo, "nazevMestskehoObvodu", _SIDLO) or municipality
    # pscTxt carries foreign / non-standard codes and wins; psc is an integer that lost its
    # leading zeros (01100 -> 1100), so pad it back to five digits.
    psc_txt, psc = _str(sidlo, "pscTxt", _SIDLO, str), _str(sidlo, "psc", _SIDLO)
    postal_code = psc_txt or (psc.zfill(5) if psc and psc.isdigit() else psc)
    # without kodStatu, an integer psc is a Czech postal code
    country = _str(sidlo, "kodStatu", _SIDLO) or ("CZ" if psc and not psc_txt else None)
    text = _str(sidlo, "textovaAdresa", _SIDLO)
    if text is None:
        # Compose the Czech way: "street, part of municipality, PSČ city[, country]".
        if not street_name or part in (city, municipality):
            part = None  # already the street name, or the same as the city
        foreign = country not in (None, "CZ")
        parts = [
            street,
            part,
            " ".join(p for p in (postal_code, city) if p) or None,
            _str(sidlo, "nazevStatu", _SIDLO) if foreign else None,
        ]
        text = ", ".join(p for p in parts if p) or None
    return {
        "street": street,
        "city": city,
        "postal_code": postal_code,  # as stored so far: raw, zero-padded
        "postal_code_formatted": _formatted_postal_code(postal_code, country),
        "country_code": country,
        "text": text,
    }


def _formatted_postal_code(code: str | None, country: str | None) -> str | None:
    """A Czech PSČ the way it is written ("110 00"); anything else as given."""
    if code and country == "CZ" and _CZECH_PSC.fullmatch(code):
        return f"{code[:3]} {code[3:]}"
    return code


def map_delivery_address(value: Any) -> dict | None:
    """AdresaDorucovaci (radekAdresy1..3, in order) -> {"lines", "text"}, None when empty."""
    address = _object(value, "adresaDorucovaci")
    numbered = sorted((int(m.group(1)), key) for key in address
                      if isinstance(key, str) and (m := _DELIVERY_LINE.fullmatch(key)))
    lines = [line for _, key in numbered if (line := _str(address, key, "adresaDorucovaci"))]
    return {"lines": lines, "text": ", ".join(lines)} if lines else None


def _nace(payload: dict) -> list[str]:
    # czNace (CZ-NACE 2025) replaces czNace2008; older records only have the latter.
    for key in ("czNace", "czNace2008"):
        codes = _get(payload, key, list, _SUBJECT)
        if codes:
            return [c for c in (_text(x) for x in codes) if c]
    return []


def map_subject(payload: Any) -> dict:
    """Map an EkonomickySubjekt JSON object to our registry record (never raises)."""
    payload = _object(payload, _SUBJECT)
    registrations = _get(payload, "seznamRegistraci", dict, _SUBJECT) or {}
    legal_form = _str(payload, "pravniForma", _SUBJECT)
    group_dic = _str(payload, "dicSkDph", _SUBJECT)
    ico = _str(payload, "ico", _SUBJECT)
    return {
        "ico": ico.zfill(8) if ico and ico.isdigit() else ico,
        "name": _str(payload, "obchodniJmeno", _SUBJECT),
        "dic": _str(payload, "dic", _SUBJECT),
        # A DIČ alone does not prove VAT status; the VAT registry (or the VAT group registry)
        # does. No list of registrations at all says nothing: unknown, not "no".
        "vat_payer": (registrations.get("stavZdrojeDph") == _ACTIVE
                      or registrations.get("stavZdrojeSkDph") == _ACTIVE)
        if registrations else None,
        "vat_group_dic": None if group_dic in (None, "N/A") else group_dic,
        "legal_form": legal_form,
        "legal_form_name": LEGAL_FORM_NAMES.get(legal_form) if legal_form else None,
        "nace": _nace(payload),
        "registered_address": map_address(_get(payload, "sidlo", dict, _SUBJECT)),
        "delivery_address": map_delivery_address(_get(payload, "adresaDorucovaci", dict, _SUBJECT)),
        "primary_source": _str(payload, "primarniZdroj", _SUBJECT, str),  # ros, vr, res, rzp...
        "established_on": _str(payload, "datumVzniku", _SUBJECT, str),
        "dissolved_on": _str(payload, "datumZaniku", _SUBJECT, str),
        "updated_in_registry_on": _str(payload, "datumAktualizace", _SUBJECT, str),
    }


def search_subjects(payload: Any) -> dict[str, dict] | None:
    """The subjects of a POST /ekonomicke-subjekty/vyhledat answer (EkonomickeSubjektySeznam)
    by their zero-padded IČO; None when the answer does not have that shape. Entries that
    are not objects or carry no IČO are logged and skipped."""
    if not isinstance(payload, dict) or not isinstance(payload.get("ekonomickeSubjekty"), list):
        return None
    subjects = {}
    for entry in payload["ekonomickeSubjekty"]:
        ico = _str(entry, "ico", _SUBJECT) if isinstance(entry, dict) else None
        if ico is None:
            log.warning("ARES search answer has an entry without an IČO: skipped")
            continue
        subjects.setdefault(ico.zfill(8) if ico.isdigit() else ico, entry)
    return subjects


# -- statutory bodies (VR record) ----------------------------------------------------------------

# Names of organ types (typOrganu) that come without their own name (nazevOrganu).
ORGAN_NAMES = {"STATUTARNI_ORGAN": "Statutární orgán", "PROKURA": "Prokura"}
_ORGAN, _MEMBER, _PERSON = "StatutarniOrganVr", "AngazmaOsobaVr", "FyzickaOsobaVr"


def map_statutory_people(payload: Any, today: date | None = None) -> list[dict]:
    """The current members of the statutory bodies in a VR record (EkonomickySubjektVr), from
    its primary record. Names, functions and dates only: no birth dates, no addresses."""
    records = _objects(_object(payload, "EkonomickySubjektVr"), "zaznamy", "EkonomickySubjektVr")
    record = next((r for r in records if r.get("primarniZaznam") is True), records[0] if records else {})
    if _str(record, "datumVymazu", "ZaznamVr", str):
        return []  # struck off the register: nobody acts for it any more
    today_iso = (today or date.today()).isoformat()
    people: dict[str, dict] = {}
    for organ in _objects(record, "statutarniOrgany", "ZaznamVr"):
        if _str(organ, "datumVymazu", _ORGAN, str):
            continue
        body = (_str(organ, "nazevOrganu", _ORGAN, str) or _str(organ, "nazevAngazma", _ORGAN, str)
                or ORGAN_NAMES.get(_str(organ, "typOrganu", _ORGAN, str) or "")
                or _str(organ, "typOrganu", _ORGAN, str))
        for member in _objects(organ, "clenoveOrganu", _ORGAN):
            person = _current_member(member, body, today_iso)
            if person is not None:
                people.setdefault(person["key"], person)  # the same entry twice is one person
    return list(people.values())


def _current_member(member: dict, body: str | None, today_iso: str) -> dict | None:
    if _str(member, "datumVymazu", _MEMBER, str):
        return None
    engagement = _get(member, "clenstvi", dict, _MEMBER) or {}  # AngazmaClenstviVr
    membership = _get(engagement, "clenstvi", dict, "AngazmaClenstviVr") or {}  # ClenstviVr
    function = _get(engagement, "funkce", dict, "AngazmaClenstviVr") or {}  # FunkceVr
    ended = (_date(membership, "zanikClenstvi", "ClenstviVr"), _date(function, "zanikFunkce", "FunkceVr"))
    if any(end and end <= today_iso for end in ended):
        return None
    person = _person(member)
    if person is None:
        return None
    # the function's own name ("jednatel"); prokura and the like have only the engagement's
    role = (_str(function, "nazev", "FunkceVr", str) or _str(member, "nazevAngazma", _MEMBER, str)
            or _str(member, "typAngazma", _MEMBER, str))
    since = (_date(function, "vznikFunkce", "FunkceVr") or _date(membership, "vznikClenstvi", "ClenstviVr")
             or _date(member, "datumZapisu", _MEMBER))
    key = hashlib.sha256(f"{person['name']}|{role}|{since}|{body}".encode()).hexdigest()[:16]
    return {"key": key, **person, "role": role, "body": body, "since": since, "birth_date": None}


def _person(member: dict) -> dict | None:
    natural = _get(member, "fyzickaOsoba", dict, _MEMBER)
    if natural:
        first = _name_case(_str(natural, "jmeno", _PERSON, str))
        last = _name_case(_str(natural, "prijmeni", _PERSON, str))
        before = _str(natural, "titulPredJmenem", _PERSON, str)
        after = _str(natural, "titulZaJmenem", _PERSON, str)
        name = " ".join(p for p in (before, first, last) if p)
        if not (first or last):
            return None
        return {"kind": "person", "name": f"{name}, {after}" if after else name, "first_name": first,
                "last_name": last, "degree_before": before, "degree_after": after}
    company = _get(member, "pravnickaOsoba", dict, _MEMBER)
    name = _str(company, "obchodniJmeno", "PravnickaOsobaVr", str) if company else None
    if not name:
        return None
    return {"kind": "company", "name": name, "first_name": None, "last_name": None,
            "degree_before": None, "degree_after": None}


def _name_case(name: str | None) -> str | None:
    """The register keeps some names in capitals ("KUČEROVÁ"): write them as people do."""
    if name and name.isupper():
        return name.title()
    return name


def _date(obj: dict, key: str, where: str) -> str | None:
    """An ISO date (YYYY-MM-DD) field; anything unreadable is logged and skipped."""
    text = _str(obj, key, where, str)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        log.warning("ARES field %s.%s is not an ISO date: skipped", where, key)
        return None
