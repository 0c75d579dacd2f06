"""A builder for tiny loan books: every required column filled, only what a test cares about named."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pytest

from creditmesh.portfolio import Book
from creditmesh.schema import empty

UTC = dt.UTC


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A UTC timestamp on ``day``."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@dataclass
class LoanBook:
    """Rows of the five required tables, added loan by loan."""

    loans: list[dict] = field(default_factory=list)
    installments: list[dict] = field(default_factory=list)
    credit_lines: list[dict] = field(default_factory=list)
    borrowers: list[dict] = field(default_factory=list)
    institutions: list[dict] = field(default_factory=list)

    def borrower(self, borrower_id: str, registered: dt.date = dt.date(2023, 1, 1)) -> None:
        if any(b["borrower_id"] == borrower_id for b in self.borrowers):
            return
        self.borrowers.append(
            {
                "borrower_id": borrower_id,
                "registered_at": at(registered),
                "channel": "app",
                "region": "east",
                "birth_year": 1990,
            }
        )

    def credit_line(self, borrower_id: str, opened: dt.date) -> str:
        for line in self.credit_lines:
            if line["borrower_id"] == borrower_id:
                return line["credit_line_id"]
        self.borrower(borrower_id, min(opened, dt.date(2023, 1, 1)))
        line_id = f"cl-{borrower_id}"
        self.credit_lines.append(
            {
                "credit_line_id": line_id,
                "borrower_id": borrower_id,
                "application_id": f"app-{line_id}",
                "limit_minor": 10_000_000,
                "apr": 0.18,
                "opened_at": at(opened),
                "status": "active",
                "last_adjusted_at": None,
            }
        )
        return line_id

    def institution(self, funding_model: str) -> str:
        institution_id = f"fi-{funding_model}"
        if not any(i["institution_id"] == institution_id for i in self.institutions):
            self.institutions.append(
                {
                    "institution_id": institution_id,
                    "name": funding_model.replace("_", " ").title(),
                    "funding_model": funding_model,
                    "max_pd": 0.2,
                    "min_score": 500,
                    "max_amount_minor": 20_000_000,
                    "tenors": [3, 6, 12],
                    "regions": ["east"],
                    "apr_min": 0.07,
                    "apr_max": 0.24,
                    "funding_cost": 0.04,
                    "monthly_capacity_minor": 10**12,
                }
            )
        return institution_id

    def loan(
        self,
        loan_id: str,
        *,
        principal: int,
        originated: dt.date | dt.datetime,
        borrower: str | None = None,
        funding_model: str = "capital_heavy_on",
        tenor_months: int = 12,
        repeat_flag: bool = False,
    ) -> str:
        """Add a loan; ``originated`` is a day (10:00 UTC) or an exact UTC timestamp."""
        borrower = borrower or f"b-{loan_id}"
        stamp = originated if isinstance(originated, dt.datetime) else at(originated)
        line_id = self.credit_line(borrower, stamp.date())
        self.loans.append(
            {
                "loan_id": loan_id,
                "borrower_id": borrower,
                "credit_line_id": line_id,
                "application_id": f"app-{loan_id}",
                "institution_id": self.institution(funding_model),
                "funding_model": funding_model,
                "principal_minor": principal,
                "apr": 0.18,
                "tenor_months": tenor_months,
                "schedule": "equal_principal",
                "originated_at": stamp,
                "repeat_borrower": repeat_flag,
            }
        )
        return loan_id

    def installment(self, loan_id: str, due: dt.date, principal: int, paid: dt.date | None = None) -> None:
        seq = 1 + sum(1 for i in self.installments if i["loan_id"] == loan_id)
        self.installments.append(
            {
                "loan_id": loan_id,
                "seq": seq,
                "due_date": due,
                "principal_due_minor": principal,
                "interest_due_minor": principal // 100,
                "fee_due_minor": 0,
                "principal_paid_minor": principal if paid else 0,
                "interest_paid_minor": principal // 100 if paid else 0,
                "fee_paid_minor": 0,
                "paid_at": paid,
            }
        )

    def single(
        self,
        loan_id: str,
        *,
        principal: int,
        originated: dt.date,
        due: dt.date,
        paid: dt.date | None = None,
        **loan,
    ) -> str:
        """A one-installment loan: all its principal falls due on ``due``."""
        self.loan(loan_id, principal=principal, originated=originated, **loan)
        self.installment(loan_id, due, principal, paid)
        return loan_id

    def frames(self) -> dict[str, pd.DataFrame | pa.Table]:
        tables = {
            "loans": self.loans,
            "installments": self.installments,
            "credit_lines": self.credit_lines,
            "borrowers": self.borrowers,
            "institutions": self.institutions,
        }
        return {name: _frame(name, rows) for name, rows in tables.items()}

    def book(self) -> Book:
        return Book.from_frames(**self.frames())


def _frame(name: str, rows: list[dict]) -> pd.DataFrame | pa.Table:
    return pd.DataFrame(rows) if rows else empty(name)


@pytest.fixture(scope="session")
def loan_book() -> type[LoanBook]:
    """The :class:`LoanBook` builder (session-scoped, so hypothesis tests may use it)."""
    return LoanBook


@pytest.fixture(scope="session")
def simulated_tables():
    """A small simulated platform (3,000 borrowers over 24 months, under a second): the five required tables."""
    from creditmesh.portfolio import REQUIRED_TABLES
    from creditmesh.simulate import SimulationConfig, simulate

    result = simulate(SimulationConfig(borrowers=3_000, months=24, seed=1))
    return {name: result.tables[name] for name in REQUIRED_TABLES}


@pytest.fixture(scope="session")
def simulated_book(simulated_tables):
    """The simulated platform as a :class:`Book` (read-only, shared by the session)."""
    book = Book.from_frames(**simulated_tables)
    yield book
    book.close()
