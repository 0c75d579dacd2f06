"""The platform month by month: credit lines, drawdowns, line adjustments, loans and how they are repaid.

:func:`run_platform` opens the credit lines (month zero), then runs each month
as a short sequence of phases over one :class:`~creditmesh.simulate.state.PlatformState`:
the month's start (last month's repayments and lateness), line adjustments,
drawdown requests, their decisions, funding, booking, then the month's days of
repayment and collections. Each phase is
vectorised over borrowers (no Python loop per borrower or per loan), and the
decisions go through replaceable interfaces: a :class:`~creditmesh.simulate.policy.Policy`
for the three stages, an :class:`~creditmesh.simulate.allocation.Allocation` for
funding, a :class:`~creditmesh.simulate.collections.Collector` for collections.
Who defaults and prepays is in :mod:`creditmesh.simulate.behaviour`; how each
installment is then paid, day by day, answering collections, in
:mod:`creditmesh.simulate.collections`.

The random draws happen in a fixed order (phase by phase, as listed), so the
same seed gives the same platform; a change that moves a draw changes every
draw after it. The repayment days draw nothing from the generator (their luck
is hashed). Fraudsters draw as much as they can at once and never pay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from creditmesh.delinquency import worst_dpd
from creditmesh.funding import FUNDING_MODELS
from creditmesh.ids import splitmix64
from creditmesh.money import Rounding, mul_rate_array, rate_to_ppm
from creditmesh.schedules import build_schedules
from creditmesh.schema import EMPLOYMENT, FEATURE_COLUMNS, STAGES
from creditmesh.simulate.allocation import Allocation, ShareAllocation
from creditmesh.simulate.behaviour import draw_fates, opening_balance_minor, period_start_day, settlement
from creditmesh.simulate.collections import CollectionWorld, Collector
from creditmesh.simulate.config import SimulationConfig
from creditmesh.simulate.policy import APPLICANT_COLUMNS, Policy
from creditmesh.simulate.population import Population
from creditmesh.simulate.state import (
    NEVER,
    Applications,
    BookedLoans,
    Calendar,
    DrawdownRequests,
    Drawdowns,
    Exposure,
    Lines,
    PlatformState,
    Rows,
)

TENORS = np.array([3, 6, 9, 12, 18, 24], dtype=np.int16)
TENOR_WEIGHTS = np.array([0.10, 0.22, 0.10, 0.50, 0.03, 0.05])
EQUAL_PRINCIPAL_SHARE = 0.2
#: A manual review takes this long; an automated decision 1-30 s.
REVIEW_SECONDS = 4 * 3_600
#: A drawdown is decided within 30 s and booked 1-300 s later: it starts by this second of its day, so
#: that every event of a day stays in that day and after the one it depends on.
LAST_DRAWDOWN_SECOND = 86_399 - 330
#: The tenor a credit-line or line-adjustment application records (it asks for no loan).
LINE_TENOR_MONTHS = 12


def decision_latency(app: np.ndarray, automated: np.ndarray, applied_second: np.ndarray) -> np.ndarray:
    """Seconds from application to decision: 1-30 (a hash of the application number) when automated, four
    hours for a manual review; either ends by the application's day's last second (reviewers clear the queue)."""
    latency = np.where(automated, 1 + (splitmix64(app) % np.uint64(30)).astype(np.int64), REVIEW_SECONDS)
    return np.minimum(latency, 86_399 - np.asarray(applied_second, np.int64))


# Behaviour, calibrated so that the headline metrics land in the seeds' bands (see tests/simulate;
# repayment behaviour is calibrated in creditmesh.simulate.behaviour).
APPLY_SHARE = 0.78
FIRST_DRAW_SHARE = 0.7
DISTRESS_DRAW_SHARE = 0.85
#: Borrowers heading for default borrow hard in this many days before it ...
DISTRESS_DAYS = 90
#: ... over these tenors (weights over TENORS): a borrower in distress stretches the repayments.
DISTRESS_TENOR_WEIGHTS = np.array([0.0, 0.05, 0.05, 0.40, 0.20, 0.30])
ADJUSTMENT_EVERY_MONTHS = 6

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Book:
    """Everything the platform did, as column arrays keyed by the integer row of each entity. The applications,
    loans and installments stay in the batches they were recorded in (:class:`~creditmesh.simulate.state.Rows`):
    their tables are built and written a batch at a time (:mod:`creditmesh.simulate.tables`)."""

    applications: Rows  # every application of every stage with its decision, in application order
    lines: dict[str, np.ndarray]
    loans: Rows  # the booked loans, in loan order
    #: one batch a month's booked loans, their installments' own columns (see :func:`book_repayments`); how
    #: each was paid is in ``servicing_rows``, read a batch at a time by :func:`settled_installments`
    installments: Rows
    #: the servicing world's installment rows (``loan``, ``due_day``, ``principal``, ``paid_on``), in the
    #: installments' order
    servicing_rows: dict[str, np.ndarray]
    horizon_days: int
    #: what collections did (the world's action log, see :class:`~creditmesh.simulate.collections.CollectionWorld`)
    collection_actions: dict[str, np.ndarray] | None = None
    collection_arms: tuple[str, ...] = ()
    #: what a servicing world needs to replay the platform's repayments (``default_day`` per borrower,
    #: ``settle_day`` per loan, NEVER when none): see :func:`creditmesh.collections.backtest.world_from_simulation`
    servicing: dict[str, np.ndarray] | None = None


def feature_frame(
    pop: Population,
    borrower: np.ndarray,
    day: np.ndarray,
    start_year: int,
    months_on_book: np.ndarray | None = None,
    max_dpd: np.ndarray | None = None,
    utilization: np.ndarray | None = None,
) -> pd.DataFrame:
    """The observable features of applications, with nulls where a signal is missing."""
    count = borrower.shape[0]

    def nullable(values: np.ndarray, dtype: str) -> pd.arrays.IntegerArray:
        values = np.asarray(values)
        return pd.arrays.IntegerArray(np.where(values < 0, 0, values).astype(dtype.lower()), values < 0)

    employment = pop.employment[borrower]
    frame = pd.DataFrame(
        {
            "age": (start_year + day // 365 - pop.birth_year[borrower]).astype(np.int16),
            "monthly_income_minor": nullable(pop.monthly_income_minor[borrower], "Int64"),
            "employment": pd.Series(np.array(EMPLOYMENT, dtype=object)[np.maximum(employment, 0)]).where(
                employment >= 0
            ),
            "bureau_score": nullable(pop.bureau_score[borrower], "Int16"),
            "bureau_inquiries_6m": nullable(pop.bureau_inquiries_6m[borrower], "Int16"),
            "bureau_delinquencies_24m": nullable(pop.bureau_delinquencies_24m[borrower], "Int16"),
            "device_age_days": (pop.device_age_days[borrower] + day - pop.registered_day[borrower]).astype(
                np.int32
            ),
            "apply_hour": pop.apply_hour[borrower],
            "contacts_count": pop.contacts_count[borrower],
            "months_on_book": nullable(
                np.full(count, -1) if months_on_book is None else months_on_book, "Int16"
            ),
            "max_dpd_on_book": nullable(np.full(count, -1) if max_dpd is None else max_dpd, "Int16"),
            "line_utilization": pd.array(
                np.full(count, np.nan) if utilization is None else utilization, dtype="Float32"
            ),
        }
    )
    assert tuple(frame.columns) == FEATURE_COLUMNS
    return frame


def run_platform(
    rng: np.random.Generator,
    config: SimulationConfig,
    pop: Population,
    policy: Policy,
    institution_model: np.ndarray,
    institution_capacity: np.ndarray,
    progress: Progress,
    allocation: Allocation | None = None,
    collector: Collector | None = None,
) -> Book:
    """Everything the platform does over ``config.months``, decided by ``policy``, funded by
    ``allocation`` (by default the placeholder: by volume share, then by partner capacity) and collected
    by ``collector`` (by default nobody collects: borrowers pay as they would on their own)."""
    calendar = Calendar.of(config)
    state = open_credit_lines(rng, calendar, pop, policy)
    open_servicing(state, config, collector)
    if allocation is None:
        shares = np.array(config.share_vector("funding_shares", FUNDING_MODELS))
        allocation = ShareAllocation(shares, institution_model, institution_capacity)
    for month in range(calendar.months):
        progress(f"month {month + 1}/{calendar.months}")
        run_month(rng, state, month, policy, allocation)
    return close_book(state)


def run_month(
    rng: np.random.Generator, state: PlatformState, month: int, policy: Policy, allocation: Allocation
) -> None:
    """One month's phases, in the order their random draws are made."""
    start_month(state, month)
    in_use = lines_in_use(state, month)
    adjust_lines(rng, state, month, in_use, policy)
    requests = request_drawdowns(rng, state, month, in_use)
    drawdowns = None if requests is None else decide_drawdowns(state, requests, policy)
    if drawdowns is not None and drawdowns.size:
        model, institution = allocation.allocate(rng, drawdowns)
        booked = book_loans(rng, state, drawdowns, model, institution)
        book_repayments(rng, state, booked, model)
    serve_month(state, month)


