"""The console's fixtures: the service's shared server (tests/api/conftest.py) with a day of work on it, and one
Chromium for the whole session (tests/api/console/browser.py says where it comes from)."""

from __future__ import annotations

import httpx
import pytest
from _service import applicant
from browser import CHROMIUM, CHROMIUM_ARGS, skip_without_browser
from console_day import RING_CARD, RING_DEVICE, night_burst


@pytest.fixture(scope="session")
def console_day(server, keys, rows):
    """A day on the service: lines opened and drawn on (loans at FI-LIGHT), a ring of four, reviews queued."""
    with httpx.Client(base_url=server, headers={"X-API-Key": keys["app"]}, timeout=60) as app:
        approved = []
        for n, row in enumerate(rows[:80]):
            body = applicant(row, 50_000 + n)
            if n < 4:
                body["identifiers"] = {**body["identifiers"], "device": RING_DEVICE, "bank_card": RING_CARD}
            answer = app.post("/v1/applications", json=body)
            assert answer.status_code == 200, answer.text
            if answer.json()["outcome"] == "approve":
                approved.append(answer.json())
        loans = []
        for k, line in enumerate(approved[:12]):
            drawn = app.post(
                "/v1/drawdowns",
                json={
                    "application_id": f"console-dd-{k}-{line['credit_line_id'][-8:]}",
                    "credit_line_id": line["credit_line_id"],
                    "amount_minor": max(min(line["limit_minor"] // 2, 2_000_000) // 100 * 100, 50_000),
                    "tenor_months": 12,
                },
            )
            assert drawn.status_code == 200, drawn.text
            if drawn.json()["outcome"] == "booked":
                loans.append(drawn.json())
        reviews = []
        for n in range(3):
            body = night_burst(rows, 60_000 + n)
            answer = app.post("/v1/applications", json=body).json()
            assert answer["outcome"] == "review", answer
            reviews.append(body["application_id"])
    assert loans, "the day books loans"
    return {"lines": approved, "loans": loans, "reviews": reviews, "ring_device": RING_DEVICE}


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (skipped, saying why, where there is none; failed under CI)."""
    skip_without_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        yield chromium
        chromium.close()


@pytest.fixture()
def console(browser, server, console_day):
    """A fresh browser context (its own cookies) at 1280 px, and the console errors its pages log."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors
    yield page
    context.close()
