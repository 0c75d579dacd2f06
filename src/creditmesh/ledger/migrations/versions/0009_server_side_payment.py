"""PostgreSQL posts a payment that pays no more than is due in one server-side call.

Creates the PL/pgSQL function ``ledger_post_payment`` (:mod:`creditmesh.ledger.serverside`), which allocates
by the bulk path's set-based waterfall (:func:`creditmesh.ledger.waterfall_sql.lines_sql`) and books what
the Python path books; SQLite keeps the Python path, and gets nothing here. The function's text is rendered
from the code that this revision installs it with: a later change to the waterfall or to the chart's
accounts comes with a revision that installs it again (``tests/ledger/test_serverside.py`` checks that the
installed text is the code's).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

from creditmesh.ledger import serverside

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(serverside.function_sql())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(serverside.drop_sql())
