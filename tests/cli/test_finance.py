"""``creditmesh finance``: the statement, provisions, funding costs, capital and ABS on a simulated book."""

import json

import pytest
from typer.testing import CliRunner

from creditmesh.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def booked(tmp_path_factory):
    """A simulated year replayed through a SQLite ledger."""
    folder = tmp_path_factory.mktemp("finance")
    book, db = folder / "book", f"sqlite:///{folder / 'ledger.db'}"
    made = runner.invoke(
        app,
        [
            "simulate",
            "--placeholders",
            "--borrowers",
            "600",
            "--months",
            "12",
            "--seed",
            "3",
            "--out",
            str(book),
        ],
    )
    assert made.exit_code == 0, made.output
    loaded = runner.invoke(app, ["ledger", "load", str(book), "--db", db])
    assert loaded.exit_code == 0, loaded.output
    return book, db


def test_provisions_funding_costs_and_the_statement_from_the_ledger(booked):
    _, db = booked
    rolled = runner.invoke(
        app, ["finance", "provisions", "--from", "2023-01-01", "--to", "2023-12-31", "--db", db, "--post"]
    )
    assert rolled.exit_code == 0, rolled.output
    assert "loss_allowance" in rolled.output and "booked" in rolled.output
    funded = runner.invoke(
        app,
        [
            "finance",
            "funding-costs",
            "--from",
            "2023-01-01",
            "--to",
            "2023-12-31",
            "--rate",
            "0.04",
            "--db",
            db,
        ],
    )
    assert funded.exit_code == 0, funded.output
    shown = runner.invoke(app, ["finance", "statement", "--quarter", "2023Q4", "--db", db])
    assert shown.exit_code == 0, shown.output
    assert "Financing income" in shown.output and "= change in retained earnings" in shown.output
    rows = json.loads(
        runner.invoke(
            app, ["finance", "statement", "--quarter", "2023Q4", "--db", db, "--format", "json"]
        ).stdout
    )
    by_line = {row["line"]: row for row in rows}
    assert by_line["Financing income"]["2023Q4"] > 0
    assert by_line["Funding costs"]["2023Q4"] > 0
    assert by_line["Provision for loans receivable"]["2023Q4"] != 0


def test_capital_and_abs_from_the_book(booked):
    book, db = booked
    capital = runner.invoke(app, ["finance", "capital", "--as-of", "2023-09-30", "--db", db])
    assert capital.exit_code == 0, capital.output
    figures = json.loads(capital.stdout)
    assert figures["standardised_rwa_minor"] >= 0.75 * figures["ead_minor"] - figures["loans"]
    deal = runner.invoke(
        app,
        [
            "finance",
            "abs",
            "--cutoff",
            "2023-09-30",
            "--data",
            str(book),
            "--scenarios",
            "20",
            "--max-borrower-share",
            "0.25",
            "--max-region-share",
            "0.5",
        ],
    )
    assert deal.exit_code == 0, deal.output
    assert "senior" in deal.output and "blended_funding_cost" in deal.output


def test_a_bad_quarter_is_one_line_and_exit_2(booked):
    _, db = booked
    result = runner.invoke(app, ["finance", "statement", "--quarter", "2023Q5", "--db", db])
    assert result.exit_code == 2
    assert "quarter" in result.output
