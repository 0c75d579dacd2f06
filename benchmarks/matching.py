"""Matching (ICE): a day's approved applications allocated across 160 funding partners, against a dense LP.

Data: the simulator's 160 ``institutions`` (``simulate.institutions.draw_institutions``, seed 7) with
partner-specific fee and acceptance terms, and seeded synthetic days of approved applications drawn
like the simulator's (``benchmarks/_matching_data.py``). A day's capacity is a 30th of the monthly
capacity for 100,000 applications (a 300th for 10,000: the same demand-to-capacity ratio, about 2.8).

1. At 10,000 × 160: the anchor, the naive dense LP (every application × every partner, ineligible
   pairs bounded at 0) through ``scipy.optimize.linprog(method="highs")``; the exact sparse LP with
   highspy (every eligible pair); creditmesh's ``allocate_day``; the gap of its integer allocation
   to the exact LP optimum.
2. At 100,000 × 160: ``allocate_day`` end to end (eligibility, margins, sample prices, block LPs,
   settling), its objective and the full day's Lagrangian dual bound, and the gap between them.
3. Online routers on the same 100,000-application day in random arrival order: greedy on margin,
   and greedy on margin less the capacity prices of yesterday's batch (another day's allocation);
   their gaps to the dual bound.
4. Online matching of one application (``OnlineMatcher.rank``): latency percentiles.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load_average, print_json_line, result_row  # noqa: E402
from _matching_data import approved_day, institutions  # noqa: E402

from creditmesh.matching import (  # noqa: E402
    OnlineMatcher,
    allocate_day,
    allocations_table,
    applications_from_frame,
    build_problem,
    load_partners,
    revenue_by_funding_model,
    route,
)

SMALL, LARGE = 10_000, 100_000
DAYS_PER_MONTH = 30


def dense_anchor(problem) -> tuple[float, float]:
    """The naive LP: all n × m variables, ineligible ones bounded at 0, solved by scipy's HiGHS."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    n, m = len(problem.applications), len(problem.partners)
    cost = np.zeros(n * m)
    upper = np.zeros(n * m)
    flat = problem.pairs.app * m + problem.pairs.partner
    cost[flat] = -problem.value
    upper[flat] = (problem.value > 0).astype(float)
    amount = problem.applications.amount_minor.astype(float)
    columns = np.arange(n * m)
    app_of, partner_of = columns // m, columns % m
    grade_of = problem.applications.grade.astype(np.int64)[app_of]
    rows = [
        sp.csr_matrix((np.ones(n * m), (app_of, columns)), shape=(n, n * m)),
        sp.csr_matrix((amount[app_of], (partner_of, columns)), shape=(m, n * m)),
        sp.csr_matrix((amount[app_of], (partner_of * 7 + grade_of, columns)), shape=(m * 7, n * m)),
    ]
    bounds_rhs = np.concatenate(
        [np.ones(n), problem.capacity_minor, problem.grade_limit_minor.reshape(-1)]
    ).astype(float)
    started = time.perf_counter()
    answer = linprog(
        cost,
        A_ub=sp.vstack(rows).tocsr(),
        b_ub=bounds_rhs,
        bounds=np.column_stack([np.zeros(n * m), upper]),
        method="highs",
    )
    seconds = time.perf_counter() - started
    if answer.status != 0:
        raise RuntimeError(f"the dense LP failed: {answer.message}")
    return seconds, -float(answer.fun)


