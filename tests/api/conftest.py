"""A real uvicorn server on a free loopback port, in a background thread, over a small trained model."""

from __future__ import annotations

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
from api_server import API_KEY, running
from tests_helpers import small_credit_line_applications, small_gbm

from creditmesh.api.app import create_app
from creditmesh.api.settings import Settings, database_url
from creditmesh.scoring.artifact import save_model
from creditmesh.simulate.institutions import draw_institutions


@pytest.fixture(scope="session")
def applications():
    return small_credit_line_applications(borrowers=1500)


@pytest.fixture(scope="session")
def settings(applications, tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    model_path = save_model(small_gbm(applications), folder / "gbm")
    institutions, _ = draw_institutions(np.random.default_rng(5), 40)
    pq.write_table(institutions, folder / "institutions.parquet")
    return Settings(
        db_url=database_url(str(folder / "decisions.db")),
        api_keys=frozenset({API_KEY, "test-key-2"}),
        model_path=model_path,
        partners_path=folder / "institutions.parquet",
        report_salt="test-salt",
    )


@pytest.fixture(scope="session")
def server(settings):
    """The base URL of the running service; stopped at the end of the session."""
    with running(create_app(settings)) as url:
        yield url


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server, headers={"X-API-Key": API_KEY}, timeout=10) as client:
        yield client
