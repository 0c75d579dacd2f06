"""Delinquency, defined once: days past due, the buckets, and the charge-off day.

Every box that asks "how late is this loan?" (the ledger's aging, the
portfolio's metrics, series, ECL and roll rates, the graph's labels, the
simulator) calls this module, as numpy functions or as SQL fragments.

The reading (seeds/002, footnotes 6 and 7):

* An installment is *open at day D* while it is unpaid at the end of that day
  (``paid IS NULL OR paid > D``; ``paid`` is the day it was settled in full).
* Days past due (dpd) at D: ``D - due_date`` of the loan's oldest installment
  open at D that fell due before D, else 0. Due today and unpaid is 0 dpd; the
  next day 1.
* Buckets (:data:`BUCKETS`): ``current`` (0), ``dpd_1_30``, ``dpd_31_60``,
  ``dpd_61_90``, ``dpd_91_180``, then ``charged_off``. A bucket's ``name`` is
  what tables store; its ``label`` (``1-30``) is what a reader sees.
* A loan is charged off on the first day it shows :data:`CHARGE_OFF_DPD` (181)
  dpd, "delinquent for more than 180 days", and stays charged off.

The SQL fragments serve SQLite and PostgreSQL (the ledger), DuckDB (the
portfolio) and Spark SQL (the portfolio past one machine). They take column expressions written by our own code and bound
parameters (``:as_of``, ``$as_of``) and emit only those and integer constants
from this module; an expression holding a semicolon or a comment is refused
(no second statement, nothing cut off). Values always travel as parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from creditmesh.errors import ParameterError

#: The first day at this many days past due, a loan is charged off ("delinquent for more than 180 days").
CHARGE_OFF_DPD = 181


@dataclass(frozen=True, slots=True)
class Bucket:
    """A delinquency bucket: the stored ``name``, the reader's ``label``, and its dpd range (both ends included).

    ``last_dpd`` is ``None`` for the open-ended ``charged_off``.
    """

    name: str
    label: str
    first_dpd: int
    last_dpd: int | None


#: The buckets in order of lateness; the last one, ``charged_off``, is absorbing.
BUCKETS: tuple[Bucket, ...] = (
    Bucket("current", "current", 0, 0),
    Bucket("dpd_1_30", "1-30", 1, 30),
    Bucket("dpd_31_60", "31-60", 31, 60),
    Bucket("dpd_61_90", "61-90", 61, 90),
    Bucket("dpd_91_180", "91-180", 91, CHARGE_OFF_DPD - 1),
    Bucket("charged_off", "charged_off", CHARGE_OFF_DPD, None),
)
#: Stored bucket names, in order.
BUCKET_NAMES: tuple[str, ...] = tuple(b.name for b in BUCKETS)
#: Display labels, in the order of :data:`BUCKET_NAMES`.
BUCKET_LABELS: tuple[str, ...] = tuple(b.label for b in BUCKETS)
#: The bucket of each stored name.
BY_NAME: dict[str, Bucket] = {b.name: b for b in BUCKETS}
#: The bucket footnote 7's "90 day+ delinquency rate" counts: 91 to 180 calendar days past due.
NINETY_PLUS = BY_NAME["dpd_91_180"]
#: Engines the SQL fragments are written for.
DIALECTS = ("sqlite", "postgresql", "duckdb", "spark")

# Upper ends of the buckets before charge-off: dpd <= edge[k] falls in BUCKETS[k] (searchsorted, left).
_EDGES = np.array([b.last_dpd for b in BUCKETS[:-1]], dtype=np.int64)


def bucket_named(name: str) -> Bucket:
    """The bucket stored as ``name``; a :class:`ParameterError` naming the known ones otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ParameterError("bucket", f"unknown bucket {name!r}; known: {list(BUCKET_NAMES)}") from None


# -- numpy -------------------------------------------------------------------


def _whole_days(delta: np.ndarray) -> np.ndarray:
    delta = np.asarray(delta)
    if delta.dtype.kind == "m":
        return delta.astype("timedelta64[D]").astype(np.int64)
    return delta.astype(np.int64)


