"""How a payment is split over a loan's installments: a pure function, no database.

The documented waterfall, applied to installments oldest first:

1. every installment already due on the payment day is settled in turn:
   its late fee, then its fee, then its interest, then its principal;
2. what is left prepays the loan: first the interest accrued since the last
   due date (ACT/365 on the outstanding principal), then principal;
3. after a partial prepayment the remaining installments are re-cast on the
   lower balance (same due dates, same schedule type, level payments again for
   equal installments); a prepayment of all the principal settles the loan,
   waiving interest and fees not yet accrued.

A payment larger than what settles the loan is refused, so no money is ever
held against nothing. Everything is integer minor units; every rounding is
half-up and says so at the call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from creditmesh.errors import CreditmeshError
from creditmesh.money import Rounding, mul_rate_array
from creditmesh.schedules import installment_amounts

DAYS_PER_YEAR = 365
#: The order in which an installment's components are paid.
COMPONENTS = ("late_fee", "fee", "interest", "principal")


@dataclass(frozen=True, slots=True)
class Installment:
    """One installment's amounts due and paid. ``paid_on`` is the day it was settled in full."""

    seq: int
    due_date: date
    principal_due: int
    interest_due: int
    fee_due: int = 0
    late_fee_due: int = 0
    principal_paid: int = 0
    interest_paid: int = 0
    fee_paid: int = 0
    late_fee_paid: int = 0
    paid_on: date | None = None
    #: Set by a re-cast: interest for this period accrues on the new balance from this day.
    accrued_from: date | None = None

    @property
    def owed(self) -> int:
        return (
            self.late_fee_due
            - self.late_fee_paid
            + self.fee_due
            - self.fee_paid
            + self.interest_due
            - self.interest_paid
            + self.principal_due
            - self.principal_paid
        )

    @property
    def principal_outstanding(self) -> int:
        return self.principal_due - self.principal_paid


@dataclass(frozen=True, slots=True)
class Split:
    """Where one payment went, by component; ``installments`` are the changed rows after it."""

    late_fee: int
    fee: int
    interest: int
    principal: int
    prepaid_interest: int
    prepaid_principal: int
    settled: bool
    installments: tuple[Installment, ...]
    #: Fees of installments not yet due that an early settlement waived (never paid, no longer owed).
    fee_waived: int = 0

    @property
    def total(self) -> int:
        return (
            self.late_fee
            + self.fee
            + self.interest
            + self.principal
            + self.prepaid_interest
            + self.prepaid_principal
        )


def accrued_interest(principal: int, apr_ppm: int, days: int) -> int:
    """Interest on ``principal`` for ``days`` days at the APR, ACT/365, rounded half-up."""
    if days <= 0 or principal <= 0:
        return 0
    return int(
        mul_rate_array(np.array([principal]), apr_ppm * days, DAYS_PER_YEAR, rounding=Rounding.HALF_UP)[0]
    )


def _accrued_since_last_due(
    installments: tuple[Installment, ...],
    rows: dict[int, Installment],
    paid_on: date,
    apr_ppm: int,
    period_start: date,
) -> tuple[int, int]:
    """(principal not yet due, interest accrued on it in the current period and not yet paid).

    The period runs from the latest due date on or before ``paid_on`` of any
    installment, settled or not (or from origination). After a re-cast in the
    period, interest up to the re-cast day is what the re-cast charged, and
    from that day it accrues on the new balance.
    """
    ahead = [rows[s] for s in sorted(rows) if rows[s].due_date > paid_on]
    if not ahead:
        return 0, 0
    last_due = max((r.due_date for r in installments if r.due_date <= paid_on), default=period_start)
    start = max(period_start, last_due)
    outstanding = sum(r.principal_outstanding for r in ahead)
    first = ahead[0]
    if first.accrued_from is not None and first.accrued_from >= start:
        rest_of_period = accrued_interest(outstanding, apr_ppm, (first.due_date - first.accrued_from).days)
        owed_to_date = (
            first.interest_due
            - rest_of_period
            + accrued_interest(outstanding, apr_ppm, (paid_on - first.accrued_from).days)
        )
    else:
        owed_to_date = accrued_interest(outstanding, apr_ppm, (paid_on - start).days)
    return outstanding, max(owed_to_date - first.interest_paid, 0)


def settlement_amount(
    installments: tuple[Installment, ...], paid_on: date, *, apr_ppm: int, period_start: date
) -> int:
    """What settles the loan on ``paid_on``: everything due, plus accrued interest and the rest of the principal."""
    rows = {i.seq: i for i in installments if i.paid_on is None}
    owed_now = sum(r.owed for r in rows.values() if r.due_date <= paid_on)
    outstanding, accrued = _accrued_since_last_due(installments, rows, paid_on, apr_ppm, period_start)
    return owed_now + accrued + outstanding


