"""One row of a file -> the payloads the clients service takes (ClientCreateSchema and
ContactCreateSchema field names), with a Problem for every value that cannot be normalised.
Plain Python. Only values the file has appear in the payload, so an update changes only
what the file says."""
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from marshmallow import ValidationError, validate
from stdnum.cz import dic as cz_dic
from stdnum.eu import vat as eu_vat

from crm_common import ico as ico_rules
from crm_common.phones import e164

from .mapping import CUSTOM_PREFIX, columns_for, fold


@dataclass
class Problem:
    column: str  # the heading of the column the value came from
    field: str  # the client field: "ico", "registered_address.postal_code",
    # "custom_fields.sklad_m2", "contact.emails"
    message: str


@dataclass
class Row:
    number: int  # the row number in the file
    client: dict
    contact: dict | None
    problems: list[Problem] = field(default_factory=list)
    keys: dict = field(default_factory=dict)  # {"ico", "email"} to match and find duplicates


# lengths the clients service takes (its schemas)
MAX = {"name": 255, "street": 255, "city": 120, "postal_code": 20, "industry": 120,
       "description": 10000, "email": 254, "website": 500, "tag": 60, "first_name": 100,
       "last_name": 100, "degree": 60, "position": 120, "custom_text": 2000}
MAX_LIST = 50


def build_row(number, values, headers, mapping: dict[str, str], custom_fields=(), users=(),
              default_country="CZ") -> Row:
    return _RowBuilder(number, values, headers, mapping, custom_fields, users,
                       default_country).build()


