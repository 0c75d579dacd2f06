"""Bulk paths: a whole book of loans, or a day's repayment file, in set-based SQL.

``load_loans`` books many loans with their schedules and disbursement entries
in a few statements. ``post_payments`` posts a payment processor's file: the
rows are copied into a staging table (``COPY`` on PostgreSQL), checked, and
every payment that only settles what is due is allocated in SQL by the same
waterfall as :func:`creditmesh.ledger.waterfall.split_payment` (late fee, fee,
interest, principal; oldest installment first), then journalled, in one
transaction per batch. The rest (a prepayment with its re-cast, a recovery
after charge-off, a loan with several payments in the file) goes through the
one-by-one path, payment by payment, afterwards. Both paths give the same
allocation (tested).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, insert, text

from creditmesh.funding import GUARANTEED_MODELS, sql_in
from creditmesh.ids import hex_strings
from creditmesh.ledger import journal
from creditmesh.ledger.fingerprint import payment_fingerprint
from creditmesh.ledger.hotpath import as_date
from creditmesh.ledger.tables import journal_entries
from creditmesh.money import MINOR_UNITS

#: Rows per bulk transaction: bounded, so a batch's temporary tables stay in memory.
BATCH_ROWS_MAX = 2_000_000
_COMPONENTS = ("late_fee", "fee", "interest", "principal")  # the waterfall's order within an installment


@dataclass(frozen=True)
class BulkResult:
    """What became of a file: posted in bulk, replayed (same key, same body), left to the one-by-one
    path (``routed``, the rows themselves), and refused (``rejected``, with a reason per row)."""

    posted: int
    replayed: int
    routed: pa.Table
    rejected: pa.Table


def _account_case(column: str, mapping: dict[str, str]) -> str:
    """A CASE over funding models built from journal.py's tables (our constants, never user text)."""
    for model, account in mapping.items():
        if not (model.replace("_", "").isalpha() and account.isdigit()):
            raise journal.LedgerInvariantError(
                "journal", f"unexpected account mapping {model!r} -> {account!r}"
            )
    whens = " ".join(f"WHEN '{model}' THEN '{account}'" for model, account in mapping.items())
    return f"CASE {column} {whens} END"


def _copy_into(conn: Connection, table: str, data: pa.Table) -> None:
    """Append an Arrow table to a (temporary) table of the same column names, as fast as the engine allows."""
    columns = ", ".join(data.column_names)
    if conn.dialect.name == "postgresql":
        buffer = io.BytesIO()
        pacsv.write_csv(data, buffer, pacsv.WriteOptions(include_header=False))
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy,
        ):
            copy.write(buffer.getvalue())
        return
    placeholders = ", ".join("?" for _ in data.column_names)
    rows = zip(*(data.column(c).to_pylist() for c in data.column_names))
    conn.connection.driver_connection.executemany(
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows
    )


def _fingerprints(data: pa.Table) -> list[str]:
    return [
        payment_fingerprint(*row)
        for row in zip(
            data["loan_id"].to_pylist(),
            data["amount_minor"].to_pylist(),
            pc.strftime(data["paid_on"].cast(pa.timestamp("s")), format="%Y-%m-%d").to_pylist(),
            data["currency"].to_pylist(),
        )
    ]


def _payment_ids(count: int) -> pa.Array:
    """Ids for a batch's payments: one random 64-bit prefix for the batch, then the row number, both in hex.

    In row order they ascend, so the payments' primary key index grows at its right edge instead of at a
    random page per payment (random ids made the index the insert's main cost on a large book)."""
    prefix = hex_strings(np.frombuffer(os.urandom(8), dtype=np.uint64))[0].as_py()
    return pc.binary_join_element_wise(prefix, hex_strings(np.arange(count, dtype=np.uint64)), "")


