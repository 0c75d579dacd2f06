"""Every headline metric as a time series, by day, month or quarter, optionally by segment.

:func:`metric_series` answers the whole table with a handful of set-based DuckDB
queries, one per family of metrics, each over all periods at once (no Python loop
per period). Each figure is the one the point-in-time function of
:mod:`creditmesh.portfolio.metrics` gives for that period, with the same
readings of the footnotes:

* Period metrics (loans originated, volume, platform-services share of volume,
  weighted tenor, repeat borrower contribution, Day-1 delinquency, 30-day
  collection) cover ``[period_start, period_end]``.
* As-of metrics (cumulative users, outstanding balance, platform-services share
  of balance, 90 day+ rate) are taken at ``period_end``.
* Periods are calendar days, months or quarters. The first period starts on the
  calendar boundary on or before ``start``; the last one is cut at ``end`` (so a
  quarter to date reads like :func:`~creditmesh.portfolio.metrics.headline`).

How: installments are joined with loans once, into integer-keyed temporary
tables (:class:`_Prepared`); every query then scans integers. The as-of figures
need no join of every installment with every period: an installment adds its
principal to the outstanding balance on its loan's origination day and removes
it on ``LEAST(paid_at, charged_off_on)`` (settled, or its loan charged off:
footnote 6's "excluding loans delinquent for more than 180 days"), or on the
origination day if that is later (an installment settled before its loan began
never counts); the balance at ``D`` is the running sum of those events up to
``D``. The 90 day+ numerator needs a loan's whole balance while one of its
installments is 91+ days late; only loans that ever were (a few per cent) are
joined with the period ends they were 91+ at. The Day-1 and 30-day collection
cohorts leave out installments falling due while an earlier one was unpaid,
found by joining the few late installments with their loans' later ones.

Exclusions: the 90 day+ rate counts only the on- and off-balance-sheet loans
(:data:`~creditmesh.funding.DELINQUENCY_RATE_MODELS`: capital-heavy and capital-light;
the footnote leaves out ICE and technology solutions); the balance leaves out
charged-off loans. A rate whose denominator is zero (an empty period, a segment
of ICE or technology-solution loans only) is ``<NA>`` in a nullable ``Float64`` column: no
data, never a division by zero.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from creditmesh import delinquency
from creditmesh.errors import ParameterError
from creditmesh.funding import DELINQUENCY_RATE_MODELS, FUNDING_MODELS, PLATFORM_SERVICE_MODELS, sql_in
from creditmesh.portfolio.periods import FREQUENCIES, as_day, periods
from creditmesh.portfolio.registry import FAMILIES, HEADLINE_METRICS, MEASURES, METRICS, WIDE_INTEGER, metric

if TYPE_CHECKING:
    import pandas as pd

    from creditmesh.portfolio.book import Book

#: Segments :func:`metric_series` splits by, and the SQL expression of each on ``loans AS l`` /
#: ``borrowers AS b``. ``product`` is the repayment schedule, ``tenor`` the contractual tenor.
SEGMENTS = {
    "institution": "l.institution_id",
    "funding_model": "l.funding_model",
    "channel": "b.channel",
    "product": "l.schedule",
    "tenor": "CAST(l.tenor_months AS STRING) || 'm'",
}

_FAR = "DATE '9999-12-31'"
_MODEL_CODES = {m: k for k, m in enumerate(FUNDING_MODELS)}


def _key(freq: str | None, column: str) -> str:
    # The start of the calendar period holding ``column``; freq is checked against FREQUENCIES.
    # None: one period, [$start, $end] exactly (every query already keeps only what falls in it).
    if freq is None:
        return "CAST($start AS DATE)"
    return f"CAST(date_trunc('{freq}', {column}) AS DATE)"


#: Per SQL dialect: the dense loan key of the prepared tables (a row number is one partition's work on
#: Spark, where the loan id serves as the key), and the periods of the 90 day+ query from the bound
#: lists ``$starts`` / ``$ends``.
_LOAN_KEY = {"duckdb": "CAST(row_number() OVER () AS INTEGER)", "spark": "l.loan_id"}
_PERIODS = {
    "duckdb": "SELECT UNNEST($starts) AS period_start, UNNEST($ends) AS period_end",
    "spark": "SELECT element_at($starts, i) AS period_start, element_at($ends, i) AS period_end "
    "FROM (SELECT explode(sequence(1, size($starts))) AS i)",
}


def _codes(models: tuple[str, ...]) -> str:
    return "(" + ", ".join(str(_MODEL_CODES[m]) for m in models) + ")"  # fixed schema constants


class _Prepared:
    """Integer-keyed temporary copies of loans and installments, made once per :func:`metric_series` call.

    ``{loans}``: one row per loan with a dense integer key ``k``, its origination
    day, a model code, a segment code and the repeat flag. ``{inst}``: every
    installment with its loan's ``k``, origination day, model and segment codes.
    The one join of installments with loans happens here; every metric query
    then scans integers instead of joining string ids again. ``installments=False``
    (loan and people figures only) leaves ``{inst}`` and the charge-offs out. The SQL is the
    book's ``dialect`` (DuckDB's, or Spark's for :class:`~creditmesh.portfolio.spark.SparkBook`).
    """

    def __init__(
        self,
        book: Book,
        segment: str | None,
        funding_models: tuple[str, ...] = FUNDING_MODELS,
        *,
        installments: bool = True,
    ) -> None:
        import uuid

        self.book = book
        self.dialect = getattr(book, "dialect", "duckdb")
        suffix = uuid.uuid4().hex[:12]
        self.loans, self.inst, self.segments = (
            f"_cm_loans_{suffix}",
            f"_cm_inst_{suffix}",
            f"_cm_segments_{suffix}",
        )
        self.firsts = f"_cm_firsts_{suffix}"
        expression = "'all'" if segment is None else SEGMENTS[segment]
        borrowers = "JOIN borrowers AS b ON b.borrower_id = l.borrower_id" if segment == "channel" else ""
        models = ", ".join(f"('{m}', {k})" for m, k in _MODEL_CODES.items())
        # Channels come from every borrower, so that people without loans have their segment too.
        distinct = (
            "SELECT DISTINCT channel AS segment FROM borrowers"
            if segment == "channel"
            else "SELECT 'all' AS segment"
            if segment is None
            else f"SELECT DISTINCT {expression} AS segment FROM loans AS l"
        )
        every = set(funding_models) == set(FUNDING_MODELS)
        kept = "" if every else f"WHERE {sql_in('l.funding_model', funding_models)}"
        book.temp_table(
            self.segments,
            f"""
