"""The service as an attacker or a careless client meets it (issue 21): every bad request a clear 4xx,
bounded bodies, the key checked first, rate limits, request ids, one access-log line, metrics."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import uuid

import httpx
import pytest
from _service import serve_in_thread


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _post_raw(client: httpx.Client, path: str, text: str) -> httpx.Response:
    return client.post(path, content=text.encode(), headers={"Content-Type": "application/json"})


def _drawdown(**fields) -> dict:
    return {
        "application_id": _id("dd"),
        "credit_line_id": "no-such-line",
        "amount_minor": 600_00,
        "tenor_months": 6,
        **fields,
    }


def _locs(answer: httpx.Response) -> set[str]:
    return {str(e["loc"][-1]) for e in answer.json()["detail"]}


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e309", "-1e400"])
def test_a_non_finite_number_is_a_422_naming_its_field_never_a_500(client, token):
    money = _post_raw(client, "/v1/drawdowns", json.dumps(_drawdown())[:-1] + f',"amount_minor":{token}}}')
    assert money.status_code == 422 and _locs(money) == {"amount_minor"}, money.text
    unknown = _post_raw(client, "/v1/drawdowns", json.dumps(_drawdown())[:-1] + f',"extra":[1,{token}]}}')
    assert unknown.status_code == 422 and "extra" in unknown.json()["detail"][0]["loc"], unknown.text
    reviewer = _post_raw(client, f"/v1/reviews/{_id('r')}", f'{{"outcome":"approve","reviewer":{token}}}')
    assert reviewer.status_code == 422 and _locs(reviewer) == {"reviewer"}, reviewer.text


def test_a_duplicate_key_is_a_422_naming_it_not_the_last_one_winning(client):
    text = json.dumps(_drawdown(amount_minor=5))[:-1] + ',"amount_minor":10000000}'
    answer = _post_raw(client, "/v1/drawdowns", text)
    assert answer.status_code == 422 and _locs(answer) == {"amount_minor"}, answer.text
    assert "duplicate" in answer.json()["detail"][0]["msg"]


@pytest.mark.parametrize("value", ['"6"', "true", "6.0"])
def test_inputs_are_strict_json_scalars(client, value):
    answer = _post_raw(client, "/v1/drawdowns", json.dumps(_drawdown())[:-1] + f',"tenor_months":{value}}}')
    assert answer.status_code == 422 and _locs(answer) == {"tenor_months"}, answer.text


def test_a_422_echoes_no_more_than_a_short_excerpt_of_the_input(client):
    huge = "x" * 50_000
    answer = client.post("/v1/drawdowns", json=_drawdown(application_id=huge, amount_minor=[1] * 5_000))
    assert answer.status_code == 422 and _locs(answer) >= {"application_id", "amount_minor"}
    assert len(answer.content) < 4_000, len(answer.content)


def test_a_body_over_the_limit_is_a_413_before_it_is_parsed(client):
    big = b"[" + b"1," * 5_000_000 + b"1]"  # 10 MB
    sized = client.post("/v1/drawdowns", content=big, headers={"Content-Type": "application/json"})
    assert sized.status_code == 413, sized.text[:200]

    def chunks():  # no Content-Length: the limit counts the bytes as they arrive
        for _ in range(160):
            yield b" " * 65_536

    streamed = client.post("/v1/drawdowns", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413


def test_the_key_is_checked_before_the_body_is_read(server):
    for headers in ({}, {"X-API-Key": "wrong"}):
        answer = httpx.post(
            f"{server}/v1/applications",
            content=b"{not json at all",
            headers={"Content-Type": "application/json", **headers},
        )
        assert answer.status_code == 401, answer.text


def test_a_key_check_waiting_on_the_database_holds_up_no_other_request(settings, keys):
    """A key not checked lately is read from the database off the event loop: while that read waits, the
    worker still answers (liveness here; before, the guard read it on the loop and the whole worker stalled)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import sqlalchemy as sa

    from creditmesh.api.app import create_app
    from creditmesh.api.keys import KeyCache

    app = create_app(settings)
    keys_engine = sa.create_engine(settings.db_url)
    checking, release = threading.Event(), threading.Event()

    @sa.event.listens_for(keys_engine, "checkout")
    def _a_slow_database(*_):
        checking.set()
        release.wait(60)

    with serve_in_thread(settings, app) as url, ThreadPoolExecutor(1) as pool:
        app.state.keys = KeyCache(keys_engine)
        pending = pool.submit(
            httpx.get, f"{url}/v1/reviews", headers={"X-API-Key": keys["operator"]}, timeout=90
        )
        try:
            assert checking.wait(30), "the key was read from the database"
            assert httpx.get(f"{url}/livez", timeout=15).status_code == 200
            assert not pending.done(), "the keyed request still waits on its key check"
        finally:
            release.set()
        assert pending.result().status_code == 200
    keys_engine.dispose()


