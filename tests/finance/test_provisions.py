"""Provisions roll forward month by month: closing = opening + new loans + remeasurement + write-offs + releases."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from creditmesh.finance import book_of_ledger, book_provisions, discounted_ecl, provisions_roll_forward
from creditmesh.finance.capital import irb_risk_weight, regulatory_capital
from creditmesh.finance.provisions import MOVEMENTS, carrier_of
from creditmesh.ledger import Ledger, LoanTerms, PaymentRequest, journal
from creditmesh.portfolio import expected_credit_loss


@pytest.fixture
def small_book(tmp_path):
    """Own and guaranteed loans: some repaid early, some never paid (charged off at 181 days), one ICE loan."""
    ledger = Ledger.connect(f"sqlite:///{tmp_path / 'ledger.db'}")
    loans = [
        ("on-repaid", "capital_heavy_on", date(2024, 1, 10)),
        ("on-unpaid", "capital_heavy_on", date(2024, 1, 20)),
        ("on-current", "capital_heavy_on", date(2024, 3, 5)),
        ("off-repaid", "capital_heavy_off", date(2024, 2, 1)),
        ("off-unpaid", "capital_heavy_off", date(2024, 1, 5)),
        ("ice", "ice", date(2024, 2, 2)),
    ]
    for loan_id, model, day in loans:
        ledger.book_loan(LoanTerms(loan_id, f"b-{loan_id}", 1_200_000, 240_000, 6, day, model))
    for loan_id in ("on-repaid", "off-repaid"):
        settle_on = date(2024, 4, 15)
        amount = ledger.settlement_amount(loan_id, settle_on)
        ledger.post_payment(PaymentRequest(loan_id, amount, settle_on, f"settle-{loan_id}"))
    for seq, row in enumerate(ledger.installments_of("on-current")):
        amount = row.principal_due + row.interest_due
        ledger.post_payment(PaymentRequest("on-current", amount, row.due_date, f"cur-{seq}"))
    for month in range(1, 13):
        ledger.age(date(2024 + month // 12, month % 12 + 1, 1) - pd.Timedelta(days=1).to_pytimedelta())
    book = book_of_ledger(ledger, tmp_path / "export")
    yield ledger, book
    book.close()
    ledger.close()


def _pd(book, value=0.08):
    ids = book.sql("SELECT loan_id FROM loans")["loan_id"]
    return pd.Series(value, index=ids)


def test_closing_is_opening_plus_movements_every_month_to_the_minor_unit(small_book):
    ledger, book = small_book
    roll = provisions_roll_forward(book, date(2024, 1, 1), date(2024, 12, 31), pd_12m=_pd(book), lgd=0.6)
    table = roll.table
    assert roll.problems() == []
    assert (table["opening"] + table[list(MOVEMENTS)].sum(axis=1) == table["closing"]).all()
    allowance = table[table["carrier"] == "loss_allowance"].set_index("month_end")
    # January: two own loans originated, nothing before
    assert allowance.loc[date(2024, 1, 31), "opening"] == 0
    assert allowance.loc[date(2024, 1, 31), "new_loans"] == allowance.loc[date(2024, 1, 31), "closing"] > 0
    # April: the early settlement releases its allowance; July/August: the unpaid loan is written off
    assert allowance.loc[date(2024, 4, 30), "releases"] < 0
    assert allowance["write_offs"].sum() < 0
    assert allowance.loc[date(2024, 12, 31), "closing"] == 0  # everything repaid or written off
    guarantee = table[table["carrier"] == "guarantee_liability"].set_index("month_end")
    assert guarantee["write_offs"].sum() < 0 and guarantee["releases"].sum() < 0


def test_expected_loss_is_discounted_at_the_effective_interest_rate(small_book):
    _, book = small_book
    frame = discounted_ecl(book, date(2024, 3, 31), pd_12m=_pd(book), lgd=0.6)
    assert set(frame["carrier"]) == {"loss_allowance", "guarantee_liability"}  # the ICE loan carries none
    monthly = 0.24 / 12
    expected = np.rint(frame["ecl_minor"] / (1 + monthly) ** frame["discount_months"]).astype(int)
    assert (np.abs(frame["provision_minor"] - expected) <= 1).all()
    assert (frame["provision_minor"] <= frame["ecl_minor"]).all()
    assert carrier_of("ice") is None and carrier_of("capital_heavy_on") == "loss_allowance"


def test_booked_provisions_are_the_closing_balances_in_the_ledger(small_book):
    ledger, book = small_book
    roll = provisions_roll_forward(book, date(2024, 1, 1), date(2024, 6, 30), pd_12m=_pd(book), lgd=0.6)
    booked = book_provisions(ledger, roll)
    assert len(booked) == 6
    june = roll.table[roll.table["month_end"] == date(2024, 6, 30)].set_index("carrier")["closing"]
    balances = ledger.trial_balance(date(2024, 6, 30))
    assert -balances.get(journal.LOSS_ALLOWANCE, 0) == june["loss_allowance"]
    assert -balances.get(journal.CONTINGENT_GUARANTEE, 0) == june["guarantee_liability"]
    assert book_provisions(ledger, roll) == [(m, 0, 0) for m, _, _ in booked]  # booked once


def test_capital_per_loan_and_for_the_book(small_book):
    _, book = small_book
    ecl = expected_credit_loss(book, date(2024, 3, 31), pd_12m=_pd(book, 0.01), lgd=0.45)
    result = regulatory_capital(ecl, rules="basel3")
    loans = result.loans
    assert set(loans["funding_model"]) <= {"capital_heavy_on", "capital_heavy_off"}
    current = loans[loans["stage"] == 1]
    # the 12-month PD of a loan with fewer months left is the PD over its remaining life
    assert (current["pd_12m"] < 0.01).all()
    assert np.allclose(current["irb_risk_weight"], irb_risk_weight(current["pd_12m"].to_numpy(), 0.45))
    expected = np.rint(current["ead_minor"] * np.round(current["irb_risk_weight"], 6)).astype(int)
    assert (np.abs(current["irb_rwa_minor"] - expected) <= 1).all()
    summary = result.summary()
    assert summary["ead_minor"] == loans["ead_minor"].sum()
    assert summary["standardised_rwa_minor"] >= 0.75 * summary["ead_minor"] - len(loans)
    assert summary["irb_capital_minor"] == -(-summary["irb_rwa_minor"] * 8 // 100)