class _RowBuilder:
    def __init__(self, number, values, headers, mapping, custom_fields, users,
                 default_country):
        self.row = Row(number, {}, None)
        self.values, self.headers, self.mapping = values, headers, mapping
        self.definitions = {d["key"]: d for d in custom_fields or () if d.get("key")}
        self.users, self.default_country = users or (), default_country

    def cells(self, target) -> list[tuple[str, object]]:
        """(heading, value) of the non-empty cells of the columns mapped to `target`."""
        found = []
        for index in columns_for(self.mapping, target):
            value = self.values[index] if index < len(self.values) else None
            if not _is_empty(value):
                found.append((self.headers[index] if index < len(self.headers) else "", value))
        return found

    def convert(self, target, field_name, convert):
        """convert(value) of each non-empty cell of `target`; a ValueError is a Problem."""
        results = []
        for heading, value in self.cells(target):
            try:
                results.append((heading, convert(value)))
            except ValueError as exc:
                self.row.problems.append(Problem(heading, field_name, str(exc)))
        return results

    def one(self, target, field_name, convert):
        results = self.convert(target, field_name, convert)
        return results[0][1] if results else None

    def build(self) -> Row:
        client = self.row.client
        self.name_and_kind()
        for target, convert in (("ico", to_ico), ("dic", to_dic)):
            value = self.one(target, target, convert)
            if value:
                client[target] = value
        self.list_field("email", "email", "emails", to_emails, client)
        self.list_field("phone", "phone", "phones", to_phones, client)
        for target, convert in (("website", to_website), ("category", to_category),
                                ("relationship", to_relationship),
                                ("industry", lambda v: to_text(v, MAX["industry"]))):
            value = self.one(target, target, convert)
            if value:
                client[target] = value
        self.address()
        tags = list(dict.fromkeys(tag for _, found in self.convert("tags", "tags", to_tags)
                                  for tag in found))
        if len(tags) > MAX_LIST:
            self.problem("tags", f"More than {MAX_LIST} tags.")
        elif tags:
            client["tags"] = tags
        description = "\n".join(text for _, text in self.convert(
            "description", "description", to_text) if text)
        if description:
            if len(description) > MAX["description"]:
                self.problem("description", f"Longer than {MAX['description']} characters.")
            else:
                client["description"] = description
        owner = self.one("owner", "owner_id", self.owner_id)
        if owner:
            client["owner_id"] = owner
        self.custom()
        self.contact()
        self.identity()
        self.row.keys = {"ico": client.get("ico"),
                         "email": (client.get("email") or _first(client.get("emails")) or
                                   "").lower() or None}
        return self.row

    def problem(self, target, message, field_name=None):
        columns = columns_for(self.mapping, target)
        heading = self.headers[columns[0]] if columns and columns[0] < len(self.headers) else ""
        self.row.problems.append(Problem(heading, field_name or target, message))

    def list_field(self, target, single, many, convert, into, wrap=False):
        """E-mails and phones: one value -> `single`; several -> `many` as [{"value"}]
        (the schema takes one form or the other, never both)."""
        found = list(dict.fromkeys(item for _, items in self.convert(target, many, convert)
                                   for item in items))
        if len(found) > MAX_LIST:
            self.problem(target, f"More than {MAX_LIST} values.", many)
        elif len(found) == 1 and not wrap:
            into[single] = found[0]
        elif found:
            into[many] = [{"value": item} for item in found]

    # -- name ------------------------------------------------------------------------------
    def has(self, target) -> bool:
        return bool(columns_for(self.mapping, target))

    def name_and_kind(self):
        client = self.row.client
        if self.has("name"):
            name = self.one("name", "name", lambda v: to_text(v, MAX["name"]))
            if name:
                client.update(name=name, kind="company")
            return
        first, last, full = (self.one(t, "name", to_text)
                             for t in ("first_name", "last_name", "full_name"))
        name = " ".join(part for part in (first, last) if part) or full
        if not name:
            return
        if len(name) > MAX["name"]:
            self.problem("full_name", f"Longer than {MAX['name']} characters.", "name")
        else:
            client.update(name=name, kind="person")

    def contact(self):
        contact = {}
        parts = None
        if self.has("name"):  # person-name columns describe the contact person
            first, last = (self.one(t, f"contact.{t}", to_text)
                           for t in ("first_name", "last_name"))
            if first or last:
                parts = (None, first, last)
            else:
                full = self.one("full_name", "contact.last_name", to_text)
                parts = split_person_name(full) if full else None
        if parts is None:
            full = self.one("contact_name", "contact.last_name", to_text)
            parts = split_person_name(full) if full else None
        for name, value in zip(("degree", "first_name", "last_name"), parts or ()):
            if value and len(value) > MAX[name]:
                self.problem("contact_name", f"Longer than {MAX[name]} characters.",
                             f"contact.{name}")
            elif value:
                contact[name] = value
        position = self.one("contact_position", "contact.position",
                            lambda v: to_text(v, MAX["position"]))
        if position:
            contact["position"] = position
        self.list_field("contact_email", "emails", "emails", to_emails, contact, wrap=True)
        self.list_field("contact_phone", "phones", "phones", to_phones, contact, wrap=True)
        if contact and not (contact.get("first_name") or contact.get("last_name")):
            target = next((t for t in ("contact_email", "contact_phone", "contact_position")
                           if self.cells(t)), "contact_name")
            self.problem(target, "The contact person has no name: add a contact person "
                                 "column (or first and last name).", "contact.last_name")
        self.row.contact = contact or None

    def identity(self):
        client, problems = self.row.client, self.row.problems
        if client.get("name") or client.get("ico") or client.get("email") or \
                client.get("emails") or any(p.field in ("name", "ico", "email", "emails")
                                            for p in problems):
            return
        target = next((t for t in ("name", "full_name", "last_name", "first_name", "ico")
                       if self.has(t)), "name")
        self.problem(target, "No name, IČO or e-mail: nothing to create or find a client by.",
                     "name")

    # -- address ---------------------------------------------------------------------------
    def address(self):
        address = {}
        street = " ".join(text for _, text in self.convert(
            "street", "registered_address.street", to_text) if text)
        if len(street) > MAX["street"]:
            self.problem("street", f"Longer than {MAX['street']} characters.",
                         "registered_address.street")
        elif street:
            address["street"] = street
        city = self.one("city", "registered_address.city", lambda v: to_text(v, MAX["city"]))
        if city:
            address["city"] = city
        country = self.one("country", "registered_address.country_code", to_country)
        postal_cells = self.cells("postal_code")
        if country is None and (address or postal_cells) and \
                not self.cells("country") and self.default_country:
            country = self.default_country
        if postal_cells:
            heading, value = postal_cells[0]
            try:
                address["postal_code"] = to_postal_code(value, country)
            except ValueError as exc:
                self.row.problems.append(Problem(heading, "registered_address.postal_code",
                                                 str(exc)))
        if country:
            address["country_code"] = country
        if address:
            self.row.client["registered_address"] = address

    # -- owner and custom fields -----------------------------------------------------------
    def owner_id(self, value) -> str:
        text = to_text(value)
        by_email = [u for u in self.users if (u.get("email") or "").lower() == text.lower()]
        by_name = [u for u in self.users if u.get("name") and fold(u["name"]) == fold(text)]
        matches = by_email or by_name
        if len(matches) == 1:
            return matches[0]["id"]
        if matches:
            raise ValueError(f"Several users are called {text!r}: use the e-mail.")
        raise ValueError(f"No user with the e-mail or name {text!r}.")

    def custom(self):
        fields = {}
        for target in dict.fromkeys(self.mapping.values()):
            if not (target or "").startswith(CUSTOM_PREFIX):
                continue
            key = target[len(CUSTOM_PREFIX):]
            definition = self.definitions.get(key)
            if definition is None:
                continue
            value = self.one(target, f"custom_fields.{key}",
                             lambda v, d=definition: to_custom(v, d))
            if value is not None and value != []:
                fields[key] = value
        if fields:
            self.row.client["custom_fields"] = fields


