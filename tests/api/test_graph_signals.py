"""The graph through the service: a borrower sharing a phone and a device with a black-listed one is declined,
and applications and drawdowns at the same time never wait on each other for good (both engines)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from _service import applicant, create_keys, open_lines, serve_in_thread, settings_for


def test_a_black_list_hit_is_found_by_the_service_and_concurrent_requests_finish(
    service_db, model_path, rows, tmp_path
):
    settings = settings_for(service_db, model_path, tmp_path)
    keys = create_keys(settings.db_url, "FI-LIGHT")
    with serve_in_thread(settings) as url:
        with (
            httpx.Client(base_url=url, headers={"X-API-Key": keys["app"]}, timeout=60) as app,
            httpx.Client(base_url=url, headers={"X-API-Key": keys["operator"]}, timeout=60) as operator,
        ):
            lines = open_lines(app, rows[:300], 4, start=80_000)
            fraudster = lines[0]["_body"]
            labelled = operator.post(
                f"/v1/borrowers/{fraudster['borrower_id']}/labels", json={"label": "blacklist"}
            )
            assert labelled.status_code == 204
            same = fraudster["identifiers"]
            twin = applicant(
                rows[1], 81_000, phone=same["phone"], device=same["device"], bank_card=same["bank_card"]
            )
            answer = app.post("/v1/applications", json=twin).json()
            assert answer["outcome"] == "decline" and "blacklisted" in answer["reasons"], answer
            drawn = app.post(
                "/v1/drawdowns",
                json={
                    "application_id": f"dd-{uuid.uuid4().hex[:12]}",
                    "credit_line_id": lines[0]["credit_line_id"],
                    "amount_minor": 60_000,
                    "tenor_months": 6,
                },
            ).json()
            assert drawn["outcome"] == "decline" and "blacklisted" in drawn["reasons"]

        def one(k: int) -> int:
            with httpx.Client(base_url=url, headers={"X-API-Key": keys["app"]}, timeout=60) as client:
                if k % 2:
                    return client.post("/v1/applications", json=applicant(rows[k], 82_000 + k)).status_code
                body = {
                    "application_id": f"dd-{uuid.uuid4().hex[:12]}",
                    "credit_line_id": lines[1 + k % 3]["credit_line_id"],
                    "amount_minor": 50_000,
                    "tenor_months": 6,
                }
                return client.post("/v1/drawdowns", json=body).status_code

        with ThreadPoolExecutor(16) as pool:
            assert set(pool.map(one, range(32))) == {200}
