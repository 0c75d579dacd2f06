"""The service's fixtures: a small trained model, funding partners, a real server per engine, keys per role."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from _service import create_keys, serve_in_thread, settings_for
from pg_server import fresh_pg_database, skip_without_pg
from tests_helpers import small_credit_line_applications, small_gbm

from creditmesh.scoring.artifact import save_model


@pytest.fixture(scope="session")
def applications():
    return small_credit_line_applications(borrowers=1500)


@pytest.fixture(scope="session")
def model_path(applications, tmp_path_factory):
    return save_model(small_gbm(applications), tmp_path_factory.mktemp("model") / "gbm")


@pytest.fixture(scope="session")
def rows(applications):
    return applications.to_dict("records")


@pytest.fixture(scope="session")
def settings(model_path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    # many tests send wrong keys to this one server from one address: the failed-key limit is out of their way
    # (tests/api/test_hardening.py checks it on servers of its own)
    return dataclasses.replace(
        settings_for(str(folder / "service.db"), model_path, folder), auth_failures_per_minute=1e5
    )


@pytest.fixture(scope="session")
def keys(settings):
    return create_keys(settings.db_url, "FI-LIGHT")


@pytest.fixture(scope="session")
def server(settings, keys):
    """The base URL of the running service (SQLite); stopped at the end of the session."""
    with serve_in_thread(settings) as url:
        yield url


@pytest.fixture()
def client(server, keys):
    with httpx.Client(base_url=server, headers={"X-API-Key": keys["app"]}, timeout=30) as client:
        yield client


@pytest.fixture()
def as_role(server, keys):
    """A client for a role: ``as_role("operator")``."""
    clients = []

    def make(role: str) -> httpx.Client:
        client = httpx.Client(base_url=server, headers={"X-API-Key": keys[role]}, timeout=30)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def service_db(request, tmp_path):
    """An empty service database, once per engine (PostgreSQL: a throw-away database)."""
    if request.param == "sqlite":
        yield str(tmp_path / "service.db")
        return
    skip_without_pg()
    url, drop = fresh_pg_database()
    try:
        yield url
    finally:
        drop()
