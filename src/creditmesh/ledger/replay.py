"""Replay a simulated (or any schema-shaped) book through the ledger, day by day."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from creditmesh.errors import SchemaError
from creditmesh.ledger.store import Ledger
from creditmesh.schema import check_types


@dataclass(frozen=True)
class ReplayReport:
    loans: int
    payments_posted: int
    payments_rejected: int
    month_ends_aged: int
    installments_differing: int | None  # against the source's installments, when it has paid columns


def _read(directory: Path, name: str) -> pa.Table:
    path = directory / f"{name}.parquet"
    if not path.is_file():
        raise SchemaError(name, f"missing file {path}")
    problems = check_types(name, pq.read_schema(path))
    if problems:
        raise SchemaError(name, "; ".join(problems))
    return pq.read_table(path)


def _month_ends(first: date, last: date) -> list[date]:
    ends, day = [], date(first.year, first.month, 1)
    while day <= last:
        following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        ends.append(following - timedelta(days=1))
        day = following
    return ends


def read_book(directory: str | Path) -> dict[str, pa.Table]:
    """The folder's loans, installments and payments, checked against the schema before anything is booked."""
    folder = Path(directory)
    return {name: _read(folder, name) for name in ("loans", "installments", "payments")}


def replay(
    ledger: Ledger,
    book: dict[str, pa.Table] | str | Path,
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> ReplayReport:
    """Book the loans, post the payments in date order (bulk, a day at a time), age every month end.

    The simulator books no late fees, so aging here charges none; the replayed
    installments are then compared with the book's own.
    """
    if not isinstance(book, dict):
        book = read_book(book)
    loans, installments, payments = book["loans"], book["installments"], book["payments"]
    say = progress or (lambda *_: None)
    booked = ledger.load_loans(loans, installments)
    paid_on = payments["paid_at"].cast(pa.date32())
    batch = pa.table(
        {
            "idempotency_key": payments["idempotency_key"],
            "loan_id": payments["loan_id"],
            "paid_on": paid_on,
            "amount_minor": payments["amount_minor"],
        }
    )
    days = sorted(pc.unique(paid_on).to_pylist())
    first = min([loans["originated_at"].cast(pa.date32())[0].as_py(), *days[:1]]) if loans.num_rows else None
    ends = _month_ends(first, max(days)) if days else []
    posted = rejected = aged = 0
    pending_ends = list(ends)
    for k, day in enumerate(days):
        while pending_ends and pending_ends[0] < day:
            ledger.age(pending_ends.pop(0), late_fee_minor=0)
            aged += 1
        result = ledger.post_payments_bulk(batch.filter(pc.equal(paid_on, pa.scalar(day, pa.date32()))))
        posted += result.posted
        rejected += result.rejected.num_rows
        say(f"payments of {day}", k + 1, len(days))
    for end in pending_ends:
        ledger.age(end, late_fee_minor=0)
        aged += 1
    return ReplayReport(booked, posted, rejected, aged, _compare(ledger, installments))


def _compare(ledger: Ledger, source: pa.Table) -> int:
    from creditmesh.ledger.export import read_tables

    columns = ["loan_id", "seq", "principal_paid_minor", "interest_paid_minor", "paid_at"]
    ours = read_tables(ledger.engine, ("installments",))["installments"].select(columns)
    theirs = source.select(columns)
    joined = ours.join(theirs, ["loan_id", "seq"], right_suffix="_source")
    differ = pc.or_(
        pc.not_equal(joined["principal_paid_minor"], joined["principal_paid_minor_source"]),
        pc.not_equal(joined["interest_paid_minor"], joined["interest_paid_minor_source"]),
    )
    same_day = pc.or_(
        pc.and_(joined["paid_at"].is_null(), joined["paid_at_source"].is_null()),
        pc.fill_null(pc.equal(joined["paid_at"], joined["paid_at_source"]), False),
    )
    return int(pc.sum(pc.or_(differ, pc.invert(same_day)).cast(pa.int64())).as_py() or 0) + abs(
        ours.num_rows - theirs.num_rows
    )
