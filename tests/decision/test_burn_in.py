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
    # the champion sends an application without income (about one in nine) to review
    assert (stage == "drawdown").any() and (lines["automated"]).mean() > 0.8
