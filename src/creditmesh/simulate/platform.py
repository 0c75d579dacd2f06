"""The platform month by month: credit lines, drawdowns, line adjustments, loans and how they are repaid.

The loop runs once per simulated month and is vectorised over borrowers inside
(no Python loop per borrower or per loan). Repayment behaviour is drawn when a
loan is booked, from the borrower's true risk:

* a borrower may *default* at a day drawn from their true PD; every
  installment falling due from then on is missed, until the borrower *cures*
  (pays everything overdue at once) or never does (charge-off at 181 days);
* any installment may be paid a few days late (a *transient miss*), which is
  what the Day-1 delinquency and the 30-day collection rate mostly see;
* some loans are settled early (prepayment), paying only the interest accrued.

Fraudsters draw as much as they can at once and never pay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from creditmesh.money import Rounding, mul_rate_array, rate_to_ppm
from creditmesh.schedules import add_months, build_schedules
from creditmesh.schema import EMPLOYMENT, FEATURE_COLUMNS, FUNDING_MODELS, RISK_BEARING_MODELS, STAGES
from creditmesh.simulate.config import SimulationConfig
from creditmesh.simulate.ids import splitmix64
from creditmesh.simulate.policy import Policy
from creditmesh.simulate.population import Population

NEVER = np.iinfo(np.int32).max
TENORS = np.array([3, 6, 9, 12, 18, 24], dtype=np.int16)
TENOR_WEIGHTS = np.array([0.10, 0.22, 0.10, 0.50, 0.03, 0.05])
EQUAL_PRINCIPAL_SHARE = 0.2
#: A manual review takes this long; an automated decision 1-30 s.
REVIEW_SECONDS = 4 * 3_600
#: A drawdown is decided within 30 s and booked 1-300 s later: it starts by this second of its day, so
#: that every event of a day stays in that day and after the one it depends on.
LAST_DRAWDOWN_SECOND = 86_399 - 330


def decision_latency(app: np.ndarray, automated: np.ndarray, applied_second: np.ndarray) -> np.ndarray:
    """Seconds from application to decision: 1-30 (a hash of the application number) when automated, four
    hours for a manual review; either ends by the application's day's last second (reviewers clear the queue)."""
    latency = np.where(automated, 1 + (splitmix64(app) % np.uint64(30)).astype(np.int64), REVIEW_SECONDS)
    return np.minimum(latency, 86_399 - np.asarray(applied_second, np.int64))


# Behaviour, calibrated so that the headline metrics land in the seeds' bands (see tests/simulate).
APPLY_SHARE = 0.78
FIRST_DRAW_SHARE = 0.7
NEVER_DRAW_SHARE = 0.3
DISTRESS_DRAW_SHARE = 0.85
MONTHLY_CHURN = 0.025
TRANSIENT_MISS_RATE = 0.038
CURE_SHARE = 0.45
PREPAY_SHARE = 0.12
ADJUSTMENT_EVERY_MONTHS = 6
#: How strongly capital-heavy money leans towards the riskier borrowers (0: not at all, 1: fully).
RISK_TILT = 1.0

Progress = Callable[[str], None]


@dataclass
class _Batches:
    """Column arrays collected month by month, concatenated once at the end."""

    columns: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, **arrays: np.ndarray) -> None:
        for name, values in arrays.items():
            self.columns.setdefault(name, []).append(np.asarray(values))

    def done(self) -> dict[str, np.ndarray]:
        # merge one column at a time and drop its parts, so the peak is one column, not every column twice
        return {name: np.concatenate(self.columns.pop(name)) for name in list(self.columns)}


@dataclass(frozen=True)
class Book:
    """Everything the platform did, as column arrays keyed by the integer row of each entity."""

    applications: dict[str, np.ndarray]
    lines: dict[str, np.ndarray]
    loans: dict[str, np.ndarray]
    installments: dict[str, np.ndarray]
    horizon_days: int


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
) -> Book:
    start = np.datetime64(config.start, "D")
    month_start = (
        add_months(np.full(config.months + 1, start), np.arange(config.months + 1)) - start
    ).astype(np.int64)
    horizon = int(month_start[-1])
    n = pop.size
    year = config.start.year
    apps = _Batches()
    loans = _Batches()
    inst = _Batches()

    # --- credit-line applications, decided in one batch -----------------------------------------
    applies = (rng.random(n) < APPLY_SHARE) | pop.is_fraud
    apply_day = pop.registered_day + rng.geometric(0.6, n) - 1
    applies &= apply_day < horizon
    applicant = np.flatnonzero(applies)
    a_day = apply_day[applicant].astype(np.int64)
    a_second = np.minimum(pop.registered_second[applicant] + rng.integers(60, 3_600, applicant.size), 86_399)
    features = feature_frame(pop, applicant, a_day, year)
    decided = policy.decide_credit_lines(features)
    approved = decided["outcome"].to_numpy() == "approve"
    app_ids = np.arange(applicant.size, dtype=np.int64)
    apps.add(
        app=app_ids,
        borrower=applicant,
        day=a_day,
        second=a_second,
        stage=np.zeros(applicant.size, np.int8),
        requested_amount_minor=np.zeros(applicant.size, np.int64),
        requested_tenor=np.full(applicant.size, 12, np.int16),
        months_on_book=np.full(applicant.size, -1, np.int16),
        max_dpd=np.full(applicant.size, -1, np.int16),
        utilization=np.full(applicant.size, np.nan, np.float32),
        outcome=decided["outcome"].to_numpy(dtype=object),
        automated=decided["automated"].to_numpy(bool),
        score=decided["score"].to_numpy(float),
        pd=decided["pd"].to_numpy(float),
        grade=decided["grade"].to_numpy(dtype=object),
        credit_line_minor=decided["credit_line_minor"].to_numpy(np.int64),
        apr=decided["apr"].to_numpy(float),
        reason=decided["reason"].to_numpy(dtype=object),
    )
    next_app = applicant.size

    line_limit = np.zeros(n, np.int64)
    line_apr = np.zeros(n, np.float64)
    line_open_day = np.full(n, NEVER, np.int64)
    line_app = np.full(n, -1, np.int64)
    pd_estimate = np.full(n, np.nan)
    holders = applicant[approved]
    line_limit[holders] = decided["credit_line_minor"].to_numpy(np.int64)[approved]
    line_apr[holders] = decided["apr"].to_numpy(float)[approved]
    # a line opens when its application is decided; decided too late in the day for a drawdown to
    # follow it, it is first drawn on the next day
    decided_second = a_second[approved] + decision_latency(
        app_ids[approved], decided["automated"].to_numpy(bool)[approved], a_second[approved]
    )
    late = decided_second + 60 > LAST_DRAWDOWN_SECOND
    line_open_day[holders] = a_day[approved] + late
    line_decided = np.zeros((2, n), np.int64)  # day and second of each line's decision (its opened_at)
    line_decided[:, holders] = a_day[approved], decided_second
    first_draw_second = np.zeros(n, np.int64)  # the earliest second of the opening day a drawdown may start
    first_draw_second[holders] = np.where(late, 0, decided_second + 60)
    line_app[holders] = app_ids[approved]
    pd_estimate[holders] = decided["pd"].to_numpy(float)[approved]
    line_month = np.searchsorted(month_start, line_open_day, side="right") - 1
    last_adjusted_day = np.full(n, -1, np.int64)

    # --- each line holder's fate, drawn once -------------------------------------------------------
    hazard_per_day = -np.log1p(-np.minimum(pop.true_pd, 0.999)) / 365.0
    default_day = np.full(n, NEVER, np.int64)
    drawn = rng.exponential(1.0, n) / np.maximum(hazard_per_day, 1e-12)
    honest_default = ~pop.is_fraud & (drawn < 4 * 365)
    default_day[honest_default] = np.minimum(
        line_open_day[honest_default] + drawn[honest_default].astype(np.int64), NEVER
    )
    default_day[pop.is_fraud] = np.minimum(line_open_day[pop.is_fraud] + 1, NEVER)
    cures = ~pop.is_fraud & (rng.random(n) < CURE_SHARE)
    # days from the default to the cure: over half pay up within a month, the rest over the next six
    delay = np.select(
        [rng.random(n) < 0.55, rng.random(n) < 0.6],
        [rng.integers(3, 30, n), rng.integers(30, 120, n)],
        rng.integers(120, 200, n),
    )
    cure_day = np.where(cures & (default_day < NEVER), default_day + delay, NEVER)
    # some approved users never draw (the seeds: ~60 % of users with a line have drawn down)
    never_draws = ~pop.is_fraud & (rng.random(n) < NEVER_DRAW_SHARE)
    propensity = np.where(pop.is_fraud | never_draws, 0.0, rng.beta(1.5, 2.2, n))
    churn_month = rng.geometric(MONTHLY_CHURN, n) + np.maximum(line_month, 0)
    miss_rate = TRANSIENT_MISS_RATE * np.clip((pop.true_pd / 0.05) ** 0.6, 0.3, 3.0)

    outstanding = np.zeros(n, np.int64)
    paydown = np.zeros((config.months + 1) * n, np.int64)  # principal repaid, by (month, borrower)
    loans_count = np.zeros(n, np.int32)
    first_loan_day = np.full(n, -1, np.int64)
    max_late = np.zeros(n, np.int32)
    late_by_due_month: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [
        [] for _ in range(config.months + 1)
    ]
    next_loan = 0
    model_share = np.array(config.share_vector("funding_shares", FUNDING_MODELS))

    for m in range(config.months):
        progress(f"month {m + 1}/{config.months}")
        lo, hi = int(month_start[m]), int(month_start[m + 1])
        if m:
            outstanding -= paydown[(m - 1) * n : m * n]
        for borrowers_, due, late in late_by_due_month[m - 1] if m else []:
            np.maximum.at(max_late, borrowers_, np.minimum(late, lo - due).astype(np.int32))
        if m:
            late_by_due_month[m - 1] = []  # seen: free it
        has_line = (line_open_day < hi) & (line_limit > 0) & (churn_month > m)

        # --- line adjustments every six months on book -------------------------------------------------
        due_review = has_line & (line_month < m) & ((m - line_month) % ADJUSTMENT_EVERY_MONTHS == 0)
        reviewed = np.flatnonzero(due_review & (default_day >= lo))
        if reviewed.size:
            r_day = rng.integers(lo, hi, reviewed.size)
            mob = np.where(first_loan_day[reviewed] >= 0, (r_day - first_loan_day[reviewed]) // 30, -1)
            utilization = (outstanding[reviewed] / np.maximum(line_limit[reviewed], 1)).astype(np.float32)
            r_features = feature_frame(
                pop, reviewed, r_day, year, mob, np.where(mob >= 0, max_late[reviewed], -1), utilization
            )
            r_decided = policy.decide_line_adjustments(r_features, line_limit[reviewed])
            changed = r_decided["outcome"].to_numpy() == "approve"
            ids = np.arange(next_app, next_app + reviewed.size)
            next_app += reviewed.size
            apps.add(
                app=ids,
                borrower=reviewed,
                day=r_day,
                second=rng.integers(0, 86_400, reviewed.size),
                stage=np.full(reviewed.size, STAGES.index("line_adjustment"), np.int8),
                requested_amount_minor=line_limit[reviewed],
                requested_tenor=np.full(reviewed.size, 12, np.int16),
                months_on_book=mob.astype(np.int16),
                max_dpd=np.where(mob >= 0, max_late[reviewed], -1).astype(np.int16),
                utilization=utilization,
                outcome=r_decided["outcome"].to_numpy(dtype=object),
                automated=np.ones(reviewed.size, bool),
                score=np.full(reviewed.size, np.nan),
                pd=pd_estimate[reviewed],
                grade=np.full(reviewed.size, None, dtype=object),
                credit_line_minor=r_decided["credit_line_minor"].to_numpy(np.int64),
                apr=line_apr[reviewed],
                reason=r_decided["reason"].to_numpy(dtype=object),
            )
            line_limit[reviewed[changed]] = r_decided["credit_line_minor"].to_numpy(np.int64)[changed]
            last_adjusted_day[reviewed[changed]] = r_day[changed]

        # --- drawdown requests ------------------------------------------------------------------------------
        opening = has_line & (line_month == m)
        want = np.where(
            opening, np.where(pop.is_fraud, 1.0, np.where(never_draws, 0.0, FIRST_DRAW_SHARE)), propensity
        )
        # borrowers heading for default borrow hard in the two months before it
        distressed = ~pop.is_fraud & (default_day >= lo) & (default_day - lo < 60)
        want = np.where(distressed & (want > 0), DISTRESS_DRAW_SHARE, want)
        requesters = np.flatnonzero(has_line & (rng.random(n) < want))
        if requesters.size == 0:
            continue
        first_day = np.maximum(line_open_day[requesters], lo)
        d_day = np.where(
            opening[requesters],
            np.minimum(first_day + rng.geometric(0.3, requesters.size) - 1, hi - 1),
            first_day + (rng.random(requesters.size) * (hi - first_day)).astype(np.int64),
        )
        d_day = np.where(pop.is_fraud[requesters], first_day, d_day)
        limit = line_limit[requesters]
        # first drawdowns are smaller than repeat ones; fraudsters take nearly all they can
        share = np.where(
            loans_count[requesters] > 0,
            rng.beta(2.0, 2.5, requesters.size),
            rng.beta(1.5, 3.5, requesters.size),
        )
        share = np.where(distressed[requesters], rng.beta(4.0, 1.5, requesters.size), share)
        share = np.where(pop.is_fraud[requesters], 0.95, share)
        requested = np.maximum(np.round(limit * share / 100_00) * 100_00, 500_00).astype(np.int64)
        tenor = TENORS[rng.choice(TENORS.size, requesters.size, p=TENOR_WEIGHTS)]
        mob = np.where(first_loan_day[requesters] >= 0, (d_day - first_loan_day[requesters]) // 30, -1)
        worst = np.where(mob >= 0, max_late[requesters], -1)
        utilization = (outstanding[requesters] / np.maximum(limit, 1)).astype(np.float32)
        d_features = feature_frame(pop, requesters, d_day, year, mob, worst, utilization)
        d_features["requested_amount_minor"] = requested
        available = np.maximum(limit - outstanding[requesters], 0)
        delinquent = default_day[requesters] <= d_day
        d_decided = policy.decide_drawdowns(d_features, available, delinquent)
        ids = np.arange(next_app, next_app + requesters.size)
        next_app += requesters.size
        ok = d_decided["outcome"].to_numpy() == "approve"
        # uniform over the part of the day a drawdown may start in (after the line's decision on its
        # opening day); the draw is the one a seeded run always made, so every later draw is unchanged
        earliest = np.where(d_day == line_open_day[requesters], first_draw_second[requesters], 0)
        d_second = earliest + rng.integers(0, 86_400, requesters.size) % (LAST_DRAWDOWN_SECOND + 1 - earliest)
        apps.add(
            app=ids,
            borrower=requesters,
            day=d_day,
            second=d_second,
            stage=np.full(requesters.size, STAGES.index("drawdown"), np.int8),
            requested_amount_minor=requested,
            requested_tenor=tenor,
            months_on_book=mob.astype(np.int16),
            max_dpd=worst.astype(np.int16),
            utilization=utilization,
            outcome=d_decided["outcome"].to_numpy(dtype=object),
            automated=np.ones(requesters.size, bool),
            score=np.full(requesters.size, np.nan),
            pd=pd_estimate[requesters],
            grade=np.full(requesters.size, None, dtype=object),
            credit_line_minor=d_decided["credit_line_minor"].to_numpy(np.int64),
            apr=line_apr[requesters],
            reason=d_decided["reason"].to_numpy(dtype=object),
        )
        # --- book the approved drawdowns as loans ---------------------------------------------------------
        b = requesters[ok]
        count = b.size
        if count == 0:
            continue
        day = d_day[ok]
        principal = d_decided["credit_line_minor"].to_numpy(np.int64)[ok]
        loan_tenor = tenor[ok]
        apr = line_apr[b]
        model = _funding_model(rng, pd_estimate[b], model_share)
        institution = _institution(rng, model, institution_model, institution_capacity)
        loan_ids = np.arange(next_loan, next_loan + count)
        next_loan += count
        equal_principal = rng.random(count) < EQUAL_PRINCIPAL_SHARE
        # booked 1-300 s after the drawdown's decision (86,400 is a multiple of 300: the remainder is uniform)
        booked = (
            d_second[ok]
            + decision_latency(ids[ok], np.ones(count, bool), d_second[ok])
            + 1
            + rng.integers(0, 86_400, count) % 300
        )
        loans.add(
            loan=loan_ids,
            borrower=b,
            app=ids[ok],
            line_app=line_app[b],
            day=day,
            second=booked,
            principal=principal,
            apr=apr,
            tenor=loan_tenor,
            equal_principal=equal_principal,
            model=model,
            institution=institution,
            repeat=loans_count[b] > 0,
        )
        first_loan_day[b] = np.where(first_loan_day[b] < 0, day, first_loan_day[b])
        loans_count[b] += 1
        outstanding[b] += principal
        rate_ppm = rate_to_ppm(apr)
        schedules = build_schedules(principal, rate_ppm, loan_tenor, start + day, equal_principal)
        owner = b[schedules.loan]
        due_day = (schedules.due_date - start).astype(np.int64)
        paid_day, interest_paid = _repayment(
            rng,
            schedules,
            owner,
            due_day,
            day,
            rate_ppm,
            default_day,
            cure_day,
            miss_rate,
            pop.is_fraud,
            horizon,
        )
        inst.add(  # days and loan numbers fit in 32 bits; money stays int64
            loan=loan_ids[schedules.loan].astype(np.int32),
            seq=schedules.seq,
            due_day=due_day.astype(np.int32),
            principal_due=schedules.principal_due_minor,
            interest_due=schedules.interest_due_minor,
            interest_paid=interest_paid,
            paid_day=paid_day.astype(np.int32),
        )
        paid = paid_day < horizon
        paid_month = np.searchsorted(month_start, paid_day[paid], side="right") - 1
        np.add.at(paydown, paid_month * n + owner[paid], schedules.principal_due_minor[paid])
        due_month = np.searchsorted(month_start, due_day, side="right") - 1
        late = np.where(paid_day == NEVER, 10_000, paid_day - due_day).astype(np.int64)
        for month in np.unique(due_month[due_month < config.months]):
            pick = due_month == month
            late_by_due_month[month].append(
                (owner[pick].astype(np.int32), due_day[pick].astype(np.int32), late[pick].astype(np.int32))
            )

    lines = {
        "borrower": np.flatnonzero(line_app >= 0),
    }
    lines.update(
        app=line_app[lines["borrower"]],
        limit=line_limit[lines["borrower"]],
        apr=line_apr[lines["borrower"]],
        decided_day=line_decided[0, lines["borrower"]],
        decided_second=line_decided[1, lines["borrower"]],
        last_adjusted_day=last_adjusted_day[lines["borrower"]],
        frozen=default_day[lines["borrower"]] < horizon,
    )
    return Book(apps.done(), lines, loans.done(), inst.done(), horizon)


def _funding_model(rng: np.random.Generator, pd_estimate: np.ndarray, share: np.ndarray) -> np.ndarray:
    """The placeholder allocation (matching replaces it): a funding model drawn by volume share, tilted by risk.

    Risk-bearing (capital-heavy) money takes more of the riskier half of each
    batch and platform-service partners more of the safer half. The tilt is
    linear in the PD rank and balanced across models, so each model keeps its
    share of loans in expectation.
    """
    ranks = np.argsort(np.argsort(np.nan_to_num(pd_estimate, nan=0.05), kind="stable"), kind="stable")
    centred = (ranks + 0.5) / max(pd_estimate.size, 1) * 2.0 - 1.0  # in (-1, 1), riskier is higher
    risk_bearing = np.isin(np.array(FUNDING_MODELS), RISK_BEARING_MODELS)
    heavy = share[risk_bearing].sum()
    tilt = np.where(risk_bearing, RISK_TILT, -RISK_TILT * heavy / max(1.0 - heavy, 1e-9))
    weights = share[None, :] * (1.0 + np.clip(tilt, -1, 1)[None, :] * centred[:, None])
    weights /= weights.sum(axis=1, keepdims=True)
    return (weights.cumsum(axis=1) > rng.random((pd_estimate.size, 1))).argmax(axis=1).astype(np.int8)


def _institution(
    rng: np.random.Generator, model: np.ndarray, institution_model: np.ndarray, capacity: np.ndarray
) -> np.ndarray:
    """A partner of the loan's funding model, chosen in proportion to its capacity."""
    chosen = np.empty(model.size, np.int64)
    for m in np.unique(model):
        members = np.flatnonzero(institution_model == m)
        weights = capacity[members] / capacity[members].sum()
        pick = model == m
        chosen[pick] = members[rng.choice(members.size, pick.sum(), p=weights)]
    return chosen