# --- month zero: credit lines ------------------------------------------------------------------------


def open_credit_lines(
    rng: np.random.Generator, calendar: Calendar, pop: Population, policy: Policy
) -> PlatformState:
    """Who applies for a credit line, the policy's decisions, the lines they open, and each holder's fate."""
    applications = apply_for_credit_lines(rng, calendar, pop)
    rows = Rows()
    ids, decided = decide_credit_lines(rows, applications, policy, calendar)
    lines = open_lines(calendar, pop.size, ids, applications, decided)
    fates = draw_fates(rng, pop, lines)
    exposure = Exposure.empty(pop.size, calendar.months)
    return PlatformState(calendar, pop, lines, fates, exposure, rows, Rows(), Rows())


def apply_for_credit_lines(rng: np.random.Generator, calendar: Calendar, pop: Population) -> Applications:
    """Most users (and every fraudster) apply for a line within days of registering."""
    n = pop.size
    applies = (rng.random(n) < APPLY_SHARE) | pop.is_fraud
    apply_day = pop.registered_day + rng.geometric(0.6, n) - 1
    applies &= apply_day < calendar.horizon
    applicant = np.flatnonzero(applies)
    day = apply_day[applicant].astype(np.int64)
    second = np.minimum(pop.registered_second[applicant] + rng.integers(60, 3_600, applicant.size), 86_399)
    count = applicant.size
    return Applications(
        stage="credit_line",
        borrower=applicant,
        day=day,
        second=second,
        requested_amount_minor=np.zeros(count, np.int64),
        requested_tenor=np.full(count, LINE_TENOR_MONTHS, np.int16),
        months_on_book=np.full(count, -1, np.int16),
        max_dpd=np.full(count, -1, np.int16),
        utilization=np.full(count, np.nan, np.float32),
        features=feature_frame(pop, applicant, day, calendar.year),
    )


