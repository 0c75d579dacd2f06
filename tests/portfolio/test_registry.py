"""The metric registry: each disclosed metric once, and everything that shows or computes one follows it."""

from __future__ import annotations

import datetime as dt

import pytest

from creditmesh.errors import ParameterError
from creditmesh.portfolio import HEADLINE_METRICS, METRICS, SEED_FIGURES, format_metric, metric, metric_series
from creditmesh.portfolio import metrics as point
from creditmesh.portfolio.registry import COUNT, FAMILIES, MEASURES, MONEY, MONTHS, RATE, SeedFigure


def test_every_metric_is_complete_and_readable():
    assert HEADLINE_METRICS == tuple(m.name for m in METRICS)
    for found in METRICS:
        assert callable(getattr(point, found.name)), found.name  # its point function
        assert found.unit in (COUNT, MONEY, RATE, MONTHS)
        assert "_" not in found.label and not found.label[0].islower(), found.label
        assert '"' in found.footnote, found.name  # quotes the seeds
        for measure in filter(None, (found.numerator, found.denominator)):
            assert MEASURES[measure].family in FAMILIES
        assert (found.denominator is not None) == (found.unit in (RATE, MONTHS)), found.name
    assert metric("delinquency_rate_90_plus").label == "90 day+ delinquency rate"
    assert all(isinstance(seed, SeedFigure) for seed in SEED_FIGURES.values())


def test_units_decide_how_a_figure_is_shown():
    assert format_metric("delinquency_rate_90_plus", 0.0209) == "2.09 %"
    assert format_metric("loan_volume_minor", 123_456) == "1,234.56"
    assert format_metric("weighted_average_tenor_months", 10.0) == "10.00"
    assert format_metric("loans_originated", 12_345) == "12,345"
    assert format_metric("collection_rate_30d", None) == "no data"
    assert metric("loan_volume_minor").heading == "Loan volume (CNY)"
    with pytest.raises(ParameterError, match="unknown metric"):
        metric("delinquency_rate_90")


def test_series_columns_follow_the_registry(simulated_book):
    frame = metric_series(simulated_book, "quarter", end=simulated_book.last_date)
    assert list(frame.columns) == ["period_start", "period_end", *HEADLINE_METRICS]
    last = frame.iloc[-1]
    # the headline is one period of the series, and each point function the same figure
    headline = point.headline(simulated_book, simulated_book.last_date)
    for found in METRICS:
        value = None if last[found.name] is None or str(last[found.name]) == "<NA>" else last[found.name]
        assert headline[found.name] == value, found.name
    start = dt.date.fromisoformat(headline["period_start"])
    assert (
        point.delinquency_rate_90_plus(simulated_book, simulated_book.last_date)
        == headline["delinquency_rate_90_plus"]
    )
    assert (
        point.loan_volume_minor(simulated_book, start, simulated_book.last_date)
        == headline["loan_volume_minor"]
    )