# -- normalisers: a value from a cell (str, int, float, bool, date, datetime, None) ----------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and line feed


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and not _CONTROL.sub("", value).strip())


def to_text(value, max_length: int | None = None) -> str:
    """A cell as trimmed text without control characters (tab and line breaks kept);
    numbers as written (1569651.0 -> "1569651"), dates in ISO."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    elif isinstance(value, datetime):
        text = value.date().isoformat() if value.time() == time() else \
            value.isoformat(sep=" ")
    elif isinstance(value, (date, time)):
        text = value.isoformat()
    else:
        text = str(value)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if max_length is not None and len(text) > max_length:
        raise ValueError(f"Longer than {max_length} characters.")
    return text


def to_ico(value) -> str:
    """01569651 from 1569651, 1569651.0, "1569651.0" or "015 69 651" (Excel drops the
    leading zeros and may store the number as a float)."""
    text = _integer_text(value)
    try:
        return ico_rules.validate(text)
    except ValueError as exc:
        raise ValueError(f"{exc} (got {text!r}).") from None


def to_dic(value) -> str:
    """"CZ01569651" from "cz 01569651" or 1569651; other EU VAT numbers by their rules."""
    text = _integer_text(value).upper()
    if text.isascii() and text.isdigit():
        text = "CZ" + text.zfill(8)
    try:
        if text.startswith("CZ"):
            return "CZ" + cz_dic.validate(text)
        return eu_vat.compact(eu_vat.validate(text))
    except ValueError as exc:  # stdnum's ValidationError is a ValueError
        raise ValueError(f"Not a valid DIČ (VAT number): {exc} (got {text!r}).") from None


def _integer_text(value) -> str:
    """A number cell as its digits, white space gone ("1569651.0" -> "1569651")."""
    if isinstance(value, bool):
        raise ValueError(f"Not a number: {value!r}.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = "".join(to_text(value).split())
    return re.sub(r"^(\d+)\.0+$", r"\1", text)


_email = validate.Email()
_EMAIL_SEPARATORS = re.compile(r"[;,\s]+")


def to_emails(value) -> list[str]:
    """Every address in the cell (separated by ; , or white space), each checked."""
    found = []
    for part in _EMAIL_SEPARATORS.split(to_text(value)):
        part = part.strip("<>")
        if part.lower().startswith("mailto:"):
            part = part[len("mailto:"):]
        if not part:
            continue
        try:
            _email(part)
        except ValidationError:
            raise ValueError(f"Not an e-mail address: {part!r}.") from None
        if len(part) > MAX["email"]:
            raise ValueError(f"An e-mail address longer than {MAX['email']} characters.")
        if part.lower() not in (known.lower() for known in found):
            found.append(part)
    return found


_PHONE_SEPARATORS = re.compile(r"[;,\n]|\s/\s")


def to_phones(value) -> list[str]:
    """E.164 numbers ("+420603111222") from "603 111 222", 603111222.0 or 420603111222.0;
    several separated by , or ;."""
    found = []
    for part in _PHONE_SEPARATORS.split(_integer_text(value) if isinstance(value, (int, float))
                                        else to_text(value)):
        part = re.sub(r"^(\d+)\.0+$", r"\1", part.strip())  # a number a CSV wrote as a float
        if not part:
            continue
        if part.isdigit() and len(part) == 12 and part[:3] in ("420", "421"):
            part = "+" + part  # an international number stored as an Excel number
        number = e164(part)
        if number not in found:
            found.append(number)
    return found


_url = validate.URL(relative=False, require_tld=True, schemes={"http", "https"})
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def to_website(value, require_tld: bool = True) -> str:
    """https://www.firma.cz from www.firma.cz."""
    text = to_text(value)
    if not _SCHEME.match(text):
        text = "https://" + text
    try:
        (_url if require_tld else _URL_ANY)(text)
    except ValidationError:
        raise ValueError(f"Not a web address: {to_text(value)!r}.") from None
    if len(text) > MAX["website"]:
        raise ValueError(f"Longer than {MAX['website']} characters.")
    return text


