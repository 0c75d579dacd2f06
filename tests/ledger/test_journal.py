"""Journal entries are balanced for every event and funding model, and refuse to be otherwise."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditmesh.funding import FUNDING_MODELS
from creditmesh.ledger import LoanTerms
from creditmesh.ledger.journal import (
    ACCOUNTS,
    CHART,
    LedgerInvariantError,
    check_balanced,
    entry_for_charge_off,
    entry_for_disbursement,
    entry_for_late_fee,
    entry_for_payment,
)

money = st.integers(0, 10**10)


@given(st.sampled_from(FUNDING_MODELS), money, money, money, money, money, st.booleans())
def test_every_entry_balances_over_known_accounts(
    model, principal, interest, fee, late_fee, origination, recovery
):
    entries = [
        entry_for_disbursement(model, principal + origination + 1, fee, origination),
        entry_for_payment(
            model, late_fee=late_fee, fee=fee, interest=interest, principal=principal, recovery=recovery
        ),
        entry_for_charge_off(model, principal=principal, late_fees=late_fee, guarantee_fees=fee),
        entry_for_late_fee(late_fee + 1),
    ]
    for entry in entries:
        assert sum(amount for _, amount in entry) == 0
        assert all(account in ACCOUNTS and amount != 0 for account, amount in entry)


def test_an_unbalanced_or_unknown_entry_is_refused_not_asserted():
    with pytest.raises(LedgerInvariantError, match="differ by 1"):
        check_balanced((("1000", 1),), what="test")
    with pytest.raises(LedgerInvariantError, match="unknown account"):
        check_balanced((("9999", 1), ("1000", -1)), what="test")


def test_an_origination_fee_is_kept_from_the_payout_and_earned_at_once(ledger):
    ledger.book_loan(
        LoanTerms("L1", "B1", 1_000_000, 180_000, 12, date(2024, 1, 15), origination_fee_minor=20_000)
    )
    balances = ledger.trial_balance()
    assert balances["1100"] == 1_000_000  # the borrower owes the whole principal
    assert balances["1000"] == -980_000  # but received it less the fee
    assert balances["4100"] == -20_000
    with pytest.raises(Exception, match="origination_fee_minor"):
        ledger.book_loan(
            LoanTerms("L2", "B1", 1_000, 180_000, 12, date(2024, 1, 15), origination_fee_minor=1_000)
        )


def test_the_postings_check_at_migration_head_lists_exactly_the_chart(ledger):
    """Postings have no foreign key to accounts (migration 0002): their CHECK must name every account of the chart."""
    import re

    from sqlalchemy import inspect

    from creditmesh.ledger import tables

    checks = {c["name"]: c["sqltext"] for c in inspect(ledger.engine).get_check_constraints("postings")}
    at_head = set(re.findall(r"'(\d+)'", checks["ck_postings_account_in_chart"]))
    assert set(tables.CHART_CODES) == set(ACCOUNTS)
    assert at_head == set(ACCOUNTS), (
        f"the database at migration head lacks accounts {sorted(set(ACCOUNTS) - at_head)}: add an Alembic revision"
        " that recreates ck_postings_account_in_chart over journal.CHART (and inserts the accounts' rows)"
    )
    with ledger.engine.connect() as conn:
        rows = conn.execute(tables.accounts.select().order_by(tables.accounts.c.account_code)).all()
    assert [tuple(r) for r in rows] == [(a.code, a.name, a.kind) for a in CHART]


def test_a_posting_outside_the_chart_is_refused_by_the_database(ledger):
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from creditmesh.ledger.tables import postings

    with pytest.raises(IntegrityError), ledger.engine.begin() as conn:
        conn.execute(insert(postings).values(entry_id=1, account_code="9999", loan_id=None, amount_minor=1))


@given(st.integers(-(10**10), 10**10), st.integers(-(10**10), 10**10), money)
def test_finances_entries_balance_over_known_accounts(allowance, contingent, amount):
    from creditmesh.ledger.journal import (
        entry_for_funding,
        entry_for_funding_cost,
        entry_for_provisions,
        entry_for_servicing_expense,
    )

    entries = [
        entry_for_provisions(allowance_movement=allowance, contingent_movement=contingent),
        entry_for_funding(amount),
        entry_for_funding_cost(amount),
        entry_for_servicing_expense(amount),
    ]
    for entry in entries:
        assert sum(amount for _, amount in entry) == 0
        assert all(account in ACCOUNTS and amount != 0 for account, amount in entry)


def test_provisions_book_the_movement_to_the_expected_loss_once_per_reference(ledger):
    from creditmesh.ledger import journal

    ledger.book_loan(LoanTerms("L1", "B1", 100_000, 180_000, 12, date(2024, 1, 15)))
    on = date(2024, 1, 31)
    assert ledger.book_provisions(
        on, loss_allowance_minor=500, contingent_liability_minor=70, reference="m1"
    ) == (
        500,
        70,
    )
    assert ledger.book_provisions(
        on, loss_allowance_minor=900, contingent_liability_minor=9, reference="m1"
    ) == (0, 0)
    later = date(2024, 2, 29)
    assert ledger.book_provisions(
        later, loss_allowance_minor=300, contingent_liability_minor=70, reference="m2"
    ) == (-200, 0)
    balances = ledger.trial_balance()
    assert balances[journal.LOSS_ALLOWANCE] == -300 and balances[journal.LOAN_PROVISION] == 300
    assert balances[journal.CONTINGENT_GUARANTEE] == -70 and balances[journal.CONTINGENT_PROVISION] == 70
    assert ledger.trial_balance(on)[journal.LOSS_ALLOWANCE] == -500
    with pytest.raises(Exception, match="loss_allowance_minor"):
        ledger.book_provisions(later, loss_allowance_minor=-1, contingent_liability_minor=0, reference="m3")


def test_funding_its_cost_and_servicing_expenses_are_booked_once_per_reference(ledger):
    from creditmesh.ledger import journal

    on = date(2024, 3, 1)
    for _ in range(2):
        ledger.book_funding(on, 1_000_000, reference="ABS 2024-1 senior")
        ledger.book_funding_cost(on, 4_000, reference="ABS 2024-1 March coupon")
        ledger.book_servicing_expense(on, 700, reference="collection fees March")
    balances = ledger.trial_balance()
    assert balances[journal.FUNDING_DEBT] == -1_000_000
    assert balances[journal.FUNDING_COSTS] == 4_000 and balances[journal.SERVICING_EXPENSES] == 700
    assert balances[journal.CASH] == 1_000_000 - 4_000 - 700
    with pytest.raises(Exception, match="amount_minor"):
        ledger.book_funding_cost(on, 0, reference="nothing")
