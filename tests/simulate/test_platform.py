"""The month loop's phases and state: the invariants each one keeps, and the seams a real engine plugs into."""

from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditmesh.delinquency import CHARGE_OFF_DPD
from creditmesh.money import rate_to_ppm
from creditmesh.schedules import build_schedules
from creditmesh.schema import STAGES
from creditmesh.simulate.allocation import ShareAllocation, funding_model
from creditmesh.simulate.behaviour import draw_fates, opening_balance_minor, period_start_day, settlement
from creditmesh.simulate.collections import CollectionWorld, Response
from creditmesh.simulate.config import SimulationConfig
from creditmesh.simulate.institutions import draw_institutions
from creditmesh.simulate.platform import run_platform, settled_installments, start_month
from creditmesh.simulate.policy import RulePolicy
from creditmesh.simulate.population import draw_population
from creditmesh.simulate.state import (
    NEVER,
    BookedLoans,
    Calendar,
    Drawdowns,
    Exposure,
    Fates,
    Lines,
    PlatformState,
    Rows,
)

CONFIG = SimulationConfig(borrowers=3_000, months=12, seed=5)


def _run(config=CONFIG, policy=None, allocation=None) -> tuple[SimpleNamespace, np.ndarray]:
    """A book straight from the month loop (its batches merged into whole columns, strings as objects, the
    installments as settled), and each institution's funding model."""
    rng = np.random.default_rng(config.seed)
    pop = draw_population(rng, config, Calendar.of(config).horizon)
    institutions, institution_model = draw_institutions(rng, config.institutions)
    capacity = institutions["monthly_capacity_minor"].to_numpy().astype(np.float64)
    book = run_platform(
        rng, config, pop, policy or RulePolicy(), institution_model, capacity, lambda _: None, allocation
    )
    installments = Rows()
    for batch in settled_installments(book):
        installments.add(**batch)

    def merged(rows: Rows) -> dict[str, np.ndarray]:
        return {
            name: values.to_numpy(zero_copy_only=False) if isinstance(values, pa.Array) else values
            for name, values in rows.done().items()
        }

    merged_book = SimpleNamespace(
        applications=merged(book.applications),
        loans=merged(book.loans),
        installments=merged(installments),
        horizon_days=book.horizon_days,
    )
    return merged_book, institution_model


@pytest.fixture(scope="module")
def book() -> SimpleNamespace:
    return _run()[0]


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    months=st.integers(min_value=1, max_value=40),
)
def test_the_calendar_months_cover_every_day_once(start, months):
    calendar = Calendar.of(SimulationConfig(borrowers=10, months=months, start=start))
    assert calendar.months == months and calendar.year == start.year
    day = np.arange(calendar.horizon + 3)
    month = calendar.month_of(day)
    assert (np.diff(month) >= 0).all() and month[0] == 0 and (month[calendar.horizon :] == months).all()
    for m in range(months):
        first, after = calendar.bounds(m)
        assert (month[first:after] == m).all() and 28 <= after - first <= 31


def _rows(sizes: list[int]) -> Rows:
    """Rows added in batches of ``sizes``: each row's number, its batch's size and a word."""
    rows = Rows()
    for size in sizes:
        ids = rows.next_ids(size)
        rows.add(row=ids, size=np.full(size, size), word=np.array([f"w{i}" for i in ids], dtype=object))
    return rows


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=20), max_size=8))
def test_rows_are_numbered_in_the_order_they_are_added(sizes):
    rows = _rows(sizes)
    if sizes:
        done = rows.done()
        assert (done["row"] == np.arange(sum(sizes))).all()
        assert (done["size"] == np.repeat(sizes, sizes)).all()
    assert rows.count == sum(sizes)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=20), max_size=8))
