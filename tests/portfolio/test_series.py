"""Metric time series: DuckDB (set-based, all periods at once) against the pandas reference and the point functions."""

from __future__ import annotations

import datetime as dt
import math
from datetime import timedelta

import pandas as pd
import pytest
from _portfolio_books import (
    START,
    due_date_book,
    loan_rows,
    ninety_plus_book,
    origination_book,
)
from _reference import ReferenceBook
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditmesh.errors import ParameterError
from creditmesh.portfolio import HEADLINE_METRICS, headline
from creditmesh.portfolio.periods import periods
from creditmesh.portfolio.series import SEGMENTS, metric_series


def same(a, b) -> bool:
    """Equal values, with None, NaN and <NA> all meaning "no data"."""
    a_missing = a is None or a is pd.NA or (isinstance(a, float) and math.isnan(a))
    b_missing = b is None or b is pd.NA or (isinstance(b, float) and math.isnan(b))
    if a_missing or b_missing:
        return a_missing and b_missing
    return a == b


def assert_frames_equal(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert list(ours.columns) == list(reference.columns)
    assert len(ours) == len(reference)
    key = [c for c in ("segment", "period_start") if c in ours.columns]
    ours = ours.sort_values(key).reset_index(drop=True)
    reference = reference.sort_values(key).reset_index(drop=True)
    mismatches = [
        (ours.at[i, "period_start"], column, ours.at[i, column], reference.at[i, column])
        for i in range(len(ours))
        for column in ours.columns
        if not same(ours.at[i, column], reference.at[i, column])
    ]
    assert not mismatches, mismatches[:10]


@pytest.fixture(scope="module")
def reference(simulated_tables):
    return ReferenceBook(simulated_tables)


@pytest.mark.parametrize("freq", ["month", "quarter"])
def test_series_equals_the_pandas_reference_on_a_simulated_book(simulated_book, reference, freq):
    ours = metric_series(simulated_book, freq)
    grid = periods(freq, ours["period_start"].iloc[0], simulated_book.last_date)
    assert_frames_equal(ours, reference.series(grid, observed_until=simulated_book.last_date))
    assert list(ours.columns) == ["period_start", "period_end", *HEADLINE_METRICS]


@pytest.mark.parametrize("by", sorted(SEGMENTS))
def test_series_by_segment_equals_the_pandas_reference(simulated_book, reference, by):
    start, end = dt.date(2024, 4, 1), dt.date(2024, 9, 30)
    ours = metric_series(simulated_book, "quarter", start, end, by=by)
    theirs = reference.series(periods("quarter", start, end), by=by, observed_until=simulated_book.last_date)
    assert_frames_equal(ours, theirs)


def test_segments_add_up_to_the_whole_book(simulated_book):
    whole = metric_series(simulated_book, "quarter").set_index("period_start")
    for by in SEGMENTS:
        parts = metric_series(simulated_book, "quarter", by=by).groupby("period_start")
        for column in ("loans_originated", "loan_volume_minor", "total_outstanding_balance_minor"):
            assert (parts[column].sum() == whole[column]).all(), (by, column)


def test_series_equals_the_point_functions_quarter_by_quarter(simulated_book):
    for row in metric_series(simulated_book, "quarter").to_dict("records"):
        figures = headline(simulated_book, row["period_end"])
        assert row["period_start"].isoformat() == figures["period_start"]
        for name in HEADLINE_METRICS:
            assert same(row[name], figures[name]), (row["period_end"], name)


def test_daily_series_equals_the_reference_over_a_month(simulated_book, reference):
    start, end = dt.date(2024, 5, 1), dt.date(2024, 5, 31)
    ours = metric_series(simulated_book, "day", start, end)
    assert len(ours) == 31
    assert_frames_equal(
        ours, reference.series(periods("day", start, end), observed_until=simulated_book.last_date)
    )


@pytest.mark.parametrize("build", [ninety_plus_book, due_date_book, origination_book])
def test_series_reads_the_footnote_edge_cases_like_the_point_functions(loan_book, build):
    # Hand-built books at the 90/91/180/181 dpd boundaries, ICE/tech/light exclusions, late and
    # prepaid installments, UTC quarter edges: their hand-computed values are tested in test_metrics.
    book = build(loan_book)
    end = dt.date(2025, 2, 28)
    for row in metric_series(book, "month", dt.date(2024, 1, 1), end, observed_until=end).to_dict("records"):
        day = row["period_end"]
        start = day.replace(day=1)
        figures = headline(book, day)
        from creditmesh.portfolio import metrics

        for name in HEADLINE_METRICS:
            function = getattr(metrics, name)
            if name in (
                "loans_originated",
                "loan_volume_minor",
                "platform_services_volume_share",
                "weighted_average_tenor_months",
                "repeat_borrower_contribution",
                "day1_delinquency_rate",
            ):
                expected = function(book, start, day)
            elif name == "collection_rate_30d":
                expected = function(book, start, day, observed_until=end)
            else:
                expected = figures[name]
            assert same(row[name], expected), (day, name, row[name], expected)


def test_ice_and_tech_loans_never_enter_the_90_plus_rate_and_charged_off_loans_leave_the_balance(loan_book):
    book = ninety_plus_book(loan_book)
    by_model = metric_series(book, "quarter", dt.date(2024, 10, 1), dt.date(2024, 12, 31), by="funding_model")
    by_model = by_model.set_index("segment")
    for model in ("ice", "tech_solution", "capital_light"):
        assert by_model.at[model, "delinquency_rate_90_plus"] is pd.NA  # 120 dpd, yet no data: excluded
    assert by_model.at["capital_heavy_off", "delinquency_rate_90_plus"] == 1.0
    # dpd181 (8,000) is charged off: out of the balance; dpd180 (4,000) is still in.
    on = by_model.at["capital_heavy_on", "total_outstanding_balance_minor"]
    assert on == 1_000 + 2_000 + 4_000 + 16_000
    assert by_model.at["capital_heavy_on", "delinquency_rate_90_plus"] == (2_000 + 4_000) / on


def test_an_empty_period_has_zero_amounts_and_no_data_rates(loan_book):
    book = origination_book(loan_book)  # nothing originated in the first half of 2024
    row = metric_series(book, "quarter", dt.date(2024, 1, 1), dt.date(2024, 12, 31)).iloc[0]
    assert (row["loans_originated"], row["loan_volume_minor"], row["total_outstanding_balance_minor"]) == (
        0,
        0,
        0,
    )
    for name in (
        "platform_services_volume_share",
        "weighted_average_tenor_months",
        "repeat_borrower_contribution",
        "day1_delinquency_rate",
        "collection_rate_30d",
        "delinquency_rate_90_plus",
        "platform_services_balance_share",
    ):
        assert row[name] is pd.NA, name


def test_periods_are_calendar_periods_cut_at_the_end():
    assert periods("quarter", dt.date(2024, 2, 15), dt.date(2024, 8, 10)) == [
        (dt.date(2024, 1, 1), dt.date(2024, 3, 31)),
        (dt.date(2024, 4, 1), dt.date(2024, 6, 30)),
        (dt.date(2024, 7, 1), dt.date(2024, 8, 10)),
    ]
    assert periods("month", dt.date(2024, 12, 5), dt.date(2025, 1, 1)) == [
        (dt.date(2024, 12, 1), dt.date(2024, 12, 31)),
        (dt.date(2025, 1, 1), dt.date(2025, 1, 1)),
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"freq": "week"}, "freq"),
        ({"by": "region"}, "by"),
        ({"start": dt.date(2025, 1, 1), "end": dt.date(2024, 1, 1)}, "start"),
    ],
)
def test_bad_arguments_name_the_field(loan_book, kwargs, field):
    with pytest.raises(ParameterError) as raised:
        metric_series(origination_book(loan_book), **kwargs)
    assert raised.value.field == field


def test_a_book_without_loans_asks_for_dates(loan_book):
    with pytest.raises(ParameterError) as raised:
        metric_series(loan_book().book())
    assert raised.value.field == "start"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loans=loan_rows, months=st.integers(1, 14), by=st.sampled_from([None, "funding_model"]))
def test_series_equals_the_reference_on_random_books(loan_book, loans, months, by):
    lb = loan_book()
    for n, (model, borrower, originated, installments) in enumerate(loans):
        loan_id = f"l{n}"
        lb.loan(
            loan_id,
            principal=sum(p for _, p, _ in installments),
            originated=START + timedelta(days=originated),
            borrower=f"b{borrower}",
            funding_model=model,
        )
        for due_day, due_principal, settled in installments:
            due = START + timedelta(days=due_day)
            lb.installment(
                loan_id, due, due_principal, None if settled is None else due + timedelta(days=settled)
            )
    end = dt.date(2024 + months // 12, months % 12 + 1, 1) - timedelta(days=1)
    ours = metric_series(lb.book(), "month", START, end, by=by, observed_until=end)
    theirs = ReferenceBook(lb.frames()).series(periods("month", START, end), by=by, observed_until=end)
    assert_frames_equal(ours, theirs)