_URL_ANY = validate.URL(relative=False, require_tld=False, schemes={"http", "https"})


def to_postal_code(value, country: str | None) -> str:
    """Czech and Slovak ones as "110 00" (from 11000, "11000", "110 00"; a Slovak 01001 that
    Excel made 1001 too); others as written."""
    text = _integer_text(value) if isinstance(value, (int, float)) else to_text(value)
    if country in ("CZ", "SK"):
        digits = text.replace(" ", "")
        if isinstance(value, (int, float)):
            digits = digits.zfill(5)
        if len(digits) == 5 and digits.isascii() and digits.isdigit():
            return f"{digits[:3]} {digits[3:]}"
        raise ValueError(f"A {country} postal code has 5 digits (got {text!r}).")
    if len(text) > MAX["postal_code"]:
        raise ValueError(f"Longer than {MAX['postal_code']} characters.")
    return text


_COUNTRIES = {
    "CZ": "Česko, Česká republika, ČR, Czech Republic, Czechia, CZE, Tschechien",
    "SK": "Slovensko, Slovenská republika, SR, Slovakia, Slovak Republic, SVK, Slowakei",
    "DE": "Německo, Germany, Deutschland, SRN, DEU", "AT": "Rakousko, Austria, Österreich, AUT",
    "PL": "Polsko, Poland, Polska, POL", "HU": "Maďarsko, Hungary, Magyarország, HUN",
    "GB": "Velká Británie, Spojené království, United Kingdom, UK, Great Britain, Anglie, "
          "England, GBR",
    "US": "USA, Spojené státy, Spojené státy americké, United States, United States of America",
    "FR": "Francie, France, FRA", "IT": "Itálie, Italy, Italia, ITA",
    "ES": "Španělsko, Spain, España, ESP", "NL": "Nizozemsko, Holandsko, Netherlands, NLD",
    "BE": "Belgie, Belgium, BEL", "CH": "Švýcarsko, Switzerland, Schweiz, CHE",
    "LU": "Lucembursko, Luxembourg, LUX", "DK": "Dánsko, Denmark, DNK",
    "SE": "Švédsko, Sweden, SWE", "NO": "Norsko, Norway, NOR", "FI": "Finsko, Finland, FIN",
    "IE": "Irsko, Ireland, IRL", "PT": "Portugalsko, Portugal, PRT",
    "SI": "Slovinsko, Slovenia, SVN", "HR": "Chorvatsko, Croatia, HRV",
    "RO": "Rumunsko, Romania, ROU", "BG": "Bulharsko, Bulgaria, BGR",
    "GR": "Řecko, Greece, GRC", "LT": "Litva, Lithuania, LTU", "LV": "Lotyšsko, Latvia, LVA",
    "EE": "Estonsko, Estonia, EST", "UA": "Ukrajina, Ukraine, UKR",
    "RU": "Rusko, Russia, RUS", "CN": "Čína, China, CHN", "JP": "Japonsko, Japan, JPN",
    "CA": "Kanada, Canada, CAN", "IL": "Izrael, Israel, ISR", "TR": "Turecko, Turkey, TUR",
}
_COUNTRY_NAMES = {fold(name).replace(" ", ""): code for code, names in _COUNTRIES.items()
                  for name in names.split(", ")}


