"""Screenshots of every console page over a simulated platform: ``python -m creditmesh.api.console.screens``.

Simulates a platform (``--borrowers``, 24 months), trains a quick model on its credit-line applications (or uses
``--model``), starts ``creditmesh serve`` over a fresh SQLite database with the simulated partners and the simulated
book as the portfolio's (``CREDITMESH_BOOK``), sends the simulated applicants through the API with their identifiers
(so the simulator's fraud rings appear in the graph), draws on some of the lines, settles a review, then opens each
page in Debian's Chromium (Playwright) and writes ``<out>/<page>.png`` at 1280 px. ``benchmarks/console.py`` builds
its service the same way (:func:`build_service`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

#: Identifier kinds of the simulator that the API takes one of (the first), and the one it takes a list of.
SINGLE_KINDS = ("phone", "device", "bank_card", "address", "ip", "employer")
#: Chromium as the screenshots and the browser tests launch it (Debian's; Playwright cannot download one here).
CHROMIUM = os.environ.get("CREDITMESH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
#: The tallest screenshot (px): a long queue or partner list is cut there.
MAX_SHOT_HEIGHT = 2_400
#: The pages photographed, by file name (``{review}``, ``{decision}`` and ``{ring}`` filled in from the data).
PAGES = (
    ("sign-in", "/console/sign-in"),
    ("reviews", "/console/reviews"),
    ("review", "/console/reviews/{review}"),
    ("audit", "/console/audit"),
    ("decisions", "/console/decisions?q=ap-A000"),
    ("decision", "/console/decisions/{decision}"),
    ("replay", "/console/decisions/{decision}/replay"),
    ("partners", "/console/partners"),
    ("partner", "/console/partners/{partner}"),
    ("rings", "/console/rings"),
    ("ring", "/console/rings/{ring}"),
    ("portfolio", "/console/portfolio"),
    ("policies", "/console/policies"),
)


def simulated_book(borrowers: int, folder: Path, *, seed: int = 7, months: int = 24):
    """Simulate a platform into ``folder``; the simulation's result (tables and truth)."""
    from creditmesh.simulate import SimulationConfig, simulate, write_dataset

    result = simulate(SimulationConfig(borrowers=borrowers, months=months, seed=seed))
    write_dataset(result, folder, overwrite=True)
    return result


def quick_model(result, folder: Path) -> Path:
    """A small GBM on the simulation's credit-line applications (seconds), saved under ``folder``."""
    from creditmesh.scoring import GBMClassifier
    from creditmesh.scoring.artifact import save_model
    from creditmesh.scoring.dataset import APPLICATION_FEATURES, credit_line_table

    table = credit_line_table(
        result.tables["applications"].to_pandas(),
        result.tables["decisions"].to_pandas(),
        result.truth["applications"].to_pandas(),
    )
    model = GBMClassifier(n_splits=2, learning_rate=0.2, max_rounds=60, early_stopping=10, num_threads=1)
    model.fit(table[list(APPLICATION_FEATURES)], table["bad_12m"])
    return save_model(model, folder / "model")


def applicant_bodies(result, *, limit: int | None = None) -> list[dict]:
    """The simulation's credit-line applications as API bodies, each with its borrower's identifiers."""
    import pandas as pd

    from creditmesh.scoring.dataset import APPLICATION_FEATURES

    apps = result.tables["applications"].to_pandas()
    apps = apps[apps["stage"] == "credit_line"].drop_duplicates("borrower_id")
    if limit is not None:
        apps = apps.head(limit)
    regions = result.tables["borrowers"].to_pandas().set_index("borrower_id")["region"]
    identities = result.tables["identities"].to_pandas()
    by_borrower = {b: g for b, g in identities.groupby("borrower_id", sort=False)}
    bodies = []
    for row in apps.itertuples(index=False):
        held = by_borrower.get(row.borrower_id, pd.DataFrame(columns=["kind", "value"]))
        identifiers: dict = {}
        for kind in SINGLE_KINDS:
            values = held.loc[held["kind"] == kind, "value"]
            if len(values):
                identifiers[kind] = str(values.iloc[0])
        identifiers["contacts"] = [str(v) for v in held.loc[held["kind"] == "contact", "value"]][:50]
        body = {
            "application_id": f"ap-{row.application_id}-{uuid.uuid4().hex[:6]}",
            "borrower_id": str(row.borrower_id),
            "channel": row.channel,
            "region": str(regions.get(row.borrower_id, "unknown"))[:16],
            "identifiers": identifiers,
        }
        for name in APPLICATION_FEATURES:
            value = getattr(row, name)
            body[name] = (
                None if value is None or value != value else (value if isinstance(value, str) else int(value))
            )
        bodies.append(body)
    return bodies


@dataclass
class Service:
    """A running service with a day of work on it, and the keys to look at it."""

    url: str
    process: object
    keys: dict[str, str]
    db_url: str
    partner: str
    counts: dict[str, int]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _keys(db_url: str, institution_id: str) -> dict[str, str]:
    from creditmesh.api.keys import create_key
    from creditmesh.ledger import Ledger

    ledger = Ledger.connect(db_url)
    try:
        with ledger.engine.begin() as connection:
            return {
                "app": create_key(connection, role="app", owner="loan-app")[1],
                "operator": create_key(connection, role="operator", owner="risk-officer")[1],
                "partner": create_key(
                    connection, role="partner", owner="partner-bank", institution_id=institution_id
                )[1],
            }
    finally:
        ledger.close()


