"""The pre-loan investigation report over a real server: for the funding partner and operators, masked."""

from __future__ import annotations

import uuid

import httpx
from _service import open_lines


def _booked(client, rows) -> dict:
    line = open_lines(client, rows[300:600], 1, start=30_000)[0]
    answer = client.post(
        "/v1/drawdowns",
        json={
            "application_id": f"rd-{uuid.uuid4().hex[:12]}",
            "credit_line_id": line["credit_line_id"],
            "amount_minor": 100_000,
            "tenor_months": 6,
        },
    ).json()
    assert answer["outcome"] == "booked", answer
    return answer


def test_the_funding_partner_gets_a_masked_report_as_json_and_html(client, as_role, rows, server):
    loan = _booked(client, rows)
    assert loan["institution_id"] == "FI-LIGHT"
    path = f"/v1/applications/{loan['application_id']}/report"
    partner = as_role("partner")
    answer = partner.get(path)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["recommendation"]["credit_line_minor"] == loan["amount_minor"]
    assert loan["application_id"] not in answer.text, "the application id is masked"
    html = partner.get(path, params={"format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Pre-loan investigation report" in html.text and report["reference"] in html.text
    assert as_role("other_partner").get(path).status_code == 404, "another partner's borrower is not found"
    assert as_role("operator").get(path).status_code == 200
    assert client.get(path).status_code == 403, "an app key reads no reports"
    assert partner.get("/v1/applications/never-seen/report").status_code == 404
    assert httpx.get(f"{server}{path}").status_code == 401
