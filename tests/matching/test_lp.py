"""The pooled LP (column generation over pools of interchangeable applications) against the LP over every pair."""

from __future__ import annotations

import numpy as np
import pytest
from _matching_cases import day, partner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from creditmesh.matching import applications_from_frame, build_problem, load_partners
from creditmesh.matching.applications import GRADES
from creditmesh.matching.lp import Prices, build_pools, dual_bound, solve_lp

MODELS = ["capital_heavy_on", "capital_heavy_off", "capital_light", "ice", "tech_solution"]


def _partners(rng: np.random.Generator, count: int):
    return load_partners(
        [
            partner(
                f"P{k}",
                funding_model=MODELS[rng.integers(0, 5)],
                max_pd=float(rng.uniform(0.03, 0.3)),
                funding_cost=float(rng.uniform(0.03, 0.08)),
                tenors=sorted(
                    rng.choice([3, 6, 9, 12, 18, 24], int(rng.integers(1, 7)), replace=False).tolist()
                ),
                regions=[] if rng.random() < 0.5 else ["R01", "R02", "R03"],
                monthly_capacity_minor=int(rng.integers(0, 40_000_000)),
                max_grade_share=float(rng.choice([0.3, 0.5, 1.0])),
            )
            for k in range(count)
        ]
    )


def _day(seed: int, n: int, partners_count: int, scale: float):
    rng = np.random.default_rng(seed)
    partners = _partners(rng, partners_count)
    return build_problem(
        applications_from_frame(day(n, seed)),
        partners,
        capacity_minor=(partners.capacity_minor * scale).astype(np.int64),
    )


def _check_pair_solution(problem, result) -> None:
    """The pooled master read back over pairs: each application at most whole, within every limit, same objective."""
    p, cols, x = problem, result.columns, result.x
    assert ((x > 0) & (x <= 1)).all()
    per_app = np.bincount(p.pairs.app[cols], weights=x, minlength=len(p.applications))
    assert per_app.max(initial=0) <= 1 + 1e-7
    amount = p.applications.amount_minor[p.pairs.app[cols]] * x
    used = np.bincount(p.pairs.partner[cols], weights=amount, minlength=len(p.partners))
    assert (used <= p.capacity_minor + 1e-3 + 1e-7 * p.capacity_minor).all()
    cell = p.pairs.partner[cols] * len(GRADES) + p.applications.grade[p.pairs.app[cols]]
    used_cell = np.bincount(cell, weights=amount, minlength=p.grade_limit_minor.size)
    limit = p.grade_limit_minor.reshape(-1)
    assert (used_cell <= limit + 1e-3 + 1e-7 * limit).all()
    assert (p.value[cols] * x).sum() == pytest.approx(result.objective, rel=1e-7, abs=1e-3)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 300),
    partners_count=st.integers(1, 12),
    scale=st.sampled_from([0.0, 0.01, 0.05, 0.3, 1.0]),
    priced=st.booleans(),
)
def test_the_pooled_lp_equals_the_lp_over_every_pair(seed, n, partners_count, scale, priced):
    problem = _day(seed, n, partners_count, scale)
    full = solve_lp(problem, full=True)
    rng = np.random.default_rng(seed)
    start = Prices(rng.uniform(0, 0.01, partners_count), rng.uniform(0, 0.005, (partners_count, len(GRADES))))
    pooled = solve_lp(problem, prices=start if priced else None)
    assert pooled.stats["lp_exact"]
    assert pooled.objective == pytest.approx(full.objective, rel=1e-7, abs=1e-3)
    # the certificate: the Lagrangian bound of the master's prices meets its objective
    assert pooled.bound == pytest.approx(pooled.objective, rel=1e-7, abs=1e-3)
    assert dual_bound(problem, pooled.prices) >= full.objective - 1e-3
    _check_pair_solution(problem, pooled)


def test_a_larger_day_is_solved_exactly_with_fewer_rows_than_applications():
    rng = np.random.default_rng(5)
    partners = _partners(rng, 30)
    problem = build_problem(
        applications_from_frame(day(3_000, 5, regions=3)),
        partners,
        capacity_minor=(partners.capacity_minor // 20).astype(np.int64),
    )
    pooled, full = solve_lp(problem), solve_lp(problem, full=True)
    assert pooled.stats["lp_exact"] and pooled.objective == pytest.approx(full.objective, rel=1e-8)
    assert pooled.stats["pools"] < len(problem.applications)
    _check_pair_solution(problem, pooled)


def test_fee_partners_are_pooled_and_risk_bearing_ones_are_not():
    partners = load_partners(
        [
            partner("FEE", funding_model="capital_light", fee_rate=0.02),
            partner("ICE", funding_model="ice", fee_rate=0.01),
            partner("ON", funding_model="capital_heavy_on"),
            partner("OFF", funding_model="capital_heavy_off"),
        ]
    )
    problem = build_problem(applications_from_frame(day(200, 3)), partners)
    pools = build_pools(problem)
    assert pools.flat_partner.tolist() == [True, True, False, False]
    # one tenor and one grade a pool, and its supply the amounts of its applications
    for k in range(len(pools)):
        members = np.flatnonzero(pools.of_app == k)
        assert len(set(problem.applications.tenor_months[members])) == 1
        assert set(problem.applications.grade[members]) == {pools.grade[k]}
        assert pools.supply[k] == problem.applications.amount_minor[members].sum()
    assert len(pools) < len(problem.applications)
