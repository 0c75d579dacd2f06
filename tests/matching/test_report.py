"""The investigation report: every section there, personal data never in the JSON or the HTML."""

from __future__ import annotations

import json

import pytest
from _matching_cases import partner

from creditmesh.errors import ParameterError
from creditmesh.matching import OnlineMatcher, investigation_report, load_partners, report_html
from creditmesh.matching.report import mask, report_for_decision

PERSONAL = {
    "application_id": "APP-8812-7731",
    "borrower_id": "B-5550123",
    "phone": "13912345678",
    "id_number": "110101199003074514",
    "name": "Zhang Wei",
    "bank_card": "6222020200112233445",
    "device_id": "dev-7f3a9c1e55",
    "monthly_income_minor": 1_234_567,
}
DECISION = {
    "application_id": "APP-8812-7731",
    "outcome": "approve",
    "score": 612.4,
    "pd": 0.031,
    "grade": "D",
    "credit_line_minor": 800_000,
    "apr": 0.18,
    "reasons": ["bureau_inquiries_6m", "device_age_days"],
    "policy_version": "abc123",
}


def _inputs() -> dict:
    return {
        **PERSONAL,
        "age": 37,
        "channel": "app",
        "employment": "salaried",
        "bureau_score": 640,
        "bureau_inquiries_6m": 3,
        "bureau_delinquencies_24m": 0,
        "device_age_days": 12,
        "apply_hour": 2,
        "contacts_count": 140,
        "region": "R01",
        "on_blacklist": False,
        "ring_size": 4,
    }


def test_the_report_masks_every_personal_value_in_json_and_html():
    partners = load_partners([partner("P1", fee_rate=0.06), partner("P2", fee_rate=0.03)])
    report = report_for_decision(DECISION, _inputs(), OnlineMatcher(partners), salt="s3cret")
    text = json.dumps(report) + report_html(report)
    for key, value in PERSONAL.items():
        assert str(value) not in text, f"{key} leaked"
    assert "12,345.67" not in text and "1234567" not in text
    assert report["reference"] == mask("APP-8812-7731", "s3cret") != mask("APP-8812-7731", "other")
    assert report["identity_and_device"]["identifiers_on_file"]["phone"] == mask("13912345678", "s3cret")
    assert (
        report["identity_and_device"]["age_band"] == "35-45 years"
        and "age" not in report["identity_and_device"]
    )
    assert report["affordability"]["monthly_income_band"] == "10000-20000 CNY"


def test_the_report_holds_every_section_for_the_chosen_partner():
    partners = load_partners([partner("P1", fee_rate=0.06), partner("P2", fee_rate=0.03)])
    report = report_for_decision(DECISION, _inputs(), OnlineMatcher(partners), salt="s")
    assert report["partner"]["institution_id"] == "P1" and report["partner"]["fallback_order"] == ["P2"]
    assert report["credit"] == {
        "score": 612.4,
        "grade": "D",
        "pd": 0.031,
        "top_reasons": DECISION["reasons"],
        "policy_version": "abc123",
    }
    assert report["identity_and_device"]["new_device"] and report["identity_and_device"]["night_application"]
    assert report["fraud_and_graph"]["ring_size"] == 4 and report["fraud_and_graph"]["on_blacklist"] is False
    # 8,000.00 over 12 months at 18 %: 733.44 a month
    assert report["affordability"]["monthly_installment_minor"] == 73_344
    assert report["affordability"]["debt_service_ratio"] == round(73_344 / 1_234_567, 3)
    assert report["recommendation"] == {
        "outcome": "approve",
        "credit_line_minor": 800_000,
        "apr": 0.18,
        "tenor_months": 12,
    }
    page = report_html(report)
    assert "8,000.00" in page and "18.00%" in page and "Fraud and graph" in page


def test_no_partner_and_declined_decisions():
    partners = load_partners([partner("P1", max_pd=0.01)])
    report = report_for_decision(DECISION, _inputs(), OnlineMatcher(partners), salt="s")
    assert report["partner"] is None and report["no_partner_reasons"] == [
        "no_eligible_partner",
        "pd_above_partner_max",
    ]
    assert "No partner" in report_html(report)
    assert report_for_decision(DECISION, _inputs(), None, salt="s")["no_partner_reasons"] == [
        "matching_not_configured"
    ]
    with pytest.raises(ParameterError, match="not approved"):
        report_for_decision({**DECISION, "outcome": "decline"}, _inputs(), None, salt="s")
    assert investigation_report(DECISION, {}, None, salt="s")["affordability"]["debt_service_ratio"] is None
    drawdown = {**DECISION, "pd": None, "score": None, "grade": None}
    assert report_for_decision(drawdown, {}, OnlineMatcher(partners), salt="s")["no_partner_reasons"] == [
        "no_score_to_match_on"
    ]
