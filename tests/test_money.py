from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditmesh.errors import MoneyError
from creditmesh.money import (
    Money,
    Rounding,
    allocate,
    format_minor,
    mul_rate_array,
    round_fraction,
    round_ratio_array,
    to_minor,
)


def test_to_minor_parses_decimal_strings_exactly():
    assert to_minor("12.34") == 1234
    assert to_minor(Decimal("0.01")) == 1
    assert to_minor(5) == 500
    assert to_minor("100", "JPY") == 100


@pytest.mark.parametrize("bad", [0.1, np.float64(2.5)])
def test_to_minor_refuses_floats(bad):
    with pytest.raises(MoneyError, match="float"):
        to_minor(bad)


def test_to_minor_refuses_fractions_of_a_minor_unit_unless_told_how_to_round():
    with pytest.raises(MoneyError, match="fraction of a minor unit"):
        to_minor("0.005")
    assert to_minor("0.005", rounding=Rounding.HALF_UP) == 1
    assert to_minor("0.005", rounding=Rounding.HALF_EVEN) == 0
    assert to_minor("0.015", rounding=Rounding.HALF_EVEN) == 2


def test_to_minor_names_garbage_and_unknown_currency():
    with pytest.raises(MoneyError, match="not a number"):
        to_minor("12,3x")
    with pytest.raises(MoneyError, match="unknown currency"):
        to_minor("1", "XXX")


@pytest.mark.parametrize(
    "value, half_up, half_even",
    [
        (Fraction(5, 2), 3, 2),
        (Fraction(7, 2), 4, 4),
        (Fraction(-5, 2), -3, -2),
        (Fraction(9, 4), 2, 2),
        (Fraction(11, 4), 3, 3),
    ],
)
def test_round_fraction_ties(value, half_up, half_even):
    assert round_fraction(value, rounding=Rounding.HALF_UP) == half_up
    assert round_fraction(value, rounding=Rounding.HALF_EVEN) == half_even


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6))
def test_round_ratio_array_matches_exact_fractions(numerator, denominator):
    for mode in Rounding:
        got = round_ratio_array(np.array([numerator]), denominator, rounding=mode)[0]
        assert got == round_fraction(Fraction(numerator, denominator), rounding=mode)


def test_mul_rate_array_is_exact_integer_interest():
    # 1,000,000 fen at 18 % APR for one month is 15,000 fen exactly
    assert mul_rate_array(np.array([1_000_000]), 180_000, 12, rounding=Rounding.HALF_UP).tolist() == [15_000]
    # 333 fen at 18 % / 12 = 4.995 -> 5 half-up
    assert mul_rate_array(np.array([333]), 180_000, 12, rounding=Rounding.HALF_UP).tolist() == [5]


@given(
    st.integers(-(10**12), 10**12),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=30).filter(lambda w: sum(w) > 0),
)
def test_allocate_never_loses_a_minor_unit(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    exact = [Fraction(abs(total) * w, sum(weights)) for w in weights]
    assert all(abs(abs(p) - e) < 1 for p, e in zip(parts, exact))


def test_allocate_gives_the_odd_units_to_the_largest_remainders_first():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(10, [1, 2]) == [3, 7]
    with pytest.raises(MoneyError, match="floats"):
        allocate(10, [0.5, 0.5])
    with pytest.raises(MoneyError, match="sum to zero"):
        allocate(10, [0, 0])


def test_money_refuses_mixed_currencies_and_floats():
    with pytest.raises(MoneyError, match="currency mismatch"):
        Money(100, "CNY") + Money(100, "USD")
    with pytest.raises(MoneyError, match="integer"):
        Money(1.5)  # type: ignore[arg-type]
    assert Money.parse("1.50") + Money(50) == Money(200)
    assert str(Money(123456)) == "1,234.56 CNY"
    assert [m.amount_minor for m in Money(100).allocate([1, 1, 1])] == [34, 33, 33]


def test_format_minor():
    assert format_minor(-5) == "-0.05"
    assert format_minor(100, "JPY") == "100"
    assert format_minor(123456789, thousands=False) == "1234567.89"


def test_ceiling_rounds_any_fraction_up():
    assert round_fraction(Fraction(1, 1000), rounding=Rounding.CEILING) == 1
    assert round_fraction(Fraction(-5, 2), rounding=Rounding.CEILING) == -2
    assert round_fraction(4, rounding=Rounding.CEILING) == 4
    assert round_ratio_array(np.array([1, 10, -3]), 10, rounding=Rounding.CEILING).tolist() == [1, 1, 0]
