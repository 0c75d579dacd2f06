"""The pre-loan investigation report over a real server: JSON and HTML, masked, 404/409/401."""

from __future__ import annotations

import uuid

import httpx
from test_service import _credit_line

from creditmesh.decision.audit import AuditLog


def _decided(client, applications, outcome: str) -> tuple[dict, dict]:
    for row in applications.to_dict("records"):
        body = {**_credit_line(row), "application_id": f"rp-{uuid.uuid4().hex[:12]}"}
        answer = client.post("/v1/applications", json=body).json()
        if answer["outcome"] == outcome:
            return body, answer
    raise AssertionError(f"no {outcome} among the applications")


def test_an_approved_application_gets_a_masked_report_as_json_and_html(client, applications, settings):
    body, decision = _decided(client, applications.head(200), "approve")
    answer = client.get(f"/v1/applications/{body['application_id']}/report")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["recommendation"]["credit_line_minor"] == decision["credit_line_minor"]
    assert report["recommendation"]["apr"] == decision["apr"]
    assert report["credit"]["grade"] in list("ABCDEFG") and 0 <= report["credit"]["pd"] <= 1
    assert (report["partner"] is None) != (report["no_partner_reasons"] == [])
    if report["partner"] is not None:
        assert report["partner"]["institution_id"].startswith("FI")
    stored = AuditLog(settings.db_url).stored(body["application_id"])
    assert stored["application_id"] == body["application_id"]
    html = client.get(f"/v1/applications/{body['application_id']}/report", params={"format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Pre-loan investigation report" in html.text and report["reference"] in html.text
    accept = client.get(f"/v1/applications/{body['application_id']}/report", headers={"Accept": "text/html"})
    assert accept.headers["content-type"].startswith("text/html")
    for text in (answer.text, html.text):
        assert body["application_id"] not in text, "the application id is masked"
        if body.get("monthly_income_minor"):
            assert str(body["monthly_income_minor"]) not in text, "income is banded"


def test_a_declined_application_has_no_report_and_unknown_ids_are_404(client, applications, server):
    body, _ = _decided(client, applications, "decline")
    assert client.get(f"/v1/applications/{body['application_id']}/report").status_code == 409
    assert client.get("/v1/applications/never-seen/report").status_code == 404
    assert httpx.get(f"{server}/v1/applications/never-seen/report").status_code == 401


def test_an_approved_drawdown_gets_a_report_without_a_partner_to_match(client):
    application_id = f"rd-{uuid.uuid4().hex[:12]}"
    decided = client.post(
        "/v1/drawdowns",
        json={
            "application_id": application_id,
            "requested_amount_minor": 300_000,
            "available_minor": 1_000_000,
            "delinquent": False,
        },
    )
    assert decided.json()["outcome"] == "approve"
    report = client.get(f"/v1/applications/{application_id}/report").json()
    assert report["recommendation"]["credit_line_minor"] == 300_000
    assert report["partner"] is None and report["no_partner_reasons"]
