"""Cheaper writes for the bulk and month-end paths (benchmarks/ledger_bulk.py, ledger_aging.py).

- Foreign keys on the append-only tables the ledger writes itself (postings, payments, loan_days,
  bucket_moves) are dropped: on PostgreSQL each is a trigger and a key lookup per inserted row, most of the
  insert's time. What they guarded is checked in code before anything is written: every posting comes from
  a journal entry created in the same transaction, over the chart (``journal.check_balanced``; the bulk SQL
  builds its accounts from journal.py's constants), and a payment's or an aging row's loan was read (and
  locked) first. The account code keeps a CHECK against the chart, which costs no lookup.
- ``ix_installments_due_open`` (due_date, paid_on) is dropped: no query uses it (aging and the bulk path
  read installments by loan), and every payment that settles an installment changed ``paid_on``, so had to
  add an entry to it. (A lower fillfactor on installments, for HOT updates, was measured too: on a
  300,000-loan book it made loading and bulk posting slower and aging no faster, so it is not used.)

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from creditmesh.ledger.migrations.history import CHART_0002, chart_check

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: The chart of accounts as of this revision (journal.CHART); a new account comes with a new revision.
CHART_CODES = CHART_0002
_FOREIGN_KEYS = (
    ("postings", "fk_postings_account_code_accounts"),
    ("postings", "fk_postings_entry_id_journal_entries"),
    ("payments", "fk_payments_loan_id_loans"),
    ("loan_days", "fk_loan_days_loan_id_loans"),
    ("bucket_moves", "fk_bucket_moves_loan_id_loans"),
)


def upgrade() -> None:
    for table, name in _FOREIGN_KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(name, type_="foreignkey")
            if name == "fk_postings_account_code_accounts":
                batch_op.create_check_constraint(
                    op.f("ck_postings_account_in_chart"), chart_check(CHART_CODES)
                )
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.drop_index("ix_installments_due_open")


def downgrade() -> None:
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.create_index("ix_installments_due_open", ["due_date", "paid_on"], unique=False)
    targets = {
        "fk_postings_account_code_accounts": (["account_code"], "accounts", ["account_code"]),
        "fk_postings_entry_id_journal_entries": (["entry_id"], "journal_entries", ["entry_id"]),
        "fk_payments_loan_id_loans": (["loan_id"], "loans", ["loan_id"]),
        "fk_loan_days_loan_id_loans": (["loan_id"], "loans", ["loan_id"]),
        "fk_bucket_moves_loan_id_loans": (["loan_id"], "loans", ["loan_id"]),
    }
    for table, name in _FOREIGN_KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if table == "postings" and name.endswith("accounts"):
                batch_op.drop_constraint(op.f("ck_postings_account_in_chart"), type_="check")
            local, referred, remote = targets[name]
            batch_op.create_foreign_key(name, referred, local, remote)
