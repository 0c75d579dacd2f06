"""How simulated borrowers behave: each one's fate, drawn once, and each loan's early settlement.

A borrower may *default* at a day drawn from their true PD (fraudsters the day after their line opens): the
day they stop paying. What happens to each installment after booking, paid on its day, a few days late,
at a cure, never, or recovered after charge-off, is decided day by day by
:class:`creditmesh.simulate.collections.CollectionWorld`, where collections can change it. Some loans are
settled early (prepayment), paying only the interest accrued; that is drawn when the loan is booked.
"""

from __future__ import annotations

import numpy as np

from creditmesh.money import Rounding, mul_rate_array
from creditmesh.schedules import Schedules
from creditmesh.simulate.population import Population
from creditmesh.simulate.state import NEVER, BookedLoans, Fates, Lines

# Calibrated with the platform's behaviour so that the headline metrics land in the seeds' bands
# (see tests/simulate); repayment and cures are calibrated in creditmesh.simulate.collections.Response.
NEVER_DRAW_SHARE = 0.3
MONTHLY_CHURN = 0.025
PREPAY_SHARE = 0.12
#: An honest borrower's default drawn later than this many days after the line opens never happens.
DEFAULT_WITHIN_DAYS = 4 * 365


def draw_fates(rng: np.random.Generator, pop: Population, lines: Lines) -> Fates:
    """Each borrower's default, appetite for drawdowns and churn, drawn once from their truth."""
    n = pop.size
    default_day = _default_days(rng, pop, lines.open_day)
    # some approved users never draw (the seeds: ~60 % of users with a line have drawn down)
    never_draws = ~pop.is_fraud & (rng.random(n) < NEVER_DRAW_SHARE)
    propensity = np.where(pop.is_fraud | never_draws, 0.0, rng.beta(1.5, 2.2, n))
    churn_month = rng.geometric(MONTHLY_CHURN, n) + np.maximum(lines.month, 0)
    return Fates(default_day, never_draws, propensity, churn_month)


def _default_days(rng: np.random.Generator, pop: Population, open_day: np.ndarray) -> np.ndarray:
    """The day each borrower defaults (at their true PD's hazard), NEVER if they do not."""
    n = pop.size
    hazard_per_day = -np.log1p(-np.minimum(pop.true_pd, 0.999)) / 365.0
    default_day = np.full(n, NEVER, np.int64)
    drawn = rng.exponential(1.0, n) / np.maximum(hazard_per_day, 1e-12)
    honest_default = ~pop.is_fraud & (drawn < DEFAULT_WITHIN_DAYS)
    default_day[honest_default] = np.minimum(
        open_day[honest_default] + drawn[honest_default].astype(np.int64), NEVER
    )
    default_day[pop.is_fraud] = np.minimum(open_day[pop.is_fraud] + 1, NEVER)
    return default_day


def settlement(
    rng: np.random.Generator, booked: BookedLoans, default_day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per loan, the day it is settled early (NEVER if it is not), and per installment the interest it pays
    when it is paid: as scheduled, or for a loan settled early what accrued up to the settlement."""
    settle = _early_settlement_day(rng, booked, default_day)
    row_settle = settle[booked.schedules.loan]
    settled_early = row_settle < booked.due_day
    return settle, _interest_paid(booked, row_settle, settled_early)


def _early_settlement_day(
    rng: np.random.Generator, booked: BookedLoans, default_day: np.ndarray
) -> np.ndarray:
    """Per loan, the day it is settled early (NEVER if it is not): a day between origination and the last
    due date, before any default."""
    loan, due_day, originated_day = booked.schedules.loan, booked.due_day, booked.day
    loans = int(loan.max(initial=-1)) + 1
    last_due = np.zeros(loans, np.int64)
    np.maximum.at(last_due, loan, due_day)
    first_owner = np.zeros(loans, np.int64)
    first_owner[loan] = booked.owner
    span = last_due - originated_day
    prepay_day = originated_day + 15 + (rng.random(loans) * np.maximum(span - 16, 1)).astype(np.int64)
    prepays = (rng.random(loans) < PREPAY_SHARE) & (prepay_day < default_day[first_owner]) & (span > 16)
    return np.where(prepays, prepay_day, NEVER)


def _interest_paid(booked: BookedLoans, settle: np.ndarray, settled_early: np.ndarray) -> np.ndarray:
    """Interest paid on each installment: as scheduled, or on one settled early what accrued up to the
    settlement day, as the ledger charges it (ACT/365 on the principal outstanding in that period), and
    none for the periods after it."""
    schedules, due_day = booked.schedules, booked.due_day
    previous_due = period_start_day(schedules, due_day, booked.day)
    containing = settled_early & (previous_due < settle) & (settle < due_day)
    accrued = mul_rate_array(
        opening_balance_minor(schedules),
        booked.rate_ppm[schedules.loan] * np.maximum(settle - previous_due, 0),
        365,
        rounding=Rounding.HALF_UP,
    )
    return np.where(
        settled_early & (due_day > settle), np.where(containing, accrued, 0), schedules.interest_due_minor
    )


def period_start_day(schedules: Schedules, due_day: np.ndarray, originated_day: np.ndarray) -> np.ndarray:
    """The day each installment's interest period starts: the loan's origination, then the previous due day."""
    return np.where(schedules.seq == 1, originated_day[schedules.loan], np.roll(due_day, 1))


def opening_balance_minor(schedules: Schedules) -> np.ndarray:
    """The principal outstanding during each installment's period: this row's and every later row's of its loan."""
    principal = schedules.principal_due_minor
    first_row = np.flatnonzero(schedules.seq == 1)
    principal_after = np.cumsum(principal[::-1])[::-1]  # principal of this row and every later row ...
    next_loan_start = np.append(first_row[1:], principal.size)
    tail = np.append(principal_after, 0)[next_loan_start]  # ... less what belongs to the next loans
    return principal_after - np.repeat(tail, np.diff(np.append(first_row, principal.size)))