SELECT segment, CAST(row_number() OVER (ORDER BY segment) - 1 AS INTEGER) AS code
FROM ({distinct})""",
        )
        book.temp_table(
            self.firsts, "SELECT borrower_id, MIN(originated_at) AS first_at FROM loans GROUP BY borrower_id"
        )
        # without the installments (loan and people figures only), charge-offs are not needed either
        charge_offs = (
            delinquency.charge_offs_sql(dialect=self.dialect)
            if installments
            else "SELECT CAST(NULL AS STRING) AS loan_id, CAST(NULL AS DATE) AS charged_off_on"
        )
        book.temp_table(
            self.loans,
            f"""
WITH charge_offs AS ({charge_offs})
SELECT {_LOAN_KEY[self.dialect]} AS k, l.loan_id, l.borrower_id,
    CAST(l.originated_at AS DATE) AS orig_day, m.code AS model, s.code AS seg,
    l.principal_minor, l.tenor_months, l.originated_at > f.first_at AS is_repeat, c.charged_off_on
FROM loans AS l {borrowers}
JOIN (VALUES {models}) AS m(name, code) ON m.name = l.funding_model
JOIN {self.firsts} AS f ON f.borrower_id = l.borrower_id
JOIN {self.segments} AS s ON s.segment = {expression}
LEFT JOIN charge_offs AS c ON c.loan_id = l.loan_id
{kept}""",
        )
        # exit_day: the day the installment leaves the outstanding balance (settled or its loan charged
        # off), never before the loan's origination; NULL while it stays.
        if not installments:
            return
        book.temp_table(
            self.inst,
            f"""
SELECT l.k, l.orig_day, l.model, l.seg, i.due_date, i.paid_at, i.principal_due_minor AS p,
    GREATEST(LEAST(i.paid_at, l.charged_off_on), l.orig_day) AS exit_day
FROM installments AS i JOIN {self.loans} AS l ON l.loan_id = i.loan_id""",
        )

    def close(self) -> None:
        for name in (self.inst, self.loans, self.segments, self.firsts):
            self.book.drop_temp_table(name)

    def charge_offs(self) -> str:
        return f"""
charge_offs AS (SELECT k, charged_off_on FROM {self.loans} WHERE charged_off_on IS NOT NULL)"""

    def originations(self, freq: str) -> str:
        return f"""
