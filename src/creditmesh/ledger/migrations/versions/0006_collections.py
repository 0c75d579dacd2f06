"""Collections: the actions taken on delinquent loans (with promises to pay) and the agencies' fees account.

``collection_actions`` holds every contact, placement and promise (``creditmesh.collections``);
account 5200 (collection fees) joins the chart, and postings' CHECK is widened to it.

Revision ID: 0006
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from creditmesh.ledger.migrations.history import CHART_0002, CHART_0006, replace_chart_check, sql_list

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

#: The chart before and after this revision (journal.CHART).
CHART_CODES_BEFORE = CHART_0002
CHART_CODES = CHART_0006
CHANNELS = ("reminder", "sms", "app_push", "call", "field_visit", "agency", "legal")
OUTCOMES = (
    "sent",
    "no_answer",
    "contacted",
    "promise_to_pay",
    "paid",
    "refused",
    "dispute",
    "dispute_resolved",
    "placed",
)


def upgrade() -> None:
    op.create_table(
        "collection_actions",
        sa.Column("action_id", sa.String(length=40), nullable=False),
        sa.Column("loan_id", sa.String(length=40), nullable=False),
        sa.Column("borrower_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=12), server_default="borrower", nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("promised_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("promise_due_on", sa.Date(), nullable=True),
        sa.Column("promise_status", sa.String(length=8), nullable=True),
        sa.Column("promise_resolved_on", sa.Date(), nullable=True),
        sa.Column("cost_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=True),
        sa.Column("strategy_version", sa.String(length=64), nullable=True),
        sa.Column("arm", sa.String(length=16), nullable=True),
        sa.CheckConstraint(f"channel IN ({sql_list(CHANNELS)})", name=op.f("ck_collection_actions_channel")),
        sa.CheckConstraint(f"outcome IN ({sql_list(OUTCOMES)})", name=op.f("ck_collection_actions_outcome")),
        sa.CheckConstraint(
            "target IN ('borrower', 'third_party')", name=op.f("ck_collection_actions_target")
        ),
        sa.CheckConstraint(
            "promise_status IS NULL OR promise_status IN ('open', 'kept', 'broken')",
            name=op.f("ck_collection_actions_promise_status"),
        ),
        sa.CheckConstraint(
            "promised_minor >= 0 AND cost_minor >= 0", name=op.f("ck_collection_actions_amounts")
        ),
        sa.CheckConstraint(
            "(outcome = 'promise_to_pay') = (promise_due_on IS NOT NULL AND promise_status IS NOT NULL"
            " AND promised_minor > 0)",
            name=op.f("ck_collection_actions_promise"),
        ),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_collection_actions")),
    )
    op.create_index("ix_collection_actions_loan_at", "collection_actions", ["loan_id", "at"])
    op.create_index("ix_collection_actions_borrower_day", "collection_actions", ["borrower_id", "local_day"])
    accounts = sa.table(
        "accounts",
        sa.column("account_code", sa.String),
        sa.column("name", sa.String),
        sa.column("kind", sa.String),
    )
    op.bulk_insert(
        accounts, [{"account_code": "5200", "name": "collection fees (agencies)", "kind": "expense"}]
    )
    replace_chart_check(CHART_CODES)


def downgrade() -> None:
    replace_chart_check(CHART_CODES_BEFORE)
    op.execute("DELETE FROM accounts WHERE account_code = '5200'")
    op.drop_index("ix_collection_actions_borrower_day", table_name="collection_actions")
    op.drop_index("ix_collection_actions_loan_at", table_name="collection_actions")
    op.drop_table("collection_actions")