def days_past_due(oldest_unpaid_due: np.ndarray, as_of: np.datetime64 | np.ndarray) -> np.ndarray:
    """Dpd at ``as_of`` from the due date of each loan's oldest installment open at ``as_of`` and due before it.

    ``NaT`` (no such installment) is 0 dpd. Dates as ``datetime64`` (any unit; days count whole calendar
    days), or integer day numbers (then nothing is ``NaT``).
    """
    oldest = np.asarray(oldest_unpaid_due)
    if oldest.dtype.kind == "M":
        day = oldest.astype("datetime64[D]")
        late = np.asarray(as_of).astype("datetime64[D]") - day
        return np.where(np.isnat(day), 0, _whole_days(np.where(np.isnat(day), np.timedelta64(0, "D"), late)))
    return np.maximum(_whole_days(np.asarray(as_of) - oldest), 0)


def worst_dpd(due_day: np.ndarray, paid_day: np.ndarray, as_of: np.ndarray | int) -> np.ndarray:
    """The most days past due each installment had reached by ``as_of``: ``min(paid, as_of) - due``, at least 0.

    Integer day numbers (a never-paid installment carries any day after ``as_of``) or ``datetime64``
    days. What the simulator's applicants report as ``max_dpd_on_book``.
    """
    due, paid, on = np.asarray(due_day), np.asarray(paid_day), np.asarray(as_of)
    return np.maximum(_whole_days(np.minimum(paid, on) - due), 0)


def bucket(dpd: np.ndarray, *, label: bool = False) -> np.ndarray:
    """Each dpd's bucket name (or display label with ``label=True``); 181 dpd and over is ``charged_off``."""
    names = np.array(BUCKET_LABELS if label else BUCKET_NAMES, dtype=object)
    return names[np.searchsorted(_EDGES, np.asarray(dpd, dtype=np.int64), side="left")]


def is_charged_off(dpd: np.ndarray) -> np.ndarray:
    """True where a loan at ``dpd`` days past due is charged off (:data:`CHARGE_OFF_DPD` or more)."""
    return np.asarray(dpd) >= CHARGE_OFF_DPD


def day_at_dpd(due_date: np.ndarray, dpd: int) -> np.ndarray:
    """The day an installment due on ``due_date`` shows ``dpd`` days past due if still open."""
    due = np.asarray(due_date)
    return due + (np.timedelta64(dpd, "D") if due.dtype.kind == "M" else dpd)