SELECT {_key(freq, "orig_day")} AS period_start, seg, {_measures("originations", self.dialect)}
FROM {self.loans}
WHERE orig_day BETWEEN $start AND $end
GROUP BY ALL
"""

    def balances(self, freq: str) -> str:
        # Entries by origination day and exits by settlement or charge-off day, each summed over days
        # first (few groups), then put in periods; the running sum of the deltas is the balance.
        return f"""
WITH entries AS (
    SELECT orig_day AS day, seg, model, SUM(p) AS amount
    FROM {self.inst} WHERE orig_day <= $end GROUP BY ALL
),
exits AS (
    SELECT exit_day AS day, seg, model, -SUM(p) AS amount
    FROM {self.inst} WHERE exit_day <= $end GROUP BY ALL
),
deltas AS (SELECT * FROM entries UNION ALL SELECT * FROM exits)
SELECT {_key(freq, "GREATEST(day, $start)")} AS period_start, seg, {_measures("balance", self.dialect)}
FROM deltas GROUP BY ALL
"""

    def ninety_plus(self) -> str:
        # Loans 91+ days late at some period end, the ends they were, and their whole balance there.
        late_91 = delinquency.day_at_dpd_sql("due_date", delinquency.NINETY_PLUS.first_dpd, self.dialect)
        item_late_91 = delinquency.day_at_dpd_sql(
            "i.due_date", delinquency.NINETY_PLUS.first_dpd, self.dialect
        )
        return f"""
WITH {self.charge_offs()},
periods AS ({_PERIODS[self.dialect]}),
windows AS (
    SELECT k, ANY_VALUE(seg) AS seg, MIN({late_91}) AS first_day, MAX(COALESCE(paid_at, {_FAR})) AS last_paid
    FROM {self.inst}
    WHERE {delinquency.open_on_sql("paid_at", late_91)} AND model IN {_codes(DELINQUENCY_RATE_MODELS)}
    GROUP BY k
),
pairs AS (
    SELECT w.k, w.seg, p.period_start, p.period_end
    FROM windows AS w
    LEFT JOIN charge_offs AS c ON c.k = w.k
    JOIN periods AS p
      ON p.period_end >= w.first_day AND p.period_end < LEAST(w.last_paid, COALESCE(c.charged_off_on, {_FAR}))
),
states AS (
    SELECT pr.k, pr.seg, pr.period_start,
        SUM(i.p) FILTER (WHERE i.paid_at IS NULL OR i.paid_at > pr.period_end) AS outstanding,
        BOOL_OR({item_late_91} <= pr.period_end AND {delinquency.open_on_sql("i.paid_at", "pr.period_end")}) AS late_91
    FROM pairs AS pr JOIN {self.inst} AS i ON i.k = pr.k
    GROUP BY pr.k, pr.seg, pr.period_start
)
SELECT period_start, seg, {_measures("ninety_plus", self.dialect)}
FROM states WHERE late_91 GROUP BY ALL
"""

    def falling_due(self, freq: str) -> str:
        # Installments falling due on loans current when the due date began (metrics._FALLING_DUE_SQL's
        # reading): no earlier installment of the loan was still unpaid then. Only installments not settled
        # by the end of their own due date can block a later one, and they are few, so the test is an
        # anti-join against them rather than a window over every installment.
        return f"""
WITH late AS (
    SELECT k, due_date, COALESCE(paid_at, {_FAR}) AS settled
    FROM {self.inst}
    WHERE (paid_at IS NULL OR paid_at > due_date) AND due_date < $end
),
blocked AS (
    SELECT DISTINCT i.k, i.due_date
    FROM late AS j JOIN {self.inst} AS i ON i.k = j.k
    WHERE i.due_date > j.due_date AND i.due_date <= j.settled AND i.due_date BETWEEN $start AND $end
),
falling_due AS (
    SELECT i.due_date, i.paid_at, i.p, i.seg, (i.paid_at IS NULL OR i.paid_at > i.due_date) AS overdue
    FROM {self.inst} AS i ANTI JOIN blocked AS b ON b.k = i.k AND b.due_date = i.due_date
    WHERE i.due_date BETWEEN $start AND $end
)
SELECT {_key(freq, "due_date")} AS period_start, seg, {_measures("falling_due", self.dialect)}
FROM falling_due GROUP BY ALL
"""

    def users(self, freq: str, segment: str | None) -> str:
        # First day each person counts: registered, approved a line, drew down (per segment for drawdowns).
        # Registered users and approved lines are split by channel only (a borrower attribute).
        person = {None: "0", "channel": "s.code"}.get(segment, "CAST(NULL AS INTEGER)")
        code = f"LEFT JOIN {self.segments} AS s ON s.segment = b.channel" if segment == "channel" else ""
        channel = (
            f"JOIN borrowers AS b ON b.borrower_id = c.borrower_id {code}" if segment == "channel" else ""
        )
        # A borrower's first drawdown: from the per-borrower firsts for the whole book, per segment otherwise.
        drawdowns = (
            f"SELECT 'drawdowns', 0, CAST(first_at AS DATE) FROM {self.firsts}"
            if segment is None
            else f"SELECT 'drawdowns', seg, MIN(orig_day) FROM {self.loans} GROUP BY borrower_id, seg"
        )
        return f"""
