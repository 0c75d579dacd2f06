"""Month-end aging: days past due, buckets, late fees and charge-offs for every loan in set-based SQL.

One transaction, a handful of statements whatever the number of loans (no
Python loop per loan), the same text on SQLite and PostgreSQL except for date
arithmetic. Aging the same day twice gives the same result: ``loan_days`` rows
for that day are replaced, and nothing already assessed is assessed again.

Days past due count from the oldest installment still unpaid whose due date is
before the aging day; dpd, buckets and the charge-off day (181 dpd, and the loan
stays charged off) are :mod:`creditmesh.delinquency`'s. Every move between
buckets is kept in ``bucket_moves``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, insert, text

from creditmesh import delinquency
from creditmesh.funding import GUARANTEED_MODELS, ON_BALANCE_MODELS, sql_in
from creditmesh.ledger import journal
from creditmesh.ledger.bulk import batch_settings
from creditmesh.ledger.tables import journal_entries

#: A flat late fee charged once on each installment still unpaid this many days after its due date.
LATE_FEE_GRACE_DAYS = 3
LATE_FEE_MINOR = 20_00


@dataclass(frozen=True, slots=True)
class AgingReport:
    as_of: date
    loans_aged: int
    bucket_moves: int
    late_fees_assessed: int
    charged_off: int


def age(conn: Connection, as_of: date, *, late_fee_minor: int = LATE_FEE_MINOR) -> AgingReport:
    """Age every active or charged-off loan to ``as_of`` inside the caller's transaction.

    One pass over the installments gives each loan's state (``aging_state``: dpd, bucket, and what it
    still owes in late fees and fees, which a charge-off needs); late fees are then assessed and journalled,
    charge-offs journalled from that state, and each loan row is written once (dpd, bucket, and status).
    """
    params = {"as_of": as_of}
    batch_settings(conn)
    conn.execute(text("DROP TABLE IF EXISTS aging_state"))
    conn.execute(
        text(f"""
        CREATE TEMP TABLE aging_state AS
        SELECT loan_id, funding_model, status, old_bucket, outstanding, overdue, late_fees_open, fees_open, dpd,
               {delinquency.bucket_sql("dpd", charged_off="status = 'charged_off'")} AS bucket
        FROM (
            SELECT loan_id, funding_model, status, old_bucket, outstanding, overdue, late_fees_open, fees_open,
                   {delinquency.dpd_sql("oldest_unpaid", ":as_of", conn.dialect.name)} AS dpd
            FROM (
                SELECT l.loan_id, l.funding_model, l.status, l.bucket AS old_bucket,
                       CAST(SUM(i.principal_due_minor - i.principal_paid_minor) AS BIGINT) AS outstanding,
                       CAST(SUM(CASE WHEN i.paid_on IS NULL AND i.due_date < :as_of
                                     THEN i.principal_due_minor - i.principal_paid_minor ELSE 0 END) AS BIGINT) AS overdue,
                       MIN(CASE WHEN i.paid_on IS NULL AND i.due_date < :as_of THEN i.due_date END) AS oldest_unpaid,
                       CAST(SUM(i.late_fee_due_minor - i.late_fee_paid_minor) AS BIGINT) AS late_fees_open,
                       CAST(SUM(i.fee_due_minor - i.fee_paid_minor) AS BIGINT) AS fees_open
                FROM loans AS l JOIN installment_balances AS i ON i.loan_id = l.loan_id
                WHERE l.status IN ('active', 'charged_off') AND l.originated_on <= :as_of
                GROUP BY l.loan_id, l.funding_model, l.status, l.bucket
            ) AS per_loan
        ) AS aged
    """),
        params,
    )
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE aging_state"))
    loans_aged = conn.execute(text("SELECT COUNT(*) FROM aging_state")).scalar_one()

    conn.execute(text("DELETE FROM loan_days WHERE as_of = :as_of"), params)
    conn.execute(
        text("""
        INSERT INTO loan_days (loan_id, as_of, outstanding_principal_minor, overdue_principal_minor, dpd, status)
        SELECT loan_id, :as_of, outstanding, overdue, dpd, bucket FROM aging_state
    """),
        params,
    )
    moves = conn.execute(
        text("""
        INSERT INTO bucket_moves (loan_id, moved_on, from_bucket, to_bucket, dpd)
        SELECT loan_id, :as_of, old_bucket, bucket, dpd FROM aging_state WHERE bucket <> old_bucket
    """),
        params,
    ).rowcount

    conn.execute(text("DROP TABLE IF EXISTS new_late_fee_rows"))
    conn.execute(text("DROP TABLE IF EXISTS new_late_fees"))
    fees = _assess_late_fees(conn, as_of, late_fee_minor) if late_fee_minor > 0 else 0
    charged = _charge_off(conn, as_of, late_fee_minor if fees else 0)
    # each aged loan's row written once: its dpd and bucket, and the charge-off of a loan that crossed 180 days
    crossed = f"s.status = 'active' AND {delinquency.charged_off_sql('s.dpd')}"
    conn.execute(
        text(f"""
        UPDATE loans SET dpd = s.dpd, bucket = s.bucket, aged_on = :as_of,
               status = CASE WHEN {crossed} THEN 'charged_off' ELSE loans.status END,
               charged_off_on = CASE WHEN {crossed} THEN :as_of
                                     ELSE loans.charged_off_on END
        FROM aging_state AS s WHERE loans.loan_id = s.loan_id
    """),
        params,
    )
    for table in ("aging_state", "new_late_fee_rows", "new_late_fees", "charge_offs"):
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    return AgingReport(as_of, int(loans_aged), int(moves or 0), fees, charged)


def _assess_late_fees(conn: Connection, as_of: date, fee: int) -> int:
    """Charge the flat fee once on every installment unpaid past its grace period (appended to ``late_fees``),
    and journal it.

    Leaves ``new_late_fees`` (loan, installments charged now) for the charge-off that follows. Only the
    active loans with an installment overdue past the grace period are looked at, installment by installment:
    those whose oldest unpaid installment (``aging_state``) is older than the cut-off."""
    cutoff = as_of - timedelta(days=LATE_FEE_GRACE_DAYS)
    params = {"cutoff": cutoff, "as_of": as_of, "fee": fee}
    conn.execute(
        text(f"""
        CREATE TEMP TABLE new_late_fee_rows AS
        SELECT i.loan_id, i.seq
        FROM aging_state AS s JOIN installments AS i ON i.loan_id = s.loan_id
        WHERE s.status = 'active' AND s.dpd > {LATE_FEE_GRACE_DAYS} AND i.due_date < :cutoff
          AND NOT EXISTS (SELECT 1 FROM allocations AS a
                          WHERE a.loan_id = i.loan_id AND a.seq = i.seq AND a.settled_on IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM late_fees AS f WHERE f.loan_id = i.loan_id AND f.seq = i.seq)
    """),
        params,
    )
    conn.execute(
        text("""
        CREATE TEMP TABLE new_late_fees AS
        SELECT loan_id, COUNT(*) AS installments FROM new_late_fee_rows GROUP BY loan_id
    """)
    )
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE new_late_fees"))
    count = conn.execute(text("SELECT COALESCE(SUM(installments), 0) FROM new_late_fees")).scalar_one()
    if count:
        conn.execute(
            text("""
            INSERT INTO late_fees (loan_id, seq, assessed_on, amount_minor)
            SELECT loan_id, seq, :as_of, :fee FROM new_late_fee_rows
        """),
            params,
        )
        entry_id = _new_entry(conn, "late_fees", as_of)
        # journal.entry_for_late_fee, per loan: debit the receivable, credit late fee income
        (debit, _), (credit, _) = journal.entry_for_late_fee(1)
        conn.execute(
            text("""
            INSERT INTO postings (entry_id, account_code, loan_id, amount_minor)
            SELECT :entry_id, :debit, loan_id, installments * :fee FROM new_late_fees
            UNION ALL
            SELECT :entry_id, :credit, loan_id, -installments * :fee FROM new_late_fees
        """),
            {"entry_id": entry_id, "debit": debit, "credit": credit, "fee": fee},
        )
    return int(count)


def _charge_off(conn: Connection, as_of: date, late_fee_minor: int) -> int:
    """Take loans at 181 dpd off the books; each funding model's loss lands where journal.py says.

    Set-based: the lines of :func:`journal.entry_for_charge_off`, written for every loan at once
    (``tests/ledger/test_aging.py`` holds the two equal for each funding model). What each loan owes comes
    from ``aging_state``, plus the late fees assessed a moment ago (``new_late_fees``, when any were);
    the loans' rows are marked charged off by the caller.
    """
    new_fees = (
        ("LEFT JOIN new_late_fees AS n ON n.loan_id = s.loan_id", "COALESCE(n.installments, 0) * :fee")
        if late_fee_minor
        else ("", "0")
    )
    conn.execute(text("DROP TABLE IF EXISTS charge_offs"))
    conn.execute(
        text(f"""
        CREATE TEMP TABLE charge_offs AS
        SELECT s.loan_id, s.funding_model, s.outstanding AS principal,
               s.late_fees_open + {new_fees[1]} AS late_fees, s.fees_open AS fees
        FROM aging_state AS s {new_fees[0]}
        WHERE s.status = 'active' AND {delinquency.charged_off_sql("s.dpd")}
    """),
        {"fee": late_fee_minor},
    )
    count = int(conn.execute(text("SELECT COUNT(*) FROM charge_offs")).scalar_one())
    if not count:
        conn.execute(text("DROP TABLE IF EXISTS charge_offs"))
        return 0
    entry_id = _new_entry(conn, "charge_off", as_of)
    on, off = sql_in("funding_model", ON_BALANCE_MODELS), sql_in("funding_model", GUARANTEED_MODELS)
    lines = [  # (account, amount, which loans): journal.entry_for_charge_off, line by line
        (journal.CREDIT_LOSSES, "late_fees", "TRUE"),
        (journal.LATE_FEES_RECEIVABLE, "-late_fees", "TRUE"),
        (journal.CREDIT_LOSSES, "principal", on),
        (journal.RECEIVABLE, "-principal", on),
        (journal.DUE_TO_PARTNERS, "principal", f"NOT ({on})"),
        (journal.SERVICED, "-principal", f"NOT ({on})"),
        (journal.GUARANTEE_PAYOUTS, "principal", off),
        (journal.CASH, "-principal", off),
        (journal.GUARANTEE_LIABILITY, "fees", off),
        (journal.GUARANTEE_FEES_RECEIVABLE, "-fees", off),
    ]
    selects = " UNION ALL ".join(
        f"SELECT '{account}' AS account_code, loan_id, {amount} AS amount_minor FROM charge_offs WHERE {which}"
        for account, amount, which in lines
    )
    conn.execute(
        text(f"""
        INSERT INTO postings (entry_id, account_code, loan_id, amount_minor)
        SELECT :entry_id, account_code, loan_id, amount_minor FROM ({selects}) AS lines WHERE amount_minor <> 0
    """),
        {"entry_id": entry_id},
    )
    off_by = conn.execute(
        text("SELECT COALESCE(SUM(amount_minor), 0) FROM postings WHERE entry_id = :entry_id"),
        {"entry_id": entry_id},
    ).scalar_one()
    if off_by:
        raise journal.LedgerInvariantError("journal", f"charge-off entry is off by {off_by}")
    return count


def _new_entry(conn: Connection, kind: str, on: date) -> int:
    return int(
        conn.execute(
            insert(journal_entries)
            .values(occurred_on=on, kind=kind, loan_id=None, reference=f"aging {on.isoformat()}")
            .returning(journal_entries.c.entry_id)
        ).scalar_one()
    )
