"""Drawdowns at the same moment, through a real server on both engines: a line is never overdrawn and a
partner's daily capacity is never oversold."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import pytest
import sqlalchemy as sa
from _service import count_where, create_keys, open_lines, partner, serve_in_thread, settings_for

from creditmesh.api.tables import partner_capacity
from creditmesh.ledger import Ledger
from creditmesh.ledger.tables import loans

AT_ONCE = 16
AMOUNT = 60_000


def _at_once(url: str, key: str, bodies: list[dict]) -> list[dict]:
    def post(body: dict) -> dict:
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=120) as client:
            answer = client.post("/v1/drawdowns", json=body)
            assert answer.status_code == 200, answer.text
            return answer.json()

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return list(pool.map(post, bodies))


def _drawdown(line_id: str, amount: int) -> dict:
    return {
        "application_id": f"dd-{uuid.uuid4().hex[:12]}",
        "credit_line_id": line_id,
        "amount_minor": amount,
        "tenor_months": 6,
    }


def test_sixteen_drawdowns_on_one_line_never_overdraw_it(service_db, model_path, rows, tmp_path):
    settings = settings_for(service_db, model_path, tmp_path, [partner("FI-ROOMY", "capital_light", 10**12)])
    keys = create_keys(settings.db_url, "FI-ROOMY")
    with serve_in_thread(settings) as url:
        with httpx.Client(base_url=url, headers={"X-API-Key": keys["app"]}, timeout=60) as app:
            line = open_lines(app, rows[:300], 1)[0]
        limit = line["limit_minor"]
        each = max(limit // 5 // 100 * 100, 50_000)  # about five fit; sixteen ask
        answers = _at_once(
            url, keys["app"], [_drawdown(line["credit_line_id"], each) for _ in range(AT_ONCE)]
        )
        with httpx.Client(base_url=url, headers={"X-API-Key": keys["app"]}, timeout=60) as app:
            after = app.get(f"/v1/credit-lines/{line['credit_line_id']}").json()
    booked = [a for a in answers if a["outcome"] == "booked"]
    assert len(booked) == limit // each and sum(a["amount_minor"] for a in booked) <= limit
    assert all(
        a["outcome"] == "decline" and "insufficient_line" in a["reasons"] for a in answers if a not in booked
    )
    assert after["used_minor"] == sum(a["amount_minor"] for a in booked) <= after["limit_minor"]
    ledger = Ledger.connect(settings.db_url)
    try:
        with ledger.engine.connect() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).where(loans.c.credit_line_id == line["credit_line_id"])
            ).scalar_one()
        assert count == len(booked) and sum(ledger.trial_balance().values()) == 0
    finally:
        ledger.close()


# 16: the default, every drawdown handled at once; 1: the worker handles one at a time and the others wait their
# turn in the event loop (none is refused or times out)
@pytest.mark.parametrize("concurrency", [16, 1])
def test_a_partner_with_room_for_five_books_exactly_five(service_db, model_path, rows, tmp_path, concurrency):
    partners = [
        partner("FI-FIVE", "capital_light", 5 * AMOUNT),
        partner("FI-NEXT", "ice", 7 * AMOUNT, funding_cost=0.08, fee_rate=0.001),
    ]
    settings = replace(settings_for(service_db, model_path, tmp_path, partners), concurrency=concurrency)
    keys = create_keys(settings.db_url, "FI-FIVE")
    with serve_in_thread(settings) as url:
        with httpx.Client(base_url=url, headers={"X-API-Key": keys["app"]}, timeout=60) as app:
            lines = open_lines(app, rows[:400], AT_ONCE)
        answers = _at_once(url, keys["app"], [_drawdown(line["credit_line_id"], AMOUNT) for line in lines])
    by_partner = {}
    for answer in answers:
        by_partner.setdefault(answer["institution_id"] or answer["outcome"], []).append(answer)
    assert len(by_partner["FI-FIVE"]) == 5, {k: len(v) for k, v in by_partner.items()}
    assert len(by_partner["FI-NEXT"]) == 7 and len(by_partner["no_partner"]) == AT_ONCE - 12
    assert all(a["reasons"] == ["capacity_exhausted"] for a in by_partner["no_partner"])
    assert {a["funding_model"] for a in by_partner["FI-NEXT"]} == {"ice"}
    reserved, booked = _reserved_and_booked(settings.db_url)
    assert (
        reserved
        == {"FI-FIVE": 5 * AMOUNT, "FI-NEXT": 7 * AMOUNT}
        == {k: sum(p for _, p in v) for k, v in booked.items()}
    )


def _reserved_and_booked(db_url: str) -> tuple[dict[str, int], dict[str, list[tuple[str, int]]]]:
    """Each partner's reserved capacity, and its booked loans (id, principal); the books balance."""
    ledger = Ledger.connect(db_url)
    try:
        with ledger.engine.connect() as conn:
            reserved = dict(
                conn.execute(
                    sa.select(partner_capacity.c.institution_id, partner_capacity.c.reserved_minor)
                ).all()
            )
            booked = {}
            for row in conn.execute(
                sa.select(loans.c.institution_id, loans.c.loan_id, loans.c.principal_minor)
            ):
                booked.setdefault(row.institution_id, []).append((row.loan_id, int(row.principal_minor)))
        assert sum(ledger.trial_balance().values()) == 0
        return {k: int(v) for k, v in reserved.items()}, booked
    finally:
        ledger.close()


def test_a_partner_filled_between_the_choice_and_the_reservation_is_passed_over_and_nothing_doubles(
    model_path, rows, tmp_path
):
    """The reservation is a drawdown's last write: when another drawdown takes the chosen partner's last room
    after this one read it, this one's transaction is rolled back and run again with the next partner, leaving
    one decision, one answer and one loan."""
    from pg_server import throwaway_pg_url

    from creditmesh.api.app import create_app
    from creditmesh.api.tables import drawdowns

    partners = [
        partner("FI-FIRST", "capital_light", 5 * AMOUNT),
        partner("FI-NEXT", "ice", 5 * AMOUNT, funding_cost=0.08, fee_rate=0.001),
    ]
    with throwaway_pg_url() as db_url:
        settings = settings_for(db_url, model_path, tmp_path, partners)
        keys = create_keys(settings.db_url, "FI-FIRST")
        app = create_app(settings)
        with serve_in_thread(settings, app) as url:
            with httpx.Client(base_url=url, headers={"X-API-Key": keys["app"]}, timeout=60) as client:
                line = open_lines(client, rows[:300], 1)[0]
                platform = app.state.platform
                take = platform._take_capacity

                def a_competitor_fills_it_first(conn, institution_id, day, amount):
                    if institution_id == "FI-FIRST":  # another drawdown commits all of FI-FIRST's room first
                        with platform.engine.begin() as other:
                            assert take(other, institution_id, day, 5 * AMOUNT)
                    return take(conn, institution_id, day, amount)

                platform._take_capacity = a_competitor_fills_it_first
                body = _drawdown(line["credit_line_id"], AMOUNT)
                answer = client.post("/v1/drawdowns", json=body).json()
        assert answer["outcome"] == "booked" and answer["institution_id"] == "FI-NEXT", answer
        reserved, booked = _reserved_and_booked(settings.db_url)
        assert reserved == {"FI-FIRST": 5 * AMOUNT, "FI-NEXT": AMOUNT}
        assert booked == {"FI-NEXT": [(answer["loan_id"], AMOUNT)]}
        assert count_where(settings.db_url, drawdowns.c.application_id, body["application_id"]) == 1
