"""The rings pages: the largest rings with their features, and one ring drawn with its members' decisions and loans.

A member's decisions are its credit-line applications in the decision log (the inputs name the borrower) and the
drawdowns on its lines; its loans are the ledger's. A ring's page reads at most :data:`MAX_MEMBERS_READ` members.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import sqlalchemy as sa

from creditmesh.api.console.graphs import GraphSnapshot, ring_picture, rings
from creditmesh.api.console.pictures import graph_svg
from creditmesh.api.console.reviews import when
from creditmesh.api.platform import Platform
from creditmesh.api.tables import credit_line_profiles, drawdowns
from creditmesh.decision.audit import DECISIONS
from creditmesh.graph.rings import ring_indices
from creditmesh.ledger.tables import loans
from creditmesh.money import format_minor
from creditmesh.stages import CREDIT_LINE

MAX_MEMBERS_READ = 200


def rings_page(snapshot: GraphSnapshot) -> dict[str, Any]:
    table = rings(snapshot)
    return {
        "borrowers": 0 if snapshot.graph is None else snapshot.graph.n_borrowers,
        "events": snapshot.seq,
        "rings": table.to_dict("records"),
    }


def applications_by_borrower(platform: Platform, snapshot: GraphSnapshot) -> dict[str, list[str]]:
    """Credit-line application ids by the borrower their inputs name: one read of the log per graph snapshot (the
    log has no index by borrower), kept with the snapshot; a new borrower's application brings a new snapshot."""
    if "applications" not in snapshot.memo:
        with platform.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                named = sa.cast(DECISIONS.c.inputs, sa.JSON)["borrower_id"].as_string()
            else:
                named = sa.func.json_extract(DECISIONS.c.inputs, "$.borrower_id")
            rows = connection.execute(
                sa.select(DECISIONS.c.application_id, named).where(DECISIONS.c.stage == CREDIT_LINE.name)
            ).all()
        found: dict[str, list[str]] = {}
        for application_id, borrower_id in rows:
            found.setdefault(borrower_id, []).append(application_id)
        snapshot.memo["applications"] = found
    return snapshot.memo["applications"]


def _members_decisions(
    platform: Platform, snapshot: GraphSnapshot, members: list[str]
) -> list[dict[str, Any]]:
    """Members' credit-line decisions (by the inputs' borrower id) and the drawdowns on members' lines."""
    known = applications_by_borrower(platform, snapshot)
    ids = [a for m in members for a in known.get(m, ())]
    with platform.engine.connect() as connection:
        applied = connection.execute(
            sa.select(
                DECISIONS.c.application_id,
                DECISIONS.c.stage,
                DECISIONS.c.decided_at_ns,
                DECISIONS.c.decision,
                DECISIONS.c.inputs,
            )
            .where(DECISIONS.c.application_id.in_(ids))
            .order_by(DECISIONS.c.decided_at_ns)
        ).all()
        drawn = connection.execute(
            sa.select(
                drawdowns.c.application_id,
                drawdowns.c.outcome,
                drawdowns.c.amount_minor,
                drawdowns.c.at_ns,
                credit_line_profiles.c.borrower_id,
            )
            .join(credit_line_profiles, credit_line_profiles.c.credit_line_id == drawdowns.c.credit_line_id)
            .where(credit_line_profiles.c.borrower_id.in_(members))
            .order_by(drawdowns.c.at_ns)
        ).all()
    out = []
    for row in applied:
        decision = json.loads(row.decision)
        out.append(
            {
                "borrower_id": json.loads(row.inputs).get("borrower_id"),
                "application_id": row.application_id,
                "stage": row.stage,
                "when": when(row.decided_at_ns),
                "outcome": decision["outcome"],
                "reasons": decision.get("reasons") or [],
            }
        )
    for row in drawn:
        out.append(
            {
                "borrower_id": row.borrower_id,
                "application_id": row.application_id,
                "stage": "drawdown",
                "when": when(row.at_ns),
                "outcome": row.outcome,
                "reasons": [f"amount {format_minor(int(row.amount_minor))}"],
            }
        )
    return sorted(out, key=lambda r: (r["when"], r["application_id"]))


def ring_page(platform: Platform, snapshot: GraphSnapshot, ring: int) -> dict[str, Any] | None:
    """One ring: its features, its picture, the identifier kinds its members share, their decisions and loans."""
    if snapshot.graph is None or not 0 <= ring < snapshot.labels.shape[0]:
        return None
    table = rings(snapshot, limit=snapshot.labels.shape[0])
    found = table[table["ring"] == ring]
    if found.empty:
        return None
    picture = ring_picture(snapshot, ring)
    members_index = ring_indices(snapshot.labels, ring)[:MAX_MEMBERS_READ]
    members = snapshot.graph.borrower_ids.take(members_index).to_pylist()
    kinds = Counter(k for edge in picture.edges for k in edge["kinds"].split(",") if k)
    with platform.engine.connect() as connection:
        booked = connection.execute(
            sa.select(
                loans.c.loan_id,
                loans.c.borrower_id,
                loans.c.institution_id,
                loans.c.funding_model,
                loans.c.principal_minor,
                loans.c.status,
                loans.c.originated_on,
            )
            .where(loans.c.borrower_id.in_(members))
            .order_by(loans.c.originated_on, loans.c.loan_id)
        ).all()
    return {
        "ring": ring,
        "features": {
            k: (v.item() if hasattr(v, "item") else v) for k, v in found.astype(object).iloc[0].items()
        },
        "svg": graph_svg(
            picture.nodes,
            picture.edges,
            title=f"Ring {ring}: {len(picture.nodes)} members and the strong links among them",
            description="Members linked by shared identifiers (hashed), each link labelled with the kinds shared; "
            "black-listed members in red, delinquent ones in brown.",
        ),
        "not_drawn": picture.truncated,
        "edges": picture.edges,
        "kinds": sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])),
        "members": [{"borrower_id": m, "flags": snapshot.flags(m)} for m in members],
        "decisions": _members_decisions(platform, snapshot, members),
        "loans": [
            {
                "loan_id": r.loan_id,
                "borrower_id": r.borrower_id,
                "institution_id": r.institution_id,
                "funding_model": r.funding_model,
                "principal": format_minor(int(r.principal_minor)),
                "status": r.status,
                "originated_on": str(r.originated_on),
            }
            for r in booked
        ],
    }
