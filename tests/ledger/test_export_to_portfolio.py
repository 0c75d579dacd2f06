"""The book the ledger keeps reports what the simulated book reports: replay, export, the portfolio's series."""

import pandas as pd
import pytest

from creditmesh.ledger.replay import replay
from creditmesh.portfolio import Book
from creditmesh.portfolio.series import metric_series
from creditmesh.simulate import SimulationConfig, simulate, write_dataset


@pytest.fixture(scope="module")
def simulated():
    return simulate(SimulationConfig(borrowers=400, months=10, seed=19))


def test_the_ledgers_export_gives_the_simulated_books_monthly_metrics(simulated, ledger, tmp_path):
    replay(ledger, write_dataset(simulated, tmp_path / "book"))
    exported = ledger.export(tmp_path / "export")
    assert exported["loans"] == simulated.tables["loans"].num_rows
    people = {name: simulated.tables[name] for name in ("institutions", "borrowers", "credit_lines")}
    source = {name: simulated.tables[name] for name in ("loans", "installments")}
    ours = {
        name: pd.read_parquet(tmp_path / "export" / f"{name}.parquet") for name in ("loans", "installments")
    }
    # the ledger keeps days, not times of day: the simulated book's last day bounds both series alike
    with Book.from_frames(**people, **source) as theirs_book, Book.from_frames(**people, **ours) as ours_book:
        end = theirs_book.last_date
        expected = metric_series(theirs_book, "month", end=end)
        got = metric_series(ours_book, "month", end=end)
    assert len(expected) > 6
    pd.testing.assert_frame_equal(got, expected)


def test_reading_through_the_engine_gives_what_adbc_gives(simulated, ledger, tmp_path):
    from creditmesh.ledger.export import EXPORTED, read_tables

    replay(ledger, write_dataset(simulated, tmp_path / "book"))
    with ledger.engine.connect():  # a connection open in this process, as in the service
        ours = read_tables(ledger.engine, EXPORTED, through_engine=True)
    assert ours["loans"].num_rows == simulated.tables["loans"].num_rows
    theirs = read_tables(ledger.engine, EXPORTED)
    for name in EXPORTED:
        assert ours[name].schema == theirs[name].schema, name
        assert ours[name].equals(theirs[name]), name
