"""What the simulated platform knows between the phases of a month, as documented column arrays.

Per-borrower arrays have one slot per borrower (row ``i`` is borrower ``i``);
days are day numbers since the simulation's first day, seconds are seconds into
that day. :class:`Rows` collect the applications, loans and installments as
they are decided and booked, and become the :class:`~creditmesh.simulate.platform.Book`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmesh.schedules import Schedules, add_months
from creditmesh.simulate.collections import CollectionWorld, Collector
from creditmesh.simulate.config import SimulationConfig
from creditmesh.simulate.population import Population

#: A day that never comes: no line, no default, not paid by the horizon.
NEVER = np.iinfo(np.int32).max


@dataclass(frozen=True)
class Calendar:
    """The simulated months as day numbers."""

    start: np.datetime64  # the first day, datetime64[D]
    month_start: np.ndarray  # int64, first day of each month, then the horizon (months + 1 entries)

    @classmethod
    def of(cls, config: SimulationConfig) -> Calendar:
        start = np.datetime64(config.start, "D")
        months = np.arange(config.months + 1)
        return cls(start, (add_months(np.full(config.months + 1, start), months) - start).astype(np.int64))

    @property
    def months(self) -> int:
        return self.month_start.size - 1

    @property
    def horizon(self) -> int:
        """The first day after the simulation."""
        return int(self.month_start[-1])

    @property
    def year(self) -> int:
        """The first day's year (applicants' ages count from it)."""
        return int(self.start.astype("datetime64[Y]").astype(np.int64)) + 1970

    def bounds(self, month: int) -> tuple[int, int]:
        """The first day of ``month`` and the first day after it."""
        return int(self.month_start[month]), int(self.month_start[month + 1])

    def month_of(self, day: np.ndarray) -> np.ndarray:
        """The month each day falls in (``months`` for a day at or after the horizon)."""
        return np.searchsorted(self.month_start, day, side="right") - 1


@dataclass
class Rows:
    """Column arrays collected batch by batch (one batch an :meth:`add`), kept as batches: the tables are built
    and written a batch at a time (:meth:`batches`), never the whole of a column at once. A column of strings
    is kept as an Arrow array (a few bytes a row, where a NumPy object array holds a Python string a row)."""

    columns: dict[str, list[np.ndarray | pa.Array]] = field(default_factory=dict)
    count: int = 0  # rows added so far: the next row's number

    def next_ids(self, size: int) -> np.ndarray:
        """Row numbers for the next ``size`` rows (add them before asking again)."""
        return np.arange(self.count, self.count + size)

    def add(self, **arrays: np.ndarray | pa.Array) -> None:
        """Append a batch: one array per column, all of the same length."""
        for name, values in arrays.items():
            values = values if isinstance(values, pa.Array) else np.asarray(values)
            if isinstance(values, np.ndarray) and values.dtype == object:
                values = pa.array(values, type=pa.string())
            self.columns.setdefault(name, []).append(values)
        self.count += len(next(iter(arrays.values())))

    def largest(self, name: str) -> int:
        """The largest value of a numeric column over every batch (-1 without rows)."""
        return max((int(part.max()) for part in self.columns.get(name, ()) if len(part)), default=-1)

    def batches(self) -> Iterator[dict[str, np.ndarray | pa.Array]]:
        """Each batch in the order it was added, handed over and forgotten (the rows go with it)."""
        while self.columns and next(iter(self.columns.values())):
            yield {name: parts.pop(0) for name, parts in self.columns.items()}

    def done(self) -> dict[str, np.ndarray | pa.Array]:
        # merge one column at a time and drop its parts, so the peak is one column, not every column twice
        return {name: _concatenate(self.columns.pop(name)) for name in list(self.columns)}


def _concatenate(parts: list[np.ndarray | pa.Array]) -> np.ndarray | pa.Array:
    if parts and isinstance(parts[0], pa.Array):
        return pa.concat_arrays(parts)
    return np.concatenate(parts)


@dataclass
class Lines:
    """Each borrower's credit line; a borrower without one has ``app == -1`` and a zero limit."""

    limit_minor: np.ndarray  # int64, the current limit (line adjustments change it)
    apr: np.ndarray  # float64, the line's price, 0 without a line
    app: np.ndarray  # int64, the application that opened it, -1 without a line
    pd_estimate: np.ndarray  # float64, the policy's PD at opening, NaN without a line
    decided_day: np.ndarray  # int64, day of the opening decision (the line's opened_at)
    decided_second: np.ndarray  # int64, second of that decision
    open_day: np.ndarray  # int64, first day it may be drawn (the next day if decided late), NEVER without
    first_draw_second: np.ndarray  # int64, earliest second of open_day a drawdown may start
    month: np.ndarray  # int64, the month of open_day (``months``, after the last month, without a line)
    last_adjusted_day: np.ndarray  # int64, day of the last limit change, -1 never

    @classmethod
    def none(cls, n: int, months: int) -> Lines:
        """``n`` borrowers without a line, in a simulation of ``months`` months."""
        return cls(
            limit_minor=np.zeros(n, np.int64),
            apr=np.zeros(n, np.float64),
            app=np.full(n, -1, np.int64),
            pd_estimate=np.full(n, np.nan),
            decided_day=np.zeros(n, np.int64),
            decided_second=np.zeros(n, np.int64),
            open_day=np.full(n, NEVER, np.int64),
            first_draw_second=np.zeros(n, np.int64),
            month=np.full(n, months, np.int64),
            last_adjusted_day=np.full(n, -1, np.int64),
        )


