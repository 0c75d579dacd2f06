"""The engine: each stage decided the same in batch and online, arms by hash, shadow beside, the simulator on it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from creditmesh.decision import (
    DecisionEngine,
    EnginePolicy,
    arm_results,
    assign_arms,
    automation_rate,
    decisions_table,
    policy_from_dict,
)
from creditmesh.errors import ParameterError, SchemaError
from creditmesh.schema import validate
from creditmesh.simulate import SimulationConfig, simulate


def _same(a, b) -> bool:
    missing = lambda v: v is None or (isinstance(v, float) and math.isnan(v))  # noqa: E731
    return (missing(a) and missing(b)) or a == b


def _assert_online_equals_batch(engine, stage, frame):
    table = engine.decide_table(stage, frame)
    for i, row in enumerate(frame.to_dict("records")):
        one = engine.decide_one(stage, row).as_row()
        expected = table.iloc[i]
        bad = {k: (v, expected[k]) for k, v in one.items() if not _same(v, expected[k])}
        assert not bad, f"row {i}: {bad}"
    return table


def _variant(policy, **credit_line):
    data = policy.document.model_dump(mode="json")
    data["credit_line"].update(credit_line)
    return policy_from_dict(data)


def test_credit_lines_are_decided_the_same_in_batch_and_online(applications, model, policy):
    engine = DecisionEngine(policy, model)
    table = _assert_online_equals_batch(engine, "credit_line", applications)
    assert set(table["outcome"]) == {"approve", "decline", "review"}
    approved = table[table.outcome == "approve"]
    assert (approved.credit_line_minor > 0).all() and (approved.credit_line_minor % 100_00 == 0).all()
    assert approved.apr.notna().all() and (table.policy_version == policy.version).all()
    declined = table[
        (table.outcome == "decline") & table.reasons.map(lambda r: r[:1] == ("pd_above_cutoff",))
    ]
    assert declined.reasons.map(len).gt(1).any(), "model declines carry the model's reasons"


def test_money_is_integer_minor_units_with_the_grade_terms(applications, model, policy):
    table = DecisionEngine(policy, model).decide_table("credit_line", applications)
    assert table.credit_line_minor.dtype == np.int64
    row = table[table.outcome == "approve"].iloc[0]
    terms = policy.grade_terms[row.grade]
    income = applications.set_index("application_id").loc[row.application_id, "monthly_income_minor"]
    expected = terms.line_min_minor if pd.isna(income) else int(income) * terms.line_income_pct // 100
    expected = min(max(expected, terms.line_min_minor), terms.line_max_minor)
    assert row.credit_line_minor == expected - expected % 100_00 and row.apr == terms.apr


def test_knockouts_decline_with_their_names_first(applications, model, policy):
    frame = applications.head(20).assign(age=17, on_blacklist=[True] * 10 + [False] * 10)
    table = DecisionEngine(policy, model).decide_table("credit_line", frame)
    assert (table.outcome == "decline").all() and table.automated.all()
    assert all(r[0] == "underage" for r in table.reasons)
    assert all("blacklisted" in r for r in table.reasons[:10]) and not any(
        "blacklisted" in r for r in table.reasons[10:]
    )


def test_a_review_band_sends_applications_to_people_and_counts_against_automation(
    applications, model, policy
):
    wide = _variant(policy, review_band_below=0.02, review_band_above=0.02)
    table = DecisionEngine(wide, model).decide_table("credit_line", applications)
    review = table[table.outcome == "review"]
    assert len(review) and not review.automated.any()
    in_band = review[review.reasons.map(lambda r: "missing_monthly_income_minor" not in r)]
    assert ((in_band.pd - 0.12).abs() <= 0.02 + 1e-12).all()  # the rest: no income declared
    assert automation_rate(table)["credit_line"] == pytest.approx(1 - len(review) / len(table))


def test_drawdowns_are_capped_by_the_available_line_and_refused_when_delinquent(policy, model):
    frame = pd.DataFrame(
        {
            "application_id": ["d1", "d2", "d3", "d4", "d5"],
            "requested_amount_minor": [3_000_00, 3_000_00, 3_000_00, 3_000_00, 3_000_00],
            "available_minor": [10_000_00, 1_000_00, 100_00, 10_000_00, 10_000_00],
            "delinquent": [False, False, False, True, False],
            "max_dpd_on_book": pd.array([0, None, 0, 0, 45], dtype="Int16"),
        }
    )
    table = _assert_online_equals_batch(DecisionEngine(policy, model), "drawdown", frame)
    assert table.outcome.tolist() == ["approve", "approve", "decline", "decline", "decline"]
    assert table.credit_line_minor.tolist() == [3_000_00, 1_000_00, 0, 0, 0]
    assert [r[0] for r in table.reasons[2:]] == ["insufficient_line", "delinquent", "dpd_on_book"]


def test_line_reviews_freeze_decrease_increase_or_keep(policy, model):
    frame = pd.DataFrame(
        {
            "application_id": ["r1", "r2", "r3", "r4", "r5"],
            "limit_minor": [10_000_00] * 4 + [190_000_00],
            "max_dpd_on_book": pd.array([90, 40, 0, 10, 0], dtype="Int16"),
            "line_utilization": [0.9, 0.9, 0.5, 0.5, 0.9],
        }
    )
    table = _assert_online_equals_batch(DecisionEngine(policy, model), "line_adjustment", frame)
    assert table.outcome.tolist() == ["approve", "approve", "approve", "decline", "approve"]
    assert table.credit_line_minor.tolist() == [0, 5_000_00, 13_000_00, 10_000_00, 200_000_00]
    assert [r[0] for r in table.reasons] == [
        "line_frozen",
        "line_decreased",
        "line_increased",
        "no_change",
        "line_increased",
    ]


def test_arms_are_a_deterministic_hash_split_whatever_the_batch(applications, model, policy):
    challenger = _variant(policy, max_pd=0.08)
    engine = DecisionEngine(policy, model, challengers=[("strict", challenger, 0.3)])
    table = _assert_online_equals_batch(engine, "credit_line", applications.head(300))
    share = (table.arm == "strict").mean()
    assert 0.2 < share < 0.4
    assert (table.policy_version == np.where(table.arm == "strict", challenger.version, policy.version)).all()
    again = engine.decide_table("credit_line", applications.head(300).iloc[::-1])
    assert dict(zip(again.application_id, again.arm)) == dict(zip(table.application_id, table.arm))
    assert list(assign_arms(["A1"], [("x", 0.5)], salt="s")) == list(
        assign_arms(["A1"], [("x", 0.5)], salt="s")
    )
    results = arm_results(table, bad=applications.head(300)["bad_12m"])
    assert set(results.index) == {"champion", "strict"} and results.loc["strict", "approval_rate"] <= 1
    assert "approved_bad_rate" in results


def test_a_shadow_policy_decides_beside_and_is_never_enforced(applications, model, policy):
    lenient = _variant(policy, max_pd=0.2)
    plain = DecisionEngine(policy, model).decide_table("credit_line", applications)
    shadowed = _assert_online_equals_batch(
        DecisionEngine(policy, model, shadow=lenient), "credit_line", applications.head(200)
    )
    assert shadowed.outcome.tolist() == plain.outcome.head(200).tolist()
    assert (shadowed.shadow_policy_version == lenient.version).all()
    assert (shadowed.shadow_outcome == "approve").sum() > (shadowed.outcome == "approve").sum()


def test_missing_inputs_are_named(applications, model, policy):
    with pytest.raises(ParameterError, match="scoring model"):
        DecisionEngine(policy, None).decide_one("credit_line", {"application_id": "x"})
    with pytest.raises(ParameterError, match="stage"):
        DecisionEngine(policy, model).decide_table("collections", applications)
    engine = DecisionEngine(policy, model)
    with pytest.raises(SchemaError, match="available_minor"):
        engine.decide_table(
            "drawdown", pd.DataFrame({"application_id": ["x"], "requested_amount_minor": [1]})
        )
    with pytest.raises(SchemaError, match="application_id"):
        engine.decide_one("credit_line", {"age": 30})


def test_the_simulator_runs_on_the_engine(model, policy):
    engine = DecisionEngine(policy, model)
    result = simulate(SimulationConfig(borrowers=1500, months=6, seed=4), policy=EnginePolicy(engine))
    decisions = result.tables["decisions"].to_pandas()
    applications = result.tables["applications"].to_pandas()
    stages = applications.set_index("application_id").stage
    outcome = decisions.assign(stage=decisions.application_id.map(stages))
    assert {"credit_line", "drawdown"} <= set(outcome.stage)
    assert outcome[outcome.stage == "credit_line"].outcome.eq("approve").any()
    assert (decisions.policy_version == policy.version).all()


def test_the_answer_fits_the_decisions_table_of_the_schema(applications, model, policy):
    decided = DecisionEngine(policy, model).decide_table("credit_line", applications.head(100))
    table = validate("decisions", decisions_table(decided))
    assert table.num_rows == 100 and table.column("credit_line_minor").type.bit_width == 64
