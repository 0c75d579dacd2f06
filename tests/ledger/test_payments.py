"""Payments through the ledger on SQLite and PostgreSQL: idempotency, refused input, the books after any payments."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from _books import ORIGINATED, assert_books_sound, balances_of, snapshot, terms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditmesh.errors import CreditmeshError
from creditmesh.ledger import IdempotencyConflict, Ledger, LedgerError, PaymentRequest, journal
from creditmesh.ledger.waterfall import settlement_amount
from creditmesh.schema import FUNDING_MODELS, SCHEDULES

FIRST_DUE = date(2024, 2, 15)
FIRST_INSTALLMENT = 175_525  # 150.00 interest and 1,605.25 principal


def pay(ledger: Ledger, amount: int, paid_on: date = FIRST_DUE, key: str = "k1", loan_id: str = "L1"):
    return ledger.post_payment(PaymentRequest(loan_id, amount, paid_on, key))


def settlement_of(ledger: Ledger, loan_id: str, paid_on: date) -> int:
    """What settles the loan on ``paid_on`` (the ledger has no method for it: the waterfall's function does)."""
    loan = ledger.loan(loan_id)
    return settlement_amount(
        ledger.installments_of(loan_id), paid_on, apr_ppm=loan.apr_ppm, period_start=loan.originated_on
    )


def settle(ledger: Ledger, loan_id: str, paid_on: date, key: str):
    return pay(ledger, settlement_of(ledger, loan_id, paid_on), paid_on, key, loan_id)


def pay_every_installment_when_due(ledger: Ledger, loan_id: str) -> None:
    for row in ledger.installments_of(loan_id):
        pay(ledger, row.owed, row.due_date, f"{loan_id}-{row.seq}", loan_id)


# -- idempotency ---------------------------------------------------------------------------------------------


def test_the_same_key_and_body_return_the_first_result_and_book_nothing_new(ledger):
    ledger.book_loan(terms())
    first = pay(ledger, 200_000)
    before = snapshot(ledger)
    again = pay(ledger, 200_000)
    assert again.replayed and not first.replayed
    assert replace(again, replayed=False) == first
    assert snapshot(ledger) == before
    assert [p.payment_id for p in ledger.payments_of("L1")] == [first.payment_id]


def test_a_replay_of_the_settling_payment_is_answered_after_the_loan_is_settled(ledger):
    ledger.book_loan(terms())
    first = settle(ledger, "L1", FIRST_DUE, "k1")
    assert first.settled and ledger.loan("L1").status == "settled"
    before = snapshot(ledger)
    again = pay(ledger, first.amount_minor, FIRST_DUE, "k1")
    assert again == replace(first, replayed=True)
    assert snapshot(ledger) == before


CONFLICTING = {
    "amount": {"amount_minor": 200_001},
    "day": {"paid_on": FIRST_DUE + timedelta(days=1)},
    "loan": {"loan_id": "L2"},
}


def test_the_same_key_with_another_body_is_refused_naming_the_key_and_writes_nothing(ledger, subtests):
    ledger.book_loan(terms())
    ledger.book_loan(terms("L2"))
    request = PaymentRequest("L1", 200_000, FIRST_DUE, "k1")
    ledger.post_payment(request)
    before = snapshot(ledger)
    for name, other in CONFLICTING.items():
        with subtests.test(msg=name):
            with pytest.raises(IdempotencyConflict) as refused:
                ledger.post_payment(replace(request, **other))
            assert refused.value.field == "idempotency_key"
            assert snapshot(ledger) == before


# -- refused input ------------------------------------------------------------------------------------------

BAD_PAYMENTS = {
    "unknown loan": ({"loan_id": "NOPE"}, "loan_id"),
    "zero amount": ({"amount_minor": 0}, "amount_minor"),
    "negative amount": ({"amount_minor": -100}, "amount_minor"),
    "float amount with cents": ({"amount_minor": 100.5}, "amount_minor"),
    "whole float amount": ({"amount_minor": 100.0}, "amount_minor"),
    "numpy float amount": ({"amount_minor": np.float64(100.0)}, "amount_minor"),
    "bool amount": ({"amount_minor": True}, "amount_minor"),
    "string amount": ({"amount_minor": "100"}, "amount_minor"),
    "currency of another loan": ({"currency": "USD"}, "currency"),
    "unknown currency": ({"currency": "XYZ"}, "currency"),
    "day before origination": ({"paid_on": ORIGINATED - timedelta(days=1)}, "paid_on"),
    "datetime for a day": ({"paid_on": datetime(2024, 2, 15, 10, 0)}, "paid_on"),
    "empty key": ({"idempotency_key": ""}, "idempotency_key"),
    "key too long": ({"idempotency_key": "k" * 81}, "idempotency_key"),
    "payment on a settled loan": ({"loan_id": "SETTLED"}, "loan_id"),
}


def test_a_bad_payment_is_refused_naming_the_field_and_writes_nothing(ledger, subtests):
    ledger.book_loan(terms())
    pay(ledger, 1_000, key="earlier")
    ledger.book_loan(terms("SETTLED"))
    settle(ledger, "SETTLED", FIRST_DUE, "settling")
    assert ledger.loan("SETTLED").status == "settled"
    before = snapshot(ledger)
    for name, (change, field) in BAD_PAYMENTS.items():
        with subtests.test(msg=name):
            with pytest.raises(LedgerError) as refused:
                ledger.post_payment(replace(PaymentRequest("L1", 1_000, FIRST_DUE, "k1"), **change))
            assert refused.value.field == field
            assert snapshot(ledger) == before


def test_a_payment_beyond_the_settlement_amount_is_refused_naming_amount_minor_and_writes_nothing(ledger):
    ledger.book_loan(terms())
    before = snapshot(ledger)
    with pytest.raises(CreditmeshError) as refused:
        pay(
            ledger, 1_015_001
        )  # a month of interest, 150.00, and the principal settle it on the first due date
    assert refused.value.field == "amount_minor"
    assert snapshot(ledger) == before
    assert pay(ledger, 1_015_000).settled


def test_a_payment_beyond_the_settlement_amount_is_a_ledger_error(ledger):
    ledger.book_loan(terms())
    with pytest.raises(LedgerError):
        pay(ledger, 1_015_001)


def test_a_numpy_integer_amount_is_taken_as_minor_units(ledger):
    ledger.book_loan(terms())
    assert pay(ledger, np.int64(FIRST_INSTALLMENT)).principal_minor == 160_525
    assert_books_sound(ledger)


# -- any sequence of payments keeps the books ---------------------------------------------------------------

loan_terms = st.builds(
    lambda model, schedule, principal, apr_ppm, tenor, fee: dict(
        funding_model=model,
        schedule=schedule,
        principal_minor=principal,
        apr_ppm=apr_ppm,
        tenor_months=tenor,
        fee_per_installment_minor=fee,
    ),
    st.sampled_from(FUNDING_MODELS),
    st.sampled_from(SCHEDULES),
    st.integers(10_000, 5_000_000),
    st.integers(0, 360_000),
    st.integers(1, 12),
    st.integers(0, 2_000),
)
#: A payment: which loan, days after the previous payment, and the share of the settlement amount (per mille).
payment_steps = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 45), st.integers(1, 1000)), max_size=10)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(loan_terms, min_size=1, max_size=2), payment_steps)
def test_any_payments_and_prepayments_keep_the_trial_balance_at_zero_and_journal_equal_to_schedule(
    tmp_path_factory, loans, steps
):
    url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.db'}"
    ledger = Ledger.connect(url)
    try:
        for number, changes in enumerate(loans):
            ledger.book_loan(terms(f"L{number}", **changes))
        paid_on = ORIGINATED
        for number, (which, days, share) in enumerate(steps):
            loan_id = f"L{which % len(loans)}"
            paid_on += timedelta(days=days)
            if ledger.loan(loan_id).status != "active":
                continue
            settle_minor = settlement_of(ledger, loan_id, paid_on)
            if settle_minor == 0:
                continue
            result = pay(ledger, max(settle_minor * share // 1000, 1), paid_on, f"p{number}", loan_id)
            assert (ledger.loan(loan_id).status == "settled") == result.settled
            assert_books_sound(ledger)
        assert_books_sound(ledger)
    finally:
        ledger.close()


# -- funding models: who earns what ------------------------------------------------------------------------

FEE = 1_000  # 10.00 a month

#: Where the interest and the fees end up once the loan is paid off, by funding model.
INCOME_ACCOUNTS = {
    "capital_heavy_on": (journal.FINANCING_INCOME, journal.SERVICE_FEES),
    "capital_heavy_off": (journal.DUE_TO_PARTNERS, journal.GUARANTEE_RELEASE),
    "capital_light": (journal.DUE_TO_PARTNERS, journal.SERVICE_FEES),
    "ice": (journal.DUE_TO_PARTNERS, journal.REFERRAL_FEES),
    "tech_solution": (journal.DUE_TO_PARTNERS, journal.TECH_FEES),
}


def test_a_loan_paid_off_under_each_funding_model_credits_its_own_income_accounts(ledger, subtests):
    for model in FUNDING_MODELS:
        ledger.book_loan(terms(model, funding_model=model, fee_per_installment_minor=FEE))
        pay_every_installment_when_due(ledger, model)
    assert_books_sound(ledger)
    for model in FUNDING_MODELS:
        with subtests.test(msg=model):
            assert ledger.loan(model).status == "settled"
            assert ledger.principal_from_journal(model) == 0
            interest = sum(row.interest_paid for row in ledger.installments_of(model))
            balances = balances_of(ledger, model)
            assert model in INCOME_ACCOUNTS, (
                f"state in INCOME_ACCOUNTS the accounts a paid-off {model} loan credits"
            )
            interest_account, fee_account = INCOME_ACCOUNTS[model]
            # the principal is collected for the partner and owed to it, unless the loan is the platform's own
            partner_principal = 0 if interest_account == journal.FINANCING_INCOME else 1_000_000
            assert balances.pop(interest_account) == -(interest + partner_principal)
            assert balances.pop(fee_account) == -6 * FEE
            assert balances.pop(journal.CASH) == interest + 6 * FEE + partner_principal
            assert {code: amount for code, amount in balances.items() if amount} == {}


def test_settling_a_guaranteed_loan_early_clears_its_guarantee_fees(ledger):
    ledger.book_loan(terms(funding_model="capital_heavy_off", fee_per_installment_minor=FEE))
    pay(ledger, FIRST_INSTALLMENT + FEE)
    settle(ledger, "L1", FIRST_DUE + timedelta(days=10), "k2")
    balances = balances_of(ledger, "L1")
    assert balances[journal.GUARANTEE_RELEASE] == -FEE
    assert balances.get(journal.GUARANTEE_FEES_RECEIVABLE, 0) == 0
    assert balances.get(journal.GUARANTEE_LIABILITY, 0) == 0


# -- credit lines -------------------------------------------------------------------------------------------


def open_line(ledger: Ledger) -> None:
    """A 10,000.00 yuan credit line, CL1."""
    ledger.open_credit_line("CL1", "B1", limit_minor=1_000_000, apr_ppm=180_000, opened_on=ORIGINATED)


def test_a_drawdown_beyond_the_available_line_is_refused_naming_principal_minor(ledger):
    open_line(ledger)
    ledger.book_loan(terms("L1", principal_minor=600_000, credit_line_id="CL1"))
    before = snapshot(ledger)
    with pytest.raises(LedgerError) as refused:
        ledger.book_loan(terms("L2", principal_minor=400_001, credit_line_id="CL1"))
    assert refused.value.field == "principal_minor"
    assert snapshot(ledger) == before
    ledger.book_loan(terms("L2", principal_minor=400_000, credit_line_id="CL1"))  # exactly what is left
    assert_books_sound(ledger)


def test_repaying_principal_frees_as_much_of_the_line(ledger):
    open_line(ledger)
    ledger.book_loan(terms("L1", principal_minor=1_000_000, credit_line_id="CL1"))
    repaid = pay(ledger, FIRST_INSTALLMENT).principal_minor
    with pytest.raises(LedgerError) as refused:
        ledger.book_loan(
            terms("L2", principal_minor=repaid + 1, credit_line_id="CL1", originated_on=FIRST_DUE)
        )
    assert refused.value.field == "principal_minor"
    ledger.book_loan(terms("L2", principal_minor=repaid, credit_line_id="CL1", originated_on=FIRST_DUE))
    settle(ledger, "L1", FIRST_DUE, "k2")
    ledger.book_loan(
        terms("L3", principal_minor=1_000_000 - repaid, credit_line_id="CL1", originated_on=FIRST_DUE)
    )
    assert_books_sound(ledger)
