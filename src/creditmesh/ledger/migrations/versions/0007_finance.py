"""The accounts finance books into: the loss allowance, the contingent guarantee liability, the ABS and trust
funding of the on-balance book, and their expenses (provisions, funding costs, servicing expenses).

Postings name their account through a CHECK against the chart (migration 0002); this revision widens it
to the chart below and adds the new accounts' rows.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from creditmesh.ledger.migrations.history import CHART_0006, replace_chart_check, sql_list

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
PREVIOUS_CODES = CHART_0006
#: The chart of accounts as of this revision (journal.CHART); a new account comes with a new revision.
CHART_CODES = tuple(sorted(PREVIOUS_CODES + tuple(code for code, _, _ in NEW_ACCOUNTS)))


def upgrade() -> None:
    accounts = sa.table(
        "accounts",
        sa.column("account_code", sa.String),
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
    )
    op.bulk_insert(accounts, [{"account_code": c, "name": n, "kind": k} for c, n, k in NEW_ACCOUNTS])
    replace_chart_check(CHART_CODES)


def downgrade() -> None:
    replace_chart_check(PREVIOUS_CODES)
    op.execute(f"DELETE FROM accounts WHERE account_code IN ({sql_list(c for c, _, _ in NEW_ACCOUNTS)})")
