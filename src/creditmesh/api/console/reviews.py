"""The review queue, one review opened, a review settled, and the audit log of settled reviews.

The queue is the decision log's (:meth:`creditmesh.decision.audit.AuditLog.pending_reviews`, oldest first); a review
is settled through :meth:`creditmesh.api.platform.Platform.settle_review`, as ``POST /v1/reviews/{id}`` does, with
the signed-in key's owner as the reviewer. The pre-loan investigation report is the matching box's
(:func:`creditmesh.matching.report.report_for_decision`), masked as a partner would receive it.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from creditmesh.api.console.graphs import GraphCache, neighbourhood, ring_of
from creditmesh.api.console.pictures import cutoff_svg, graph_svg
from creditmesh.api.keys import Principal
from creditmesh.api.platform import Platform
from creditmesh.api.tables import credit_line_profiles, drawdowns
from creditmesh.decision.audit import REVIEWS, AuditError
from creditmesh.errors import ParameterError
from creditmesh.matching.report import report_for_decision
from creditmesh.money import format_minor

#: The most reviews the queue shows at once, and the most settled ones the audit log lists.
QUEUE_SHOWN = 200
AUDIT_SHOWN = 200
#: The longest note a reviewer may leave.
MAX_NOTE = 500


def when(ns: int | None) -> str:
    """A UTC time as a person reads it."""
    if ns is None:
        return ""
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def waited(ns: int, now_ns: int | None = None) -> str:
    """How long ago, in the largest whole unit."""
    seconds = max(0, ((now_ns or time.time_ns()) - ns) // 1_000_000_000)
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def queue(platform: Platform, *, limit: int = QUEUE_SHOWN) -> list[dict[str, Any]]:
    """Pending reviews, oldest first, with how long each has waited."""
    now = time.time_ns()
    return [
        {**r, "queued": when(r["queued_at_ns"]), "waited": waited(r["queued_at_ns"], now)}
        for r in platform.audit.pending_reviews(limit=limit)
    ]


def pending_count(platform: Platform) -> int:
    with platform.engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).select_from(REVIEWS).where(REVIEWS.c.settled_at_ns.is_(None))
            ).scalar_one()
        )


def audit_log(platform: Platform, *, limit: int = AUDIT_SHOWN) -> list[dict[str, Any]]:
    """Settled reviews, the latest first: who settled what, how, when, with which note."""
    with platform.engine.connect() as connection:
        rows = connection.execute(
            sa.select(REVIEWS)
            .where(REVIEWS.c.settled_at_ns.is_not(None))
            .order_by(REVIEWS.c.settled_at_ns.desc(), REVIEWS.c.application_id)
            .limit(limit)
        ).all()
    return [
        {
            "application_id": r.application_id,
            "stage": r.stage,
            "reasons": json.loads(r.reasons),
            "outcome": r.outcome,
            "reviewer": r.reviewer,
            "note": r.note or "",
            "queued": when(r.queued_at_ns),
            "settled": when(r.settled_at_ns),
        }
        for r in rows
    ]


def borrower_of(platform: Platform, application_id: str, inputs: dict[str, Any]) -> str | None:
    """The borrower behind an application: named in a credit-line application, found through the line for a draw."""
    if inputs.get("borrower_id"):
        return str(inputs["borrower_id"])
    with platform.engine.connect() as connection:
        return connection.execute(
            sa.select(credit_line_profiles.c.borrower_id)
            .join(drawdowns, drawdowns.c.credit_line_id == credit_line_profiles.c.credit_line_id)
            .where(drawdowns.c.application_id == application_id)
        ).scalar_one_or_none()


def review_page(
    platform: Platform, graphs: GraphCache, matcher: Any, salt: str, application_id: str
) -> dict[str, Any] | None:
    """Everything one review shows, or None when no review is queued under that id."""
    try:
        review = platform.audit.review(application_id)
    except AuditError:
        return None
    row = platform.audit.stored(application_id)
    decision, inputs = json.loads(row["decision"]), json.loads(row["inputs"])
    # the report as the partner would receive it once a reviewer approves (the automated path's proposal)
    try:
        report = report_for_decision({**decision, "outcome": "approve"}, inputs, matcher, salt=salt)
    except ParameterError:
        report = None
    borrower = borrower_of(platform, application_id, inputs)
    snapshot = graphs.latest()
    picture = neighbourhood(snapshot, borrower) if borrower else None
    stage_policy = platform.decisions.policy_of(decision["arm"]).document.credit_line
    gauge = None
    if decision.get("pd") is not None:
        gauge = cutoff_svg(
            float(decision["pd"]),
            stage_policy.max_pd,
            stage_policy.review_band_below,
            stage_policy.review_band_above,
        )
    return {
        "review": {
            **review,
            "queued": when(review["queued_at_ns"]),
            "settled": when(review["settled_at_ns"]),
        },
        "decision": decision,
        "inputs": {k: v for k, v in sorted(inputs.items()) if k not in ("request_sha256", "borrower_id")},
        "stage": row["stage"],
        "decided": when(row["decided_at_ns"]),
        "line": format_minor(int(decision.get("credit_line_minor") or 0)),
        "report": report,
        "borrower": borrower,
        "ring": ring_of(snapshot, borrower) if borrower else None,
        "neighbourhood": picture,
        "neighbourhood_svg": None
        if not picture or not picture.nodes
        else graph_svg(
            picture.nodes,
            picture.edges,
            title=f"The applicant's neighbourhood: {len(picture.nodes)} borrowers within two links",
            description="Borrowers linked by shared identifiers (hashed); the applicant in blue, "
            "black-listed borrowers in red, delinquent ones in brown.",
        ),
        "gauge": gauge,
        "cutoff": {
            "max_pd": stage_policy.max_pd,
            "band_below": stage_policy.review_band_below,
            "band_above": stage_policy.review_band_above,
            "min_score": stage_policy.min_score,
        },
    }


def settle(platform: Platform, who: Principal, application_id: str, fields: dict[str, str]) -> dict[str, Any]:
    """A reviewer's answer from the form (``outcome``, ``note``), recorded with the key's owner as the reviewer."""
    outcome = fields.get("outcome", "")
    note = fields.get("note", "").strip()
    if outcome not in ("approve", "decline"):
        raise ParameterError("outcome", "choose approve or decline")
    if len(note) > MAX_NOTE:
        raise ParameterError("note", f"at most {MAX_NOTE} characters, got {len(note)}")
    try:
        return platform.settle_review(who, application_id, outcome, note)
    except AuditError as error:
        raise ParameterError(error.field, error.reason) from None
