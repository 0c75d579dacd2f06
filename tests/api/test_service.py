"""The HTTP service over a real uvicorn server: keys, bad input, unknown ids, the audit log, repeats, settings."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from _service import applicant, raw_identifiers

from creditmesh.decision.audit import AuditLog

PUBLIC_FIELDS = {"application_id", "outcome", "credit_line_id", "limit_minor", "apr", "expires_on", "reasons"}


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def bodies(rows):
    return [applicant(row, 10_000 + n) for n, row in enumerate(rows[:40])]


def test_healthz_needs_no_key_and_names_the_policy(server):
    answer = httpx.get(f"{server}/healthz")
    assert (
        answer.status_code == 200
        and answer.json()["status"] == "ok"
        and len(answer.json()["policy_version"]) >= 8
    )


def test_credit_line_applications_are_decided_with_public_fields_only(client, bodies):
    outcomes = set()
    for body in bodies:
        answer = client.post("/v1/applications", json=body)
        assert answer.status_code == 200, answer.text
        decision = answer.json()
        assert set(decision) == PUBLIC_FIELDS, "no score, pd, grade, arm or shadow leaks"
        assert decision["application_id"] == body["application_id"]
        outcomes.add(decision["outcome"])
        if decision["outcome"] == "approve":
            assert decision["limit_minor"] > 0 and decision["apr"] > 0 and decision["credit_line_id"]
        else:
            assert decision["reasons"] and decision["credit_line_id"] is None
        assert not any(raw in answer.text for raw in raw_identifiers(body))
    assert "approve" in outcomes and outcomes <= {"approve", "decline", "review"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}, {"X-API-Key": "cm_0123456789abcdef_" + "x" * 43}],
)
def test_a_missing_or_wrong_key_is_401(server, headers):
    for method, path in [
        ("POST", "/v1/applications"),
        ("POST", "/v1/drawdowns"),
        ("GET", "/v1/credit-lines/x"),
        ("GET", "/v1/loans/x"),
        ("POST", "/v1/loans/x/payments"),
        ("GET", "/v1/decisions/x"),
        ("GET", "/v1/keys"),
    ]:
        answer = httpx.request(method, f"{server}{path}", headers=headers, json={})
        assert answer.status_code == 401, (path, answer.text)


def test_bad_input_is_422_naming_every_bad_field_without_echoing_it(client, bodies):
    body = {
        **bodies[0],
        "age": 300,
        "monthly_income_minor": 1234.5,
        "apply_hour": 24,
        "channel": "fax",
        "application_id": "bad id!",
        "favourite_colour": "red",
        "identifiers": {**bodies[0]["identifiers"], "phone": "+86 1" + "3" * 300},
    }
    del body["contacts_count"]
    answer = client.post("/v1/applications", json=body)
    assert answer.status_code == 422
    named = {tuple(e["loc"])[-1] for e in answer.json()["detail"]}
    assert named == {
        "age",
        "monthly_income_minor",
        "apply_hour",
        "channel",
        "application_id",
        "favourite_colour",
        "contacts_count",
        "phone",
    }
    assert "3333" not in answer.text, "a validation answer never echoes the input"
    drawdown = client.post(
        "/v1/drawdowns", json={"application_id": _id("dd"), "amount_minor": -1, "tenor_months": "x"}
    )
    assert {e["loc"][-1] for e in drawdown.json()["detail"]} == {
        "amount_minor",
        "tenor_months",
        "credit_line_id",
    }
    assert (
        client.post(
            "/v1/drawdowns", content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )


def test_an_engine_error_is_a_4xx_naming_its_field_never_a_500(settings, keys, bodies):
    from fastapi.testclient import TestClient

    from creditmesh.api.app import create_app
    from creditmesh.decision import DecisionEngine, policy_from_dict

    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test:
        platform = app.state.platform
        document = platform.decisions.champion.document.model_dump(mode="json")
        document["credit_line"]["knockouts"].append({"name": "short_tenure", "when": "years_at_address < 1"})
        platform.decisions = DecisionEngine(policy_from_dict(document), platform.decisions.model)
        answer = test.post(
            "/v1/applications",
            headers={"X-API-Key": keys["app"]},
            json={**bodies[3], "application_id": _id("cl")},
        )
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "years_at_address"]


def test_an_unknown_decision_is_404_and_a_known_one_is_returned_to_its_tenant_only(client, bodies, as_role):
    assert client.get(f"/v1/decisions/{_id('none')}").status_code == 404
    body = {**bodies[4], "application_id": _id("cl")}
    made = client.post("/v1/applications", json=body).json()
    stored = client.get(f"/v1/decisions/{body['application_id']}").json()
    assert stored["outcome"] == made["outcome"] and stored["stage"] == "credit_line"
    assert as_role("other_app").get(f"/v1/decisions/{body['application_id']}").status_code == 404
    assert as_role("operator").get(f"/v1/decisions/{body['application_id']}").status_code == 200


def test_the_decision_is_in_the_audit_log_when_the_answer_arrives_without_raw_identifiers(
    client, settings, bodies
):
    body = {**bodies[1], "application_id": _id("cl")}
    answer = client.post("/v1/applications", json=body).json()
    row = AuditLog(settings.db_url).stored(body["application_id"])  # read straight from the database
    stored = json.loads(row["decision"])
    inputs = json.loads(row["inputs"])
    declared = {k: v for k, v in body.items() if k not in ("identifiers", "borrower_id")}
    assert row["stage"] == "credit_line" and {k: inputs[k] for k in declared} == declared
    assert {"ring_size", "on_blacklist", "grey_list", "neighbour_delinquency_rate"} <= set(inputs)
    assert stored["outcome"] == answer["outcome"]
    assert not any(raw in row["inputs"] for raw in raw_identifiers(body))


def test_a_repeated_application_id_returns_the_stored_decision_without_deciding_again(
    client, settings, bodies
):
    body = {**bodies[2], "application_id": _id("cl")}
    first = client.post("/v1/applications", json=body)
    decided_at = AuditLog(settings.db_url).stored(body["application_id"])["decided_at_ns"]
    again = client.post("/v1/applications", json=body)
    assert again.status_code == 200 and again.json() == first.json()
    assert AuditLog(settings.db_url).stored(body["application_id"])["decided_at_ns"] == decided_at
    changed = client.post("/v1/applications", json={**body, "age": body["age"] + 1})
    assert changed.status_code == 409 and changed.json()["detail"][0]["loc"] == ["body", "application_id"]


def test_serve_refuses_missing_settings_in_one_line(monkeypatch):
    from typer.testing import CliRunner

    from creditmesh.cli import app

    monkeypatch.setenv("CREDITMESH_MODEL", "m")
    monkeypatch.delenv("CREDITMESH_IDENTIFIER_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and "CREDITMESH_IDENTIFIER_KEY" in result.output


def test_settings_come_from_the_environment(tmp_path):
    from creditmesh.api.settings import Settings
    from creditmesh.errors import ParameterError

    key = "k" * 16
    settings = Settings.from_env(
        {"CREDITMESH_IDENTIFIER_KEY": key, "CREDITMESH_MODEL": "m", "CREDITMESH_DB": str(tmp_path / "d.db")}
    )
    assert settings.db_url.startswith("sqlite:///") and settings.policy_path is None
    pg = Settings.from_env(
        {"CREDITMESH_IDENTIFIER_KEY": key, "CREDITMESH_MODEL": "m", "CREDITMESH_DB": "postgresql://u@h/db"}
    )
    assert pg.db_url == "postgresql+psycopg://u@h/db", "one URL format, the ledger's"
    with pytest.raises(ParameterError, match="CREDITMESH_MODEL"):
        Settings.from_env({"CREDITMESH_IDENTIFIER_KEY": key})
    with pytest.raises(ParameterError, match="CREDITMESH_IDENTIFIER_KEY"):
        Settings.from_env({"CREDITMESH_IDENTIFIER_KEY": "short", "CREDITMESH_MODEL": "m"})
    assert settings.concurrency == 16
    base = {"CREDITMESH_IDENTIFIER_KEY": key, "CREDITMESH_MODEL": "m"}
    assert Settings.from_env({**base, "CREDITMESH_CONCURRENCY": "4"}).concurrency == 4
    with pytest.raises(ParameterError, match="CREDITMESH_CONCURRENCY"):
        Settings.from_env({**base, "CREDITMESH_CONCURRENCY": "0"})


def test_the_openapi_schema_lists_every_route(server):
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    assert {
        "/v1/applications",
        "/v1/drawdowns",
        "/v1/credit-lines/{credit_line_id}",
        "/v1/credit-lines/{credit_line_id}/reviews",
        "/v1/loans/{loan_id}",
        "/v1/loans/{loan_id}/payments",
        "/v1/decisions/{application_id}",
        "/v1/keys",
        "/healthz",
    } <= set(paths)


def test_a_bug_is_a_bare_500_without_a_traceback(settings, keys):
    from fastapi.testclient import TestClient

    from creditmesh.api.app import create_app
    from creditmesh.api.deps import get_platform

    def broken():
        raise RuntimeError("secret internals")

    app = create_app(settings)
    app.dependency_overrides[get_platform] = broken
    with TestClient(app, raise_server_exceptions=False) as test:
        answer = test.get("/v1/decisions/x", headers={"X-API-Key": keys["app"]})
    assert answer.status_code == 500 and "secret" not in answer.text and "Traceback" not in answer.text
