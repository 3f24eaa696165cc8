"""Column headings -> client fields: the targets a column can feed, the headings people
write for them (Czech and English, with or without diacritics), and the check of a mapping
a user sent. Plain Python."""
import re

from crm_common.text import fold as _fold_words

# target: (Czech label, English label, headings that mean it)
_TARGETS = {
    "name": ("Název", "Company name", [
        "Název", "Název firmy", "Název společnosti", "Název klienta", "Firma", "Společnost",
        "Obchodní jméno", "Obchodní firma", "Klient", "Odběratel", "Company", "Company name",
        "Name", "Organization", "Organisation", "Organizace", "Client", "Customer"]),
    "ico": ("IČO", "Company ID (IČO)", [
        "IČO", "IČ", "IČO firmy", "Identifikační číslo", "Company ID", "Company number",
        "Reg. no", "Reg. no.", "Registration number", "Registration no", "Business ID"]),
    "dic": ("DIČ", "VAT ID (DIČ)", [
        "DIČ", "Daňové identifikační číslo", "VAT", "VAT ID", "VAT number", "VAT no", "Tax ID"]),
    "email": ("E-mail", "E-mail", [
        "E-mail", "Email", "Mail", "E-mailová adresa", "Emailová adresa", "E-mail firmy",
        "Email address", "E-mail address"]),
    "phone": ("Telefon", "Phone", [
        "Telefon", "Tel.", "Tel", "Telefonní číslo", "Mobil", "Mobilní telefon", "Mobilní číslo",
        "Phone", "Phone number", "Telephone", "Mobile", "Mobile phone", "Cell"]),
    "website": ("Web", "Website", [
        "Web", "WWW", "Webové stránky", "Webová stránka", "Website", "Web site", "URL",
        "Homepage"]),
    "street": ("Ulice", "Street", [
        "Ulice", "Adresa", "Ulice a číslo", "Ulice a číslo popisné", "Sídlo", "Číslo popisné",
        "Č. p.", "Číslo domu", "Street", "Address", "Street address", "House number"]),
    "city": ("Město", "City", ["Město", "Obec", "Místo", "City", "Town"]),
    "postal_code": ("PSČ", "Postal code", [
        "PSČ", "Poštovní směrovací číslo", "Postal code", "Post code", "Postcode", "ZIP",
        "ZIP code"]),
    "country": ("Stát", "Country", ["Stát", "Země", "Country", "Country code"]),
    "category": ("Kategorie", "Category", ["Kategorie", "Category", "Třída", "Class"]),
    "relationship": ("Vztah", "Relationship", [
        "Vztah", "Typ vztahu", "Typ klienta", "Relationship", "Relationship type"]),
    "industry": ("Obor", "Industry", ["Obor", "Odvětví", "Obor činnosti", "Industry", "Sector"]),
    "tags": ("Štítky", "Tags", ["Štítky", "Štítek", "Tagy", "Tag", "Tags", "Labels"]),
    "owner": ("Vlastník", "Owner", [
        "Vlastník", "Obchodník", "Obchodní zástupce", "Odpovědná osoba", "Owner",
        "Account owner", "Sales rep", "Salesperson"]),
    "description": ("Poznámka", "Description", [
        "Poznámka", "Poznámky", "Popis", "Komentář", "Note", "Notes", "Description", "Comment"]),
    "first_name": ("Jméno", "First name", [
        "Jméno", "Křestní jméno", "First name", "Given name", "Forename"]),
    "last_name": ("Příjmení", "Last name", ["Příjmení", "Last name", "Surname", "Family name"]),
    "full_name": ("Jméno a příjmení", "Full name", [
        "Jméno a příjmení", "Příjmení a jméno", "Celé jméno", "Full name"]),
    "contact_name": ("Kontaktní osoba", "Contact person", [
        "Kontaktní osoba", "Kontakt", "Jméno kontaktní osoby", "Contact person", "Contact",
        "Contact name"]),
    "contact_email": ("E-mail kontaktní osoby", "Contact person's e-mail", [
        "E-mail kontaktní osoby", "Kontakt e-mail", "Kontaktní e-mail", "E-mail kontaktu",
        "Contact email", "Contact e-mail", "Contact person email"]),
    "contact_phone": ("Telefon kontaktní osoby", "Contact person's phone", [
        "Telefon kontaktní osoby", "Kontakt telefon", "Kontaktní telefon", "Telefon kontaktu",
        "Mobil kontaktní osoby", "Contact phone", "Contact person phone"]),
    "contact_position": ("Funkce kontaktní osoby", "Contact person's position", [
        "Funkce", "Pozice", "Funkce kontaktní osoby", "Pracovní pozice", "Position",
        "Job title", "Title"]),
}
TARGETS: tuple[str, ...] = tuple(_TARGETS)
# targets several columns may feed: their values add up (two phone columns, street and
# house number, several note columns); every other target takes one column
MULTI_TARGETS = ("email", "phone", "street", "tags", "description", "contact_email",
                 "contact_phone")
