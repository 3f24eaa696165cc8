"""Realistic Czech clients, for the benchmark and for the import and performance work:
`clients(count)` yields each one as `POST /api/v1/clients` takes it, with its two contact
persons as `POST /api/v1/clients/{id}/contacts` takes them (bench/client_loader.py puts a
million of them into a database in minutes).

Deterministic: the same seed gives the same clients, and every chunk of `CHUNK` clients
has a seed of its own, so any part can be made alone (in parallel). Companies' names are
unique (an owner or a brand, a trade and a qualifier, chosen through a permutation of
their combinations), IČOs unique with a valid check digit, DIČ the IČO of a VAT payer.
About `DUPLICATE_SHARE` of the clients are near-duplicates of an earlier one: the same
name written otherwise (case, diacritics, the legal form's spelling), the same e-mail or
the same phone in another format, and no IČO, as duplicates typed by hand are. Sole
traders (people) share names as people do."""
import hashlib
import math
import random
import uuid
from dataclasses import dataclass
from typing import Iterator

from crm_common.ico import compact
from stdnum.cz.dic import calc_check_digit_legal

from clients_service.search import fold

from . import czech_words as words

VERSION = 1  # of what `clients` yields: a kept database of another version is loaded again
SEED = 20261124
CHUNK = 10_000
DUPLICATE_SHARE = 0.015
PERSON_SHARE = 0.12  # sole traders: kind "person"
OWNERS = [f"rep-{n:02d}" for n in range(1, 31)]  # sales reps owning clients


@dataclass
class Generated:
    index: int  # its place in the sequence: the loader's creation time follows it
    client: dict  # the body of POST /api/v1/clients
    contacts: list[dict]  # bodies of POST /api/v1/clients/{id}/contacts; the first primary
    duplicate_of: int | None = None  # the index of the client it is a near-duplicate of


