"""What the ledger tests share: a standard loan, a snapshot of what is written, and the checks of sound books."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from sqlalchemy import func, select

from creditmesh.ledger import Ledger, LoanTerms, journal
from creditmesh.ledger.tables import (
    allocations,
    installment_balances,
    installments,
    journal_entries,
    late_fees,
    loans,
    payments,
    postings,
)

ORIGINATED = date(2024, 1, 15)
#: 10,000.00 yuan at 18 % over 6 months: 1,755.25 a month, the first due on 2024-02-15.
STANDARD = LoanTerms("L1", "B1", 1_000_000, 180_000, 6, ORIGINATED)
COUNTED = (loans, installments, allocations, late_fees, payments, journal_entries, postings)


def terms(loan_id: str = "L1", **changes) -> LoanTerms:
    """The standard loan under another id, with any field changed."""
    return replace(STANDARD, loan_id=loan_id, **changes)


def snapshot(ledger: Ledger) -> tuple:
    """Everything a refused request must leave as it was: the trial balance, row counts and every installment."""
    with ledger.engine.connect() as conn:
        counts = tuple(
            conn.execute(select(func.count()).select_from(table)).scalar_one() for table in COUNTED
        )
        rows = tuple(
            conn.execute(
                select(installment_balances).order_by(
                    installment_balances.c.loan_id, installment_balances.c.seq
                )
            )
        )
    return ledger.trial_balance(), counts, rows


def balances_of(ledger: Ledger, loan_id: str) -> dict[str, int]:
    """The loan's own balance per account (its postings only)."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(postings.c.account_code, func.sum(postings.c.amount_minor))
            .where(postings.c.loan_id == loan_id)
            .group_by(postings.c.account_code)
        )
        return {code: int(total) for code, total in rows}


def booked_by_key(ledger: Ledger) -> dict[str, list[str]]:
    """Every booked payment id, by idempotency key."""
    booked: dict[str, list[str]] = {}
    with ledger.engine.connect() as conn:
        for key, payment_id in conn.execute(select(payments.c.idempotency_key, payments.c.payment_id)):
            booked.setdefault(key, []).append(payment_id)
    return booked


def paid_on_installments(ledger: Ledger, loan_id: str) -> int:
    return sum(
        r.late_fee_paid + r.fee_paid + r.interest_paid + r.principal_paid
        for r in ledger.installments_of(loan_id)
    )


def assert_books_sound(ledger: Ledger) -> None:
    """Debits equal credits everywhere, every payment is booked whole, and journal and schedule agree per loan.

    Booked whole: each payment row points at one journal entry of its own (kind ``payment``, referencing the
    payment) whose cash posting is the amount; no entry lacks postings; what the installments show as paid
    equals the loan's payments.
    """
    assert sum(ledger.trial_balance().values()) == 0
    assert ledger.unbalanced_entries() == []
    with ledger.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(journal_entries)
                .where(~journal_entries.c.entry_id.in_(select(postings.c.entry_id)))
            ).scalar_one()
            == 0
        )
        booked = conn.execute(
            select(
                payments.c.payment_id,
                payments.c.amount_minor,
                journal_entries.c.kind,
                journal_entries.c.reference,
                func.sum(postings.c.amount_minor).filter(postings.c.account_code == journal.CASH),
            )
            .select_from(
                payments.outerjoin(
                    journal_entries, journal_entries.c.entry_id == payments.c.entry_id
                ).outerjoin(postings, postings.c.entry_id == journal_entries.c.entry_id)
            )
            .group_by(
                payments.c.payment_id,
                payments.c.amount_minor,
                journal_entries.c.kind,
                journal_entries.c.reference,
            )
        ).all()
        assert len({entry for entry in conn.execute(select(payments.c.entry_id)).scalars()}) == len(booked)
        loan_ids = conn.execute(select(loans.c.loan_id)).scalars().all()
    for payment_id, amount, kind, reference, cash in booked:
        assert (kind, reference, cash) == ("payment", payment_id, amount), payment_id
    for loan_id in loan_ids:
        assert ledger.principal_from_journal(loan_id) == ledger.principal_from_schedule(loan_id), loan_id
        assert sum(p.amount_minor for p in ledger.payments_of(loan_id)) == paid_on_installments(
            ledger, loan_id
        ), loan_id
