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
