"""Provisions over time: the ECL allowance and the guarantee liability rolled forward month by month.

At each month end the expected credit loss of every open loan (``portfolio/ecl.py``) is discounted to
that date at the loan's effective interest rate: a loss expected at the middle of the horizon the
stage looks over (12 months, or the loan's remaining life; at once in stage 3) is worth
``ECL / (1 + APR/12)^months``. Between two month ends each loan's change falls in one movement:

* **new loans**: originated in the month, its closing ECL;
* **remeasurement**: open at both ends, closing less opening ECL (stage moves, repayments, new PDs);
* **write-offs**: charged off in the month, its opening ECL taken out;
* **releases**: repaid in the month, its opening ECL released.

So closing = opening + new loans + remeasurement - write-offs - releases, to the minor unit, for the
loss allowance (``capital_heavy_on``) and the guarantee liability (``capital_heavy_off``) alike;
:func:`book_provisions` books each month's closing balances in the ledger as provision expense.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from creditmesh import funding
from creditmesh.errors import ParameterError
from creditmesh.money import Rounding, round_ratio_array
from creditmesh.portfolio.ecl import expected_credit_loss

if TYPE_CHECKING:
    import pandas as pd

    from creditmesh.ledger import Ledger
    from creditmesh.portfolio import Book

#: The provisions the platform carries, and the funding-model property that puts a loan's ECL in each.
CARRIERS: dict[str, str] = {"loss_allowance": "on_balance_sheet", "guarantee_liability": "guarantees"}
#: The movements of a roll-forward, in the order they are shown (signs: as they add to the opening).
MOVEMENTS = ("new_loans", "remeasurement", "write_offs", "releases")
#: Discount factors are carried as integer parts per billion.
_SCALE = 1_000_000_000

_CHARGED_OFF_SQL = """
SELECT loan_id, MIN(due_date + 181) AS charged_off_on
FROM installments WHERE paid_at IS NULL OR paid_at > due_date + 181 GROUP BY loan_id
"""


def carrier_of(funding_model: str) -> str | None:
    """Which provision carries the expected loss of a loan of ``funding_model`` (None: the partner bears it)."""
    model = funding.get_model(funding_model)
    return next((name for name, prop in CARRIERS.items() if getattr(model, prop)), None)


def month_ends(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every month's last day from ``start``'s month to ``end``'s."""
    out, day = [], dt.date(start.year, start.month, 1)
    while day <= end:
        following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        out.append(following - dt.timedelta(days=1))
        day = following
    return out


def discounted_ecl(book: Book, as_of: dt.date, **ecl_options) -> pd.DataFrame:
    """Each open loan's ECL at ``as_of`` and its value discounted at the loan's effective interest rate.

    Columns: ``loan_id, funding_model, carrier, stage, ecl_minor, discount_months, provision_minor``.
    Loans whose loss a partner bears are left out (they carry no provision).
    """
    result = expected_credit_loss(book, as_of, **ecl_options)
    loans = result.loans
    loans = loans[loans["funding_model"].map(carrier_of).notna()].copy()
    loans["carrier"] = loans["funding_model"].map(carrier_of)
    apr = book.sql("SELECT loan_id, apr FROM loans").set_index("loan_id")["apr"]
    monthly = loans["loan_id"].map(apr).to_numpy(dtype=float) / 12
    horizon = np.where(
        loans["stage"].to_numpy() == 1, np.minimum(loans["remaining_months"].to_numpy(), 12), 0
    )
    horizon = np.where(loans["stage"].to_numpy() == 2, loans["remaining_months"].to_numpy(), horizon)
    months = horizon / 2
    factor = np.rint(_SCALE / (1 + monthly) ** months).astype(np.int64)
    loans["discount_months"] = months
    ecl = loans["ecl_minor"].to_numpy(dtype=np.int64)
    # ECL below ~9e9 minor units keeps ecl x factor inside int64
    loans["provision_minor"] = round_ratio_array(ecl * factor, _SCALE, rounding=Rounding.HALF_UP)
    columns = [
        "loan_id",
        "funding_model",
        "carrier",
        "stage",
        "ecl_minor",
        "discount_months",
        "provision_minor",
    ]
    return loans[columns].reset_index(drop=True)