def _repayment(
    rng: np.random.Generator,
    schedules,
    owner: np.ndarray,
    due_day: np.ndarray,
    originated_day: np.ndarray,
    rate_ppm: np.ndarray,
    default_day: np.ndarray,
    cure_day: np.ndarray,
    miss_rate: np.ndarray,
    is_fraud: np.ndarray,
    horizon: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The day each installment is settled (NEVER if not by the horizon) and the interest actually paid."""
    rows = due_day.size
    paid_day = due_day.copy()
    transient = rng.random(rows) < miss_rate[owner]
    paid_day[transient] += np.minimum(rng.geometric(0.3, transient.sum()), 28)
    t_default, t_cure = default_day[owner], cure_day[owner]
    in_default = (due_day >= t_default) & (due_day < t_cure)
    paid_day = np.where(in_default, np.where(t_cure < NEVER, t_cure, NEVER), paid_day)
    paid_day = np.where(is_fraud[owner], NEVER, paid_day)

    # early settlement: on a day between origination and the last due date, before any default
    loan = schedules.loan
    loans = int(loan.max(initial=-1)) + 1
    last_due = np.zeros(loans, np.int64)
    np.maximum.at(last_due, loan, due_day)
    first_owner = np.zeros(loans, np.int64)
    first_owner[loan] = owner
    span = last_due - originated_day
    prepay_day = originated_day + 15 + (rng.random(loans) * np.maximum(span - 16, 1)).astype(np.int64)
    prepays = (rng.random(loans) < PREPAY_SHARE) & (prepay_day < default_day[first_owner]) & (span > 16)
    settle = np.where(prepays, prepay_day, NEVER)[loan]
    settled_early = settle < paid_day
    paid_day = np.minimum(paid_day, settle)
    # interest on installments settled early: what accrued up to the settlement day, as the ledger
    # charges it (ACT/365 on the principal outstanding in that period); none for later periods
    previous_due = np.where(schedules.seq == 1, originated_day[loan], np.roll(due_day, 1))
    principal = schedules.principal_due_minor
    first_row = np.flatnonzero(schedules.seq == 1)
    principal_after = np.cumsum(principal[::-1])[::-1]  # principal of this row and every later row ...
    next_loan_start = np.append(first_row[1:], principal.size)
    tail = np.append(principal_after, 0)[next_loan_start]  # ... less what belongs to the next loans
    balance_before = principal_after - np.repeat(tail, np.diff(np.append(first_row, principal.size)))
    containing = settled_early & (previous_due < settle) & (settle < due_day)
    accrued = mul_rate_array(
        balance_before, rate_ppm[loan] * np.maximum(settle - previous_due, 0), 365, rounding=Rounding.HALF_UP
    )
    interest_paid = np.where(
        settled_early & (due_day > settle), np.where(containing, accrued, 0), schedules.interest_due_minor
    )
    unknown = paid_day >= horizon
    paid_day = np.where(unknown, NEVER, paid_day)
    interest_paid = np.where(unknown, 0, interest_paid)
    return paid_day, interest_paid
