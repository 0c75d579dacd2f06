"""Month-end aging: buckets, their history, late fees, charge-off per funding model, loan_days."""

from datetime import date

import pytest
from sqlalchemy import select

from creditmesh.funding import BY_NAME, FUNDING_MODELS
from creditmesh.ledger import LoanTerms, PaymentRequest
from creditmesh.ledger.aging import LATE_FEE_MINOR
from creditmesh.ledger.tables import bucket_moves, loan_days

ORIGINATED = date(2024, 1, 15)  # first installment due 2024-02-15


def _loan(ledger, loan_id, model="capital_heavy_on", fee=0):
    ledger.book_loan(
        LoanTerms(
            loan_id, "B1", 600_000, 180_000, 6, ORIGINATED, funding_model=model, fee_per_installment_minor=fee
        )
    )


def _rows(ledger, table, loan_id):
    with ledger.engine.connect() as conn:
        return conn.execute(
            select(table).where(table.c.loan_id == loan_id).order_by(*table.primary_key.columns)
        ).all()


@pytest.mark.parametrize(
    "as_of, dpd, bucket",
    [
        (date(2024, 2, 15), 0, "current"),  # due today: not yet late
        (date(2024, 2, 16), 1, "dpd_1_30"),
        (date(2024, 3, 16), 30, "dpd_1_30"),
        (date(2024, 3, 17), 31, "dpd_31_60"),
        (date(2024, 5, 15), 90, "dpd_61_90"),
        (date(2024, 5, 16), 91, "dpd_91_180"),
        (date(2024, 8, 13), 180, "dpd_91_180"),
        (date(2024, 8, 14), 181, "charged_off"),
    ],
)
def test_days_past_due_count_from_the_oldest_unpaid_installment(ledger, as_of, dpd, bucket):
    _loan(ledger, "L1")
    ledger.age(as_of)
    loan = ledger.loan("L1")
    assert (loan.dpd, loan.bucket) == (dpd, bucket)
    assert loan.status == ("charged_off" if bucket == "charged_off" else "active")
    assert sum(ledger.trial_balance().values()) == 0


def test_every_move_between_buckets_is_kept_and_aging_twice_changes_nothing(ledger):
    _loan(ledger, "L1")
    for day in (date(2024, 2, 29), date(2024, 3, 31), date(2024, 3, 31), date(2024, 4, 30)):
        ledger.age(day, late_fee_minor=0)
    moves = [(m.moved_on, m.from_bucket, m.to_bucket) for m in _rows(ledger, bucket_moves, "L1")]
    assert moves == [
        (date(2024, 2, 29), "current", "dpd_1_30"),
        (date(2024, 3, 31), "dpd_1_30", "dpd_31_60"),
        (date(2024, 4, 30), "dpd_31_60", "dpd_61_90"),
    ]
    days = [(d.as_of, d.dpd, d.overdue_principal_minor) for d in _rows(ledger, loan_days, "L1")]
    assert [d[:2] for d in days] == [
        (date(2024, 2, 29), 14),
        (date(2024, 3, 31), 45),
        (date(2024, 4, 30), 75),
    ]
    # a payment that clears the arrears brings the loan back to current at the next aging
    owed = sum(
        i.principal_due + i.interest_due
        for i in ledger.installments_of("L1")
        if i.due_date <= date(2024, 5, 1)
    )
    ledger.post_payment(PaymentRequest("L1", owed, date(2024, 5, 1), "catch-up"))
    ledger.age(date(2024, 5, 2), late_fee_minor=0)
    assert ledger.loan("L1").bucket == "current"
    assert _rows(ledger, bucket_moves, "L1")[-1].to_bucket == "current"


def test_late_fee_is_charged_once_per_installment_after_the_grace_and_paid_first(ledger):
    _loan(ledger, "L1")
    ledger.age(date(2024, 2, 18))  # 3 days late: still in grace
    assert ledger.installments_of("L1")[0].late_fee_due == 0
    ledger.age(date(2024, 2, 19))
    ledger.age(date(2024, 2, 20))  # not charged twice
    first = ledger.installments_of("L1")[0]
    assert first.late_fee_due == LATE_FEE_MINOR
    assert ledger.trial_balance()["4500"] == -LATE_FEE_MINOR
    result = ledger.post_payment(PaymentRequest("L1", LATE_FEE_MINOR + 5_000, date(2024, 2, 21), "p1"))
    assert (result.late_fee_minor, result.interest_minor) == (LATE_FEE_MINOR, 5_000)
    assert sum(ledger.trial_balance().values()) == 0


@pytest.mark.parametrize(
    "model, loss_account",
    [
        ("capital_heavy_on", "5000"),
        ("capital_heavy_off", "5100"),
        ("capital_light", None),
        ("ice", None),
    ],
)
def test_charge_off_takes_principal_off_the_books_and_the_right_party_bears_it(ledger, model, loss_account):
    _loan(ledger, "L1", model, fee=500)
    ledger.age(date(2024, 8, 14), late_fee_minor=0)
    assert ledger.loan("L1").status == "charged_off"
    assert ledger.principal_from_journal("L1") == 0
    balances = ledger.trial_balance()
    assert sum(balances.values()) == 0
    if loss_account:
        assert balances[loss_account] == 600_000
    else:  # the partner bears the loss: nothing in the platform's expense accounts
        assert balances.get("5000", 0) == balances.get("5100", 0) == 0
    # a recovery after charge-off is booked as one, and a written-off loan takes no more payments
    result = ledger.post_payment(PaymentRequest("L1", 10_000, date(2024, 9, 1), "r1"))
    assert result.recovery
    assert sum(ledger.trial_balance().values()) == 0
    ledger.write_off("L1", date(2024, 10, 1))
    with pytest.raises(Exception, match="written off"):
        ledger.post_payment(PaymentRequest("L1", 10_000, date(2024, 10, 2), "r2"))


@pytest.mark.parametrize("model", FUNDING_MODELS)
def test_set_based_charge_off_writes_exactly_the_journal_modules_entry(ledger, model):
    from sqlalchemy import select as select_

    from creditmesh.ledger.journal import entry_for_charge_off
    from creditmesh.ledger.tables import journal_entries, postings

    _loan(ledger, "L1", model, fee=500)
    ledger.age(date(2024, 3, 1))  # a late fee on the first installment
    ledger.age(date(2024, 8, 14))
    installments = ledger.installments_of("L1")
    expected = entry_for_charge_off(
        model,
        principal=600_000,
        late_fees=sum(i.late_fee_due - i.late_fee_paid for i in installments),
        guarantee_fees=sum(i.fee_due - i.fee_paid for i in installments) if BY_NAME[model].guarantees else 0,
    )
    with ledger.engine.connect() as conn:
        entry = conn.execute(
            select_(journal_entries.c.entry_id).where(journal_entries.c.kind == "charge_off")
        ).scalar_one()
        written = conn.execute(
            select_(postings.c.account_code, postings.c.amount_minor).where(postings.c.entry_id == entry)
        ).all()
    assert sorted(written) == sorted(expected)
