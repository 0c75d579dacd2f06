"""One decision over HTTP: decided and stored once per application id, then answered from the log.

The audit log stores the decision (in one transaction with its policy) before :func:`decide_once`
returns, so the caller is never told something the log does not hold. A repeat of an application
id with the same inputs gets the stored decision back; with other inputs or another stage, 409.

The routes are ``async`` and call this inline, on the event loop: a decision takes about a
millisecond of CPU, and deciding in turn on one loop cost less CPU per request than handing each
to a thread (measured with ``benchmarks/api_load.py``) and keeps a SQLite log to one writer per
process. Scale with processes (``creditmesh serve --workers``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException, status

from creditmesh.api.metrics import ServiceMetrics
from creditmesh.api.models import DecisionOut
from creditmesh.decision import DecisionEngine
from creditmesh.decision.audit import AuditError, AuditLog


def stored_or_none(log: AuditLog, application_id: str) -> Mapping[str, Any] | None:
    """The stored row of a decision, or None when the id has not been decided."""
    try:
        return log.stored(application_id)
    except AuditError:
        return None


def stored_decision(row: Mapping[str, Any]) -> DecisionOut:
    return DecisionOut.from_row(json.loads(row["decision"]))


def decide_once(
    log: AuditLog,
    engine: DecisionEngine,
    stage: str,
    application: dict[str, Any],
    metrics: ServiceMetrics | None = None,
) -> DecisionOut:
    """The decision for ``application`` at ``stage``: made and stored now, or the stored one for a repeat.

    A decision made now (not a repeat) is counted in ``metrics`` by stage, outcome and automation.
    """
    application_id = application["application_id"]
    row = stored_or_none(log, application_id)
    if row is None:
        try:
            decision = log.decide(engine, stage, application)
            if metrics is not None:
                metrics.observe_decision(stage, decision.outcome, bool(decision.automated))
            return DecisionOut.from_row(decision.as_row())
        except AuditError as error:
            row = stored_or_none(log, application_id) if error.field == "application_id" else None
            if row is None:
                raise
    if row["stage"] != stage or json.loads(row["inputs"]) != application:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            [
                {
                    "loc": ["body", "application_id"],
                    "type": "conflict",
                    "msg": f"application {application_id} was already decided ({row['stage']}) with other inputs",
                }
            ],
        )
    return stored_decision(row)