WITH firsts AS (
    SELECT 'registered' AS kind, {person} AS seg, CAST(b.registered_at AS DATE) AS day
    FROM borrowers AS b {code}
    UNION ALL
    SELECT 'lines', ANY_VALUE({person}), MIN(CAST(c.opened_at AS DATE))
    FROM credit_lines AS c {channel}
    GROUP BY c.borrower_id
    UNION ALL
    {drawdowns}
)
SELECT {_key(freq, "GREATEST(day, $start)")} AS period_start, seg, {_measures("people", self.dialect)}
FROM firsts WHERE day <= $end AND seg IS NOT NULL GROUP BY ALL
"""


def _partners_sql(segment: str | None, dialect: str) -> str | None:
    column = {None: "'all'", "funding_model": "funding_model", "institution": "institution_id"}
    if segment not in column:
        return None
    grouped = (
        "" if segment is None else " GROUP BY ALL"
    )  # the whole book has a count even without institutions
    return f"SELECT {column[segment]} AS segment, {_measures('partners', dialect)} FROM institutions{grouped}"


def _measures(family: str, dialect: str) -> str:
    """The select list of one family's query: each of its :data:`~creditmesh.portfolio.registry.MEASURES`."""
    codes = {
        "platform_services": _codes(PLATFORM_SERVICE_MODELS),
        "delinquency_rate": _codes(DELINQUENCY_RATE_MODELS),
        "wide_integer": WIDE_INTEGER[dialect],
    }
    return ", ".join(
        f"{measure.sql.format(**codes)} AS {name}"
        for name, measure in MEASURES.items()
        if measure.family == family
    )


def metric_series(
    book: Book,
    freq: str = "month",
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    by: str | None = None,
    observed_until: dt.date | None = None,
) -> pd.DataFrame:
    """Every metric of :data:`~creditmesh.portfolio.registry.METRICS` for each period (and segment).

    ``freq`` is ``day``, ``month`` or ``quarter``; ``start`` defaults to the
    first origination, ``end`` to :attr:`Book.last_date`. ``by`` splits by one
    of :data:`SEGMENTS` (``institution``, ``funding_model``, ``channel``,
    ``product``, ``tenor``): loan figures follow the loan's segment; registered
    users and users with approved lines are split only by ``channel`` (a
    borrower attribute) and are ``<NA>`` otherwise; partners only by
    ``funding_model`` and ``institution``. ``observed_until`` bounds the 30-day
    collection cohort as in :func:`~creditmesh.portfolio.metrics.collection_rate_30d`
    (default: the book's last date).

    Returns one row per period (and segment), ordered, with ``period_start``,
    ``period_end`` (``datetime.date``), ``segment`` when ``by`` is given, then
    the metrics: counts and amounts as ``Int64``, rates and the tenor as
    ``Float64`` with ``<NA>`` where the denominator is zero.
    """

    if by is not None and by not in SEGMENTS:
        raise ParameterError("by", f"expected one of {', '.join(SEGMENTS)}, got {by!r}")
    if freq not in FREQUENCIES:
        raise ParameterError("freq", f"expected one of {', '.join(FREQUENCIES)}, got {freq!r}")
    if end is None:
        end = book.last_date
    if start is None:
        (start,) = book.one("SELECT MIN(CAST(originated_at AS DATE)) FROM loans")
    if start is None or end is None:
        raise ParameterError("start", "the book holds no loans; pass start and end explicitly")
    start, end = as_day(start, "start"), as_day(end, "end")
    grid = periods(freq, start, end)
    if observed_until is None:
        observed_until = book.last_date or end
    return _table(book, freq, grid, by=by, observed_until=observed_until)


