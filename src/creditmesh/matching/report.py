"""The pre-loan investigation report handed to the chosen partner, and revenue by funding model.

:func:`investigation_report` builds the report (a JSON-ready dict) from the stored decision, the
application's inputs as received and the matching answer: identity and device checks, fraud and
graph findings, score, grade, PD and top reasons, affordability, the borrower's history, the
recommended line and APR. Personal data never leaves unmasked: identifiers (application id,
phone, id number, name, bank card, device id) become salted hashes, age and income become bands.
:func:`report_html` renders it as a page (Jinja2, autoescaped).

:func:`revenue_by_funding_model` sums allocations per funding model: volume, expected revenue and
the share of volume funded under the capital-light, ICE and technology-solution models (the seeds'
headline "capital-light model, ICE and total technology solutions" share).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from creditmesh.funding import FUNDING_MODELS, PLATFORM_SERVICE_MODELS
from creditmesh.matching.online import Match, OnlineMatcher
from creditmesh.money import Rounding, format_minor, rate_to_ppm
from creditmesh.schedules import annuity_payment_minor

#: Fields of an application that identify a person: never copied, only their salted hash.
IDENTIFIERS = (
    "application_id",
    "borrower_id",
    "phone",
    "id_number",
    "name",
    "bank_card",
    "device_id",
    "email",
    "address",
    "ip",
)
#: Tenor assumed for affordability when the application names none (the simulator's most common).
DEFAULT_TENOR_MONTHS = 12
REPORT_VERSION = "1"


def mask(value: Any, salt: str) -> str:
    """A salted, keyed hash of a personal value (16 hex digits): the same value always masks the same."""
    digest = hmac.new(salt.encode(), str(value).encode(), hashlib.sha256).hexdigest()
    return f"h:{digest[:16]}"


def _band(value: float | None, edges: tuple[float, ...], unit: str = "") -> str | None:
    if value is None:
        return None
    for low, high in zip(edges, edges[1:]):
        if low <= value < high:
            return f"{low:g}-{high:g}{unit}"
    return f">={edges[-1]:g}{unit}" if value >= edges[-1] else f"<{edges[0]:g}{unit}"


def _get(application: Mapping[str, Any], key: str) -> Any:
    value = application.get(key)
    return None if value is None or (isinstance(value, float) and value != value) else value


def investigation_report(
    decision: Mapping[str, Any],
    application: Mapping[str, Any],
    match: Match | None,
    *,
    salt: str,
    history: Mapping[str, Any] | None = None,
    generated_at: datetime | None = None,
) -> dict[str, Any]:
    """The report for one approved application (see the module); personal values masked with ``salt``."""
    line = int(decision.get("credit_line_minor") or 0)
    apr = decision.get("apr")
    tenor = int(
        _get(application, "tenor_months") or _get(application, "requested_tenor") or DEFAULT_TENOR_MONTHS
    )
    income = _get(application, "monthly_income_minor")
    installment = None
    if line > 0 and apr is not None:
        installment = int(
            annuity_payment_minor(
                np.array([line]),
                rate_to_ppm(np.array([float(apr)])),
                np.array([tenor]),
                rounding=Rounding.HALF_UP,
            )[0]
        )
    partner = match.partner if match is not None else None
    identifiers = {
        k: mask(application[k], salt)
        for k in IDENTIFIERS
        if _get(application, k) is not None and k != "application_id"
    }
    return {
        "report_version": REPORT_VERSION,
        "reference": mask(decision["application_id"], salt),
        "generated_at": (generated_at or datetime.now(UTC)).isoformat(),
        "partner": None
        if partner is None
        else {
            "institution_id": partner.institution_id,
            "funding_model": partner.funding_model,
            "expected_margin_minor": round(partner.expected_margin, 2),
            "fallback_order": [o.institution_id for o in match.offers[1:6]],
        },
        "no_partner_reasons": [] if match is None or partner is not None else list(match.reasons),
        "identity_and_device": {
            "identifiers_on_file": identifiers,
            "age_band": _band(_get(application, "age"), (16, 25, 35, 45, 55, 65), " years"),
            "channel": _get(application, "channel"),
            "device_age_days": _get(application, "device_age_days"),
            "new_device": None
            if _get(application, "device_age_days") is None
            else application["device_age_days"] < 30,
            "apply_hour": _get(application, "apply_hour"),
            "night_application": None
            if _get(application, "apply_hour") is None
            else application["apply_hour"] < 6,
            "contacts_count": _get(application, "contacts_count"),
        },
        "fraud_and_graph": {
            "on_blacklist": _get(application, "on_blacklist"),
            "ring_size": _get(application, "ring_size"),
            "blacklist_hops": _get(application, "blacklist_hops"),
            "neighbour_links_blacklisted": _get(application, "neighbour_links_blacklisted"),
        },
        "credit": {
            "score": decision.get("score"),
            "grade": decision.get("grade"),
            "pd": decision.get("pd"),
            "top_reasons": list(decision.get("reasons") or [])[:5],
            "policy_version": decision.get("policy_version"),
        },
        "affordability": {
            "monthly_income_band": _band(
                None if income is None else income / 100, (0, 3_000, 6_000, 10_000, 20_000, 50_000), " CNY"
            ),
            "monthly_installment_minor": installment,
            "debt_service_ratio": None
            if installment is None or not income
            else round(installment / income, 3),
            "employment": _get(application, "employment"),
        },
        "history": {
            "bureau_delinquencies_24m": _get(application, "bureau_delinquencies_24m"),
            "bureau_inquiries_6m": _get(application, "bureau_inquiries_6m"),
            "months_on_book": _get(application, "months_on_book"),
            "max_dpd_on_book": _get(application, "max_dpd_on_book"),
            **({} if history is None else {k: v for k, v in history.items() if k not in IDENTIFIERS}),
        },
        "recommendation": {
            "outcome": decision.get("outcome"),
            "credit_line_minor": line,
            "apr": apr,
            "tenor_months": tenor,
        },
        "masked": sorted(["reference", *identifiers, "age", "monthly_income"]),
    }


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Pre-loan investigation {{ r.reference }}</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse;margin-bottom:1.5em}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}h2{margin-top:1.5em}</style></head><body>
<h1>Pre-loan investigation report</h1>
<p>Reference {{ r.reference }} &middot; generated {{ r.generated_at }} &middot; report version {{ r.report_version }}</p>
{% if r.partner %}<p>Prepared for <b>{{ r.partner.institution_id }}</b> ({{ r.partner.funding_model }}); fallback:
{{ r.partner.fallback_order | join(", ") or "none" }}.</p>{% else %}<p>No partner: {{ r.no_partner_reasons | join(", ") }}</p>{% endif %}
<h2>Recommendation</h2><table>
<tr><th>Outcome</th><td>{{ r.recommendation.outcome }}</td></tr>
<tr><th>Credit line</th><td>{{ line }}</td></tr>
<tr><th>APR</th><td>{{ apr }}</td></tr><tr><th>Tenor</th><td>{{ r.recommendation.tenor_months }} months</td></tr></table>
{% for title, key in sections %}<h2>{{ title }}</h2><table>
{% for name, value in r[key].items() %}<tr><th>{{ name | replace("_", " ") }}</th><td>{% if value is mapping %}{% for k, v in value.items() %}{{ k }}: {{ v }}<br>{% endfor %}{% elif value is none %}&mdash;{% else %}{{ value }}{% endif %}</td></tr>
{% endfor %}</table>{% endfor %}
<p>Personal data masked: {{ r.masked | join(", ") }}.</p></body></html>
"""


