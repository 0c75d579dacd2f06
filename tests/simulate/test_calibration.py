"""The default platform on creditmesh's engines lands in the bands the seeds disclose (Q4 2024), on three seeds;
without collections the 30-day collection rate falls and more of the book is 90 days past due.

The engines are what ``creditmesh simulate`` runs by default: the decision engine with the shipped champion
policy and a model trained on a burn-in, the graph's fraud check at arrival, the ICE matcher's router with
partner capacity sized to the platform's volume, and the shipped collections strategy. Behaviour checks on
seeded runs of 100,000 borrowers over 24 months, not timings. The bands are the issue's (#14): wide enough
for sampling noise at this size, narrow enough that a change to the simulator's behaviour or to an engine
that breaks the calibration shows up here.
"""

import datetime as dt
import functools

import pytest

from creditmesh.collections.simulation import shipped_collector
from creditmesh.decision.simulator import EnginePolicy, engine_policy_after_burn_in
from creditmesh.matching.simulation import MatcherAllocation
from creditmesh.portfolio import Book, headline
from creditmesh.portfolio.ecl import expected_credit_loss
from creditmesh.portfolio.rollrates import roll_rates
from creditmesh.simulate import SimulationConfig, simulate

BANDS = {
    "day1_delinquency_rate": (0.04, 0.05),
    "collection_rate_30d": (0.86, 0.89),
    "delinquency_rate_90_plus": (0.018, 0.022),
    "repeat_borrower_contribution": (0.91, 0.95),
    "weighted_average_tenor_months": (10.0, 11.5),
    "platform_services_volume_share": (0.53, 0.60),
    # the seeds: "99.3 % of credit applications are reviewed and audited automatically"
    "credit_line_automation": (0.993, 1.0),
}
SEEDS = (7, 8, 9)
BORROWERS = 100_000
BOOK_TABLES = ("institutions", "borrowers", "credit_lines", "loans", "installments")


@functools.cache
def _engine(seed: int):
    """The decision engine after the burn-in (trained once a seed, shared by the runs with and without
    collections)."""
    return engine_policy_after_burn_in(SimulationConfig(borrowers=BORROWERS, seed=seed)).engine


@functools.cache
def _figures(seed: int, collected: bool) -> dict:
    config = SimulationConfig(borrowers=BORROWERS, seed=seed)
    result = simulate(
        config,
        policy=EnginePolicy(_engine(seed)),
        funding=MatcherAllocation,
        collector=shipped_collector() if collected else None,
    )
    with Book.from_frames(**{name: result.tables[name] for name in BOOK_TABLES}) as book:
        figures = headline(book)
        matrix = roll_rates(book, dt.date(2023, 1, 1), dt.date(2024, 12, 31), n_boot=0)
        figures["cure_31_60"] = float(matrix.rates.at["31-60", "current"])
        figures["lgd"] = expected_credit_loss(book, dt.date(2024, 12, 31)).lgd
    decisions = result.tables["decisions"].to_pandas()
    stage = result.tables["applications"].to_pandas().set_index("application_id")["stage"]
    lines = (stage.loc[decisions["application_id"]] == "credit_line").to_numpy()
    figures["credit_line_automation"] = float(decisions.loc[lines, "automated"].mean())
    figures["policy_version"] = set(decisions["policy_version"])
    return figures


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_the_platform_on_the_engines_lands_in_the_seed_bands(seed):
    figures = _figures(seed, True)
    assert figures["period_start"] == "2024-10-01" and figures["as_of"] == "2024-12-31"
    assert figures["policy_version"] == {_engine(seed).champion.version}  # the engine decided, not the rule
    outside = {
        name: round(figures[name], 4)
        for name, (low, high) in BANDS.items()
        if not low <= figures[name] <= high
    }
    assert not outside, f"seed {seed}: outside the seeds' bands: {outside}"


@pytest.mark.slow
def test_without_collections_less_is_collected_and_more_is_90_days_late():
    collected, uncollected = _figures(SEEDS[0], True), _figures(SEEDS[0], False)
    assert uncollected["collection_rate_30d"] < collected["collection_rate_30d"] - 0.02
    assert uncollected["delinquency_rate_90_plus"] > collected["delinquency_rate_90_plus"]
    assert uncollected["cure_31_60"] < collected["cure_31_60"] or uncollected["lgd"] > collected["lgd"]


@pytest.mark.slow
def test_agencies_recover_part_of_what_is_charged_off():
    collected, uncollected = _figures(SEEDS[0], True), _figures(SEEDS[0], False)
    # the recovery assumption (simulate.collections.Response): about a fifth within a year with an agency
    assert 0.6 < collected["lgd"] < 0.9
    assert collected["lgd"] < uncollected["lgd"] < 1.0
