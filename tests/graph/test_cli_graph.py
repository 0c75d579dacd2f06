"""creditmesh graph build|rings|lists|explain on a small simulated dataset."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from creditmesh.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("graph-cli") / "data"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--placeholders",
            "--borrowers",
            "3000",
            "--months",
            "12",
            "--seed",
            "9",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def graph_dir(dataset):
    out = dataset.parent / "graph"
    result = runner.invoke(app, ["graph", "build", str(dataset), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "links" in result.stdout
    return out


def test_rings_as_json_and_a_dot_picture(dataset, graph_dir, tmp_path):
    dot = tmp_path / "ring.dot"
    result = runner.invoke(
        app,
        [
            "graph",
            "rings",
            "--graph",
            str(graph_dir),
            "--data",
            str(dataset),
            "--format",
            "json",
            "--dot",
            str(dot),
        ],
    )
    assert result.exit_code == 0, result.output
    rings = json.loads(result.stdout)
    assert rings["rings"] >= 1 and rings["shown"][0]["size"] >= 3
    assert dot.read_text().startswith("graph ring {")


def test_lists_and_explain(dataset, graph_dir, tmp_path):
    out = tmp_path / "grey.parquet"
    result = runner.invoke(
        app, ["graph", "lists", "--graph", str(graph_dir), "--data", str(dataset), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("black list ")
    grey = pq.read_table(out).to_pandas()
    assert len(grey) > 0
    who = grey["borrower_id"].iloc[0]
    result = runner.invoke(app, ["graph", "explain", who, "--graph", str(graph_dir), "--data", str(dataset)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{who}: risk") and " -> " in result.stdout


def test_bad_input_is_reported_and_a_failed_build_keeps_the_old_graph(dataset, graph_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    identities = pq.read_table(dataset / "identities.parquet")
    extra = pa.table(
        {"borrower_id": ["nobody", "B0001"], "kind": ["device", "telepathy"], "value": ["x", "y"]}
    )
    pq.write_table(
        pa.concat_tables([identities, extra.cast(identities.schema)]), broken / "identities.parquet"
    )
    pq.write_table(pq.read_table(dataset / "borrowers.parquet"), broken / "borrowers.parquet")
    result = runner.invoke(app, ["graph", "build", str(broken), "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    assert "1 row(s) with unknown borrower skipped" in result.stderr and "unknown kind" in result.stderr
    before = sorted(p.name for p in graph_dir.iterdir())
    (broken / "borrowers.parquet").unlink()
    result = runner.invoke(app, ["graph", "build", str(broken), "--out", str(graph_dir)])
    assert result.exit_code == 2 and result.stderr.startswith("error: borrowers")
    assert sorted(p.name for p in graph_dir.iterdir()) == before


def test_explain_an_unknown_borrower_is_one_line_and_exit_2(dataset, graph_dir):
    result = runner.invoke(
        app, ["graph", "explain", "nobody", "--graph", str(graph_dir), "--data", str(dataset)]
    )
    assert result.exit_code == 2 and result.stderr.startswith("error: borrower: 'nobody' is not in the graph")
