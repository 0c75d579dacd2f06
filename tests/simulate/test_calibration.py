"""The default platform lands in the bands the seeds disclose (Q4 2024).

A behaviour check on one seeded run, not a timing. The bands are the issue's:
wide enough for sampling noise at this size, narrow enough that a change to
the simulator's behaviour that breaks the calibration shows up here.
"""

import pytest

from creditmesh.portfolio import Book, headline
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


@pytest.mark.slow
def test_default_platform_lands_in_the_seed_bands():
    result = simulate(SimulationConfig(borrowers=100_000, seed=7))
    with Book.from_frames(**{name: result.tables[name] for name in BOOK_TABLES}) as book:
        figures = headline(book)
    assert figures["period_start"] == "2024-10-01" and figures["as_of"] == "2024-12-31"
    outside = {
        name: round(figures[name], 4)
        for name, (low, high) in BANDS.items()
        if not low <= figures[name] <= high
    }
    assert not outside, f"outside the seeds' bands: {outside}"
