"""The default platform, collected by the shipped strategy, lands in the bands the seeds disclose (Q4 2024);
without collections the 30-day collection rate falls and more of the book is 90 days past due.

A behaviour check on one seeded run, not a timing. The bands are the issue's:
wide enough for sampling noise at this size, narrow enough that a change to
the simulator's behaviour that breaks the calibration shows up here.
"""

import datetime as dt

import pytest

from creditmesh.collections.simulation import shipped_collector
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
}
BOOK_TABLES = ("institutions", "borrowers", "credit_lines", "loans", "installments")
CONFIG = SimulationConfig(borrowers=100_000, seed=7)


def _figures(result) -> dict:
    with Book.from_frames(**{name: result.tables[name] for name in BOOK_TABLES}) as book:
        figures = headline(book)
        matrix = roll_rates(book, dt.date(2023, 1, 1), dt.date(2024, 12, 31), n_boot=0)
        figures["cure_31_60"] = float(matrix.rates.at["31-60", "current"])
        figures["lgd"] = expected_credit_loss(book, dt.date(2024, 12, 31)).lgd
    return figures


@pytest.fixture(scope="module")
def collected() -> dict:
    return _figures(simulate(CONFIG, collector=shipped_collector()))


@pytest.fixture(scope="module")
def uncollected() -> dict:
    return _figures(simulate(CONFIG))


@pytest.mark.slow
def test_default_platform_lands_in_the_seed_bands(collected):
    assert collected["period_start"] == "2024-10-01" and collected["as_of"] == "2024-12-31"
    outside = {
        name: round(collected[name], 4)
        for name, (low, high) in BANDS.items()
        if not low <= collected[name] <= high
    }
    assert not outside, f"outside the seeds' bands: {outside}"


@pytest.mark.slow
def test_without_collections_less_is_collected_and_more_is_90_days_late(collected, uncollected):
    assert uncollected["collection_rate_30d"] < collected["collection_rate_30d"] - 0.02
    assert uncollected["delinquency_rate_90_plus"] > collected["delinquency_rate_90_plus"]
    assert uncollected["cure_31_60"] < collected["cure_31_60"] or uncollected["lgd"] > collected["lgd"]


@pytest.mark.slow
def test_agencies_recover_part_of_what_is_charged_off(collected, uncollected):
    # the recovery assumption (simulate.collections.Response): about a fifth within a year with an agency
    assert 0.6 < collected["lgd"] < 0.9
    assert collected["lgd"] < uncollected["lgd"] < 1.0
