"""The ledger's first schema: accounts, credit lines, loans, installments, payments, journal, aging.

Revision ID: 0001
Revises:
"""

from alembic import op

from creditmesh.ledger.journal import CHART
from creditmesh.ledger.tables import accounts, metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    # The tables as declared in creditmesh.ledger.tables at this revision. A later revision
    # alters them with op.* calls, never by editing this one.
    metadata.create_all(bind)
    op.bulk_insert(accounts, [{"account_code": a.code, "name": a.name, "kind": a.kind} for a in CHART])


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