@dataclass(frozen=True)
class Fates:
    """Each borrower's behaviour, drawn once when the lines open (see :mod:`creditmesh.simulate.behaviour`)."""

    default_day: np.ndarray  # int64, day the borrower stops paying, NEVER if they never do
    never_draws: np.ndarray  # bool, holds a line and never draws it
    propensity: np.ndarray  # float64, chance of a drawdown in a month after the first
    churn_month: np.ndarray  # int64, first month the borrower no longer uses the line


@dataclass
class Exposure:
    """Each borrower's running position with the platform: what they owe and how late they have been."""

    outstanding_minor: np.ndarray  # int64, principal booked so far less principal repaid before this month
    paydown_minor: np.ndarray  # int64, principal repaid, by (month, borrower): row month * n + borrower
    loans_count: np.ndarray  # int32, loans booked so far
    first_loan_day: np.ndarray  # int64, day of the first loan, -1 before it
    # int32, most days past due of any installment due before the current month, each seen once: on the
    # first day of the month after its due month (a later lateness is not seen)
    max_dpd: np.ndarray
    # (borrower, due day, paid day) of the installments due in each month, folded into max_dpd once seen
    due_by_month: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]]

    @classmethod
    def empty(cls, n: int, months: int) -> Exposure:
        return cls(
            outstanding_minor=np.zeros(n, np.int64),
            paydown_minor=np.zeros((months + 1) * n, np.int64),
            loans_count=np.zeros(n, np.int32),
            first_loan_day=np.full(n, -1, np.int64),
            max_dpd=np.zeros(n, np.int32),
            due_by_month=[[] for _ in range(months + 1)],
        )

    def months_on_book(self, borrower: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Whole 30-day months since each borrower's first loan, -1 before it."""
        first = self.first_loan_day[borrower]
        return np.where(first >= 0, (day - first) // 30, -1)

    def utilization(self, borrower: np.ndarray, limit_minor: np.ndarray) -> np.ndarray:
        """Outstanding principal over the limit (float32, a feature)."""
        return (self.outstanding_minor[borrower] / np.maximum(limit_minor, 1)).astype(np.float32)


@dataclass
class PlatformState:
    """Everything the month's phases read and change."""

    calendar: Calendar
    pop: Population
    lines: Lines
    fates: Fates
    exposure: Exposure
    applications: Rows  # every application of every stage, with its decision
    loans: Rows  # the booked loans
    installments: Rows  # the booked loans' installments: seq, interest due, interest paid when paid
    # the loans' repayment day by day, answering collections (see creditmesh.simulate.collections)
    world: CollectionWorld | None = None
    collector: Collector | None = None

    @property
    def size(self) -> int:
        return self.pop.size


@dataclass(frozen=True)
class Applications:
    """A batch of applications of one stage, as the policy sees them and as the applications table records them."""

    stage: str  # one of creditmesh.schema.STAGES
    borrower: np.ndarray  # int64
    day: np.ndarray  # int64
    second: np.ndarray  # int64
    requested_amount_minor: np.ndarray  # int64: 0 for a line, the drawdown's amount, the current limit
    requested_tenor: np.ndarray  # int16 months
    months_on_book: np.ndarray  # whole 30-day months since the first loan, -1 before it
    max_dpd: np.ndarray  # most days past due on the book so far, -1 before the first loan
    utilization: np.ndarray  # float32, outstanding principal over the limit, NaN without a line
    features: pd.DataFrame  # what the policy sees: the feature columns (a drawdown's also its amount)


@dataclass(frozen=True)
class DrawdownRequests:
    """The month's drawdown requests, with what the drawdown decision needs beyond their features."""

    applications: Applications
    available_minor: np.ndarray  # int64, the limit less the outstanding principal
    delinquent: np.ndarray  # bool, the borrower has stopped paying by the request's day


@dataclass(frozen=True)
class Drawdowns:
    """Approved drawdowns, to be funded and booked as loans."""

    app: np.ndarray  # int64, the drawdown application
    borrower: np.ndarray  # int64
    day: np.ndarray  # int64
    second: np.ndarray  # int64, the request's second (the loan is booked after its decision)
    principal_minor: np.ndarray  # int64, the amount approved
    tenor: np.ndarray  # int16 months
    apr: np.ndarray  # float64, the line's price
    pd_estimate: np.ndarray  # float64, the line's PD at opening

    @property
    def size(self) -> int:
        return self.borrower.size


@dataclass(frozen=True)
class BookedLoans:
    """Loans booked this month with their schedules, ready to be repaid."""

    loan: np.ndarray  # int64 loan numbers
    owner: np.ndarray  # int64, the borrower of each installment row
    day: np.ndarray  # int64, origination day of each loan
    rate_ppm: np.ndarray  # int64, each loan's APR in parts per million
    schedules: Schedules
    due_day: np.ndarray  # int64, each installment's due day
