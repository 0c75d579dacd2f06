"""Repayment schedules for installment loans, vectorised over many loans at once.

The loan contract is shared by the simulator (which books a whole platform at
once) and the ledger (which books one loan at a time), so the arithmetic lives
here, beside :mod:`creditmesh.money`, and both call it. Everything is integer
minor units; the APR travels as integer parts per million.

Conventions (state them, since lenders differ):

* Due dates follow the calendar: installment ``k`` falls due ``k`` months after
  origination on the same day of the month, clipped to the month's last day
  (drawn Jan 31 -> due Feb 28/29, Mar 31, Apr 30, ...).
* Interest for a period is ``balance * APR / 12`` rounded half-up to a minor unit.
* Equal installment (annuity): the payment ``P r / (1 - (1 + r)^-n)`` is rounded
  half-up to a minor unit (or as ``payment_rounding`` says); each installment's principal is the payment less the
  period's interest; the last installment takes whatever principal is left, so
  the principal always sums to the loan exactly.
* Equal principal: the principal is split into ``n`` parts by largest remainder
  (the first parts carry the odd minor units); interest on the running balance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from creditmesh.errors import ParameterError
from creditmesh.money import Rounding, mul_rate_array

#: The longest tenor a schedule may have, in months (a cap, so arrays stay bounded).
TENOR_MONTHS_MAX = 120


@dataclass(frozen=True, slots=True)
class Schedules:
    """Installments of many loans, flattened: row ``i`` is installment ``seq[i]`` of loan ``loan[i]``."""

    loan: np.ndarray  # int64 index into the loans passed in
    seq: np.ndarray  # int16, 1-based
    due_date: np.ndarray  # datetime64[D]
    principal_due_minor: np.ndarray  # int64
    interest_due_minor: np.ndarray  # int64


def add_months(dates: np.ndarray, months: np.ndarray | int) -> np.ndarray:
    """Add calendar months to ``datetime64[D]`` dates, clipping the day to the target month's end."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    month_start = dates.astype("datetime64[M]")
    day_index = (dates - month_start.astype("datetime64[D]")).astype(np.int64)
    target = month_start + np.asarray(months, dtype=np.int64)
    days_in_target = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    return target.astype("datetime64[D]") + np.minimum(day_index, days_in_target - 1)