def _night_burst(body: dict, n: int) -> dict:
    """An applicant the shipped policy sends to people: a new device, at night, almost no contacts."""
    return {
        **body,
        "application_id": f"review-{n}-{uuid.uuid4().hex[:6]}",
        "borrower_id": f"{body['borrower_id']}-r{n}",
        "device_age_days": 0,
        "apply_hour": 2,
        "contacts_count": 1,
    }


def build_service(
    folder: Path,
    *,
    borrowers: int,
    model: Path | None = None,
    workers: int = 4,
    draws: int = 400,
    reviews: int = 12,
) -> Service:
    """Simulate, start the service over a fresh database and put a day of work through its API (see the module)."""
    import httpx

    from creditmesh.api.demo import start
    from creditmesh.ledger.store import database_url

    folder.mkdir(parents=True, exist_ok=True)
    book = folder / "book"
    result = simulated_book(borrowers, book)
    model = model or quick_model(result, folder)
    partners = book / "institutions.parquet"
    db_url = database_url(str(folder / "service.db"))
    institutions = result.tables["institutions"].to_pandas()
    partner = str(
        institutions.sort_values("monthly_capacity_minor", ascending=False)["institution_id"].iloc[0]
    )
    keys = _keys(db_url, partner)
    os.environ["CREDITMESH_BOOK"] = str(book)
    process, url = start(db_url, model, partners)
    counts = {"applications": 0, "approved": 0, "loans": 0, "reviews": 0}
    try:
        bodies = applicant_bodies(result)
        with httpx.Client(base_url=url, headers={"X-API-Key": keys["app"]}, timeout=60) as app:

            def apply(body: dict) -> dict:
                answer = app.post("/v1/applications", json=body)
                answer.raise_for_status()
                return answer.json()

            with ThreadPoolExecutor(workers) as pool:
                answers = list(pool.map(apply, bodies))
            approved = [a for a in answers if a["outcome"] == "approve"]

            def draw(line: dict) -> dict:
                amount = max(min(line["limit_minor"] // 2, 3_000_000) // 100 * 100, 50_000)
                return app.post(
                    "/v1/drawdowns",
                    json={
                        "application_id": f"dd-{uuid.uuid4().hex[:16]}",
                        "credit_line_id": line["credit_line_id"],
                        "amount_minor": amount,
                        "tenor_months": 12,
                    },
                ).json()

            with ThreadPoolExecutor(workers) as pool:
                drawn = list(pool.map(draw, approved[:draws]))
            queued = [apply(_night_burst(bodies[n], n)) for n in range(min(reviews, len(bodies)))]
        counts.update(
            applications=len(answers) + len(queued),
            approved=len(approved),
            loans=sum(d.get("outcome") == "booked" for d in drawn),
            reviews=sum(q["outcome"] == "review" for q in queued),
        )
    except BaseException:
        process.terminate()
        raise
    return Service(url, process, keys, db_url, partner, counts)


def screenshots(service: Service, out: Path) -> list[Path]:
    """Settle the oldest review, then photograph every page at 1280 px (full pages)."""
    import httpx
    from playwright.sync_api import sync_playwright

    with httpx.Client(
        base_url=service.url, headers={"X-API-Key": service.keys["operator"]}, timeout=60
    ) as operator:
        pending = operator.get("/v1/reviews").json()
        operator.post(
            f"/v1/reviews/{pending[0]['application_id']}", json={"outcome": "decline", "note": "device farm"}
        )
        review = pending[1]["application_id"]
        decision = operator.get("/v1/reviews").json()[-1]["application_id"]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=service.url)
        page = context.new_page()
        page.goto("/console/sign-in")
        page.screenshot(path=str(out / "sign-in.png"))
        written.append(out / "sign-in.png")
        page.get_by_label("API key").fill(service.keys["operator"])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/console/reviews")
        page.goto("/console/rings")
        ring = (
            page.locator("main table a[href^='/console/rings/']")
            .first.get_attribute("href")
            .rsplit("/", 1)[1]
        )
        fill = {"review": review, "decision": decision, "ring": ring, "partner": service.partner}
        for name, template in PAGES[1:]:
            page.goto(template.format(**fill))
            if name == "portfolio":
                page.locator("#portfolio h2").first.wait_for(timeout=300_000)
            if name == "review":  # the README's picture: what fits one screen
                page.screenshot(path=str(out / "console.png"))
                written.append(out / "console.png")
            path = out / f"{name}.png"
            height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_SHOT_HEIGHT)
            page.screenshot(
                path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": height}
            )
            written.append(path)
        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("docs/console"), help="where the PNGs go")
    parser.add_argument("--borrowers", type=int, default=3_000, help="borrowers simulated (24 months)")
    parser.add_argument("--model", type=Path, help="a saved model; default: a quick GBM on the simulation")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="creditmesh-screens-") as folder:
        service = build_service(Path(folder), borrowers=args.borrowers, model=args.model)
        try:
            for path in screenshots(service, args.out):
                print(path)
        finally:
            service.stop()
    print(f"{service.counts} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