def open_on(paid: np.ndarray, day: np.ndarray) -> np.ndarray:
    """True where an installment settled on ``paid`` (``NaT``: never) is still open at the end of ``day``."""
    paid = np.asarray(paid)
    unpaid = np.isnat(paid) if paid.dtype.kind == "M" else np.zeros(paid.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return unpaid | (paid > np.asarray(day))


def charge_off_day(due_date: np.ndarray, paid: np.ndarray) -> np.ndarray:
    """Per installment, the day it charges its loan off (181 dpd, still open then), ``NaT`` if it never does.

    A loan's charge-off day is the earliest over its installments.
    """
    day = day_at_dpd(np.asarray(due_date).astype("datetime64[D]"), CHARGE_OFF_DPD)
    return np.where(open_on(paid, day), day, np.datetime64("NaT", "D"))


# -- SQL fragments -----------------------------------------------------------

_FORBIDDEN = re.compile(r";|--|/\*")


def _expression(sql: str, field: str) -> str:
    if not isinstance(sql, str) or not sql.strip() or _FORBIDDEN.search(sql):
        raise ParameterError(field, f"expected a column expression or bound parameter, got {sql!r}")
    return sql


def _dialect(dialect: str) -> str:
    if dialect not in DIALECTS:
        raise ParameterError("dialect", f"expected one of {', '.join(DIALECTS)}, got {dialect!r}")
    return dialect


def days_between_sql(later: str, earlier: str, dialect: str) -> str:
    """SQL for the whole days from date ``earlier`` to date ``later`` on ``dialect``."""
    later, earlier = _expression(later, "later"), _expression(earlier, "earlier")
    chosen = _dialect(dialect)
    if chosen == "sqlite":
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
    if chosen == "spark":  # a date minus a date is an interval there
        return f"datediff(CAST({later} AS DATE), CAST({earlier} AS DATE))"
    return f"(CAST({later} AS DATE) - CAST({earlier} AS DATE))"


def day_at_dpd_sql(due_date: str, dpd: int, dialect: str) -> str:
    """SQL for the day an installment due on ``due_date`` shows ``dpd`` days past due (a date)."""
    due_date = _expression(due_date, "due_date")
    days = int(dpd)
    chosen = _dialect(dialect)
    if chosen == "sqlite":
        return f"date(julianday({due_date}) + {days})"
    if chosen == "spark":
        return f"date_add({due_date}, {days})"
    return f"({due_date} + {days})"


def open_on_sql(paid: str, day: str) -> str:
    """SQL: the installment settled on ``paid`` is still open at the end of ``day``."""
    paid, day = _expression(paid, "paid"), _expression(day, "day")
    return f"({paid} IS NULL OR {paid} > {day})"


def dpd_sql(oldest_unpaid_due: str, as_of: str, dialect: str) -> str:
    """SQL for dpd at ``as_of`` from the oldest open installment's due date (NULL when none: 0 dpd)."""
    oldest = _expression(oldest_unpaid_due, "oldest_unpaid_due")
    return f"COALESCE({days_between_sql(as_of, oldest, dialect)}, 0)"


def in_bucket_sql(dpd: str, name: str) -> str:
    """SQL: ``dpd`` falls in the bucket stored as ``name``."""
    dpd, chosen = _expression(dpd, "dpd"), bucket_named(name)
    if chosen.last_dpd is None:
        return f"({dpd} >= {chosen.first_dpd})"
    return f"({dpd} BETWEEN {chosen.first_dpd} AND {chosen.last_dpd})"


def charged_off_sql(dpd: str) -> str:
    """SQL: a loan at ``dpd`` days past due is charged off."""
    return f"({_expression(dpd, 'dpd')} >= {CHARGE_OFF_DPD})"


def bucket_sql(dpd: str, *, charged_off: str | None = None, label: bool = False) -> str:
    """SQL ``CASE`` giving the bucket of ``dpd`` (names, or display labels with ``label=True``).

    ``charged_off``: an optional SQL condition that also means charged off (a loan stays so once it is).
    """
    dpd = _expression(dpd, "dpd")
    text = BUCKET_LABELS if label else BUCKET_NAMES
    gone = (
        charged_off_sql(dpd)
        if charged_off is None
        else f"{_expression(charged_off, 'charged_off')} OR {charged_off_sql(dpd)}"
    )
    whens = [f"WHEN {gone} THEN '{text[-1]}'", f"WHEN {dpd} = 0 THEN '{text[0]}'"]
    whens += [f"WHEN {dpd} <= {b.last_dpd} THEN '{t}'" for b, t in zip(BUCKETS[1:-2], text[1:-2])]
    return "CASE " + " ".join(whens) + f" ELSE '{text[-2]}' END"


def charged_off_on_sql(due_date: str = "due_date", paid: str = "paid_at", *, dialect: str = "duckdb") -> str:
    """SQL aggregate: a loan's charge-off day over its installment rows (NULL if it never charges off).

    The earliest ``due_date + 181`` over installments still open at the end of that day.
    """
    day = day_at_dpd_sql(due_date, CHARGE_OFF_DPD, dialect)
    return f"MIN({day}) FILTER (WHERE {open_on_sql(paid, day)})"


def charge_offs_sql(
    installments: str = "installments",
    due_date: str = "due_date",
    paid: str = "paid_at",
    *,
    dialect: str = "duckdb",
) -> str:
    """SQL ``SELECT loan_id, charged_off_on`` for every loan of ``installments`` that is ever charged off."""
    table = _expression(installments, "installments")
    day = day_at_dpd_sql(due_date, CHARGE_OFF_DPD, dialect)
    return (
        f"SELECT loan_id, MIN({day}) AS charged_off_on FROM {table} "
        f"WHERE {open_on_sql(paid, day)} GROUP BY loan_id"
    )
