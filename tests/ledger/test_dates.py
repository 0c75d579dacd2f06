"""Ledger dates (issue 21): a payment is dated between the loan's booking and the business date; a
write-off records its date and checks it. Refusals name the field and write nothing.

A payment dated before the loan's last one is taken (a transfer can arrive after a later one): the
waterfall settles it on its own date."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest
from _books import ORIGINATED, snapshot, terms

from creditmesh.ledger import Ledger, LedgerError, PaymentRequest

BUSINESS_DATE = date(2024, 12, 31)


@pytest.fixture
def book(ledger_url):
    ledger = Ledger.connect(ledger_url, business_date=BUSINESS_DATE)
    ledger.book_loan(terms("L1"))
    try:
        yield ledger
    finally:
        ledger.close()


def test_a_payment_dated_after_the_business_date_is_refused_naming_paid_on(ledger):
    ledger.book_loan(terms("L1"))
    before = snapshot(ledger)
    with pytest.raises(LedgerError) as refused:
        ledger.post_payment(PaymentRequest("L1", 10_000, date(2999, 1, 1), "future"))
    assert refused.value.field == "paid_on" and "business date" in refused.value.reason
    assert snapshot(ledger) == before


def test_the_business_date_is_the_ledgers_to_set(book):
    assert book.business_date() == BUSINESS_DATE
    book.post_payment(PaymentRequest("L1", 10_000, BUSINESS_DATE, "on-the-day"))
    with pytest.raises(LedgerError, match="business date"):
        book.post_payment(PaymentRequest("L1", 10_000, date(2025, 1, 1), "next-day"))


def test_a_payment_before_the_booking_is_refused(book):
    before = snapshot(book)
    with pytest.raises(LedgerError) as early:
        book.post_payment(PaymentRequest("L1", 10_000, date(2024, 1, 1), "early"))
    assert early.value.field == "paid_on" and snapshot(book) == before


def test_the_bulk_path_refuses_the_same_dates(book):
    batch = pa.table(
        {
            "idempotency_key": ["b-future", "b-early"],
            "loan_id": ["L1", "L1"],
            "paid_on": pa.array([date(2999, 1, 1), date(2024, 1, 1)], pa.date32()),
            "amount_minor": [10_000, 10_000],
        }
    )
    result = book.post_payments_bulk(batch)
    reasons = dict(
        zip(
            result.rejected.column("idempotency_key").to_pylist(),
            result.rejected.column("reason").to_pylist(),
        )
    )
    assert set(reasons) == {"b-future", "b-early"} and all(r.startswith("paid_on") for r in reasons.values())


def test_a_write_off_records_its_date_and_checks_it(book):
    book.age(date(2024, 8, 14), late_fee_minor=0)
    charged_off = book.loan("L1").charged_off_on
    assert book.loan("L1").status == "charged_off"
    for bad in (date(2024, 8, 1), date(2999, 1, 1)):
        with pytest.raises(LedgerError) as refused:
            book.write_off("L1", bad)
        assert refused.value.field == "on"
    book.write_off("L1", date(2024, 10, 1))
    loan = book.loan("L1")
    assert loan.status == "written_off" and loan.written_off_on == date(2024, 10, 1)
    assert charged_off <= loan.written_off_on and ORIGINATED < loan.written_off_on