def test_rows_hand_over_their_batches_in_order_once_with_strings_as_arrow(sizes):
    rows = _rows(sizes)
    assert rows.largest("row") == sum(sizes) - 1
    batches = list(rows.batches())
    assert [batch["row"].size for batch in batches] == sizes
    assert all(isinstance(batch["word"], pa.StringArray) for batch in batches)
    if sizes:
        assert np.concatenate([b["row"] for b in batches]).tolist() == list(range(sum(sizes)))
        assert sum((b["word"].to_pylist() for b in batches), []) == [f"w{i}" for i in range(sum(sizes))]
    assert list(rows.batches()) == [] and rows.count == sum(sizes)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=500_00, max_value=200_000_00),
            st.sampled_from([3, 6, 9, 12, 18, 24]),
            st.sampled_from([0.0, 0.12, 0.24, 0.36]),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_each_period_accrues_on_the_principal_not_yet_repaid(loans):
    principal, tenor, apr, flat = (np.array(column) for column in zip(*loans, strict=True))
    originated = np.full(principal.size, np.datetime64("2024-01-31"))
    schedules = build_schedules(principal, rate_to_ppm(apr), tenor, originated, flat)
    opening = opening_balance_minor(schedules)
    for k in range(principal.size):
        rows = schedules.loan == k
        due = schedules.principal_due_minor[rows]
        assert opening[rows][0] == principal[k]
        assert (opening[rows] == principal[k] - np.concatenate(([0], np.cumsum(due)[:-1]))).all()
    due_day = (schedules.due_date - np.datetime64("2024-01-01")).astype(np.int64)
    starts = period_start_day(schedules, due_day, np.full(principal.size, 30))
    assert (starts[schedules.seq == 1] == 30).all()
    assert (starts[schedules.seq > 1] == due_day[np.flatnonzero(schedules.seq > 1) - 1]).all()


def _state_with_installments(due_day: np.ndarray, paid_day: np.ndarray) -> PlatformState:
    """A state whose only borrower has installments due in month 0, paid as given."""
    config = SimulationConfig(borrowers=1, months=3)
    exposure = Exposure.empty(1, config.months)
    borrower = np.zeros(due_day.size, np.int32)
    exposure.due_by_month[0].append((borrower, due_day.astype(np.int32), paid_day.astype(np.int32)))
    rng = np.random.default_rng(0)
    pop = draw_population(rng, config, Calendar.of(config).horizon)
    lines = Lines.none(1, config.months)
    fates = draw_fates(rng, pop, lines)
    return PlatformState(Calendar.of(config), pop, lines, fates, exposure, Rows(), Rows(), Rows())


@pytest.mark.parametrize("dpd", [0, 1, 30, 31, 90, 91, CHARGE_OFF_DPD - 1, CHARGE_OFF_DPD])
def test_applicants_report_how_late_each_installment_was_at_the_month_start(dpd):
    # month 1 of a simulation starting 2023-01-01 begins on day 31 (February 1st)
    state = _state_with_installments(np.array([31 - dpd, 30]), np.array([NEVER, 30]))
    start_month(state, 1)
    assert state.exposure.max_dpd[0] == dpd
    assert state.exposure.due_by_month[0] == []  # seen, and freed


def test_an_installment_paid_late_counts_the_days_it_was_late_and_one_paid_early_none():
    state = _state_with_installments(np.array([0, 5, 10]), np.array([12, 3, 10]))
    start_month(state, 1)
    assert state.exposure.max_dpd[0] == 12


def test_applications_report_the_worst_dpd_each_installment_showed_the_month_after_it_fell_due(book):
    # an installment's lateness is looked at once, on the first day of the month after its due month
    # (so max_dpd_on_book stays under about two months even for a loan never repaid)
    calendar = Calendar.of(CONFIG)
    apps = pd.DataFrame({k: book.applications[k] for k in ("borrower", "day", "stage", "max_dpd")})
    apps = apps[apps["max_dpd"] >= 0]
    assert (apps["stage"] != STAGES.index("credit_line")).all()
    installments = pd.DataFrame({k: book.installments[k] for k in ("loan", "due_day", "paid_day")})
    installments["borrower"] = book.loans["borrower"][installments["loan"]]
    by_borrower = dict(tuple(installments.groupby("borrower")))
    for borrower, day, _, reported in apps.sample(400, random_state=0).itertuples(index=False):
        month_start = calendar.month_start[calendar.month_of(day)]
        rows = by_borrower.get(borrower, installments.iloc[:0])
        rows = rows[rows["due_day"] < month_start]
        seen_on = calendar.month_start[calendar.month_of(rows["due_day"]) + 1]
        late = np.minimum(rows["paid_day"], seen_on) - rows["due_day"]
        assert reported == max(int(late.max()) if len(rows) else 0, 0)


def test_installments_are_paid_by_the_horizon_or_never_and_never_pay_more_interest_than_due(book):
    paid, horizon = book.installments["paid_day"], book.horizon_days
    assert ((paid == NEVER) | (paid < horizon)).all()
    assert (book.installments["interest_paid"] >= 0).all()
    assert (book.installments["interest_paid"] <= book.installments["interest_due"]).all()
    assert (book.installments["interest_paid"][paid == NEVER] == 0).all()


