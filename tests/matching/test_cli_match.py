"""``creditmesh match allocate``: a day from Parquet, the summary, the allocations file, bad partners in one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import yaml
from _matching_cases import day, partner
from typer.testing import CliRunner

from creditmesh.cli import app

runner = CliRunner()


def test_match_allocate_prints_the_lp_beside_greedy_and_writes_allocations(institutions, tmp_path):
    pq.write_table(institutions, tmp_path / "institutions.parquet")
    day(500, 8, regions=31).to_parquet(tmp_path / "day.parquet", index=False)
    result = runner.invoke(
        app,
        [
            "match",
            "allocate",
            str(tmp_path / "day.parquet"),
            "--partners",
            str(tmp_path),
            "--capacity-divisor",
            "300",
            "--out",
            str(tmp_path / "alloc.parquet"),
            "--output",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["applications"] == 500 and 0 < summary["allocated"] <= 500
    assert (
        summary["greedy_objective_minor"] <= summary["dual_bound_minor"]
        and summary["objective_minor"] <= summary["dual_bound_minor"]
    )
    written = pd.read_parquet(tmp_path / "alloc.parquet")
    assert len(written) == summary["allocated"] and written["expected_margin_minor"].sum() > 0
    assert {r["funding_model"] for r in summary["revenue"]} >= {"capital_light", "platform_service"}
    table = runner.invoke(
        app, ["match", "allocate", str(tmp_path / "day.parquet"), "--partners", str(tmp_path)]
    )
    assert (
        table.exit_code == 0
        and "online greedy" in table.output
        and "Revenue by funding model" in table.output
    )


def test_a_bad_partner_file_is_one_line_and_exit_code_2(tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump([partner("BAD", monthly_capacity_minor=-5)]))
    day(5, 1).to_parquet(tmp_path / "day.parquet", index=False)
    result = runner.invoke(
        app, ["match", "allocate", str(tmp_path / "day.parquet"), "--partners", str(tmp_path / "p.yaml")]
    )
    assert result.exit_code == 2
    assert "partner BAD.monthly_capacity_minor" in result.output and "Traceback" not in result.output


def test_a_book_folder_allocates_the_months_approved_drawdowns(tmp_path):
    from creditmesh.matching.applications import approved_drawdowns

    book = tmp_path / "book"
    simulated = runner.invoke(
        app,
        [
            "simulate",
            "--placeholders",
            "--borrowers",
            "1500",
            "--months",
            "12",
            "--seed",
            "5",
            "--out",
            str(book),
        ],
    )
    assert simulated.exit_code == 0, simulated.output
    applications = pd.read_parquet(book / "applications.parquet")
    decisions = pd.read_parquet(book / "decisions.parquet")
    asked = applications.merge(decisions, on="application_id")
    month = asked["applied_at"].dt.tz_convert("UTC").dt.strftime("%Y-%m").max()
    expected = asked[
        (asked["stage"] == "drawdown")
        & (asked["outcome"] == "approve")
        & (asked["applied_at"].dt.tz_convert("UTC").dt.strftime("%Y-%m") == month)
    ]
    frame = approved_drawdowns(book, month)
    assert len(frame) == len(expected) > 0
    assert set(frame["application_id"]) == set(expected["application_id"])
    assert frame[["pd", "score", "amount_minor", "tenor_months", "region", "apr"]].notna().all().all()
    # the amount matched is the one approved, which the loan then books
    principal = pd.read_parquet(book / "loans.parquet").set_index("application_id")["principal_minor"]
    assert (frame["amount_minor"].to_numpy() == principal.loc[frame["application_id"]].to_numpy()).all()

    # a real process: HiGHS writes its banner to file descriptor 1, which CliRunner does not capture
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "creditmesh.cli",
            "match",
            "allocate",
            str(book),
            "--partners",
            str(book),
            "--month",
            month,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # one JSON object and nothing else
    assert summary["applications"] == len(expected)
    assert summary["allocated"] + sum(summary["unallocated"].values()) == len(expected)

    # capacity sized to the month's volume as the simulated platform sizes it: partners fill up
    sized = runner.invoke(
        app,
        ["match", "allocate", str(book), "--partners", str(book), "--month", month]
        + ["--capacity", "volume", "--output", "json"],
    )
    assert sized.exit_code == 0, sized.output
    sized_summary = json.loads(sized.output)
    assert sum(sized_summary["partners_at_capacity"].values()) > 0
    assert 0.0 < sized_summary["platform_service_volume_share"] < 1.0
    assert not summary["partners_at_capacity"]  # the drawn capacity dwarfs a small book's month
    bad_capacity = runner.invoke(
        app, ["match", "allocate", str(book), "--partners", str(book), "--month", month, "--capacity", "x"]
    )
    assert bad_capacity.exit_code == 2 and "capacity" in bad_capacity.output

    no_month = runner.invoke(app, ["match", "allocate", str(book), "--partners", str(book)])
    assert no_month.exit_code == 2 and "month" in no_month.output and "Traceback" not in no_month.output
    bad_month = runner.invoke(
        app, ["match", "allocate", str(book), "--partners", str(book), "--month", "2024-13"]
    )
    assert bad_month.exit_code == 2 and "YYYY-MM" in bad_month.output