def _normalise(batch: pa.Table) -> pa.Table:
    wanted = {
        "idempotency_key": pa.string(),
        "loan_id": pa.string(),
        "paid_on": pa.date32(),
        "amount_minor": pa.int64(),
    }
    missing = [c for c in wanted if c not in batch.column_names]
    if missing:
        raise journal.CreditmeshError("payments", f"missing column(s) {', '.join(missing)}")
    if pa.types.is_floating(batch.schema.field("amount_minor").type):
        raise journal.CreditmeshError("amount_minor", "money must be integer minor units, got floats")
    columns = {name: batch[name].cast(kind) for name, kind in wanted.items()}
    columns["currency"] = (
        batch["currency"].cast(pa.string())
        if "currency" in batch.column_names
        else pa.array(["CNY"] * batch.num_rows)
    )
    return pa.table(columns)


_STAGING_DDL = """
CREATE TEMP TABLE payment_staging (
    row_number BIGINT, idempotency_key VARCHAR(200), loan_id VARCHAR(200), paid_on DATE,
    amount_minor BIGINT, currency VARCHAR(8), request_sha256 VARCHAR(64), payment_id VARCHAR(40)
)"""
#: Temporary tables of one bulk call, dropped at its end.
_TEMP_TABLES = (
    "payment_staging",
    "staging_verdict",
    "bulk_paid",
    "bulk_late",
    "bulk_lines",
    "bulk_posted",
    "payment_entries",
)
#: PostgreSQL's default work_mem (4 MB) sends the sorts and hashes over a million staged rows to disk.
_WORK_MEM = "256MB"


def _temp_table(conn: Connection, name: str, select_sql: str, params: dict | None = None) -> None:
    """(Re)create a temporary table from a query, with fresh planner statistics on PostgreSQL
    (autovacuum never analyses temporary tables, and a plan guessed on an empty table is a nested loop)."""
    conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    conn.execute(text(f"CREATE TEMP TABLE {name} AS {select_sql}"), params or {})
    _analyze(conn, name)


