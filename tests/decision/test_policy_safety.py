"""Policy safety (issue 21): every knock-out input says what a missing value does, a missing value
never slips past a knock-out, and rules that can never fire or are shadowed are reported."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from typer.testing import CliRunner

from creditmesh.cli import app as cli
from creditmesh.decision import DecisionEngine, check_policy, policy_from_dict

runner = CliRunner()


def _document(policy) -> dict:
    return copy.deepcopy(policy.document.model_dump(mode="json"))


def _good_applicant(applications) -> dict:
    """A credit-line application the champion approves when it declares a good income."""
    row = applications.head(200).to_dict("records")
    for record in row:
        body = {k: (None if v != v else v) for k, v in record.items()}
        body["monthly_income_minor"] = 30_000_00
        yield body


def test_the_shipped_champion_passes_the_check(policy):
    report = check_policy(policy)
    assert report.errors == (), report.errors
    assert report.missing["credit_line"]["monthly_income_minor"] in ("decline", "review")


def test_an_application_without_income_is_reviewed_or_declined_where_a_low_income_would_be_declined(
    policy, model, applications
):
    engine = DecisionEngine(policy, model)
    approved = next(
        a for a in _good_applicant(applications) if engine.decide_one("credit_line", a).outcome == "approve"
    )
    low = engine.decide_one("credit_line", {**approved, "monthly_income_minor": 100})
    assert low.outcome == "decline" and "income_too_low" in low.reasons
    absent = {**approved, "monthly_income_minor": None}
    one = engine.decide_one("credit_line", absent)
    assert one.outcome in ("review", "decline") and "missing_monthly_income_minor" in one.reasons
    table = engine.decide_table("credit_line", pd.DataFrame([absent]).astype({"monthly_income_minor": float}))
    assert table.loc[0, "outcome"] == one.outcome, "the batch path decides alike"


def test_a_knockout_that_lets_a_missing_value_through_fails_the_check(policy, tmp_path):
    document = _document(policy)
    document["missing"].pop("monthly_income_minor")
    report = check_policy(policy_from_dict(document))
    assert any("monthly_income_minor" in e and "income_too_low" in e for e in report.errors), report.errors
    file = tmp_path / "leaky.json"
    import json

    file.write_text(json.dumps(document))
    result = runner.invoke(cli, ["policy", "check", str(file)])
    assert result.exit_code != 0 and "monthly_income_minor" in result.output


def test_the_shipped_champion_file_without_its_missing_section_fails(policy, tmp_path):
    document = _document(policy)
    document.pop("missing")
    errors = check_policy(policy_from_dict(document)).errors
    named = " ".join(errors)
    for field in ("monthly_income_minor", "bureau_inquiries_6m", "on_blacklist", "max_dpd_on_book"):
        assert field in named


def test_a_rule_that_catches_the_missing_value_itself_says_what_it_does(policy):
    document = _document(policy)
    document["missing"].pop("monthly_income_minor")
    for rule in document["credit_line"]["knockouts"]:
        if rule["name"] == "income_too_low":
            rule["when"] = "missing(monthly_income_minor) or monthly_income_minor < 1500_00"
    assert check_policy(policy_from_dict(document)).errors == ()


def test_rules_that_can_never_fire_or_are_shadowed_are_reported(policy):
    document = _document(policy)
    document["credit_line"]["knockouts"] += [
        {"name": "impossible_age", "when": "age < 18 and age > 30"},
        {"name": "very_young", "when": "age < 16"},
        {"name": "young_review", "when": "age < 17", "outcome": "review"},
        {"name": "many_inquiries", "when": "bureau_inquiries_6m >= 20"},
    ]
    report = check_policy(policy_from_dict(document))
    text = " ".join(report.warnings)
    assert "impossible_age" in text and "never" in text
    assert "very_young" in text and "underage" in text
    assert "young_review" in text
    assert "many_inquiries" in text and "too_many_inquiries" in text
    assert "income_too_low" not in text and report.errors == ()


def test_a_missing_rule_for_an_input_no_knockout_reads_is_reported(policy):
    document = _document(policy)
    document["missing"]["favourite_colour"] = "decline"
    report = check_policy(policy_from_dict(document))
    assert report.errors == () and any("missing.favourite_colour" in w for w in report.warnings)


def test_an_assumed_value_decides_like_that_value_on_both_paths(policy, model, applications):
    engine = DecisionEngine(policy, model)
    rows = [dict(a, on_blacklist=None) for a in list(_good_applicant(applications))[:20]]
    frame = pd.DataFrame(rows)
    table = engine.decide_table("credit_line", frame)
    for i, row in enumerate(rows):
        one = engine.decide_one("credit_line", row)
        assert one.outcome == table.loc[i, "outcome"]
        same = engine.decide_one("credit_line", {**row, "on_blacklist": False})
        assert one.outcome == same.outcome and one.reasons == same.reasons


@pytest.mark.parametrize("treatment", ["ignore", {"assume": [1, 2]}, {"assume": 1, "extra": 2}])
def test_a_missing_treatment_is_decline_review_or_an_assumed_scalar(policy, treatment):
    document = _document(policy)
    document["missing"]["monthly_income_minor"] = treatment
    from creditmesh.decision.policy import PolicyError

    with pytest.raises(PolicyError, match="missing"):
        policy_from_dict(document)
