"""Turn the simulated book into the Arrow tables of :mod:`creditmesh.schema`, a batch at a time.

:func:`book_tables` yields each table as chunks (a month's applications, a month's loans and their
installments, ...) in row order, so that a writer can stream them to Parquet and never holds a whole table;
concatenated, the chunks are the tables. Ids are zero-padded to the widest number of their column, which the
book knows before the first chunk is built.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from creditmesh.funding import FUNDING_MODELS, MODELS
from creditmesh.ids import format_ids, hex_strings, splitmix64
from creditmesh.schema import (
    CHANNELS,
    COLLECTION_CHANNELS,
    COLLECTION_OUTCOMES,
    EMPLOYMENT,
    PROMISE_STATUSES,
    STAGES,
    TABLES,
)
from creditmesh.simulate.platform import Book, decision_latency, settled_installments
from creditmesh.simulate.population import REGIONS, Population
from creditmesh.simulate.state import NEVER

#: Salt for synthetic idempotency keys (distinct from the identity salt).
_KEY_SALT = 0x5EED_1DE4
#: Collection actions are built and written this many at a time.
ACTION_CHUNK_ROWS = 1_000_000


def id_width(largest: int) -> int:
    """The digits :func:`~creditmesh.ids.format_ids` pads a column of ids to when its largest number is
    ``largest``: a chunk of the column is formatted with the whole column's width."""
    return max(1, len(str(max(int(largest), 0))))


def book_tables(
    book: Book,
    pop: Population,
    borrower_ids: pa.Array,
    institution_ids: pa.Array,
    start: date,
    policy_version: str = "rule-v0",
) -> Iterator[tuple[str, pa.Table]]:
    """Every table of the book as ``(name, chunk)`` pairs, each table's chunks in row order (``truth/...`` for
    the truth columns); a table without rows comes as one empty chunk. The book's batches are handed over as
    they are read: it can be read once."""
    app_width = id_width(book.applications.count - 1)
    yield from _each_or_empty(
        ("applications", "truth/applications", "decisions"),
        (
            application_tables(batch, pop, borrower_ids, start, policy_version, app_width)
            for batch in _in_order(book.applications, "app")
        ),
    )
    yield "credit_lines", credit_lines_table(book, borrower_ids, start)
    widths = {
        "loan": id_width(book.loans.count - 1),
        "app": id_width(book.loans.largest("app")),
        "line": id_width(book.loans.largest("borrower")),
    }
    yield from _each_or_empty(
        ("loans", "allocations"),
        (
            loan_tables(batch, borrower_ids, institution_ids, start, widths)
            for batch in _in_order(book.loans, "loan")
        ),
    )
    payments: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    yield from _each_or_empty(
        ("installments",),
        (
            (installments_table(batch, start, widths["loan"], payments),)
            for batch in settled_installments(book)
        ),
    )
    yield from _each_or_empty(
        ("payments",), ((chunk,) for chunk in payments_tables(payments, start, widths["loan"]))
    )
    yield from _each_or_empty(
        ("collection_actions",),
        ((chunk,) for chunk in collection_actions_tables(book, start, widths["loan"])),
    )


def _in_order(rows, number: str) -> Iterator[dict[str, np.ndarray]]:
    """The batches of ``rows``, checked to number their rows 0, 1, 2, ... in order (the tables' row order)."""
    expected = 0
    for batch in rows.batches():
        numbers = batch[number]
        if numbers.size and (numbers[0] != expected or (np.diff(numbers) != 1).any()):
            raise RuntimeError(f"{number} rows must come numbered in order")
        expected += numbers.size
        yield batch


def _each_or_empty(
    names: tuple[str, ...], chunks: Iterator[tuple[pa.Table, ...]]
) -> Iterator[tuple[str, pa.Table]]:
    """Name each table of each chunk; every name at least once (empty, with its schema) when there are none."""
    empty = True
    for tables in chunks:
        empty = False
        yield from zip(names, tables, strict=True)
    if empty:
        for name in names:
            folder, _, table = name.rpartition("/")
            yield (
                name,
                TABLES[table]
                .arrow_schema(with_truth=bool(folder))
                .empty_table()
                .select(_truth_columns(table) if folder else TABLES[table].arrow_schema().names),
            )


