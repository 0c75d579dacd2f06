"""One payment in one server-side call on PostgreSQL: the function ``ledger_post_payment`` (migration 0009).

A payment on the one-by-one path is a handful of statements around a Python waterfall; the client's Python
cost more than the server's work (benchmarks/ledger_post.py). The function does, inside the server, what
that path does for the common payment, one that pays no more than is due on an active loan: it locks the
loan, answers a replay of the idempotency key, allocates the payment by the set-based waterfall of
:func:`~creditmesh.ledger.waterfall_sql.lines_sql` (the text the bulk path runs: one definition of the
waterfall in SQL, held equal to the Python one by ``tests/ledger/test_bulk_equals_one_by_one.py``), and
appends the allocations, the journal entry (:func:`~creditmesh.ledger.waterfall_sql.payment_lines`), the
payment and the loan's settlement. Anything else (a refusal, a prepayment with its re-cast, a recovery, the
last principal paid with fees still to come) it declines, writing nothing, and the store books it by the
Python path, which also words every refusal. So its payments are exactly those the bulk path posts
set-based, and it books them as the Python path would: the same rows, the same journal lines.

Each statement of a PL/pgSQL function reads a fresh snapshot (READ COMMITTED), so the allocations it folds
are read after the loan's lock is held, as the Python path reads them. The function's text is rendered from
the code (the waterfall, the chart's accounts); a change to either needs a revision that installs it again,
and ``tests/ledger/test_serverside.py`` fails until there is one.
"""

from __future__ import annotations

from creditmesh.ledger import journal
from creditmesh.ledger.waterfall import COMPONENTS
from creditmesh.ledger.waterfall_sql import FENCES, lines_sql, payment_lines

NAME = "ledger_post_payment"
#: The function's arguments, in the order the store passes them.
ARGUMENTS = (
    ("p_loan_id", "VARCHAR"),
    ("p_amount", "BIGINT"),
    ("p_paid_on", "DATE"),
    ("p_key", "VARCHAR"),
    ("p_currency", "VARCHAR"),
    ("p_request_sha256", "VARCHAR"),
    ("p_payment_id", "VARCHAR"),
    ("p_business_date", "DATE"),
)
#: What it returns: one row, ``outcome`` ``posted``, ``replayed`` (the payment booked under the key before,
#: whichever its body) or ``declined`` (nothing written; the other columns NULL), and the payment's columns.
RESULT = (
    ("outcome", "VARCHAR"),
    ("payment_id", "VARCHAR"),
    ("loan_id", "VARCHAR"),
    ("amount_minor", "BIGINT"),
    ("late_fee_minor", "BIGINT"),
    ("fee_minor", "BIGINT"),
    ("interest_minor", "BIGINT"),
    ("principal_minor", "BIGINT"),
    ("prepaid_interest_minor", "BIGINT"),
    ("prepaid_principal_minor", "BIGINT"),
    ("settled", "BOOLEAN"),
    ("recovery", "BOOLEAN"),
    ("request_sha256", "VARCHAR"),
)
#: The call, in psycopg's parameter style.
CALL = f"SELECT * FROM {NAME}({', '.join('%s' for _ in ARGUMENTS)})"
#: The signature DROP FUNCTION names.
SIGNATURE = f"{NAME}({', '.join(kind for _, kind in ARGUMENTS)})"


def _declined() -> str:
    nulls = ", ".join(f"CAST(NULL AS {kind})" for _, kind in RESULT[1:])
    return f"RETURN QUERY SELECT CAST('declined' AS VARCHAR), {nulls}; RETURN;"


