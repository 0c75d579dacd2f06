"""Decisions looked up by application id: the stored inputs, versions, reasons and timing, and a replay.

The decision log (:mod:`creditmesh.decision.audit`) keeps every decision with its inputs as received, its policy
(by content hash) and model version, its arm, reasons and how long it took. A replay decides the stored inputs again
under the stored policy with the service's model (:func:`creditmesh.decision.audit.replay`): the console shows both
answers and whether they are identical.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from creditmesh.api.console.reviews import when
from creditmesh.api.platform import Platform
from creditmesh.decision.audit import DECISIONS, AuditError, replay

#: The most decisions one search lists.
SEARCH_SHOWN = 25
#: The longest search text (an application id is at most 128 characters).
MAX_QUERY = 128


def _summary(row) -> dict[str, Any]:
    decision = json.loads(row.decision)
    return {
        "application_id": row.application_id,
        "stage": row.stage,
        "decided": when(row.decided_at_ns),
        "outcome": decision["outcome"],
        "reasons": decision.get("reasons") or [],
        "arm": row.arm,
    }


def search(platform: Platform, text: str, *, limit: int = SEARCH_SHOWN) -> list[dict[str, Any]]:
    """Decisions whose application id starts with ``text``, in id order; nothing for an empty text. On SQLite the
    prefix is also a range on the log's key (binary order), so the index answers it rather than a scan."""
    text = text.strip()[:MAX_QUERY]
    if not text:
        return []
    query = (
        sa.select(
            DECISIONS.c.application_id,
            DECISIONS.c.stage,
            DECISIONS.c.decided_at_ns,
            DECISIONS.c.arm,
            DECISIONS.c.decision,
        )
        .where(DECISIONS.c.application_id.startswith(text, autoescape=True))
        .order_by(DECISIONS.c.application_id)
        .limit(limit)
    )
    with platform.engine.connect() as connection:
        if (
            connection.dialect.name == "sqlite"
        ):  # ids are ASCII: every one with the prefix sorts below prefix + U+FFFF
            query = query.where(
                DECISIONS.c.application_id >= text, DECISIONS.c.application_id < text + "\uffff"
            )
        rows = connection.execute(query).all()
    return [_summary(r) for r in rows]


def decision_page(platform: Platform, application_id: str) -> dict[str, Any] | None:
    """One stored decision as the page shows it, or None when there is none under that id."""
    try:
        row = platform.audit.stored(application_id)
    except AuditError:
        return None
    decision = json.loads(row["decision"])
    inputs = json.loads(row["inputs"])
    return {
        "application_id": application_id,
        "stage": row["stage"],
        "decided": when(row["decided_at_ns"]),
        "elapsed_us": row["elapsed_us"],
        "policy_version": row["policy_version"],
        "model_version": row["model_version"],
        "arm": row["arm"],
        "decision": decision,
        "inputs": dict(sorted(inputs.items())),
        "shadow": json.loads(row["shadow"]) if row["shadow"] else None,
    }


def replay_page(platform: Platform, application_id: str) -> dict[str, Any]:
    """The stored decision decided again: both answers, the fields that differ, and whether they are identical."""
    engine = platform.decisions
    try:
        result = replay(platform.audit, application_id, engine.model, stage_models=engine.stage_models)
    except AuditError as error:
        return {"error": f"{error.field}: {error.reason}"}
    fields = sorted(set(result.stored) | set(result.replayed))
    return {
        "identical": result.identical,
        "rows": [
            {
                "field": f,
                "stored": result.stored.get(f),
                "replayed": result.replayed.get(f),
                "same": result.stored.get(f) == result.replayed.get(f),
            }
            for f in fields
        ],
    }