def day_problem(n: int, seed: int, partners):
    divisor = DAYS_PER_MONTH * LARGE // n
    capacity = (partners.capacity_minor // divisor).astype(np.int64)
    return build_problem(applications_from_frame(approved_day(n, seed)), partners, capacity_minor=capacity)


def main() -> None:
    partners = load_partners(institutions())
    print(f"partners: {len(partners)}; load average {load_average()} on {__import__('os').cpu_count()} cores")
    results = []

    # -- 10,000 × 160: the anchor, the exact LP, creditmesh ------------------------------------------
    small = day_problem(SMALL, 1, partners)
    print(
        f"\n{SMALL:,} applications × {len(partners)} partners: {len(small.pairs):,} eligible pairs "
        f"({len(small.pairs) / (SMALL * len(partners)):.0%} of the dense grid)"
    )
    started = time.perf_counter()
    ours_small = allocate_day(day_problem(SMALL, 1, partners))
    ours_small_s = time.perf_counter() - started
    exact = allocate_day(small, full=True)
    print(
        f"  exact sparse LP (highspy, every eligible pair): {exact.seconds:.1f} s, LP optimum {exact.lp_objective:,.0f}"
    )
    print(
        f"  creditmesh allocate_day (build included): {ours_small_s:.1f} s, integer objective {ours_small.objective:,.0f}, "
        f"gap to the LP optimum {ours_small.gap(exact.lp_objective):.3%}; {ours_small.stats}"
    )
    anchor_s, anchor_obj = dense_anchor(small)
    print(
        f"  anchor dense LP (scipy linprog highs): {anchor_s:.1f} s, optimum {anchor_obj:,.0f} "
        f"(equal to the sparse LP: {abs(anchor_obj - exact.lp_objective) / exact.lp_objective:.1e} apart)"
    )
    print(f"  speed-up over the anchor: {anchor_s / ours_small_s:.1f}x")
    results += [
        result_row(
            "allocate_10k_seconds",
            "s",
            round(ours_small_s, 2),
            anchor=round(anchor_s, 2),
            anchor_name="scipy linprog(highs) dense LP 10,000 x 160",
            goal="faster than the anchor",
        ),
        result_row(
            "gap_10k_vs_exact_lp", "%", round(100 * ours_small.gap(exact.lp_objective), 3), goal="<= 0.5 %"
        ),
    ]

    # -- 100,000 × 160 ----------------------------------------------------------------------------------
    started = time.perf_counter()
    today = day_problem(LARGE, 2, partners)
    build_s = time.perf_counter() - started
    batch = allocate_day(today)
    batch_s = time.perf_counter() - started
    print(
        f"\n{LARGE:,} applications × {len(partners)} partners: {len(today.pairs):,} eligible pairs; build {build_s:.1f} s, "
        f"allocate_day {batch.seconds:.1f} s, end to end {batch_s:.1f} s"
    )
    print(
        f"  integer objective {batch.objective:,.0f}; dual bound {batch.bound:,.0f}; gap to the bound {batch.gap(batch.bound):.3%} "
        f"(the LP optimum lies between: the gap to it is at most this); allocated {batch.allocated:,}; {batch.stats}"
    )
    table = allocations_table(today, batch)
    revenue = revenue_by_funding_model(table)
    print(revenue.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))

    # -- online routers on the same day ---------------------------------------------------------------
    yesterday = allocate_day(day_problem(LARGE, 3, partners))
    arrival = np.random.default_rng(4).permutation(LARGE)
    greedy = route(today, order=arrival)
    priced = route(today, prices=yesterday.prices, order=arrival)
    print(
        f"\nonline routers, random arrival order: greedy {greedy.objective:,.0f} (gap {greedy.gap(batch.bound):.2%} to the bound, "
        f"{greedy.gap(batch.objective):.2%} to the batch), dual-price {priced.objective:,.0f} (gap {priced.gap(batch.bound):.2%}, "
        f"{priced.gap(batch.objective):.2%} to the batch); {greedy.seconds:.1f} s and {priced.seconds:.1f} s for the day"
    )
    results += [
        result_row(
            "allocate_100k_seconds",
            "s",
            round(batch_s, 2),
            anchor=round(anchor_s, 2),
            anchor_name="scipy linprog(highs) dense LP 10,000 x 160 (the 10k anchor above)",
            goal="< 1 x anchor",
        ),
        result_row(
            "gap_100k_vs_dual_bound",
            "%",
            round(100 * batch.gap(batch.bound), 3),
            goal="<= 0.5 % of the LP optimum",
        ),
        result_row("dual_bound_100k", "minor units", round(batch.bound, 0)),
        result_row(
            "online_dual_price_gap_vs_bound", "%", round(100 * priced.gap(batch.bound), 3), goal="<= 3 %"
        ),
        result_row("online_greedy_gap_vs_bound", "%", round(100 * greedy.gap(batch.bound), 3)),
        result_row(
            "platform_service_volume_share",
            "fraction",
            round(float(revenue.set_index("funding_model").loc["platform_service", "volume_share"]), 4),
        ),
    ]

    # -- online matching of one application -----------------------------------------------------------
    matcher = OnlineMatcher(partners, capacity_minor=today.capacity_minor, prices=yesterday.prices)
    rows = approved_day(5_000, 5).to_dict("records")
    for row in rows[:200]:
        matcher.rank(row)  # warm up
    latencies = np.empty(len(rows))
    cpu = np.empty(len(rows))
    for k, row in enumerate(rows):
        t, c = time.perf_counter_ns(), time.thread_time_ns()
        matcher.rank(row)
        latencies[k] = (time.perf_counter_ns() - t) / 1e3
        cpu[k] = (time.thread_time_ns() - c) / 1e3
    p50, p99 = np.percentile(latencies, [50, 99])
    cpu50, cpu99 = np.percentile(cpu, [50, 99])
    print(
        f"\nonline matching of one application: wall clock p50 {p50:.0f} µs, p99 {p99:.0f} µs, max {latencies.max():.0f} µs; "
        f"thread CPU time p50 {cpu50:.0f} µs, p99 {cpu99:.0f} µs, over {len(rows):,} applications"
    )
    results += [
        result_row("online_match_p99_us", "us", round(float(p99), 1), goal="< 1000 us"),
        result_row("online_match_p50_us", "us", round(float(p50), 1)),
        result_row("online_match_cpu_p99_us", "us", round(float(cpu99), 1)),
    ]
    print(f"load average at the end {load_average()}")
    print_json_line("matching", results)


if __name__ == "__main__":
    main()
