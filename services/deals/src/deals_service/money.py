"""Amounts of money: exact decimals, never floats. Plain Python.

An amount travels as a decimal string (`"1000000.70"`) and is stored as a whole number of
the currency's minor unit (haléře, cents): exact on every database, summed exactly by SQL.
Rounding happens only where a result is shown (a weighted value, a conversion).
"""
import re
from decimal import ROUND_HALF_EVEN, Decimal

CURRENCY = re.compile(r"^[A-Z]{3}$")  # an ISO 4217 code
AMOUNT = re.compile(r"^-?[0-9]{1,15}(\.[0-9]+)?$")
# ISO 4217 minor units where they are not 2
MINOR_UNITS = {**dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
               **dict.fromkeys(("CLF", "UYW"), 4),
               **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW",
                                "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
                                "XPF"), 0)}


class InvalidAmount(ValueError):
    pass


def digits(currency: str) -> int:
    return MINOR_UNITS.get(currency, 2)


def to_minor(amount, currency: str) -> int:
    """'1000000.70' CZK -> 100000070; more decimals than the currency has -> InvalidAmount."""
    text = str(amount).strip()
    if not AMOUNT.match(text):
        raise InvalidAmount("A decimal number such as 1000000.70 (a dot, no spaces).")
    value = Decimal(text)
    places = digits(currency)
    scaled = value.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"{currency} has {places} decimal places.")
    if value < 0:
        raise InvalidAmount("Not negative.")
    return int(scaled)


def from_minor(minor: int | None, currency: str) -> str | None:
    """100000070 CZK -> '1000000.70' (always the currency's decimal places)."""
    if minor is None:
        return None
    return str(Decimal(minor).scaleb(-digits(currency)))


def weighted(minor_times_percent: int, currency: str) -> str:
    """Σ(value × probability %) as an amount, rounded half-even to the minor unit only
    here, once for the whole sum."""
    minor = (Decimal(minor_times_percent) / 100).quantize(Decimal(1), ROUND_HALF_EVEN)
    return from_minor(int(minor), currency)
