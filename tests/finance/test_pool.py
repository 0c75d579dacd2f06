"""An ABS pool from a simulated book: eligibility and caps hold, the projection keeps every unit, the deal ties."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from creditmesh.errors import ParameterError
from creditmesh.finance.abs import securitise
from creditmesh.finance.deal import Deal, run_waterfall
from creditmesh.finance.pool import (
    EligibilityCriteria,
    book_curves,
    project_pool,
    scenario_curves,
    select_pool,
)
from creditmesh.portfolio import Book
from creditmesh.simulate import SimulationConfig, simulate

CUTOFF = date(2024, 6, 30)
CRITERIA = EligibilityCriteria(max_borrower_share=0.02, max_region_share=0.2)


@pytest.fixture(scope="module")
def book():
    simulated = simulate(SimulationConfig(borrowers=3000, months=24, seed=7))
    with Book.from_frames(**simulated.tables) as opened:
        yield opened


def test_the_pool_holds_only_eligible_loans_within_the_caps(book):
    pool = select_pool(book, CUTOFF, CRITERIA)
    loans = pool.loans
    assert len(loans) > 100
    assert set(loans["funding_model"]) == {"capital_heavy_on"}
    assert (loans["dpd"] == 0).all() and (loans["remaining_months"] >= 1).all()
    shares = pool.concentration()
    assert shares["largest_borrower_share"] <= 0.02 and shares["largest_region_share"] <= 0.2
    # the grouped schedule holds the pool's principal: due within the horizon, the rest after it
    assert pool.scheduled_principal.sum() <= pool.balance_minor
    strict = select_pool(book, CUTOFF, EligibilityCriteria(max_borrower_share=0.02, max_region_share=0.1))
    assert strict.concentration()["largest_region_share"] <= 0.1 and strict.balance_minor < pool.balance_minor


def test_without_defaults_or_prepayments_the_projection_is_the_schedule(book):
    pool = select_pool(book, CUTOFF, CRITERIA)
    ages = 61
    zero = np.zeros((1, ages))
    flows = project_pool(pool, zero, zero)
    assert (flows.interest[0] == pool.scheduled_interest.sum(axis=0)).all()
    assert (flows.scheduled_principal[0] == pool.scheduled_principal.sum(axis=0)).all()
    assert flows.closing_balance[0, -1] == pool.balance_minor - pool.scheduled_principal.sum()


def test_the_books_curves_are_hazards_and_scenario_0_is_the_book(book):
    curves = book_curves(book, CUTOFF)
    assert ((curves.default >= 0) & (curves.default <= 1)).all() and curves.default.sum() > 0
    assert ((curves.prepayment >= 0) & (curves.prepayment <= 1)).all() and curves.prepayment.sum() > 0
    defaults, prepayments = scenario_curves(curves, 20, seed=1)
    assert (defaults[0] == curves.default).all() and (prepayments[0] == curves.prepayment).all()
    assert defaults.std(axis=0).max() > 0
    with pytest.raises(ParameterError, match="scenarios"):
        scenario_curves(curves, 0)


def test_projected_tranche_cash_flows_sum_to_the_pools_and_losses_fall_on_the_juniors(book):
    report = securitise(
        book, CUTOFF, criteria=CRITERIA, scenarios=50, trust_balance_minor=10**8, trust_rate=0.05
    )
    result = report.waterfall
    assert result.problems() == []
    assert (result.paid() == result.pool.collections).all()
    table = result.tranche_table().set_index("tranche")
    assert table.loc["senior", "expected_loss"] <= table.loc["mezzanine", "expected_loss"]
    assert table.loc["mezzanine", "expected_loss"] <= table.loc["subordinated", "expected_loss"]
    assert table.loc["senior", "wal_years"] < table.loc["mezzanine", "wal_years"]
    summary = report.summary()
    assert summary["loans"] == len(report.pool.loans) and summary["scenarios"] == 50
    assert report.abs_cost < report.blended_funding_cost < 0.05
    # three times the defaults never leave the subordinated tranche better off than the book's own curves
    base_d, base_p = scenario_curves(report.curves, 1)
    deal = Deal.sized(report.pool.balance_minor)
    base = run_waterfall(deal, project_pool(report.pool, base_d, base_p))
    worse = run_waterfall(deal, project_pool(report.pool, np.minimum(3 * base_d, 1), base_p))
    assert worse.problems() == []
    assert worse.balance["subordinated"][0, -1] >= base.balance["subordinated"][0, -1]
    assert worse.excess_spread.sum() <= base.excess_spread.sum()


def test_caps_no_book_can_meet_are_refused_by_name(book):
    assert select_pool(book, CUTOFF, EligibilityCriteria(max_borrower_share=0.0001)).loans.empty
    with pytest.raises(ParameterError, match="criteria"):
        securitise(book, CUTOFF, criteria=EligibilityCriteria(max_borrower_share=0.0001), scenarios=2)
