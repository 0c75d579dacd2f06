"""Opening a loan book: Parquet folders and in-memory frames, checked at the boundary."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from creditmesh import schema
from creditmesh.errors import SchemaError
from creditmesh.portfolio import REQUIRED_TABLES, Book, headline

UTC = dt.UTC


def small_book(loan_book):
    lb = loan_book()
    lb.loan("a1", borrower="a", principal=1_000, originated=dt.date(2024, 10, 2), funding_model="ice")
    lb.installment("a1", dt.date(2024, 11, 2), 400, paid=dt.date(2024, 11, 3))
    lb.installment("a1", dt.date(2024, 12, 2), 600)
    lb.single("b1", borrower="b", principal=2_000, originated=dt.date(2024, 11, 5), due=dt.date(2024, 12, 5))
    lb.single("a2", borrower="a", principal=3_000, originated=dt.date(2024, 12, 1), due=dt.date(2025, 1, 1))
    return lb


def write_folder(folder, frames, *, with_truth=False):
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        pq.write_table(schema.validate(name, frame, with_truth=with_truth), folder / f"{name}.parquet")
    return folder


def test_from_frames_exposes_one_view_per_table(loan_book):
    with small_book(loan_book).book() as book:
        assert set(book.tables) == set(REQUIRED_TABLES)
        counts = {name: book.one(f'SELECT COUNT(*) FROM "{name}"')[0] for name in REQUIRED_TABLES}
    assert counts == {"institutions": 2, "borrowers": 2, "credit_lines": 2, "loans": 3, "installments": 4}


def test_from_frames_refuses_a_missing_required_table(loan_book):
    frames = small_book(loan_book).frames()
    del frames["installments"]
    with pytest.raises(SchemaError) as raised:
        Book.from_frames(**frames)
    assert raised.value.field == "installments"


def test_from_frames_refuses_float_money_naming_table_and_column(loan_book):
    frames = small_book(loan_book).frames()
    frames["loans"] = frames["loans"].assign(principal_minor=lambda f: f["principal_minor"].astype(float))
    with pytest.raises(SchemaError) as raised:
        Book.from_frames(**frames)
    assert raised.value.field == "loans"
    assert "loans.principal_minor" in raised.value.reason


def test_from_frames_hides_simulator_truth_columns(loan_book):
    frames = small_book(loan_book).frames()
    frames["borrowers"] = frames["borrowers"].assign(true_pd=0.1, is_fraud=False, ring_id=None)
    with Book.from_frames(**frames) as book:
        columns = book.sql("SELECT column_name FROM (DESCRIBE borrowers)")["column_name"].tolist()
    assert not {"true_pd", "is_fraud", "ring_id"} & set(columns)


def test_last_date_is_the_latest_event_of_any_kind_as_a_utc_day(loan_book):
    lb = small_book(loan_book)
    assert lb.book().last_date == dt.date(2024, 12, 1)  # the last origination
    late_evening = dt.datetime(2024, 12, 20, 23, 30, tzinfo=UTC)
    lb.borrowers.append({**lb.borrowers[0], "borrower_id": "late", "registered_at": late_evening})
    assert lb.book().last_date == dt.date(2024, 12, 20)


def test_last_date_of_an_empty_book_is_none(loan_book):
    assert loan_book().book().last_date is None


def test_sql_binds_parameters(loan_book):
    with small_book(loan_book).book() as book:
        frame = book.sql("SELECT loan_id FROM loans WHERE principal_minor >= ? ORDER BY loan_id", [2_000])
        (total,) = book.one("SELECT SUM(principal_minor) FROM loans WHERE borrower_id = $who", {"who": "a"})
    assert frame["loan_id"].tolist() == ["a2", "b1"]
    assert total == 4_000


def test_closed_book_refuses_queries(loan_book):
    with small_book(loan_book).book() as book:
        pass
    with pytest.raises(duckdb.Error):
        book.one("SELECT 1")


def test_open_round_trips_parquet_written_from_validated_tables(loan_book, tmp_path):
    frames = small_book(loan_book).frames()
    folder = write_folder(tmp_path / "book", frames)
    with Book.open(folder) as opened, Book.from_frames(**frames) as in_memory:
        assert opened.last_date == in_memory.last_date == dt.date(2024, 12, 1)
        assert headline(opened, dt.date(2024, 12, 31)) == headline(in_memory, dt.date(2024, 12, 31))
        assert headline(opened)["total_outstanding_balance_minor"] == 600 + 2_000 + 3_000


def test_open_refuses_a_folder_missing_a_table(loan_book, tmp_path):
    folder = write_folder(tmp_path / "book", small_book(loan_book).frames())
    (folder / "installments.parquet").unlink()
    with pytest.raises(SchemaError) as raised:
        Book.open(folder)
    assert raised.value.field == "installments"
    assert "missing file" in raised.value.reason and "installments.parquet" in raised.value.reason


def test_open_refuses_a_float_money_column_from_metadata(loan_book, tmp_path):
    frames = small_book(loan_book).frames()
    folder = write_folder(tmp_path / "book", frames)
    loans = schema.validate("loans", frames["loans"])
    floated = loans.set_column(
        loans.schema.get_field_index("principal_minor"),
        "principal_minor",
        loans["principal_minor"].cast(pa.float64()),
    )
    pq.write_table(floated, folder / "loans.parquet")
    with pytest.raises(SchemaError) as raised:
        Book.open(folder)
    assert raised.value.field == "loans"
    assert "loans.principal_minor" in raised.value.reason and "integer minor units" in raised.value.reason


def test_open_refuses_a_file_that_is_not_parquet(loan_book, tmp_path):
    folder = write_folder(tmp_path / "book", small_book(loan_book).frames())
    (folder / "borrowers.parquet").write_bytes(b"not parquet")
    with pytest.raises(SchemaError) as raised:
        Book.open(folder)
    assert raised.value.field == "borrowers"


def test_open_refuses_a_missing_folder(tmp_path):
    with pytest.raises(SchemaError) as raised:
        Book.open(tmp_path / "nowhere")
    assert raised.value.field == "directory"


def test_open_hides_truth_columns_and_reads_optional_tables(loan_book, tmp_path):
    frames = small_book(loan_book).frames()
    frames["borrowers"] = frames["borrowers"].assign(true_pd=0.1, is_fraud=False, ring_id="r1")
    folder = write_folder(tmp_path / "book", frames, with_truth=True)
    payments = pd.DataFrame(
        {
            "payment_id": ["p1"],
            "loan_id": ["a1"],
            "paid_at": [dt.datetime(2024, 11, 3, 9, tzinfo=UTC)],
            "amount_minor": [404],
            "idempotency_key": ["k1"],
        }
    )
    pq.write_table(schema.validate("payments", payments), folder / "payments.parquet")
    with Book.open(folder) as book:
        assert "payments" in book.tables
        assert book.one("SELECT SUM(amount_minor) FROM payments") == (404,)
        columns = book.sql("SELECT column_name FROM (DESCRIBE borrowers)")["column_name"].tolist()
    assert columns == schema.table("borrowers").arrow_schema().names


def test_open_reads_a_folder_whose_path_has_quotes_and_glob_characters(loan_book, tmp_path):
    folder = write_folder(tmp_path / "o'brien's [book]*", small_book(loan_book).frames())
    with Book.open(folder) as book:
        assert book.one("SELECT COUNT(*) FROM loans") == (3,)