def _truth_columns(name: str) -> list[str]:
    key = {"applications": "application_id", "borrowers": "borrower_id"}[name]
    return [key, *TABLES[name].truth]


def _timestamps(start: date, day: np.ndarray, second: np.ndarray) -> pa.TimestampArray:
    base = np.datetime64(start, "us")
    values = (
        base
        + day.astype(np.int64) * np.timedelta64(86_400_000_000, "us")
        + second.astype(np.int64) * np.timedelta64(1_000_000, "us")
    )
    return pa.array(values, type=pa.timestamp("us", tz="UTC"))


def _dates(start: date, day: np.ndarray, missing: np.ndarray | None = None) -> pa.Date32Array:
    """Days since ``start`` as an Arrow date32 column (days since 1970-01-01), nulls where ``missing``."""
    epoch_day = (start - date(1970, 1, 1)).days
    values = np.asarray(day, dtype=np.int32) + np.int32(epoch_day)
    if missing is not None:
        values[missing] = 0
    return pa.array(values, type=pa.int32(), mask=missing).view(pa.date32())


def _pick(labels: tuple[str, ...], codes: np.ndarray) -> pa.DictionaryArray | pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(labels)).cast(
        pa.string()
    )


def _strings(values: np.ndarray | pa.Array) -> pa.Array:
    """A string column from an Arrow array (as :class:`~creditmesh.simulate.state.Rows` keeps one) or objects."""
    return values.cast(pa.string()) if isinstance(values, pa.Array) else pa.array(values, type=pa.string())


def _nullable(values: np.ndarray, type_: pa.DataType, missing: np.ndarray) -> pa.Array:
    return pa.array(values, type=type_, mask=missing)


def borrowers_table(pop: Population, start: date) -> pa.Table:
    ids = format_ids("B", np.arange(pop.size))
    ring = pop.ring
    ring_ids = pc.if_else(
        pa.array(ring < 0), pa.scalar(None, pa.string()), format_ids("R", np.maximum(ring, 0))
    )
    return pa.table(
        {
            "borrower_id": ids,
            "registered_at": _timestamps(start, pop.registered_day, pop.registered_second),
            "channel": _pick(CHANNELS, pop.channel),
            "region": _pick(REGIONS, pop.region),
            "birth_year": pa.array(pop.birth_year, type=pa.int16()),
            "true_pd": pa.array(pop.true_pd),
            "is_fraud": pa.array(pop.is_fraud),
            "ring_id": ring_ids,
        },
        schema=TABLES["borrowers"].arrow_schema(with_truth=True),
    )


