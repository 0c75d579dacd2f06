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
from creditmesh.ledger.waterfall import COMPONENTS
from creditmesh.ledger.waterfall_sql import FENCES, account_case, lines_sql, payment_lines
from creditmesh.money import MINOR_UNITS

#: Rows per bulk transaction: bounded, so a batch's temporary tables stay in memory.
BATCH_ROWS_MAX = 2_000_000


@dataclass(frozen=True)
class BulkResult:
    """What became of a file: posted in bulk, replayed (same key, same body), left to the one-by-one
    path (``routed``, the rows themselves), and refused (``rejected``, with a reason per row)."""

    posted: int
    replayed: int
    routed: pa.Table
    rejected: pa.Table


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

    In the staging order (by loan) they ascend, so the payments' primary key index grows at its right edge
    instead of at a random page per payment (random ids made the index the insert's main cost on a large
    book), in the order the payments' index by loan and the allocations' key are appended in too."""
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


def _repeats(data: pa.Table) -> pa.Table:
    """Add ``alone_on_loan`` (1 when no other row of the file pays the row's loan; ``data`` is in loan order)
    and ``first_row`` (the first ``row_number`` of the row's key when the file repeats the key, else null),
    counted here, in the client's columns, instead of by two aggregates over the staged file."""
    n = data.num_rows
    same = np.zeros(n + 1, dtype=bool)  # same[i]: rows i - 1 and i pay one loan
    if n > 1:
        loan = data["loan_id"]
        same[1:n] = pc.fill_null(pc.equal(loan.slice(1), loan.slice(0, n - 1)), False).to_numpy()
    alone = (~(same[:n] | same[1:])).astype(np.int32)
    keys = data.select(["idempotency_key", "row_number"]).filter(pc.is_valid(data["idempotency_key"]))
    counted = keys.group_by("idempotency_key").aggregate([("row_number", "min"), ("row_number", "count")])
    repeated = counted.filter(pc.greater(counted["row_number_count"], 1))
    if repeated.num_rows:
        where = pc.index_in(data["idempotency_key"], repeated["idempotency_key"], skip_nulls=True)
        first_row = pc.take(repeated["row_number_min"], where)
    else:
        first_row = pa.nulls(data.num_rows, pa.int64())
    return data.append_column("alone_on_loan", pa.array(alone)).append_column("first_row", first_row)


def _staging_ddl(dialect: str) -> str:
    """The staging table; on PostgreSQL its text compares byte by byte (``COLLATE "C"``, as the ledger's id
    columns since migration 0009), and the fingerprint is computed in SQL from the row (:func:`_check`)."""
    collate = ' COLLATE "C"' if dialect == "postgresql" else ""
    return f"""
    CREATE TEMP TABLE payment_staging (
        row_number BIGINT, idempotency_key VARCHAR(200){collate}, loan_id VARCHAR(200){collate}, paid_on DATE,
        amount_minor BIGINT, currency VARCHAR(8){collate}, request_sha256 VARCHAR(64){collate},
        payment_id VARCHAR(40){collate}, alone_on_loan INTEGER, first_row BIGINT
    )"""


#: Temporary tables of one bulk call, dropped at its end.
_TEMP_TABLES = (
    "payment_staging",
    "staging_verdict",
    "bulk_loan",
    "bulk_paid",
    "bulk_late",
    "bulk_lines",
    "payment_entries",
)
#: PostgreSQL's default work_mem (4 MB) sends the sorts and hashes over a million staged rows to disk.
_WORK_MEM = "256MB"
#: Rows ANALYZE samples per column is 300 times this: enough for the plans of these few joins, and a tenth of
#: the default's reading of a million-row temporary table.
_STATISTICS_TARGET = 10


def _temp_table(
    conn: Connection, name: str, select_sql: str, params: dict | None = None, *, analyze: bool = True
) -> None:
    """(Re)create a temporary table from a query, with fresh planner statistics on PostgreSQL
    (autovacuum never analyses temporary tables, and a plan guessed on an empty table is a nested loop)."""
    conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    conn.execute(text(f"CREATE TEMP TABLE {name} AS {select_sql}"), params or {})
    if analyze:
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
        conn.execute(text(f"SET LOCAL default_statistics_target = {_STATISTICS_TARGET}"))
        # compiling these few large queries to machine code took longer than it saved
        conn.execute(text("SET LOCAL jit = off"))
        # dates as text are ISO (YYYY-MM-DD), as the payments' fingerprint hashes them, without to_char's cost
        conn.execute(text("SET LOCAL DateStyle = 'ISO'"))


def post_payments(
    conn: Connection,
    batch: pa.Table,
    *,
    known_currencies: tuple[str, ...] = tuple(MINOR_UNITS),
    business_date: date | None = None,
) -> BulkResult:
    """Post a file of payments inside the caller's transaction; see the module notes.

    Four set-based steps over temporary tables: the file is staged (COPY); every row gets its verdict
    (refused with a reason, a replay, or eligible) and its loan's funding model in one pass
    (``staging_verdict``); the eligible rows are joined to their loans' due installments and allocated by the
    waterfall in one windowed query (``bulk_lines``, which also says which payments are posted here); the
    allocations, payments and journal of those are appended; the rest is handed back as ``routed``.
    """
    data = _normalise(batch)
    if data.num_rows > BATCH_ROWS_MAX:
        raise journal.CreditmeshError(
            "payments", f"{data.num_rows} rows; post at most {BATCH_ROWS_MAX} per batch"
        )
    # staged in loan order (row_number keeps the file's): every later step reads and appends in the order of
    # the ledger's indexes (loan, installment), and the payment ids, given in this order, ascend with it
    order = pc.sort_indices(data, sort_keys=[("loan_id", "ascending")])
    data = data.take(order).append_column("row_number", order.cast(pa.int64()))
    data = _repeats(data)
    if conn.dialect.name != "postgresql":  # PostgreSQL computes it in SQL, from the staged row
        data = data.append_column("request_sha256", pa.array(_fingerprints(data)))
    data = data.append_column("payment_id", _payment_ids(data.num_rows))
    batch_settings(conn)
    conn.execute(text("DROP TABLE IF EXISTS payment_staging"))
    conn.execute(text(_staging_ddl(conn.dialect.name)))
    _copy_into(conn, "payment_staging", data)
    _analyze(conn, "payment_staging")
    _check(conn, known_currencies, business_date)
    _allocate(conn, pc.max(data["paid_on"]).as_py() or date.min)
    posted = _post(conn)
    # one pass over the verdicts counts the replays and the rows to hand back; these are read only when there
    # are any (a file of payments that are all posted here hands back nothing)
    replayed, passed, refused = conn.execute(
        text("""SELECT COALESCE(SUM(CASE WHEN reason = 'replayed' THEN 1 ELSE 0 END), 0),
                       COALESCE(SUM(CASE WHEN reason IS NULL THEN 1 ELSE 0 END), 0),
                       COALESCE(SUM(CASE WHEN reason <> 'replayed' THEN 1 ELSE 0 END), 0)
                FROM staging_verdict""")
    ).one()
    routed, rejected = _handed_back(conn, any_rows=int(passed) > posted or int(refused) > 0)
    for table in _TEMP_TABLES:
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    return BulkResult(posted, int(replayed), routed, rejected)


def _fingerprint_sql(dialect: str, row: str = "s") -> str:
    """The :func:`~creditmesh.ledger.fingerprint.payment_fingerprint` of the staged row ``row`` (an alias with its
    ``loan_id``, ``amount_minor``, ``paid_on`` and ``currency``): in SQL on PostgreSQL (``sha256`` runs in the
    server, at C speed), else the ``request_sha256`` column the client computed (NULL on PostgreSQL)."""
    if dialect != "postgresql":
        return f"{row}.request_sha256"
    body = f"{row}.loan_id || '|' || {row}.amount_minor || '|' || CAST({row}.paid_on AS TEXT) || '|' || {row}.currency"
    return f"encode(sha256(convert_to({body}, 'UTF8')), 'hex')"


def _check(conn: Connection, currencies: tuple[str, ...], business_date: date | None = None) -> None:
    """Refuse, row by row, what the one-by-one path would refuse, with its field and reason; mark replays.

    One pass: each row is joined once to its loan and to a payment booked under its key; the first
    failing check names the reason. The staged row says (:func:`_repeats`) which row of the file first
    has its key and whether the file pays its loan more than once (then each of its rows goes the
    one-by-one way, in file order; any row counts, even one refused). The same pass carries what the later
    steps need of the loan (funding model, whether it is active, its number of installments and principal).
    The payment booked under a row's key is looked up in the payments' index by key, row by row (a join
    hashed every payment ever booked: on a book seasoned five months, two thirds of this step). The fenced
    subquery reads it once per row. On PostgreSQL the fingerprint is computed here only for a row whose key
    was used before (to tell a replay from a different payment), and for the payments posted when they are
    appended: it is not carried through the verdicts and the windows (64 characters a row).
    """
    known = ", ".join(f"'{c}'" for c in currencies if c.isalpha())
    fingerprint = _fingerprint_sql(conn.dialect.name)
    _temp_table(
        conn,
        "staging_verdict",
        f"""
        SELECT s.row_number, s.idempotency_key, s.loan_id, s.paid_on, s.amount_minor, s.currency,
               s.request_sha256, s.payment_id, s.funding_model, s.installments, s.loan_principal, s.active,
               s.alone_on_loan, CASE
            WHEN s.idempotency_key IS NULL OR LENGTH(s.idempotency_key) = 0 OR LENGTH(s.idempotency_key) > 80
                THEN 'idempotency_key: empty or longer than 80 characters'
            WHEN s.loan_status IS NULL THEN 'loan_id: unknown loan'
            WHEN s.amount_minor IS NULL OR s.amount_minor <= 0 THEN 'amount_minor: must be positive'
            WHEN s.paid_on IS NULL THEN 'paid_on: missing'
            WHEN s.currency IS NULL OR s.currency NOT IN ({known}) THEN 'currency: unknown currency'
            WHEN s.known_sha256 IS NOT NULL AND s.known_sha256 <> {fingerprint}
                THEN 'idempotency_key: used before for a different payment'
            WHEN s.first_row IS NOT NULL AND s.first_row <> s.row_number THEN 'idempotency_key: repeated in the file'
            -- a replay is answered before the loan's state is looked at, as on the one-by-one path (a retry of
            -- the payment that settled a loan is a replay, not a payment on a settled loan)
            WHEN s.known_sha256 IS NOT NULL AND s.known_sha256 = {fingerprint} THEN 'replayed'
            WHEN s.loan_currency <> s.currency THEN 'currency: differs from the loan''s'
            WHEN s.paid_on < s.originated_on THEN 'paid_on: before the loan''s origination'
            WHEN s.paid_on > :business_date THEN 'paid_on: after the business date'
            WHEN s.loan_status IN ('settled', 'written_off') THEN 'loan_id: the loan takes no payment (settled or written off)'
        END AS reason
        FROM (
            SELECT s.row_number, s.idempotency_key, s.loan_id, s.paid_on, s.amount_minor, s.currency,
                   s.request_sha256, s.payment_id, l.funding_model,
                   l.tenor_months AS installments, l.principal_minor AS loan_principal,
                   CASE WHEN l.status = 'active' THEN 1 ELSE 0 END AS active,
                   s.alone_on_loan, s.first_row, l.status AS loan_status,
                   l.currency AS loan_currency, l.originated_on,
                   (SELECT p.request_sha256 FROM payments p WHERE p.idempotency_key = s.idempotency_key)
                       AS known_sha256
            FROM payment_staging s
            LEFT JOIN loans l ON l.loan_id = s.loan_id {FENCES.get(conn.dialect.name, "")}
        ) AS s""",
        {"business_date": business_date or date.max},
    )


#: The rows of the file that are allocated set-based: checked, on an active loan, alone on it in the file.
_ELIGIBLE = "v.reason IS NULL AND v.active = 1 AND v.alone_on_loan = 1"
#: What the allocations, payments, journal and windows need of a posted payment, carried from ``staging_verdict``
#: through the sort by loan: the payments and the journal are then appended from ``bulk_lines`` itself, with no
#: join back to the verdicts and no table of their own.
_CARRIED = (
    "payment_id",
    "funding_model",
    "installments",
    "settled_before",
    "principal_owed",
    "idempotency_key",
    "request_sha256",  # the client's on SQLite; NULL on PostgreSQL, which computes it as the payment is appended
    "currency",
)
#: The columns of ``bulk_lines``: a line's allocation, and (the same on every line of a payment) the payment's.
_LINE_COLUMNS = (
    "row_number",
    "loan_id",
    "seq",
    "paid_on",
    "amount_minor",
    "payment_id",
    "funding_model",
    "idempotency_key",
    "request_sha256",
    "currency",
    *COMPONENTS,
    "settles",
    "pays",
    *(f"payment_{part}" for part in COMPONENTS),
    "settles_loan",
    "first_line",
    "posted",
)


def _allocate(conn: Connection, last_day: date) -> None:
    """The waterfall over due installments (:func:`~creditmesh.ledger.waterfall_sql.lines_sql`), one row per
    (payment, due installment), and which payments are posted here (``posted``, on every line of theirs).

    Only the eligible rows (:data:`_ELIGIBLE`) are allocated here: the rest needs the full waterfall (a
    recovery, or a loan paid twice in a file, whose second payment sees the first). What each installment owes
    is its schedule, plus its late fees, less its allocations so far: only the open installments' allocations
    are folded (``bulk_paid``: those after the loan's last settled installment), beside one row per loan
    (``bulk_loan``: installments settled, the last of them, principal paid) and the late fees (``bulk_late``);
    all of them read for the file's loans only, empty for loans never paid. Folding every installment's
    allocations made a book's file slower each month (the sixth installment's file of a million loans:
    bulk_paid 13.6 s, bulk_lines 19.8 s, against 6.2 s for the whole lines step of the first).

    A payment is posted here when it is no more than is due, unless it pays the last of the loan's principal
    and leaves installments open (fees of later months): the one-by-one path settles such a loan early and
    waives them. Per payment (windows over its lines): what it pays of each component, whether it settles the
    loan (every installment settled: a loan's installments are seq 1 to ``tenor_months``, each settled by one
    allocation) and the principal it leaves (a loan's installments sum to its principal). Eligible payments
    are alone on their loan in the file, so the lines come ordered by loan: the order of every index the
    appends below write into.
    """
    sums = ", ".join(f"CAST(SUM(a.{part}_minor) AS BIGINT) AS {part}" for part in COMPONENTS)
    eligible_loans = f"SELECT v.loan_id FROM staging_verdict v WHERE {_ELIGIBLE}"
    # per loan, its allocations so far: how many installments they settled (each by one allocation), the last
    # of those, and the principal paid
    _temp_table(
        conn,
        "bulk_loan",
        f"""SELECT a.loan_id, COUNT(a.settled_on) AS settled,
                   MAX(CASE WHEN a.settled_on IS NOT NULL THEN a.seq END) AS settled_through,
                   CAST(SUM(a.principal_minor) AS BIGINT) AS principal
            FROM allocations a WHERE a.loan_id IN ({eligible_loans}) GROUP BY a.loan_id""",
    )
    # what was paid of the installments after the last settled one (none settled among them)
    _temp_table(
        conn,
        "bulk_paid",
        f"""SELECT a.loan_id, a.seq, {sums}
            FROM allocations a JOIN bulk_loan b ON b.loan_id = a.loan_id AND a.seq > COALESCE(b.settled_through, 0)
            GROUP BY a.loan_id, a.seq""",
    )
    _temp_table(
        conn,
        "bulk_late",
        f"""SELECT f.loan_id, f.seq, CAST(SUM(f.amount_minor) AS BIGINT) AS late_fee FROM late_fees f
            WHERE f.loan_id IN ({eligible_loans}) GROUP BY f.loan_id, f.seq""",
    )
    payments = """(SELECT v.row_number, v.loan_id, v.paid_on, v.amount_minor, v.payment_id, v.funding_model,
                          v.idempotency_key, v.request_sha256, v.currency, v.installments, v.reason, v.active,
                          v.alone_on_loan, COALESCE(b.settled, 0) AS settled_before,
                          COALESCE(b.settled_through, 0) AS settled_through,
                          v.loan_principal - COALESCE(b.principal, 0) AS principal_owed
                   FROM staging_verdict v LEFT JOIN bulk_loan b ON b.loan_id = v.loan_id
                   WHERE COALESCE(b.settled, 0) = COALESCE(b.settled_through, 0)) v"""
    lines = lines_sql(
        payments=payments,
        paid="bulk_paid p",
        late="bulk_late f",
        # the settled installments of a loan are its first ones (the waterfall pays the oldest first): those
        # after the last settled are the open ones, read without folding the settled ones' allocations; a loan
        # whose settled installments are not its first ones (a re-cast, say) goes the one-by-one way. No
        # installment due after the file's last day is due to any of its payments: left out as read
        where=f"{_ELIGIBLE} AND i.seq > v.settled_through AND i.due_date <= :last_day",
        carried=_CARRIED,
        partition="loan_id",  # an eligible payment is alone on its loan: the lines come ordered by loan
        open_only=True,
        due_owed=False,  # summed below with the payment's other sums, in one window
        fence=FENCES.get(conn.dialect.name, ""),
    )
    totals = ", ".join(f"CAST(SUM(l.{part}) OVER w AS BIGINT) AS payment_{part}" for part in COMPONENTS)
    _temp_table(
        conn,
        "bulk_lines",
        f"""
        SELECT {", ".join(f"t.{column}" for column in _LINE_COLUMNS[:-1])}, CASE WHEN t.amount_minor <= t.due_owed
                              AND (t.settles_loan = 1 OR t.principal_owed - t.payment_principal > 0)
                         THEN 1 ELSE 0 END AS posted
        FROM (
            SELECT l.*, {totals},
                   CASE WHEN l.settled_before + SUM(l.settles) OVER w = l.installments THEN 1 ELSE 0 END AS settles_loan,
                   CAST(SUM(l.owed) OVER w AS BIGINT) AS due_owed,
                   CASE WHEN l.seq = MIN(l.seq) OVER w THEN 1 ELSE 0 END AS first_line
            FROM ({lines}) AS l
            WINDOW w AS (PARTITION BY l.loan_id)
        ) AS t""",
        {"last_day": last_day},
    )


def _post(conn: Connection) -> int:
    """Allocations, payments and the journal for every payment posted here; the loans they settle."""
    # appended as bulk_lines was written, in the windows' order (loan, seq): its primary key's order (no sort)
    conn.execute(
        text(f"""
        INSERT INTO allocations (loan_id, seq, payment_id, {", ".join(f"{part}_minor" for part in COMPONENTS)},
                                 settled_on)
        SELECT loan_id, seq, payment_id, {", ".join(COMPONENTS)}, CASE WHEN settles = 1 THEN paid_on END
        FROM bulk_lines WHERE posted = 1 AND (pays = 1 OR settles = 1)""")
    )
    # one journal entry per business day in the file, so each entry carries the day its cash came in
    conn.execute(text("DROP TABLE IF EXISTS payment_entries"))
    conn.execute(text("CREATE TEMP TABLE payment_entries (paid_on DATE, entry_id BIGINT)"))
    entries = conn.execute(
        text("""
        INSERT INTO journal_entries (occurred_on, kind, loan_id, reference)
        SELECT DISTINCT paid_on, 'bulk_payments', NULL, 'bulk' FROM bulk_lines WHERE posted = 1
        RETURNING entry_id, occurred_on""")
    ).all()
    if not entries:  # no payment is posted here
        return 0
    conn.execute(
        text("INSERT INTO payment_entries (paid_on, entry_id) VALUES (:day, :entry_id)"),
        [{"day": day, "entry_id": entry_id} for entry_id, day in entries],
    )
    _analyze(conn, "payment_entries")
    # appended in the order of bulk_lines (the staging's, by loan), in which the payment ids ascend (no sort)
    posted = conn.execute(
        text(f"""
        INSERT INTO payments (payment_id, idempotency_key, request_sha256, loan_id, paid_on, currency, amount_minor,
                              late_fee_minor, fee_minor, interest_minor, principal_minor, prepaid_interest_minor,
                              prepaid_principal_minor, recovery, settled, entry_id)
        SELECT b.payment_id, b.idempotency_key, {_fingerprint_sql(conn.dialect.name, "b")}, b.loan_id, b.paid_on, b.currency, b.amount_minor,
               {", ".join(f"b.payment_{part}" for part in COMPONENTS)}, 0, 0, FALSE, b.settles_loan = 1, b.entry_id
        FROM {_POSTED}""")
    ).rowcount
    _journal_payments(conn)
    conn.execute(
        text("""
        UPDATE loans SET status = 'settled'
        WHERE status = 'active' AND loan_id IN (SELECT b.loan_id FROM bulk_lines b
                                                WHERE b.posted = 1 AND b.first_line = 1 AND b.settles_loan = 1)""")
    )
    return posted


#: The payments posted here, one row each (their first line, which carries the payment's columns), with the
#: journal entry of their day: what the payments and the journal are appended from.
_POSTED = """(SELECT b.*, e.entry_id FROM bulk_lines b JOIN payment_entries e ON e.paid_on = b.paid_on
             WHERE b.posted = 1 AND b.first_line = 1) AS b"""


def _journal_payments(conn: Connection) -> None:
    """journal.entry_for_payment, for every bulk payment at once (non-zero lines only), each entry checked.

    The lines are the loan's (principal, interest, fees), except cash: the day's payments arrive as one
    settlement, so each day's entry has one cash line for their sum (its loan_id is empty); the trial
    balance is the same as line by line, and each payment's own split stays on its ``payments`` row.

    The posted payments are read once from ``bulk_lines`` into a materialised CTE, narrow and in memory; one
    arm per line of the entry passes over it (a join of each payment to the entry's line numbers, or a
    ``LATERAL (VALUES ...)`` of its lines, measured slower). Inserted in the order the lines come (no sort: since
    migration 0009 postings have no index by loan)."""
    lines = payment_lines("b.funding_model", {part: f"b.payment_{part}" for part in COMPONENTS})
    # one arm per line of the entry, each a pass over the posted payments (narrow, in memory) keeping its
    # non-zero lines
    per_payment = " UNION ALL ".join(
        f"""SELECT b.entry_id, {account} AS account_code, b.loan_id, {amount} AS amount_minor
        FROM posted b WHERE {amount} <> 0"""
        for account, amount in lines
    )
    # the cash came in as one settlement per day from the processor: one cash line per entry
    cash = f"""
        SELECT b.entry_id, '{journal.CASH}' AS account_code, NULL AS loan_id, CAST(SUM(b.amount_minor) AS BIGINT) AS amount_minor
        FROM posted b GROUP BY b.entry_id"""
    posted = f"""posted AS MATERIALIZED (
        SELECT b.entry_id, b.loan_id, b.funding_model, b.amount_minor, {", ".join(f"b.payment_{part}" for part in COMPONENTS)}
        FROM {_POSTED})"""
    insert = f"""
        INSERT INTO postings (entry_id, account_code, loan_id, amount_minor)
        SELECT entry_id, account_code, loan_id, amount_minor FROM ({per_payment} UNION ALL {cash}) AS lines
        WHERE account_code IS NOT NULL"""
    off = "SELECT COUNT(*) FROM (SELECT entry_id FROM {} GROUP BY entry_id HAVING SUM(amount_minor) <> 0) AS off"
    if conn.dialect.name == "postgresql":  # checked as written, without reading them back through an index
        unbalanced = conn.execute(
            text(
                f"WITH {posted}, written AS ({insert} RETURNING entry_id, amount_minor) {off.format('written')}"
            )
        ).scalar_one()
    else:
        conn.execute(text(f"WITH {posted} {insert}"))
        written = "(SELECT p.entry_id, p.amount_minor FROM postings p JOIN payment_entries e ON e.entry_id = p.entry_id) AS w"
        unbalanced = conn.execute(text(off.format(written))).scalar_one()
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


def _handed_back(conn: Connection, *, any_rows: bool = True) -> tuple[pa.Table, pa.Table]:
    """(routed, rejected): the rows left to the one-by-one path (checked, not posted here) and the rows refused
    with their reason, in file order; one pass over the verdicts (none when the caller knows there are no such
    rows: ``any_rows=False``)."""
    if not any_rows:
        return _empty_rows(), _empty_rows()
    rows = conn.execute(
        text(f"""
        SELECT {", ".join(f"v.{name}" for name in _ROW_COLUMNS)}
        FROM staging_verdict v
        WHERE (v.reason IS NULL
               AND v.row_number NOT IN (SELECT b.row_number FROM bulk_lines b WHERE b.posted = 1 AND b.first_line = 1))
           OR (v.reason IS NOT NULL AND v.reason <> 'replayed')
        ORDER BY v.row_number""")
    ).all()
    values = {name: [r[k] for r in rows] for k, name in enumerate(_ROW_COLUMNS)}
    values["paid_on"] = [as_date(day) for day in values["paid_on"]]  # text on SQLite
    table = pa.table({name: pa.array(values[name], kind) for name, kind in _ROW_COLUMNS.items()})
    refused = pc.is_valid(table["reason"])
    return table.filter(pc.invert(refused)), table.filter(refused)


def _empty_rows() -> pa.Table:
    return pa.table({name: pa.array([], kind) for name, kind in _ROW_COLUMNS.items()})


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
    principal = account_case("s.funding_model", journal.PRINCIPAL_ACCOUNT)
    funding = account_case("s.funding_model", journal.FUNDING_ACCOUNT)
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
