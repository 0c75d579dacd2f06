"""How simulated borrowers behave: each one's fate, drawn once, and how booked installments are repaid.

Repayment behaviour is drawn from the borrower's true risk:

* a borrower may *default* at a day drawn from their true PD; every
  installment falling due from then on is missed, until the borrower *cures*
  (pays everything overdue at once) or never does (the book charges the loan
  off at :data:`creditmesh.delinquency.CHARGE_OFF_DPD` days past due);
* any installment may be paid a few days late (a *transient miss*), which is
  what the Day-1 delinquency and the 30-day collection rate mostly see;
* some loans are settled early (prepayment), paying only the interest accrued.

Fraudsters default the day after their line opens and never pay.
"""

from __future__ import annotations

import numpy as np

from creditmesh.money import Rounding, mul_rate_array
from creditmesh.schedules import Schedules
from creditmesh.simulate.population import Population
from creditmesh.simulate.state import NEVER, BookedLoans, Fates, Lines

# Calibrated with the platform's behaviour so that the headline metrics land in the seeds' bands
# (see tests/simulate).
NEVER_DRAW_SHARE = 0.3
MONTHLY_CHURN = 0.025
TRANSIENT_MISS_RATE = 0.038
CURE_SHARE = 0.45
PREPAY_SHARE = 0.12
#: An honest borrower's default drawn later than this many days after the line opens never happens.
DEFAULT_WITHIN_DAYS = 4 * 365


def draw_fates(rng: np.random.Generator, pop: Population, lines: Lines) -> Fates:
    """Each borrower's default, cure, appetite for drawdowns and churn, drawn once from their truth."""
    n = pop.size
    default_day, cure_day = _default_and_cure_days(rng, pop, lines.open_day)
    # some approved users never draw (the seeds: ~60 % of users with a line have drawn down)
    never_draws = ~pop.is_fraud & (rng.random(n) < NEVER_DRAW_SHARE)
    propensity = np.where(pop.is_fraud | never_draws, 0.0, rng.beta(1.5, 2.2, n))
    churn_month = rng.geometric(MONTHLY_CHURN, n) + np.maximum(lines.month, 0)
    miss_rate = TRANSIENT_MISS_RATE * np.clip((pop.true_pd / 0.05) ** 0.6, 0.3, 3.0)
    return Fates(default_day, cure_day, never_draws, propensity, churn_month, miss_rate)


def _default_and_cure_days(
    rng: np.random.Generator, pop: Population, open_day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The day each borrower defaults (at their true PD's hazard) and the day they cure, NEVER if not."""
    n = pop.size
    hazard_per_day = -np.log1p(-np.minimum(pop.true_pd, 0.999)) / 365.0
    default_day = np.full(n, NEVER, np.int64)
    drawn = rng.exponential(1.0, n) / np.maximum(hazard_per_day, 1e-12)
    honest_default = ~pop.is_fraud & (drawn < DEFAULT_WITHIN_DAYS)
    default_day[honest_default] = np.minimum(
        open_day[honest_default] + drawn[honest_default].astype(np.int64), NEVER
    )
    default_day[pop.is_fraud] = np.minimum(open_day[pop.is_fraud] + 1, NEVER)
    cures = ~pop.is_fraud & (rng.random(n) < CURE_SHARE)
    # days from the default to the cure: over half pay up within a month, the rest over the next six
    delay = np.select(
        [rng.random(n) < 0.55, rng.random(n) < 0.6],
        [rng.integers(3, 30, n), rng.integers(30, 120, n)],
        rng.integers(120, 200, n),
    )
    cure_day = np.where(cures & (default_day < NEVER), default_day + delay, NEVER)
    return default_day, cure_day


def repay(
    rng: np.random.Generator, booked: BookedLoans, fates: Fates, is_fraud: np.ndarray, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """The day each installment is settled (NEVER if not by the horizon) and the interest actually paid."""
    paid_day = _paid_day(rng, booked, fates, is_fraud)
    settle = _early_settlement_day(rng, booked, fates.default_day)
    settled_early = settle < paid_day
    paid_day = np.minimum(paid_day, settle)
    interest_paid = _interest_paid(booked, settle, settled_early)
    unknown = paid_day >= horizon
    paid_day = np.where(unknown, NEVER, paid_day)
    interest_paid = np.where(unknown, 0, interest_paid)
    return paid_day, interest_paid


def _paid_day(
    rng: np.random.Generator, booked: BookedLoans, fates: Fates, is_fraud: np.ndarray
) -> np.ndarray:
    """Each installment's payment day without prepayment: on time, a few days late, at the cure, or never."""
    owner, due_day = booked.owner, booked.due_day
    paid_day = due_day.copy()
    transient = rng.random(due_day.size) < fates.miss_rate[owner]
    paid_day[transient] += np.minimum(rng.geometric(0.3, transient.sum()), 28)
    t_default, t_cure = fates.default_day[owner], fates.cure_day[owner]
    in_default = (due_day >= t_default) & (due_day < t_cure)
    paid_day = np.where(in_default, np.where(t_cure < NEVER, t_cure, NEVER), paid_day)
    return np.where(is_fraud[owner], NEVER, paid_day)


def _early_settlement_day(
    rng: np.random.Generator, booked: BookedLoans, default_day: np.ndarray
) -> np.ndarray:
    """Per installment, the day its loan is settled early (NEVER if it is not): a day between origination
    and the last due date, before any default."""
    loan, due_day, originated_day = booked.schedules.loan, booked.due_day, booked.day
    loans = int(loan.max(initial=-1)) + 1
    last_due = np.zeros(loans, np.int64)
    np.maximum.at(last_due, loan, due_day)
    first_owner = np.zeros(loans, np.int64)
    first_owner[loan] = booked.owner
    span = last_due - originated_day
    prepay_day = originated_day + 15 + (rng.random(loans) * np.maximum(span - 16, 1)).astype(np.int64)
    prepays = (rng.random(loans) < PREPAY_SHARE) & (prepay_day < default_day[first_owner]) & (span > 16)
    return np.where(prepays, prepay_day, NEVER)[loan]


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
