"""PostgreSQL's server-side payment function books any payment as the Python path does, line by line.

Two empty ledgers on PostgreSQL get the same random loans and the same random payments one by one (partial,
exactly what is due, more than is due, what settles the loan, more than that, late ones after a month-end's
late fees, early ones, replays, a wrong currency): one through ``ledger_post_payment`` where it takes the
payment, the other by the Python path only (``server_side = False``). Every answer, installment, payment,
loan and journal entry (each line, in order) is the same in both.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from _books import ORIGINATED, terms
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from pg_server import fresh_pg_database, skip_without_pg
from sqlalchemy import select
from test_bulk_equals_one_by_one import (
    AMOUNT_KINDS,
    BUSINESS_DATE,
    DAYS_MAX,
    _amount,
    _loans,
    _owed_now,
    _payments_by_key,
    fresh_books,
    loan_terms,
)

from creditmesh.errors import CreditmeshError
from creditmesh.ledger import Ledger, PaymentRequest, serverside
from creditmesh.ledger.tables import journal_entries, payments, postings


@pytest.fixture
def server_and_python():
    """(posts through the function where it can, posts by the Python path only), on PostgreSQL."""
    skip_without_pg()
    made = [fresh_pg_database() for _ in range(2)]
    ledgers = [Ledger.connect(url, business_date=BUSINESS_DATE) for url, _ in made]
    ledgers[1].server_side = False
    try:
        yield ledgers
    finally:
        for ledger in ledgers:
            ledger.close()
        for _, drop in made:
            drop()


def _answer(ledger: Ledger, request: PaymentRequest) -> tuple:
    """What ``post_payment`` answered, but the payment id: the result's fields, or the refusal's type and text."""
    try:
        result = ledger.post_payment(request)
    except CreditmeshError as error:
        return (type(error).__name__, str(error))
    return tuple(getattr(result, name) for name in result.__slots__ if name != "payment_id")


def _kind(answer: tuple) -> str:
    """A refusal's type, a replay, or a payment booked within what was due (the function's kind) or not."""
    if isinstance(answer[0], str) and len(answer) == 2:
        return answer[0]
    *_, prepaid_interest, prepaid_principal, _settled, recovery, replayed = answer
    if replayed:
        return "replayed"
    return (
        "prepaid or a recovery"
        if prepaid_interest or prepaid_principal or recovery
        else "within what was due"
    )


def _entries(ledger: Ledger) -> dict:
    """Each payment's journal entry by idempotency key: (day, kind, loan) and its lines in the order written."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(
                payments.c.idempotency_key,
                journal_entries.c.occurred_on,
                journal_entries.c.kind,
                journal_entries.c.loan_id,
                postings.c.account_code,
                postings.c.loan_id,
                postings.c.amount_minor,
            )
            .join(journal_entries, journal_entries.c.entry_id == payments.c.entry_id)
            .join(postings, postings.c.entry_id == journal_entries.c.entry_id)
            .order_by(postings.c.posting_id)
        ).all()
    entries: dict = {}
    for key, *entry, account, loan_id, amount in rows:
        entries.setdefault(key, (tuple(entry), []))[1].append((account, loan_id, amount))
    return entries


