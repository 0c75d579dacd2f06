"""The funding partners as the day goes: terms, capacity used against the day's limit, allocations and margin.

Terms are the partners the service matches with (:class:`creditmesh.matching.partners.Partners`); the day's limit
and what is reserved are the service's ``partner_capacity`` rows (the same guarded rows every drawdown reserves in,
the daily limit a month's capacity over :data:`creditmesh.api.platform.DAYS_PER_MONTH`); allocations are the loans
booked today; their expected margin is the matching box's formula for the partner's funding model
(:func:`creditmesh.matching.margin.pair_margin`, before acceptance: these were accepted).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from creditmesh.api.platform import DAYS_PER_MONTH, Platform, today
from creditmesh.api.tables import credit_line_profiles, drawdowns, partner_capacity
from creditmesh.funding import FUNDING_MODELS, get_model
from creditmesh.ledger.tables import loans
from creditmesh.matching.applications import applications_from_frame
from creditmesh.matching.margin import pair_margin
from creditmesh.money import format_minor

#: The most of a partner's allocations its page lists (the totals count them all).
ALLOCATIONS_SHOWN = 100


def _day_bounds_ns(day) -> tuple[int, int]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return int(start.timestamp() * 1e9), int((start + timedelta(days=1)).timestamp() * 1e9)


def _money(minor: int | float) -> str:
    return format_minor(int(round(minor)))


def todays_allocations(platform: Platform, institution_id: str | None = None) -> pd.DataFrame:
    """Loans booked today (one row each): partner, funding model, amount, tenor, APR, PD, grade, expected margin."""
    start, end = _day_bounds_ns(today())
    query = (
        sa.select(
            drawdowns.c.application_id,
            loans.c.loan_id,
            loans.c.institution_id,
            loans.c.funding_model,
            loans.c.principal_minor,
            loans.c.tenor_months,
            loans.c.apr_ppm,
            credit_line_profiles.c.pd,
            credit_line_profiles.c.score,
            credit_line_profiles.c.grade,
            credit_line_profiles.c.region,
            drawdowns.c.at_ns,
        )
        .join(loans, loans.c.loan_id == drawdowns.c.loan_id)
        .join(credit_line_profiles, credit_line_profiles.c.credit_line_id == drawdowns.c.credit_line_id)
        .where(drawdowns.c.outcome == "booked", drawdowns.c.at_ns >= start, drawdowns.c.at_ns < end)
        .order_by(drawdowns.c.at_ns.desc())
    )
    if institution_id is not None:
        query = query.where(loans.c.institution_id == institution_id)
    with platform.engine.connect() as connection:
        result = connection.execute(query)
        frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "application_id",
                "loan_id",
                "institution_id",
                "funding_model",
                "principal_minor",
                "tenor_months",
                "apr",
                "pd",
                "grade",
                "margin_minor",
            ]
        )
    frame["apr"] = frame.pop("apr_ppm") / 1e6
    frame["margin_minor"] = np.nan
    partners = platform.matcher.partners if platform.matcher is not None else None
    if partners is not None:
        index = {pid: j for j, pid in enumerate(partners.ids)}
        known = frame["institution_id"].map(index)
        rows = known.notna().to_numpy()
        if rows.any():
            apps = applications_from_frame(
                frame.loc[rows]
                .rename(columns={"principal_minor": "amount_minor"})
                .assign(region=lambda f: f["region"].fillna(""))
            )
            frame.loc[rows, "margin_minor"] = pair_margin(
                apps, partners, np.arange(len(apps)), known[rows].to_numpy(np.int64)
            )
    return frame


def _capacity(platform: Platform) -> dict[str, tuple[int, int]]:
    """Per partner with a row today: (today's limit, reserved), in minor units."""
    with platform.engine.connect() as connection:
        rows = connection.execute(sa.select(partner_capacity).where(partner_capacity.c.day == today())).all()
    return {r.institution_id: (int(r.capacity_minor), int(r.reserved_minor)) for r in rows}


def _terms(partner) -> dict[str, Any]:
    return {
        "institution_id": partner.institution_id,
        "name": partner.name,
        "funding_model": partner.funding_model,
        "funding_model_label": get_model(partner.funding_model).label,
        "max_pd": f"{partner.max_pd:.1%}",
        "min_score": f"{partner.min_score:g}",
        "amounts": f"{_money(partner.min_amount_minor)} to {_money(partner.max_amount_minor)}",
        "tenors": ", ".join(str(t) for t in partner.tenors),
        "regions": ", ".join(partner.regions) or "all",
        "apr": f"{partner.apr_min:.1%} to {partner.apr_max:.1%}",
        "funding_cost": f"{partner.funding_cost:.2%}",
        "fee_rate": "APR less funding cost" if partner.fee_rate is None else f"{partner.fee_rate:.2%}",
        "monthly_capacity": _money(partner.monthly_capacity_minor),
    }


def _totals(booked: pd.DataFrame) -> dict[str, tuple[int, int, float]]:
    """Per partner with loans today: (loans, principal, expected margin)."""
    if booked.empty:
        return {}
    grouped = booked.groupby("institution_id").agg(
        loans=("loan_id", "size"), principal=("principal_minor", "sum"), margin=("margin_minor", "sum")
    )
    return {i: (int(r.loans), int(r.principal), float(r.margin)) for i, r in grouped.iterrows()}


def _row(
    partner,
    capacity: dict[str, tuple[int, int]],
    totals: dict[str, tuple[int, int, float]],
    *,
    terms: bool = False,
) -> dict[str, Any]:
    """A partner's day (and its terms when asked: its own page shows them, the list does not)."""
    limit, used = capacity.get(partner.institution_id, (partner.monthly_capacity_minor // DAYS_PER_MONTH, 0))
    loans_today, volume, margin = totals.get(partner.institution_id, (0, 0, 0.0))
    brief = {
        "institution_id": partner.institution_id,
        "name": partner.name,
        "funding_model_label": get_model(partner.funding_model).label,
        "max_pd": f"{partner.max_pd:.1%}",
    }
    return {
        **(_terms(partner) if terms else brief),
        "limit_minor": limit,
        "used_minor": used,
        "limit": _money(limit),
        "used": _money(used),
        "used_share": used / limit if limit else 0.0,
        "loans_today": loans_today,
        "volume_today": _money(volume),
        "margin_today": _money(margin),
    }


def partners_page(platform: Platform) -> dict[str, Any]:
    """Every partner with today's capacity and allocations, and the day's funding-model mix."""
    if platform.matcher is None:
        return {"configured": False, "partners": [], "mix": []}
    booked = todays_allocations(platform)
    capacity = _capacity(platform)
    totals = _totals(booked)
    partners = [_row(p, capacity, totals) for p in platform.matcher.partners.partners]
    total = int(booked["principal_minor"].sum()) if len(booked) else 0
    mix = []
    for model in FUNDING_MODELS:
        mine = booked[booked["funding_model"] == model]
        volume = int(mine["principal_minor"].sum()) if len(mine) else 0
        mix.append(
            {
                "funding_model": model,
                "label": get_model(model).label,
                "loans": len(mine),
                "volume": _money(volume),
                "share": volume / total if total else 0.0,
                "margin": _money(float(mine["margin_minor"].sum()) if len(mine) else 0.0),
            }
        )
    return {
        "configured": True,
        "day": today().isoformat(),
        "partners": partners,
        "mix": mix,
        "total_volume": _money(total),
        "total_loans": len(booked),
        "total_margin": _money(float(booked["margin_minor"].sum()) if len(booked) else 0.0),
    }


def partner_page(platform: Platform, institution_id: str) -> dict[str, Any] | None:
    """One partner: its terms, today's capacity and the loans allocated to it today; None when unknown."""
    if platform.matcher is None:
        return None
    found = [p for p in platform.matcher.partners.partners if p.institution_id == institution_id]
    if not found:
        return None
    booked = todays_allocations(platform, institution_id)
    row = _row(found[0], _capacity(platform), _totals(booked), terms=True)
    shown = booked.head(ALLOCATIONS_SHOWN)
    return {
        "day": today().isoformat(),
        "partner": row,
        "allocations": [
            {
                "loan_id": r.loan_id,
                "application_id": r.application_id,
                "amount": _money(r.principal_minor),
                "tenor_months": int(r.tenor_months),
                "apr": f"{r.apr:.2%}",
                "pd": f"{r.pd:.2%}",
                "grade": r.grade,
                "margin": "" if pd.isna(r.margin_minor) else _money(r.margin_minor),
            }
            for r in shown.itertuples(index=False)
        ],
        "more": max(len(booked) - len(shown), 0),
    }
