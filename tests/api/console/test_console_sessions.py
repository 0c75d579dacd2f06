"""Signing in to the console over HTTP (no browser): who may sign in, the cookie's flags, CSRF, sessions that end."""

from __future__ import annotations

import dataclasses
import re
from contextlib import contextmanager

import httpx
import pytest
from _service import create_keys, serve_in_thread

from creditmesh.api.settings import Settings


def _form_token(page: httpx.Response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


@contextmanager
def signed_in(server: str, key: str):
    """A client signed in with ``key`` through the form."""
    with httpx.Client(base_url=server, timeout=30) as client:
        form = client.get("/console/sign-in")
        answer = client.post("/console/sign-in", data={"csrf_token": _form_token(form), "api_key": key})
        assert answer.status_code == 303, answer.text
        yield client


def test_only_operator_and_partner_keys_sign_in_and_a_wrong_key_says_nothing_more(server, keys):
    with httpx.Client(base_url=server, timeout=30) as client:
        for role, status, words in (
            ("app", 403, "cannot sign in to the console"),
            ("admin", 403, "cannot sign in to the console"),
        ):
            token = _form_token(client.get("/console/sign-in"))
            answer = client.post("/console/sign-in", data={"csrf_token": token, "api_key": keys[role]})
            assert answer.status_code == status and words in answer.text, role
            assert "cm_console=" not in answer.headers.get("set-cookie", "")
        token = _form_token(client.get("/console/sign-in"))
        wrong = client.post("/console/sign-in", data={"csrf_token": token, "api_key": keys["operator"] + "x"})
        assert wrong.status_code == 401 and "not known, or it was revoked" in wrong.text
        assert keys["operator"] not in wrong.text, "the key is never echoed"


def test_the_sign_in_form_needs_its_own_token(server, keys):
    with httpx.Client(base_url=server, timeout=30) as client:
        client.get("/console/sign-in")
        answer = client.post("/console/sign-in", data={"api_key": keys["operator"]})
        assert answer.status_code == 403 and "cm_console=" not in answer.headers.get("set-cookie", "")


def test_the_session_cookie_is_http_only_strict_and_secure_over_https(server, keys):
    for proto, secure in (
        ("http", False),
        ("https", True),
    ):  # uvicorn trusts X-Forwarded-Proto from a local proxy
        with httpx.Client(base_url=server, timeout=30, headers={"X-Forwarded-Proto": proto}) as client:
            form = client.get("/console/sign-in")
            anchor = form.cookies[
                "cm_console_pre"
            ]  # sent by hand: a client on plain HTTP keeps Secure cookies back
            answer = client.post(
                "/console/sign-in",
                data={"csrf_token": _form_token(form), "api_key": keys["operator"]},
                headers={"Cookie": f"cm_console_pre={anchor}"},
            )
            assert answer.status_code == 303, answer.text
            cookie = [c for c in answer.headers.get_list("set-cookie") if c.startswith("cm_console=")][0]
            flags = {part.strip().lower() for part in cookie.split(";")[1:]}
            assert {"httponly", "path=/console", "samesite=strict"} <= flags
            assert ("secure" in flags) is secure, proto


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(server, keys, console_day):
    review = console_day["reviews"][2]
    with signed_in(server, keys["operator"]) as client:
        answer = client.post(f"/console/reviews/{review}", data={"outcome": "approve"})
        assert answer.status_code == 403 and "security token" in answer.text
        page = client.get("/console/reviews")
        assert f'data-application="{review}"' in page.text
        header_token = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', page.text).group(1)
        bad = client.post(f"/console/reviews/{review}", data={"outcome": "maybe", "csrf_token": header_token})
        assert bad.status_code == 422 and "outcome: choose approve or decline" in bad.text


def test_a_revoked_key_ends_its_sessions_and_pages_need_a_session(settings, server):
    made = create_keys(settings.db_url, "FI-LIGHT", tenant="revoke-me")
    with signed_in(server, made["operator"]) as client:
        assert client.get("/console/audit").status_code == 200
        from creditmesh.api.keys import revoke_key
        from creditmesh.ledger import Ledger

        key_id = made["operator"].split("_")[1]
        ledger = Ledger.connect(settings.db_url)
        with ledger.engine.begin() as connection:
            revoke_key(connection, key_id)
        ledger.close()
        import time

        time.sleep(2.1)  # a worker trusts a checked session for CACHE_SECONDS
        gone = client.get("/console/audit")
        assert gone.status_code == 303 and gone.headers["location"].startswith(
            "/console/sign-in?next=/console/audit"
        )
    with httpx.Client(base_url=server, timeout=30) as anonymous:
        assert anonymous.get("/console/policies").status_code == 303
        assert anonymous.get("/console/reviews", headers={"HX-Request": "true"}).status_code == 401


def test_after_signing_in_an_operator_goes_back_only_to_a_console_page(server, keys):
    with httpx.Client(base_url=server, timeout=30) as client:
        for asked, landed in (
            ("/console/audit", "/console/audit"),
            ("https://evil.example/", "/console/reviews"),
            ("//evil.example/console/", "/console/reviews"),
        ):
            form = client.get("/console/sign-in", params={"next": asked})
            answer = client.post(
                "/console/sign-in",
                data={"csrf_token": _form_token(form), "api_key": keys["operator"], "next": asked},
            )
            assert answer.headers["location"] == landed, asked


@pytest.fixture()
def strict_server(model_path, tmp_path):
    """A server of its own whose failed-key limit is the default (the shared one lifts it for other tests)."""
    from _service import settings_for

    settings: Settings = dataclasses.replace(
        settings_for(str(tmp_path / "service.db"), model_path, tmp_path), auth_failures_per_minute=3
    )
    create_keys(settings.db_url, "FI-LIGHT")
    with serve_in_thread(settings) as url:
        yield url


def test_wrong_keys_from_one_address_are_slowed_down(strict_server):
    with httpx.Client(base_url=strict_server, timeout=30) as client:
        statuses = []
        for _ in range(10):
            token = _form_token(client.get("/console/sign-in"))
            statuses.append(
                client.post(
                    "/console/sign-in",
                    data={"csrf_token": token, "api_key": "cm_0123456789abcdef_" + "x" * 30},
                ).status_code
            )
        assert statuses[:6] == [401] * 6 and statuses[-1] == 429, statuses


@pytest.fixture()
def pg_server(model_path, tmp_path):
    """A server of its own over a throw-away PostgreSQL database (skipped, saying why, without one)."""
    from _service import settings_for
    from pg_server import throwaway_pg_url

    with throwaway_pg_url() as url:
        settings = settings_for(url, model_path, tmp_path)
        made = create_keys(settings.db_url, "FI-LIGHT")
        with serve_in_thread(settings) as server:
            yield server, made


def test_every_page_answers_on_postgresql(pg_server, rows):
    from _service import applicant
    from console_day import RING_DEVICE, night_burst

    server, made = pg_server
    with httpx.Client(base_url=server, headers={"X-API-Key": made["app"]}, timeout=60) as app:
        lines = []
        for n, row in enumerate(rows[:40]):
            body = applicant(row, 70_000 + n)
            if n < 3:
                body["identifiers"] = {**body["identifiers"], "device": RING_DEVICE}
            answer = app.post("/v1/applications", json=body).json()
            if answer["outcome"] == "approve":
                lines.append(answer)
        drawn = app.post(
            "/v1/drawdowns",
            json={
                "application_id": "pg-dd-1",
                "credit_line_id": lines[0]["credit_line_id"],
                "amount_minor": 100_000,
                "tenor_months": 12,
            },
        ).json()
        assert drawn["outcome"] == "booked", drawn
        review = night_burst(rows, 71_000)
        assert app.post("/v1/applications", json=review).json()["outcome"] == "review"
    with signed_in(server, made["operator"]) as client:
        ring = re.search(r'href="/console/rings/(\d+)"', client.get("/console/rings").text).group(1)
        for path in (
            "/console/reviews",
            f"/console/reviews/{review['application_id']}",
            "/console/audit",
            f"/console/decisions?q={lines[0]['application_id'][:6]}",
            f"/console/decisions/{lines[0]['application_id']}/replay",
            "/console/partners",
            "/console/partners/FI-LIGHT",
            f"/console/rings/{ring}",
            "/console/portfolio",
            "/console/policies",
        ):
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[:500])
        assert "Reproduced" in client.get(f"/console/decisions/{lines[0]['application_id']}/replay").text
        members = client.get(f"/console/rings/{ring}").text
        assert members.count("<td>credit line</td>") == 3, (
            "the three members' applications, found by borrower id"
        )