def decide_credit_lines(
    rows: Rows, applications: Applications, policy: Policy, calendar: Calendar
) -> tuple[np.ndarray, pd.DataFrame]:
    """The policy's decision on each credit-line application (its features, who applies and when),
    recorded; the applications' numbers and the decisions."""
    applied_at_us = (calendar.start.astype("datetime64[us]").astype(np.int64)) + (
        applications.day * 86_400 + applications.second
    ) * 1_000_000
    applicant = dict(zip(APPLICANT_COLUMNS, (applications.borrower, applied_at_us), strict=True))
    frame = applications.features.assign(**applicant)
    decided = policy.decide_credit_lines(frame)
    ids = rows.next_ids(applications.borrower.size)
    record_applications(
        rows,
        ids,
        applications,
        decided,
        automated=decided["automated"].to_numpy(bool),
        score=decided["score"].to_numpy(float),
        pd=decided["pd"].to_numpy(float),
        grade=decided["grade"].to_numpy(dtype=object),
        apr=decided["apr"].to_numpy(float),
    )
    return ids, decided


def open_lines(
    calendar: Calendar, n: int, ids: np.ndarray, applications: Applications, decided: pd.DataFrame
) -> Lines:
    """The approved applications' lines. A line opens when its application is decided; decided too late in
    the day for a drawdown to follow it, it is first drawn on the next day."""
    approved = decided["outcome"].to_numpy() == "approve"
    holders = applications.borrower[approved]
    day, second = applications.day[approved], applications.second[approved]
    lines = Lines.none(n, calendar.months)
    lines.limit_minor[holders] = decided["credit_line_minor"].to_numpy(np.int64)[approved]
    lines.apr[holders] = decided["apr"].to_numpy(float)[approved]
    decided_second = second + decision_latency(
        ids[approved], decided["automated"].to_numpy(bool)[approved], second
    )
    late = decided_second + 60 > LAST_DRAWDOWN_SECOND
    lines.open_day[holders] = day + late
    lines.decided_day[holders] = day
    lines.decided_second[holders] = decided_second
    lines.first_draw_second[holders] = np.where(late, 0, decided_second + 60)
    lines.app[holders] = ids[approved]
    lines.pd_estimate[holders] = decided["pd"].to_numpy(float)[approved]
    lines.month = calendar.month_of(lines.open_day)
    return lines


