"""The metric series in Spark SQL: every cell equal to DuckDB's, on a simulated book and the footnote edge cases."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from _portfolio_books import due_date_book, ninety_plus_book, origination_book
from test_series import assert_frames_equal

from creditmesh.portfolio import headline
from creditmesh.portfolio.series import SEGMENTS, metric_series
from creditmesh.portfolio.spark import SparkBook


def spark_twin(spark, book) -> SparkBook:
    """The same tables as the DuckDB ``book``, as a SparkBook."""
    return SparkBook.from_frames(spark, **{name: book.sql(f"SELECT * FROM {name}") for name in book.tables})


@pytest.fixture(scope="module")
def spark_book(spark, simulated_tables):
    book = SparkBook.from_frames(spark, **simulated_tables)
    yield book
    book.close()


@pytest.mark.parametrize("freq", ["month", "quarter"])
def test_every_cell_of_the_series_equals_duckdbs_on_a_simulated_book(simulated_book, spark_book, freq):
    ours = metric_series(spark_book, freq)
    assert spark_book.last_date == simulated_book.last_date
    assert_frames_equal(ours, metric_series(simulated_book, freq))
    assert not ours.isna().all().any(), "a metric is empty on both engines: the comparison proves nothing"


@pytest.mark.parametrize("by", sorted(SEGMENTS))
def test_every_cell_by_segment_equals_duckdbs(simulated_book, spark_book, by):
    start, end = dt.date(2024, 1, 1), dt.date(2024, 12, 31)
    assert_frames_equal(
        metric_series(spark_book, "quarter", start, end, by=by),
        metric_series(simulated_book, "quarter", start, end, by=by),
    )


def test_the_daily_series_over_a_month_equals_duckdbs(simulated_book, spark_book):
    start, end = dt.date(2024, 6, 1), dt.date(2024, 6, 30)
    assert_frames_equal(
        metric_series(spark_book, "day", start, end), metric_series(simulated_book, "day", start, end)
    )


@pytest.mark.parametrize("build", [ninety_plus_book, due_date_book, origination_book])
def test_the_footnote_edge_cases_read_the_same_on_spark(spark, loan_book, build):
    book = build(loan_book)
    twin = spark_twin(spark, book)
    try:
        for as_of in (
            dt.date(2024, 10, 10),
            dt.date(2024, 11, 9),
            dt.date(2024, 12, 31),
            dt.date(2025, 1, 5),
        ):
            assert headline(twin, as_of) == headline(book, as_of), as_of
        start, end = dt.date(2024, 1, 1), dt.date(2025, 3, 31)
        for freq in ("month", "quarter"):
            assert_frames_equal(metric_series(twin, freq, start, end), metric_series(book, freq, start, end))
    finally:
        twin.close()
        book.close()


def test_a_spark_book_checks_its_tables_like_a_duckdb_book(spark, tmp_path):
    from creditmesh.errors import SchemaError

    pd.DataFrame({"loan_id": ["a"]}).to_parquet(tmp_path / "loans.parquet")
    with pytest.raises(SchemaError, match="institutions"):
        SparkBook.open(tmp_path, spark)
