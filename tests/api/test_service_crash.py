"""Kill -9 of the service in the middle of a stream of drawdowns and payments, on both engines: every
acknowledged loan and payment is there exactly once, capacity is reserved once, nothing is half-written,
and no raw identifier reached the service's log."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import httpx
import sqlalchemy as sa
from _service import create_keys, open_lines, raw_identifiers, settings_for, start_process

from creditmesh.api.tables import drawdowns, partner_capacity
from creditmesh.ledger import Ledger
from creditmesh.ledger.tables import installments, journal_entries, loans, payments

LINES = 4
SECONDS_BEFORE_KILL = 3.0


def _stream(
    url: str, key: str, lines: list[dict], loans_booked: list[str], acks: list, stop: threading.Event
) -> None:
    """Drawdowns and payments one after another until the service dies; each answer kept once it arrives."""
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=10) as client:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 2:
                    line = lines[n % len(lines)]
                    body = {
                        "application_id": f"cr-{uuid.uuid4().hex[:12]}",
                        "credit_line_id": line["credit_line_id"],
                        "amount_minor": 50_000,
                        "tenor_months": 6,
                    }
                    answer = client.post("/v1/drawdowns", json=body)
                    if answer.status_code == 200:
                        acks.append(("drawdown", answer.json()))
                else:
                    loan_id = loans_booked[n % len(loans_booked)]
                    key_ = f"pay-{uuid.uuid4().hex[:12]}"
                    answer = client.post(
                        f"/v1/loans/{loan_id}/payments",
                        json={"amount_minor": 100},
                        headers={"Idempotency-Key": key_},
                    )
                    if answer.status_code == 200:
                        acks.append(("payment", {"key": key_, **answer.json()}))
            except httpx.TransportError:
                return


def test_kill_9_mid_stream_loses_nothing_acknowledged_and_half_writes_nothing(
    service_db, model_path, rows, tmp_path
):
    settings = settings_for(service_db, model_path, tmp_path)
    keys = create_keys(settings.db_url, "FI-LIGHT")
    log = tmp_path / "service.log"
    process, url = start_process(settings, workers=2, log=log)
    try:
        with httpx.Client(base_url=url, headers={"X-API-Key": keys["app"]}, timeout=60) as app:
            lines = open_lines(app, rows[:300], LINES, start=70_000)
            first = [
                app.post(
                    "/v1/drawdowns",
                    json={
                        "application_id": f"cr-{uuid.uuid4().hex[:12]}",
                        "credit_line_id": line["credit_line_id"],
                        "amount_minor": 50_000,
                        "tenor_months": 6,
                    },
                ).json()
                for line in lines
            ]
        assert all(a["outcome"] == "booked" for a in first)
        acks: list = [("drawdown", a) for a in first]
        stop = threading.Event()
        streams = [
            threading.Thread(
                target=_stream, args=(url, keys["app"], lines, [a["loan_id"] for a in first], acks, stop)
            )
            for _ in range(3)
        ]
        for stream in streams:
            stream.start()
        time.sleep(SECONDS_BEFORE_KILL)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    stop.set()
    for stream in streams:
        stream.join(timeout=30)
    booked = [a for kind, a in acks if kind == "drawdown" and a["outcome"] == "booked"]
    paid = [a for kind, a in acks if kind == "payment"]
    assert len(booked) > len(first) and paid, "the stream was acknowledged before the kill"

    ledger = Ledger.connect(settings.db_url)
    try:
        with ledger.engine.connect() as conn:
            loan_rows = conn.execute(
                sa.select(
                    loans.c.loan_id, loans.c.application_id, loans.c.institution_id, loans.c.principal_minor
                )
            ).all()
            by_application = {}
            for row in loan_rows:
                by_application.setdefault(row.application_id, []).append(row)
            for answer in booked:
                assert [r.loan_id for r in by_application[answer["application_id"]]] == [answer["loan_id"]]
            keys_paid = [r[0] for r in conn.execute(sa.select(payments.c.idempotency_key))]
            for answer in paid:
                assert keys_paid.count(f"acme/{answer['key']}") == 1
            # nothing half-written: every loan has its drawdown's answer, its schedule and its disbursement
            answered = dict(
                conn.execute(
                    sa.select(drawdowns.c.loan_id, drawdowns.c.outcome).where(
                        drawdowns.c.loan_id.is_not(None)
                    )
                ).all()
            )
            scheduled = {r[0] for r in conn.execute(sa.select(installments.c.loan_id).distinct())}
            disbursed = {
                r[0]
                for r in conn.execute(
                    sa.select(journal_entries.c.loan_id).where(journal_entries.c.kind == "disbursement")
                )
            }
            assert {r.loan_id for r in loan_rows} == set(answered) == scheduled == disbursed
            reserved = dict(
                conn.execute(
                    sa.select(partner_capacity.c.institution_id, partner_capacity.c.reserved_minor)
                ).all()
            )
            lent: dict = {}
            for row in loan_rows:
                lent[row.institution_id] = lent.get(row.institution_id, 0) + row.principal_minor
            assert reserved == lent, "capacity reserved once per loan, none for a loan that was not booked"
        assert sum(ledger.trial_balance().values()) == 0 and ledger.unbalanced_entries() == []
    finally:
        ledger.close()
    text = log.read_text(errors="replace")
    assert not any(raw in text for line in lines for raw in raw_identifiers(line["_body"]))
