"""One borrower through a real server, on SQLite and PostgreSQL: apply, draw, repay partly, prepay, settle;
the ledger's trial balance stays 0 and the exported book passes ``portfolio.validate``."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx
from _service import create_keys, open_lines, serve_in_thread, settings_for

from creditmesh.ledger import Ledger


def test_a_borrower_goes_from_application_to_a_settled_loan(service_db, model_path, rows, tmp_path):
    settings = settings_for(service_db, model_path, tmp_path)
    keys = create_keys(settings.db_url, "FI-LIGHT")
    with (
        serve_in_thread(settings) as url,
        httpx.Client(base_url=url, headers={"X-API-Key": keys["app"]}, timeout=30) as app,
    ):
        line = open_lines(app, rows[:300], 1)[0]
        assert line["credit_line_id"] and line["limit_minor"] > 0 and line["apr"] > 0 and line["expires_on"]
        stored = app.get(f"/v1/credit-lines/{line['credit_line_id']}").json()
        assert stored["limit_minor"] == stored["available_minor"] == line["limit_minor"]
        assert stored["used_minor"] == 0 and [e["kind"] for e in stored["history"]] == ["open"]

        amount = min(line["limit_minor"] // 2, 1_000_000) // 100 * 100
        drawdown = {
            "application_id": f"dd-{uuid.uuid4().hex[:12]}",
            "credit_line_id": line["credit_line_id"],
            "amount_minor": amount,
            "tenor_months": 12,
        }
        booked = app.post("/v1/drawdowns", json=drawdown)
        assert booked.status_code == 200, booked.text
        loan = booked.json()
        assert loan["outcome"] == "booked", loan
        assert loan["institution_id"] == "FI-LIGHT" and loan["funding_model"] == "capital_light"
        assert loan["apr"] == line["apr"] and len(loan["schedule"]) == 12
        assert sum(i["principal_due_minor"] for i in loan["schedule"]) == amount
        assert app.post("/v1/drawdowns", json=drawdown).json() == loan, "a repeat gets the first answer"
        assert app.post("/v1/drawdowns", json={**drawdown, "amount_minor": amount - 100}).status_code == 409

        after = app.get(f"/v1/credit-lines/{line['credit_line_id']}").json()
        assert after["used_minor"] == amount and after["available_minor"] == line["limit_minor"] - amount

        loan_id = loan["loan_id"]
        view = app.get(f"/v1/loans/{loan_id}").json()
        assert view["status"] == "active" and view["outstanding_principal_minor"] == amount
        assert view["dpd"] == 0 and view["bucket"] == "current" and view["settlement_minor"] >= amount

        part = app.post(
            f"/v1/loans/{loan_id}/payments",
            json={"amount_minor": amount // 4},
            headers={"Idempotency-Key": "p1"},
        )
        assert part.status_code == 200, part.text
        assert part.json()["prepaid_principal_minor"] + part.json()["prepaid_interest_minor"] == amount // 4
        again = app.post(
            f"/v1/loans/{loan_id}/payments",
            json={"amount_minor": amount // 4},
            headers={"Idempotency-Key": "p1"},
        )
        assert again.json() == {**part.json(), "replayed": True}
        clash = app.post(
            f"/v1/loans/{loan_id}/payments", json={"amount_minor": 1}, headers={"Idempotency-Key": "p1"}
        )
        assert clash.status_code == 409

        prepay = app.post(
            f"/v1/loans/{loan_id}/payments",
            json={"amount_minor": amount // 4},
            headers={"Idempotency-Key": "p2"},
        )
        assert prepay.status_code == 200 and not prepay.json()["settled"]
        due = app.get(f"/v1/loans/{loan_id}").json()["settlement_minor"]
        assert due == amount - 2 * (amount // 4) + 0  # same day: no interest has accrued
        settle = app.post(
            f"/v1/loans/{loan_id}/payments", json={"amount_minor": due}, headers={"Idempotency-Key": "p3"}
        )
        assert settle.status_code == 200 and settle.json()["settled"], settle.text
        final = app.get(f"/v1/loans/{loan_id}").json()
        assert (
            final["status"] == "settled" and final["paid_minor"] == amount and final["settlement_minor"] == 0
        )
        assert (
            app.get(f"/v1/credit-lines/{line['credit_line_id']}").json()["available_minor"]
            == line["limit_minor"]
        )

    ledger = Ledger.connect(settings.db_url)
    try:
        assert sum(ledger.trial_balance().values()) == 0 and ledger.unbalanced_entries() == []
    finally:
        ledger.close()
    # month end: age and export through the command line against the service's database, then the metrics
    from typer.testing import CliRunner

    from creditmesh.cli import app as cli
    from creditmesh.portfolio import Book, book_problems

    runner = CliRunner()
    aged = runner.invoke(
        cli, ["ledger", "age", (date.today() + timedelta(days=40)).isoformat(), "--db", settings.db_url]
    )
    assert aged.exit_code == 0 and "aged 0 loans" in aged.output, aged.output  # the loan is settled
    folder = tmp_path / "book"
    exported = runner.invoke(
        cli,
        ["ledger", "export", str(folder), "--db", settings.db_url, "--partners", str(settings.partners_path)],
    )
    assert exported.exit_code == 0, exported.output
    with Book.open(folder) as book:
        assert book_problems(book) == []
        assert (
            book.one("SELECT COUNT(*) FROM loans")[0] == 1
            and book.one("SELECT COUNT(*) FROM payments")[0] == 3
        )
    metrics = runner.invoke(cli, ["metrics", str(folder)])
    assert metrics.exit_code == 0, metrics.output
