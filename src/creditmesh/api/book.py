"""The service's book as the tables of :mod:`creditmesh.schema`: the ledger's export plus who borrowed and from whom.

The ledger exports loans, installments, payments and loan_days; the portfolio also needs borrowers,
credit lines and institutions. Those come from the service's own tables (the line's profile and the
decision's stored inputs: channel, region, age) and from the partners the service matches with, so
``creditmesh metrics`` and ``creditmesh report`` read what the service booked.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from creditmesh.api.tables import credit_line_events, credit_line_profiles
from creditmesh.decision.audit import DECISIONS
from creditmesh.ledger import Ledger
from creditmesh.ledger.tables import credit_lines
from creditmesh.schema import CHANNELS, validate

#: A region the applicant did not declare is reported as this.
UNKNOWN_REGION = "unknown"


def _day_timestamp(values: list) -> pa.Array:
    days = pa.array([v if isinstance(v, date) else date.fromisoformat(v) for v in values], pa.date32())
    return days.cast(pa.timestamp("s")).cast(pa.timestamp("us", tz="UTC"))


def people_tables(ledger: Ledger) -> dict[str, pa.Table]:
    """Borrowers and credit lines of the service's book, in the schema's types."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                credit_lines.c.credit_line_id,
                credit_lines.c.borrower_id,
                credit_line_profiles.c.application_id,
                credit_line_profiles.c.region,
                credit_lines.c.limit_minor,
                credit_lines.c.apr_ppm,
                credit_lines.c.opened_on,
                credit_lines.c.status,
                DECISIONS.c.inputs,
                sa.select(sa.func.max(credit_line_events.c.at_ns))
                .where(
                    credit_line_events.c.credit_line_id == credit_lines.c.credit_line_id,
                    credit_line_events.c.kind != "open",
                )
                .scalar_subquery()
                .label("adjusted_at_ns"),
            )
            .join(
                credit_line_profiles, credit_line_profiles.c.credit_line_id == credit_lines.c.credit_line_id
            )
            .join(DECISIONS, DECISIONS.c.application_id == credit_line_profiles.c.application_id)
            .order_by(credit_lines.c.opened_on, credit_lines.c.credit_line_id)
        ).all()
    opened = _day_timestamp([r.opened_on for r in rows])
    adjusted = pa.array([r.adjusted_at_ns // 1_000 if r.adjusted_at_ns else None for r in rows], pa.int64())
    lines = pa.table(
        {
            "credit_line_id": [r.credit_line_id for r in rows],
            "borrower_id": [r.borrower_id for r in rows],
            "application_id": [r.application_id for r in rows],
            "limit_minor": pa.array([r.limit_minor for r in rows], pa.int64()),
            "apr": pa.array([r.apr_ppm / 1e6 for r in rows], pa.float64()),
            "opened_at": opened,
            "status": [r.status for r in rows],
            "last_adjusted_at": adjusted.cast(pa.timestamp("us", tz="UTC")),
        }
    )
    first: dict[str, int] = {}
    for k, r in enumerate(rows):  # a borrower registers with its first line
        first.setdefault(r.borrower_id, k)
    people = [rows[k] for k in first.values()]
    inputs = [json.loads(r.inputs) for r in people]
    years = [opened[k].as_py().year for k in first.values()]
    borrowers = pa.table(
        {
            "borrower_id": [r.borrower_id for r in people],
            "registered_at": pa.array([opened[k] for k in first.values()], opened.type),
            "channel": [i.get("channel") if i.get("channel") in CHANNELS else CHANNELS[0] for i in inputs],
            "region": [r.region or UNKNOWN_REGION for r in people],
            "birth_year": pa.array([y - int(i["age"]) for y, i in zip(years, inputs)], pa.int16()),
        }
    )
    return {"borrowers": validate("borrowers", borrowers), "credit_lines": validate("credit_lines", lines)}


def institutions_table(partners_path: str | Path) -> pa.Table:
    """The partners the service matches with, as the ``institutions`` table."""
    from creditmesh.matching import load_partners

    partners = load_partners(partners_path).partners
    return validate(
        "institutions",
        pa.table(
            {
                "institution_id": [p.institution_id for p in partners],
                "name": [p.name for p in partners],
                "funding_model": [p.funding_model for p in partners],
                "max_pd": [p.max_pd for p in partners],
                "min_score": pa.array([int(p.min_score) for p in partners], pa.int16()),
                "max_amount_minor": pa.array([p.max_amount_minor for p in partners], pa.int64()),
                "tenors": pa.array([list(p.tenors) for p in partners], pa.list_(pa.int16())),
                "regions": pa.array([list(p.regions) for p in partners], pa.list_(pa.string())),
                "apr_min": [p.apr_min for p in partners],
                "apr_max": [p.apr_max for p in partners],
                "funding_cost": [p.funding_cost for p in partners],
                "monthly_capacity_minor": pa.array([p.monthly_capacity_minor for p in partners], pa.int64()),
            }
        ),
    )


def export_book(ledger: Ledger, directory: str | Path, partners_path: str | Path) -> dict[str, int]:
    """Write the whole book the portfolio reads: the ledger's tables, borrowers, credit lines, institutions."""
    counts = ledger.export(directory)
    tables = {**people_tables(ledger), "institutions": institutions_table(partners_path)}
    for name, table in tables.items():
        pq.write_table(table, Path(directory) / f"{name}.parquet", compression="zstd")
        counts[name] = table.num_rows
    return counts
