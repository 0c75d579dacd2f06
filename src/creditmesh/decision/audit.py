"""The audit trail: every decision stored with its inputs, versions, reasons and timing, and replayed exactly.

A decision is written once, keyed by its application id, in one transaction with the policy
document it was made under (stored by content hash, so the policy can be rebuilt byte for byte).
:func:`replay` rebuilds that policy, scores the stored inputs with the model it is given (refused
when the stored model version names another model) and decides again; the answer must equal the
stored one. Storage is SQLite or PostgreSQL through SQLAlchemy Core.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from creditmesh.decision.engine import DECISION_COLUMNS, SHADOW_COLUMNS, Decision, DecisionEngine
from creditmesh.decision.policy import CreditPolicy, policy_from_dict
from creditmesh.errors import CreditmeshError

_META = sa.MetaData()
POLICIES = sa.Table(
    "decision_policies",
    _META,
    sa.Column("policy_version", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("document", sa.Text, nullable=False, comment="canonical JSON; its SHA-256 is the version"),
)
DECISIONS = sa.Table(
    "decision_log",
    _META,
    sa.Column("application_id", sa.String(128), primary_key=True),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("decided_at_ns", sa.BigInteger, nullable=False, comment="UTC, nanoseconds since the epoch"),
    sa.Column("elapsed_us", sa.Integer, nullable=False, comment="time to decide, microseconds"),
    sa.Column(
        "inputs", sa.Text, nullable=False, comment="the application as received (JSON; missing is null)"
    ),
    sa.Column("model_version", sa.String(64)),
    sa.Column(
        "policy_version", sa.String(64), sa.ForeignKey("decision_policies.policy_version"), nullable=False
    ),
    sa.Column("arm", sa.String(64), nullable=False),
    sa.Column("decision", sa.Text, nullable=False, comment="the decision as JSON"),
    sa.Column("shadow", sa.Text, comment="the shadow policy's decision as JSON, never enforced"),
)

REVIEWS = sa.Table(
    "decision_reviews",
    _META,
    sa.Column(
        "application_id", sa.String(128), sa.ForeignKey("decision_log.application_id"), primary_key=True
    ),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("queued_at_ns", sa.BigInteger, nullable=False, comment="when the decision sent it to people"),
    sa.Column("reasons", sa.Text, nullable=False, comment="the decision's reasons (JSON list)"),
    sa.Column("settled_at_ns", sa.BigInteger, comment="null while the review is pending"),
    sa.Column("outcome", sa.String(16), comment="approve or decline, decided by a person"),
    sa.Column("reviewer", sa.String(64)),
    sa.Column("note", sa.Text),
)
sa.Index("ix_decision_reviews_pending", REVIEWS.c.settled_at_ns, REVIEWS.c.queued_at_ns)

#: Outcomes a reviewer may give, and the most pending reviews one call lists.
REVIEW_OUTCOMES = ("approve", "decline")
MAX_REVIEWS_LISTED = 1_000

#: The longest JSON document a decision's inputs may take (a limit on everything).
MAX_INPUT_CHARS = 64_000


class AuditError(CreditmeshError):
    """A decision that cannot be stored or replayed as asked."""


def _plain(value: Any) -> Any:
    """A JSON value for one input: missing (None, NaN, NA) becomes null, numpy scalars plain numbers."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _row_json(row: Mapping[str, Any], columns: tuple[str, ...] = DECISION_COLUMNS) -> str:
    """A decision (one row of the engine's answer) as JSON, its ``columns`` only."""
    return json.dumps(
        {k: list(row[k]) if k == "reasons" else _plain(row[k]) for k in columns}, sort_keys=True
    )


def _decision_json(decision: Decision) -> str:
    return _row_json(decision.as_row())


def _shadow_json(row: Mapping[str, Any]) -> str | None:
    """What the shadow policy said (``shadow_*`` of a row), or None without one."""
    if "shadow_outcome" not in row:
        return None
    return _row_json({c: row[f"shadow_{c}"] for c in SHADOW_COLUMNS}, SHADOW_COLUMNS)


