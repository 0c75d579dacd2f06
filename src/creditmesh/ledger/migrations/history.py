"""What several revisions share: the chart of accounts as each revision left it, and the postings' CHECK.

A revision is a record of the past, so the charts here never change; a new account comes with a new
revision, which names the chart it leaves (``CHART_<revision>``) and calls :func:`replace_chart_check`.
"""

from alembic import op

#: The chart of accounts as revision 0002 left it (journal.CHART at the time).
CHART_0002 = (
    "1000",
    "1100",
    "1150",
    "1200",
    "1300",
    "2000",
    "2100",
    "3000",
    "4000",
    "4100",
    "4200",
    "4300",
    "4400",
    "4500",
    "4600",
    "5000",
    "5100",
)
#: Revision 0006 adds collection fees (5200).
CHART_0006 = (*CHART_0002, "5200")

_PAID_COLUMNS = """CAST(SUM(late_fee_minor) AS BIGINT) AS late_fee_paid_minor, CAST(SUM(fee_minor) AS BIGINT) AS fee_paid_minor,
                   CAST(SUM(interest_minor) AS BIGINT) AS interest_paid_minor,
                   CAST(SUM(principal_minor) AS BIGINT) AS principal_paid_minor, MAX(settled_on) AS paid_on"""
_LATE_FEE_DUE = "CAST(SUM(amount_minor) AS BIGINT) AS late_fee_due_minor"
#: The view ``installment_balances`` as revision 0008 creates it (a frozen copy of
#: creditmesh.ledger.tables.INSTALLMENT_BALANCES_SQL); 0009 drops and creates it again around its type changes.
INSTALLMENT_BALANCES_SQL = f"""
SELECT i.loan_id, i.seq, i.due_date, i.principal_due_minor, i.interest_due_minor, i.fee_due_minor,
       COALESCE(f.late_fee_due_minor, 0) AS late_fee_due_minor,
       COALESCE(a.principal_paid_minor, 0) AS principal_paid_minor,
       COALESCE(a.interest_paid_minor, 0) AS interest_paid_minor,
       COALESCE(a.fee_paid_minor, 0) AS fee_paid_minor,
       COALESCE(a.late_fee_paid_minor, 0) AS late_fee_paid_minor,
       a.paid_on, i.accrued_from
FROM installments AS i
LEFT JOIN (SELECT loan_id, seq, {_PAID_COLUMNS} FROM allocations GROUP BY loan_id, seq) AS a
       ON a.loan_id = i.loan_id AND a.seq = i.seq
LEFT JOIN (SELECT loan_id, seq, {_LATE_FEE_DUE} FROM late_fees GROUP BY loan_id, seq) AS f
       ON f.loan_id = i.loan_id AND f.seq = i.seq"""


def sql_list(values) -> str:
    """``'a', 'b'``: the body of an SQL ``IN (...)`` over fixed literals."""
    return ", ".join(f"'{value}'" for value in values)


def chart_check(codes) -> str:
    """The CHECK that postings name an account of the chart ``codes``."""
    return f"account_code IN ({sql_list(codes)})"


def replace_chart_check(codes) -> None:
    """Drop the postings' chart CHECK and create it again over ``codes`` (batch mode, so SQLite too)."""
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_postings_account_in_chart"), type_="check")
        batch_op.create_check_constraint(op.f("ck_postings_account_in_chart"), chart_check(codes))
