"""The operating metrics the seeds disclose, computed from a :class:`~creditmesh.portfolio.book.Book`.

One function a metric, each one exact period of the set-based queries of
:func:`~creditmesh.portfolio.series.metric_series`
(:func:`~creditmesh.portfolio.series.period_metrics`), whose measures, labels,
units and footnotes are defined once in :mod:`~creditmesh.portfolio.registry`.
Each docstring quotes the footnote it implements (seeds/002, Q4 2024 results)
and states how we read it. The shared reading (dpd, buckets and the charge-off
day are :mod:`creditmesh.delinquency`'s):

* An installment is *open at day D* while ``paid_at IS NULL OR paid_at > D``
  (``paid_at`` is the day it was settled in full, so it is closed at the end of
  that day). A loan's outstanding principal at D is the principal due of its
  open installments, for loans originated on or before D. Partial payments on
  an open installment are not deducted: the paid columns hold the amounts paid
  so far, not as of D.
* Days past due at D: ``D - min(due_date)`` over the loan's installments open at
  D with ``due_date < D``, else 0. Due today and unpaid is 0 dpd; the next day 1.
* A loan is charged off on ``min(due_date + 181)`` over its installments still
  open at the end of day ``due_date + 181`` (``paid_at IS NULL OR paid_at >
  due_date + 181``), the first day it shows 181 dpd, and stays charged off from
  then on, whatever is recovered.
* A loan is *already past due* when one of its installments falls due if an
  earlier installment was still unpaid when that day began. Its principal had
  already become overdue, so the Day-1 and 30-day collection figures leave the
  installment out: they measure current loans entering delinquency (the
  company's Chinese-language disclosures call the Day-1 figure an entry-into-
  collection rate). Without this, a loan in arrears would "become overdue"
  again every month until charge-off and swamp the flow the metric tracks.
* Money sums are exact Python ``int`` minor units. A rate is a Python ``float``
  fraction, or ``None`` when its denominator is zero (an empty period, a book
  without risk-bearing loans): no rate is ever a division by zero.

Days are ``datetime.date`` (a ``datetime`` is refused: the metrics are daily);
timestamps are compared by their UTC calendar day. Periods ``[start, end]``
include both ends. Every query binds its values as parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from creditmesh import delinquency
from creditmesh.errors import ParameterError
from creditmesh.funding import FUNDING_MODELS
from creditmesh.portfolio.periods import as_day, as_period, quarter_start
from creditmesh.portfolio.series import period_metrics

if TYPE_CHECKING:
    import pandas as pd

    from creditmesh.portfolio.book import Book

# -- SQL ---------------------------------------------------------------------
# Fixed text only: every value is a bound parameter ($as_of, $start, ...).

# dpd at $as_of from the oldest installment open then and due before it
_DPD = delinquency.dpd_sql(
    "MIN(o.due_date) FILTER (WHERE o.due_date < CAST($as_of AS DATE))", "$as_of", "duckdb"
)
_LOAN_STATES_SQL = f"""
WITH charge_offs AS ({delinquency.charge_offs_sql()}),
open_installments AS (
    SELECT loan_id, due_date, principal_due_minor
    FROM installments
    WHERE {delinquency.open_on_sql("paid_at", "CAST($as_of AS DATE)")}
),
loan_states AS (
    SELECT
        l.loan_id,
        l.funding_model,
        CAST(COALESCE(SUM(o.principal_due_minor), 0) AS BIGINT) AS outstanding_principal_minor,
        CAST({_DPD} AS INTEGER) AS dpd,
        c.charged_off_on,
        COALESCE(c.charged_off_on <= CAST($as_of AS DATE), FALSE) AS charged_off
    FROM loans AS l
    LEFT JOIN open_installments AS o ON o.loan_id = l.loan_id
    LEFT JOIN charge_offs AS c ON c.loan_id = l.loan_id
    WHERE CAST(l.originated_at AS DATE) <= CAST($as_of AS DATE)
      AND list_contains($models, l.funding_model)
    GROUP BY l.loan_id, l.funding_model, c.charged_off_on
)
"""

_LOAN_STATES_TABLE_SQL = _LOAN_STATES_SQL + "SELECT * FROM loan_states ORDER BY loan_id"

# -- arguments ---------------------------------------------------------------

#: Any day: the number of partners does not depend on it (``institutions`` has no dates).
_ANY_DAY = dt.date(2000, 1, 1)


def _models(funding_models: str | Iterable[str] | None) -> list[str]:
    if funding_models is None:
        return list(FUNDING_MODELS)
    if isinstance(funding_models, str):
        funding_models = (funding_models,)
    try:
        chosen = list(funding_models)
    except TypeError:
        raise ParameterError(
            "funding_models", f"expected funding model names, got {funding_models!r}"
        ) from None
    if not chosen:
        raise ParameterError("funding_models", "at least one funding model is needed")
    unknown = sorted({str(m) for m in chosen if m not in FUNDING_MODELS})
    if unknown:
        raise ParameterError("funding_models", f"unknown {unknown}; known: {list(FUNDING_MODELS)}")
    return chosen


def _over(
    book: Book,
    name: str,
    start: object,
    end: object,
    funding_models: str | Iterable[str] | None = None,
    observed_until: dt.date | None = None,
) -> int | float | None:
    """Metric ``name`` over ``[start, end]``: one exact period of the series' queries."""
    period = as_period(start, end)
    models = tuple(_models(funding_models))
    figures = period_metrics(
        book,
        period["start"],
        period["end"],
        names=(name,),
        funding_models=models,
        observed_until=observed_until,
    )
    return figures[name]


