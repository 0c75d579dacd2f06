"""The payment path's SQL as fixed text, sent straight to the driver.

A payment is a handful of small statements; building SQLAlchemy constructs and
their cache keys on every call cost more client CPU than the database spent on
them (benchmarks/ledger_post.py). So this path keeps its statements as text
written once with ``:name`` parameters, converted once per dialect, and runs
them on the DBAPI connection of the caller's SQLAlchemy transaction (so the
transaction, its lock and its commit stay SQLAlchemy's).
Values are always bound parameters, never formatted into the text.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import date
from functools import cache

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from creditmesh.ledger.tables import ONE_LOAN_BALANCES, installment_balances

_TEXT = {
    # the loan (locked) and, in the same round trip, a payment already booked under the key
    "lock_loan": """SELECT l.loan_id, l.currency, l.originated_on, l.status, l.apr_ppm, l.schedule, l.funding_model,
                    p.payment_id, p.amount_minor, p.late_fee_minor, p.fee_minor, p.interest_minor, p.principal_minor,
                    p.prepaid_interest_minor, p.prepaid_principal_minor, p.settled, p.recovery, p.request_sha256
                    FROM loans l LEFT JOIN payments p ON p.idempotency_key = :key
                    WHERE l.loan_id = :loan_id""",
    "previous_payment": """SELECT payment_id, loan_id, amount_minor, late_fee_minor, fee_minor, interest_minor,
                           principal_minor, prepaid_interest_minor, prepaid_principal_minor, settled, recovery,
                           request_sha256
                           FROM payments WHERE idempotency_key = :key""",
    # the loan's installments with their late fees and allocations folded (tables.ONE_LOAN_BALANCES)
    "installments": ONE_LOAN_BALANCES,
    # a re-cast or an early settlement rewrites what is due; a payment's allocation never does
    "update_schedule": """UPDATE installments SET principal_due_minor = :principal_due, interest_due_minor = :interest_due,
                          fee_due_minor = :fee_due, accrued_from = :accrued_from
                          WHERE loan_id = :loan_id AND seq = :seq""",
    "insert_allocation": """INSERT INTO allocations (loan_id, seq, payment_id, late_fee_minor, fee_minor, interest_minor,
                            principal_minor, settled_on)
                            VALUES (:loan_id, :seq, :payment_id, :late_fee, :fee, :interest, :principal, :settled_on)""",
    "insert_late_fee": """INSERT INTO late_fees (loan_id, seq, assessed_on, amount_minor)
                          VALUES (:loan_id, :seq, :assessed_on, :amount_minor)""",
    "insert_entry": """INSERT INTO journal_entries (occurred_on, kind, loan_id, reference)
                       VALUES (:occurred_on, :kind, :loan_id, :reference) RETURNING entry_id""",
    "insert_posting": """INSERT INTO postings (entry_id, account_code, loan_id, amount_minor)
                         VALUES (:entry_id, :account_code, :loan_id, :amount_minor)""",
    "insert_payment": """INSERT INTO payments (payment_id, idempotency_key, request_sha256, loan_id, paid_on, currency,
                         amount_minor, late_fee_minor, fee_minor, interest_minor, principal_minor,
                         prepaid_interest_minor, prepaid_principal_minor, recovery, settled, entry_id)
                         VALUES (:payment_id, :idempotency_key, :request_sha256, :loan_id, :paid_on, :currency,
                         :amount_minor, :late_fee_minor, :fee_minor, :interest_minor, :principal_minor,
                         :prepaid_interest_minor, :prepaid_principal_minor, :recovery, :settled, :entry_id)""",
    "settle_loan": "UPDATE loans SET status = 'settled' WHERE loan_id = :loan_id",
    # PostgreSQL only: entry, postings and payment in one statement (one round trip instead of three)
    "book_payment": """WITH e AS (
                           INSERT INTO journal_entries (occurred_on, kind, loan_id, reference)
                           VALUES (:paid_on, :kind, :loan_id, :payment_id) RETURNING entry_id),
                       lines AS (
                           INSERT INTO postings (entry_id, account_code, loan_id, amount_minor)
                           SELECT e.entry_id, x.account_code, :loan_id, x.amount_minor
                           FROM e, unnest(CAST(:accounts AS VARCHAR[]), CAST(:amounts AS BIGINT[])) AS x(account_code, amount_minor))
                       INSERT INTO payments (payment_id, idempotency_key, request_sha256, loan_id, paid_on, currency,
                           amount_minor, late_fee_minor, fee_minor, interest_minor, principal_minor,
                           prepaid_interest_minor, prepaid_principal_minor, recovery, settled, entry_id)
                       SELECT :payment_id, :idempotency_key, :request_sha256, :loan_id, :paid_on, :currency,
                           :amount_minor, :late_fee_minor, :fee_minor, :interest_minor, :principal_minor,
                           :prepaid_interest_minor, :prepaid_principal_minor, :recovery, :settled, e.entry_id FROM e""",
}
#: The columns each SELECT returns, so rows are named without asking the driver to describe them.
_COLUMNS = {
    name: tuple(
        column.split()[-1].split(".")[-1]
        for column in " ".join(text.split()).split("SELECT ", 1)[1].split(" FROM ", 1)[0].split(", ")
    )
    for name, text in _TEXT.items()
    if text.lstrip().startswith("SELECT") and name != "installments"
}
_COLUMNS["installments"] = tuple(column.name for column in installment_balances.columns)
_COLUMNS["insert_entry"] = ("entry_id",)
_NAMED = re.compile(r"(?<!:):(\w+)")


@cache
def statement(name: str, dialect: str, *, for_update: bool = False) -> str:
    """The statement in the driver's parameter style: ``%(name)s`` for psycopg, ``:name`` for sqlite3."""
    sql = " ".join(_TEXT[name].split())
    if for_update and dialect == "postgresql":
        sql += " FOR UPDATE OF l"
    return _NAMED.sub(r"%(\1)s", sql) if dialect == "postgresql" else sql


