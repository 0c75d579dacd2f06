"""The console in a real browser (Debian's Chromium through Playwright): an operator signs in, settles a review and
sees it leave the queue and enter the audit log; a form without its CSRF token is refused; a partner sees only its
own institution; every page renders without console errors and passes axe-core's WCAG 2.1 AA rules, at 1280 px and
at a tablet's width."""

from __future__ import annotations

import httpx
import pytest
from browser import axe_violations, sign_in
from console_day import night_burst

#: Every page an operator opens in a day (``{review}`` and ``{ring}`` filled from the day's data).
PAGES = (
    "/console/reviews",
    "/console/reviews/{review}",
    "/console/audit",
    "/console/decisions",
    "/console/decisions/{review}",
    "/console/partners",
    "/console/partners/FI-LIGHT",
    "/console/rings",
    "/console/rings/{ring}",
    "/console/portfolio",
    "/console/policies",
)
TABLET = {"width": 768, "height": 1024}


def _ring(page) -> str:
    page.goto("/console/rings")
    link = page.locator("main table a[href^='/console/rings/']").first
    return link.get_attribute("href").rsplit("/", 1)[1]


def test_an_operator_settles_a_review_and_it_leaves_the_queue_for_the_audit_log(console, keys, console_day):
    page = console
    sign_in(page, keys["operator"])
    assert page.url.endswith("/console/reviews")
    review = console_day["reviews"][0]
    row = page.locator(f"tr[data-application='{review}']")
    assert row.count() == 1, "the pending review is in the queue"
    row.get_by_role("link", name=review).click()
    page.get_by_role("heading", name=f"Review {review}").wait_for()
    assert page.get_by_role("heading", name="Pre-loan investigation report (masked)").is_visible()
    assert page.locator("svg.gauge").count() == 1, "the score is drawn against the cut-off"
    page.get_by_role("radio", name="Decline").check()
    page.get_by_label("Note").fill("device farm: twelve applicants on one handset")
    page.get_by_role("button", name="Record the outcome").click()
    page.wait_for_url("**/console/reviews?settled=*")
    assert page.get_by_role("status").inner_text().startswith(f"Review {review} settled")
    assert page.locator(f"tr[data-application='{review}']").count() == 0, "it left the queue"
    page.get_by_role("link", name="Audit log", exact=True).click()
    entry = page.locator(f"tr[data-application='{review}']")
    assert entry.count() == 1
    cells = entry.locator("td").all_inner_texts()
    assert cells[2:5] == ["decline", "analyst-7", "device farm: twelve applicants on one handset"]
    assert page.console_errors == []


def test_the_queue_updates_without_a_reload(console, keys, server, rows):
    page = console
    sign_in(page, keys["operator"])
    page.evaluate("window.__same_page = true")  # gone if the page were reloaded
    body = night_burst(rows, 61_000)
    with httpx.Client(base_url=server, headers={"X-API-Key": keys["app"]}, timeout=30) as app:
        assert app.post("/v1/applications", json=body).json()["outcome"] == "review"
    page.locator(f"tr[data-application='{body['application_id']}']").wait_for(timeout=10_000)
    assert page.evaluate("window.__same_page") is True
    assert page.console_errors == []


def test_a_form_posted_without_its_csrf_token_is_refused(console, keys, console_day):
    page = console
    sign_in(page, keys["operator"])
    review = console_day["reviews"][1]
    page.goto(f"/console/reviews/{review}")
    # the browser's own session cookie goes with these posts; only the token is missing or wrong
    missing = page.request.post(f"/console/reviews/{review}", form={"outcome": "approve", "note": "no token"})
    assert missing.status == 403 and "security token" in missing.text()
    forged = page.request.post(
        f"/console/reviews/{review}", form={"outcome": "approve", "csrf_token": "0" * 40}
    )
    assert forged.status == 403
    page.goto("/console/reviews")
    assert page.locator(f"tr[data-application='{review}']").count() == 1, "the review is still pending"
    out = page.request.post("/console/sign-out", form={})
    assert out.status == 403, "signing out needs the token too"
    page.goto("/console/audit")
    assert page.url.endswith("/console/audit"), "still signed in"


def test_a_partner_sees_its_own_institution_and_no_other(console, keys):
    page = console
    sign_in(page, keys["partner"])  # bank-1, institution FI-LIGHT
    assert page.url.endswith("/console/partners/FI-LIGHT")
    assert page.get_by_role("heading", name="Today").first.is_visible()
    assert page.get_by_role("heading", name="Terms").is_visible()
    assert page.get_by_role("row", name="Funding model capital-light").is_visible()
    other = page.goto("/console/partners/FI-ICE")
    assert other.status == 404
    for path in ("/console/reviews", "/console/decisions", "/console/portfolio", "/console/rings"):
        assert page.goto(path).status == 403, path
    assert page.goto("/console/partners").url.endswith("/console/partners/FI-LIGHT")
    assert page.console_errors == [] or all("403" in e or "404" in e for e in page.console_errors)


def test_signing_in_sets_a_strict_http_only_cookie_and_signing_out_ends_the_session(console, keys):
    page = console
    page.goto("/console/sign-in")
    page.get_by_label("API key").fill("cm_0000000000000000_not-a-key-at-all-000000")
    page.get_by_role("button", name="Sign in").click()
    assert "not known" in page.get_by_role("alert").inner_text()
    sign_in(page, keys["operator"])
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "cm_console"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert not cookie["secure"], "Secure only over HTTPS (tests/api/console/test_console_sessions.py)"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in")
    page.context.add_cookies([{**cookie}])  # the old cookie again: the session is over in the database too
    page.goto("/console/reviews")
    assert page.url.split("?")[0].endswith("/console/sign-in")


def test_a_replay_shows_the_stored_outcome_reproduced(console, keys, console_day):
    page = console
    sign_in(page, keys["operator"])
    page.goto(f"/console/decisions?q={console_day['lines'][0]['application_id']}")
    page.get_by_role("link", name="Replay this decision").click()
    verdict = page.locator("#replay-verdict")
    verdict.wait_for()
    assert verdict.inner_text().startswith("Reproduced")
    assert page.console_errors == []


@pytest.mark.parametrize("viewport", [None, TABLET], ids=["1280px", "tablet"])
def test_every_page_passes_axe_without_console_errors(console, keys, console_day, viewport):
    page = console
    if viewport:
        page.set_viewport_size(viewport)
    sign_in(page, keys["operator"])
    fill = {"review": console_day["reviews"][2], "ring": _ring(page)}
    for template in PAGES:
        path = template.format(**fill)
        answer = page.goto(path)
        assert answer.status == 200, path
        if path == "/console/portfolio":  # the figures arrive by htmx once computed
            page.locator("#portfolio h2").first.wait_for(timeout=60_000)
        assert axe_violations(page) == [], path
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow} px"
    assert page.console_errors == []
