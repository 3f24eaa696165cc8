"""Map an ARES `EkonomickySubjekt` (GET /ekonomicke-subjekty/{ico}) to our registry record.

Field names and types follow the official OpenAPI document (AresRestApi-verejne v1.3.0),
not just the recorded samples: ARES leaves out fields that do not apply, so every field is
optional here; nulls and int-vs-string variants are tolerated too, and the mapper never raises.
"""
from __future__ import annotations

from typing import Any

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


def _text(value: Any) -> str | None:
    """A non-empty stripped string; ints (not bools) become strings; anything else -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    # typCisloDomovni is an integer in the schema but has been seen as the string "1".
    try:
        return int(_text(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _postal_code(sidlo: dict) -> str | None:
    # pscTxt carries foreign / non-standard codes and wins; psc is an integer that lost its
    # leading zeros (01100 -> 1100), so pad it back to five digits.
    txt = sidlo.get("pscTxt")
    if isinstance(txt, str) and txt.strip():  # a string by the schema; anything else is noise
        return txt.strip()
    psc = _text(sidlo.get("psc"))
    if psc is None:
        return None
    return psc.zfill(5) if psc.isdigit() else psc


def _house_number(sidlo: dict) -> str | None:
    domovni = _text(sidlo.get("cisloDomovni"))
    if domovni is None:
        # Unstructured (mostly foreign or non-standardised) addresses only have cisloDoAdresy.
        return _text(sidlo.get("cisloDoAdresy"))
    if _int(sidlo.get("typCisloDomovni")) == _EVIDENCNI:
        domovni = f"č. ev. {domovni}"
    orientacni = _text(sidlo.get("cisloOrientacni"))
    if orientacni:
        return f"{domovni}/{orientacni}{_text(sidlo.get('cisloOrientacniPismeno')) or ''}"
    return domovni


def _street(sidlo: dict) -> str | None:
    # Villages without streets are addressed by the part of the municipality: "Daminěves 35".
    name = (
        _text(sidlo.get("nazevUlice"))
        or _text(sidlo.get("nazevCastiObce"))
        or _text(sidlo.get("nazevObce"))
    )
    return " ".join(p for p in (name, _house_number(sidlo)) if p) or None


def map_address(sidlo: Any) -> dict:
    sidlo = _dict(sidlo)
    street = _street(sidlo)
    # Prague's districts ("Praha 6") are what people write as the city.
    city = _text(sidlo.get("nazevMestskehoObvodu")) or _text(sidlo.get("nazevObce"))
    postal_code = _postal_code(sidlo)
    country = _text(sidlo.get("kodStatu"))
    if country is None and _text(sidlo.get("psc")) and not _text(sidlo.get("pscTxt")):
        country = "CZ"  # an integer psc is a Czech postal code
    text = _text(sidlo.get("textovaAdresa"))
    if text is None:
        # Compose the Czech way: "street, part of municipality, PSČ city[, country]".
        part = _text(sidlo.get("nazevCastiObce"))
        if not _text(sidlo.get("nazevUlice")) or part in (city, _text(sidlo.get("nazevObce"))):
            part = None  # already the street name, or the same as the city
        foreign = country not in (None, "CZ")
        parts = [
            street,
            part,
            " ".join(p for p in (postal_code, city) if p) or None,
            _text(sidlo.get("nazevStatu")) if foreign else None,
        ]
        text = ", ".join(p for p in parts if p) or None
    return {
        "street": street,
        "city": city,
        "postal_code": postal_code,
        "country_code": country,
        "text": text,
    }


def _nace(payload: dict) -> list[str]:
    # czNace (CZ-NACE 2025) replaces czNace2008; older records only have the latter.
    for key in ("czNace", "czNace2008"):
        codes = payload.get(key)
        if isinstance(codes, list) and codes:
            return [c for c in (_text(x) for x in codes) if c]
    return []


def map_subject(payload: Any) -> dict:
    """Map an EkonomickySubjekt JSON object to our registry record (never raises)."""
    payload = _dict(payload)
    registrations = _dict(payload.get("seznamRegistraci"))
    legal_form = _text(payload.get("pravniForma"))
    group_dic = _text(payload.get("dicSkDph"))
    ico = _text(payload.get("ico"))
    return {
        "ico": ico.zfill(8) if ico and ico.isdigit() else ico,
        "name": _text(payload.get("obchodniJmeno")),
        "dic": _text(payload.get("dic")),
        # A DIČ alone does not prove VAT status; the VAT registry (or the VAT group registry)
        # does. No list of registrations at all says nothing: unknown, not "no".
        "vat_payer": (registrations.get("stavZdrojeDph") == _ACTIVE
                      or registrations.get("stavZdrojeSkDph") == _ACTIVE)
        if registrations else None,
        "vat_group_dic": None if group_dic in (None, "N/A") else group_dic,
        "legal_form": legal_form,
        "legal_form_name": LEGAL_FORM_NAMES.get(legal_form) if legal_form else None,
        "nace": _nace(payload),
        "registered_address": map_address(payload.get("sidlo")),
        "established_on": _text(payload.get("datumVzniku")),
        "dissolved_on": _text(payload.get("datumZaniku")),
        "updated_in_registry_on": _text(payload.get("datumAktualizace")),
    }
