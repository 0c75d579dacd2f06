"""``creditmesh match allocate``: a day from Parquet, the summary, the allocations file, bad partners in one line."""

from __future__ import annotations

import json

import numpy as np
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
    result = runner.invoke(app, ["match", "allocate", str(tmp_path / "day.parquet"), "--partners", str(tmp_path),
                                 "--capacity-divisor", "300", "--out", str(tmp_path / "alloc.parquet"), "--output", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["applications"] == 500 and 0 < summary["allocated"] <= 500
    assert summary["greedy_objective_minor"] <= summary["dual_bound_minor"] and summary["objective_minor"] <= summary["dual_bound_minor"]
    written = pd.read_parquet(tmp_path / "alloc.parquet")
    assert len(written) == summary["allocated"] and written["expected_margin_minor"].sum() > 0
    assert {r["funding_model"] for r in summary["revenue"]} >= {"capital_light", "platform_service"}
    table = runner.invoke(app, ["match", "allocate", str(tmp_path / "day.parquet"), "--partners", str(tmp_path)])
    assert table.exit_code == 0 and "online greedy" in table.output and "Revenue by funding model" in table.output


def test_a_bad_partner_file_is_one_line_and_exit_code_2(tmp_path):
    (tmp_path / "p.yaml").write_text(yaml.safe_dump([partner("BAD", monthly_capacity_minor=-5)]))
    day(5, 1).to_parquet(tmp_path / "day.parquet", index=False)
    result = runner.invoke(app, ["match", "allocate", str(tmp_path / "day.parquet"), "--partners", str(tmp_path / "p.yaml")])
    assert result.exit_code == 2
    assert "partner BAD.monthly_capacity_minor" in result.output and "Traceback" not in result.output