def _inputs_json(application: Mapping[str, Any]) -> str:
    inputs = json.dumps({str(k): _plain(v) for k, v in application.items()}, sort_keys=True)
    if len(inputs) > MAX_INPUT_CHARS:
        raise AuditError("application", f"inputs take more than {MAX_INPUT_CHARS} characters")
    return inputs


def _insert_new(connection: sa.Connection, table: sa.Table) -> Any:
    """An insert that skips rows whose key is already there (SQLite and PostgreSQL both say ON CONFLICT DO NOTHING)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


@dataclass(frozen=True)
class Replay:
    """A stored decision and the decision made again from its stored inputs."""

    stored: dict[str, Any]
    replayed: dict[str, Any]

    @property
    def identical(self) -> bool:
        return self.stored == self.replayed


def create_tables(connection: sa.Connection) -> None:
    """Create the log's tables where they are missing, inside the caller's transaction."""
    _META.create_all(connection)


class AuditLog:
    """The decision log in a database given by SQLAlchemy URL (``sqlite:///decisions.db``), or on an engine
    the caller owns (the service shares the ledger's, so a decision can commit with what it books)."""

    def __init__(self, url: str, *, engine: sa.Engine | None = None) -> None:
        self.url = url
        self._engine: sa.Engine | None = engine
        self._stored_policies: set[str] = set()

    @property
    def engine(self) -> sa.Engine:
        # kept only once its tables exist, so a database down at first use is retried
        if self._engine is None:
            engine = sa.create_engine(self.url)
            try:
                _META.create_all(engine)
            except Exception:
                engine.dispose()
                raise
            self._engine = engine
        return self._engine

    def decide(
        self,
        engine: DecisionEngine,
        stage: str,
        application: Mapping[str, Any],
        *,
        connection: sa.Connection | None = None,
    ) -> Decision:
        """Decide one application and store it (with its policy) before returning it; inside ``connection``'s
        transaction when one is given (the caller commits), else in a transaction of its own."""
        inputs = _inputs_json(application)
        started = time.perf_counter_ns()
        decision = engine.decide_one(stage, application)
        elapsed_us = (time.perf_counter_ns() - started) // 1_000
        self._store(
            engine,
            [
                {
                    "application_id": decision.application_id,
                    "stage": stage,
                    "decided_at_ns": time.time_ns(),
                    "elapsed_us": int(elapsed_us),
                    "inputs": inputs,
                    "model_version": engine.model_version,
                    "policy_version": decision.policy_version,
                    "arm": decision.arm,
                    "decision": _decision_json(decision),
                    "shadow": _shadow_json(decision.as_row()),
                }
            ],
            connection,
        )
        return decision

    def decide_table(self, engine: DecisionEngine, stage: str, applications: pd.DataFrame) -> pd.DataFrame:
        """Decide a table of applications (batch path) and store every decision in one transaction.

        Each row's ``elapsed_us`` is the batch's time divided by its rows.
        """
        records = applications.to_dict("records")
        inputs = [_inputs_json(r) for r in records]
        started = time.perf_counter_ns()
        decided = engine.decide_table(stage, applications)
        elapsed_us = (time.perf_counter_ns() - started) // 1_000 // max(len(decided), 1)
        now = time.time_ns()
        rows = [
            {
                "application_id": row["application_id"],
                "stage": stage,
                "decided_at_ns": now,
                "elapsed_us": int(elapsed_us),
                "inputs": application,
                "model_version": engine.model_version,
                "policy_version": row["policy_version"],
                "arm": row["arm"],
                "decision": _row_json(row),
                "shadow": _shadow_json(row),
            }
            for row, application in zip(decided.to_dict("records"), inputs)
        ]
        self._store(engine, rows)
        return decided

    def _store(
        self, engine: DecisionEngine, rows: list[dict[str, Any]], connection: sa.Connection | None = None
    ) -> None:
        policies = {engine.policy_of(a).version: engine.policy_of(a) for a in {r["arm"] for r in rows}}
        if engine.shadow is not None:
            policies[engine.shadow.version] = engine.shadow
        # Policies are append-only and keyed by content hash: once this log has stored one, it is there.
        fresh = [
            {"policy_version": v, "name": p.name, "document": p.canonical_json}
            for v, p in policies.items()
            if v not in self._stored_policies
        ]
        if connection is None:
            with self.engine.begin() as own:
                _write_decisions(own, fresh, rows)
            self._stored_policies.update(policies)
        else:  # committed by the caller, maybe not at all: remembered only once committed (store_policies)
            _write_decisions(connection, fresh, rows)

    def store_policies(self, engine: DecisionEngine) -> None:
        """Store (and commit) every policy ``engine`` decides under, so that decisions written inside callers'
        transactions (``decide(..., connection=)``) never insert a policy of their own."""
        every = [
            engine.champion,
            *(p for _, p, _ in engine.challengers),
            *([engine.shadow] if engine.shadow else []),
        ]
        policies = {p.version: p for p in every}
        with self.engine.begin() as own:
            own.execute(
                _insert_new(own, POLICIES),
                [
                    {"policy_version": v, "name": p.name, "document": p.canonical_json}
                    for v, p in policies.items()
                ],
            )
        self._stored_policies.update(policies)

    # -- the manual-review queue -------------------------------------------------------------------
    def pending_reviews(self, *, stage: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Reviews no one has settled yet, oldest first."""
        if not 1 <= limit <= MAX_REVIEWS_LISTED:
            raise AuditError("limit", f"must be between 1 and {MAX_REVIEWS_LISTED}, got {limit}")
        query = sa.select(REVIEWS).where(REVIEWS.c.settled_at_ns.is_(None))
        if stage is not None:
            query = query.where(REVIEWS.c.stage == stage)
        with self.engine.connect() as connection:
            rows = connection.execute(
                query.order_by(REVIEWS.c.queued_at_ns, REVIEWS.c.application_id).limit(limit)
            )
            return [_review(r._mapping) for r in rows]

    def review(self, application_id: str) -> dict[str, Any]:
        """One review, pending or settled."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(REVIEWS).where(REVIEWS.c.application_id == application_id)
            ).first()
        if row is None:
            raise AuditError("application_id", f"no review queued for {application_id!r}")
        return _review(row._mapping)

    def settle(self, application_id: str, *, outcome: str, reviewer: str, note: str = "") -> dict[str, Any]:
        """Record a person's outcome for a pending review, once; the same answer again returns it unchanged."""
        if outcome not in REVIEW_OUTCOMES:
            raise AuditError("outcome", f"must be one of {', '.join(REVIEW_OUTCOMES)}, got {outcome!r}")
        if not reviewer or len(reviewer) > 64:
            raise AuditError("reviewer", "must be 1 to 64 characters")
        current = self.review(application_id)
        if current["status"] == "pending":
            with self.engine.begin() as connection:
                connection.execute(
                    REVIEWS.update()
                    .where(REVIEWS.c.application_id == application_id)
                    .where(REVIEWS.c.settled_at_ns.is_(None))
                    .values(settled_at_ns=time.time_ns(), outcome=outcome, reviewer=reviewer, note=note)
                )
            current = self.review(application_id)  # a concurrent reviewer may have settled it first
        if (current["outcome"], current["reviewer"], current["note"]) != (outcome, reviewer, note):
            raise AuditError(
                "application_id", f"already settled as {current['outcome']} by {current['reviewer']}"
            )
        return current

    def ping(self) -> None:
        """One cheap query on the decisions table: raises when the database or the table is not there."""
        with self.engine.connect() as connection:
            connection.execute(sa.select(DECISIONS.c.application_id).limit(1)).all()

    def stored(self, application_id: str, *, connection: sa.Connection | None = None) -> Mapping[str, Any]:
        """The stored row of one decision (read in ``connection``'s transaction when one is given)."""
        query = sa.select(DECISIONS).where(DECISIONS.c.application_id == application_id)
        if connection is None:
            with self.engine.connect() as own:
                row = own.execute(query).first()
        else:
            row = connection.execute(query).first()
        if row is None:
            raise AuditError("application_id", f"no decision stored for {application_id!r}")
        return row._mapping

    def policy(self, version: str) -> CreditPolicy:
        """The stored policy of that version, rebuilt and checked against its hash."""
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(POLICIES.c.document).where(POLICIES.c.policy_version == version)
            ).first()
        if row is None:
            raise AuditError("policy_version", f"policy {version} is not in the log")
        policy = policy_from_dict(json.loads(row.document))
        if policy.version != version:
            raise AuditError("policy_version", f"the stored policy {version} no longer hashes to its version")
        return policy


def _write_decisions(
    connection: sa.Connection, policies: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> None:
    """The policies not stored yet, the decisions and their reviews, in the caller's transaction."""
    if policies:  # another writer may store the same policy first (ON CONFLICT DO NOTHING)
        connection.execute(_insert_new(connection, POLICIES), policies)
    if len(rows) == 1:
        # ON CONFLICT DO NOTHING rather than catching the key's violation: a caller's transaction stays usable
        # (PostgreSQL aborts one after an error), and the caller decides what a repeated id means
        insert = _insert_new(connection, DECISIONS).returning(DECISIONS.c.application_id)
        stored = connection.execute(insert, rows[0]).first() is not None
    else:
        try:
            connection.execute(DECISIONS.insert(), rows)
            stored = True
        except sa.exc.IntegrityError:
            stored = False
    if not stored:
        ids = [r["application_id"] for r in rows[:3]]
        raise AuditError(
            "application_id", f"already decided (one of {ids}{'...' if len(rows) > 3 else ''})"
        ) from None
    queued = [q for q in map(_queued, rows) if q is not None]
    if queued:  # the manual-review queue is written with the decision, in the same transaction
        connection.execute(REVIEWS.insert(), queued)


def _queued(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The review-queue row of a stored decision that went to people, else None."""
    if '"review"' not in row["decision"]:  # cheap test first: most decisions are not reviews
        return None
    decision = json.loads(row["decision"])
    if decision["outcome"] != "review":
        return None
    return {
        "application_id": row["application_id"],
        "stage": row["stage"],
        "queued_at_ns": row["decided_at_ns"],
        "reasons": json.dumps(decision["reasons"]),
    }


def _review(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "application_id": row["application_id"],
        "stage": row["stage"],
        "queued_at_ns": row["queued_at_ns"],
        "reasons": json.loads(row["reasons"]),
        "status": "pending" if row["settled_at_ns"] is None else "settled",
        "settled_at_ns": row["settled_at_ns"],
        "outcome": row["outcome"],
        "reviewer": row["reviewer"],
        "note": row["note"],
    }


def replay(
    log: AuditLog, application_id: str, model: Any, *, stage_models: Mapping[str, Any] | None = None
) -> Replay:
    """Decide a stored application again, from its stored inputs, under its stored policy and arm."""
    row = log.stored(application_id)
    version = getattr(model, "content_hash_", None)
    if row["model_version"] is not None and version is not None and version != row["model_version"]:
        raise AuditError("model", f"the decision was made with model {row['model_version']}, not {version}")
    engine = DecisionEngine(log.policy(row["policy_version"]), model, stage_models=stage_models)
    decision = engine.decide_one(row["stage"], json.loads(row["inputs"]))
    again = json.loads(_decision_json(decision))
    again["arm"] = row["arm"]  # the arm came from the hash split; the policy replayed is the arm's
    return Replay(json.loads(row["decision"]), again)
