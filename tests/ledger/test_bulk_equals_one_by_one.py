"""The bulk path and the one-by-one path book any payments identically, line by line, on both engines.

Two empty ledgers get the same random loans; then the same random steps: files of payments (partial,
exactly what is due, more than is due, what settles the loan, more than that, several on one loan, late
ones after a month-end's late fees, early ones before anything is due, replays of earlier keys) and
month-end agings. One ledger posts each file with ``post_payments_bulk``, the other posts its rows with
``post_payment`` in the order the bulk path promises (paid_on, then the file's order). Afterwards every
installment, payment, loan, late fee, journal line (but cash, which the bulk path books as one line per
day) and balance is the same in both.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pyarrow as pa
import pytest
from _books import ORIGINATED, terms
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from pg_server import fresh_pg_database, skip_without_pg
from sqlalchemy import delete, select

from creditmesh.errors import CreditmeshError
from creditmesh.ledger import Ledger, PaymentRequest, journal
from creditmesh.ledger.tables import journal_entries, loans, metadata, payments, postings
from creditmesh.ledger.waterfall import settlement_amount
from creditmesh.schema import FUNDING_MODELS, SCHEDULES

#: Later than every payment and aging the test draws (both ledgers take payments up to this day).
BUSINESS_DATE = date(2025, 12, 31)
#: The last day a payment or an aging is drawn on, in days after origination (past 181 days past due).
DAYS_MAX = 330
#: Tables the migrations fill (the chart of accounts), kept between examples; every other ledger table is emptied.
KEPT = ("accounts",)

loan_terms = st.fixed_dictionaries(
    {
        "funding_model": st.sampled_from(FUNDING_MODELS),
        "schedule": st.sampled_from(SCHEDULES),
        # a few minor units too: installments without principal, paid off before their fees
        "principal_minor": st.one_of(st.integers(10_000, 2_000_000), st.integers(1, 40)),
        "apr_ppm": st.integers(0, 360_000),
        "tenor_months": st.integers(1, 6),
        "fee_per_installment_minor": st.sampled_from([0, 0, 1_000, 2_345]),
        "originated_on": st.sampled_from([ORIGINATED, ORIGINATED + timedelta(days=9)]),
    }
)
#: How a payment's amount relates to what its loan owes on its day (before the file is posted).
AMOUNT_KINDS = ("part_of_due", "part_of_due", "due", "more_than_due", "settles", "too_much", "a_little")


@pytest.fixture(params=["sqlite", "postgresql"])
def twin_ledgers(request, tmp_path):
    """Two empty ledgers on one engine: (posted in bulk, posted one by one), emptied by the test between examples."""
    drops = []
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / name}.db" for name in ("bulk", "one_by_one")]
    else:
        skip_without_pg()
        urls = []
        for _ in range(2):
            url, drop = fresh_pg_database()
            urls.append(url)
            drops.append(drop)
    ledgers = [Ledger.connect(url, business_date=BUSINESS_DATE) for url in urls]
    try:
        yield ledgers
    finally:
        for ledger in ledgers:
            ledger.close()
        for drop in drops:
            drop()


def _empty(ledger: Ledger) -> None:
    with ledger.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if table.name not in KEPT:
                conn.execute(delete(table))


def fresh_books(ledgers: list[Ledger], book: list[dict]) -> list[str]:
    """Empty the ledgers and book the same loans ``book`` (terms' changes) in each; their ids."""
    loan_ids = [f"L{number}" for number in range(len(book))]
    for ledger in ledgers:
        _empty(ledger)
        for loan_id, changes in zip(loan_ids, book):
            ledger.book_loan(terms(loan_id, **changes))
    return loan_ids


def _owed_now(ledger: Ledger, loan_id: str, paid_on: date) -> tuple[int, int]:
    """(what is due on ``paid_on`` and unpaid, what settles the loan that day), from the ledger as it stands."""
    loan = ledger.loan(loan_id)
    rows = ledger.installments_of(loan_id)
    due = sum(r.owed for r in rows if r.paid_on is None and r.due_date <= paid_on)
    settles = settlement_amount(rows, paid_on, apr_ppm=loan.apr_ppm, period_start=loan.originated_on)
    return due, settles


def _amount(data, kind: str, due: int, settles: int) -> int:
    """A payment of ``kind``, falling back to a small one where the kind is empty (nothing is due)."""
    if kind == "part_of_due" and due > 1:
        return data.draw(st.integers(1, due - 1))
    if kind == "due" and due > 0:
        return due
    if kind == "more_than_due" and settles > due + 1:
        return data.draw(st.integers(due + 1, settles - 1))
    if kind == "settles" and settles > 0:
        return settles
    if kind == "too_much":
        return settles + data.draw(st.integers(1, 5_000))
    return data.draw(st.integers(1, 3_000))


def _file(rows: list[tuple[str, str, date, int]]) -> pa.Table:
    return pa.table(
        {
            "idempotency_key": [r[0] for r in rows],
            "loan_id": [r[1] for r in rows],
            "paid_on": pa.array([r[2] for r in rows], pa.date32()),
            "amount_minor": pa.array([r[3] for r in rows], pa.int64()),
        }
    )


def _post_one_by_one(ledger: Ledger, rows: list[tuple[str, str, date, int]]) -> tuple[int, set[str]]:
    """The file's rows through ``post_payment`` in (paid_on, file order): (replays, keys refused)."""
    replayed, refused = 0, set()
    for _, (key, loan_id, paid_on, amount) in sorted(enumerate(rows), key=lambda r: (r[1][2], r[0])):
        try:
            replayed += ledger.post_payment(PaymentRequest(loan_id, amount, paid_on, key)).replayed
        except CreditmeshError:
            refused.add(key)
    return replayed, refused


def _journal_lines(ledger: Ledger) -> tuple[Counter, dict]:
    """Every journal line but cash as (day, loan, account, amount), counted; and cash summed by day (the
    bulk path books a day's cash as one line of its settlement, the one-by-one path one line per payment)."""
    with ledger.engine.connect() as conn:
        lines = conn.execute(
            select(
                journal_entries.c.occurred_on,
                postings.c.loan_id,
                postings.c.account_code,
                postings.c.amount_minor,
            ).join(journal_entries, journal_entries.c.entry_id == postings.c.entry_id)
        ).all()
    others = Counter(tuple(line) for line in lines if line.account_code != journal.CASH)
    cash: dict = {}
    for line in lines:
        if line.account_code == journal.CASH:
            cash[line.occurred_on] = cash.get(line.occurred_on, 0) + line.amount_minor
    return others, cash


def _payments_by_key(ledger: Ledger) -> dict[str, tuple]:
    columns = [c for c in payments.c if c.name not in ("payment_id", "entry_id")]
    with ledger.engine.connect() as conn:
        return {row.idempotency_key: tuple(row) for row in conn.execute(select(*columns))}


def _loans(ledger: Ledger) -> list[tuple]:
    with ledger.engine.connect() as conn:
        return conn.execute(select(loans).order_by(loans.c.loan_id)).all()


def assert_identical(bulk: Ledger, one_by_one: Ledger, loan_ids: list[str]) -> None:
    for loan_id in loan_ids:
        assert bulk.installments_of(loan_id) == one_by_one.installments_of(loan_id), loan_id
        if bulk.loan(loan_id).status in (
            "active",
            "settled",
        ):  # a charge-off takes the principal off the books
            assert bulk.principal_from_journal(loan_id) == bulk.principal_from_schedule(loan_id), loan_id
    assert _loans(bulk) == _loans(one_by_one)
    assert _payments_by_key(bulk) == _payments_by_key(one_by_one)
    assert _journal_lines(bulk) == _journal_lines(one_by_one)
    assert bulk.trial_balance() == one_by_one.trial_balance()
    assert bulk.unbalanced_entries() == [] and one_by_one.unbalanced_entries() == []


@settings(
    max_examples=30,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),  # no slow 'explain' phase
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(book=st.lists(loan_terms, min_size=1, max_size=4), steps=st.integers(1, 6), data=st.data())
def test_bulk_and_one_by_one_book_any_payments_identically(twin_ledgers, book, steps, data):
    bulk, one_by_one = twin_ledgers
    loan_ids = fresh_books(twin_ledgers, book)
    aged_until, sent, key_number = ORIGINATED, [], 0
    for _ in range(steps):
        if data.draw(st.integers(0, 3), label="age?") == 0:
            aged_until += timedelta(days=data.draw(st.integers(1, 120), label="aged days later"))
            for ledger in twin_ledgers:
                ledger.age(aged_until)
            continue
        rows = []
        for _ in range(data.draw(st.integers(1, 6), label="rows")):
            if sent and data.draw(st.integers(0, 9), label="replay?") == 0:
                rows.append(data.draw(st.sampled_from(sent), label="replayed row"))
                continue
            loan_id = data.draw(st.sampled_from(loan_ids), label="loan")
            paid_on = ORIGINATED + timedelta(days=data.draw(st.integers(0, DAYS_MAX), label="day"))
            if paid_on < bulk.loan(loan_id).originated_on:
                paid_on = bulk.loan(loan_id).originated_on
            due, settles = _owed_now(one_by_one, loan_id, paid_on)
            kind = data.draw(st.sampled_from(AMOUNT_KINDS), label="amount kind")
            rows.append((f"k{key_number}", loan_id, paid_on, _amount(data, kind, due, settles)))
            key_number += 1
        keys = [r[0] for r in rows]
        rows = [r for k, r in enumerate(rows) if r[0] not in keys[:k]]  # a key once per file
        result = bulk.post_payments_bulk(_file(rows))
        replayed, refused = _post_one_by_one(one_by_one, rows)
        assert (result.replayed, set(result.rejected["idempotency_key"].to_pylist())) == (replayed, refused)
        set_based = len(rows) - result.routed.num_rows - result.replayed - result.rejected.num_rows
        event(f"payments posted set-based: {'some' if set_based else 'none'}")
        sent.extend(r for r in rows if r[0] not in refused)
    assert_identical(bulk, one_by_one, loan_ids)


def test_a_payment_of_the_last_principal_with_fees_still_to_come_settles_the_loan_on_both_paths(twin_ledgers):
    """3 minor units over 6 months: the principal is due in the first three months, a fee in every month. Paying
    all that is due in month three pays the last of the principal: the one-by-one path settles the loan then,
    waiving the fees of months four to six, so the bulk path leaves that payment to it."""
    bulk, one_by_one = twin_ledgers
    for ledger in twin_ledgers:
        ledger.book_loan(terms("L1", principal_minor=3, fee_per_installment_minor=1_000))
    third = one_by_one.installments_of("L1")[2]
    due, _ = _owed_now(one_by_one, "L1", third.due_date)
    rows = [("k1", "L1", third.due_date, due)]
    result = bulk.post_payments_bulk(_file(rows))
    _post_one_by_one(one_by_one, rows)
    assert result.routed["idempotency_key"].to_pylist() == ["k1"]
    assert one_by_one.loan("L1").status == "settled"
    assert_identical(bulk, one_by_one, ["L1"])