def run(conn: Connection, name: str, params, *, for_update: bool = False) -> list:
    """Execute one named statement on the transaction's own DBAPI connection; rows as named tuples.

    ``params`` is a dict, or a list of dicts to run the statement once per row.
    """
    return batch(conn, [(name, params, for_update)])[0]


def batch(conn: Connection, calls: Sequence[tuple]) -> list[list]:
    """Run ``(name, params[, for_update])`` statements in order; each one's rows as in :func:`run`.

    On PostgreSQL they go in one round trip (a psycopg pipeline: the server still runs them one
    after the other, in this transaction); on SQLite, which has no round trips, one by one.
    """
    dialect = conn.dialect.name
    dbapi = conn.connection.dbapi_connection
    cursors = []
    try:
        with dbapi.pipeline() if dialect == "postgresql" and len(calls) > 1 else nullcontext():
            for name, params, *for_update in calls:
                if dialect == "sqlite":  # sqlite3 stores dates as ISO text, as SQLAlchemy's Date type does
                    params = [_iso(p) for p in params] if isinstance(params, list) else _iso(params)
                sql = statement(name, dialect, for_update=bool(for_update and for_update[0]))
                cursor = dbapi.cursor()
                cursors.append(cursor)
                if isinstance(params, list):
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, params)
        return [
            _rows(name, cursor) if not isinstance(params, list) else []
            for (name, params, *_), cursor in zip(calls, cursors)
        ]
    finally:
        for cursor in cursors:
            cursor.close()


def _rows(name: str, cursor) -> list:
    if name not in _COLUMNS:
        return []
    row_type = _row_type(name, _COLUMNS[name])
    return [row_type(*row) for row in cursor.fetchall()]


def one(conn: Connection, name: str, params: dict, *, for_update: bool = False):
    """The single row a statement returns, or None."""
    rows = run(conn, name, params, for_update=for_update)
    return rows[0] if rows else None


@cache
def _row_type(name: str, columns: tuple[str, ...]):
    return namedtuple(f"{name}_row", columns)


def as_date(value) -> date | None:
    """A date column as read back by the driver (text on SQLite)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _iso(params: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in params.items()}


#: psycopg's ``TransactionStatus.IDLE``: no transaction open on the connection.
IDLE = 0


def call_alone(engine: Engine, sql: str, params: tuple):
    """The one row of one statement run as its own transaction (autocommit) on a pooled connection of
    ``engine``: a single round trip, no BEGIN and no COMMIT. The driver's errors come out as SQLAlchemy's
    (``sqlalchemy.exc.IntegrityError``, ``OperationalError``...), as through a Connection, and a connection
    the server dropped leaves the pool."""
    fairy = engine.raw_connection()
    try:
        dbapi = fairy.driver_connection
        if (
            dbapi.info.transaction_status != IDLE
        ):  # a read's transaction, left open (pool_reset_on_return=None)
            dbapi.rollback()
        dbapi.autocommit = True
        try:
            with dbapi.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()
        finally:
            if not dbapi.closed:
                dbapi.autocommit = False
    except engine.dialect.loaded_dbapi.Error as error:
        if engine.dialect.is_disconnect(error, fairy, None):
            fairy.invalidate(error)
        raise DBAPIError.instance(sql, params, error, engine.dialect.loaded_dbapi.Error) from error
    finally:
        fairy.close()


def call(conn: Connection, sql: str, params: tuple):
    """The one row of one statement (in the driver's parameter style), in the caller's transaction."""
    return conn.exec_driver_sql(sql, params).one()