def application_tables(
    a: dict[str, np.ndarray],
    pop: Population,
    borrower_ids: pa.Array,
    start: date,
    policy_version: str,
    app_width: int,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """A batch of applications (in application order): the applications, their truth columns, the decisions."""
    b = a["borrower"]
    ids = format_ids("A", a["app"], width=app_width)
    employment = pop.employment[b]
    ring = pop.ring[b]
    applications = pa.table(
        {
            "application_id": ids,
            "borrower_id": borrower_ids.take(pa.array(b)),
            "applied_at": _timestamps(start, a["day"], a["second"]),
            "stage": _pick(STAGES, a["stage"]),
            "channel": _pick(CHANNELS, pop.channel[b]),
            "requested_amount_minor": pa.array(a["requested_amount_minor"], type=pa.int64()),
            "requested_tenor": pa.array(a["requested_tenor"], type=pa.int16()),
            "age": pa.array(start.year + a["day"] // 365 - pop.birth_year[b], type=pa.int16()),
            "monthly_income_minor": _nullable(
                pop.monthly_income_minor[b], pa.int64(), pop.monthly_income_minor[b] < 0
            ),
            "employment": pc.if_else(
                pa.array(employment < 0),
                pa.scalar(None, pa.string()),
                _pick(EMPLOYMENT, np.maximum(employment, 0)),
            ),
            "bureau_score": _nullable(pop.bureau_score[b], pa.int16(), pop.bureau_score[b] < 0),
            "bureau_inquiries_6m": _nullable(
                pop.bureau_inquiries_6m[b], pa.int16(), pop.bureau_inquiries_6m[b] < 0
            ),
            "bureau_delinquencies_24m": _nullable(
                pop.bureau_delinquencies_24m[b], pa.int16(), pop.bureau_delinquencies_24m[b] < 0
            ),
            "device_age_days": pa.array(
                pop.device_age_days[b] + a["day"] - pop.registered_day[b], type=pa.int32()
            ),
            "apply_hour": pa.array(pop.apply_hour[b], type=pa.int8()),
            "contacts_count": pa.array(pop.contacts_count[b], type=pa.int32()),
            "months_on_book": _nullable(a["months_on_book"], pa.int16(), a["months_on_book"] < 0),
            "max_dpd_on_book": _nullable(a["max_dpd"], pa.int16(), a["max_dpd"] < 0),
            "line_utilization": pa.array(a["utilization"], type=pa.float32(), from_pandas=True),
            "true_pd": pa.array(pop.true_pd[b]),
            "is_fraud": pa.array(pop.is_fraud[b]),
            "ring_id": pc.if_else(
                pa.array(ring < 0), pa.scalar(None, pa.string()), format_ids("R", np.maximum(ring, 0))
            ),
        },
        schema=TABLES["applications"].arrow_schema(with_truth=True),
    )
    truth = applications.select(_truth_columns("applications"))
    applications = applications.select(TABLES["applications"].arrow_schema().names)
    latency = decision_latency(a["app"], a["automated"], a["second"])
    reasons = pa.ListArray.from_arrays(
        pa.array(np.arange(len(ids) + 1, dtype=np.int32)), _strings(a["reason"])
    )
    decisions = pa.table(
        {
            "application_id": ids,
            "decided_at": _timestamps(start, a["day"], a["second"] + latency),
            "outcome": _strings(a["outcome"]),
            "automated": pa.array(a["automated"]),
            "score": pa.array(a["score"], from_pandas=True),
            "pd": pa.array(a["pd"], from_pandas=True),
            "grade": _strings(a["grade"]),
            "credit_line_minor": pa.array(a["credit_line_minor"], type=pa.int64()),
            "apr": pa.array(a["apr"], from_pandas=True),
            "reasons": reasons,
            "policy_version": pa.array(np.full(len(ids), policy_version, dtype=object), type=pa.string()),
            "arm": pa.array(np.full(len(ids), "champion", dtype=object), type=pa.string()),
        },
        schema=TABLES["decisions"].arrow_schema(),
    )
    return applications, truth, decisions


def credit_lines_table(book: Book, borrower_ids: pa.Array, start: date) -> pa.Table:
    lines = book.lines
    status = np.where(lines["frozen"], "frozen", "active").astype(object)
    adjusted = lines["last_adjusted_day"]
    return pa.table(
        {
            "credit_line_id": format_ids("CL", lines["borrower"]),
            "borrower_id": borrower_ids.take(pa.array(lines["borrower"])),
            "application_id": format_ids("A", lines["app"]),
            "limit_minor": pa.array(lines["limit"], type=pa.int64()),
            "apr": pa.array(lines["apr"]),
            "opened_at": _timestamps(
                start, lines["decided_day"], lines["decided_second"]
            ),  # when its application was decided
            "status": pa.array(status, type=pa.string()),
            "last_adjusted_at": pa.array(
                (np.datetime64(start, "us") + np.maximum(adjusted, 0) * np.timedelta64(86_400_000_000, "us")),
                type=pa.timestamp("us", tz="UTC"),
                mask=adjusted < 0,
            ),
        },
        schema=TABLES["credit_lines"].arrow_schema(),
    )


def loan_tables(
    l: dict[str, np.ndarray],  # noqa: E741 (the loans arrays, read on every line below)
    borrower_ids: pa.Array,
    institution_ids: pa.Array,
    start: date,
    widths: dict[str, int],
) -> tuple[pa.Table, pa.Table]:
    """A batch of loans (in loan order): the loans and their allocations. ``widths``: the digits of the
    ``loan``, ``app`` and ``line`` ids (each its column's widest)."""
    loan_ids = format_ids("L", l["loan"], width=widths["loan"])
    app_ids = format_ids("A", l["app"], width=widths["app"])
    model = _pick(FUNDING_MODELS, l["model"])
    loans = pa.table(
        {
            "loan_id": loan_ids,
            "borrower_id": borrower_ids.take(pa.array(l["borrower"])),
            "credit_line_id": format_ids("CL", l["borrower"], width=widths["line"]),
            "application_id": app_ids,
            "institution_id": institution_ids.take(pa.array(l["institution"])),
            "funding_model": model,
            "principal_minor": pa.array(l["principal"], type=pa.int64()),
            "apr": pa.array(l["apr"]),
            "tenor_months": pa.array(l["tenor"], type=pa.int16()),
            "schedule": pa.array(
                np.where(l["equal_principal"], "equal_principal", "equal_installment").astype(object),
                type=pa.string(),
            ),
            "originated_at": _timestamps(start, l["day"], l["second"]),
            "repeat_borrower": pa.array(l["repeat"]),
        },
        schema=TABLES["loans"].arrow_schema(),
    )
    funding_cost = 0.05
    fee = np.array([np.nan if m.default_fee_rate is None else m.default_fee_rate for m in MODELS])[l["model"]]
    margin = np.where(np.isnan(fee), l["apr"] - funding_cost, fee)  # no fee named: the APR less funding cost
    allocations = pa.table(
        {
            "application_id": app_ids,
            "institution_id": loans["institution_id"],
            "funding_model": model,
            "expected_margin": pa.array(margin),
        },
        schema=TABLES["allocations"].arrow_schema(),
    )
    return loans, allocations


def installments_table(
    i: dict[str, np.ndarray],
    start: date,
    loan_width: int,
    payments: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> pa.Table:
    """A batch of settled installments (whole loans, in (loan, seq) order, see
    :func:`~creditmesh.simulate.platform.settled_installments`) as the installments table; the batch's payments
    (loan, day, amount) are appended to ``payments``, to be numbered once they are all known."""
    if i["loan"].size > 1 and (np.diff(i["loan"]) < 0).any():
        raise RuntimeError("installments must come in (loan, seq) order")
    payments.append(_payments(i))
    # build the installments column by column, dropping each source array once it is used
    open_ = i["paid_day"] == NEVER
    columns = {
        "loan_id": format_ids("L", i.pop("loan"), width=loan_width),
        "seq": pa.array(i.pop("seq"), type=pa.int16()),
        "due_date": _dates(start, i.pop("due_day")),
    }
    principal_due = i.pop("principal_due")
    columns["principal_due_minor"] = pa.array(principal_due, type=pa.int64())
    columns["interest_due_minor"] = pa.array(i.pop("interest_due"), type=pa.int64())
    zero = pa.array(np.zeros(open_.size, np.int64))
    columns["fee_due_minor"] = zero
    columns["principal_paid_minor"] = pa.array(np.where(open_, 0, principal_due), type=pa.int64())
    del principal_due
    columns["interest_paid_minor"] = pa.array(np.where(open_, 0, i.pop("interest_paid")), type=pa.int64())
    columns["fee_paid_minor"] = zero
    columns["paid_at"] = _dates(start, i.pop("paid_day"), open_)
    return pa.table(columns, schema=TABLES["installments"].arrow_schema())


def _payments(i: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One payment per loan per day on which installments were settled: loan, day and amount, in (loan, day)
    order."""
    paid = i["paid_day"] != NEVER
    loan, day = i["loan"][paid].astype(np.int64), i["paid_day"][paid].astype(np.int64)
    amount = i["principal_due"][paid] + i["interest_paid"][paid]
    order = np.argsort(loan * (1 << 22) + day, kind="stable")  # day < 2**22: one key sorts by (loan, day)
    loan, day, amount = loan[order], day[order], amount[order]
    first = np.ones(loan.size, bool)
    first[1:] = (loan[1:] != loan[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(first)
    totals = np.add.reduceat(amount, starts) if starts.size else np.zeros(0, np.int64)
    return loan[starts].astype(np.int32), day[starts].astype(np.int32), totals.astype(np.int64)


def payments_tables(
    payments: list[tuple[np.ndarray, np.ndarray, np.ndarray]], start: date, loan_width: int
) -> Iterator[pa.Table]:
    """The payments table a batch at a time (each batch handed over once), numbered in (loan, day) order."""
    width = id_width(sum(p_loan.size for p_loan, _, _ in payments) - 1)
    first = 0
    while payments:
        p_loan, p_day, totals = payments.pop(0)
        numbers = np.arange(first, first + p_loan.size)
        first += p_loan.size
        seconds = (splitmix64(numbers) % np.uint64(86_400)).astype(np.int64)
        yield pa.table(
            {
                "payment_id": format_ids("P", numbers, width=width),
                "loan_id": format_ids("L", p_loan, width=loan_width),
                "paid_at": _timestamps(start, p_day, seconds),
                "amount_minor": pa.array(totals),
                "idempotency_key": hex_strings(splitmix64(numbers.astype(np.uint64) ^ np.uint64(_KEY_SALT))),
            },
            schema=TABLES["payments"].arrow_schema(),
        )


def collection_actions_tables(book: Book, start: date, loan_width: int) -> Iterator[pa.Table]:
    """What collections did on the simulated platform, one row an action (reminders before the due date are
    counted, not listed), :data:`ACTION_CHUNK_ROWS` at a time. Actions are spread over the borrower's working
    hours, 09:00-18:00 at UTC+8."""
    log = book.collection_actions
    count = log["loan"].size
    width = id_width(count - 1)
    arms = np.asarray(book.collection_arms or ("",), dtype=object)
    for first in range(0, count, ACTION_CHUNK_ROWS):
        a = {name: values[first : first + ACTION_CHUNK_ROWS] for name, values in log.items()}
        numbers = np.arange(first, first + a["loan"].size)
        seconds = 3_600 + (
            splitmix64(numbers.astype(np.uint64) ^ np.uint64(0xC011EC7)) % np.uint64(9 * 3_600)
        ).astype(np.int64)
        promised = a["promise_status"] >= 0
        status = np.asarray(PROMISE_STATUSES, dtype=object)[np.maximum(a["promise_status"], 0)]
        yield pa.table(
            {
                "action_id": format_ids("CA", numbers, width=width),
                "loan_id": format_ids("L", a["loan"], width=loan_width),
                "at": _timestamps(start, a["day"], seconds),
                "channel": _pick(COLLECTION_CHANNELS, a["channel"]),
                "outcome": _pick(COLLECTION_OUTCOMES, a["outcome"]),
                "promised_minor": pa.array(a["promised_minor"], type=pa.int64()),
                "promise_due_on": _dates(start, np.where(promised, a["promise_due"], 0), ~promised),
                "promise_status": pa.array(np.where(promised, status, None), type=pa.string()),
                "cost_minor": pa.array(a["cost_minor"], type=pa.int64()),
                "arm": pa.array(arms[a["arm"]], type=pa.string()),
            },
            schema=TABLES["collection_actions"].arrow_schema(),
        )