def _at(
    book: Book, name: str, as_of: object, funding_models: str | Iterable[str] | None = None
) -> int | float | None:
    """Metric ``name`` at the end of day ``as_of``."""
    day = as_day(as_of, "as_of")
    return period_metrics(book, day, day, names=(name,), funding_models=tuple(_models(funding_models)))[name]


# -- building blocks ---------------------------------------------------------


def loan_states(
    book: Book, as_of: dt.date, funding_models: str | Iterable[str] | None = None
) -> pd.DataFrame:
    """Each loan originated on or before ``as_of``: outstanding principal, dpd and charge-off at ``as_of``.

    Columns: ``loan_id, funding_model, outstanding_principal_minor, dpd,
    charged_off_on`` (null if never) and ``charged_off`` (at ``as_of``). The
    readings of the module docstring, one row a loan; every balance metric
    sums these rows.
    """
    params = {"as_of": as_day(as_of, "as_of"), "models": _models(funding_models)}
    return book.sql(_LOAN_STATES_TABLE_SQL, params)


# -- disclosed metrics -------------------------------------------------------


def cumulative_registered_users(book: Book, as_of: dt.date) -> int:
    """Borrowers registered on or before ``as_of``.

    Footnote 1: "Refers to cumulative registered users across our platform."
    Every row of ``borrowers`` is a registered user.
    """
    return _at(book, "cumulative_registered_users", as_of)


def cumulative_users_with_approved_credit_lines(book: Book, as_of: dt.date) -> int:
    """Distinct borrowers with a credit line opened on or before ``as_of``.

    Footnote 2: "'Cumulative users with approved credit lines' refers to the
    total number of users who had submitted their credit applications and were
    approved with a credit line at the end of each period." A line counts once
    opened, whatever its status now (frozen and closed lines were approved).
    """
    return _at(book, "cumulative_users_with_approved_credit_lines", as_of)


def cumulative_borrowers_with_drawdown(book: Book, as_of: dt.date) -> int:
    """Distinct borrowers with a loan originated on or before ``as_of``.

    Seeds: "Cumulative borrowers with successful drawdown, including repeat
    borrowers". A borrower counts once, however many loans.
    """
    return _at(book, "cumulative_borrowers_with_drawdown", as_of)


def financial_institution_partners(book: Book) -> int:
    """The institutions in the book.

    Seeds: "our platform has connected 162 financial institutional partners".
    ``institutions`` has no connection date, so this is the count today.
    """
    return _at(book, "financial_institution_partners", _ANY_DAY)


