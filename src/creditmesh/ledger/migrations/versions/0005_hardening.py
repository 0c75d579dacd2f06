"""A write-off records its date: ``loans.written_off_on`` (set by ``Ledger.write_off``, checked against the
charge-off date and the business date).

Revision ID: 0005
Revises: 0007 (re-chained after the platform, collections and finance revisions)
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("written_off_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.drop_column("written_off_on")