def to_country(value) -> str:
    """ISO 3166 alpha-2 from a Czech or English name or a code ("Česko", "ČR", "cz")."""
    text = to_text(value)
    key = fold(text).replace(" ", "")
    if key in _COUNTRY_NAMES:
        return _COUNTRY_NAMES[key]
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    raise ValueError(f"Unknown country {text!r}: write a two-letter ISO code such as CZ.")


def to_category(value) -> str:
    text = fold(to_text(value)).replace("kategorie", "").replace("category", "").strip()
    if text.upper() in ("A", "B", "C"):
        return text.upper()
    raise ValueError(f"A category is A, B or C (got {to_text(value)!r}).")


_RELATIONSHIPS = {
    "customer": "zákazník, klient, odběratel, customer, client",
    "prospect": "potenciální, potenciální zákazník, potenciální klient, prospekt, prospect, "
                "lead, zájemce",
    "partner": "partner", "supplier": "dodavatel, supplier, vendor",
    "competitor": "konkurent, konkurence, competitor", "other": "jiný, jiné, ostatní, other",
}
_RELATIONSHIP_NAMES = {fold(name).replace(" ", ""): code for code, names in _RELATIONSHIPS.items()
                       for name in names.split(", ")}


def to_relationship(value) -> str:
    text = to_text(value)
    code = _RELATIONSHIP_NAMES.get(fold(text).replace(" ", ""))
    if code is None:
        raise ValueError(f"Unknown relationship {text!r}: zákazník, potenciální, partner, "
                         "dodavatel, konkurent or jiný.")
    return code


def to_tags(value) -> list[str]:
    tags = [tag.strip() for tag in re.split(r"[,;]", to_text(value)) if tag.strip()]
    for tag in tags:
        if len(tag) > MAX["tag"]:
            raise ValueError(f"A tag longer than {MAX['tag']} characters: {tag[:20]!r}...")
    return tags


# -- custom field values ------------------------------------------------------------------

def to_custom(value, definition: dict):
    """The value of a custom field as its definition's type stores it."""
    kind = definition.get("type")
    choices = definition.get("choices") or definition.get("options") or []
    if kind == "number":
        return to_number(value)
    if kind == "decimal":
        return to_decimal(value)
    if kind == "date":
        return to_date(value)
    if kind == "bool":
        return to_bool(value)
    if kind == "choice":
        return _choice(to_text(value), choices)
    if kind == "multi_choice":
        return list(dict.fromkeys(_choice(part.strip(), choices)
                                  for part in re.split(r"[,;]", to_text(value))
                                  if part.strip()))
    if kind == "url":
        return to_website(value, require_tld=False)
    if kind == "email":
        emails = to_emails(value)
        if len(emails) != 1:
            raise ValueError("One e-mail address.")
        return emails[0]
    return to_text(value, MAX["custom_text"])


def _choice(text: str, choices) -> str:
    for choice in choices:
        if fold(choice) == fold(text):
            return choice
    raise ValueError(f"{text!r} is none of: {', '.join(choices)}.")


_DECIMAL = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,10})?")


def to_decimal(value) -> str:
    """An exact decimal string: "1234.50" from "1 234,50", "1234.5" from 1234.5."""
    if isinstance(value, bool):
        raise ValueError(f"Not a number: {value!r}.")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() and abs(value) < 1e16 else \
            format(Decimal(repr(value)), "f")
    else:
        text = _decimal_text(to_text(value))
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"Not a number: {to_text(value)!r}.")
    return text


