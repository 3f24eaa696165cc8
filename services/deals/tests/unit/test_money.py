"""Money: exact decimals in, whole minor units stored, sums exact, rounding only on display."""
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from deals_service import money


@given(st.lists(st.decimals(min_value=0, max_value=Decimal("9999999.99"), places=2),
                min_size=1, max_size=200))
def test_sums_of_many_amounts_are_exact(amounts):
    minors = [money.to_minor(str(a), "CZK") for a in amounts]
    assert Decimal(money.from_minor(sum(minors), "CZK")) == sum(amounts)


@given(st.integers(min_value=0, max_value=10 ** 12), st.integers(min_value=0, max_value=100))
def test_a_weighted_value_is_rounded_once_half_even(minor, probability):
    expected = (Decimal(minor) * probability / 100).quantize(Decimal(1), "ROUND_HALF_EVEN")
    assert money.weighted(minor * probability, "CZK") == str(expected.scaleb(-2))


@pytest.mark.parametrize("amount, currency, minor, shown", [
    ("1000000.70", "CZK", 100000070, "1000000.70"), ("0.1", "EUR", 10, "0.10"),
    ("250", "JPY", 250, "250"), ("1.234", "KWD", 1234, "1.234"), ("7", "USD", 700, "7.00"),
])
def test_each_currency_keeps_its_decimal_places(amount, currency, minor, shown):
    assert money.to_minor(amount, currency) == minor
    assert money.from_minor(minor, currency) == shown


@pytest.mark.parametrize("amount, currency", [
    ("1.005", "CZK"), ("1.5", "JPY"), ("-1", "CZK"), ("1e3", "CZK"), ("1,5", "CZK"),
    ("", "CZK"), ("1 000", "CZK"), ("1234567890123456", "CZK")])
def test_what_is_not_an_exact_amount_is_refused(amount, currency):
    with pytest.raises(money.InvalidAmount):
        money.to_minor(amount, currency)

