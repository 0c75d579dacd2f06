"""Money as integer minor units (fen, cents), with explicit rounding.

Money never becomes a float. An amount is an ``int`` of minor units; a
:class:`Money` pairs it with a currency, and mixing currencies raises. Every
function that rounds takes the rounding mode as a required keyword, so the
convention is visible at the call site.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

import numpy as np

from creditmesh.errors import MoneyError

#: Minor units per major unit for the currencies creditmesh knows (ISO 4217 exponents).
MINOR_UNITS: dict[str, int] = {"CNY": 100, "USD": 100, "EUR": 100, "GBP": 100, "HKD": 100, "JPY": 1}


class Rounding(enum.Enum):
    """How a fraction of a minor unit is settled."""

    HALF_EVEN = "half_even"  # banker's rounding: ties go to the even neighbour
    HALF_UP = "half_up"  # ties go away from zero, the usual retail convention
    CEILING = "ceiling"  # any fraction goes up (towards +infinity): LendingClub's installment convention


_DECIMAL_MODE = {
    Rounding.HALF_EVEN: ROUND_HALF_EVEN,
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.CEILING: ROUND_CEILING,
}


def _check_currency(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise MoneyError("currency", f"unknown currency {currency!r}; known: {sorted(MINOR_UNITS)}") from None


def round_fraction(value: Fraction | Decimal | int, *, rounding: Rounding) -> int:
    """Round an exact number of minor units to an integer number of minor units."""
    if isinstance(value, float):
        raise MoneyError("amount", "floats are refused; pass a Decimal, Fraction, str or int")
    exact = Fraction(value)
    floor = exact.numerator // exact.denominator
    remainder = exact - floor
    if rounding is Rounding.CEILING:
        return floor + (remainder > 0)
    half = Fraction(1, 2)
    if remainder > half:
        return floor + 1
    if remainder < half:
        return floor
    if rounding is Rounding.HALF_UP:
        return floor + 1 if exact > 0 else floor
    return floor if floor % 2 == 0 else floor + 1


def to_minor(amount: str | Decimal | int, currency: str = "CNY", *, rounding: Rounding | None = None) -> int:
    """Convert a major-unit amount (``"12.34"``) to minor units (``1234``).

    Without ``rounding`` an amount with a fraction of a minor unit is refused;
    with it, the fraction is settled by that mode.
    """
    if isinstance(amount, float) or isinstance(amount, np.floating):
        raise MoneyError("amount", f"float {amount!r} refused: money is a decimal string, Decimal or int")
    if isinstance(amount, bool):
        raise MoneyError("amount", "a boolean is not an amount")
    scale = _check_currency(currency)
    try:
        exact = Decimal(amount) * scale
    except (InvalidOperation, TypeError, ValueError):
        raise MoneyError("amount", f"{amount!r} is not a number") from None
    if not exact.is_finite():
        raise MoneyError("amount", f"{amount!r} is not finite")
    if exact == exact.to_integral_value():
        return int(exact)
    if rounding is None:
        raise MoneyError("amount", f"{amount!r} has a fraction of a minor unit of {currency}; pass rounding=")
    return int(exact.quantize(Decimal(1), rounding=_DECIMAL_MODE[rounding]))


def format_minor(amount_minor: int, currency: str = "CNY", *, thousands: bool = True) -> str:
    """Format minor units as a major-unit string: ``123456`` -> ``"1,234.56"``."""
    _require_int(amount_minor, "amount_minor")
    scale = _check_currency(currency)
    digits = len(str(scale)) - 1
    sign = "-" if amount_minor < 0 else ""
    major, minor = divmod(abs(amount_minor), scale)
    head = f"{major:,}" if thousands else str(major)
    return f"{sign}{head}.{minor:0{digits}d}" if digits else f"{sign}{head}"


def allocate(total_minor: int, weights: Sequence[int | Decimal | Fraction]) -> list[int]:
    """Split ``total_minor`` over parts in proportion to ``weights`` without losing a minor unit.

    Largest-remainder (Hamilton) method: each part gets the floor of its exact
    share, and the units left over go one each to the parts with the largest
    remainders, ties to the earlier part. The parts always sum to the total.
    """
    _require_int(total_minor, "total_minor")
    if not weights:
        raise MoneyError("weights", "at least one weight is needed")
    exact_weights = []
    for index, weight in enumerate(weights):
        if isinstance(weight, float):
            raise MoneyError(f"weights[{index}]", "floats are refused; pass int, Decimal or Fraction")
        if weight < 0:
            raise MoneyError(f"weights[{index}]", "weights must not be negative")
        exact_weights.append(Fraction(weight))
    weight_sum = sum(exact_weights)
    if weight_sum == 0:
        raise MoneyError("weights", "weights sum to zero")
    sign = -1 if total_minor < 0 else 1
    magnitude = abs(total_minor)
    shares = [magnitude * w / weight_sum for w in exact_weights]
    parts = [s.numerator // s.denominator for s in shares]
    left_over = magnitude - sum(parts)
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for i in order[:left_over]:
        parts[i] += 1
    return [sign * p for p in parts]


def _require_int(value: object, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise MoneyError(field, f"must be an integer number of minor units, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in integer minor units of one currency. Arithmetic across currencies raises."""

    amount_minor: int
    currency: str = "CNY"

    def __post_init__(self) -> None:
        _require_int(self.amount_minor, "amount_minor")
        _check_currency(self.currency)
        object.__setattr__(self, "amount_minor", int(self.amount_minor))

    @classmethod
    def parse(cls, amount: str | Decimal | int, currency: str = "CNY") -> Money:
        """Build from a major-unit amount; a fraction of a minor unit is refused."""
        return cls(to_minor(amount, currency), currency)

    def _same_currency(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise MoneyError("amount", f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise MoneyError("currency", f"currency mismatch: {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same_currency(other)
        return self.amount_minor <= other.amount_minor

    def allocate(self, weights: Sequence[int | Decimal | Fraction]) -> list[Money]:
        """Split this amount by ``weights`` (largest remainder); the parts sum to this amount."""
        return [Money(part, self.currency) for part in allocate(self.amount_minor, weights)]

    def __str__(self) -> str:
        return f"{format_minor(self.amount_minor, self.currency)} {self.currency}"


def mul_rate_array(
    amount_minor: np.ndarray, rate_ppm: np.ndarray | int, divisor: int, *, rounding: Rounding
) -> np.ndarray:
    """Vectorised ``amount * rate_ppm / (divisor * 1e6)`` rounded to whole minor units, exactly.

    Rates travel as integer parts per million (``0.18`` -> ``180000``) so that the
    product is integer arithmetic with no float in between; ``divisor`` is the
    number of periods the rate is spread over (12 for a monthly share of an APR).
    Amounts up to about 9e12 minor units are exact in int64.
    """
    amount_minor = np.asarray(amount_minor, dtype=np.int64)
    numerator = amount_minor * np.asarray(rate_ppm, dtype=np.int64)
    denominator = np.int64(divisor) * np.int64(1_000_000)
    return round_ratio_array(numerator, denominator, rounding=rounding)


def round_ratio_array(
    numerator: np.ndarray, denominator: np.ndarray | int, *, rounding: Rounding
) -> np.ndarray:
    """Vectorised exact ``numerator / denominator`` rounded to integers (denominator > 0)."""
    numerator = np.asarray(numerator, dtype=np.int64)
    denominator = np.asarray(denominator, dtype=np.int64)
    quotient, remainder = np.divmod(numerator, denominator)  # floor division: remainder >= 0
    if rounding is Rounding.CEILING:
        return quotient + (remainder > 0).astype(np.int64)
    twice = 2 * remainder
    up = twice > denominator
    tie = twice == denominator
    if rounding is Rounding.HALF_UP:
        up |= tie & (numerator > 0)  # away from zero: a negative tie stays at the floor
    else:
        up |= tie & (quotient % 2 == 1)
    return quotient + up.astype(np.int64)


def rate_to_ppm(rate: float | np.ndarray) -> np.ndarray:
    """Convert rates given as fractions (APR 0.18) to integer parts per million."""
    return np.rint(np.asarray(rate, dtype=np.float64) * 1_000_000).astype(np.int64)