def record_applications(
    rows: Rows,
    ids: np.ndarray,
    applications: Applications,
    decided: pd.DataFrame,
    *,
    pd: np.ndarray,
    apr: np.ndarray,
    automated: np.ndarray | None = None,
    score: np.ndarray | None = None,
    grade: np.ndarray | None = None,
) -> None:
    """Add a batch of applications with their decisions; where the policy gives no ``automated``,
    ``score`` or ``grade``, the decision was automated, unscored and ungraded."""
    a, count = applications, ids.size
    rows.add(
        app=ids,
        borrower=a.borrower,
        day=a.day,
        second=a.second,
        stage=np.full(count, STAGES.index(a.stage), np.int8),
        requested_amount_minor=a.requested_amount_minor,
        requested_tenor=a.requested_tenor,
        months_on_book=a.months_on_book.astype(np.int16),
        max_dpd=a.max_dpd.astype(np.int16),
        utilization=a.utilization,
        outcome=decided["outcome"].to_numpy(dtype=object),
        automated=np.ones(count, bool) if automated is None else automated,
        score=np.full(count, np.nan) if score is None else score,
        pd=pd,
        grade=np.full(count, None, dtype=object) if grade is None else grade,
        credit_line_minor=decided["credit_line_minor"].to_numpy(np.int64),
        apr=apr,
        reason=decided["reason"].to_numpy(dtype=object),
    )


# --- each month ---------------------------------------------------------------------------------------


def start_month(state: PlatformState, month: int) -> None:
    """Bring each borrower's position to the month's first day: last month's principal repaid, and how late
    the installments due last month are today (applicants report the worst as ``max_dpd_on_book``)."""
    if month == 0:
        return
    exposure, n = state.exposure, state.size
    exposure.outstanding_minor -= exposure.paydown_minor[(month - 1) * n : month * n]
    first_day, _ = state.calendar.bounds(month)
    for borrower, due_day, paid_day in exposure.due_by_month[month - 1]:
        np.maximum.at(exposure.max_dpd, borrower, worst_dpd(due_day, paid_day, first_day).astype(np.int32))
    exposure.due_by_month[month - 1] = []  # seen: free it