@settings(max_examples=40, deadline=None)
@given(
    pd_estimate=st.lists(
        st.floats(min_value=0.0, max_value=0.5) | st.just(float("nan")), min_size=1, max_size=60
    ),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_each_loan_is_funded_by_a_partner_of_its_funding_model(pd_estimate, seed):
    _, institution_model = draw_institutions(np.random.default_rng(1), CONFIG.institutions)
    capacity = np.random.default_rng(2).uniform(1, 10, institution_model.size)
    allocation = ShareAllocation(np.array([0.13, 0.39, 0.18, 0.26, 0.04]), institution_model, capacity)
    count = len(pd_estimate)
    drawdowns = Drawdowns(*(np.zeros(count, np.int64) for _ in range(7)), np.array(pd_estimate))
    model, institution = allocation.allocate(np.random.default_rng(seed), drawdowns)
    assert model.dtype == np.int8 and institution.shape == (count,)
    assert (institution_model[institution] == model).all()


@pytest.mark.parametrize("share", [[0.13, 0.39, 0.18, 0.26, 0.04], [0.10, 0.30, 0.20, 0.30, 0.10]])
def test_funding_models_keep_about_their_share_of_loans_whatever_the_risk_tilt(share):
    share = np.array(share)
    pd_estimate = np.random.default_rng(3).uniform(0.0, 0.2, 200_000)
    model = funding_model(np.random.default_rng(4), pd_estimate, share)
    drawn = np.bincount(model, minlength=share.size) / model.size
    # exactly in expectation while capital-heavy money is at most half; above, the tilt is clipped and
    # the capital-heavy models keep ~98.7 % of their share (0.39 -> 0.385 at the defaults)
    assert np.abs(drawn - share).max() < (0.008 if share[:2].sum() > 0.5 else 0.004)
    # risk-bearing money leans towards the riskier borrowers
    assert pd_estimate[model <= 1].mean() > pd_estimate[model >= 2].mean()


class _DeclineDrawdowns(RulePolicy):
    version = "decline-drawdowns"

    def decide_drawdowns(self, applications, available_minor, delinquent):
        decided = super().decide_drawdowns(applications, available_minor, delinquent)
        return decided.assign(outcome="decline", credit_line_minor=0, reason="declined")


def test_a_policy_put_in_the_drawdown_decision_decides_every_drawdown():
    small = SimulationConfig(borrowers=600, months=4, seed=2)
    book, _ = _run(small, policy=_DeclineDrawdowns())
    stage = book.applications["stage"]
    assert (stage == STAGES.index("drawdown")).any()
    assert (book.applications["outcome"][stage == STAGES.index("drawdown")] == "decline").all()
    assert book.loans == {} and all(column.size == 0 for column in book.installments.values())


class _OnePartner:
    """Every loan to the first partner of the first funding model."""

    def __init__(self, institution_model):
        self.partner = int(np.flatnonzero(institution_model == 0)[0])

    def allocate(self, rng, drawdowns):
        return np.zeros(drawdowns.size, np.int8), np.full(drawdowns.size, self.partner, np.int64)


def test_an_allocation_put_in_the_funding_phase_funds_every_loan():
    small = SimulationConfig(borrowers=600, months=4, seed=2)
    _, institution_model = _run(small)
    book, _ = _run(small, allocation=_OnePartner(institution_model))
    assert book.loans["loan"].size > 0
    assert (book.loans["model"] == 0).all()
    assert (book.loans["institution"] == _OnePartner(institution_model).partner).all()


def _booked(principal, tenor, apr, originated_day, owner_of_loan) -> BookedLoans:
    start = np.datetime64("2023-01-01")
    rate_ppm = rate_to_ppm(np.array(apr))
    day = np.array(originated_day, np.int64)
    schedules = build_schedules(np.array(principal), rate_ppm, np.array(tenor), start + day)
    due_day = (schedules.due_date - start).astype(np.int64)
    owner = np.array(owner_of_loan)[schedules.loan]
    return BookedLoans(np.arange(day.size), owner, day, rate_ppm, schedules, due_day)


def _fates(default_day) -> Fates:
    n = len(default_day)
    return Fates(np.array(default_day, np.int64), np.zeros(n, bool), np.zeros(n), np.full(n, 99, np.int64))


def _repay(
    booked: BookedLoans, default_day, seed: int, horizon: int, *, fraud=None, response: Response | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Book ``booked`` into a world (no transient misses unless ``response`` says so), run it to the horizon
    with nobody collecting: each installment's payment day (NEVER if unpaid) and the interest it paid."""
    fates = _fates(default_day)
    settle, interest = settlement(np.random.default_rng(seed), booked, fates.default_day)
    n = fates.default_day.size
    world = CollectionWorld(
        seed,
        fates.default_day,
        np.full(n, 0.05),
        np.zeros(n, bool) if fraud is None else np.asarray(fraud),
        response or Response(miss_rate=0.0),
    )
    count = np.bincount(booked.schedules.loan, minlength=booked.loan.size)
    owner = booked.owner[np.cumsum(count) - count]
    world.add_loans(owner, count, booked.due_day, booked.schedules.principal_due_minor, settle_day=settle)
    for day in range(horizon):
        world.step(day, None)
    paid = world.rows["paid_on"].astype(np.int64)
    paid = np.where(paid < horizon, paid, NEVER)
    return paid, np.where(paid < NEVER, interest, 0)


@settings(max_examples=60, deadline=None)
@given(
    loans=st.lists(
        st.tuples(
            st.integers(min_value=500_00, max_value=50_000_00),
            st.sampled_from([3, 6, 12, 24]),
            st.sampled_from([0.0, 0.15, 0.24]),
            st.integers(min_value=0, max_value=300),
        ),
        min_size=1,
        max_size=8,
    ),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_a_borrower_who_never_defaults_pays_on_time_or_settles_the_rest_at_once(loans, seed):
    principal, tenor, apr, day = zip(*loans, strict=True)
    booked = _booked(principal, tenor, apr, day, np.arange(len(loans)))
    paid, interest = _repay(booked, [NEVER] * len(loans), seed, 1_200)
    due, schedules = booked.due_day, booked.schedules
    assert (paid <= due).all()
    for k in range(len(loans)):
        rows = schedules.loan == k
        early = paid[rows] < due[rows]
        # a settlement pays every installment from the one it falls in onwards, on one day
        assert (early == np.maximum.accumulate(early)).all()
        assert np.unique(paid[rows][early]).size <= 1
        assert (interest[rows][~early] == schedules.interest_due_minor[rows][~early]).all()
        assert (interest[rows][early] <= schedules.interest_due_minor[rows][early]).all()
        assert (interest[rows][early][1:] == 0).all()


@settings(max_examples=40, deadline=None)
@given(
    default_after=st.integers(min_value=0, max_value=200),
    persuadable=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_installments_falling_due_in_default_are_paid_together_at_a_cure_or_never(
    default_after, persuadable, seed
):
    booked = _booked([12_000_00], [12], [0.18], [10], [0])
    default_day = 10 + default_after
    response = Response(miss_rate=0.0, default_persuadable_share=float(persuadable), recovery_own_daily=0.0)
    paid, interest = _repay(booked, [default_day], seed, 800, response=response)
    due = booked.due_day
    in_default = due >= default_day
    settled_before = paid[in_default] < default_day  # a loan settled early, before the default
    assert np.unique(paid[in_default][settled_before]).size <= 1
    missed = in_default & (paid > due)
    if not persuadable:  # never: nothing that fell due in the default is paid (nobody recovers it here)
        assert (paid[missed] == NEVER).all()
    else:  # a cure pays everything overdue on one day; what falls due after it is paid on time
        cured = paid[missed]
        assert cured.size == 0 or (cured[cured < NEVER] == cured.min()).all()
        assert (
            paid[in_default & (due > cured.min(initial=NEVER))]
            <= due[in_default & (due > cured.min(initial=NEVER))]
        ).all()
    assert (interest[paid == NEVER] == 0).all()
    assert (paid[~in_default] <= due[~in_default]).all()


def test_a_fraudster_never_pays_and_nothing_is_paid_after_the_horizon():
    booked = _booked([5_000_00, 5_000_00], [6, 6], [0.24, 0.24], [0, 0], [0, 1])
    paid, interest = _repay(booked, [1, NEVER], 1, 100, fraud=[True, False], response=Response(miss_rate=1.0))
    fraud = booked.owner == 0
    assert (paid[fraud] == NEVER).all() and (interest[fraud] == 0).all()
    assert ((paid[~fraud] < 100) | (paid[~fraud] == NEVER)).all()
    assert (paid[~fraud][booked.due_day[~fraud] >= 100] == NEVER).all()
