"""The ledger's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Money is BIGINT minor units; rates are integer parts per million; dates are
business dates (no time zone). History is append-only: journal entries and
postings are never updated, a correction is a new entry. Alembic migrations in
``creditmesh/ledger/migrations`` create exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
)

from creditmesh.funding import FUNDING_MODELS, NAME_MAX_CHARS, sql_in
from creditmesh.ledger.journal import CHART
from creditmesh.schema import COLLECTION_CHANNELS, COLLECTION_OUTCOMES, PROMISE_STATUSES

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = 40  # longest id accepted, in characters


def key(length: int = ID) -> String:
    """A text id or key: on PostgreSQL ``COLLATE "C"`` (compared as bytes, as SQLite does; migration 0009)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


#: The chart of accounts' codes (journal.CHART), which postings' CHECK lists (a new account needs a revision)
CHART_CODES = tuple(account.code for account in CHART)

accounts = Table(
    "accounts",
    metadata,
    Column("account_code", String(8), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("kind", String(12), nullable=False),
    CheckConstraint("kind IN ('asset', 'liability', 'equity', 'income', 'expense')", name="kind"),
)

credit_lines = Table(
    "credit_lines",
    metadata,
    Column("credit_line_id", String(ID), primary_key=True),
    Column("borrower_id", String(ID), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("limit_minor", BigInteger, nullable=False),
    Column("apr_ppm", Integer, nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("status", String(12), nullable=False),
    Column("expires_on", Date, nullable=True),  # migration 0004: a line draws nothing after this day
    CheckConstraint("limit_minor >= 0", name="limit"),
    CheckConstraint("status IN ('active', 'frozen', 'closed')", name="status"),
)

loans = Table(
    "loans",
    metadata,
    Column("loan_id", key(), primary_key=True),
    Column("borrower_id", String(ID), nullable=False),
    Column("credit_line_id", String(ID), ForeignKey("credit_lines.credit_line_id"), nullable=True),
    Column("application_id", String(ID), nullable=True),
    Column("institution_id", String(ID), nullable=False),
    Column("funding_model", String(NAME_MAX_CHARS), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("apr_ppm", Integer, nullable=False),
    Column("tenor_months", SmallInteger, nullable=False),
    Column("schedule", String(20), nullable=False),
    Column("originated_on", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("dpd", Integer, nullable=False, server_default="0"),
    Column("bucket", String(12), nullable=False, server_default="current"),
    Column("aged_on", Date, nullable=True),
    Column("charged_off_on", Date, nullable=True),
    Column("written_off_on", Date, nullable=True),  # since migration 0005
    CheckConstraint("principal_minor > 0", name="principal"),
    CheckConstraint("apr_ppm >= 0", name="apr"),
    CheckConstraint("status IN ('active', 'settled', 'charged_off', 'written_off')", name="status"),
    CheckConstraint(sql_in("funding_model", FUNDING_MODELS), name="funding_model"),
    CheckConstraint("schedule IN ('equal_installment', 'equal_principal')", name="schedule"),
)
Index("ix_loans_credit_line", loans.c.credit_line_id)

installments = Table(  # the schedule: what is due; what was paid is a fold of ``allocations`` (migration 0008)
    "installments",
    metadata,
    Column("loan_id", key(), ForeignKey("loans.loan_id"), primary_key=True),
    Column("seq", SmallInteger, primary_key=True),
    Column("due_date", Date, nullable=False),
    # rewritten only by a re-cast or an early settlement (the one-by-one path), never by a payment's allocation
    Column("principal_due_minor", BigInteger, nullable=False),
    Column("interest_due_minor", BigInteger, nullable=False),
    Column("fee_due_minor", BigInteger, nullable=False, server_default="0"),
    Column(
        "accrued_from", Date, nullable=True
    ),  # set by a re-cast: interest accrues on the new balance from here
)
# no index on (due_date, paid_on) since migration 0002: nothing reads by it, and paying an installment updated it

allocations = Table(  # migration 0008: what each payment paid of each installment, appended, never updated
    "allocations",
    metadata,
    Column("loan_id", key(), primary_key=True),
    Column("seq", SmallInteger, primary_key=True),
    Column("payment_id", key(), primary_key=True),
    Column("late_fee_minor", BigInteger, nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column("interest_minor", BigInteger, nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column(
        "settled_on", Date, nullable=True
    ),  # the installment is paid in full by this allocation, on this day
    CheckConstraint(
        "late_fee_minor >= 0 AND fee_minor >= 0 AND interest_minor >= 0 AND principal_minor >= 0",
        name="amounts",
    ),
)

late_fees = Table(  # migration 0008: late fees assessed by aging (positive) and waived by an early settlement
    "late_fees",
    metadata,
    Column("loan_id", key(), primary_key=True),
    Column("seq", SmallInteger, primary_key=True),
    Column("assessed_on", Date, primary_key=True),
    Column("amount_minor", BigInteger, nullable=False),
    CheckConstraint("amount_minor <> 0", name="nonzero"),
)

#: The installments as the ledger sees them: the schedule, its late fees and what the allocations paid,
#: folded (a view, migration 0008). Read by whole-book queries (aging, the collections queue, export);
#: one loan's rows are read by :data:`ONE_LOAN_BALANCES`, which folds that loan only.
views = MetaData()
installment_balances = Table(
    "installment_balances",
    views,
    Column("loan_id", String(ID)),
    Column("seq", SmallInteger),
    Column("due_date", Date),
    Column("principal_due_minor", BigInteger),
    Column("interest_due_minor", BigInteger),
    Column("fee_due_minor", BigInteger),
    Column("late_fee_due_minor", BigInteger),
    Column("principal_paid_minor", BigInteger),
    Column("interest_paid_minor", BigInteger),
    Column("fee_paid_minor", BigInteger),
    Column("late_fee_paid_minor", BigInteger),
    Column("paid_on", Date),
    Column("accrued_from", Date),
)
# SUM of BIGINT is NUMERIC on PostgreSQL: cast back, so that amounts stay integers
_PAID_COLUMNS = """CAST(SUM(late_fee_minor) AS BIGINT) AS late_fee_paid_minor, CAST(SUM(fee_minor) AS BIGINT) AS fee_paid_minor,
                   CAST(SUM(interest_minor) AS BIGINT) AS interest_paid_minor,
                   CAST(SUM(principal_minor) AS BIGINT) AS principal_paid_minor, MAX(settled_on) AS paid_on"""
_LATE_FEE_DUE = "CAST(SUM(amount_minor) AS BIGINT) AS late_fee_due_minor"
_BALANCE_COLUMNS = """i.loan_id, i.seq, i.due_date, i.principal_due_minor, i.interest_due_minor, i.fee_due_minor,
       COALESCE(f.late_fee_due_minor, 0) AS late_fee_due_minor,
       COALESCE(a.principal_paid_minor, 0) AS principal_paid_minor,
       COALESCE(a.interest_paid_minor, 0) AS interest_paid_minor,
       COALESCE(a.fee_paid_minor, 0) AS fee_paid_minor,
       COALESCE(a.late_fee_paid_minor, 0) AS late_fee_paid_minor,
       a.paid_on, i.accrued_from"""
#: The view's text (migration 0008 creates it from a frozen copy).
INSTALLMENT_BALANCES_SQL = f"""
SELECT {_BALANCE_COLUMNS}
FROM installments AS i
LEFT JOIN (SELECT loan_id, seq, {_PAID_COLUMNS} FROM allocations GROUP BY loan_id, seq) AS a
       ON a.loan_id = i.loan_id AND a.seq = i.seq
LEFT JOIN (SELECT loan_id, seq, {_LATE_FEE_DUE} FROM late_fees GROUP BY loan_id, seq) AS f
       ON f.loan_id = i.loan_id AND f.seq = i.seq"""
#: One loan's installments, folded (``:loan_id``), in seq order: each fold restricted to the loan, so it is three
#: index range reads on either engine (SQLite does not push a condition into the view's grouped joins).
ONE_LOAN_BALANCES = f"""
SELECT {_BALANCE_COLUMNS}
FROM installments AS i
LEFT JOIN (SELECT seq, {_PAID_COLUMNS} FROM allocations WHERE loan_id = :loan_id GROUP BY seq) AS a ON a.seq = i.seq
LEFT JOIN (SELECT seq, {_LATE_FEE_DUE} FROM late_fees WHERE loan_id = :loan_id GROUP BY seq) AS f
       ON f.seq = i.seq
WHERE i.loan_id = :loan_id ORDER BY i.seq"""

payments = Table(
    "payments",
    metadata,
    Column("payment_id", key(), nullable=False),
    Column("idempotency_key", key(80), nullable=False, unique=True),
    Column("request_sha256", key(64), nullable=False),
    Column("loan_id", key(), nullable=False),  # checked (and locked) before the payment is written
    Column("paid_on", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("late_fee_minor", BigInteger, nullable=False),
    Column("fee_minor", BigInteger, nullable=False),
    Column("interest_minor", BigInteger, nullable=False),
    Column("principal_minor", BigInteger, nullable=False),
    Column("prepaid_interest_minor", BigInteger, nullable=False),
    Column("prepaid_principal_minor", BigInteger, nullable=False),
    Column("recovery", Boolean, nullable=False),
    Column("settled", Boolean, nullable=False),
    Column("entry_id", BigInteger, nullable=False),
    CheckConstraint("amount_minor > 0", name="amount"),
    CheckConstraint(
        "amount_minor = late_fee_minor + fee_minor + interest_minor + principal_minor"
        " + prepaid_interest_minor + prepaid_principal_minor",
        name="split_adds_up",
    ),
    # since migration 0010 keyed by loan: one index serves the readers by loan, none reads by id alone
    PrimaryKeyConstraint("loan_id", "payment_id"),
)

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("entry_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("occurred_on", Date, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("loan_id", key(), nullable=True),
    Column("reference", String(80), nullable=True),
)

postings = Table(
    "postings",
    metadata,
    Column("posting_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    # no foreign keys (migration 0002): the entry is written in the same transaction, the account comes from
    # the chart (journal.check_balanced, and the CHECK below)
    Column("entry_id", BigInteger, nullable=False),
    Column("account_code", String(8), nullable=False),
    Column("loan_id", key(), nullable=True),
    Column("amount_minor", BigInteger, nullable=False),  # debit positive, credit negative
    CheckConstraint("amount_minor <> 0", name="nonzero"),
    CheckConstraint(
        f"account_code IN ({', '.join(repr(code) for code in CHART_CODES)})", name="account_in_chart"
    ),
)
# on PostgreSQL a BRIN index since migration 0010 (entry ids ascend as postings are appended; a btree took an entry
# per posting, a fifth of the bulk path's postings); its one reader by entry is aging's check of its own entry
Index(
    "ix_postings_entry",
    postings.c.entry_id,
    postgresql_using="brin",
    postgresql_with={"autosummarize": "on"},
)
# no index on (loan_id, account_code) since migration 0009: its one reader was principal_from_journal

bucket_moves = Table(  # written by aging from the loans it reads: no foreign key (migration 0002)
    "bucket_moves",
    metadata,
    Column("loan_id", String(ID), primary_key=True),
    Column("moved_on", Date, primary_key=True),
    Column("from_bucket", String(12), nullable=False),
    Column("to_bucket", String(12), primary_key=True),
    Column("dpd", Integer, nullable=False),
)

loan_days = Table(  # written by aging from the loans it reads: no foreign key (migration 0002)
    "loan_days",
    metadata,
    Column("loan_id", String(ID), primary_key=True),
    Column("as_of", Date, primary_key=True),
    Column("outstanding_principal_minor", BigInteger, nullable=False),
    Column("overdue_principal_minor", BigInteger, nullable=False),
    Column("dpd", Integer, nullable=False),
    Column("status", String(12), nullable=False),
)


def _in(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


collection_actions = Table(  # migration 0006; the loan is read before an action is written (no foreign key)
    "collection_actions",
    metadata,
    Column("action_id", String(ID), primary_key=True),
    Column("loan_id", String(ID), nullable=False),
    Column("borrower_id", String(ID), nullable=False),
    Column("at", DateTime, nullable=False),  # UTC, without a zone
    Column(
        "local_day", Date, nullable=False
    ),  # the borrower's calendar day at ``at`` (the daily contact cap)
    Column("channel", String(16), nullable=False),
    Column("target", String(12), nullable=False, server_default="borrower"),
    Column("outcome", String(20), nullable=False),
    Column("promised_minor", BigInteger, nullable=False, server_default="0"),
    Column("promise_due_on", Date, nullable=True),
    Column("promise_status", String(8), nullable=True),
    Column("promise_resolved_on", Date, nullable=True),
    Column("cost_minor", BigInteger, nullable=False, server_default="0"),
    Column("agent_id", String(ID), nullable=True),
    Column("strategy_version", String(64), nullable=True),
    Column("arm", String(16), nullable=True),
    CheckConstraint(f"channel IN ({_in(COLLECTION_CHANNELS)})", name="channel"),
    CheckConstraint(f"outcome IN ({_in(COLLECTION_OUTCOMES)})", name="outcome"),
    CheckConstraint("target IN ('borrower', 'third_party')", name="target"),
    CheckConstraint(
        f"promise_status IS NULL OR promise_status IN ({_in(PROMISE_STATUSES)})", name="promise_status"
    ),
    CheckConstraint("promised_minor >= 0 AND cost_minor >= 0", name="amounts"),
    CheckConstraint(
        "(outcome = 'promise_to_pay') = (promise_due_on IS NOT NULL AND promise_status IS NOT NULL"
        " AND promised_minor > 0)",
        name="promise",
    ),
)
Index("ix_collection_actions_loan_at", collection_actions.c.loan_id, collection_actions.c.at)
Index("ix_collection_actions_borrower_day", collection_actions.c.borrower_id, collection_actions.c.local_day)