def lines_in_use(state: PlatformState, month: int) -> np.ndarray:
    """Borrowers whose line is open by the month's end and who have not churned."""
    _, last = state.calendar.bounds(month)
    lines = state.lines
    return (lines.open_day < last) & (lines.limit_minor > 0) & (state.fates.churn_month > month)


def adjust_lines(
    rng: np.random.Generator, state: PlatformState, month: int, in_use: np.ndarray, policy: Policy
) -> None:
    """Every six months on book, a line not in default is reviewed and its limit raised, cut or kept."""
    lines, (first_day, last) = state.lines, state.calendar.bounds(month)
    due = in_use & (lines.month < month) & ((month - lines.month) % ADJUSTMENT_EVERY_MONTHS == 0)
    reviewed = np.flatnonzero(due & (state.fates.default_day >= first_day))
    if reviewed.size == 0:
        return
    day = rng.integers(first_day, last, reviewed.size)
    second = rng.integers(0, 86_400, reviewed.size)
    tenor = np.full(reviewed.size, LINE_TENOR_MONTHS, np.int16)
    limit = lines.limit_minor[reviewed]
    applications = applications_on_book(state, "line_adjustment", reviewed, day, second, limit, tenor)
    decided = policy.decide_line_adjustments(applications.features, limit)
    ids = state.applications.next_ids(reviewed.size)
    record_applications(
        state.applications,
        ids,
        applications,
        decided,
        pd=lines.pd_estimate[reviewed],
        apr=lines.apr[reviewed],
    )
    changed = decided["outcome"].to_numpy() == "approve"
    lines.limit_minor[reviewed[changed]] = decided["credit_line_minor"].to_numpy(np.int64)[changed]
    lines.last_adjusted_day[reviewed[changed]] = day[changed]


def applications_on_book(
    state: PlatformState,
    stage: str,
    borrower: np.ndarray,
    day: np.ndarray,
    second: np.ndarray,
    requested_minor: np.ndarray,
    tenor: np.ndarray,
) -> Applications:
    """Line holders' applications, with what their book shows on the day: months on book and worst dpd
    (-1 before the first loan), and the line's utilization; a drawdown's features carry its amount."""
    exposure = state.exposure
    months_on_book = exposure.months_on_book(borrower, day)
    max_dpd = np.where(months_on_book >= 0, exposure.max_dpd[borrower], -1)
    utilization = exposure.utilization(borrower, state.lines.limit_minor[borrower])
    year = state.calendar.year
    features = feature_frame(state.pop, borrower, day, year, months_on_book, max_dpd, utilization)
    if stage == "drawdown":
        features["requested_amount_minor"] = requested_minor
    return Applications(
        stage, borrower, day, second, requested_minor, tenor, months_on_book, max_dpd, utilization, features
    )


def request_drawdowns(
    rng: np.random.Generator, state: PlatformState, month: int, in_use: np.ndarray
) -> DrawdownRequests | None:
    """Who asks to draw this month, on which day and second, how much and over how many months."""
    first_day, last = state.calendar.bounds(month)
    opening = in_use & (state.lines.month == month)
    want, distressed = _drawdown_appetite(state, opening, first_day)
    requesters = np.flatnonzero(in_use & (rng.random(state.size) < want))
    if requesters.size == 0:
        return None
    day = _drawdown_day(rng, state, requesters, opening, first_day, last)
    requested = _drawdown_amount(rng, state, requesters, distressed)
    tenor = TENORS[rng.choice(TENORS.size, requesters.size, p=TENOR_WEIGHTS)]
    stretched = TENORS[rng.choice(TENORS.size, requesters.size, p=DISTRESS_TENOR_WEIGHTS)]
    tenor = np.where(distressed[requesters], stretched, tenor)
    second = _drawdown_second(rng, state.lines, requesters, day)
    applications = applications_on_book(state, "drawdown", requesters, day, second, requested, tenor)
    available = state.lines.limit_minor[requesters] - state.exposure.outstanding_minor[requesters]
    delinquent = state.fates.default_day[requesters] <= day
    return DrawdownRequests(applications, np.maximum(available, 0), delinquent)


