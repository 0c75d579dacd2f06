"""Liveness and readiness apart: readiness fails while PostgreSQL's database is gone and recovers by itself."""

from __future__ import annotations

import dataclasses
import time
import uuid

import httpx
import pytest
from _service import create_keys, serve_in_thread
from pg_server import PG_ADMIN_DSN, PG_ADMIN_URL, skip_without_pg

from creditmesh.decision.audit import AuditLog


def _drawdown() -> dict:
    return {
        "application_id": f"ready-{uuid.uuid4().hex[:12]}",
        "requested_amount_minor": 600_00,
        "available_minor": 10_000_00,
        "delinquent": False,
    }


def _admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as connection:
        connection.execute(statement)


def _until(check, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_live_and_ready_answer_apart(server):
    assert httpx.get(f"{server}/livez").status_code == 200
    ready = httpx.get(f"{server}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "policy": "ok",
        "model": "ok",
        "database": "ok",
    }


@pytest.fixture()
def throwaway_database():
    skip_without_pg()
    name = f"creditmesh_ready_{uuid.uuid4().hex[:10]}"
    _admin(f"CREATE DATABASE {name}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield name, url
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_readiness_fails_while_the_database_is_dropped_and_recovers_when_it_returns(
    settings, throwaway_database
):
    name, url = throwaway_database
    key = create_keys(url, "FI-LIGHT")["app"]
    with (
        serve_in_thread(dataclasses.replace(settings, db_url=url)) as base,
        httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=10) as http,
    ):
        assert http.get("/v1/decisions/none").status_code == 404
        assert http.get("/readyz").status_code == 200

        _admin(f"DROP DATABASE {name} WITH (FORCE)")
        down = http.get("/readyz")
        assert down.status_code == 503 and down.json()["checks"]["database"].startswith("unavailable")
        assert http.get("/livez").status_code == 200, "alive, only not ready"
        time.sleep(2.5)  # past the key cache: the key is looked up again, and cannot be
        refused = http.get("/v1/decisions/none")
        assert refused.status_code == 503 and "Retry-After" in refused.headers

        _admin(f"CREATE DATABASE {name}")
        AuditLog(url).ping()  # the operator's migration: the tables created again, and the key
        key_again = create_keys(url, "FI-LIGHT")["app"]
        assert _until(lambda: http.get("/readyz").status_code == 200)
        assert http.get("/v1/decisions/none", headers={"X-API-Key": key_again}).status_code == 404
