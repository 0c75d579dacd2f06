"""Allocations and late fees are appended, and an installment's paid amounts are their fold.

A payment no longer updates the installments it pays: each (payment, installment) it pays is a row of
``allocations`` (its late fee, fee, interest and principal, and the day when it settles the installment);
aging appends the late fees it assesses to ``late_fees`` (an early settlement appends the waiver, a negative
amount). ``installments`` keeps the schedule (what is due, which a re-cast may rewrite), and the view
``installment_balances`` folds the three into the columns the table had. Appending a million narrow rows is
what made the bulk path fast: updating a million installments rewrote most of their pages and index.

What was paid and assessed before this revision moves into the new tables: one allocation per installment
with anything paid (payment id ``before-0008``), one late fee per installment charged one (assessed on the
loan's last aging day, the day it is known to have been assessed by). Downgrading folds them back.

Revision ID: 0008
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from creditmesh.ledger.migrations.history import INSTALLMENT_BALANCES_SQL

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

#: The payment id of the allocations that carry over what installments showed as paid before this revision.
CARRIED_OVER = "before-0008"
_FOLDED = (
    "late_fee_due_minor",
    "principal_paid_minor",
    "interest_paid_minor",
    "fee_paid_minor",
    "late_fee_paid_minor",
)
_PAID_WITHIN_DUE = (
    "principal_paid_minor BETWEEN 0 AND principal_due_minor AND interest_paid_minor BETWEEN 0 AND interest_due_minor"
    " AND fee_paid_minor BETWEEN 0 AND fee_due_minor AND late_fee_paid_minor BETWEEN 0 AND late_fee_due_minor"
)


def upgrade() -> None:
    op.create_table(
        "allocations",
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("late_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("settled_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "late_fee_minor >= 0 AND fee_minor >= 0 AND interest_minor >= 0 AND principal_minor >= 0",
            name=op.f("ck_allocations_amounts"),
        ),
        sa.PrimaryKeyConstraint("loan_id", "seq", "payment_id", name=op.f("pk_allocations")),
    )
    op.create_table(
        "late_fees",
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor <> 0", name=op.f("ck_late_fees_nonzero")),
        sa.PrimaryKeyConstraint("loan_id", "seq", "assessed_on", name=op.f("pk_late_fees")),
    )
    op.execute(
        f"""
        INSERT INTO allocations (loan_id, seq, payment_id, late_fee_minor, fee_minor, interest_minor,
                                 principal_minor, settled_on)
        SELECT loan_id, seq, '{CARRIED_OVER}', late_fee_paid_minor, fee_paid_minor, interest_paid_minor,
               principal_paid_minor, paid_on
        FROM installments
        WHERE late_fee_paid_minor + fee_paid_minor + interest_paid_minor + principal_paid_minor > 0
           OR paid_on IS NOT NULL"""
    )
    op.execute(
        """
        INSERT INTO late_fees (loan_id, seq, assessed_on, amount_minor)
        SELECT i.loan_id, i.seq, COALESCE(l.aged_on, i.due_date), i.late_fee_due_minor
        FROM installments AS i JOIN loans AS l ON l.loan_id = i.loan_id
        WHERE i.late_fee_due_minor <> 0"""
    )
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_installments_paid_within_due"), type_="check")
        for column in (*_FOLDED, "paid_on"):
            batch_op.drop_column(column)
    op.execute(f"CREATE VIEW installment_balances AS {INSTALLMENT_BALANCES_SQL}")


def downgrade() -> None:
    op.execute("DROP VIEW installment_balances")
    with op.batch_alter_table("installments", schema=None) as batch_op:
        for column in _FOLDED:
            batch_op.add_column(sa.Column(column, sa.BigInteger(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("paid_on", sa.Date(), nullable=True))
    # the folds, written back (correlated, so that the same text runs on both engines)
    paid = {
        "late_fee_paid_minor": "late_fee_minor",
        "fee_paid_minor": "fee_minor",
        "interest_paid_minor": "interest_minor",
        "principal_paid_minor": "principal_minor",
    }
    same = "a.loan_id = installments.loan_id AND a.seq = installments.seq"
    sets = [
        f"{column} = COALESCE((SELECT SUM(a.{part}) FROM allocations AS a WHERE {same}), 0)"
        for column, part in paid.items()
    ]
    sets.append(f"paid_on = (SELECT MAX(a.settled_on) FROM allocations AS a WHERE {same})")
    sets.append(
        "late_fee_due_minor = COALESCE((SELECT SUM(f.amount_minor) FROM late_fees AS f"
        " WHERE f.loan_id = installments.loan_id AND f.seq = installments.seq), 0)"
    )
    op.execute(f"UPDATE installments SET {', '.join(sets)}")
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_installments_paid_within_due"), _PAID_WITHIN_DUE)
    op.drop_table("late_fees")
    op.drop_table("allocations")
