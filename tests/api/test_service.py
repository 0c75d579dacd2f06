"""The HTTP service over a real uvicorn server: each endpoint, keys, bad input, unknown ids, the audit log, repeats."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from creditmesh.decision.audit import AuditLog
from creditmesh.scoring.dataset import APPLICATION_FEATURES

PUBLIC_FIELDS = {
    "application_id",
    "stage",
    "outcome",
    "credit_line_minor",
    "apr",
    "reasons",
    "policy_version",
}


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _credit_line(row) -> dict:
    body = {"application_id": _id("cl")}
    for name in APPLICATION_FEATURES:
        value = row[name]
        body[name] = None if value != value else (value if isinstance(value, str) else int(value))
    return body


@pytest.fixture(scope="module")
def bodies(applications):
    return [_credit_line(row) for row in applications.head(40).to_dict("records")]


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
        assert decision["application_id"] == body["application_id"] and decision["stage"] == "credit_line"
        assert isinstance(decision["credit_line_minor"], int)
        outcomes.add(decision["outcome"])
        if decision["outcome"] == "approve":
            assert decision["credit_line_minor"] > 0 and decision["apr"] > 0
        else:
            assert decision["reasons"]
    assert "approve" in outcomes and outcomes <= {"approve", "decline", "review"}


def test_a_drawdown_is_capped_by_the_available_line_and_refused_when_delinquent(client):
    capped = client.post(
        "/v1/drawdowns",
        json={
            "application_id": _id("dd"),
            "requested_amount_minor": 3_000_00,
            "available_minor": 1_000_00,
            "delinquent": False,
            "max_dpd_on_book": 0,
        },
    )
    assert capped.status_code == 200 and capped.json()["outcome"] == "approve"
    assert capped.json()["credit_line_minor"] == 1_000_00 and capped.json()["stage"] == "drawdown"
    refused = client.post(
        "/v1/drawdowns",
        json={
            "application_id": _id("dd"),
            "requested_amount_minor": 3_000_00,
            "available_minor": 10_000_00,
            "delinquent": True,
        },
    )
    assert refused.json()["outcome"] == "decline" and refused.json()["reasons"] == ["delinquent"]


def test_a_line_review_freezes_or_increases(client):
    frozen = client.post(
        "/v1/line-reviews",
        json={
            "application_id": _id("lr"),
            "limit_minor": 10_000_00,
            "max_dpd_on_book": 90,
            "line_utilization": 0.9,
        },
    ).json()
    assert (
        frozen["stage"] == "line_adjustment"
        and frozen["credit_line_minor"] == 0
        and frozen["reasons"] == ["line_frozen"]
    )
    raised = client.post(
        "/v1/line-reviews",
        json={
            "application_id": _id("lr"),
            "limit_minor": 10_000_00,
            "max_dpd_on_book": 0,
            "line_utilization": 0.5,
        },
    ).json()
    assert raised["credit_line_minor"] == 13_000_00 and raised["reasons"] == ["line_increased"]


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}])
def test_a_missing_or_wrong_key_is_401(server, headers):
    for method, path in [
        ("POST", "/v1/applications"),
        ("POST", "/v1/drawdowns"),
        ("POST", "/v1/line-reviews"),
        ("GET", "/v1/decisions/x"),
    ]:
        answer = httpx.request(method, f"{server}{path}", headers=headers, json={})
        assert answer.status_code == 401, (path, answer.text)


def test_bad_input_is_422_naming_every_bad_field(client, bodies):
    body = {
        **bodies[0],
        "age": 300,
        "monthly_income_minor": 1234.5,
        "apply_hour": 24,
        "channel": "fax",
        "application_id": "bad id!",
        "favourite_colour": "red",
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
    }
    drawdown = client.post(
        "/v1/drawdowns",
        json={"application_id": _id("dd"), "requested_amount_minor": -1, "available_minor": "lots"},
    )
    assert {e["loc"][-1] for e in drawdown.json()["detail"]} == {
        "requested_amount_minor",
        "available_minor",
        "delinquent",
    }
    assert (
        client.post(
            "/v1/line-reviews", content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )


def test_an_engine_error_is_a_4xx_naming_its_field_never_a_500(settings, bodies):
    key = next(iter(settings.api_keys))
    from fastapi.testclient import TestClient

    from creditmesh.api.app import build_state, create_app
    from creditmesh.api.deps import get_engine
    from creditmesh.decision import DecisionEngine, policy_from_dict

    app = create_app(settings)
    engine, _ = build_state(settings)
    document = engine.champion.document.model_dump(mode="json")
    document["credit_line"]["knockouts"].append({"name": "short_tenure", "when": "years_at_address < 1"})
    app.dependency_overrides[get_engine] = lambda: DecisionEngine(policy_from_dict(document), engine.model)
    with TestClient(app, raise_server_exceptions=False) as test:
        answer = test.post(
            "/v1/applications", headers={"X-API-Key": key}, json={**bodies[3], "application_id": _id("cl")}
        )
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "years_at_address"]


def test_an_unknown_decision_is_404_and_a_known_one_is_returned(client):
    assert client.get(f"/v1/decisions/{_id('none')}").status_code == 404
    body = {
        "application_id": _id("dd"),
        "requested_amount_minor": 600_00,
        "available_minor": 10_000_00,
        "delinquent": False,
    }
    made = client.post("/v1/drawdowns", json=body).json()
    assert client.get(f"/v1/decisions/{body['application_id']}").json() == made


def test_the_decision_is_in_the_audit_log_when_the_answer_arrives(client, settings, bodies):
    body = {**bodies[1], "application_id": _id("cl")}
    answer = client.post("/v1/applications", json=body).json()
    row = AuditLog(settings.db_url).stored(body["application_id"])  # read straight from the database
    stored = json.loads(row["decision"])
    inputs = json.loads(row["inputs"])
    assert row["stage"] == "credit_line" and {k: inputs[k] for k in body} == body
    assert {k: stored[k] for k in PUBLIC_FIELDS} == answer


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
    elsewhere = client.post(
        "/v1/line-reviews", json={"application_id": body["application_id"], "limit_minor": 1}
    )
    assert elsewhere.status_code == 409


def test_serve_refuses_missing_settings_in_one_line(monkeypatch):
    from typer.testing import CliRunner

    from creditmesh.cli import app

    monkeypatch.delenv("CREDITMESH_API_KEYS", raising=False)
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and "CREDITMESH_API_KEYS" in result.output


def test_settings_come_from_the_environment(tmp_path):
    from creditmesh.api.settings import Settings
    from creditmesh.errors import ParameterError

    settings = Settings.from_env(
        {"CREDITMESH_API_KEYS": "a, b,", "CREDITMESH_MODEL": "m", "CREDITMESH_DB": str(tmp_path / "d.db")}
    )
    assert (
        settings.api_keys == {"a", "b"}
        and settings.db_url.startswith("sqlite:///")
        and settings.policy_path is None
    )
    with pytest.raises(ParameterError, match="CREDITMESH_MODEL"):
        Settings.from_env({"CREDITMESH_API_KEYS": "a"})


def test_the_openapi_schema_lists_every_route(server):
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    assert {
        "/v1/applications",
        "/v1/drawdowns",
        "/v1/line-reviews",
        "/v1/decisions/{application_id}",
        "/healthz",
    } <= set(paths)


def test_a_bug_is_a_bare_500_without_a_traceback(settings):
    from fastapi.testclient import TestClient

    from creditmesh.api.app import create_app
    from creditmesh.api.deps import get_audit_log

    def broken():
        raise RuntimeError("secret internals")

    app = create_app(settings)
    app.dependency_overrides[get_audit_log] = broken
    with TestClient(app, raise_server_exceptions=False) as test:
        answer = test.get("/v1/decisions/x", headers={"X-API-Key": next(iter(settings.api_keys))})
    assert answer.status_code == 500 and "secret" not in answer.text and "Traceback" not in answer.text


def test_a_lost_race_for_the_same_id_answers_with_the_decision_stored_first(settings, monkeypatch):
    import creditmesh.api.decide as decide
    from creditmesh.api.app import build_state

    engine, log = build_state(settings)
    body = {
        "application_id": _id("dd"),
        "requested_amount_minor": 700_00,
        "available_minor": 10_000_00,
        "delinquent": False,
        "max_dpd_on_book": None,
        "on_blacklist": None,
    }
    first = decide.decide_once(log, engine, "drawdown", body)
    calls, real = [], decide.stored_or_none

    def late(log, application_id):  # the other writer stores between this request's look-up and its insert
        calls.append(application_id)
        return None if len(calls) == 1 else real(log, application_id)

    monkeypatch.setattr(decide, "stored_or_none", late)
    assert decide.decide_once(log, engine, "drawdown", body) == first and len(calls) == 2
