"""Allocation: capacity never exceeded, the MIP equal to brute force on tiny days, the LP beating greedy where it must."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from _matching_cases import day, partner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import creditmesh.matching.allocate as allocate_module
from creditmesh.matching import (
    allocate_day,
    allocations_table,
    applications_from_frame,
    build_problem,
    capacity_used,
    load_partners,
    revenue_by_funding_model,
    route,
    unallocated_table,
)
from creditmesh.matching.allocate import Prices, Room, _repair, _result, reduced_values
from creditmesh.schema import validate


def _brute_force(problem) -> float:
    """The integer optimum by trying every assignment (tiny days only)."""
    apps, partners = problem.applications, problem.partners
    options = [
        [-1]
        + [
            int(j)
            for j, v in zip(
                problem.pairs.partner[problem.pairs.app == i], problem.value[problem.pairs.app == i]
            )
            if v > 0
        ]
        for i in range(len(apps))
    ]
    value = {(int(i), int(j)): v for i, j, v in zip(problem.pairs.app, problem.pairs.partner, problem.value)}
    best = 0.0
    for choice in itertools.product(*options):
        used = np.zeros(len(partners), np.int64)
        cell = np.zeros_like(problem.grade_limit_minor)
        total = 0.0
        for i, j in enumerate(choice):
            if j >= 0:
                used[j] += apps.amount_minor[i]
                cell[j, apps.grade[i]] += apps.amount_minor[i]
                total += value[(i, j)]
        if (used <= problem.capacity_minor).all() and (cell <= problem.grade_limit_minor).all():
            best = max(best, total)
    return best


def _check_within_capacity(problem, allocation) -> None:
    used, cell = capacity_used(problem, allocation)
    assert (used <= problem.capacity_minor).all()
    assert (cell <= problem.grade_limit_minor).all()
    chosen = np.flatnonzero(allocation.partner >= 0)
    pairs = set(zip(problem.pairs.app.tolist(), problem.pairs.partner.tolist()))
    assert all((int(i), int(allocation.partner[i])) in pairs for i in chosen), "only eligible pairs"
    assert all(allocation.reason[i] is None for i in chosen)
    assert all(allocation.reason[i] is not None for i in np.flatnonzero(allocation.partner < 0))


def _tiny_partners(rng: np.random.Generator, count: int):
    models = ["capital_heavy_on", "capital_heavy_off", "capital_light", "ice", "tech_solution"]
    return load_partners(
        [
            partner(
                f"P{k}",
                funding_model=models[rng.integers(0, 5)],
                max_pd=float(rng.uniform(0.03, 0.3)),
                funding_cost=float(rng.uniform(0.03, 0.08)),
                tenors=[3, 6, 9, 12, 18, 24],
                monthly_capacity_minor=int(rng.integers(0, 4_000_000)),
                max_grade_share=float(rng.choice([0.5, 1.0])),
            )
            for k in range(count)
        ]
    )


def _random_day(seed: int, n: int, partners_count: int, scale: float):
    """A seeded random day of ``n`` applications over tiny partners with ``scale`` of their capacity, and the rng."""
    rng = np.random.default_rng(seed)
    partners = _tiny_partners(rng, partners_count)
    problem = build_problem(
        applications_from_frame(day(n, seed)),
        partners,
        capacity_minor=(partners.capacity_minor * scale).astype(np.int64),
    )
    return rng, problem


@pytest.mark.parametrize("seed", range(12))
def test_the_mip_equals_brute_force_and_bounds_the_greedy_on_tiny_days(seed):
    rng = np.random.default_rng(seed)
    problem = build_problem(applications_from_frame(day(6, seed)), _tiny_partners(rng, 3))
    optimum = _brute_force(problem)
    exact = allocate_day(problem, integer=True)
    lp = allocate_day(problem)
    greedy = route(problem)
    assert exact.objective == pytest.approx(optimum, rel=1e-9, abs=1e-6)
    assert lp.lp_objective >= optimum - 1e-6 and lp.bound >= lp.lp_objective - 1e-6
    assert greedy.objective <= optimum + 1e-6 and lp.objective <= optimum + 1e-6
    for allocation in (exact, lp, greedy):
        _check_within_capacity(problem, allocation)


def test_the_lp_moves_a_borrower_to_the_partner_only_it_fits_where_greedy_does_not():
    # two applications, one scarce high-margin partner; the first application also fits a second partner
    partners = load_partners(
        [
            partner(
                "RICH",
                funding_model="capital_light",
                fee_rate=0.10,
                monthly_capacity_minor=1_000_000,
                max_grade_share=1.0,
            ),
            partner(
                "ONLY_A",
                funding_model="capital_light",
                fee_rate=0.05,
                regions=["R01"],
                monthly_capacity_minor=1_000_000,
                max_grade_share=1.0,
            ),
        ]
    )
    frame = pd.DataFrame(
        {
            "application_id": ["A", "B"],
            "pd": [0.02, 0.02],
            "score": [600.0, 600.0],
            "amount_minor": [1_000_000, 1_000_000],
            "tenor_months": [12, 12],
            "region": ["R01", "R02"],
            "apr": [0.18, 0.18],
        }
    )
    problem = build_problem(applications_from_frame(frame), partners)
    greedy, lp = route(problem), allocate_day(problem)
    assert list(greedy.partner) == [0, -1] and list(greedy.reason) == [None, "capacity_exhausted"]
    assert list(lp.partner) == [1, 0]
    assert lp.objective > greedy.objective * 1.4


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 60),
    partners_count=st.integers(1, 6),
    scale=st.sampled_from([0.0, 0.01, 0.1, 1.0]),
)
def test_capacity_is_never_exceeded(seed, n, partners_count, scale):
    rng, problem = _random_day(seed, n, partners_count, scale)
    lp = allocate_day(problem, sample=20)
    priced = Prices(rng.uniform(0, 0.05, partners_count), rng.uniform(0, 0.01, (partners_count, 7)))
    for allocation in (lp, route(problem), route(problem, prices=priced, order=rng.permutation(n))):
        _check_within_capacity(problem, allocation)


def _sequential_router(problem, prices, order, band):
    """The router one application at a time (the reference the batched router keeps to when each
    application is a batch of its own)."""
    capacity = np.maximum(problem.capacity_minor.astype(np.float64), 1.0)
    room = Room.of(problem)
    partner = np.full(len(problem.applications), -1, np.int64)
    for arrived, i in enumerate(order, start=1):
        s, e = problem.app_start[i], problem.app_start[i + 1]
        js, value = problem.pairs.partner[s:e], problem.value[s:e]
        amount, grade = int(problem.applications.amount_minor[i]), int(problem.applications.grade[i])
        score = value if prices is None else reduced_values(problem, prices, np.arange(s, e))
        positive = (value > 0) & (score > 1e-9 * value)
        filled = capacity[js] - room.capacity[js]
        pace_room = np.minimum(room.capacity[js], np.floor(arrived / len(order) * capacity[js]) - filled)
        marginal = (value > 0) & ~positive & (score >= -band * value) & (pace_room >= amount)
        for allowed in (positive, marginal if prices is not None else np.zeros_like(positive)):
            ok = allowed & room.fits(js, grade, amount)
            if ok.any():
                k = int(np.argmax(np.where(ok, score, -np.inf)))
                partner[i] = js[k]
                room.take(int(js[k]), grade, amount)
                break
    return partner


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 60),
    partners_count=st.integers(1, 6),
    scale=st.sampled_from([0.01, 0.1, 1.0]),
    priced=st.booleans(),
)
def test_the_router_with_a_batch_per_application_is_the_sequential_router(
    seed, n, partners_count, scale, priced
):
    rng, problem = _random_day(seed, n, partners_count, scale)
    prices = (
        Prices(rng.uniform(0, 0.05, partners_count), rng.uniform(0, 0.01, (partners_count, 7)))
        if priced
        else None
    )
    order = rng.permutation(n)
    batched = route(problem, prices=prices, order=order, batch=np.arange(n))
    expected = _sequential_router(problem, prices, order, allocate_module.ROUTER_BAND)
    # exact ties in score may break differently; the objective and the allocated count may not
    assert batched.allocated == (expected >= 0).sum()
    assert batched.objective == pytest.approx(_result(problem, expected, "", 0.0).objective, rel=1e-9)


def test_a_day_routed_at_once_takes_the_applications_a_partner_can_hold_in_arrival_order(partners):
    apps = applications_from_frame(day(400, 5, regions=31))
    problem = build_problem(apps, partners, capacity_minor=(partners.capacity_minor // 300).astype(np.int64))
    one_day = route(problem, order=np.arange(len(apps)))
    _check_within_capacity(problem, one_day)
    # an application left out found every eligible partner with a positive margin full for it
    used, cell = capacity_used(problem, one_day)
    room, grade_room = problem.capacity_minor - used, problem.grade_limit_minor - cell
    left_out = np.flatnonzero(one_day.reason == "capacity_exhausted")
    assert left_out.size > 0
    for i in left_out:
        s, e = problem.app_start[i], problem.app_start[i + 1]
        js = problem.pairs.partner[s:e][problem.value[s:e] > 0]
        amount = apps.amount_minor[i]
        assert ((room[js] < amount) | (grade_room[js, apps.grade[i]] < amount)).all()


def test_an_infeasible_day_allocates_what_fits_and_reports_the_rest(partners):
    apps = applications_from_frame(day(400, 9, regions=31))
    capacity = np.full(len(partners), 2_000_000, np.int64)
    capacity[:5] = 0
    problem = build_problem(apps, partners, capacity_minor=capacity)
    allocation = allocate_day(problem)
    _check_within_capacity(problem, allocation)
    assert 0 < allocation.allocated < len(apps)
    left = unallocated_table(problem, allocation)
    assert len(left) == len(apps) - allocation.allocated and "capacity_exhausted" in set(left["reason"])
    assert set(left["reason"]) <= {"no_eligible_partner", "no_positive_margin", "capacity_exhausted"}
    nothing = allocate_day(build_problem(apps, partners, capacity_minor=np.zeros(len(partners), np.int64)))
    assert nothing.allocated == 0 and nothing.objective == 0


def test_allocations_fit_the_schema_and_revenue_adds_up(partners):
    apps = applications_from_frame(day(300, 4, regions=31))
    problem = build_problem(apps, partners, capacity_minor=(partners.capacity_minor // 200).astype(np.int64))
    allocation = allocate_day(problem)
    table = allocations_table(problem, allocation)
    validate("allocations", table[["application_id", "institution_id", "funding_model", "expected_margin"]])
    revenue = revenue_by_funding_model(table).set_index("funding_model")
    models = ["capital_heavy_on", "capital_heavy_off", "capital_light", "ice", "tech_solution"]
    assert revenue.loc[models, "volume_minor"].sum() == table["amount_minor"].sum()
    assert revenue.loc[models, "expected_revenue_minor"].sum() == pytest.approx(allocation.objective)
    service = table["funding_model"].isin(["capital_light", "ice", "tech_solution"])
    assert revenue.loc["platform_service", "volume_share"] == pytest.approx(
        table.loc[service, "amount_minor"].sum() / table["amount_minor"].sum()
    )


def test_a_day_solved_in_blocks_stays_within_capacity_and_near_the_whole_lp(partners):
    apps = applications_from_frame(day(1_200, 12, regions=31))
    problem = build_problem(apps, partners, capacity_minor=(partners.capacity_minor // 150).astype(np.int64))
    whole = allocate_day(problem, sample=None)
    blocks = allocate_day(problem, sample=300, block=400)
    assert blocks.method == "lp_blocks" and blocks.stats["blocks"] == 3
    _check_within_capacity(problem, blocks)
    assert blocks.objective <= blocks.bound and whole.lp_objective <= blocks.bound * (1 + 1e-9)
    assert blocks.objective >= 0.97 * whole.objective


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 40),
    partners_count=st.integers(1, 5),
    scale=st.sampled_from([0.0, 0.01, 0.1, 0.3]),
)
def test_the_repair_never_exceeds_capacity_nor_lowers_the_objective(seed, n, partners_count, scale):
    rng, problem = _random_day(seed, n, partners_count, scale)
    start = route(problem, order=rng.permutation(n))  # a greedy allocation in random order to repair
    partner = start.partner.copy()
    used, cell = capacity_used(problem, start)
    room = Room(problem.capacity_minor - used, problem.grade_limit_minor - cell)
    _repair(problem, partner, room, rng.permutation(n))
    repaired = _result(problem, partner, "repaired", 0.0)
    _check_within_capacity(problem, repaired)
    assert repaired.objective >= start.objective - 1e-9
    used, cell = capacity_used(problem, repaired)
    assert (room.capacity == problem.capacity_minor - used).all() and (
        room.grade == problem.grade_limit_minor - cell
    ).all()


def test_the_repair_reaches_the_brute_force_optimum_more_often_on_tiny_days(monkeypatch):
    reached_with, reached_without = 0, 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        partners = _tiny_partners(rng, 3)
        problem = build_problem(
            applications_from_frame(day(7, seed)),
            partners,
            capacity_minor=(partners.capacity_minor // 3).astype(np.int64),
        )
        optimum = _brute_force(problem)
        repaired = allocate_day(problem)
        assert repaired.objective == allocate_day(problem).objective  # deterministic
        with monkeypatch.context() as patch:
            patch.setattr(allocate_module, "REPAIR_CANDIDATES", 0)
            plain = allocate_day(problem)
        assert plain.objective - 1e-9 <= repaired.objective <= optimum + 1e-6
        reached_with += repaired.objective >= optimum - 1e-6
        reached_without += plain.objective >= optimum - 1e-6
    assert reached_with > reached_without