def test_a_body_shorter_than_its_content_length_is_a_408_not_a_held_connection(settings, keys):
    with serve_in_thread(dataclasses.replace(settings, body_timeout_seconds=1.0)) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(
                b"POST /v1/drawdowns HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"X-API-Key: {keys['app']}\r\nContent-Length: 1000\r\n\r\n".encode()
                + b'{"application_id":'
            )
            answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]


def test_wrong_keys_and_floods_are_rate_limited_with_retry_after(settings, keys):
    defaults = dataclasses.replace(settings, auth_failures_per_minute=10.0)
    with serve_in_thread(defaults) as url, httpx.Client(base_url=url, timeout=10) as http:
        statuses = [
            http.get("/v1/decisions/x", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(300)
        ]
        assert statuses[0] == 401 and statuses[-1] == 429 and statuses.count(401) < 100
        limited = http.get("/v1/decisions/x", headers={"X-API-Key": "guess"})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1

    tight = dataclasses.replace(settings, rate_per_key=5.0)
    with serve_in_thread(tight) as url, httpx.Client(base_url=url, timeout=10) as http:
        statuses = [
            http.get("/v1/decisions/x", headers={"X-API-Key": keys["app"]}).status_code for _ in range(60)
        ]
        assert statuses[0] == 404 and 429 in statuses
        # another key has its own bucket
        assert http.get("/v1/decisions/x", headers={"X-API-Key": keys["other_app"]}).status_code == 404


def test_a_request_id_is_echoed_or_made(client):
    given = client.get("/v1/decisions/none", headers={"X-Request-ID": "req-123.abc"})
    assert given.headers["X-Request-ID"] == "req-123.abc"
    made = client.get("/v1/decisions/none")
    assert len(made.headers["X-Request-ID"]) >= 16 and made.headers["X-Request-ID"] != "req-123.abc"
    forged = client.get("/v1/decisions/none", headers={"X-Request-ID": "bad id\twith spaces" * 20})
    assert forged.headers["X-Request-ID"] != "bad id\twith spaces" * 20


def test_each_request_is_one_json_log_line_without_the_key_or_raw_ids(client, keys, caplog):
    application_id = _id("secret")
    with caplog.at_level(logging.INFO, logger="creditmesh.access"):
        client.get(f"/v1/decisions/{application_id}", headers={"X-Request-ID": "log-line-1"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "creditmesh.access"]
    mine = [line for line in lines if line["request_id"] == "log-line-1"]
    assert len(mine) == 1
    line = mine[0]
    assert line["route"] == "/v1/decisions/{application_id}" and line["status"] == 404
    assert line["latency_ms"] >= 0 and line["key_id"] and line["method"] == "GET"
    text = json.dumps(line)
    assert keys["app"] not in text and application_id not in text


def test_metrics_count_requests_by_route_and_decisions_by_stage_and_outcome(client, server):
    assert client.get("/v1/decisions/none").status_code == 404
    metrics = httpx.get(f"{server}/metrics")
    assert metrics.status_code == 200
    text = metrics.text
    assert (
        'creditmesh_requests_total{method="GET",route="/v1/decisions/{application_id}",status="404"}' in text
    )
    assert 'creditmesh_request_seconds_bucket{le="0.005",route="/v1/decisions/{application_id}"}' in text
    assert "creditmesh_decisions_total" in text and "creditmesh_automation_rate" in text
    assert "creditmesh_partner_capacity_used_ratio" in text


def test_the_openapi_document_lists_every_status_the_service_answers(server):
    paths = httpx.get(f"{server}/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            if path.startswith("/v1/"):
                assert {"401", "429"} <= statuses, (path, method, statuses)
            if path.startswith("/v1/") and method == "post":
                assert {"408", "409", "413", "422"} <= statuses, (path, method, statuses)
    assert "503" in paths["/readyz"]["get"]["responses"]