@dataclass(frozen=True)
class RollForward:
    """One row per (month end, carrier): ``opening, new_loans, remeasurement, write_offs, releases, closing``.

    Write-offs and releases are shown as the negative amounts they add.
    """

    table: pd.DataFrame

    def problems(self) -> list[str]:
        """Months whose closing is not the opening plus the movements, or not the next month's opening."""
        found = []
        for _, row in self.table.iterrows():
            if row["opening"] + sum(row[m] for m in MOVEMENTS) != row["closing"]:
                found.append(f"{row['month_end']} {row['carrier']}: closing is not opening plus movements")
        for carrier, rows in self.table.groupby("carrier"):
            closing, opening = rows["closing"].to_numpy()[:-1], rows["opening"].to_numpy()[1:]
            if (closing != opening).any():
                found.append(f"{carrier}: a month opens at other than the last month's closing")
        return found


def provisions_roll_forward(book: Book, start: dt.date, end: dt.date, **ecl_options) -> RollForward:
    """The loss allowance and the guarantee liability from the month end before ``start`` to ``end``'s."""
    import pandas as pd

    if end < start:
        raise ParameterError("end", f"{end} is before the start {start}")
    ends = month_ends(start, end)
    first_opening = dt.date(ends[0].year, ends[0].month, 1) - dt.timedelta(days=1)
    charged = book.sql(_CHARGED_OFF_SQL).set_index("loan_id")["charged_off_on"]
    charged = pd.to_datetime(charged).dt.date
    originated = book.sql("SELECT loan_id, CAST(originated_at AS DATE) AS day FROM loans").set_index(
        "loan_id"
    )["day"]
    originated = pd.to_datetime(originated).dt.date
    previous = _by_loan(discounted_ecl(book, first_opening, **ecl_options))
    rows = []
    for month_end in ends:
        current = _by_loan(discounted_ecl(book, month_end, **ecl_options))
        month_start = dt.date(month_end.year, month_end.month, 1)
        for carrier in CARRIERS:
            before = previous[previous["carrier"] == carrier]["provision_minor"]
            after = current[current["carrier"] == carrier]["provision_minor"]
            both = before.index.intersection(after.index)
            gone = before.index.difference(after.index)
            came = after.index.difference(before.index)
            written_off = np.array(
                [month_start <= charged.get(loan, dt.date.max) <= month_end for loan in gone], bool
            )
            is_new = np.array([originated.get(loan, dt.date.min) >= month_start for loan in came], bool)
            rows.append(
                {
                    "month_end": month_end,
                    "carrier": carrier,
                    "opening": int(before.sum()),
                    # a loan first provided for in a later month than its origination counts as remeasured
                    "new_loans": int(after[came][is_new].sum()),
                    "remeasurement": int((after[both] - before[both]).sum())
                    + int(after[came][~is_new].sum()),
                    "write_offs": -int(before[gone][written_off].sum()),
                    "releases": -int(before[gone][~written_off].sum()),
                    "closing": int(after.sum()),
                }
            )
        previous = current
    return RollForward(pd.DataFrame(rows))


def _by_loan(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("loan_id")


def book_provisions(ledger: Ledger, roll_forward: RollForward) -> list[tuple[dt.date, int, int]]:
    """Book each month end's closing allowance and guarantee liability; the movements booked, per month.

    A month booked before (the reference ``provisions YYYY-MM-DD``) books nothing again.
    """
    table = roll_forward.table
    booked = []
    for month_end, rows in table.groupby("month_end", sort=True):
        closing = dict(zip(rows["carrier"], rows["closing"], strict=True))
        movement = ledger.book_provisions(
            month_end,
            loss_allowance_minor=int(closing.get("loss_allowance", 0)),
            contingent_liability_minor=int(closing.get("guarantee_liability", 0)),
            reference=f"provisions {month_end.isoformat()}",
        )
        booked.append((month_end, *movement))
    return booked


def book_of_ledger(ledger: Ledger, directory) -> Book:
    """The ledger's loans and installments as a portfolio :class:`Book` (exported to Parquet in ``directory``),
    for the ECL; the tables the ledger does not keep are empty."""
    from pathlib import Path

    import pandas as pd

    from creditmesh import schema
    from creditmesh.portfolio import Book

    folder = Path(directory)
    ledger.export(folder)
    kept = {name: pd.read_parquet(folder / f"{name}.parquet") for name in ("loans", "installments")}
    empty = {name: schema.empty(name) for name in ("institutions", "borrowers", "credit_lines")}
    return Book.from_frames(**kept, **empty)