def loans_originated(book: Book, start: dt.date, end: dt.date) -> int:
    """Loans originated in ``[start, end]`` (UTC day of ``originated_at``).

    Footnote 3 only splits the count by product ("Including 2,799,208 loans
    across 'V-pocket', and 22,015,715 loans across other products"); every
    funding model counts.
    """
    return _over(book, "loans_originated", start, end)


def loan_volume_minor(
    book: Book, start: dt.date, end: dt.date, funding_models: str | Iterable[str] | None = None
) -> int:
    """Principal of the loans originated in ``[start, end]``, in minor units.

    Footnote 4: "Refers to the total principal amount of loans facilitated and
    originated during the given period." All funding models unless
    ``funding_models`` narrows it.
    """
    return _over(book, "loan_volume_minor", start, end, funding_models)


def platform_services_volume_share(book: Book, start: dt.date, end: dt.date) -> float | None:
    """Share of the period's loan volume under the capital-light model, ICE and technology solutions.

    Seeds: "RMB47,796 million of such loan volume was under capital-light model,
    Intelligence Credit Engine ("ICE") and total technology solutions^5,
    representing 53.2% of the total". Footnote 5: "For loans facilitated through
    'ICE', the Company does not bear principal risk." Numerator: loan volume of
    :data:`~creditmesh.funding.PLATFORM_SERVICE_MODELS`; denominator: all loan
    volume; ``None`` for a period without loans.
    """
    return _over(book, "platform_services_volume_share", start, end)


def total_outstanding_balance_minor(
    book: Book, as_of: dt.date, funding_models: str | Iterable[str] | None = None
) -> int:
    """Principal outstanding at ``as_of`` on loans not charged off, in minor units.

    Footnote 6: "'Total outstanding loan balance' refers to the total amount of
    principal outstanding for loans facilitated and originated at the end of
    each period, excluding loans delinquent for more than 180 days." A loan
    that once reached 181 dpd stays out (charge-off is permanent). All funding
    models unless ``funding_models`` narrows it.
    """
    return _at(book, "total_outstanding_balance_minor", as_of, funding_models)


def platform_services_balance_share(book: Book, as_of: dt.date) -> float | None:
    """Share of the total outstanding balance under the capital-light model, ICE and technology solutions.

    Seeds: "RMB79,599 million of such loan balance was under capital-light
    model, 'ICE' and total technology solutions" (of RMB137,014 million).
    Numerator and denominator are :func:`total_outstanding_balance_minor`;
    ``None`` when nothing is outstanding.
    """
    return _at(book, "platform_services_balance_share", as_of)


def weighted_average_tenor_months(book: Book, start: dt.date, end: dt.date) -> float | None:
    """Principal-weighted average contractual tenor, in months, of the loans originated in ``[start, end]``.

    Seeds: "The weighted average contractual tenor of loans originated by
    financial institutions across our platform in the fourth quarter of 2024
    was approximately 10.00 months". Weights are principal; ``None`` for a
    period without loans.
    """
    return _over(book, "weighted_average_tenor_months", start, end)


def delinquency_rate_90_plus(book: Book, as_of: dt.date) -> float | None:
    """Outstanding principal 91-180 dpd over all outstanding principal of on- and off-balance loans.

    Footnote 7: "'90 day+ delinquency rate' refers to the outstanding principal
    balance of on- and off-balance sheet loans that were 91 to 180 calendar days
    past due as a percentage of the total outstanding principal balance of on-
    and off-balance sheet loans across our platform as of a specific date. Loans
    that are charged-off and loans under 'ICE' and total technology solutions
    are not included in the delinquency rate calculation."

    Only :data:`~creditmesh.funding.DELINQUENCY_RATE_MODELS` (``capital_heavy_on``,
    ``capital_heavy_off``) count: capital-light loans are not on or off the
    platform's balance sheet either. Loans charged off at ``as_of`` are left
    out of both sides; a loan's whole outstanding principal counts once it is
    91-180 dpd. ``None`` when no such principal is outstanding.
    """
    return _at(book, "delinquency_rate_90_plus", as_of)


