"""Allow the funding model credit_insured in loans.funding_model.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BEFORE = ("capital_heavy_on", "capital_heavy_off", "capital_light", "ice", "tech_solution")
AFTER = (*BEFORE, "credit_insured")


def _allow(models: tuple[str, ...]) -> None:
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_loans_funding_model"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_loans_funding_model"), f"funding_model IN ({', '.join(repr(m) for m in models)})"
        )


def upgrade() -> None:
    _allow(AFTER)


def downgrade() -> None:
    _allow(BEFORE)
