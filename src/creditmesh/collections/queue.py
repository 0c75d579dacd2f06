"""The daily queue: every loan collections may act on today, with what it owes and what was done about it.

One set-based statement over the ledger (SQLite or PostgreSQL, the same text but for date
arithmetic), whatever the number of loans: each delinquent or charged-off loan, and each current
loan with an installment due within the strategy's reminder window, with its days past due,
bucket, amounts overdue, balance, promises kept and broken, contacts in the last 30 days, the
borrower's contacts today, and whether a dispute is open or an agency holds it.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from creditmesh import delinquency
from creditmesh.collections.strategy import CONTACT_CHANNELS
from creditmesh.delinquency import days_between_sql

#: Contacts counted in a loan's recent history.
CONTACT_WINDOW_DAYS = 30
#: Days since the last contact when there was none.
NO_CONTACT_DAYS = 999

QUEUE_COLUMNS = (
    "loan_id",
    "borrower_id",
    "funding_model",
    "charged_off",
    "dpd",
    "days_to_due",
    "balance_minor",
    "overdue_principal_minor",
    "overdue_minor",
    "due_soon_principal_minor",
    "broken_promises",
    "kept_promises",
    "open_promise_minor",
    "contacts_30d",
    "days_since_contact",
    "contacts_today",
    "disputed",
    "with_agency",
)


def _days(conn: Connection, later: str, earlier: str) -> str:
    return days_between_sql(later, earlier, conn.dialect.name)


def _queue_sql(conn: Connection) -> str:
    contact = ", ".join(f"'{c}'" for c in CONTACT_CHANNELS)
    unpaid = "i.due_date < :as_of"  # among the installments not paid in full (a settled one owes nothing)
    return f"""
    WITH unpaid AS (
        SELECT i.loan_id,
               SUM(i.principal_due_minor - i.principal_paid_minor) AS balance,
               SUM(CASE WHEN {unpaid} THEN i.principal_due_minor - i.principal_paid_minor ELSE 0 END) AS overdue_p,
               SUM(CASE WHEN {unpaid} THEN i.principal_due_minor - i.principal_paid_minor
                        + i.interest_due_minor - i.interest_paid_minor + i.fee_due_minor - i.fee_paid_minor
                        + i.late_fee_due_minor - i.late_fee_paid_minor ELSE 0 END) AS overdue_all,
               SUM(CASE WHEN i.due_date >= :as_of AND i.due_date <= :reminder_until
                        THEN i.principal_due_minor - i.principal_paid_minor ELSE 0 END) AS due_soon,
               MIN(CASE WHEN {unpaid} THEN i.due_date END) AS oldest_unpaid,
               MIN(CASE WHEN i.due_date >= :as_of THEN i.due_date END) AS next_due
        FROM installment_balances AS i
        WHERE i.paid_on IS NULL
        GROUP BY i.loan_id
    ),
    owed AS (
        SELECT u.*, l.borrower_id, l.funding_model, l.status
        FROM unpaid AS u JOIN loans AS l ON l.loan_id = u.loan_id
        WHERE l.status IN ('active', 'charged_off') AND l.originated_on <= :as_of
    ),
    acts AS (
        SELECT loan_id,
               SUM(CASE WHEN local_day >= :since AND local_day <= :as_of AND channel IN ({contact})
                        THEN 1 ELSE 0 END) AS contacts_30d,
               MAX(CASE WHEN channel IN ({contact}) AND local_day <= :as_of THEN local_day END) AS last_contact,
               SUM(CASE WHEN promise_status = 'broken' THEN 1 ELSE 0 END) AS broken,
               SUM(CASE WHEN promise_status = 'kept' THEN 1 ELSE 0 END) AS kept,
               SUM(CASE WHEN promise_status = 'open' THEN promised_minor ELSE 0 END) AS open_promise,
               MAX(CASE WHEN outcome = 'dispute' THEN at END) AS disputed_at,
               MAX(CASE WHEN outcome = 'dispute_resolved' THEN at END) AS resolved_at,
               MAX(CASE WHEN channel = 'agency' THEN 1 ELSE 0 END) AS with_agency
        FROM collection_actions GROUP BY loan_id
    ),
    today AS (
        SELECT borrower_id, COUNT(*) AS contacts_today FROM collection_actions
        WHERE local_day = :as_of AND channel IN ({contact}) GROUP BY borrower_id
    )
    SELECT o.loan_id, o.borrower_id, o.funding_model,
           CASE WHEN o.status = 'charged_off' THEN 1 ELSE 0 END AS charged_off,
           CASE WHEN o.oldest_unpaid IS NULL THEN 0 ELSE {_days(conn, ":as_of", "o.oldest_unpaid")} END AS dpd,
           CASE WHEN o.next_due IS NULL THEN -1 ELSE {_days(conn, "o.next_due", ":as_of")} END AS days_to_due,
           CAST(o.balance AS BIGINT), CAST(o.overdue_p AS BIGINT), CAST(o.overdue_all AS BIGINT),
           CAST(o.due_soon AS BIGINT),
           COALESCE(a.broken, 0), COALESCE(a.kept, 0), CAST(COALESCE(a.open_promise, 0) AS BIGINT),
           COALESCE(a.contacts_30d, 0),
           CASE WHEN a.last_contact IS NULL THEN {NO_CONTACT_DAYS}
                ELSE {_days(conn, ":as_of", "a.last_contact")} END AS days_since_contact,
           COALESCE(t.contacts_today, 0),
           CASE WHEN a.disputed_at IS NOT NULL AND (a.resolved_at IS NULL OR a.resolved_at < a.disputed_at)
                THEN 1 ELSE 0 END AS disputed,
           COALESCE(a.with_agency, 0)
    FROM owed AS o
    LEFT JOIN acts AS a ON a.loan_id = o.loan_id
    LEFT JOIN today AS t ON t.borrower_id = o.borrower_id
    WHERE o.oldest_unpaid IS NOT NULL OR o.status = 'charged_off' OR o.next_due <= :reminder_until
    """


def bucket_of(dpd: np.ndarray, charged_off: np.ndarray) -> np.ndarray:
    """Each loan's bucket (:data:`BUCKETS`): delinquency's buckets, ``pre_due`` for a current loan in the
    queue (it is there for its reminder), charged off once the ledger charged it off."""
    names = delinquency.bucket(np.asarray(dpd))
    names[names == "current"] = "pre_due"
    names[np.asarray(charged_off, bool)] = "charged_off"
    return names


def build_queue(conn: Connection, as_of: date, *, reminder_days_before_due: int = 3) -> pd.DataFrame:
    """Today's queue from the ledger inside the caller's transaction: one row a loan, :data:`QUEUE_COLUMNS`
    and its ``bucket``, ordered by loan id (sorted here: the database need not sort a million rows)."""
    params = {
        "as_of": as_of,
        "since": as_of - timedelta(days=CONTACT_WINDOW_DAYS - 1),
        "reminder_until": as_of + timedelta(days=reminder_days_before_due),
    }
    rows = conn.execute(text(_queue_sql(conn)), params).fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in QUEUE_COLUMNS]
    frame = pd.DataFrame(
        {
            name: np.array(values, dtype=object if k < 3 else np.int64)
            for k, (name, values) in enumerate(zip(QUEUE_COLUMNS, columns, strict=True))
        }
    )
    return finish_queue(frame.sort_values("loan_id", kind="stable", ignore_index=True))


def finish_queue(frame: pd.DataFrame | dict[str, np.ndarray]) -> pd.DataFrame:
    """The queue's columns in their types, its ``bucket`` and ``at_stake_minor`` (the principal overdue or
    due within the reminder window: what the 30-day collection rate counts), also for a queue built
    outside SQL (a frame, or a mapping of column arrays; other columns are kept as they are)."""
    columns = {
        name: np.asarray(frame[name])
        for name in (frame.columns if isinstance(frame, pd.DataFrame) else frame)
    }
    size = len(columns["loan_id"])
    for name in QUEUE_COLUMNS[3:]:
        columns[name] = columns[name].astype(np.int64) if size else np.zeros(0, np.int64)
    for name in ("charged_off", "disputed", "with_agency"):
        columns[name] = columns[name].astype(bool)
    columns["bucket"] = bucket_of(columns["dpd"], columns["charged_off"])
    columns["at_stake_minor"] = columns["overdue_principal_minor"] + columns["due_soon_principal_minor"]
    return pd.DataFrame(columns)