def repeat_borrower_contribution(book: Book, start: dt.date, end: dt.date) -> float | None:
    """Share of the period's loan volume drawn by borrowers who had drawn down before.

    Footnote 8: "'Repeat borrower contribution' for a given period refers to (i)
    the principal amount of loans borrowed during that period by borrowers who
    had historically made at least one successful drawdown, divided by (ii) the
    total loan facilitation and origination volume through our platform during
    that period."

    A loan is a repeat drawdown when the same borrower has a loan with a
    strictly earlier ``originated_at``, anywhere in the book (so a new
    borrower's second loan in the period counts; two loans at the same instant
    are both first drawdowns). Computed from the data, not from the
    ``loans.repeat_borrower`` flag. ``None`` for a period without loans.
    """
    return _over(book, "repeat_borrower_contribution", start, end)


def day1_delinquency_rate(
    book: Book, start: dt.date, end: dt.date, funding_models: str | Iterable[str] | None = None
) -> float | None:
    """Principal left unpaid at the end of its due date over principal due, for due dates in ``[start, end]``.

    Footnote 10: "'Day-1 delinquency rate' is defined as (i) the total amount of
    principal that became overdue as of a specified date, divided by (ii) the
    total amount of principal that was due for repayment as of such specified
    date."

    Over installments due in the period on loans that were current when the
    due date began (not already past due, see the module notes; a charged-off
    loan never is):
    denominator = principal of those still unpaid when the due date began
    (``paid_at IS NULL OR paid_at >= due_date``: an installment prepaid earlier
    was never due for repayment); numerator = principal of those not settled by
    the end of the due date (``paid_at IS NULL OR paid_at > due_date``). The
    book is taken as observed through ``end``. ``None`` when nothing fell due.
    """
    return _over(book, "day1_delinquency_rate", start, end, funding_models)


def collection_rate_30d(
    book: Book,
    start: dt.date,
    end: dt.date,
    observed_until: dt.date | None = None,
    funding_models: str | Iterable[str] | None = None,
) -> float | None:
    """Share of the principal that became overdue which was settled within 30 days of the due date.

    Footnote 11: "'30-day collection rate' is defined as (i) the amount of
    principal that was repaid in one month among the total amount of principal
    that became overdue as of a specified date, divided by (ii) the total amount
    of principal that became overdue as of such specified date."

    Cohort: the Day-1 numerator installments (see :func:`day1_delinquency_rate`)
    due in ``[start, end]`` whose 30-day window has closed by
    ``observed_until`` (``due_date + 30 <= observed_until``; default: the
    book's last date). Immature installments are left out, not counted as
    uncollected. Numerator: cohort principal settled in full by ``due_date +
    30``; partial repayments do not count. ``None`` for an empty cohort.
    """
    if observed_until is None:
        observed_until = book.last_date
        if observed_until is None:  # an empty book has nothing to collect
            return None
    observed_until = as_day(observed_until, "observed_until")
    return _over(book, "collection_rate_30d", start, end, funding_models, observed_until)


# -- the headline table ------------------------------------------------------


def headline(book: Book, as_of: dt.date | None = None) -> dict[str, int | float | str | None]:
    """Every disclosed metric for the quarter to date, as the seeds' highlights report them.

    One period of :func:`~creditmesh.portfolio.series.metric_series` (its queries
    over the quarter to date, :func:`~creditmesh.portfolio.series.period_metrics`): ``as_of``
    defaults to the book's last date; the period runs from the first day of its
    calendar quarter to ``as_of``. Keys: ``as_of``, ``period_start``,
    ``period_end`` (ISO dates), then :data:`~creditmesh.portfolio.registry.HEADLINE_METRICS` in order. The
    30-day collection rate uses everything the book has observed (up to
    :attr:`Book.last_date`), so late in a quarter its youngest overdue
    installments are left out until they mature.
    """
    if as_of is None:
        as_of = book.last_date
        if as_of is None:
            raise ParameterError("as_of", "the book holds no dated rows; pass as_of explicitly")
    as_of = as_day(as_of, "as_of")
    start = quarter_start(as_of)
    return {
        "as_of": as_of.isoformat(),
        "period_start": start.isoformat(),
        "period_end": as_of.isoformat(),
        **period_metrics(book, start, as_of),
    }
