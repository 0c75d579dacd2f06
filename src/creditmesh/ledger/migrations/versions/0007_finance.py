"""The accounts finance books into: the loss allowance, the contingent guarantee liability, the ABS and trust
funding of the on-balance book, and their expenses (provisions, funding costs, servicing expenses).

Postings name their account through a CHECK against the chart (migration 0002); this revision widens it
to the chart below and adds the new accounts' rows.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: The accounts this revision adds: (code, name, kind), as journal.CHART names them.
NEW_ACCOUNTS = (
    ("1190", "allowance for credit losses on loans receivable", "asset"),
    ("2150", "guarantee liabilities, contingent (expected loss)", "liability"),
    ("2200", "funding from ABS and trusts", "liability"),
    ("5300", "provision for contingent liabilities", "expense"),
    ("5400", "funding costs", "expense"),
    ("5500", "facilitation, origination and servicing expenses", "expense"),
    ("5600", "provision for loans receivable", "expense"),
)
#: The chart before this revision (migration 0002's, and 0006's collection fees).
PREVIOUS_CODES = (
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
    "5200",
)
#: The chart of accounts as of this revision (journal.CHART); a new account comes with a new revision.
CHART_CODES = tuple(sorted(PREVIOUS_CODES + tuple(code for code, _, _ in NEW_ACCOUNTS)))


def _check(codes: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{code}'" for code in codes)
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_postings_account_in_chart"), type_="check")
        batch_op.create_check_constraint(op.f("ck_postings_account_in_chart"), f"account_code IN ({listed})")


def upgrade() -> None:
    accounts = sa.table(
        "accounts",
        sa.column("account_code", sa.String),
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
    )
    op.bulk_insert(accounts, [{"account_code": c, "name": n, "kind": k} for c, n, k in NEW_ACCOUNTS])
    _check(CHART_CODES)


def downgrade() -> None:
    _check(PREVIOUS_CODES)
    codes = ", ".join(f"'{code}'" for code, _, _ in NEW_ACCOUNTS)
    op.execute(f"DELETE FROM accounts WHERE account_code IN ({codes})")
