"""Payments are keyed by (loan, payment id), one index fewer for every payment written; the payment function again.

``payments`` had three indexes: its primary key ``payment_id``, the unique ``idempotency_key`` and
``ix_payments_loan``. Nothing reads a payment by its id alone (the readers go by idempotency key, or by loan:
the API's and the collections desk's sums, ``Ledger.payments_of``, the last payment's day; the export reads the
whole table), so the primary key becomes ``(loan_id, payment_id)`` and serves the readers by loan, and
``ix_payments_loan`` goes. A payment id stays unique within its loan (the key the allocations carry with it,
``(loan_id, seq, payment_id)``); ids are random (``uuid4``, or a random 64-bit prefix per bulk batch), as before.
Measured with ``benchmarks/ledger_bulk.py``: writing index entries is what a posted payment costs most.

On PostgreSQL the server-side payment function ``ledger_post_payment`` is installed again: the waterfall's SQL
(:func:`creditmesh.ledger.waterfall_sql.lines_sql`) computes each line's split once (a line settles its
installment when every component takes all it owes; the same test as before, on the split instead of a second
clamp of the same amounts). The downgrade leaves it installed: it books exactly what 0009's text booked.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

from creditmesh.ledger import serverside

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_loan")
        batch_op.drop_constraint("pk_payments", type_="primary")
        batch_op.create_primary_key("pk_payments", ["loan_id", "payment_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(serverside.function_sql())


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint("pk_payments", type_="primary")
        batch_op.create_primary_key("pk_payments", ["payment_id"])
        batch_op.create_index("ix_payments_loan", ["loan_id"], unique=False)