def period_metrics(
    book: Book,
    start: dt.date,
    end: dt.date,
    *,
    names: tuple[str, ...] | None = None,
    funding_models: tuple[str, ...] = FUNDING_MODELS,
    observed_until: dt.date | None = None,
) -> dict[str, int | float | None]:
    """The metrics ``names`` (default: all) over exactly ``[start, end]``, as plain Python values.

    Period metrics cover ``[start, end]``, as-of metrics are taken at ``end``;
    ``funding_models`` keeps only those models' loans. ``None`` where a
    denominator is zero. The same queries as :func:`metric_series`, for one
    period: what the point functions of :mod:`~creditmesh.portfolio.metrics` return.
    """
    import pandas as pd

    chosen = [metric(n) for n in (HEADLINE_METRICS if names is None else names)]
    start, end = as_day(start, "start"), as_day(end, "end")
    if observed_until is None:
        observed_until = book.last_date or end
    families = {MEASURES[m].family for found in chosen for m in (found.numerator, found.denominator) if m}
    row = _table(
        book, None, [(start, end)], families=families, observed_until=observed_until, models=funding_models
    ).iloc[0]
    return {
        found.name: None
        if row[found.name] is pd.NA
        else float(row[found.name])
        if found.denominator
        else int(row[found.name])
        for found in chosen
    }


def _table(
    book: Book,
    freq: str | None,
    grid: list[tuple[dt.date, dt.date]],
    *,
    by: str | None = None,
    families: set[str] | None = None,
    observed_until: dt.date,
    models: tuple[str, ...] = FUNDING_MODELS,
) -> pd.DataFrame:
    """The metrics over the periods of ``grid`` (``freq`` None: one exact period), from the families' queries."""
    import pandas as pd

    start, end = grid[0][0], grid[-1][1]
    wanted = set(FAMILIES) if families is None else families
    params = {"start": start, "end": end}
    prepared = _Prepared(
        book, by, models, installments=bool(wanted & {"balance", "ninety_plus", "falling_due"})
    )
    try:
        queries = {
            "originations": (prepared.originations(freq), params),
            "balance": (prepared.balances(freq), params),
            "ninety_plus": (
                prepared.ninety_plus(),
                {"starts": [s for s, _ in grid], "ends": [e for _, e in grid]},
            ),
            "falling_due": (
                prepared.falling_due(freq),
                {**params, "observed_until": as_day(observed_until, "observed_until")},
            ),
            "people": (prepared.users(freq, by), params),
        }
        parts = [book.sql(*query) for family, query in queries.items() if family in wanted]
        codes = book.sql(f"SELECT segment, code FROM {prepared.segments} ORDER BY code")
    finally:
        prepared.close()
    partners_sql = _partners_sql(by, prepared.dialect) if "partners" in wanted else None
    names = dict(zip(codes["code"], codes["segment"]))
    segments = sorted(names.values())
    frame = pd.DataFrame(
        [(s, e, seg) for s, e in grid for seg in segments], columns=["period_start", "period_end", "segment"]
    )
    for part in parts:
        part["period_start"] = pd.to_datetime(part["period_start"]).dt.date
        part["segment"] = part.pop("seg").map(names)
        frame = frame.merge(part, on=["period_start", "segment"], how="left")
    amounts = [c for c in frame.columns if c not in ("period_start", "period_end", "segment")]
    frame[amounts] = frame[amounts].fillna(0).astype("int64")
    frame = frame.sort_values(["segment", "period_start"], kind="stable").reset_index(drop=True)
    running = frame.groupby("segment", sort=False)
    for name, measure in MEASURES.items():
        if measure.running and name in frame.columns:
            frame[name] = running[name].cumsum()
    if partners_sql is not None:  # a segment without institutions has no count, not zero
        partners = book.sql(partners_sql).set_index("segment")["partners"]
        frame["partners"] = frame["segment"].map(partners)

    out = frame[["period_start", "period_end", "segment"]].copy()
    for found in METRICS:
        measured = (
            found.numerator in frame.columns and (found.denominator or found.numerator) in frame.columns
        )
        if not measured or (by is not None and by not in (found.split_by or (by,))):
            out[found.name] = pd.array([pd.NA] * len(out), dtype="Int64")
        elif found.denominator is None:
            out[found.name] = frame[found.numerator].astype("Int64")
        else:
            out[found.name] = _rate(frame[found.numerator], frame[found.denominator])
    if by is None:
        out = out.drop(columns="segment")
    return out


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as nullable Float64, ``<NA>`` where the denominator is zero."""
    import pandas as pd

    values = numerator.to_numpy(dtype="float64") / denominator.where(denominator != 0, 1).to_numpy(
        dtype="float64"
    )
    return pd.Series(pd.array(values, dtype="Float64"), index=numerator.index).mask(denominator == 0)