def split_payment(
    installments: tuple[Installment, ...],
    amount: int,
    paid_on: date,
    *,
    apr_ppm: int,
    equal_principal: bool,
    period_start: date,
) -> Split:
    """Split ``amount`` over the open ones of a loan's ``installments``, paid on ``paid_on``.

    Pass every installment of the loan, settled ones too: their due dates say
    where the current interest period began. ``period_start`` is the
    origination day: interest for the first period accrues from it. Raises a :class:`CreditmeshError` on ``amount_minor`` when
    the payment is more than what settles the loan.
    """
    if amount <= 0:
        raise CreditmeshError("amount_minor", "must be positive")
    rows = {i.seq: i for i in installments if i.paid_on is None}
    order = sorted(rows)
    left = amount
    taken = {"late_fee": 0, "fee": 0, "interest": 0, "principal": 0}
    due_seqs = [s for s in order if rows[s].due_date <= paid_on]
    for seq in due_seqs:
        row = rows[seq]
        for part in COMPONENTS:
            owed = getattr(row, f"{part}_due") - getattr(row, f"{part}_paid")
            pay = min(owed, left)
            if pay:
                row = replace(row, **{f"{part}_paid": getattr(row, f"{part}_paid") + pay})
                taken[part] += pay
                left -= pay
        if row.owed == 0:
            row = replace(row, paid_on=paid_on)
        rows[seq] = row
        if left == 0:
            break
    prepaid_interest = prepaid_principal = fee_waived = 0
    ahead = [s for s in order if rows[s].due_date > paid_on]
    if left and not ahead:
        raise CreditmeshError(
            "amount_minor", f"{amount} is more than the {amount - left} that settles the loan"
        )
    if left:
        outstanding, accrued = _accrued_since_last_due(installments, rows, paid_on, apr_ppm, period_start)
        first = rows[ahead[0]]
        prepaid_interest = min(accrued, left)
        left -= prepaid_interest
        if left > outstanding:
            raise CreditmeshError(
                "amount_minor",
                f"{amount} is more than the {amount - (left - outstanding)} that settles the loan",
            )
        prepaid_principal = left
        first = replace(
            first,
            interest_paid=first.interest_paid + prepaid_interest,
            interest_due=max(first.interest_due, first.interest_paid + prepaid_interest),
        )
        rows[ahead[0]] = first
        if prepaid_principal == outstanding:
            fee_waived += _close_ahead(rows, ahead, paid_on)
        elif prepaid_principal:  # interest alone changes no balance: nothing to re-cast
            _recast(rows, ahead, prepaid_principal, paid_on, apr_ppm=apr_ppm, equal_principal=equal_principal)
    elif (
        ahead
        and all(rows[s].paid_on is not None for s in due_seqs)
        and not any(rows[s].principal_outstanding for s in ahead)
    ):
        fee_waived += _close_ahead(rows, ahead, paid_on)  # no principal left: nothing more can accrue
    for seq in order:  # a row that owes nothing is settled, e.g. one a re-cast left without principal
        if (
            rows[seq].paid_on is None
            and rows[seq].owed == 0
            and (rows[seq].due_date <= paid_on or prepaid_principal)
        ):
            rows[seq] = replace(rows[seq], paid_on=paid_on)
    settled = all(rows[s].paid_on is not None for s in order)
    before = {i.seq: i for i in installments}
    changed = tuple(rows[s] for s in order if rows[s] != before[s])
    return Split(
        taken["late_fee"],
        taken["fee"],
        taken["interest"],
        taken["principal"],
        prepaid_interest,
        prepaid_principal,
        settled,
        changed,
        fee_waived,
    )


def _close_ahead(rows: dict[int, Installment], ahead: list[int], paid_on: date) -> int:
    """Early settlement: every installment not yet due is settled; interest and fees not yet accrued
    are waived. Returns the fees waived."""
    waived = 0
    for seq in ahead:
        row = rows[seq]
        waived += row.fee_due - row.fee_paid
        rows[seq] = replace(
            row,
            principal_paid=row.principal_due,
            interest_due=row.interest_paid,
            fee_due=row.fee_paid,
            late_fee_due=row.late_fee_paid,
            paid_on=paid_on,
        )
    return waived


def _recast(
    rows: dict[int, Installment],
    ahead: list[int],
    prepaid: int,
    paid_on: date,
    *,
    apr_ppm: int,
    equal_principal: bool,
) -> None:
    """Re-cast the installments not yet due on the balance left after a partial prepayment.

    The prepaid principal is booked on the first installment ahead (as paid),
    so each loan's installments still sum to its principal. The remaining
    principal is spread again over the same due dates by the schedule's own
    arithmetic (:func:`~creditmesh.schedules.installment_amounts`); the first
    one's interest is what was charged at the prepayment plus interest on the
    new balance for the rest of its period (ACT/365); later ones accrue monthly.
    """
    remaining = sum(rows[s].principal_outstanding for s in ahead) - prepaid
    parts, interests = (
        amounts.tolist()
        for amounts in installment_amounts(
            np.array([remaining]), np.array([apr_ppm]), np.array([len(ahead)]), np.array([equal_principal])
        )
    )
    for k, seq in enumerate(ahead):
        row = rows[seq]
        if k == 0:
            rest_days = (row.due_date - paid_on).days
            interest = row.interest_paid + accrued_interest(remaining, apr_ppm, rest_days)
            principal_paid = row.principal_paid + prepaid
            rows[seq] = replace(
                row,
                principal_paid=principal_paid,
                principal_due=principal_paid + parts[0],
                interest_due=interest,
                accrued_from=paid_on,
            )
        else:  # the schedule's monthly interest on the balance left before this installment
            rows[seq] = replace(
                row,
                principal_due=row.principal_paid + parts[k],
                interest_due=max(interests[k], row.interest_paid),
            )
