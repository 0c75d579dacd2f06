"""The back-test runs the simulated platform's own servicing world: replayed under the collector the platform
had, every installment is paid on the day the platform's book shows (a small book, about 5 s)."""

import datetime as dt

import numpy as np
import pyarrow.compute as pc
import pytest

from creditmesh.collections.backtest import (
    _seed_rates,
    last_days,
    simulated_book,
    warm_up,
    world_from_simulation,
)
from creditmesh.portfolio import REQUIRED_TABLES, Book
from creditmesh.portfolio.metrics import collection_rate_30d, day1_delinquency_rate
from creditmesh.simulate.collections import NOT_YET


@pytest.fixture(scope="module")
def replayed():
    result = simulated_book(2_000, 5, months=12)
    return result, warm_up(world_from_simulation(result), last_days(result, 0))


def test_the_replayed_world_pays_each_installment_when_the_platform_did(replayed):
    result, world = replayed
    horizon = last_days(result, 0)
    installments = result.tables["installments"]
    start = np.datetime64(result.config.start, "D")
    loan = np.array([int(x[1:]) for x in installments["loan_id"].to_pylist()])
    due = (installments["due_date"].to_numpy().astype("datetime64[D]") - start).astype(np.int64)
    paid_at = installments["paid_at"]
    paid = np.where(
        pc.is_null(paid_at).to_numpy(zero_copy_only=False),
        -1,
        (paid_at.fill_null(0).to_numpy().astype("datetime64[D]") - start).astype(np.int64),
    )
    order = np.lexsort((due, loan))  # the world's rows: loan after loan, in due order
    replayed = world.rows["paid_on"].astype(np.int64)
    replayed = np.where((replayed < horizon) & (replayed != NOT_YET), replayed, -1)
    assert world.rows.size == installments.num_rows > 10_000
    assert (paid >= 0).sum() > 5_000 and (paid < 0).any()  # a book with paid and unpaid installments
    np.testing.assert_array_equal(replayed, paid[order])
    # the arms start from it: the last 182 days begin where the warm-up stops
    assert last_days(result, 182) == horizon - 182


def test_the_back_test_reads_the_seed_rates_as_the_portfolio_metrics_do(replayed):
    result, world = replayed
    horizon = last_days(result, 0)
    first = 120
    collection, day1 = _seed_rates(world, first, horizon)
    start = result.config.start + dt.timedelta(days=first)
    last_due = result.config.start + dt.timedelta(days=horizon - 31)  # the last due date a month can follow
    with Book.from_frames(**{name: result.tables[name] for name in REQUIRED_TABLES}) as book:
        assert book.last_date == result.config.start + dt.timedelta(days=horizon - 1)
        assert collection == pytest.approx(collection_rate_30d(book, start, last_due), abs=1e-12)
        assert day1 == pytest.approx(day1_delinquency_rate(book, start, last_due), abs=1e-12)
    assert 0.5 < collection < 1 and 0 < day1 < 0.2
