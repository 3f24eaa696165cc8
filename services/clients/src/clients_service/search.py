"""What a client is found by: one folded text per client (diacritics and case gone, every
word a token), searched by word prefixes. "dvorak" finds "Dvořák", "superfak" finds
"Superfaktura.cz, s.r.o.", "255 96 641" the IČO 25596641, "603 111 222" the phone
+420 603 111 222. SQLite searches it with an FTS5 table, PostgreSQL with a trigram index.
"""
import re

from crm_common.text import fold  # noqa: F401 - search.fold to the rest of the service

_NOT_WORD = re.compile(r"[^0-9a-z]+")
MAX_TERMS = 8  # words of one query that count
MIN_DIGITS = 3  # a number typed with spaces is one token from this many digits on


def _phone_tokens(phone: str) -> list[str]:
    """E.164 '+420603111222;ext=5' -> ['420603111222', '603111222']: found by the whole
    number and by the national part people type."""
    digits = re.sub(r"\D", "", phone.split(";")[0])
    if not digits:
        return []
    tokens = [digits]
    if phone.startswith("+420") or phone.startswith("+421"):
        tokens.append(digits[3:])
    return tokens


def _values(entries) -> list[str]:
    """The values of a client's e-mails or phones (`{value, label}` entries or plain)."""
    values = (entry.get("value") if isinstance(entry, dict) else entry
              for entry in entries or ())
    return [value for value in values if value]


def _getter(client):
    """`name -> value` of a client given as a mapping (a row) or an object."""
    return client.get if isinstance(client, dict) else lambda name: getattr(client, name)


def document(name, ico=None, dic=None, emails=(), phones=(), people=()) -> str:
    """The searchable text of a client: its name, IČO, DIČ, e-mails, phones and the names
    of its contact persons."""
    parts = [fold(name), ico or "", fold(dic)]
    parts += [fold(value) for value in _values(emails)]
    for value in _values(phones):
        parts += _phone_tokens(value)
    parts += [fold(person) for person in people]
    return " ".join(part for part in parts if part)


def terms(query: str) -> list[str]:
    """The word prefixes a query asks for. Digits typed with spaces ('255 96 641',
    '+420 603 111 222') are one number."""
    text = (query or "").strip()
    if re.fullmatch(r"\+?[\d\s\-/().]+", text) and sum(c.isdigit() for c in text) >= \
            MIN_DIGITS:
        return [re.sub(r"\D", "", text)]
    return fold(text).split()[:MAX_TERMS]


def digits_of(query: str) -> str | None:
    """The IČO a query may be (for ranking the exact match first)."""
    found = re.sub(r"\s", "", query or "")
    return found.zfill(8) if found.isdigit() and len(found) <= 8 else None


def derived(client, people=()) -> dict:
    """The columns a client is searched, sorted and filtered by, from its fields (a
    mapping or an object) and its contact persons' names."""
    get = _getter(client)
    address = get("registered_address") or get("contact_address") or {}
    return {"search_text": document(get("name"), get("ico"), get("dic"), get("emails"),
                                    get("phones"), people),
            "name_folded": fold(get("name"))[:255],
            "city": fold(address.get("city") if isinstance(address, dict) else None)[:120]
            or None}


# legal forms at the end of a name, folded: "s.r.o.", "spol. s r.o.", "a.s.", ...
_LEGAL_FORMS = sorted((tuple(form.split()) for form in (
    "s r o", "spol s r o", "a s", "akc spol", "v o s", "k s", "z s",
    "o p s", "z u", "s p", "se", "druzstvo", "sro", "as", "gmbh", "ltd", "inc")),
    key=len, reverse=True)


def name_key(name: str | None) -> str:
    """A name as duplicates share it: folded, without its legal form ('Superfaktura.cz,
    s.r.o.' and 'SUPERFAKTURA.CZ s. r. o.' -> 'superfaktura cz')."""
    words = fold(name).split()
    for form in _LEGAL_FORMS:
        if len(words) > len(form) and tuple(words[-len(form):]) == form:
            words = words[:-len(form)]
            break
    return " ".join(words)[:255]


def duplicate_keys(client) -> set[tuple[str, str]]:
    """What two clients that are one share: an e-mail, a phone, the name without its legal
    form (each a `(kind, value)`)."""
    get = _getter(client)
    keys = {("email", email_key(value)) for value in _values(get("emails"))}
    keys |= {("phone", value.split(";")[0][:40]) for value in _values(get("phones"))}
    name = name_key(get("name"))
    if name:
        keys.add(("name", name))
    return keys


def email_key(value: str) -> str:
    """An e-mail as clients are found by it: trimmed, lower case."""
    return value.strip().lower()[:254]