@settings(
    max_examples=25,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(book=st.lists(loan_terms, min_size=1, max_size=3), payments_made=st.integers(1, 12), data=st.data())
def test_the_server_side_function_books_any_payment_as_the_python_path(
    server_and_python, book, payments_made, data
):
    server, python = server_and_python
    loan_ids = fresh_books(server_and_python, book)
    aged_until, sent = ORIGINATED, []
    for number in range(payments_made):
        if data.draw(st.integers(0, 4), label="age?") == 0:
            aged_until += timedelta(days=data.draw(st.integers(1, 120), label="aged days later"))
            for ledger in server_and_python:
                ledger.age(aged_until)
        if sent and data.draw(st.integers(0, 7), label="replay?") == 0:
            request = data.draw(st.sampled_from(sent), label="replayed")
        else:
            loan_id = data.draw(st.sampled_from(loan_ids), label="loan")
            paid_on = ORIGINATED + timedelta(days=data.draw(st.integers(0, DAYS_MAX), label="day"))
            paid_on = max(paid_on, python.loan(loan_id).originated_on)
            due, settles = _owed_now(python, loan_id, paid_on)
            amount = _amount(
                data, data.draw(st.sampled_from(AMOUNT_KINDS), label="amount kind"), due, settles
            )
            currency = data.draw(st.sampled_from(["CNY"] * 9 + ["USD"]), label="currency")
            request = PaymentRequest(loan_id, amount, paid_on, f"k{number}", currency)
        answers = [_answer(ledger, request) for ledger in server_and_python]
        assert answers[0] == answers[1], request
        event(f"answer: {_kind(answers[0])}")
        sent.append(request)
    for loan_id in loan_ids:
        assert server.installments_of(loan_id) == python.installments_of(loan_id), loan_id
    assert _loans(server) == _loans(python)
    assert _payments_by_key(server) == _payments_by_key(python)
    assert _entries(server) == _entries(python)
    assert server.trial_balance() == python.trial_balance()
    assert server.unbalanced_entries() == []


def _call(ledger: Ledger, request: PaymentRequest, payment_id: str) -> str:
    """The function's outcome for ``request``, called directly (its own transaction)."""
    with ledger.engine.begin() as conn:
        return conn.exec_driver_sql(
            serverside.CALL,
            (
                request.loan_id,
                request.amount_minor,
                request.paid_on,
                request.idempotency_key,
                request.currency,
                request.fingerprint(),
                payment_id,
                BUSINESS_DATE,
            ),
        ).one()


def test_the_function_posts_what_is_due_and_declines_a_prepayment_writing_nothing(pg_url):
    ledger = Ledger.connect(pg_url, business_date=BUSINESS_DATE)
    try:
        ledger.book_loan(terms("L1"))
        first, second = ledger.installments_of("L1")[:2]
        due = PaymentRequest("L1", first.owed, first.due_date, "due")
        row = _call(ledger, due, "p1")
        assert (row.outcome, row.payment_id, row.interest_minor + row.principal_minor) == (
            "posted",
            "p1",
            due.amount_minor,
        )
        assert ledger.installments_of("L1")[0].paid_on == first.due_date
        assert _call(ledger, due, "p2").outcome == "replayed"
        ahead = PaymentRequest("L1", 1_000, second.due_date - timedelta(days=3), "ahead")
        assert _call(ledger, ahead, "p3").outcome == "declined"
        assert [p.idempotency_key for p in ledger.payments_of("L1")] == ["due"]
    finally:
        ledger.close()


def test_the_installed_function_is_the_codes(pg_url):
    """The function is rendered from the waterfall and the chart: a change to either needs a revision that
    installs it again, or databases run the old text. Ids and keys are COLLATE "C" (migration 0009)."""
    ledger = Ledger.connect(pg_url)
    try:
        with ledger.engine.connect() as conn:
            installed = conn.exec_driver_sql(
                "SELECT prosrc FROM pg_proc WHERE proname = %s", (serverside.NAME,)
            ).scalar_one()
        with ledger.engine.connect() as conn:
            collations = set(
                conn.exec_driver_sql(
                    "SELECT table_name || '.' || column_name, collation_name FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND table_name IN ('loans', 'payments', 'allocations')"
                    " AND column_name IN ('loan_id', 'payment_id', 'idempotency_key')"
                ).all()
            )
    finally:
        ledger.close()
    assert installed == serverside.function_sql().split("$function$")[1]
    # the keys the function and the bulk path join on compare as bytes, as the bulk path's staging table does
    assert {collation for _, collation in collations} == {"C"}, collations
