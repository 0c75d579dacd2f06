"""The bulk paths agree with the one-by-one path, and a simulated book replays through the ledger exactly."""

from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from creditmesh.ledger import Ledger, LoanTerms, PaymentRequest
from creditmesh.ledger.export import read_tables
from creditmesh.ledger.replay import replay
from creditmesh.simulate import SimulationConfig, simulate, write_dataset


@pytest.fixture(scope="module")
def small_book():
    return simulate(SimulationConfig(borrowers=250, months=8, seed=3))


def _book_loans(ledger, result):
    for loan in result.tables["loans"].to_pylist():
        ledger.book_loan(
            LoanTerms(
                loan["loan_id"],
                loan["borrower_id"],
                loan["principal_minor"],
                round(loan["apr"] * 1e6),
                loan["tenor_months"],
                loan["originated_at"].date(),
                funding_model=loan["funding_model"],
                schedule=loan["schedule"],
                institution_id=loan["institution_id"],
            )
        )


def _payments(result):
    return sorted(result.tables["payments"].to_pylist(), key=lambda p: (p["paid_at"], p["payment_id"]))


def test_bulk_posting_allocates_exactly_as_the_one_by_one_path(small_book, ledger_url, tmp_path):
    one_by_one = Ledger.connect(f"sqlite:///{tmp_path / 'reference.db'}")
    bulk = Ledger.connect(ledger_url)
    _book_loans(one_by_one, small_book)
    bulk.load_loans(small_book.tables["loans"], small_book.tables["installments"])
    payments = _payments(small_book)
    for p in payments:
        one_by_one.post_payment(
            PaymentRequest(p["loan_id"], p["amount_minor"], p["paid_at"].date(), p["idempotency_key"])
        )
    days = sorted({p["paid_at"].date() for p in payments})
    for day in days:
        todays = [p for p in payments if p["paid_at"].date() == day]
        result = bulk.post_payments_bulk(
            pa.table(
                {
                    "idempotency_key": [p["idempotency_key"] for p in todays],
                    "loan_id": [p["loan_id"] for p in todays],
                    "paid_on": pa.array([day] * len(todays), pa.date32()),
                    "amount_minor": [p["amount_minor"] for p in todays],
                }
            )
        )
        assert result.rejected.num_rows == 0
    a = read_tables(one_by_one.engine, ("installments",))["installments"]
    b = read_tables(bulk.engine, ("installments",))["installments"]
    assert a.equals(b)
    assert one_by_one.trial_balance() == {
        k: v for k, v in bulk.trial_balance().items() if k in one_by_one.trial_balance()
    }
    assert sum(bulk.trial_balance().values()) == 0 and bulk.unbalanced_entries() == []

    def splits(led):
        return sorted(
            (p.idempotency_key, p.interest_minor, p.principal_minor, p.prepaid_principal_minor)
            for loan in small_book.tables["loans"]["loan_id"].to_pylist()
            for p in led.payments_of(loan)
        )

    assert splits(one_by_one) == splits(bulk)
    for loan in small_book.tables["loans"][
        "loan_id"
    ].to_pylist():  # the journal and the schedule agree, loan by loan
        assert bulk.principal_from_journal(loan) == bulk.principal_from_schedule(loan), loan


def test_a_bulk_file_refuses_bad_rows_by_name_and_replays_known_keys(ledger):
    ledger.book_loan(LoanTerms("L1", "B1", 600_000, 180_000, 6, date(2024, 1, 15)))
    ledger.book_loan(LoanTerms("L2", "B1", 600_000, 180_000, 6, date(2024, 1, 15), currency="USD"))
    ledger.post_payment(PaymentRequest("L1", 1_000, date(2024, 2, 15), "seen"))
    rows = [
        ("seen", "L1", date(2024, 2, 15), 1_000, "CNY"),  # same key, same body: a replay
        ("seen", "L1", date(2024, 2, 15), 2_000, "CNY"),  # same key, other body
        ("k-unknown", "L9", date(2024, 2, 15), 1_000, "CNY"),
        ("k-zero", "L1", date(2024, 2, 15), 0, "CNY"),
        ("k-early", "L1", date(2024, 1, 1), 1_000, "CNY"),
        ("k-usd", "L2", date(2024, 2, 15), 1_000, "CNY"),
        ("k-ok", "L1", date(2024, 2, 16), 1_000, "CNY"),
    ]
    batch = pa.table(
        {
            name: [r[k] for r in rows]
            for k, name in enumerate(["idempotency_key", "loan_id", "paid_on", "amount_minor", "currency"])
        }
    )
    result = ledger.post_payments_bulk(batch)
    assert (result.posted, result.replayed) == (1, 1)
    reasons = dict(zip(result.rejected["idempotency_key"].to_pylist(), result.rejected["reason"].to_pylist()))
    assert reasons == {
        "seen": "idempotency_key: used before for a different payment",
        "k-unknown": "loan_id: unknown loan",
        "k-zero": "amount_minor: must be positive",
        "k-early": "paid_on: before the loan's origination",
        "k-usd": "currency: differs from the loan's",
    }
    assert sum(ledger.trial_balance().values()) == 0


