"""The command line, run in-process through Typer's runner and once as a real subprocess."""

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from creditmesh.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def book_dir(cli_book):
    return cli_book


def test_simulate_writes_every_table_and_a_manifest(book_dir):
    names = {p.name for p in book_dir.iterdir()}
    assert {"loans.parquet", "installments.parquet", "identities.parquet", "manifest.json", "truth"} <= names


def test_metrics_json_is_one_object_with_rates_as_fractions(book_dir):
    result = runner.invoke(app, ["metrics", str(book_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["as_of"] == "2023-09-30"
    assert figures["period_start"] == "2023-07-01"
    assert 0 <= figures["day1_delinquency_rate"] <= 1
    assert isinstance(figures["loan_volume_minor"], int)
    assert 1 <= figures["weighted_average_tenor_months"] <= 24


def test_metrics_as_of_an_earlier_date(book_dir):
    result = runner.invoke(app, ["metrics", str(book_dir), "--as-of", "2023-03-31", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["period_start"] == "2023-01-01"


def test_metrics_table_shows_the_seeds_beside_ours(book_dir):
    result = runner.invoke(app, ["metrics", str(book_dir), "--compare-seeds"])
    assert result.exit_code == 0, result.output
    assert "seeds" in result.stdout and "%" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--borrowers", "-5"], "error: borrowers: must be between"),
        (["--months", "0"], "error: months: must be between"),
        (["--start", "2024-13-01"], "error: start: '2024-13-01' is not a date"),
    ],
)
def test_simulate_refuses_impossible_parameters_with_one_line_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "never"
    result = runner.invoke(app, ["simulate", "--out", str(out), *args])
    assert result.exit_code == 2
    assert result.stderr.strip() == result.stderr.strip().splitlines()[0]
    assert result.stderr.startswith(message)
    assert not out.exists()


def test_simulate_refuses_to_overwrite_without_asking(book_dir):
    result = runner.invoke(app, ["simulate", "--placeholders", "--borrowers", "100", "--out", str(book_dir)])
    assert result.exit_code == 2
    assert "pass --overwrite" in result.stderr


def _copy_book(source, target, skip=(), replace=None):
    target.mkdir()
    for path in source.glob("*.parquet"):
        if path.stem in skip:
            continue
        data = pq.read_table(path)
        if replace and path.stem == replace[0]:
            column = replace[1]
            data = data.set_column(
                data.schema.get_field_index(column), column, data[column].cast(pa.float64())
            )
        pq.write_table(data, target / path.name)


def test_metrics_on_a_missing_table_names_it(book_dir, tmp_path):
    broken = tmp_path / "broken"
    _copy_book(book_dir, broken, skip=("installments",))
    result = runner.invoke(app, ["metrics", str(broken)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: installments")
    assert "missing" in result.stderr


def test_metrics_on_a_malformed_table_names_table_and_column(book_dir, tmp_path):
    broken = tmp_path / "floaty"
    _copy_book(book_dir, broken, replace=("loans", "principal_minor"))
    result = runner.invoke(app, ["metrics", str(broken)])
    assert result.exit_code == 2
    assert "loans.principal_minor" in result.stderr and "integer minor units" in result.stderr


def test_metrics_bad_date_and_missing_folder(book_dir, tmp_path):
    result = runner.invoke(app, ["metrics", str(book_dir), "--as-of", "yesterday"])
    assert result.exit_code == 2 and "as_of" in result.stderr
    result = runner.invoke(app, ["metrics", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "is not a folder" in result.stderr


def test_the_installed_command_runs_as_a_process(book_dir):
    done = subprocess.run(
        [sys.executable, "-m", "creditmesh.cli", "metrics", str(book_dir), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["loans_originated"] >= 0


def test_ledger_load_replays_the_simulated_book_then_ages_and_exports(book_dir, tmp_path):
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    result = runner.invoke(app, ["ledger", "load", str(book_dir), "--db", db])
    assert result.exit_code == 0, result.output
    assert "installments differing from the source 0, trial balance 0" in result.stdout
    result = runner.invoke(app, ["ledger", "age", "2023-09-30", "--db", db])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("aged ")
    result = runner.invoke(app, ["ledger", "export", str(tmp_path / "export"), "--db", db])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "export" / "loan_days.parquet").is_file()


def test_ledger_load_on_a_folder_without_payments_names_the_table(book_dir, tmp_path):
    broken = tmp_path / "nopay"
    _copy_book(book_dir, broken, skip=("payments",))
    result = runner.invoke(app, ["ledger", "load", str(broken), "--db", f"sqlite:///{tmp_path / 'l.db'}"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: payments: missing file")
    assert not (tmp_path / "l.db").exists()  # nothing written


def test_simulate_runs_on_the_engines_by_default_deciding_with_the_champion_and_funding_through_the_matcher(
    tmp_path,
):
    from creditmesh.decision import default_policy_path, load_policy

    out = tmp_path / "engines"
    args = ["simulate", "--borrowers", "1500", "--months", "6", "--seed", "5", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    decisions = pq.read_table(out / "decisions.parquet").column("policy_version").unique().to_pylist()
    assert decisions == [load_policy(default_policy_path()).version]
    assert pq.read_table(out / "loans.parquet").num_rows > 0


def test_simulate_with_placeholders_decides_with_the_simulator_rule(tmp_path):
    out = tmp_path / "placeholders"
    args = [
        "simulate",
        "--placeholders",
        "--borrowers",
        "800",
        "--months",
        "3",
        "--seed",
        "5",
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert pq.read_table(out / "decisions.parquet").column("policy_version").unique().to_pylist() == [
        "rule-v0"
    ]


def test_collections_compare_puts_the_book_beside_the_same_platform_without_collections(book_dir):
    result = runner.invoke(
        app, ["collections", "compare", str(book_dir), "--placeholders", "--output", "json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)  # {figure: {book: value}}
    assert "Actions" in figures, sorted(figures)
    assert all(set(row) == {"with the strategy", "without collections"} for row in figures.values())
    # the book was simulated with the shipped strategy; nobody acts on the platform simulated again without it
    actions = figures["Actions"]
    assert float(str(actions["without collections"]).replace(",", "")) == 0
    assert float(str(actions["with the strategy"]).replace(",", "")) > 0