def report_html(report: Mapping[str, Any]) -> str:
    """The report as a readable HTML page."""
    from jinja2 import Environment

    apr = report["recommendation"]["apr"]
    sections = [
        ("Credit", "credit"),
        ("Identity and device", "identity_and_device"),
        ("Fraud and graph", "fraud_and_graph"),
        ("Affordability", "affordability"),
        ("History", "history"),
    ]
    return (
        Environment(autoescape=True)
        .from_string(_PAGE)
        .render(
            r=report,
            sections=sections,
            line=format_minor(int(report["recommendation"]["credit_line_minor"])),
            apr="—" if apr is None else f"{apr:.2%}",
        )
    )


def revenue_by_funding_model(allocations: pd.DataFrame) -> pd.DataFrame:
    """Volume, expected revenue and share of volume per funding model, from allocations.

    ``allocations`` holds ``funding_model``, ``amount_minor`` and ``expected_margin_minor`` (float, an
    expected value). The last row, ``platform_service``, totals the capital-light, ICE and technology
    models: its ``volume_share`` is the seeds' headline share.
    """
    missing = [
        c for c in ("funding_model", "amount_minor", "expected_margin_minor") if c not in allocations.columns
    ]
    if missing:
        from creditmesh.errors import SchemaError

        raise SchemaError("allocations", f"missing columns {missing}")
    grouped = allocations.groupby("funding_model").agg(
        loans=("amount_minor", "size"),
        volume_minor=("amount_minor", "sum"),
        expected_revenue_minor=("expected_margin_minor", "sum"),
    )
    table = grouped.reindex(list(FUNDING_MODELS), fill_value=0)
    table["volume_minor"] = table["volume_minor"].astype(np.int64)
    table.loc["platform_service"] = table.loc[list(PLATFORM_SERVICE_MODELS)].sum()
    total = int(table.loc[list(FUNDING_MODELS), "volume_minor"].sum())
    table["volume_share"] = table["volume_minor"] / total if total else 0.0
    table["loans"] = table["loans"].astype(np.int64)
    table["volume_minor"] = table["volume_minor"].astype(np.int64)
    return table.reset_index(names="funding_model")


def report_for_decision(
    decision: Mapping[str, Any], inputs: Mapping[str, Any], matcher: OnlineMatcher | None, *, salt: str
) -> dict[str, Any]:
    """The report for a stored decision (the audit log's decision and inputs), ranking partners with
    ``matcher`` without reserving capacity (None: no partners configured)."""
    from creditmesh.errors import ParameterError

    if decision.get("outcome") != "approve":
        raise ParameterError(
            "application_id", f"{decision.get('application_id')} was not approved ({decision.get('outcome')})"
        )
    line = int(decision.get("credit_line_minor") or 0)
    if matcher is None:
        match = Match(str(decision["application_id"]), line, (), ("matching_not_configured",))
    elif (
        decision.get("pd") is None
        or decision.get("score") is None
        or decision.get("apr") is None
        or line <= 0
    ):
        # a drawdown or line review is decided on behaviour, without a fresh PD and score to match on
        match = Match(str(decision["application_id"]), line, (), ("no_score_to_match_on",))
    else:
        match = matcher.rank(
            {
                "application_id": decision["application_id"],
                "pd": decision.get("pd"),
                "score": decision.get("score"),
                "grade": decision.get("grade"),
                "amount_minor": line,
                "apr": decision.get("apr"),
                "tenor_months": int(
                    _get(inputs, "tenor_months") or _get(inputs, "requested_tenor") or DEFAULT_TENOR_MONTHS
                ),
                "region": _get(inputs, "region") or "",
            }
        )
    return investigation_report(decision, inputs, match, salt=salt)
