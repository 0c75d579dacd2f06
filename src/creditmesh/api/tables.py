"""The service's own tables, beside the ledger's in the same database (migration ``0004_platform``).

API keys (hashed, never plain), the graph's append-only event stream (hashed identifiers, in commit
order), what a credit line was granted on and how its limit moved, the partners' daily capacity,
each drawdown's answer (so a repeat returns it), and who (which API key) made each decision,
booking and payment. SQLAlchemy Core, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

from creditmesh.ledger.tables import ID
from creditmesh.ledger.tables import metadata as ledger_metadata

#: Roles an API key may hold (``creditmesh keys create --role``).
ROLES = ("app", "partner", "operator", "admin")
#: Events of the graph's stream: a borrower seen with its identifiers, or a label known from then on.
GRAPH_EVENTS = ("borrower", "blacklist", "delinquent")
#: How a credit line's limit moved: opened, or a review's outcome.
LINE_EVENTS = ("open", "freeze", "decrease", "increase", "keep", "expire")
#: A drawdown's answer.
DRAWDOWN_OUTCOMES = ("booked", "decline", "review", "no_partner")
KEY_ID = 24
APPLICATION_ID = 40
TENANT = 64

metadata = MetaData(naming_convention=ledger_metadata.naming_convention)
_roles = ", ".join(f"'{r}'" for r in ROLES)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(KEY_ID), primary_key=True),
    Column("secret_sha256", String(64), nullable=False, comment="SHA-256 of the key's secret; never the key"),
    Column("role", String(16), nullable=False),
    Column("owner", String(TENANT), nullable=False, comment="the tenant (or person) the key belongs to"),
    Column("institution_id", String(ID), nullable=True, comment="a partner key's institution"),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("revoked_at_ns", BigInteger, nullable=True),
    CheckConstraint(f"role IN ({_roles})", name="role"),
    CheckConstraint("(role = 'partner') = (institution_id IS NOT NULL)", name="partner_institution"),
)

graph_clock = Table(  # one row: the last event's sequence number and time (serialises appends, so no gaps)
    "graph_clock",
    metadata,
    Column("clock_id", SmallInteger, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("seen_us", BigInteger, nullable=False),
)

graph_events = Table(
    "graph_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(12), nullable=False),
    Column("borrower_id", String(ID), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("identities", Text, nullable=True, comment="JSON [[kind, keyed hash], ...]; never a raw value"),
    CheckConstraint("kind IN ('borrower', 'blacklist', 'delinquent')", name="kind"),
)

credit_line_profiles = Table(
    "credit_line_profiles",
    metadata,
    Column("credit_line_id", String(ID), primary_key=True),
    Column("application_id", String(APPLICATION_ID), nullable=False, unique=True),
    Column("borrower_id", String(ID), nullable=False),
    Column("tenant", String(TENANT), nullable=False),
    Column("pd", Float, nullable=False),
    Column("score", Float, nullable=False),
    Column("grade", String(4), nullable=False),
    Column("region", String(16), nullable=True),
)

credit_line_events = Table(
    "credit_line_events",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("credit_line_id", String(ID), nullable=False),
    Column("at_ns", BigInteger, nullable=False),
    Column("kind", String(12), nullable=False),
    Column("limit_before_minor", BigInteger, nullable=False),
    Column("limit_after_minor", BigInteger, nullable=False),
    Column("status", String(12), nullable=False),
    Column("application_id", String(APPLICATION_ID), nullable=False, comment="the decision behind the move"),
    Column("key_id", String(KEY_ID), nullable=False),
    Column("reviewer", String(TENANT), nullable=True),
)
Index("ix_credit_line_events_line", credit_line_events.c.credit_line_id)

partner_capacity = Table(
    "partner_capacity",
    metadata,
    Column("institution_id", String(ID), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("capacity_minor", BigInteger, nullable=False),
    Column("reserved_minor", BigInteger, nullable=False),
    CheckConstraint("reserved_minor BETWEEN 0 AND capacity_minor", name="within_capacity"),
)

drawdowns = Table(
    "drawdowns",
    metadata,
    Column("application_id", String(APPLICATION_ID), primary_key=True),
    Column("credit_line_id", String(ID), nullable=False),
    Column("request_sha256", String(64), nullable=False),
    Column("outcome", String(12), nullable=False),
    Column("loan_id", String(ID), nullable=True),
    Column("institution_id", String(ID), nullable=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("answer", Text, nullable=False, comment="the answer given, JSON (a repeat gets it again)"),
    Column("tenant", String(TENANT), nullable=False),
    Column("key_id", String(KEY_ID), nullable=False),
    Column("at_ns", BigInteger, nullable=False),
    CheckConstraint("outcome IN ('booked', 'decline', 'review', 'no_partner')", name="outcome"),
)
Index("ix_drawdowns_line", drawdowns.c.credit_line_id)

actors = Table(  # who made each decision, booking and payment
    "actors",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("object_id", String(128), primary_key=True),
    Column("tenant", String(TENANT), nullable=False),
    Column("key_id", String(KEY_ID), nullable=False),
    Column("at_ns", BigInteger, nullable=False),
)
