"""The audit trail: decisions stored once with their inputs and policy, and replayed to the same answer."""

from __future__ import annotations

import copy
import json

import pytest

from creditmesh.decision import DecisionEngine, policy_from_dict
from creditmesh.decision.audit import AuditError, AuditLog, replay


@pytest.fixture()
def log(tmp_path):
    return AuditLog(f"sqlite:///{tmp_path / 'decisions.db'}")


def test_every_stored_decision_replays_exactly(log, applications, model, policy):
    data = policy.document.model_dump(mode="json")
    data["credit_line"]["max_pd"] = 0.09
    engine = DecisionEngine(
        policy, model, challengers=[("strict", policy_from_dict(data), 0.4)], shadow=policy
    )
    rows = applications.drop(columns=["bad_12m"]).head(120).to_dict("records")
    made = [log.decide(engine, "credit_line", row) for row in rows]
    assert {d.arm for d in made} == {"champion", "strict"}
    assert {d.outcome for d in made} >= {"approve", "decline"}
    for decision in made:
        result = replay(log, decision.application_id, model)
        assert result.identical, (result.stored, result.replayed)
        stored = log.stored(decision.application_id)
        assert stored["policy_version"] == decision.policy_version and stored["elapsed_us"] >= 0
        assert stored["shadow"] is not None


def test_a_decision_is_stored_once(log, applications, model, policy):
    engine = DecisionEngine(policy, model)
    row = applications.drop(columns=["bad_12m"]).iloc[0].to_dict()
    log.decide(engine, "credit_line", row)
    with pytest.raises(AuditError, match="already decided"):
        log.decide(engine, "credit_line", row)


def test_an_unknown_application_or_another_model_is_refused(log, applications, model, policy):
    with pytest.raises(AuditError, match="no decision stored"):
        replay(log, "nope", model)
    saved = copy.copy(model)
    saved.content_hash_ = "a" * 64  # as a loaded artifact carries
    engine = DecisionEngine(policy, saved)
    row = applications.drop(columns=["bad_12m"]).iloc[1].to_dict()
    log.decide(engine, "credit_line", row)

    class Other:
        content_hash_ = "0" * 64

    with pytest.raises(AuditError, match="model"):
        replay(log, row["application_id"], Other())


def test_drawdowns_and_line_reviews_replay_too(log, model, policy):
    engine = DecisionEngine(policy, model)
    log.decide(
        engine,
        "drawdown",
        {
            "application_id": "d1",
            "requested_amount_minor": 2_000_00,
            "available_minor": 1_500_00,
            "delinquent": False,
            "max_dpd_on_book": None,
        },
    )
    log.decide(
        engine,
        "line_adjustment",
        {"application_id": "r1", "limit_minor": 10_000_00, "max_dpd_on_book": 0, "line_utilization": 0.5},
    )
    assert replay(log, "d1", model).identical and replay(log, "r1", model).identical


def test_a_batch_is_stored_whole_and_each_decision_replays_online(log, applications, model, policy):
    data = policy.document.model_dump(mode="json")
    data["credit_line"]["max_pd"] = 0.09
    engine = DecisionEngine(
        policy, model, challengers=[("strict", policy_from_dict(data), 0.3)], shadow=policy
    )
    frame = applications.drop(columns=["bad_12m"]).iloc[200:300]
    decided = log.decide_table(engine, "credit_line", frame)
    for application_id in decided.application_id:
        result = replay(log, application_id, model)
        assert result.identical, (result.stored, result.replayed)
    stored = log.stored(decided.application_id.iloc[0])
    assert json.loads(stored["shadow"])["policy_version"] == policy.version
    with pytest.raises(AuditError, match="already decided"):
        log.decide_table(engine, "credit_line", frame.head(2))


def test_reviews_are_queued_with_their_decisions_and_settled_once(log, applications, model, policy):
    data = policy.document.model_dump(mode="json")
    data["credit_line"].update(review_band_below=0.02, review_band_above=0.02)
    engine = DecisionEngine(policy_from_dict(data), model)
    decided = log.decide_table(engine, "credit_line", applications.head(300))
    sent = set(decided.application_id[decided.outcome == "review"])
    assert sent, "the wide band sends some applications to people"
    pending = log.pending_reviews(limit=1000)
    assert {r["application_id"] for r in pending} == sent and all(r["status"] == "pending" for r in pending)
    first = sorted(sent)[0]
    settled = log.settle(first, outcome="approve", reviewer="analyst-1")
    assert settled["status"] == "settled" and settled["outcome"] == "approve"
    assert log.settle(first, outcome="approve", reviewer="analyst-1") == settled
    with pytest.raises(AuditError, match="already settled as approve"):
        log.settle(first, outcome="decline", reviewer="analyst-2")
    with pytest.raises(AuditError, match="outcome"):
        log.settle(sorted(sent)[-1], outcome="maybe", reviewer="analyst-1")
    assert first not in {r["application_id"] for r in log.pending_reviews(limit=1000)}
    with pytest.raises(AuditError, match="limit"):
        log.pending_reviews(limit=0)
