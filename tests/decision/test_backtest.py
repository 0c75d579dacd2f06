"""Back-testing: both policies on past applications, the swap table, the chart, and the command."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from creditmesh.cli import app
from creditmesh.decision import DecisionEngine, policy_from_dict
from creditmesh.decision.audit import AuditLog
from creditmesh.decision.backtest import backtest, backtest_chart, expected_profit_minor
from creditmesh.scoring.artifact import load_model, save_model


def _stricter(policy, max_pd=0.09):
    data = policy.document.model_dump(mode="json")
    data["name"] = "strict"
    data["credit_line"]["max_pd"] = max_pd
    return policy_from_dict(data)


def test_a_stricter_policy_approves_fewer_and_only_swaps_out(applications, model, policy, tmp_path):
    table = applications.assign(approved=applications.index % 2 == 0)
    result = backtest(_stricter(policy), policy, table, model)
    current, candidate = result.summary.iloc[0], result.summary.iloc[1]
    assert candidate.approval_rate < current.approval_rate
    assert candidate.expected_bad_rate < current.expected_bad_rate
    assert 0 < candidate.realised_known < current.realised_known
    assert ("decline", "approve") not in result.swaps.index  # nothing swaps in
    assert result.swaps.loc[("approve", "decline"), "applications"] > 0
    assert result.swaps["applications"].sum() == len(table)
    assert result.summary["expected_profit_minor"].dtype.kind == "i"
    png = backtest_chart(result, tmp_path / "chart.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_expected_profit_is_exact_integer_arithmetic():
    decided = pd.DataFrame(
        {
            "provisional_outcome": ["approve", "approve", "decline"],
            "credit_line_minor": [10_000_00, 3_333_33, 50_000_00],
            "apr": [0.18, 0.24, 0.2],
            "pd": [0.05, 0.1, 0.5],
        }
    )
    # 1,000,000 × (0.18 × 0.95 − 0.05) = 121,000; 333,333 × (0.24 × 0.9 − 0.1) = 38,666.628 → 38,667
    assert expected_profit_minor(decided, lgd=1.0) == 121_000 + 38_667
    assert expected_profit_minor(decided.iloc[2:], lgd=1.0) == 0


def test_the_commands_backtest_and_replay(applications, model, policy, tmp_path):
    model_dir = save_model(model, tmp_path / "gbm")
    candidate = tmp_path / "strict.json"
    candidate.write_text(_stricter(policy).canonical_json)
    data = tmp_path / "apps.parquet"
    applications.assign(approved=True).to_parquet(data)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "policy",
            "backtest",
            str(candidate),
            "--applications",
            str(data),
            "--model",
            str(model_dir),
            "--chart",
            str(tmp_path / "c.png"),
            "--output",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["summary"]) == 2 and (tmp_path / "c.png").exists()

    loaded = load_model(model_dir)
    log_url = f"sqlite:///{tmp_path / 'log.db'}"
    row = applications.drop(columns=["bad_12m"]).iloc[3].to_dict()
    AuditLog(log_url).decide(DecisionEngine(policy, loaded), "credit_line", row)
    result = runner.invoke(
        app, ["decide", "replay", row["application_id"], "--log", log_url, "--model", str(model_dir)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["identical"] is True

    bad = runner.invoke(app, ["policy", "check", str(tmp_path / "missing.yaml")])
    assert bad.exit_code == 2 and "cannot read" in bad.output
