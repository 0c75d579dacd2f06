"""Every role against every route: allowed, 403 (the role may not) or 404 (another tenant's object); and no
raw identifier anywhere in the database or in any answer."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from _service import applicant, open_lines, raw_identifiers

ROLES = ("app", "other_app", "partner", "other_partner", "operator", "admin")


@pytest.fixture(scope="module")
def objects(server, keys, rows):
    """A line, a booked loan (funded by the partner key's institution) and a decision of the app key's tenant."""
    import httpx

    with httpx.Client(base_url=server, headers={"X-API-Key": keys["app"]}, timeout=60) as app:
        line = open_lines(app, rows[600:900], 1, start=40_000)[0]
        loan = app.post(
            "/v1/drawdowns",
            json={
                "application_id": f"dd-{uuid.uuid4().hex[:12]}",
                "credit_line_id": line["credit_line_id"],
                "amount_minor": 100_000,
                "tenor_months": 12,
            },
        ).json()
    assert loan["outcome"] == "booked" and loan["institution_id"] == "FI-LIGHT"
    return {"line": line, "loan": loan}


def _routes(objects, rows):
    line_id, loan_id = objects["line"]["credit_line_id"], objects["loan"]["loan_id"]
    fresh = uuid.uuid4().hex[:10]
    # (method, path, body, {role: expected status}); roles not named get 403
    return [
        ("POST", "/v1/applications", lambda: applicant(rows[5], 50_000), {"app": 200, "other_app": 200}),
        ("GET", f"/v1/credit-lines/{line_id}", None, {"app": 200, "other_app": 404, "operator": 200}),
        (
            "POST",
            f"/v1/credit-lines/{line_id}/reviews",
            lambda: {"application_id": f"lr-{uuid.uuid4().hex[:12]}"},
            {"operator": 200},
        ),
        (
            "POST",
            "/v1/drawdowns",
            lambda: {
                "application_id": f"dd-{uuid.uuid4().hex[:12]}",
                "credit_line_id": line_id,
                "amount_minor": 50_000,
                "tenor_months": 6,
            },
            {"app": 200, "other_app": 404},
        ),
        (
            "GET",
            f"/v1/loans/{loan_id}",
            None,
            {"app": 200, "other_app": 404, "partner": 200, "other_partner": 404, "operator": 200},
        ),
        (
            "POST",
            f"/v1/loans/{loan_id}/payments",
            lambda: {"amount_minor": 100},
            {"app": 200, "other_app": 404},
        ),
        (
            "GET",
            f"/v1/decisions/{objects['line']['application_id']}",
            None,
            {"app": 200, "other_app": 404, "operator": 200},
        ),
        (
            "GET",
            f"/v1/applications/{objects['loan']['application_id']}/report",
            None,
            {"partner": 200, "other_partner": 404, "operator": 200},
        ),
        ("GET", "/v1/reviews", None, {"operator": 200}),
        (
            "POST",
            f"/v1/borrowers/{objects['line']['_body']['borrower_id']}/labels",
            lambda: {"label": "delinquent"},
            {"operator": 204},
        ),
        ("GET", "/v1/keys", None, {"admin": 200}),
        ("POST", "/v1/keys", lambda: {"role": "app", "owner": f"t-{fresh}"}, {"admin": 201}),
    ]


def test_every_role_on_every_route_is_allowed_forbidden_or_not_found(as_role, objects, rows):
    seen = []
    for method, path, body, allowed in _routes(objects, rows):
        for role in ROLES:
            client = as_role(role)
            headers = {"Idempotency-Key": f"k-{uuid.uuid4().hex[:10]}"}
            answer = client.request(method, path, json=body() if body else None, headers=headers)
            expected = allowed.get(role, 403)
            seen.append((method, path.split("/")[2], role, answer.status_code))
            assert answer.status_code == expected, (method, path, role, answer.status_code, answer.text)
    assert len(seen) == len(ROLES) * 12


def test_a_review_records_the_operator_as_reviewer_and_the_key_behind_every_write(as_role, objects, settings):
    line_id = objects["line"]["credit_line_id"]
    reviewed = as_role("operator").post(
        f"/v1/credit-lines/{line_id}/reviews", json={"application_id": f"lr-{uuid.uuid4().hex[:12]}"}
    )
    assert reviewed.status_code == 200 and reviewed.json()["history"][-1]["reviewer"] == "analyst-7"
    engine = sa.create_engine(settings.db_url)
    with engine.connect() as conn:
        kinds = {row.kind for row in conn.execute(sa.text("SELECT kind, key_id FROM actors")) if row.key_id}
    engine.dispose()
    assert {"decision", "credit_line", "loan", "payment", "line_review"} <= kinds


def test_no_raw_identifier_is_stored_or_answered(client, settings, rows):
    body = applicant(rows[7], 60_001)
    answer = client.post("/v1/applications", json=body)
    assert answer.status_code == 200
    raws = raw_identifiers(body)
    assert not any(raw in answer.text for raw in raws)
    engine = sa.create_engine(settings.db_url)
    with engine.connect() as conn:
        tables = [r[0] for r in conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
        dump = "\n".join(
            str(tuple(row)) for table in tables for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))
        )
    engine.dispose()
    assert body["borrower_id"] in dump, "the dump reads the rows"
    leaked = [raw for raw in raws if raw in dump or raw.lower() in dump]
    assert leaked == []


def test_keys_are_created_listed_and_revoked_from_the_command_line_and_stored_hashed(settings, server):
    import httpx
    from typer.testing import CliRunner

    from creditmesh.cli import app as cli

    runner = CliRunner()
    made = runner.invoke(
        cli, ["keys", "create", "--role", "operator", "--owner", "night-shift", "--db", settings.db_url]
    )
    assert made.exit_code == 0, made.output
    key_id, key = made.output.split()[0], made.output.strip().split(": ")[-1]
    assert httpx.get(f"{server}/v1/reviews", headers={"X-API-Key": key}).status_code == 200
    listed = runner.invoke(cli, ["keys", "list", "--db", settings.db_url])
    assert key_id in listed.output and key not in listed.output
    engine = sa.create_engine(settings.db_url)
    with engine.connect() as conn:
        stored = " ".join(str(tuple(r)) for r in conn.execute(sa.text("SELECT * FROM api_keys")))
    engine.dispose()
    secret = key.removeprefix(f"cm_{key_id}_")  # the secret itself may hold "_" (token_urlsafe)
    assert len(secret) >= 20 and secret not in stored, "only the secret's hash is stored"
    assert runner.invoke(cli, ["keys", "revoke", key_id, "--db", settings.db_url]).exit_code == 0
    import time

    time.sleep(2.5)  # a worker trusts a checked key for a moment
    assert httpx.get(f"{server}/v1/reviews", headers={"X-API-Key": key}).status_code == 401
    missing = runner.invoke(
        cli, ["keys", "create", "--role", "partner", "--owner", "x", "--db", settings.db_url]
    )
    assert missing.exit_code == 2 and "institution_id" in missing.output
