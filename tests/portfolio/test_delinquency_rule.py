"""The delinquency rule at 0/1/30/31/90/91/180/181 dpd through every portfolio consumer of it.

One loan per edge, each a single unpaid installment falling due ``dpd`` days before
``AS_OF``, with its own principal (powers of two, so a sum names the loans in it).
Metrics, series, ECL and roll rates must each read the same dpd, bucket and
charge-off (the first day at 181 dpd) from it; a consumer that moves an edge fails here.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from _portfolio_books import AS_OF, OLD, days_before

from creditmesh.portfolio import expected_credit_loss, loan_states, metric_series, month_end_buckets
from creditmesh.portfolio.metrics import delinquency_rate_90_plus, total_outstanding_balance_minor

# dpd at AS_OF -> (display bucket, ECL stage; None: charged off, out of the book)
EDGES = {
    0: ("current", 1),
    1: ("1-30", 1),
    30: ("1-30", 1),
    31: ("31-60", 2),
    90: ("61-90", 2),
    91: ("91-180", 3),
    180: ("91-180", 3),
    181: ("charged_off", None),
}
PRINCIPAL = {dpd: 1_000 * 2**k for k, dpd in enumerate(EDGES)}
OPEN = [d for d in EDGES if d < 181]
NINETY_PLUS = [d for d in EDGES if 91 <= d <= 180]


@pytest.fixture
def edge_book(loan_book):
    lb = loan_book()
    for dpd, principal in PRINCIPAL.items():
        lb.single(f"dpd{dpd:03d}", principal=principal, originated=OLD, due=days_before(AS_OF, dpd))
    book = lb.book()
    yield book
    book.close()


def test_metrics_read_dpd_and_charge_off_at_each_edge(edge_book):
    states = loan_states(edge_book, AS_OF).set_index("loan_id")
    assert states["dpd"].to_dict() == {f"dpd{d:03d}": d for d in EDGES}
    assert states["charged_off"].to_dict() == {f"dpd{d:03d}": d >= 181 for d in EDGES}
    assert total_outstanding_balance_minor(edge_book, AS_OF) == sum(PRINCIPAL[d] for d in OPEN)
    expected = sum(PRINCIPAL[d] for d in NINETY_PLUS) / sum(PRINCIPAL[d] for d in OPEN)
    assert delinquency_rate_90_plus(edge_book, AS_OF) == expected


def test_series_reads_the_same_edges(edge_book):
    for day in (AS_OF, AS_OF + dt.timedelta(days=1)):  # and a day later, when every loan moved one dpd on
        row = metric_series(edge_book, "day", day, day).iloc[0]
        open_loans = [d for d in EDGES if d + (day - AS_OF).days < 181]
        late = [d for d in open_loans if d + (day - AS_OF).days >= 91]
        assert row["total_outstanding_balance_minor"] == sum(PRINCIPAL[d] for d in open_loans)
        assert row["delinquency_rate_90_plus"] == sum(PRINCIPAL[d] for d in late) / sum(
            PRINCIPAL[d] for d in open_loans
        )


def test_ecl_buckets_stages_and_writes_off_at_each_edge(edge_book):
    pd_12m = pd.Series(0.05, index=[f"dpd{d:03d}" for d in EDGES])
    result = expected_credit_loss(edge_book, AS_OF, pd_12m=pd_12m)
    loans = result.loans.set_index("loan_id")
    assert loans["dpd"].to_dict() == {f"dpd{d:03d}": d for d in OPEN}
    assert loans["bucket"].to_dict() == {f"dpd{d:03d}": EDGES[d][0] for d in OPEN}
    assert loans["stage"].to_dict() == {f"dpd{d:03d}": EDGES[d][1] for d in OPEN}
    # the LGD pools the loans charged off by AS_OF: only the one at 181 dpd, nothing recovered
    assert result.lgd_source == f"observed: 0 of {PRINCIPAL[181]} minor units recovered"


def test_roll_rates_bucket_each_edge_at_a_month_end(edge_book):
    frame = month_end_buckets(edge_book, dt.date(2024, 12, 1), AS_OF)
    at_end = frame[frame["as_of"] == AS_OF].set_index("loan_id")["bucket"]
    assert at_end.to_dict() == {f"dpd{d:03d}": bucket for d, (bucket, _) in EDGES.items()}