def annuity_payment_minor(
    principal_minor: np.ndarray,
    rate_ppm: np.ndarray,
    tenor_months: np.ndarray,
    *,
    rounding: Rounding = Rounding.HALF_UP,
) -> np.ndarray:
    """The level monthly payment of an equal-installment loan, rounded to a minor unit by ``rounding``.

    Half-up is creditmesh's default; LendingClub rounds the payment up (``Rounding.CEILING``),
    which reproduces 99.97 % of its published installments (benchmarks/ledger_installments_lendingclub.py).
    """
    principal = np.asarray(principal_minor, dtype=np.float64)
    monthly = np.asarray(rate_ppm, dtype=np.float64) / 12e6
    n = np.asarray(tenor_months, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        payment = np.where(monthly > 0, principal * monthly / (1.0 - (1.0 + monthly) ** -n), principal / n)
    # The payment is a convention, not a ledger amount: the float is rounded once, here, and every
    # booked amount after it is exact integer arithmetic. Its float error is ~1e-8 of a minor unit, so
    # the ceiling ignores fractions below 1e-6 (a payment that is a whole number stays whole).
    if rounding is Rounding.CEILING:
        return np.ceil(payment - 1e-6).astype(np.int64)
    if rounding is Rounding.HALF_EVEN:
        return np.rint(payment).astype(np.int64)
    return np.floor(payment + 0.5).astype(np.int64)


def build_schedules(
    principal_minor: np.ndarray,
    rate_ppm: np.ndarray,
    tenor_months: np.ndarray,
    originated_on: np.ndarray,
    equal_principal: np.ndarray | None = None,
    *,
    payment_rounding: Rounding = Rounding.HALF_UP,
) -> Schedules:
    """Schedules of many loans at once, with one pass per month of the longest tenor (no loop per loan).

    ``equal_principal`` marks loans on the equal-principal schedule; the rest are
    equal installment. The principal of each loan's installments sums to its principal.
    """
    originated = np.asarray(originated_on, dtype="datetime64[D]")
    tenor = np.asarray(tenor_months, dtype=np.int64)
    if originated.shape[0] != tenor.shape[0]:
        raise ParameterError("schedules", "principal, rate, tenor and origination must have the same length")
    principal_due, interest_due = installment_amounts(
        principal_minor, rate_ppm, tenor, equal_principal, payment_rounding=payment_rounding
    )
    count = tenor.shape[0]
    starts = np.concatenate(([0], np.cumsum(tenor)[:-1])) if count else np.zeros(0, dtype=np.int64)
    loan = np.repeat(np.arange(count, dtype=np.int64), tenor)
    seq = (np.arange(int(tenor.sum()), dtype=np.int64) - np.repeat(starts, tenor) + 1).astype(np.int16)
    due = add_months(np.repeat(originated, tenor), seq.astype(np.int64))
    return Schedules(loan, seq, due, principal_due, interest_due)


def installment_amounts(
    principal_minor: np.ndarray,
    rate_ppm: np.ndarray,
    tenor_months: np.ndarray,
    equal_principal: np.ndarray | None = None,
    *,
    payment_rounding: Rounding = Rounding.HALF_UP,
) -> tuple[np.ndarray, np.ndarray]:
    """The principal and interest of every installment of many loans (flattened, loan by loan, in order).

    The amounts of :func:`build_schedules` without the dates: the ledger's re-cast after a partial
    prepayment spreads the balance left over the due dates a loan already has.
    """
    principal = np.asarray(principal_minor, dtype=np.int64)
    rate = np.asarray(rate_ppm, dtype=np.int64)
    tenor = np.asarray(tenor_months, dtype=np.int64)
    count = principal.shape[0]
    if not (rate.shape[0] == tenor.shape[0] == count):
        raise ParameterError("schedules", "principal, rate, tenor and origination must have the same length")
    if count and (principal.min() <= 0):
        raise ParameterError("principal_minor", "must be positive")
    if count and (tenor.min() < 1 or tenor.max() > TENOR_MONTHS_MAX):
        raise ParameterError("tenor_months", f"must be between 1 and {TENOR_MONTHS_MAX}")
    if count and rate.min() < 0:
        raise ParameterError("apr", "must not be negative")
    flat_principal = (
        np.zeros(count, dtype=bool) if equal_principal is None else np.asarray(equal_principal, dtype=bool)
    )

    payment = annuity_payment_minor(principal, rate, tenor, rounding=payment_rounding)
    base_part, odd_units = np.divmod(principal, tenor)
    total_rows = int(tenor.sum())
    starts = np.concatenate(([0], np.cumsum(tenor)[:-1])) if count else np.zeros(0, dtype=np.int64)
    principal_due = np.empty(total_rows, dtype=np.int64)
    interest_due = np.empty(total_rows, dtype=np.int64)

    balance = principal.copy()
    for k in range(1, int(tenor.max(initial=0)) + 1):
        live = tenor >= k
        rows = starts[live] + (k - 1)
        interest = mul_rate_array(balance[live], rate[live], 12, rounding=Rounding.HALF_UP)
        last = tenor[live] == k
        annuity_part = np.clip(payment[live] - interest, 0, balance[live])
        flat_part = base_part[live] + (k <= odd_units[live])
        part = np.where(flat_principal[live], flat_part, annuity_part)
        part = np.where(last, balance[live], part)
        principal_due[rows] = part
        interest_due[rows] = interest
        balance[live] -= part
    return principal_due, interest_due
