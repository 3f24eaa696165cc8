"""Folding text as people search it (crm_common.text.fold)."""
import unicodedata

from hypothesis import given, settings, strategies as st

from crm_common.text import fold


def by_definition(text: str) -> str:
    """fold, a character at a time: NFKD, combining marks dropped, case folded, runs of
    anything but ASCII letters and digits as one space."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text)
                    if not unicodedata.combining(c)).casefold()
    return " ".join("".join(c if c in "abcdefghijklmnopqrstuvwxyz0123456789" else " "
                            for c in plain).split())


def test_czech_names_and_addresses_fold_to_plain_words():
    assert fold("Žluťoučký kůň, s.r.o.") == "zlutoucky kun s r o"
    assert fold("ŘEDITELSTVÍ SILNIC A DÁLNIC ČR") == "reditelstvi silnic a dalnic cr"
    assert fold("Brněnská 127/41") == "brnenska 127 41"
    assert fold("  Ing. Jana Nováková  ") == "ing jana novakova"
    assert fold(None) == fold("") == ""


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_fold_is_its_definition_for_any_text(text):
    assert fold(text) == by_definition(text)
