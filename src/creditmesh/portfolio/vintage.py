"""Vintage curves: cumulative 30 day+ and 180 day+ delinquency by origination quarter against months on book.

The seeds: "historical cumulative 30 day+ delinquency rates by loan facilitation
and origination vintage and 180 day+ delinquency rates by loan facilitation and
origination vintage ... Loans under 'ICE' and total technology solutions are
not included in the 30 day+ charts and the 180 day+ charts."

Reading, for a threshold of ``n`` days (30 or 180):

* A loan *first reaches n+ days past due* on ``hit_on = min(due_date + n)`` over
  its installments still unpaid at the end of that day (``paid_at IS NULL OR
  paid_at > due_date + n``), the first day it shows ``n`` dpd. (With ``n =
  181`` this is the charge-off day of :mod:`~creditmesh.portfolio.metrics`.)
* Its *delinquent principal* is its outstanding principal that day (the
  principal of its installments open at ``hit_on``), counted once, whatever is
  recovered later: the curve is cumulative and never falls.
* Months on book of the hit: the smallest ``m`` with ``origination day + m
  months >= hit_on``.
* ``rate(vintage, m) = sum of delinquent principal of the vintage's loans with
  hit month <= m / total principal originated in the vintage``.
* A point is shown only once the whole vintage has been on book ``m`` months:
  ``last day of the vintage + m months <= as_of``.
* Funding models: :data:`~creditmesh.funding.VINTAGE_MODELS`, all but ``ice``
  and ``tech_solution`` (capital-light loans are in, as the footnote says).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from creditmesh.errors import ParameterError
from creditmesh.funding import VINTAGE_MODELS
from creditmesh.portfolio.periods import as_day

if TYPE_CHECKING:
    import pandas as pd

    from creditmesh.portfolio.book import Book


_VINTAGE_SQL = """
WITH eligible AS (
    SELECT loan_id, principal_minor, CAST(originated_at AS DATE) AS orig_day,
        CAST(date_trunc('quarter', CAST(originated_at AS DATE)) AS DATE) AS vintage
    FROM loans
    WHERE list_contains($models, funding_model) AND CAST(originated_at AS DATE) <= $as_of
),
first_hit AS (
    SELECT i.loan_id, MIN(i.due_date + $days) AS hit_on
    FROM installments AS i SEMI JOIN eligible AS e ON e.loan_id = i.loan_id
    WHERE i.paid_at IS NULL OR i.paid_at > i.due_date + $days
    GROUP BY i.loan_id
    HAVING MIN(i.due_date + $days) <= $as_of
),
hits AS (
    SELECT h.loan_id, h.hit_on,
        SUM(i.principal_due_minor) FILTER (WHERE i.paid_at IS NULL OR i.paid_at > h.hit_on) AS delinquent
    FROM first_hit AS h JOIN installments AS i ON i.loan_id = h.loan_id
    GROUP BY h.loan_id, h.hit_on
),
months AS (
    SELECT e.vintage, h.delinquent,
        date_diff('month', e.orig_day, h.hit_on) AS m0, e.orig_day, h.hit_on
    FROM eligible AS e JOIN hits AS h ON h.loan_id = e.loan_id
)
SELECT vintage,
    CAST(m0 + CASE WHEN e_plus < hit_on THEN 1 ELSE 0 END AS INTEGER) AS months_on_book,
    CAST(SUM(delinquent) AS BIGINT) AS delinquent_minor
FROM (SELECT *, CAST(orig_day + to_months(CAST(m0 AS INTEGER)) AS DATE) AS e_plus FROM months)
GROUP BY ALL
"""

_VINTAGE_TOTALS_SQL = """
SELECT CAST(date_trunc('quarter', CAST(originated_at AS DATE)) AS DATE) AS vintage,
    CAST(SUM(principal_minor) AS BIGINT) AS principal_minor, COUNT(*) AS loans
FROM loans
WHERE list_contains($models, funding_model) AND CAST(originated_at AS DATE) <= $as_of
GROUP BY ALL
"""


def quarter_label(day: dt.date) -> str:
    """``2024Q4`` for any day of the fourth quarter of 2024."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def _add_months(day: dt.date, months: int) -> dt.date:
    import calendar

    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def vintage_curves(book: Book, days: int = 30, as_of: dt.date | None = None) -> pd.DataFrame:
    """Cumulative ``days``+ delinquency by origination quarter and months on book (see the module notes).

    Returns a long table: ``vintage`` (``2024Q1``), ``months_on_book`` (1, 2, ...),
    ``principal_minor`` (the vintage's principal), ``delinquent_minor``
    (cumulative) and ``rate`` (a float fraction), only for the months the whole
    vintage has been observed. Pivot it with
    ``frame.pivot(index="months_on_book", columns="vintage", values="rate")``.
    """
    import pandas as pd

    if days < 1:
        raise ParameterError("days", f"must be at least 1, got {days}")
    if as_of is None:
        as_of = book.last_date
        if as_of is None:
            raise ParameterError("as_of", "the book holds no dated rows; pass as_of explicitly")
    as_of = as_day(as_of, "as_of")
    params = {"as_of": as_of, "days": int(days), "models": list(VINTAGE_MODELS)}
    totals = book.sql(_VINTAGE_TOTALS_SQL, {"as_of": as_of, "models": params["models"]})
    hits = book.sql(_VINTAGE_SQL, params)
    rows = []
    for vintage in sorted(pd.to_datetime(totals["vintage"]).dt.date):
        principal = int(
            totals.loc[pd.to_datetime(totals["vintage"]).dt.date == vintage, "principal_minor"].iloc[0]
        )
        mine = hits[pd.to_datetime(hits["vintage"]).dt.date == vintage]
        by_month = mine.groupby("months_on_book")["delinquent_minor"].sum()
        last_day = _add_months(vintage, 3) - dt.timedelta(days=1)
        cumulative, month = 0, 1
        while _add_months(last_day, month) <= as_of:
            cumulative += int(by_month.get(month, 0)) + (int(by_month.get(0, 0)) if month == 1 else 0)
            rows.append(
                (
                    quarter_label(vintage),
                    month,
                    principal,
                    cumulative,
                    cumulative / principal if principal else None,
                )
            )
            month += 1
    return pd.DataFrame(
        rows, columns=["vintage", "months_on_book", "principal_minor", "delinquent_minor", "rate"]
    )