def test_a_simulated_book_replays_through_the_ledger_exactly(small_book, ledger, tmp_path):
    folder = write_dataset(small_book, tmp_path / "book")
    report = replay(ledger, folder)
    assert report.loans == small_book.tables["loans"].num_rows
    assert report.payments_posted == small_book.tables["payments"].num_rows and report.payments_rejected == 0
    assert report.installments_differing == 0
    assert sum(ledger.trial_balance().values()) == 0 and ledger.unbalanced_entries() == []


def test_export_writes_the_schema_tables_that_portfolio_reads(small_book, ledger, tmp_path):
    from creditmesh.schema import TABLES

    ledger.load_loans(small_book.tables["loans"], small_book.tables["installments"])
    ledger.age(date(2023, 3, 31))
    counts = ledger.export(tmp_path / "out")
    assert counts["loans"] == small_book.tables["loans"].num_rows
    for name in counts:
        assert pq.read_schema(tmp_path / "out" / f"{name}.parquet").equals(TABLES[name].arrow_schema())


def test_what_the_bulk_path_leaves_to_the_one_by_one_path_ends_as_if_posted_one_by_one(ledger_url, tmp_path):
    """Two payments on one loan in a file, a prepayment, and a payment of exactly what is due: the first three are
    routed (the second payment must see the first; a prepayment re-casts), the last is set-based; the result is the
    one-by-one path's, row for row."""
    one_by_one = Ledger.connect(f"sqlite:///{tmp_path / 'reference.db'}")
    bulk = Ledger.connect(ledger_url)
    for book in (one_by_one, bulk):
        for loan in ("L1", "L2", "L3"):
            book.book_loan(LoanTerms(loan, "B1", 600_000, 180_000, 6, date(2024, 1, 15)))
        book.book_loan(
            LoanTerms("L4", "B1", 100_000, 180_000, 1, date(2024, 1, 15))
        )  # one installment: paid, settled
    due, last = bulk.installments_of("L3")[0], bulk.installments_of("L4")[0]
    rows = [
        ("a", "L1", 50_000),
        ("b", "L1", 70_000),
        ("c", "L2", 300_000),
        ("d", "L3", due.principal_due + due.interest_due),
        ("e", "L4", last.principal_due + last.interest_due),
    ]
    for key, loan, amount in rows:
        one_by_one.post_payment(PaymentRequest(loan, amount, date(2024, 2, 15), key))
    result = bulk.post_payments_bulk(
        pa.table(
            {
                "idempotency_key": [r[0] for r in rows],
                "loan_id": [r[1] for r in rows],
                "paid_on": pa.array([date(2024, 2, 15)] * len(rows), pa.date32()),
                "amount_minor": [r[2] for r in rows],
            }
        )
    )
    assert result.posted == 5 and result.rejected.num_rows == 0
    assert sorted(result.routed["idempotency_key"].to_pylist()) == ["a", "b", "c"]
    for loan in ("L1", "L2", "L3", "L4"):
        assert bulk.installments_of(loan) == one_by_one.installments_of(loan), loan
        assert bulk.principal_from_journal(loan) == bulk.principal_from_schedule(loan), loan
        assert bulk.loan(loan).status == one_by_one.loan(loan).status, loan
        assert [p.settled for p in bulk.payments_of(loan)] == [
            p.settled for p in one_by_one.payments_of(loan)
        ], loan
    assert bulk.loan("L4").status == "settled" and bulk.loan("L3").status == "active"
    assert bulk.trial_balance() == one_by_one.trial_balance()


def test_on_sqlite_a_seasoned_books_file_is_allocated_without_scanning_a_temporary_table_per_line(tmp_path):
    """SQLite ran the bulk allocation's ``NOT EXISTS`` over the settled installments as a scan of the file's
    earlier allocations for every line: on a book seasoned two months, 118 payments/s. Pinned by the plan of
    the allocation query (no correlated subquery), on a file whose loans have settled installments."""
    from sqlalchemy import event

    ledger = Ledger.connect(f"sqlite:///{tmp_path / 'ledger.db'}")
    for n in range(3):
        ledger.book_loan(LoanTerms(f"L{n}", "B1", 600_000, 180_000, 6, date(2024, 1, 15)))
    plans: list[str] = []

    def explain(conn, cursor, statement, parameters, context, executemany):
        prefix = "CREATE TEMP TABLE bulk_lines AS"
        if statement.lstrip().startswith(prefix):
            select = statement.lstrip()[len(prefix) :]
            rows = conn.connection.driver_connection.execute("EXPLAIN QUERY PLAN " + select, parameters)
            plans.extend(row[3] for row in rows.fetchall())

    event.listen(ledger.engine, "before_cursor_execute", explain)
    try:
        for month in (1, 2):  # each loan's installment, on its due day: the second file meets settled ones
            due = [ledger.installments_of(f"L{n}")[month - 1] for n in range(3)]
            batch = pa.table(
                {
                    "idempotency_key": [f"m{month}-L{n}" for n in range(3)],
                    "loan_id": [f"L{n}" for n in range(3)],
                    "paid_on": pa.array([i.due_date for i in due], pa.date32()),
                    "amount_minor": [i.principal_due + i.interest_due + i.fee_due for i in due],
                }
            )
            assert ledger.post_payments_bulk(batch).posted == 3
    finally:
        event.remove(ledger.engine, "before_cursor_execute", explain)
        ledger.close()
    assert plans, "the allocation query was not seen"
    assert not [step for step in plans if "CORRELATED" in step], plans
