"""map_subject must never raise, whatever subset of the schema's fields ARES sends and in whatever type."""
from hypothesis import given, settings
from hypothesis import strategies as st

from ares_service.mapping import map_subject

text = st.text(max_size=12)
number = st.integers(min_value=-5, max_value=10**9)
# Any field may be absent, null, or arrive as int where a string is expected (and vice versa).
loose = st.one_of(st.none(), text, number, st.booleans(), st.from_regex(r"\A\d{1,8}\Z"))

ADDRESS_FIELDS = [
    "kodStatu", "nazevStatu", "kodKraje", "nazevKraje", "kodOkresu", "nazevOkresu", "kodObce", "nazevObce",
    "kodSpravnihoObvodu", "nazevSpravnihoObvodu", "kodMestskehoObvodu", "nazevMestskehoObvodu",
    "kodMestskeCastiObvodu", "kodUlice", "nazevMestskeCastiObvodu", "nazevUlice", "cisloDomovni",
    "doplnekAdresy", "kodCastiObce", "cisloOrientacni", "cisloOrientacniPismeno", "nazevCastiObce",
    "kodAdresnihoMista", "psc", "textovaAdresa", "cisloDoAdresy", "standardizaceAdresy", "pscTxt",
    "typCisloDomovni",
]
SUBJECT_FIELDS = [
    "ico", "obchodniJmeno", "pravniForma", "pravniFormaRos", "financniUrad", "datumVzniku", "datumZaniku",
    "datumAktualizace", "dic", "icoId", "primarniZdroj", "subRegistrSzr", "dicSkDph",
]
REGISTRATION = st.fixed_dictionaries({}, optional={
    key: st.one_of(st.sampled_from(["AKTIVNI", "NEEXISTUJICI", "ZANIKLY", "HISTORICKY"]), loose)
    for key in ("stavZdrojeDph", "stavZdrojeSkDph", "stavZdrojeVr", "stavZdrojeRes")
})
codes = st.one_of(st.none(), st.lists(st.one_of(text, number, st.none()), max_size=4), text)

schema_shaped = st.fixed_dictionaries({}, optional={
    **{key: loose for key in SUBJECT_FIELDS},
    "sidlo": st.one_of(st.none(), text, st.fixed_dictionaries({}, optional={key: loose for key in ADDRESS_FIELDS})),
    "seznamRegistraci": st.one_of(st.none(), number, REGISTRATION),
    "czNace": codes,
    "czNace2008": codes,
    "adresaDorucovaci": st.dictionaries(text, loose, max_size=3),
})

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), number, st.floats(allow_nan=False), text),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(text, children, max_size=3)),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(schema_shaped)
def test_never_raises_on_schema_shaped_payloads(payload):
    record = map_subject(payload)
    assert record["vat_payer"] is None or isinstance(record["vat_payer"], bool)
    assert isinstance(record["nace"], list) and all(isinstance(c, str) for c in record["nace"])
    address = record["registered_address"]
    assert set(address) == {"street", "city", "postal_code", "country_code", "text"}
    assert all(v is None or isinstance(v, str) for v in address.values())
    if isinstance(payload.get("sidlo"), dict) and isinstance(payload["sidlo"].get("psc"), int) \
            and not isinstance(payload["sidlo"]["psc"], bool) \
            and payload["sidlo"]["psc"] >= 0 and not payload["sidlo"].get("pscTxt"):
        assert len(address["postal_code"]) >= 5


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(SUBJECT_FIELDS + ["sidlo", "seznamRegistraci", "czNace"]), json_values))
def test_never_raises_on_arbitrary_values(payload):
    map_subject(payload)


@given(json_values)
def test_never_raises_on_non_objects(value):
    map_subject(value)
