"""The browser the console's tests drive, and why it is unavailable when it is (as tests/pg_server.py does for
PostgreSQL): Debian's Chromium (``apt-get install chromium``; ``.ci/run`` installs it) through Playwright.

``playwright install`` cannot download browsers here, so Playwright launches the system's Chromium
(``CREDITMESH_CHROMIUM``, default ``/usr/bin/chromium``). Under CI a missing browser fails the tests instead
of skipping them.

axe-core (``axe.min.js`` beside this file, 4.14.1 from the npm registry, MPL-2.0: ``axe.LICENSE``) is injected
into each page to check it against WCAG 2.1 A and AA.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from creditmesh.api.console.screens import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 - the one launch recipe

AXE = Path(__file__).with_name("axe.min.js")
#: The rules axe runs: WCAG 2.0 and 2.1, levels A and AA.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def browser_unavailable_reason() -> str | None:
    """None when Playwright and Chromium are both there, else what is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        return f"playwright is not installed (pip install -e '.[dev]'): {error}"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CREDITMESH_CHROMIUM)"
    return None


def skip_without_browser() -> None:
    """Skip the calling test, saying why, when no browser can be had; under CI, fail it instead."""
    reason = browser_unavailable_reason()
    if reason is None:
        return
    import pytest

    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI runs the browser tests, and there is no browser: {reason}", pytrace=False)
    pytest.skip(reason)


def axe_violations(page) -> list[dict]:
    """The page's WCAG 2.1 A/AA violations as axe-core finds them (rule id, impact, the first few nodes)."""
    page.evaluate(
        AXE.read_text(encoding="utf-8")
    )  # evaluated through the devtools protocol: the page's CSP stays on
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["html"][:160] for n in v["nodes"][:3]],
        }
        for v in result["violations"]
    ]


def sign_in(page, key: str) -> None:
    """Sign in through the form, as a person would."""
    page.goto("/console/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
