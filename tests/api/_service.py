"""Helpers of the service's tests: a real uvicorn server (thread or process), API keys, applicants' bodies."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from creditmesh.api.server import free_port, launch
from creditmesh.api.settings import Settings, database_url
from creditmesh.scoring.dataset import APPLICATION_FEATURES

IDENTIFIER_KEY = "test-identifier-key-0123456789"
START_SECONDS = 60


@contextmanager
def serve_in_thread(settings: Settings, app=None):
    """The base URL of the service under ``settings`` (``app``, when the test holds it), running in a thread;
    stopped afterwards."""
    from creditmesh.api.app import create_app

    app = create_app(settings) if app is None else app
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def service_env(settings: Settings) -> dict[str, str]:
    env = {
        **os.environ,
        "CREDITMESH_DB": settings.db_url,
        "CREDITMESH_MODEL": str(settings.model_path),
        "CREDITMESH_IDENTIFIER_KEY": settings.identifier_key,
        "CREDITMESH_REPORT_SALT": "salt",
    }
    if settings.partners_path:
        env["CREDITMESH_PARTNERS"] = str(settings.partners_path)
    return env


def start_process(
    settings: Settings, *, workers: int = 1, log: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """``creditmesh serve`` in a process of its own (for kill -9); returns it and its base URL once it answers."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    process, url, _ = launch(
        service_env(settings),
        workers=workers,
        seconds=START_SECONDS,
        output=out,
        errors=out,
        new_session=True,
    )
    return process, url


def create_keys(db_url: str, institution_id: str, tenant: str = "acme") -> dict[str, str]:
    """A key per role (and an app key of a second tenant, ``other_app``), created in the service's database."""
    from creditmesh.api.keys import create_key
    from creditmesh.ledger import Ledger

    ledger = Ledger.connect(db_url)
    try:
        with ledger.engine.begin() as connection:
            made = {
                "app": create_key(connection, role="app", owner=tenant)[1],
                "other_app": create_key(connection, role="app", owner="globex")[1],
                "partner": create_key(
                    connection, role="partner", owner="bank-1", institution_id=institution_id
                )[1],
                "other_partner": create_key(
                    connection, role="partner", owner="bank-2", institution_id="NOBODY"
                )[1],
                "operator": create_key(connection, role="operator", owner="analyst-7")[1],
                "admin": create_key(connection, role="admin", owner="root")[1],
            }
    finally:
        ledger.close()
    return made


def applicant(row: dict, n: int, **identifiers) -> dict:
    """A credit-line application from a simulated applicant's features, with identifiers of its own."""
    body = {"application_id": f"ap-{uuid.uuid4().hex[:16]}", "borrower_id": f"b-{uuid.uuid4().hex[:12]}"}
    for name in APPLICATION_FEATURES:
        value = row[name]
        body[name] = None if value != value else (value if isinstance(value, str) else int(value))
    body["identifiers"] = {
        "phone": f"+86 139 {n:08d}",
        "device": f"device-{uuid.uuid4().hex}",
        "id_card": f"11010519{n:010d}",
        "bank_card": f"6222 0{n:011d}",
        "address": f"{n} Nanjing Road, Shanghai",
        "ip": f"10.{n % 250}.{n // 250 % 250}.7",
        "contacts": [f"+86 137 {n:06d}{k:02d}" for k in range(3)],
        **identifiers,
    }
    return body


def raw_identifiers(body: dict) -> list[str]:
    values = []
    for value in body["identifiers"].values():
        values.extend(value if isinstance(value, list) else [value])
    return values


def open_lines(client: httpx.Client, rows: list[dict], count: int, *, start: int = 0) -> list[dict]:
    """Apply with simulated applicants until ``count`` lines are approved; their answers (``_body``: what was sent)."""
    lines = []
    for n, row in enumerate(rows, start=start):
        body = applicant(row, n)
        answer = client.post("/v1/applications", json=body)
        assert answer.status_code == 200, answer.text
        if answer.json()["outcome"] == "approve":
            lines.append({**answer.json(), "_body": body})
            if len(lines) == count:
                return lines
    raise AssertionError(f"only {len(lines)} of {count} lines approved")


def partners_file(folder: Path, partners: list[dict]) -> Path:
    path = folder / "partners.json"
    path.write_text(json.dumps(partners))
    return path


def partner(institution_id: str, funding_model: str, daily_room_minor: int, **fields) -> dict:
    """A partner that funds any borrower the policy approves, with ``daily_room_minor`` of daily capacity."""
    return {
        "institution_id": institution_id,
        "name": institution_id,
        "funding_model": funding_model,
        "max_pd": 1.0,
        "min_score": 0,
        "min_amount_minor": 1,
        "max_amount_minor": 10**10,
        "tenors": [3, 6, 9, 12, 18, 24, 36],
        "regions": [],
        "apr_min": 0.0,
        "apr_max": 1.0,
        "funding_cost": 0.02,
        "monthly_capacity_minor": daily_room_minor * 30,
        **fields,
    }


#: Partners of the shared server, both roomy: a capital-light one for tenors up to 24 months, an ICE one
#: for 36 months only.
PARTNERS = [
    partner("FI-LIGHT", "capital_light", 10**10, tenors=[3, 6, 9, 12, 18, 24]),
    partner("FI-ICE", "ice", 10**10, tenors=[36]),
]


def settings_for(db_url: str, model_path, folder, partners=PARTNERS) -> Settings:
    return Settings(
        db_url=database_url(db_url),
        model_path=model_path,
        identifier_key=IDENTIFIER_KEY,
        partners_path=partners_file(folder, partners),
        report_salt="test-salt",
    )


def count_where(db_url: str, column, value) -> int:
    """How many rows of ``column``'s table hold ``value`` in it, read straight from the service's database."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).where(column == value)).scalar_one()
    finally:
        engine.dispose()
