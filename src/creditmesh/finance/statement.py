"""The income statement and the balance sheet, from the ledger's journal.

A quarter's line is the sum of its accounts' postings (:mod:`creditmesh.finance.lines`) over the journal
entries that occurred in it; revenue lines show credits as positive amounts, cost and provision lines
debits. The balance sheet at a date sums the asset, liability and equity accounts, and its retained
earnings are what is left of the assets once liabilities and contributed capital are paid: so the
quarter's net income equals the change in retained earnings exactly when every entry balances and
every income or expense posting falls in a line (:meth:`IncomeStatement.check`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, func, or_, select

from creditmesh.errors import CreditmeshError, ParameterError
from creditmesh.finance.lines import LINES, PROFIT_AND_LOSS_ACCOUNTS, SEED_TOTAL_REVENUE_THOUSANDS, line_of
from creditmesh.ledger import journal
from creditmesh.ledger.tables import journal_entries, loans, postings

if TYPE_CHECKING:
    import pandas as pd

    from creditmesh.ledger import Ledger

_QUARTER = re.compile(r"(\d{4})\s*-?\s*Q([1-4])", re.IGNORECASE)


class StatementError(CreditmeshError):
    """The journal does not tie to the statement: a bug or an account outside the statement's lines."""


def quarter_bounds(quarter: str) -> tuple[date, date]:
    """First and last day of ``"2024Q4"`` (also ``"2024-Q4"``)."""
    match = _QUARTER.fullmatch(quarter.strip()) if isinstance(quarter, str) else None
    if match is None:
        raise ParameterError("quarter", f"expected a quarter like 2024Q4, got {quarter!r}")
    year, number = int(match[1]), int(match[2])
    start = date(year, 3 * number - 2, 1)
    following = date(year + number // 4, 3 * number % 12 + 1, 1)
    return start, following - timedelta(days=1)


def shift_quarter(quarter: str, quarters: int) -> str:
    """The quarter ``quarters`` after ``quarter`` (negative: before)."""
    start, _ = quarter_bounds(quarter)
    index = start.year * 4 + (start.month - 1) // 3 + quarters
    return f"{index // 4}Q{index % 4 + 1}"


def profit_and_loss(ledger: Ledger, start: date, end: date) -> dict[str, int]:
    """Each line's amount over the entries occurring from ``start`` to ``end`` (both included).

    Raises :class:`StatementError` if an income or expense posting falls in no line (or in two).
    """
    return profit_and_loss_by_period(ledger, {"period": (start, end)})["period"]


def profit_and_loss_by_period(
    ledger: Ledger, periods: dict[str, tuple[date, date]]
) -> dict[str, dict[str, int]]:
    """:func:`profit_and_loss` of several non-overlapping periods, in one pass over the journal."""
    spans = [(label, start, end) for label, (start, end) in periods.items()]
    occurred = journal_entries.c.occurred_on
    period = case(*[(and_(occurred >= s, occurred <= e), label) for label, s, e in spans], else_=None)
    query = (
        select(
            period.label("period"),
            postings.c.account_code,
            loans.c.funding_model,
            func.sum(postings.c.amount_minor),
        )
        .select_from(
            postings.join(journal_entries, journal_entries.c.entry_id == postings.c.entry_id).outerjoin(
                loans, loans.c.loan_id == postings.c.loan_id
            )
        )
        .where(or_(*[and_(occurred >= s, occurred <= e) for _, s, e in spans]))
        .where(postings.c.account_code.in_(PROFIT_AND_LOSS_ACCOUNTS))
        .group_by(period, postings.c.account_code, loans.c.funding_model)
    )
    with ledger.engine.connect() as conn:
        rows = conn.execute(query).all()
    amounts = {label: {line.key: 0 for line in LINES} for label in periods}
    revenue = {line.key: line.revenue for line in LINES}
    for label, account, model, total in rows:
        keys = line_of(account, model)
        if len(keys) != 1:
            raise StatementError(
                "journal",
                f"{int(total)} posted to account {account} ({model or 'no loan'}) is in {len(keys)} lines",
            )
        amounts[label][keys[0]] += -int(total) if revenue[keys[0]] else int(total)
    return amounts


@dataclass(frozen=True, slots=True)
class BalanceSheet:
    """Balances at the end of ``as_of``, minor units, each side positive."""

    as_of: date
    assets_minor: int
    liabilities_minor: int
    capital_minor: int
    #: Assets less liabilities less contributed capital: every income and expense booked so far.
    retained_earnings_minor: int
    #: Each balance-sheet account's balance (debit positive).
    accounts: dict[str, int]


def balance_sheet(ledger: Ledger, as_of: date) -> BalanceSheet:
    """The balance sheet at the end of ``as_of``, from the asset, liability and equity accounts alone."""
    return balance_sheets(ledger, [as_of])[0]


def balance_sheets(ledger: Ledger, days: list[date]) -> list[BalanceSheet]:
    """:func:`balance_sheet` at each of ``days``, in one pass over the journal."""
    occurred = journal_entries.c.occurred_on
    query = (
        select(
            postings.c.account_code,
            *[func.sum(case((occurred <= day, postings.c.amount_minor), else_=0)) for day in days],
        )
        .select_from(postings.join(journal_entries, journal_entries.c.entry_id == postings.c.entry_id))
        .where(occurred <= max(days), postings.c.account_code.not_in(PROFIT_AND_LOSS_ACCOUNTS))
        .group_by(postings.c.account_code)
    )
    with ledger.engine.connect() as conn:
        rows = conn.execute(query).all()
    sheets = []
    for column, day in enumerate(days, start=1):
        kept = {row[0]: int(row[column]) for row in rows if row[column]}
        sides = {"asset": 0, "liability": 0, "equity": 0}
        for code, amount in kept.items():
            sides[journal.ACCOUNTS[code].kind] += amount
        assets, liabilities, capital = sides["asset"], -sides["liability"], -sides["equity"]
        sheets.append(BalanceSheet(day, assets, liabilities, capital, assets - liabilities - capital, kept))
    return sheets


@dataclass(frozen=True)
class IncomeStatement:
    """A quarter's lines beside the prior quarter's and the same quarter a year earlier, and its balance sheets."""

    quarter: str
    #: Period name (``quarter``, ``prior_quarter``, ``year_earlier``) -> (quarter label, line key -> amount).
    periods: dict[str, tuple[str, dict[str, int]]]
    opening: BalanceSheet
    closing: BalanceSheet

    def amounts(self, period: str = "quarter") -> dict[str, int]:
        return self.periods[period][1]

    def total_revenue(self, period: str = "quarter") -> int:
        return sum(self.amounts(period)[line.key] for line in LINES if line.revenue)

    def net_income(self, period: str = "quarter") -> int:
        """Revenue less costs and provisions (before the expenses the ledger does not book)."""
        amounts = self.amounts(period)
        return sum(amounts[line.key] if line.revenue else -amounts[line.key] for line in LINES)

    def check(self) -> None:
        """Raise :class:`StatementError` unless the quarter's net income is the change in retained earnings."""
        change = self.closing.retained_earnings_minor - self.opening.retained_earnings_minor
        if change != self.net_income():
            raise StatementError(
                "journal",
                f"net income {self.net_income()} differs from the change in retained earnings {change}",
            )

    def table(self) -> pd.DataFrame:
        """One row per line and subtotal: the three periods, the changes, and the shares of total revenue."""
        import pandas as pd

        rows = []
        totals = {"revenue": ("Total net revenue", True), "costs": ("Total costs and provisions", False)}

        def row(label: str, section: str, values: dict[str, int], seed: int | None) -> dict:
            this, prior, earlier = values["quarter"], values["prior_quarter"], values["year_earlier"]
            revenue = self.total_revenue()
            return {
                "section": section,
                "line": label,
                self.periods["quarter"][0]: this,
                self.periods["prior_quarter"][0]: prior,
                "change_vs_prior": _change(this, prior),
                self.periods["year_earlier"][0]: earlier,
                "change_vs_year_earlier": _change(this, earlier),
                "share_of_revenue": this / revenue if revenue else float("nan"),
                "seeds_share_q4_2024": seed / SEED_TOTAL_REVENUE_THOUSANDS
                if seed is not None
                else float("nan"),
            }

        names = list(self.periods)
        for line in LINES:
            rows.append(
                row(
                    line.label,
                    line.section,
                    {p: self.amounts(p)[line.key] for p in names},
                    line.seed_q4_2024_thousands,
                )
            )
        for key, (label, revenue) in totals.items():
            chosen = [line for line in LINES if line.revenue == revenue]
            values = {p: sum(self.amounts(p)[line.key] for line in chosen) for p in names}
            rows.append(row(label, key, values, sum(line.seed_q4_2024_thousands for line in chosen)))
        rows.append(row("Net income (as booked)", "net_income", {p: self.net_income(p) for p in names}, None))
        return pd.DataFrame(rows)

    def readable(self, currency: str = "CNY") -> pd.DataFrame:
        """:meth:`table` for a reader: amounts in major units, changes and shares in percent."""
        from creditmesh.money import format_minor

        frame = self.table()
        for _, (label, _) in self.periods.items():
            frame[label] = [format_minor(int(v), currency) for v in frame[label]]
        for column in (
            "change_vs_prior",
            "change_vs_year_earlier",
            "share_of_revenue",
            "seeds_share_q4_2024",
        ):
            frame[column] = ["" if v != v else f"{100 * v:.1f} %" for v in frame[column]]
        return frame.drop(columns="section")


def _change(now: int, then: int) -> float:
    return (now - then) / abs(then) if then else float("nan")


def income_statement(ledger: Ledger, quarter: str) -> IncomeStatement:
    """The quarter's statement from the journal, tied to the balance sheet (:meth:`IncomeStatement.check`)."""
    periods = {
        "quarter": quarter,
        "prior_quarter": shift_quarter(quarter, -1),
        "year_earlier": shift_quarter(quarter, -4),
    }
    by_period = profit_and_loss_by_period(
        ledger, {name: quarter_bounds(label) for name, label in periods.items()}
    )
    amounts = {name: (label.upper(), by_period[name]) for name, label in periods.items()}
    start, end = quarter_bounds(quarter)
    opening, closing = balance_sheets(ledger, [start - timedelta(days=1), end])
    statement = IncomeStatement(quarter.upper(), amounts, opening, closing)
    statement.check()
    return statement
