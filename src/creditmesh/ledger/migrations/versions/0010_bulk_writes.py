"""Cheaper writes per payment: payments keyed by (loan, payment id), postings' entry index a BRIN; the payment function again.

``payments`` had three indexes: its primary key ``payment_id``, the unique ``idempotency_key`` and
``ix_payments_loan``. Nothing reads a payment by its id alone (the readers go by idempotency key, or by loan:
the API's and the collections desk's sums, ``Ledger.payments_of``, the last payment's day; the export reads the
whole table), so the primary key becomes ``(loan_id, payment_id)`` and serves the readers by loan, and
``ix_payments_loan`` goes. A payment id stays unique within its loan (the key the allocations carry with it,
``(loan_id, seq, payment_id)``); ids are random (``uuid4``, or a random 64-bit prefix per bulk batch), as before.
Measured with ``benchmarks/ledger_bulk.py``: writing index entries is what a posted payment costs most.

On PostgreSQL ``ix_postings_entry`` becomes a BRIN index (block ranges: the least and greatest entry id of every
128 pages, summarised as ranges fill). Entry ids come from a sequence and a journal entry's postings are written
together, so the ranges stay narrow; a btree took an entry for every posting, in the order of the entries
(interleaved over a bulk file's lines, one entry per business day), and cost the bulk path's postings about a
fifth of their time. Its one reader by entry, aging's check of the entry it has just written, reads a few
ranges (those not yet summarised, at the table's end, are read too). SQLite keeps the btree.

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
        op.drop_index("ix_postings_entry", table_name="postings")
        op.create_index(
            "ix_postings_entry",
            "postings",
            ["entry_id"],
            postgresql_using="brin",
            postgresql_with={"autosummarize": "on"},
        )
        op.execute(serverside.function_sql())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_postings_entry", table_name="postings")
        op.create_index("ix_postings_entry", "postings", ["entry_id"])
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint("pk_payments", type_="primary")
        batch_op.create_primary_key("pk_payments", ["payment_id"])
        batch_op.create_index("ix_payments_loan", ["loan_id"], unique=False)