def _analyze(conn: Connection, name: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {name}"))


#: SQLite's page cache for a batch, in KiB (the default, 2 MB, re-reads index pages for every random insert).
_SQLITE_CACHE_KIB = 262_144


def batch_settings(conn: Connection) -> None:
    """Memory for one set-based batch: on PostgreSQL for this transaction only (sorts and hashes stay in
    memory), on SQLite a larger page cache for the connection (the indexes the batch inserts into stay in it)."""
    if conn.dialect.name == "sqlite":
        conn.execute(text(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}"))
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL work_mem = '{_WORK_MEM}'"))
        # compiling these few large queries to machine code took longer than it saved
        conn.execute(text("SET LOCAL jit = off"))


def post_payments(
    conn: Connection,
    batch: pa.Table,
    *,
    known_currencies: tuple[str, ...] = tuple(MINOR_UNITS),
    business_date: date | None = None,
) -> BulkResult:
    """Post a file of payments inside the caller's transaction; see the module notes.

    Five set-based steps over temporary tables: the file is staged (COPY); every row gets its verdict
    (refused with a reason, a replay, or eligible) and its loan's funding model in one pass; the eligible
    rows are joined to their loans' due installments and allocated by the waterfall in one windowed query
    (``bulk_lines``); what settles no more than is due is posted (``bulk_posted``: installments, payments,
    journal); the rest is handed back as ``routed``.
    """
    data = _normalise(batch)
    if data.num_rows > BATCH_ROWS_MAX:
        raise journal.CreditmeshError(
            "payments", f"{data.num_rows} rows; post at most {BATCH_ROWS_MAX} per batch"
        )
    data = data.append_column("row_number", pa.array(np.arange(data.num_rows, dtype=np.int64)))
    data = data.append_column("request_sha256", pa.array(_fingerprints(data)))
    data = data.append_column("payment_id", _payment_ids(data.num_rows))
    batch_settings(conn)
    conn.execute(text("DROP TABLE IF EXISTS payment_staging"))
    conn.execute(text(_STAGING_DDL))
    _copy_into(conn, "payment_staging", data)
    _analyze(conn, "payment_staging")
    _check(conn, known_currencies, business_date)
    _allocate(conn)
    posted = _post(conn)
    replayed = conn.execute(
        text("SELECT COUNT(*) FROM staging_verdict WHERE reason = 'replayed'")
    ).scalar_one()
    routed = _fetch(conn, "v.reason IS NULL AND b.row_number IS NULL")
    rejected = _fetch(conn, "v.reason IS NOT NULL AND v.reason <> 'replayed'")
    for table in _TEMP_TABLES:
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    return BulkResult(posted, int(replayed), routed, rejected)


def _check(conn: Connection, currencies: tuple[str, ...], business_date: date | None = None) -> None:
    """Refuse, row by row, what the one-by-one path would refuse, with its field and reason; mark replays.

    One pass: each row is joined once to its loan, to a payment booked under its key, and to the
    first row of the file with its key; the first failing check names the reason. The same pass carries
    what the later steps need of the loan (funding model, whether it is active) and whether the file pays
    the loan more than once (then each of its rows goes the one-by-one way, in file order; any row counts,
    even one refused, so that this is a small aggregate instead of a sort of the whole file).
    """
    known = ", ".join(f"'{c}'" for c in currencies if c.isalpha())
    _temp_table(
        conn,
        "staging_verdict",
        f"""
        SELECT s.row_number, s.idempotency_key, s.loan_id, s.paid_on, s.amount_minor, s.currency, s.request_sha256,
               s.payment_id, l.funding_model, l.tenor_months AS installments,
               CASE WHEN l.status = 'active' THEN 1 ELSE 0 END AS active,
               CASE WHEN d.loan_id IS NULL THEN 1 ELSE 0 END AS alone_on_loan, CASE
            WHEN s.idempotency_key IS NULL OR LENGTH(s.idempotency_key) = 0 OR LENGTH(s.idempotency_key) > 80
                THEN 'idempotency_key: empty or longer than 80 characters'
            WHEN l.loan_id IS NULL THEN 'loan_id: unknown loan'
            WHEN s.amount_minor IS NULL OR s.amount_minor <= 0 THEN 'amount_minor: must be positive'
            WHEN s.paid_on IS NULL THEN 'paid_on: missing'
            WHEN s.currency NOT IN ({known}) THEN 'currency: unknown currency'
            WHEN p.request_sha256 IS NOT NULL AND p.request_sha256 <> s.request_sha256
                THEN 'idempotency_key: used before for a different payment'
            WHEN f.first_row IS NOT NULL AND f.first_row <> s.row_number THEN 'idempotency_key: repeated in the file'
            -- a replay is answered before the loan's state is looked at, as on the one-by-one path (a retry of
            -- the payment that settled a loan is a replay, not a payment on a settled loan)
            WHEN p.request_sha256 = s.request_sha256 THEN 'replayed'
            WHEN l.currency <> s.currency THEN 'currency: differs from the loan''s'
            WHEN s.paid_on < l.originated_on THEN 'paid_on: before the loan''s origination'
            WHEN s.paid_on > :business_date THEN 'paid_on: after the business date'
            WHEN l.status IN ('settled', 'written_off') THEN 'loan_id: the loan takes no payment (settled or written off)'
        END AS reason
        FROM payment_staging s
        LEFT JOIN loans l ON l.loan_id = s.loan_id
        LEFT JOIN payments p ON p.idempotency_key = s.idempotency_key
        LEFT JOIN (SELECT idempotency_key, MIN(row_number) AS first_row FROM payment_staging
                   GROUP BY idempotency_key HAVING COUNT(*) > 1) f ON f.idempotency_key = s.idempotency_key
        LEFT JOIN (SELECT loan_id FROM payment_staging GROUP BY loan_id HAVING COUNT(*) > 1) d ON d.loan_id = s.loan_id""",
        {"business_date": business_date or date.max},
    )


def _clamp(value: str, top: str) -> str:
    """``value`` kept within [0, top], in SQL that both engines run."""
    return f"CASE WHEN {value} <= 0 THEN 0 WHEN {value} >= {top} THEN {top} ELSE {value} END"


#: The rows of the file that are allocated set-based: checked, on an active loan, alone on it in the file.
_ELIGIBLE = "v.reason IS NULL AND v.active = 1 AND v.alone_on_loan = 1"


def _allocate(conn: Connection) -> None:
    """The waterfall over due installments, one row per (payment, due installment), in one windowed query.

    Only the eligible rows (:data:`_ELIGIBLE`) are allocated here: the rest needs the full waterfall (a
    recovery, or a loan paid twice in a file, whose second payment sees the first). What each installment owes
    is its schedule, plus its late fees, less its allocations so far (``bulk_paid``, ``bulk_late``: the folds
    of the file's loans only; empty for loans never paid). ``before`` is what the older due installments of the
    loan take first; within an installment the components are paid in the waterfall's order (late fee, fee,
    interest, principal). ``due_owed`` is all that is due, so a payment of more (a prepayment) is told apart
    afterwards.
    """
    sums = ", ".join(f"CAST(SUM(a.{part}_minor) AS BIGINT) AS {part}" for part in _COMPONENTS)
    eligible_loans = f"SELECT v.loan_id FROM staging_verdict v WHERE {_ELIGIBLE}"
    _temp_table(
        conn,
        "bulk_paid",
        f"""SELECT a.loan_id, a.seq, {sums}, MAX(a.settled_on) AS settled_on FROM allocations a
            WHERE a.loan_id IN ({eligible_loans}) GROUP BY a.loan_id, a.seq""",
    )
    _temp_table(
        conn,
        "bulk_late",
        f"""SELECT f.loan_id, f.seq, CAST(SUM(f.amount_minor) AS BIGINT) AS late_fee FROM late_fees f
            WHERE f.loan_id IN ({eligible_loans}) GROUP BY f.loan_id, f.seq""",
    )
    due = {part: f"i.{part}_due_minor" for part in _COMPONENTS} | {"late_fee": "COALESCE(f.late_fee, 0)"}
    owed = {part: f"{due[part]} - COALESCE(p.{part}, 0)" for part in _COMPONENTS}
    total = " + ".join(f"({expression})" for expression in owed.values())
    left, parts = "x.amount_minor - x.before", []
    for part in _COMPONENTS:
        parts.append(f"{_clamp(left, f'x.owed_{part}')} AS {part}")
        left += f" - x.owed_{part}"
    settles = " AND ".join(
        f"{_clamp(f'x.amount_minor - x.before - x.owed_before_{part}', f'x.owed_{part}')} = x.owed_{part}"
        for part in _COMPONENTS
    )
    # within_due (the payment is no more than is due: posted here) and pays (the line pays something) are
    # columns, not conditions, so that the planner has statistics for them: estimated from the conditions,
    # a later statement was planned as a million random index probes instead of one scan
    _temp_table(
        conn,
        "bulk_lines",
        f"""
        SELECT y.*, CASE WHEN y.within_due = 1 AND y.late_fee + y.fee + y.interest + y.principal > 0
                         THEN 1 ELSE 0 END AS pays
        FROM (
        SELECT x.row_number, x.payment_id, x.loan_id, x.seq, x.paid_on, x.amount_minor, x.due_owed, {
            ", ".join(parts)
        },
               CASE WHEN {settles} THEN 1 ELSE 0 END AS settles,
               CASE WHEN x.amount_minor <= x.due_owed THEN 1 ELSE 0 END AS within_due
        FROM (
            SELECT v.row_number, v.payment_id, v.loan_id, v.paid_on, v.amount_minor, i.seq,
                   {", ".join(f"{expression} AS owed_{part}" for part, expression in owed.items())},
                   {
            ", ".join(
                f"{' + '.join(['0'] + [f'({owed[p]})' for p in _COMPONENTS[:k]])} AS owed_before_{part}"
                for k, part in enumerate(_COMPONENTS)
            )
        },
                   CAST(SUM({total}) OVER (PARTITION BY v.row_number ORDER BY i.seq ROWS UNBOUNDED PRECEDING)
                        - ({total}) AS BIGINT) AS before,
                   CAST(SUM({total}) OVER (PARTITION BY v.row_number) AS BIGINT) AS due_owed
            FROM staging_verdict v
            JOIN installments i ON i.loan_id = v.loan_id AND i.due_date <= v.paid_on
            LEFT JOIN bulk_paid p ON p.loan_id = i.loan_id AND p.seq = i.seq
            LEFT JOIN bulk_late f ON f.loan_id = i.loan_id AND f.seq = i.seq
            WHERE {_ELIGIBLE} AND p.settled_on IS NULL
        ) AS x
        ) AS y""",
    )


def _post(conn: Connection) -> int:
    """Allocations, payments and the journal for every allocated payment of no more than is due.

    A payment settles its loan when, with the installments it settles, every installment of the loan is
    settled: a loan's installments are seq 1 to ``tenor_months``, and each is settled by one allocation."""
    sums = ", ".join(
        f"CAST(SUM({part}) AS BIGINT) AS {part}" for part in _COMPONENTS
    )  # SUM of BIGINT is NUMERIC
    _temp_table(
        conn,
        "bulk_posted",
        f"""
        SELECT v.row_number, v.payment_id, v.idempotency_key, v.request_sha256, v.loan_id, v.paid_on, v.currency,
               v.amount_minor, t.due_owed, t.late_fee AS late_fee_minor, t.fee AS fee_minor,
               t.interest AS interest_minor, t.principal AS principal_minor, v.funding_model,
               CASE WHEN COALESCE(s.settled, 0) + t.settles = v.installments THEN 1 ELSE 0 END AS settles_loan
        FROM staging_verdict v
        JOIN (SELECT row_number, MAX(due_owed) AS due_owed, {sums}, SUM(pays * settles) AS settles FROM bulk_lines
              WHERE within_due = 1 GROUP BY row_number) t ON t.row_number = v.row_number
        LEFT JOIN (SELECT loan_id, COUNT(settled_on) AS settled FROM bulk_paid GROUP BY loan_id) s
               ON s.loan_id = v.loan_id""",
    )
    posted = int(conn.execute(text("SELECT COUNT(*) FROM bulk_posted")).scalar_one())
    if not posted:
        return 0
    # appended in the order of their primary key (loan, seq, payment), so that its index grows page by page
    conn.execute(
        text(f"""
        INSERT INTO allocations (loan_id, seq, payment_id, {", ".join(f"{part}_minor" for part in _COMPONENTS)},
                                 settled_on)
        SELECT loan_id, seq, payment_id, {", ".join(_COMPONENTS)}, CASE WHEN settles = 1 THEN paid_on END
        FROM bulk_lines WHERE pays = 1
        ORDER BY loan_id, seq, payment_id""")
    )
    # one journal entry per business day in the file, so each entry carries the day its cash came in
    conn.execute(text("DROP TABLE IF EXISTS payment_entries"))
    conn.execute(text("CREATE TEMP TABLE payment_entries (paid_on DATE, entry_id BIGINT)"))
    entries = conn.execute(
        text("""
        INSERT INTO journal_entries (occurred_on, kind, loan_id, reference)
        SELECT DISTINCT paid_on, 'bulk_payments', NULL, 'bulk' FROM bulk_posted
        RETURNING entry_id, occurred_on""")
    ).all()
    conn.execute(
        text("INSERT INTO payment_entries (paid_on, entry_id) VALUES (:day, :entry_id)"),
        [{"day": day, "entry_id": entry_id} for entry_id, day in entries],
    )
    _analyze(conn, "payment_entries")
    conn.execute(
        text("""
        INSERT INTO payments (payment_id, idempotency_key, request_sha256, loan_id, paid_on, currency, amount_minor,
                              late_fee_minor, fee_minor, interest_minor, principal_minor, prepaid_interest_minor,
                              prepaid_principal_minor, recovery, settled, entry_id)
        SELECT b.payment_id, b.idempotency_key, b.request_sha256, b.loan_id, b.paid_on, b.currency, b.amount_minor,
               b.late_fee_minor, b.fee_minor, b.interest_minor, b.principal_minor, 0, 0, FALSE,
               b.settles_loan = 1, e.entry_id
        FROM bulk_posted b JOIN payment_entries e ON e.paid_on = b.paid_on
        ORDER BY b.payment_id""")
    )
    _journal_payments(conn)
    conn.execute(
        text("""
        UPDATE loans SET status = 'settled'
        WHERE status = 'active' AND loan_id IN (SELECT loan_id FROM bulk_posted WHERE settles_loan = 1)""")
    )
    return posted


def _journal_payments(conn: Connection) -> None:
    """journal.entry_for_payment, for every bulk payment at once (non-zero lines only), each entry checked.

    The lines are the loan's (principal, interest, fees), except cash: the day's payments arrive as one
    settlement, so each day's entry has one cash line for their sum (its loan_id is empty); the trial
    balance is the same as line by line, and each payment's own split stays on its ``payments`` row.

    Inserted in (loan, account) order, the order of ``ix_postings_loan_account``, so that the index grows
    page by page instead of at a random page per line."""
    principal = _account_case("b.funding_model", journal.PRINCIPAL_ACCOUNT)
    interest = _account_case("b.funding_model", journal.INTEREST_ACCOUNT)
    fee = _account_case("b.funding_model", journal.FEE_ACCOUNT)
    guaranteed = sql_in("b.funding_model", GUARANTEED_MODELS)
    lines = [
        (f"'{journal.LATE_FEES_RECEIVABLE}'", "-b.late_fee_minor"),
        (principal, "-b.principal_minor"),
        (interest, "-b.interest_minor"),
        (fee, "-b.fee_minor"),
        (
            f"CASE WHEN {guaranteed} THEN '{journal.GUARANTEE_LIABILITY}' END",
            "b.fee_minor",
        ),
        (
            f"CASE WHEN {guaranteed} THEN '{journal.GUARANTEE_RELEASE}' END",
            "-b.fee_minor",
        ),
    ]
    # the cash came in as one settlement per day from the processor: one cash line per entry
    selects = " UNION ALL ".join(
        [
            f"SELECT e.entry_id, '{journal.CASH}' AS account_code, NULL AS loan_id, CAST(SUM(b.amount_minor) AS BIGINT) AS amount_minor"
            f" FROM bulk_posted b JOIN payment_entries e ON e.paid_on = b.paid_on GROUP BY e.entry_id"
        ]
        + [
            f"SELECT e.entry_id, {account} AS account_code, b.loan_id, {amount} AS amount_minor"
            f" FROM bulk_posted b JOIN payment_entries e ON e.paid_on = b.paid_on"
            for account, amount in lines
        ]
    )
    conn.execute(
        text(f"""
        INSERT INTO postings (entry_id, account_code, loan_id, amount_minor)
        SELECT entry_id, account_code, loan_id, amount_minor FROM ({selects}) AS lines
        WHERE account_code IS NOT NULL AND amount_minor <> 0
        ORDER BY loan_id, account_code""")
    )
    unbalanced = conn.execute(
        text("""
        SELECT COUNT(*) FROM (SELECT p.entry_id FROM postings p JOIN payment_entries e ON e.entry_id = p.entry_id
                              GROUP BY p.entry_id HAVING SUM(p.amount_minor) <> 0) AS off""")
    ).scalar_one()
    if unbalanced:
        raise journal.LedgerInvariantError("journal", f"{unbalanced} bulk payment entries do not balance")


#: The columns of the rows a file hands back (``routed``, ``rejected``), typed even when there are none.
_ROW_COLUMNS = {
    "row_number": pa.int64(),
    "idempotency_key": pa.string(),
    "loan_id": pa.string(),
    "paid_on": pa.date32(),
    "amount_minor": pa.int64(),
    "currency": pa.string(),
    "reason": pa.string(),
}


def _fetch(conn: Connection, condition: str) -> pa.Table:
    rows = conn.execute(
        text(f"""
        SELECT v.row_number, v.idempotency_key, v.loan_id, v.paid_on, v.amount_minor, v.currency, v.reason
        FROM staging_verdict v LEFT JOIN bulk_posted b ON b.row_number = v.row_number
        WHERE {condition} ORDER BY v.row_number""")
    ).all()
    values = {name: [r[k] for r in rows] for k, name in enumerate(_ROW_COLUMNS)}
    values["paid_on"] = [as_date(day) for day in values["paid_on"]]  # text on SQLite
    return pa.table({name: pa.array(values[name], kind) for name, kind in _ROW_COLUMNS.items()})


def _check_schedules(loans: pa.Table, installments: pa.Table) -> None:
    """Each loan's installments are numbered 1 to its ``tenor_months`` (the bulk path counts on it: a loan is
    settled when that many of its installments are), else a :class:`CreditmeshError` naming a loan."""
    counted = installments.group_by("loan_id").aggregate([("seq", "count"), ("seq", "min"), ("seq", "max")])
    joined = loans.select(["loan_id", "tenor_months"]).join(counted, "loan_id", join_type="left outer")
    tenor = joined["tenor_months"].cast(pa.int64())
    good = pc.and_(
        pc.and_(pc.equal(joined["seq_count"], tenor), pc.equal(joined["seq_max"], tenor)),
        pc.equal(joined["seq_min"], 1),
    )
    bad = joined.filter(pc.invert(pc.fill_null(good, False)))
    if bad.num_rows:
        row = bad.slice(0, 1).to_pylist()[0]
        raise journal.CreditmeshError(
            "installments",
            f"{bad.num_rows} loan(s) without installments numbered 1 to tenor_months, e.g. {row['loan_id']!r}: "
            f"{row['seq_count'] or 0} installment(s) for a tenor of {row['tenor_months']}",
        )


def load_loans(conn: Connection, loans: pa.Table, installments: pa.Table) -> int:
    """Book many loans with the schedules given (schema tables ``loans`` and ``installments``) in set-based SQL.

    Every installment starts unpaid; each origination day gets one disbursement
    entry whose postings are journal.entry_for_disbursement's, loan by loan.
    Returns the number of loans booked.
    """
    from creditmesh.money import rate_to_ppm
    from creditmesh.schema import validate

    loans = validate("loans", loans)
    installments = validate("installments", installments)
    _check_schedules(loans, installments)
    staged_loans = pa.table(
        {
            "loan_id": loans["loan_id"],
            "borrower_id": loans["borrower_id"],
            "credit_line_id": loans["credit_line_id"],
            "application_id": loans["application_id"],
            "institution_id": loans["institution_id"],
            "funding_model": loans["funding_model"],
            "principal_minor": loans["principal_minor"],
            "apr_ppm": pa.array(rate_to_ppm(loans["apr"].to_numpy())),
            "tenor_months": loans["tenor_months"],
            "schedule": loans["schedule"],
            "originated_on": loans["originated_at"].cast(pa.date32()),
        }
    )
    batch_settings(conn)
    staged_installments = installments.select(
        ["loan_id", "seq", "due_date", "principal_due_minor", "interest_due_minor", "fee_due_minor"]
    )
    conn.execute(text("DROP TABLE IF EXISTS loan_staging"))
    conn.execute(
        text("""
        CREATE TEMP TABLE loan_staging (
            loan_id VARCHAR(40), borrower_id VARCHAR(40), credit_line_id VARCHAR(40), application_id VARCHAR(40),
            institution_id VARCHAR(40), funding_model VARCHAR(20), principal_minor BIGINT, apr_ppm INTEGER,
            tenor_months SMALLINT, schedule VARCHAR(20), originated_on DATE)""")
    )
    _copy_into(conn, "loan_staging", staged_loans)
    conn.execute(text("CREATE INDEX ix_loan_staging_loan ON loan_staging (loan_id)"))
    _analyze(conn, "loan_staging")
    conn.execute(
        text("""
        INSERT INTO loans (loan_id, borrower_id, credit_line_id, application_id, institution_id, funding_model, currency,
                           principal_minor, apr_ppm, tenor_months, schedule, originated_on, status, dpd, bucket)
        SELECT loan_id, borrower_id, NULL, application_id, institution_id, funding_model, 'CNY', principal_minor, apr_ppm,
               tenor_months, schedule, originated_on, 'active', 0, 'current'
        FROM loan_staging""")
    )
    if conn.dialect.name == "postgresql":
        _copy_into(conn, "installments", staged_installments)
    else:
        conn.execute(text("DROP TABLE IF EXISTS installment_staging"))
        conn.execute(
            text("""CREATE TEMP TABLE installment_staging (loan_id VARCHAR(40), seq SMALLINT, due_date DATE,
                             principal_due_minor BIGINT, interest_due_minor BIGINT, fee_due_minor BIGINT)""")
        )
        _copy_into(conn, "installment_staging", staged_installments)
        conn.execute(
            text("""
            INSERT INTO installments (loan_id, seq, due_date, principal_due_minor, interest_due_minor, fee_due_minor)
            SELECT loan_id, seq, due_date, principal_due_minor, interest_due_minor, fee_due_minor FROM installment_staging""")
        )
        conn.execute(text("DROP TABLE IF EXISTS installment_staging"))
    days = [
        row[0]
        for row in conn.execute(
            text("SELECT DISTINCT originated_on FROM loan_staging ORDER BY originated_on")
        )
    ]
    principal = _account_case("s.funding_model", journal.PRINCIPAL_ACCOUNT)
    funding = _account_case("s.funding_model", journal.FUNDING_ACCOUNT)
    conn.execute(text("DROP TABLE IF EXISTS loan_fees"))
    conn.execute(
        text(f"""CREATE TEMP TABLE loan_fees AS SELECT s.loan_id, SUM(i.fee_due_minor) AS fees
                         FROM loan_staging s JOIN installments i ON i.loan_id = s.loan_id
                         WHERE {sql_in("s.funding_model", GUARANTEED_MODELS)}
                         GROUP BY s.loan_id HAVING SUM(i.fee_due_minor) > 0""")
    )
    conn.execute(text("DROP TABLE IF EXISTS loan_entries"))
    conn.execute(text("CREATE TEMP TABLE loan_entries (originated_on DATE, entry_id BIGINT)"))
    for day in days:  # one disbursement entry per origination day
        entry_id = int(
            conn.execute(
                insert(journal_entries)
                .values(
                    occurred_on=day if isinstance(day, date) else date.fromisoformat(day),
                    kind="disbursement",
                    loan_id=None,
                    reference="bulk load",
                )
                .returning(journal_entries.c.entry_id)
            ).scalar_one()
        )
        conn.execute(
            text("INSERT INTO loan_entries (originated_on, entry_id) VALUES (:day, :entry_id)"),
            {"day": day, "entry_id": entry_id},
        )
    _analyze(conn, "loan_entries")
    conn.execute(
        text(f"""
        INSERT INTO postings (entry_id, account_code, loan_id, amount_minor)
        SELECT e.entry_id, {principal}, s.loan_id, s.principal_minor
        FROM loan_staging s JOIN loan_entries e ON e.originated_on = s.originated_on
        UNION ALL
        SELECT e.entry_id, {funding}, s.loan_id, -s.principal_minor
        FROM loan_staging s JOIN loan_entries e ON e.originated_on = s.originated_on
        UNION ALL
        SELECT e.entry_id, '{journal.GUARANTEE_FEES_RECEIVABLE}', f.loan_id, f.fees
        FROM loan_fees f JOIN loan_staging s ON s.loan_id = f.loan_id JOIN loan_entries e ON e.originated_on = s.originated_on
        UNION ALL
        SELECT e.entry_id, '{journal.GUARANTEE_LIABILITY}', f.loan_id, -f.fees
        FROM loan_fees f JOIN loan_staging s ON s.loan_id = f.loan_id JOIN loan_entries e ON e.originated_on = s.originated_on""")
    )
    count = conn.execute(text("SELECT COUNT(*) FROM loan_staging")).scalar_one()
    for table in ("loan_staging", "loan_fees", "loan_entries"):
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    return int(count)