IDENTITY_TARGETS = ("name", "ico", "dic", "email", "phone", "first_name", "last_name",
                    "full_name")  # a row without any of these cannot become a client
CUSTOM_PREFIX = "cf."


def fold(text) -> str:
    """'E-mailová  adresa:' -> 'e mailova adresa': case and diacritics gone, punctuation and
    white space runs as one space."""
    return _fold_words(None if text is None else str(text))


def _key(text) -> str:
    # spaces dropped too: "E-mail", "Email" and "E mail" are one heading
    return fold(text).replace(" ", "")


_SYNONYMS = {_key(heading): target for target, (_, _, headings) in _TARGETS.items()
             for heading in headings}
_BRACKETS = re.compile(r"\([^)]*\)|\[[^]]*\]")
_TRAILING_NUMBER = re.compile(r"\s*\d+$")


def target_for(heading, custom_fields=()) -> str | None:
    """The target a column with this heading feeds, or None. A custom field whose label or
    key the heading names wins over the fixed headings (an administrator defined it for
    exactly this data); "Telefon 2" and "IČO (8 číslic)" are read as their base heading."""
    if heading is None or not str(heading).strip():
        return None
    text = str(heading)
    for candidate in (text, _BRACKETS.sub(" ", text), _TRAILING_NUMBER.sub("", fold(text))):
        key = _key(candidate)
        if not key:
            continue
        for definition in _live(custom_fields):
            if key in (_key(definition.get("label")), _key(definition.get("key"))):
                return CUSTOM_PREFIX + definition["key"]
        if key in _SYNONYMS:
            return _SYNONYMS[key]
    return None


def suggest(headers: list[str], custom_fields=()) -> dict[str, str]:
    """{column index as str: target} for the headings recognised; a one-column target goes
    to its first column only."""
    taken, mapping = set(), {}
    for index, heading in enumerate(headers):
        target = target_for(heading, custom_fields)
        if target is None or (target in taken and target not in MULTI_TARGETS):
            continue
        taken.add(target)
        mapping[str(index)] = target
    return mapping


def describe_targets(custom_fields=()) -> list[dict]:
    """[{target, label_cs, label_en}] of the fixed targets and the live custom fields."""
    described = [{"target": target, "label_cs": cs, "label_en": en}
                 for target, (cs, en, _) in _TARGETS.items()]
    described += [{"target": CUSTOM_PREFIX + definition["key"], "label_cs": definition["label"],
                   "label_en": definition["label"]} for definition in _live(custom_fields)]
    return described


def check(mapping: dict, headers: list[str], custom_fields=()) -> dict[str, list[str]]:
    """Validation errors of a mapping {column index as str: target} keyed
    "mapping.<column>"; an empty target (None or "") leaves the column out."""
    if not isinstance(mapping, dict):
        return {"mapping": ["An object of {column index: target}."]}
    known = set(TARGETS) | {CUSTOM_PREFIX + d["key"] for d in _live(custom_fields)}
    errors: dict[str, list[str]] = {}
    first_column: dict[str, str] = {}
    for column, target in mapping.items():
        field = f"mapping.{column}"
        if not (isinstance(column, str) and column.isascii() and column.isdigit()
                and column == str(int(column)) and int(column) < len(headers)):
            errors[field] = [f"No column {column!r}: the file has columns 0 to "
                             f"{len(headers) - 1}."]
        elif target in (None, ""):
            continue
        elif target not in known:
            errors[field] = [f"Unknown target {target!r}."]
        elif target in first_column and target not in MULTI_TARGETS:
            errors[field] = [f"{target!r} is already mapped from column "
                             f"{first_column[target]} ({headers[int(first_column[target])]!r})."]
        else:
            first_column.setdefault(target, column)
    if not errors and not set(first_column) & set(IDENTITY_TARGETS):
        errors["mapping"] = ["Map at least one column to a name, IČO, DIČ, e-mail or phone: "
                             "without one no row can become a client."]
    return errors


def columns_for(mapping: dict, target: str) -> list[int]:
    """The column indices mapped to `target`, in file order."""
    return sorted(int(column) for column, mapped in mapping.items() if mapped == target)


def _live(custom_fields):
    return [d for d in custom_fields or () if d.get("key") and not d.get("retired_at")]