def clients(count: int, seed: int = SEED, start: int = 0) -> Iterator[Generated]:
    """Clients `start` to `count - 1`."""
    for chunk in range(start // CHUNK, math.ceil(count / CHUNK)):
        for item in chunk_clients(chunk, count, seed):
            if item.index >= start:
                yield item


def chunk_clients(chunk: int, count: int, seed: int = SEED) -> list[Generated]:
    """The clients of one chunk (those below `count`)."""
    rng = random.Random(f"{seed}:{chunk}")
    made: list[Generated] = []
    for index in range(chunk * CHUNK, min(count, (chunk + 1) * CHUNK)):
        if made and rng.random() < DUPLICATE_SHARE:
            made.append(_near_duplicate(rng, index, rng.choice(made)))
        else:
            made.append(_client(rng, index, seed))
    return made


def record_id(seed: int, kind: str, index: int) -> str:
    """A UUID (version 4 in form) that the same seed always gives the same record."""
    digest = hashlib.blake2b(f"{seed}:{kind}:{index}".encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def ico_of(index: int, seed: int = SEED) -> str:
    """A valid IČO of its own for each index below nine million: an affine permutation of
    the numbers before the check digit (none starting with 9, which no legal person's DIČ
    does)."""
    base = f"{(index * 7_654_321 + seed) % 9_000_000:07d}"
    return compact(base + calc_check_digit_legal(base))


# every combination of owner, trade, qualifier and word order names one company
_OWNERS = words.BRANDS + [male for male, _ in words.SURNAMES]
_NAMES = len(_OWNERS) * len(words.TRADES) * len(words.QUALIFIERS) * 2


def _stride(size: int) -> int:
    stride = int(size * 0.618)
    while math.gcd(stride, size) != 1:
        stride += 1
    return stride


_NAME_STRIDE = _stride(_NAMES)


def company_name(index: int, seed: int = SEED) -> str:
    """A company name (without its legal form), different for every index below the
    number of combinations (over 1.6 million)."""
    pick = (index * _NAME_STRIDE + seed) % _NAMES
    pick, owner = divmod(pick, len(_OWNERS))
    pick, trade = divmod(pick, len(words.TRADES))
    reversed_, qualifier = divmod(pick, len(words.QUALIFIERS))
    owner, trade = _OWNERS[owner], words.TRADES[trade]
    first, second = (trade[0].upper() + trade[1:], owner) if reversed_ else (owner, trade)
    return " ".join(part for part in (first, second, words.QUALIFIERS[qualifier]) if part)


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs)
    return rng.choices(values, weights)[0]


def _client(rng: random.Random, index: int, seed: int) -> Generated:
    person = rng.random() < PERSON_SHARE
    city, postal, _ = rng.choices(words.CITIES, [c[2] for c in words.CITIES])[0]
    if person:
        male = rng.random() < 0.6
        first = rng.choice(words.MALE_NAMES if male else words.FEMALE_NAMES)
        surname = rng.choices(words.SURNAMES, words.SURNAME_WEIGHTS)[0][0 if male else 1]
        name = f"{first} {surname}"
        domain = None
        email = f"{fold(first)}.{fold(surname)}{rng.randrange(100)}@" \
                f"{rng.choice(words.MAIL_DOMAINS)}"
        legal_form, form_name = words.PERSON_FORM
        ico = ico_of(index, seed) if rng.random() < 0.7 else None
    else:
        suffix, legal_form, form_name, _ = rng.choices(
            words.LEGAL_FORMS, [f[3] for f in words.LEGAL_FORMS])[0]
        core = company_name(index, seed)
        name = f"{core}{',' if rng.random() < 0.3 else ''} {suffix}"
        domain = "-".join(fold(core).split()) + ".cz"
        email = f"{rng.choice(('info', 'obchod', 'kancelar', 'fakturace'))}@{domain}"
        ico = ico_of(index, seed) if rng.random() < 0.95 else None
    vat_payer = None if ico is None else rng.random() < 0.6
    client = {
        "kind": "person" if person else "company", "name": name, "ico": ico,
        "dic": f"CZ{ico}" if vat_payer and not person else None, "vat_payer": vat_payer,
        "legal_form": legal_form, "legal_form_name": form_name,
        "registered_address": _address(rng, city, postal),
        "emails": [{"value": email, "label": "work"}],
        "phones": [{"value": _phone(rng, mobile=person or rng.random() < 0.5),
                    "label": "work"}],
        "relationship": _weighted(rng, words.RELATIONSHIPS),
        "category": _weighted(rng, words.CATEGORIES),
        "tags": rng.sample(words.TAGS, rng.choice((0, 0, 0, 1, 1, 2))),
        "owner_id": rng.choice(OWNERS) if rng.random() < 0.9 else None,
        "industry": rng.choice(words.INDUSTRIES),
        "nace": rng.sample(words.NACE, rng.choice((1, 1, 2))),
    }
    if domain and rng.random() < 0.6:
        client["website"] = f"https://www.{domain}"
    if rng.random() < 0.3:
        client["emails"].append({"value": f"ucetni@{domain}" if domain else
                                 f"{fold(name).replace(' ', '')}@firma.cz",
                                 "label": "billing"})
    if rng.random() < 0.25:
        client["phones"].append({"value": _phone(rng, mobile=True), "label": "mobile"})
    if rng.random() < 0.4:
        client["bank_accounts"] = [{"number": _bank_account(rng), "currency": "CZK",
                                    "primary": True}]
    if rng.random() < 0.3:
        client["billing"] = {"currency": "CZK", "payment_terms_days": rng.choice((7, 14, 30))}
    if rng.random() < 0.1:
        client["description"] = f"Klient od roku {2010 + rng.randrange(15)}, {city}."
    contacts = [_contact(rng, domain, primary=n == 0) for n in range(2)]
    return Generated(index, client, contacts)


def _near_duplicate(rng: random.Random, index: int, original: Generated) -> Generated:
    """The same company or person typed in again: the name written otherwise, or the same
    e-mail, or the same phone in another format; without the IČO."""
    client = dict(original.client, ico=None, dic=None, vat_payer=None)
    shared = rng.choice(("name", "email", "phone", "name+email"))
    name = original.client["name"]
    if "name" in shared:
        client["name"] = rng.choice((
            name.upper(), fold(name).title(),
            name.replace("s.r.o.", "s. r. o.").replace(", s. r. o.", " s. r. o."),
            name.replace(",", "")))
    else:
        # another name (a branch, a trade name): a duplicate by its e-mail or phone only
        client["name"] = f"{rng.choice(_OWNERS)} {rng.choice(words.TRADES)} s.r.o."
    if "email" in shared:
        client["emails"] = [{"value": original.client["emails"][0]["value"].upper(),
                             "label": "work"}]
    else:
        client["emails"] = [{"value": f"kontakt{index}@{rng.choice(words.MAIL_DOMAINS)}",
                             "label": "work"}]
    if shared == "phone":
        digits = "".join(c for c in original.client["phones"][0]["value"] if c.isdigit())
        national = digits[-9:]
        client["phones"] = [{"value": rng.choice((f"+420{national}", national,
                                                  f"00420 {national}")), "label": "work"}]
    else:
        client["phones"] = [{"value": _phone(rng, mobile=True), "label": "work"}]
    client.pop("website", None)
    client.pop("bank_accounts", None)
    return Generated(index, client, [_contact(rng, None, primary=True)],
                     duplicate_of=original.index)


def _address(rng: random.Random, city: str, postal: str) -> dict:
    number = f"{rng.randrange(1, 3000)}" + (f"/{rng.randrange(1, 80)}"
                                            if rng.random() < 0.5 else "")
    code = postal + "".join(str(rng.randrange(10)) for _ in range(5 - len(postal)))
    return {"street": f"{rng.choice(words.STREETS)} {number}", "city": city,
            "postal_code": f"{code[:3]} {code[3:]}", "country_code": "CZ"}


def _phone(rng: random.Random, mobile: bool) -> str:
    """A valid Czech number, written as people write them."""
    prefix = rng.choice(words.MOBILE_PREFIXES if mobile else words.LANDLINE_PREFIXES)
    national = prefix + "".join(str(rng.randrange(10)) for _ in range(9 - len(prefix)))
    return rng.choice((f"+420 {national[:3]} {national[3:6]} {national[6:]}", national,
                       f"{national[:3]} {national[3:6]} {national[6:]}",
                       f"+420{national}"))


_ACCOUNT_WEIGHTS = (6, 3, 7, 9, 10, 5, 8, 4, 2, 1)


def _bank_account(rng: random.Random) -> str:
    """A Czech account number with a valid mod-11 check (`number/bank code`)."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = -sum(w * d for w, d in zip(_ACCOUNT_WEIGHTS, digits)) % 11
        if check < 10 and digits[0]:
            return "".join(map(str, digits)) + f"{check}/{_weighted(rng, words.BANKS)}"


def _contact(rng: random.Random, domain: str | None, primary: bool) -> dict:
    male = rng.random() < 0.55
    first = rng.choice(words.MALE_NAMES if male else words.FEMALE_NAMES)
    surname = rng.choices(words.SURNAMES, words.SURNAME_WEIGHTS)[0][0 if male else 1]
    address = f"{fold(first)}.{fold(surname)}".replace(" ", "")
    contact = {"first_name": first, "last_name": surname,
               "position": rng.choice(words.POSITIONS),
               "emails": [{"value": f"{address}@{domain}" if domain else
                           f"{address}{rng.randrange(1000)}@{rng.choice(words.MAIL_DOMAINS)}",
                           "label": "work"}],
               "phones": [{"value": _phone(rng, mobile=True), "label": "mobile"}],
               "primary": primary}
    if rng.random() < 0.3:
        contact["degree"] = rng.choice(words.DEGREES)
    return contact
