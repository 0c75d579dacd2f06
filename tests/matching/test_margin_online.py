"""Margins by funding model, and online matching: ranked offers, capacity honoured, "no partner" with reasons."""

from __future__ import annotations

import numpy as np
import pytest
from _matching_cases import day, partner

from creditmesh.errors import ParameterError
from creditmesh.matching import (
    OnlineMatcher,
    allocate_day,
    application_from_mapping,
    applications_from_frame,
    build_problem,
    load_partners,
    pair_margin,
)


def _app(**overrides) -> dict:
    base = {
        "application_id": "X1",
        "pd": 0.04,
        "score": 600.0,
        "amount_minor": 1_200_000,
        "tenor_months": 12,
        "region": "R01",
        "apr": 0.18,
    }
    base.update(overrides)
    return base


def test_margin_formulas_by_funding_model():
    partners = load_partners(
        [
            partner("ON", funding_model="capital_heavy_on", funding_cost=0.05),
            partner("OFF", funding_model="capital_heavy_off", funding_cost=0.05, fee_rate=0.08),
            partner("LIGHT", funding_model="capital_light", fee_rate=0.06),
            partner("ICE", funding_model="ice", fee_rate=0.03),
            partner("TECH", funding_model="tech_solution", fee_rate=0.01),
        ]
    )
    one = application_from_mapping(_app())
    m = pair_margin(one, partners, np.zeros(5, np.int64), np.arange(5), lgd=0.85)
    balance_years = 1_200_000 * 13 / 24
    loss = 0.04 * 0.85 * 1_200_000 * 13 / 24  # 12 months: the PD over the tenor is the 12-month PD
    assert m == pytest.approx(
        [
            (0.18 - 0.05) * balance_years - loss,
            0.08 * balance_years - loss,
            0.06 * balance_years,
            0.03 * 1_200_000,
            0.01 * balance_years,
        ]
    )
    risky = application_from_mapping(_app(pd=0.3))
    r = pair_margin(risky, partners, np.zeros(5, np.int64), np.arange(5))
    assert r[0] < m[0] and r[1] < m[1] and np.allclose(r[2:], m[2:]), (
        "only risk-bearing models carry the loss"
    )


def test_online_ranking_is_best_margin_first_and_falls_back_when_capacity_runs_out():
    partners = load_partners(
        [
            partner("A", fee_rate=0.02, monthly_capacity_minor=5_000_000, max_grade_share=1.0),
            partner("B", fee_rate=0.06, monthly_capacity_minor=1_500_000, max_grade_share=1.0),
            partner("C", fee_rate=0.04, regions=["R02"]),
        ]
    )
    matcher = OnlineMatcher(partners)
    first = matcher.rank(_app())
    assert [o.institution_id for o in first.offers] == ["B", "A"] and first.partner.institution_id == "B"
    matcher.reserve(first, "B", "D")
    assert matcher.remaining_minor("B") == 300_000
    second = matcher.rank(_app(application_id="X2"))
    assert [o.institution_id for o in second.offers] == ["A"], "B has no room left for another 12,000"
    with pytest.raises(ParameterError, match="not among the offers"):
        matcher.reserve(second, "B", "D")
    matcher.reserve(second, "A", "D")
    matcher.reserve(matcher.rank(_app(application_id="X3")), "A", "D")
    matcher.reserve(matcher.rank(_app(application_id="X4")), "A", "D")
    matcher.reserve(matcher.rank(_app(application_id="X5")), "A", "D")
    assert matcher.remaining_minor("A") == 200_000
    full = matcher.rank(_app(application_id="X6"))
    assert full.partner is None and full.reasons == ("capacity_exhausted",)


def test_no_partner_answers_say_why():
    partners = load_partners([partner("A", max_pd=0.05), partner("B", max_pd=0.05, tenors=[3])])
    none = OnlineMatcher(partners).rank(_app(pd=0.2))
    assert none.partner is None and none.reasons == (
        "no_eligible_partner",
        "pd_above_partner_max",
        "tenor_not_funded",
    )
    losing = load_partners([partner("ON", funding_model="capital_heavy_on", max_pd=0.9)])
    assert OnlineMatcher(losing).rank(_app(pd=0.8)).reasons == ("no_positive_margin",)


def test_the_online_matcher_ranks_as_the_batch_values_a_pair(partners):
    frame = day(200, 11, regions=31)
    problem = build_problem(applications_from_frame(frame), partners)
    prices = allocate_day(problem).prices
    matcher = OnlineMatcher(partners, prices=prices, max_offers=len(partners))
    assert len(OnlineMatcher(partners).rank(frame.iloc[0].to_dict()).offers) <= 10
    for i, row in enumerate(frame.to_dict("records")[:60]):
        match = matcher.rank(row)
        s, e = problem.app_start[i], problem.app_start[i + 1]
        batch = {partners.ids[j]: v for j, v in zip(problem.pairs.partner[s:e], problem.value[s:e]) if v > 0}
        assert {o.institution_id: o.expected_margin for o in match.offers} == pytest.approx(batch)
        priced = [o.priced_margin for o in match.offers]
        assert priced == sorted(priced, reverse=True)
