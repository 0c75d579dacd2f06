"""The simulated platform decided by the engine, its model trained on a burn-in under the placeholder."""

from creditmesh.decision import default_policy_path, load_policy
from creditmesh.decision.simulator import engine_policy_after_burn_in
from creditmesh.simulate import SimulationConfig, simulate


def test_the_engine_takes_over_after_a_burn_in_under_the_placeholder():
    config = SimulationConfig(borrowers=2_000, months=6, seed=5)
    policy = engine_policy_after_burn_in(config, burn_in_months=6)
    champion = load_policy(default_policy_path())
    result = simulate(config, policy=policy)
    decisions = result.tables["decisions"].to_pandas()
    stage = decisions["application_id"].map(
        result.tables["applications"].to_pandas().set_index("application_id")["stage"]
    )
    assert (decisions["policy_version"] == champion.version).all()
    lines = decisions[stage == "credit_line"]
    assert 0 < (lines["outcome"] == "approve").mean() < 1
    # the champion declines an application without income (no line to size) and reviews only a narrow band
    # around its cut-off and a new device's night burst: the seeds' 99.3 % automation
    assert (stage == "drawdown").any() and lines["automated"].mean() > 0.98


def test_ring_members_are_declined_at_arrival_when_the_graph_already_sees_their_ring():
    config = SimulationConfig(borrowers=3_000, months=6, seed=4, fraud_ring_share=0.03)
    policy = engine_policy_after_burn_in(config, burn_in_months=6)
    result = simulate(config, policy=policy)
    applications = result.tables["applications"].to_pandas().set_index("application_id")
    decisions = result.tables["decisions"].to_pandas().set_index("application_id")
    ring = result.truth["borrowers"].to_pandas().set_index("borrower_id")["ring_id"]
    lines = decisions[applications.loc[decisions.index, "stage"] == "credit_line"]
    member = ring.loc[applications.loc[lines.index, "borrower_id"]].notna().to_numpy()
    flagged = lines["reasons"].map(lambda reasons: "fraud_ring" in list(reasons)).to_numpy()
    # the decision table records the graph's knock-out: declined, automated, the reason named
    assert (lines.loc[flagged, "outcome"] == "decline").all() and lines.loc[flagged, "automated"].all()
    # a ring is caught once enough of it is seen (ring_size >= 5 at arrival): most members, not the first
    caught = flagged[member].mean()
    assert 0.3 < caught < 1.0
    assert flagged[~member].mean() < 0.002
