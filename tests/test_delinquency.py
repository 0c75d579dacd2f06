"""The delinquency rule at its edges (0/1/30/31/90/91/180/181 dpd), in numpy and in SQL on every engine."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from pg_server import PG_ADMIN_DSN, skip_without_pg

from creditmesh import delinquency as dq
from creditmesh.errors import ParameterError

AS_OF = dt.date(2024, 12, 31)
# dpd -> (bucket name, display label, charged off)
EDGES = {
    0: ("current", "current", False),
    1: ("dpd_1_30", "1-30", False),
    30: ("dpd_1_30", "1-30", False),
    31: ("dpd_31_60", "31-60", False),
    60: ("dpd_31_60", "31-60", False),
    61: ("dpd_61_90", "61-90", False),
    90: ("dpd_61_90", "61-90", False),
    91: ("dpd_91_180", "91-180", False),
    180: ("dpd_91_180", "91-180", False),
    181: ("charged_off", "charged_off", True),
    400: ("charged_off", "charged_off", True),
}


def test_buckets_cover_every_dpd_once_in_order():
    assert dq.BUCKET_NAMES == ("current", "dpd_1_30", "dpd_31_60", "dpd_61_90", "dpd_91_180", "charged_off")
    assert dq.BUCKET_LABELS == ("current", "1-30", "31-60", "61-90", "91-180", "charged_off")
    for before, after in zip(dq.BUCKETS, dq.BUCKETS[1:]):
        assert after.first_dpd == before.last_dpd + 1
    assert dq.BUCKETS[-1].first_dpd == dq.CHARGE_OFF_DPD == 181
    assert dq.NINETY_PLUS.first_dpd == 91 and dq.NINETY_PLUS.last_dpd == 180


def test_numpy_buckets_and_charge_off_at_the_edges():
    dpd = np.array(list(EDGES))
    assert dq.bucket(dpd).tolist() == [name for name, _, _ in EDGES.values()]
    assert dq.bucket(dpd, label=True).tolist() == [label for _, label, _ in EDGES.values()]
    assert dq.is_charged_off(dpd).tolist() == [gone for _, _, gone in EDGES.values()]


def test_days_past_due_counts_from_the_oldest_open_due_date():
    as_of = np.datetime64(AS_OF, "D")
    oldest = np.array(
        [as_of - np.timedelta64(d, "D") for d in EDGES] + [np.datetime64("NaT")], "datetime64[D]"
    )
    assert dq.days_past_due(oldest, as_of).tolist() == [*EDGES, 0]
    assert dq.days_past_due(np.array([10, 100]), 100).tolist() == [90, 0]


def test_worst_dpd_stops_at_payment_or_today():
    assert dq.worst_dpd(np.array([0, 0, 50]), np.array([10, 10_000, 40]), 30).tolist() == [10, 30, 0]


def test_charge_off_day_is_the_first_day_at_181_dpd_still_open():
    due = np.array(["2024-01-01"] * 4, "datetime64[D]")
    paid = np.array(["NaT", "2024-06-29", "2024-06-30", "2024-07-01"], "datetime64[D]")
    # 2024-01-01 + 181 days = 2024-06-30: settled that day (or before) is never charged off
    assert dq.charge_off_day(due, paid).tolist() == [dt.date(2024, 6, 30), None, None, dt.date(2024, 6, 30)]


def test_fragments_refuse_second_statements_and_unknown_dialects():
    with pytest.raises(ParameterError, match="dpd"):
        dq.bucket_sql("dpd; DROP TABLE loans")
    with pytest.raises(ParameterError, match="charged_off"):
        dq.bucket_sql("dpd", charged_off="TRUE -- rest")
    with pytest.raises(ParameterError, match="dialect"):
        dq.dpd_sql("due_date", ":as_of", "oracle")
    with pytest.raises(ParameterError, match="bucket"):
        dq.in_bucket_sql("dpd", "1-30")


def _edge_query(dialect: str, param: str) -> str:
    # one row per edge dpd: its oldest open due date, and what every fragment says of it
    rows = " UNION ALL ".join(f"SELECT {d} AS expected" for d in EDGES)
    oldest = dq.day_at_dpd_sql(param, 0, dialect)
    return f"""
    WITH edges AS ({rows}),
    dated AS (SELECT expected, {_minus("expected", param, dialect)} AS oldest FROM edges),
    aged AS (SELECT expected, {dq.dpd_sql("oldest", param, dialect)} AS dpd FROM dated)
    SELECT expected, dpd, {dq.bucket_sql("dpd")}, {dq.bucket_sql("dpd", label=True)},
           CASE WHEN {dq.charged_off_sql("dpd")} THEN 1 ELSE 0 END,
           CASE WHEN {dq.in_bucket_sql("dpd", "dpd_91_180")} THEN 1 ELSE 0 END,
           {dq.dpd_sql("NULL", oldest, dialect)}
    FROM aged ORDER BY expected"""


def _minus(days: str, day: str, dialect: str) -> str:
    if dialect == "sqlite":
        return f"date({day}, '-' || {days} || ' days')"
    if dialect == "postgresql":
        return f"(CAST({day} AS DATE) - {days})"
    return f"(CAST({day} AS DATE) - CAST({days} AS INTEGER))"


def _check(rows) -> None:
    expected = [
        (d, d, name, label, int(gone), int(91 <= d <= 180), 0) for d, (name, label, gone) in EDGES.items()
    ]
    assert [tuple(r) for r in rows] == expected


def test_fragments_on_sqlite():
    import sqlite3

    with sqlite3.connect(":memory:") as conn:
        _check(conn.execute(_edge_query("sqlite", ":as_of"), {"as_of": AS_OF.isoformat()}).fetchall())


def test_fragments_on_duckdb():
    import duckdb

    with duckdb.connect() as conn:
        _check(conn.execute(_edge_query("duckdb", "$as_of"), {"as_of": AS_OF}).fetchall())


def test_fragments_on_postgresql():
    skip_without_pg()
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN) as conn:
        _check(conn.execute(_edge_query("postgresql", "%(as_of)s"), {"as_of": AS_OF}).fetchall())


@pytest.mark.parametrize("dialect", ["sqlite", "duckdb"])
def test_charge_offs_sql_matches_numpy(dialect):
    due = ["2024-01-01", "2024-01-01", "2024-02-01", "2024-03-01"]
    paid = [None, "2024-06-30", "2024-08-01", None]
    loans = ["a", "b", "c", "c"]
    values = " UNION ALL ".join(
        f"SELECT '{loan}' AS loan_id, DATE '{d}' AS due_date, {'NULL' if p is None else f'DATE {chr(39)}{p}{chr(39)}'} AS paid_at"
        for loan, d, p in zip(loans, due, paid)
    )
    if dialect == "sqlite":
        values = values.replace("DATE '", "'")
    query = f"WITH installments AS ({values}) {dq.charge_offs_sql(dialect=dialect)} ORDER BY loan_id"
    if dialect == "sqlite":
        import sqlite3

        with sqlite3.connect(":memory:") as conn:
            rows = [(loan, dt.date.fromisoformat(day)) for loan, day in conn.execute(query).fetchall()]
    else:
        import duckdb

        with duckdb.connect() as conn:
            rows = conn.execute(query).fetchall()
    days = dq.charge_off_day(np.array(due, "datetime64[D]"), np.array(paid, "datetime64[D]"))
    expected = {}
    for loan, day in zip(loans, days.tolist()):
        if day is not None:
            expected[loan] = min(expected.get(loan, day), day)
    assert rows == sorted(expected.items())