def _decimal_text(text: str) -> str:
    """Czech and English ways of writing a number, as "1234.50": spaces (also no-break)
    and apostrophes group thousands; a lone comma is the decimal one (Czech); with both
    a comma and a dot, the later one is."""
    text = re.sub(r"[\s'\u00a0\u202f]", "", text)
    if text.startswith("+"):
        text = text[1:]
    commas, dots = text.count(","), text.count(".")
    if commas and dots:
        decimal_mark = "," if text.rfind(",") > text.rfind(".") else "."
        grouping = "." if decimal_mark == "," else ","
        text = text.replace(grouping, "").replace(decimal_mark, ".")
    elif commas == 1:
        text = text.replace(",", ".")
    elif commas > 1:
        text = text.replace(",", "")
    elif dots > 1:
        text = text.replace(".", "")
    return text


def to_number(value) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"Not a number: {value!r}.")
    if isinstance(value, (int, float)):
        return int(value) if isinstance(value, float) and value.is_integer() else value
    number = Decimal(to_decimal(value))
    return int(number) if number == number.to_integral_value() else float(number)


_CZECH_DATE = re.compile(r"(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4}|\d{2})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][0-9:.]*)?")
_EXCEL_EPOCH = date(1899, 12, 30)


def to_date(value) -> str:
    """YYYY-MM-DD from a date cell, "1. 2. 2024", "01.02.2024", "1.2.24", "2024-02-01",
    an Excel serial number (45323) or 20240201."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return _number_date(value).isoformat()
        text = to_text(value)
        if match := _CZECH_DATE.fullmatch(text):
            day, month, year = map(int, match.groups())
            if len(match.group(3)) == 2:
                year += 2000 if year <= 68 else 1900  # as strptime's %y
            return date(year, month, day).isoformat()
        if match := _ISO_DATE.fullmatch(text):
            return date(*map(int, match.groups())).isoformat()
        if re.fullmatch(r"\d{8}", text):
            return _number_date(int(text)).isoformat()
    except (ValueError, OverflowError):
        pass
    raise ValueError(f"Not a date: {to_text(value)!r} (write it as 1. 2. 2024 or 2024-02-01).")


def _number_date(number) -> date:
    if 19000101 <= number <= 21001231 and float(number).is_integer():
        text = str(int(number))
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    return excel_serial_date(number)


def excel_serial_date(serial) -> date:
    """The day of an Excel (1900 system) serial number. Excel counts a 29 February 1900
    that never was (day 60, kept from Lotus 1-2-3), so days before it are one off."""
    days = int(serial)
    if days < 1 or days == 60 or days > 2958465:
        raise ValueError(f"No day has the Excel number {serial}.")
    return _EXCEL_EPOCH + timedelta(days=days + (1 if days < 60 else 0))


_TRUE = {"ano", "a", "yes", "y", "true", "pravda", "1", "x"}
_FALSE = {"ne", "n", "no", "false", "nepravda", "0"}


def to_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = fold(to_text(value))
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"Not yes or no: {to_text(value)!r} (ano/ne, yes/no, 1/0, x).")


# -- person names ---------------------------------------------------------------------------

_DEGREES = {fold(d).replace(" ", "") for d in (
    "Bc.", "BcA.", "Ing.", "Ing. arch.", "arch.", "Mgr.", "MgA.", "MUDr.", "MDDr.", "MVDr.",
    "PharmDr.", "JUDr.", "PhDr.", "RNDr.", "PaedDr.", "ThDr.", "ThLic.", "ThMgr.", "ICDr.",
    "RSDr.", "Dr.", "doc.", "prof.", "Ph.D.", "Th.D.", "CSc.", "DrSc.", "DiS.", "MBA", "MPA",
    "LL.M.", "LL.B.", "MSc.", "BSc.")}


def split_person_name(text: str) -> tuple[str | None, str | None, str | None]:
    """(degree, first name, last name) of "Ing. Jan Novák, Ph.D.": the last word is the last
    name, the words before it the first name, degrees before and after the name go to
    degree ("Ing., Ph.D.")."""
    words = [w for w in re.split(r"[\s,]+", text) if w]
    before, names, after = [], [], []
    for word in words:
        if fold(word).replace(" ", "") in _DEGREES:
            (after if names else before).append(word)
        else:
            names.append(word)
    degree = ", ".join(group for group in (" ".join(before), " ".join(after)) if group)
    first = " ".join(names[:-1]) or None
    last = names[-1] if names else None
    return degree or None, first, last


def _first(items):
    return items[0]["value"] if items else None
