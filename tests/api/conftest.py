"""A real uvicorn server on a free loopback port, in a background thread, over a small trained model."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import httpx
import numpy as np
import pyarrow.parquet as pq
import pytest
import uvicorn
from tests_helpers import small_credit_line_applications, small_gbm

from creditmesh.api.app import create_app
from creditmesh.api.settings import Settings, database_url
from creditmesh.scoring.artifact import save_model
from creditmesh.simulate.institutions import draw_institutions

API_KEY = "test-key-1"


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(settings: Settings):
    """The base URL of a real service under ``settings``, stopped when the block ends."""
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=_free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(settings):
    """The base URL of the running service; stopped at the end of the session."""
    with running(settings) as url:
        yield url


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server, headers={"X-API-Key": API_KEY}, timeout=10) as client:
        yield client
