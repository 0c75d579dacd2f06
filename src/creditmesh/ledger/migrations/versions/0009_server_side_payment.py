"""PostgreSQL posts a payment in one server-side call; its text keys compare byte by byte; postings lose an index.

* The PL/pgSQL function ``ledger_post_payment`` (:mod:`creditmesh.ledger.serverside`) posts a payment that
  pays no more than is due: it allocates by the bulk path's set-based waterfall
  (:func:`creditmesh.ledger.waterfall_sql.lines_sql`) and books what the Python path books. SQLite keeps
  the Python path. The function's text is rendered from the code this revision installs it with: a later
  change to the waterfall or to the chart's accounts comes with a revision that installs it again
  (``tests/ledger/test_serverside.py`` checks that the installed text is the code's).
* On PostgreSQL the ids and keys that the payment paths sort, join and index (loans, installments,
  allocations, late fees, payments, journal) are ``COLLATE "C"``: compared as bytes (memcmp) instead of by
  the database's locale (strcoll). Ids are ASCII, so no order changes; SQLite compares bytes already. The
  view ``installment_balances`` reads these columns, so it is dropped and created again around the change.
* ``ix_postings_loan_account`` goes, on both engines: its one reader was ``Ledger.principal_from_journal``
  (one loan, a check), and every payment paid for it with an insert into a random page of it.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from creditmesh.ledger import serverside
from creditmesh.ledger.migrations.history import INSTALLMENT_BALANCES_SQL

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: The text columns made ``COLLATE "C"`` on PostgreSQL, per table, with their lengths.
C_COLUMNS = {
    "loans": {"loan_id": 40},
    "installments": {"loan_id": 40},
    "allocations": {"loan_id": 40, "payment_id": 40},
    "late_fees": {"loan_id": 40},
    "payments": {"payment_id": 40, "idempotency_key": 80, "request_sha256": 64, "loan_id": 40},
    "journal_entries": {"loan_id": 40},
    "postings": {"loan_id": 40},
}


def _collate(collation: str) -> None:
    op.execute("DROP VIEW installment_balances")
    for table, columns in C_COLUMNS.items():
        changes = ", ".join(
            f'ALTER COLUMN {column} TYPE VARCHAR({length}) COLLATE "{collation}"'
            for column, length in columns.items()
        )
        op.execute(f"ALTER TABLE {table} {changes}")
    op.execute(f"CREATE VIEW installment_balances AS {INSTALLMENT_BALANCES_SQL}")


def upgrade() -> None:
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index("ix_postings_loan_account")
    if op.get_bind().dialect.name == "postgresql":
        _collate("C")
        op.execute(serverside.function_sql())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(serverside.drop_sql())
        _collate("default")
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index("ix_postings_loan_account", ["loan_id", "account_code"], unique=False)