def function_sql() -> str:
    """``CREATE OR REPLACE FUNCTION ledger_post_payment(...)``, rendered from the waterfall and the chart."""
    sums = ", ".join(f"CAST(SUM(a.{part}_minor) AS BIGINT) AS {part}" for part in COMPONENTS)
    lines = lines_sql(
        payments="(SELECT 1 AS row_number, p_loan_id AS loan_id, p_paid_on AS paid_on, p_amount AS amount_minor) v",
        paid="paid p",
        late="late f",
        where="TRUE",
        fence=FENCES["postgresql"],
    )
    paid = {part: f"t.{part}" for part in COMPONENTS}
    journal_lines = [(f"'{journal.CASH}'", "p_amount"), *payment_lines("loan.funding_model", paid)]
    numbered = ", ".join(f"({k}, {account}, {amount})" for k, (account, amount) in enumerate(journal_lines))
    totals = ", ".join(f"COALESCE(CAST(SUM(x.{part}) AS BIGINT), 0) AS {part}" for part in COMPONENTS)
    payment_columns = ", ".join(f"{part}_minor" for part in COMPONENTS)
    returned = ", ".join(f"p.{name}" for name, _ in RESULT[1:])
    return f"""
CREATE OR REPLACE FUNCTION {NAME}({", ".join(f"{name} {kind}" for name, kind in ARGUMENTS)})
RETURNS TABLE ({", ".join(f"{name} {kind}" for name, kind in RESULT)})
LANGUAGE plpgsql VOLATILE AS $function$
#variable_conflict use_column
DECLARE
    loan RECORD;
    done RECORD;
BEGIN
    SELECT l.currency, l.originated_on, l.status, l.funding_model, l.tenor_months, l.principal_minor
      INTO loan FROM loans l WHERE l.loan_id = p_loan_id FOR UPDATE;
    IF NOT FOUND THEN
        {_declined()}
    END IF;
    RETURN QUERY SELECT CAST('replayed' AS VARCHAR), {returned} FROM payments p WHERE p.idempotency_key = p_key;
    IF FOUND THEN
        RETURN;
    END IF;
    IF loan.status <> 'active' OR loan.currency <> p_currency OR p_paid_on < loan.originated_on
       OR p_paid_on > p_business_date THEN
        {_declined()}
    END IF;
    WITH paid AS MATERIALIZED (
        SELECT a.loan_id, a.seq, {sums}, MAX(a.settled_on) AS settled_on
        FROM allocations a WHERE a.loan_id = p_loan_id GROUP BY a.loan_id, a.seq),
    late AS MATERIALIZED (
        SELECT f.loan_id, f.seq, CAST(SUM(f.amount_minor) AS BIGINT) AS late_fee
        FROM late_fees f WHERE f.loan_id = p_loan_id GROUP BY f.loan_id, f.seq),
    lines AS MATERIALIZED ({lines}),
    before AS MATERIALIZED (
        SELECT COUNT(p.settled_on) AS settled, COALESCE(CAST(SUM(p.principal) AS BIGINT), 0) AS principal FROM paid p),
    sums AS MATERIALIZED (
        SELECT {totals}, COALESCE(MIN(x.within_due), 0) AS within_due,
               b.settled + COALESCE(SUM(x.settles), 0) = loan.tenor_months AS settles_loan,
               loan.principal_minor - b.principal - COALESCE(SUM(x.principal), 0) AS principal_left
        FROM lines x CROSS JOIN before b GROUP BY b.settled, b.principal),
    t AS MATERIALIZED (
        SELECT s.*, s.within_due = 1 AND (s.settles_loan OR s.principal_left > 0) AS posted FROM sums s),
    allocated AS (
        INSERT INTO allocations (loan_id, seq, payment_id, {payment_columns}, settled_on)
        SELECT p_loan_id, x.seq, p_payment_id, {", ".join(f"x.{part}" for part in COMPONENTS)},
               CASE WHEN x.settles = 1 THEN p_paid_on END
        FROM lines x CROSS JOIN t WHERE t.posted AND (x.pays = 1 OR x.settles = 1)
        ORDER BY x.seq),
    entry AS (
        INSERT INTO journal_entries (occurred_on, kind, loan_id, reference)
        SELECT p_paid_on, 'payment', p_loan_id, p_payment_id FROM t WHERE t.posted
        RETURNING entry_id),
    journalled AS (
        INSERT INTO postings (entry_id, account_code, loan_id, amount_minor)
        SELECT e.entry_id, j.account_code, p_loan_id, j.amount_minor
        FROM entry e CROSS JOIN t CROSS JOIN LATERAL (VALUES {numbered}) AS j(k, account_code, amount_minor)
        WHERE j.account_code IS NOT NULL AND j.amount_minor <> 0
        ORDER BY j.k),
    booked AS (
        INSERT INTO payments (payment_id, idempotency_key, request_sha256, loan_id, paid_on, currency, amount_minor,
                              {payment_columns}, prepaid_interest_minor, prepaid_principal_minor, recovery,
                              settled, entry_id)
        SELECT p_payment_id, p_key, p_request_sha256, p_loan_id, p_paid_on, p_currency, p_amount,
               {", ".join(f"t.{part}" for part in COMPONENTS)}, 0, 0, FALSE, t.settles_loan, e.entry_id
        FROM entry e CROSS JOIN t),
    settled AS (
        UPDATE loans SET status = 'settled' FROM t
        WHERE loans.loan_id = p_loan_id AND t.posted AND t.settles_loan)
    SELECT * INTO done FROM t;
    IF NOT FOUND THEN  -- nothing due: a prepayment
        {_declined()}
    END IF;
    IF NOT done.posted THEN
        {_declined()}
    END IF;
    RETURN QUERY SELECT CAST('posted' AS VARCHAR), p_payment_id, p_loan_id, p_amount,
        {", ".join(f"done.{part}" for part in COMPONENTS)}, CAST(0 AS BIGINT), CAST(0 AS BIGINT),
        done.settles_loan, FALSE, p_request_sha256;
END
$function$"""


def drop_sql() -> str:
    return f"DROP FUNCTION IF EXISTS {SIGNATURE}"
