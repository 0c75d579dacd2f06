"""The simulated platform funded by the ICE matcher: capacity binds and the platform-service share emerges."""

import numpy as np
import pyarrow.compute as pc

from creditmesh.funding import FUNDING_MODELS, PLATFORM_SERVICE_MODELS
from creditmesh.matching.partners import capacity_for_volume, load_partners
from creditmesh.matching.simulation import CAPACITY_SHARE, MatcherAllocation
from creditmesh.simulate import SimulationConfig, simulate

CONFIG = SimulationConfig(borrowers=3_000, months=4, seed=3, institutions=40)


def run(capacity_share=CAPACITY_SHARE):
    made = []

    def funding(institutions, region):
        made.append(MatcherAllocation(institutions, region, capacity_share=capacity_share))
        return made[-1]

    return simulate(CONFIG, funding=funding), made[0]


def platform_service_share(result) -> float:
    loans = result.tables["loans"]
    service = pc.is_in(loans["funding_model"], value_set=pc.cast(list(PLATFORM_SERVICE_MODELS), "string"))
    principal = loans["principal_minor"]
    return pc.sum(pc.filter(principal, service)).as_py() / pc.sum(principal).as_py()


def test_matcher_funds_every_drawdown_within_capacity_and_risk_bearing_capacity_binds():
    result, matcher = run()
    loans = result.tables["loans"].to_pandas()
    institutions = result.tables["institutions"].to_pandas().set_index("institution_id")
    # each loan is booked under its partner's funding model
    assert (
        institutions.loc[loans["institution_id"], "funding_model"].to_numpy() == loans["funding_model"]
    ).all()
    heavy = np.isin(matcher.partners.model, [0, 1])
    for capacity, used, fallback in matcher.months:
        assert fallback == 0
        assert (used <= capacity).all()
    # the risk-bearing money runs out: most of it is used every month, and in some month a third of
    # its partners are full
    assert all(used[heavy].sum() > 0.7 * capacity[heavy].sum() for capacity, used, _ in matcher.months)
    assert (
        max((used >= 0.98 * capacity)[heavy].sum() for capacity, used, _ in matcher.months) >= heavy.sum() / 3
    )
    assert 0.0 < platform_service_share(result) < 1.0


def test_less_risk_bearing_capacity_moves_volume_to_the_platform_services():
    scarce = dict(CAPACITY_SHARE, capital_heavy_on=0.05, capital_heavy_off=0.15)
    plenty, _ = run()
    little, _ = run(scarce)
    assert platform_service_share(little) > platform_service_share(plenty) + 0.1


def test_drawdowns_no_partner_can_take_are_funded_by_the_platform_itself():
    result, matcher = run(dict.fromkeys(CAPACITY_SHARE, 0.0))
    assert set(result.tables["loans"]["funding_model"].to_pylist()) == {"capital_heavy_on"}
    assert sum(fallback for *_, fallback in matcher.months) == result.tables["loans"].num_rows


def test_capacity_for_a_volume_is_each_models_share_split_by_drawn_capacity(institutions):
    partners = load_partners(institutions)
    volume = 10_000_000_00
    sized = capacity_for_volume(partners, volume)
    for code, name in enumerate(FUNDING_MODELS):
        own = partners.model == code
        # floors lose less than a minor unit a partner
        assert volume * CAPACITY_SHARE[name] - own.sum() <= sized[own].sum() <= volume * CAPACITY_SHARE[name]
    weight = partners.capacity_minor[partners.model == 1]
    assert np.corrcoef(sized[partners.model == 1], weight)[0, 1] > 0.999
    assert (capacity_for_volume(partners, volume, {"ice": 0.5})[partners.model != 3] == 0).all()