def _drawdown_appetite(
    state: PlatformState, opening: np.ndarray, first_day: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each borrower's chance of a drawdown this month, and who is heading for default."""
    fates, is_fraud = state.fates, state.pop.is_fraud
    first_draw = np.where(is_fraud, 1.0, np.where(fates.never_draws, 0.0, FIRST_DRAW_SHARE))
    want = np.where(opening, first_draw, fates.propensity)
    # borrowers heading for default borrow hard in the months before it
    distressed = (
        ~is_fraud & (fates.default_day >= first_day) & (fates.default_day - first_day < DISTRESS_DAYS)
    )
    return np.where(distressed & (want > 0), DISTRESS_DRAW_SHARE, want), distressed


def _drawdown_day(
    rng: np.random.Generator,
    state: PlatformState,
    requesters: np.ndarray,
    opening: np.ndarray,
    first_day: int,
    last: int,
) -> np.ndarray:
    """Soon after a line opens, any day of the month after that; fraudsters on the first day they can."""
    earliest = np.maximum(state.lines.open_day[requesters], first_day)
    day = np.where(
        opening[requesters],
        np.minimum(earliest + rng.geometric(0.3, requesters.size) - 1, last - 1),
        earliest + (rng.random(requesters.size) * (last - earliest)).astype(np.int64),
    )
    return np.where(state.pop.is_fraud[requesters], earliest, day)


def _drawdown_amount(
    rng: np.random.Generator, state: PlatformState, requesters: np.ndarray, distressed: np.ndarray
) -> np.ndarray:
    """The amount asked for: a share of the limit, in whole hundreds, at least the minimum drawdown."""
    count, limit = requesters.size, state.lines.limit_minor[requesters]
    # first drawdowns are smaller than repeat ones; fraudsters take nearly all they can
    repeat = state.exposure.loans_count[requesters] > 0
    share = np.where(repeat, rng.beta(2.0, 2.5, count), rng.beta(1.5, 3.5, count))
    share = np.where(distressed[requesters], rng.beta(4.0, 1.5, count), share)
    share = np.where(state.pop.is_fraud[requesters], 0.95, share)
    return np.maximum(np.round(limit * share / 100_00) * 100_00, 500_00).astype(np.int64)


def _drawdown_second(
    rng: np.random.Generator, lines: Lines, requesters: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """Uniform over the part of the day a drawdown may start in (after the line's decision on its opening
    day); the draw is the one a seeded run always made, so every later draw is unchanged."""
    earliest = np.where(day == lines.open_day[requesters], lines.first_draw_second[requesters], 0)
    return earliest + rng.integers(0, 86_400, requesters.size) % (LAST_DRAWDOWN_SECOND + 1 - earliest)


def decide_drawdowns(state: PlatformState, requests: DrawdownRequests, policy: Policy) -> Drawdowns:
    """The policy's decision on each request, recorded as a drawdown application; the approved ones."""
    applications = requests.applications
    decided = policy.decide_drawdowns(applications.features, requests.available_minor, requests.delinquent)
    lines, borrower = state.lines, applications.borrower
    ids = state.applications.next_ids(borrower.size)
    pd_estimate, apr = lines.pd_estimate[borrower], lines.apr[borrower]
    record_applications(state.applications, ids, applications, decided, pd=pd_estimate, apr=apr)
    ok = decided["outcome"].to_numpy() == "approve"
    return Drawdowns(
        app=ids[ok],
        borrower=borrower[ok],
        day=applications.day[ok],
        second=applications.second[ok],
        principal_minor=decided["credit_line_minor"].to_numpy(np.int64)[ok],
        tenor=applications.requested_tenor[ok],
        apr=apr[ok],
        pd_estimate=pd_estimate[ok],
    )


def book_loans(
    rng: np.random.Generator,
    state: PlatformState,
    drawdowns: Drawdowns,
    model: np.ndarray,
    institution: np.ndarray,
) -> BookedLoans:
    """Each approved drawdown booked as a loan, 1-300 s after its decision, with its repayment schedule."""
    d, count, exposure = drawdowns, drawdowns.size, state.exposure
    loan = state.loans.next_ids(count)
    equal_principal = rng.random(count) < EQUAL_PRINCIPAL_SHARE
    # 86,400 is a multiple of 300: the remainder is uniform
    decided = d.second + decision_latency(d.app, np.ones(count, bool), d.second)
    booked = decided + 1 + rng.integers(0, 86_400, count) % 300
    state.loans.add(
        loan=loan,
        borrower=d.borrower,
        app=d.app,
        line_app=state.lines.app[d.borrower],
        day=d.day,
        second=booked,
        principal=d.principal_minor,
        apr=d.apr,
        tenor=d.tenor,
        equal_principal=equal_principal,
        model=model,
        institution=institution,
        repeat=exposure.loans_count[d.borrower] > 0,
    )
    first = exposure.first_loan_day[d.borrower]
    exposure.first_loan_day[d.borrower] = np.where(first < 0, d.day, first)
    exposure.loans_count[d.borrower] += 1
    exposure.outstanding_minor[d.borrower] += d.principal_minor
    rate_ppm, start = rate_to_ppm(d.apr), state.calendar.start
    schedules = build_schedules(d.principal_minor, rate_ppm, d.tenor, start + d.day, equal_principal)
    due_day = (schedules.due_date - start).astype(np.int64)
    return BookedLoans(loan, d.borrower[schedules.loan], d.day, rate_ppm, schedules, due_day)


def book_repayments(
    rng: np.random.Generator, state: PlatformState, booked: BookedLoans, model: np.ndarray
) -> None:
    """This month's loans handed to the servicing world with their early settlements; the installments'
    own columns (seq, interest due, interest paid when paid) recorded."""
    settle, interest_paid = settlement(rng, booked, state.fates.default_day)
    schedules = booked.schedules
    count = np.bincount(schedules.loan, minlength=booked.loan.size)
    numbers = state.world.add_loans(
        booked.owner[np.cumsum(count) - count],
        count,
        booked.due_day,
        schedules.principal_due_minor,
        settle_day=settle,
        model=model,
    )
    if not np.array_equal(numbers, booked.loan):
        raise RuntimeError("the servicing world must number loans as the platform books them")
    state.installments.add(
        seq=schedules.seq,
        interest_due=schedules.interest_due_minor,
        interest_paid=interest_paid,
        # what an installment paid before its due date pays in interest (see close_book)
        period_start=period_start_day(schedules, booked.due_day, booked.day),
        opening=opening_balance_minor(schedules),
        rate_ppm=booked.rate_ppm[schedules.loan],
    )


def open_servicing(state: PlatformState, config: SimulationConfig, collector: Collector | None) -> None:
    """The world that repays the loans day by day (its luck hashed from the seed), and who collects."""
    state.world = CollectionWorld(
        config.seed,
        state.fates.default_day,
        state.pop.true_pd,
        state.pop.is_fraud,
        epoch=config.start,
        funding_models=FUNDING_MODELS,
    )
    state.collector = collector


def serve_month(state: PlatformState, month: int) -> None:
    """Each day of the month: collections acts and the loans pay or miss (the world). Then the month's
    repayments go into each borrower's position, and the installments due this month into what
    :func:`start_month` reads next month."""
    first_day, last = state.calendar.bounds(month)
    world, exposure = state.world, state.exposure
    for day in range(first_day, last):
        world.step(day, state.collector)
    paid, due = world.take_logs()
    rows, loans = world.rows, world.loans
    owner = loans["borrower"][rows["loan"][paid]]
    np.add.at(exposure.paydown_minor, month * state.size + owner, rows["principal"][paid])
    exposure.due_by_month[month].append(
        (
            loans["borrower"][rows["loan"][due]].astype(np.int32),
            rows["due_day"][due].astype(np.int32),
            rows["paid_on"][due].astype(np.int32),
        )
    )


def close_book(state: PlatformState) -> Book:
    """The platform's rows: applications, the lines opened, loans, installments (how each was paid is the
    servicing world's, read by :func:`settled_installments`) and what collections did. Nothing is copied or
    merged: the tables are built from the batches, one at a time."""
    lines, horizon = state.lines, state.calendar.horizon
    holder = np.flatnonzero(lines.app >= 0)
    line_rows = {
        "borrower": holder,
        "app": lines.app[holder],
        "limit": lines.limit_minor[holder],
        "apr": lines.apr[holder],
        "decided_day": lines.decided_day[holder],
        "decided_second": lines.decided_second[holder],
        "last_adjusted_day": lines.last_adjusted_day[holder],
        # a borrower who stops paying has the line frozen
        "frozen": state.fates.default_day[holder] < horizon,
    }
    world = state.world
    return Book(
        state.applications,
        line_rows,
        state.loans,
        state.installments,
        {name: world.rows[name] for name in ("loan", "due_day", "principal", "paid_on")},
        horizon,
        {name: world.actions[name] for name in world.actions.spec},
        tuple(world.arms),
        {"default_day": state.fates.default_day.copy(), "settle_day": world.loans.trimmed("settle_day")},
    )


def settled_installments(book: Book) -> Iterator[dict[str, np.ndarray]]:
    """The installments a month's booked loans at a time (each batch handed over once), in (loan, seq) order:
    the loan, seq, due day, principal and interest due, interest paid (none unpaid by the horizon) and the day
    it was paid (NEVER when not by the horizon)."""
    rows, horizon, start = book.servicing_rows, book.horizon_days, 0
    for batch in book.installments.batches():
        end = start + batch["seq"].size
        paid_day, due_day = rows["paid_on"][start:end], rows["due_day"][start:end]
        interest_paid = _interest_paid_early(
            batch["interest_paid"],
            paid_day,
            due_day,
            batch["period_start"],
            batch["opening"],
            batch["rate_ppm"],
        )
        paid = paid_day < horizon
        yield {
            "loan": rows["loan"][start:end].astype(np.int32),  # days and loan numbers fit in 32 bits
            "seq": batch["seq"],
            "due_day": due_day,
            "principal_due": rows["principal"][start:end],
            "interest_due": batch["interest_due"],
            "interest_paid": np.where(paid, interest_paid, 0),
            "paid_day": np.where(paid, paid_day, NEVER).astype(np.int32),
        }
        start = end
    if start != rows["loan"].size:
        raise RuntimeError("the servicing world's rows must be the installments booked, batch by batch")


def _interest_paid_early(
    interest_paid: np.ndarray,
    paid_day: np.ndarray,
    due_day: np.ndarray,
    period_start: np.ndarray,
    opening: np.ndarray,
    rate_ppm: np.ndarray,
) -> np.ndarray:
    """Interest on installments paid before their due date (a legal judgment or an agency taking the rest of
    a loan, as well as an early settlement) as the ledger settles it: the interest accrued on the period
    that contains the payment day (ACT/365 on the principal outstanding), none for the periods after it.
    Installments paid on or after their due date pay their scheduled interest (``interest_paid``)."""
    early = paid_day < due_day
    containing = early & (period_start < paid_day)
    accrued = mul_rate_array(
        opening, rate_ppm * np.maximum(paid_day - period_start, 0), 365, rounding=Rounding.HALF_UP
    )
    return np.where(early, np.where(containing, accrued, 0), interest_paid)
