"""IČO, the Czech company number: one check for every part that takes one (the gateway,
the client register, the ARES client). python-stdnum carries the mod-11 rule as the check
digit of a legal person's DIČ, which is the IČO."""
from stdnum.cz.dic import calc_check_digit_legal


def compact(value) -> str:
    """Whitespace removed; up to 7 digits zero-padded to 8 ("1603094" -> "01603094")."""
    text = "".join(str(value).split()) if value is not None else ""
    return text.zfill(8) if _digits(text) and len(text) < 8 else text


def validate(value) -> str:
    """The compacted IČO, or ValueError saying what is wrong with it."""
    ico = compact(value)
    if not _digits(ico) or len(ico) != 8:
        raise ValueError("IČO must be up to 8 digits")
    if calc_check_digit_legal(ico[:7]) != ico[7]:
        raise ValueError("IČO has a wrong check digit")
    return ico


def _digits(text: str) -> bool:
    """ASCII digits only (str.isdigit also takes "²" and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def is_valid(value) -> bool:
    try:
        validate(value)
    except ValueError:
        return False
    return True
