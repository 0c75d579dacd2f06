"""The allocation LP and its prices: HiGHS over the eligible pairs, with interchangeable applications pooled.

The LP relaxation of the day (see :mod:`creditmesh.matching.allocate`) is solved exactly by
column generation over a pooled master. Most partners are *flat*: the margin they give per
minor unit of amount is the same for every application of a tenor (fee-share and referral
partners with a fixed acceptance rate, whose margin is a fee on the amount). At a flat
partner, two applications of the same tenor and grade that the same flat partners may fund
are interchangeable unit for unit, so the master sees them as one *pool* whose supply is their
total amount, with one arc (a money flow) to each of its flat partners; that takes away the
dual degeneracy that makes the LP over single applications slow (tens of partners tie on
price for a typical application). An application is taken out of its pool and given its own
row (an *individual*) when a partner that is not flat prices it out; its pool column carries
the share of it that goes to the pool. This is an exact reformulation: any solution of the
master is one of the LP over pairs with the same objective, and back.

Column generation starts from capacity prices (a sample's, or none): each pool's best arcs and
the individuals' best pairs. After each solve, the master's duals price every arc and every
pair of the day: an arc prices out when its rate exceeds the partner's and the grade's price
and the pool's price; a pair of a pooled application when its margin exceeds the price of the
capacity it uses plus its amount times its pool's price; an individual's when it exceeds
that plus the individual's row dual. Those that price out join and the master is solved
again from its last basis, until none does: the duals are then feasible for the dual of the
LP over every pair, whose objective equals the master's, which proves the optimum (the
Lagrangian bound of the final prices equals the objective within the solver's tolerance; the
benchmark prints both). ``full=True`` instead solves the LP over every positive pair at once
(the reference the tests hold the master equal to), ``integer=True`` its MIP.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from creditmesh.matching.applications import GRADES

if TYPE_CHECKING:
    import highspy

#: A day's allocation problem, :class:`creditmesh.matching.allocate.Problem` (not imported: allocate builds on
#: this module, and the architecture forbids a cycle even for type checking).
Problem = Any

#: Arcs per pool and pairs per individual the first master holds; arcs and pairs one pool or one
#: application may add per round; the most rounds (a limit on everything: past it the LP is
#: reported as not proven optimal).
INITIAL_ARCS = 8
INITIAL_PAIRS = 4
ADDED_ARCS = 4
ADDED_PAIRS = 3
MAX_ROUNDS = 60
#: An application starts as an individual when a partner that is not flat, at the starting
#: prices, gives it a priced margin within this fraction of its margin of the best a flat partner
#: or nothing gives it.
NEAR_BAND = 0.05
#: Pricing looks at this mix of the best-bound prices and the master's duals (Wentges smoothing).
SMOOTHING = 0.95
#: A column prices out when its reduced cost exceeds this fraction of the median positive margin
#: (per median amount for an arc).
PRICING_TOLERANCE = 1e-7
#: A partner is flat when its margins per minor unit of the applications of each tenor agree within
#: this relative tolerance.
FLAT_TOLERANCE = 1e-12
#: Money (minor units) below which a flow or a share is taken as none when the pooled solution is read back.
MONEY_EPSILON = 1e-6


def new_highs() -> highspy.Highs:
    """A HiGHS instance, without the banner it writes to the process's stdout on its first construction.

    HiGHS 1.16 prints its copyright line from C++ before any option can be set (HiGHS issue #2749),
    which would break ``creditmesh match allocate --output json``; file descriptor 1 is pointed at
    /dev/null for the construction only.
    """
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            highs = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    highs.setOptionValue("output_flag", False)
    return highs


@dataclass(frozen=True)
class Prices:
    """Capacity prices per minor unit: ``capacity[j]`` for partner j, ``grade[j, g]`` for its grade-g limit."""

    capacity: np.ndarray
    grade: np.ndarray

    @classmethod
    def zero(cls, partners: int) -> Prices:
        return cls(np.zeros(partners), np.zeros((partners, len(GRADES))))

    def per_cell(self) -> np.ndarray:
        """The price of a minor unit in each (partner, grade) cell, flat: ``capacity[j] + grade[j, g]``."""
        return (self.capacity[:, None] + self.grade).reshape(-1)


def pair_cells(problem: Problem) -> np.ndarray:
    """Each pair's (partner, grade) cell, ``partner * len(GRADES) + grade``."""
    p = problem
    return p.pairs.partner * len(GRADES) + p.applications.grade[p.pairs.app].astype(np.int64)


def reduced_values(problem: Problem, prices: Prices, pairs: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Each pair's (of ``pairs``, default all) margin less the price of the capacity it uses."""
    p = problem
    amount = p.applications.amount_minor[p.pairs.app[pairs]].astype(np.float64)
    cell = p.pairs.partner[pairs] * len(GRADES) + p.applications.grade[p.pairs.app[pairs]].astype(np.int64)
    return p.value[pairs] - amount * prices.per_cell()[cell]


def segment_max(values: np.ndarray, app_start: np.ndarray, n_apps: int) -> np.ndarray:
    """Per application, the largest of its pairs' values (−inf for an application without pairs)."""
    out = np.full(n_apps, -np.inf)
    has = app_start[1:] > app_start[:-1]
    if values.size:
        out[has] = np.maximum.reduceat(values, app_start[:-1][has])
    return out


def dual_bound(problem: Problem, prices: Prices) -> float:
    """The Lagrangian upper bound on the LP optimum for these prices (any non-negative prices give one)."""
    best = segment_max(reduced_values(problem, prices), problem.app_start, len(problem.applications))
    return float(
        np.maximum(best, 0).sum()
        + (prices.capacity * problem.capacity_minor).sum()
        + (prices.grade * problem.grade_limit_minor).sum()
    )


@dataclass(frozen=True)
class LPResult:
    """The LP's answer: objective and bound (minor units), its solution over pairs, prices and statistics."""

    objective: float
    bound: float
    columns: np.ndarray  # pair indices with a positive value in the solution
    x: np.ndarray  # their values, in (0, 1]
    prices: Prices
    stats: dict


# -- the LP over pairs (the reference, and the MIP) ---------------------------------------------------
class _Rows:
    """The coupling rows: each partner's capacity and each (partner, grade) limit, where they can bind.

    A row is left out when the positive eligible demand fits its limit. Rows are scaled by their limit
    (upper bound 1, or 0 for no room); a dual read from HiGHS is turned back into a price per minor unit.
    """

    def __init__(self, problem: Problem, positive: np.ndarray) -> None:
        p = problem
        n_partners, n_grades = len(p.partners), len(GRADES)
        amount = p.applications.amount_minor[p.pairs.app[positive]].astype(np.float64)
        demand = np.bincount(p.pairs.partner[positive], weights=amount, minlength=n_partners)
        cell_demand = np.bincount(pair_cells(p)[positive], weights=amount, minlength=n_partners * n_grades)
        limit = p.grade_limit_minor.reshape(-1)
        self.cap_binds = demand > p.capacity_minor
        self.cell_binds = (cell_demand > limit) & (limit < np.repeat(p.capacity_minor, n_grades))
        self.cap_row = np.full(n_partners, -1, np.int64)
        self.cap_row[self.cap_binds] = np.arange(int(self.cap_binds.sum()))
        self.cell_row = np.full(n_partners * n_grades, -1, np.int64)
        self.cell_row[self.cell_binds] = self.cap_binds.sum() + np.arange(int(self.cell_binds.sum()))
        self.count = int(self.cap_binds.sum() + self.cell_binds.sum())
        self.cap_scale = np.maximum(p.capacity_minor.astype(np.float64), 1.0)
        self.cell_scale = np.maximum(limit.astype(np.float64), 1.0)
        self.upper = np.concatenate(
            [
                (p.capacity_minor[self.cap_binds] > 0).astype(np.float64),
                (limit[self.cell_binds] > 0).astype(np.float64),
            ]
        )

    def entries(self, partner: np.ndarray, cell: np.ndarray, amount: np.ndarray) -> tuple[np.ndarray, ...]:
        """(row, value) of each column's capacity and cell entries, -1 rows where the row is left out."""
        return (
            self.cap_row[partner],
            amount / self.cap_scale[partner],
            self.cell_row[cell],
            amount / self.cell_scale[cell],
        )

    def prices(self, row_dual: np.ndarray, n_partners: int) -> Prices:
        """Prices per minor unit from the (scaled, objective-scaled) duals of these rows."""
        lam = np.zeros(n_partners)
        lam[self.cap_binds] = (
            np.maximum(row_dual[self.cap_row[self.cap_binds]], 0) / self.cap_scale[self.cap_binds]
        )
        mu = np.zeros(n_partners * len(GRADES))
        mu[self.cell_binds] = (
            np.maximum(row_dual[self.cell_row[self.cell_binds]], 0) / self.cell_scale[self.cell_binds]
        )
        return Prices(lam, mu.reshape(n_partners, len(GRADES)))


def _add_rows(highs: highspy.Highs, upper: np.ndarray) -> None:
    import highspy

    highs.addRows(
        upper.size,
        np.full(upper.size, -highspy.kHighsInf),
        upper,
        0,
        np.zeros(1, np.int32),
        np.zeros(0, np.int32),
        np.zeros(0),
    )


def _add_columns(
    highs: highspy.Highs, cost: np.ndarray, upper: np.ndarray, rows: np.ndarray, values: np.ndarray
) -> None:
    """Columns with up to ``rows.shape[1]`` entries each; a row -1 is no entry."""
    keep = rows >= 0
    starts = np.concatenate([[0], np.cumsum(keep.sum(axis=1))[:-1]]).astype(np.int32)
    highs.addCols(
        cost.size,
        cost,
        np.zeros(cost.size),
        upper,
        int(keep.sum()),
        starts,
        rows[keep].astype(np.int32),
        values[keep],
    )


def _solve(highs: highspy.Highs) -> None:
    highs.run()
    status = highs.modelStatusToString(highs.getModelStatus())
    if status != "Optimal":
        raise RuntimeError(f"HiGHS did not solve the allocation LP: {status}")


def _full_lp(problem: Problem, positive: np.ndarray, integer: bool) -> LPResult:
    """Every positive pair a column (x ≤ 1 by its application's row), solved at once; or its MIP."""
    import highspy

    p = problem
    n_partners = len(p.partners)
    pairs = np.flatnonzero(positive)
    rows = _Rows(p, positive)
    if pairs.size == 0:  # nothing worth allocating: HiGHS calls an empty model "Empty"
        return LPResult(0.0, 0.0, pairs, np.zeros(0), Prices.zero(n_partners), {"lp_exact": True})
    apps, app_row = np.unique(p.pairs.app[pairs], return_inverse=True)
    obj_scale = 1.0 / max(float(np.median(p.value[pairs])), 1e-9)
    highs = new_highs()
    highs.changeObjectiveSense(highspy.ObjSense.kMaximize)
    _add_rows(highs, rows.upper)
    _add_rows(highs, np.ones(apps.size))
    amount = p.applications.amount_minor[p.pairs.app[pairs]].astype(np.float64)
    cap_row, cap_value, cell_row, cell_value = rows.entries(
        p.pairs.partner[pairs], pair_cells(p)[pairs], amount
    )
    _add_columns(
        highs,
        p.value[pairs] * obj_scale,
        np.ones(pairs.size),
        np.column_stack([rows.count + app_row, cap_row, cell_row]),
        np.column_stack([np.ones(pairs.size), cap_value, cell_value]),
    )
    if integer:
        highs.changeColsIntegrality(
            pairs.size,
            np.arange(pairs.size, dtype=np.int32),
            np.full(pairs.size, highspy.HighsVarType.kInteger),
        )
        highs.setOptionValue("mip_rel_gap", 0.0)
    _solve(highs)
    solution = highs.getSolution()
    x = np.asarray(solution.col_value)
    objective = float(highs.getInfo().objective_function_value) / obj_scale
    if integer:
        prices, bound = Prices.zero(n_partners), objective
    else:
        prices = rows.prices(np.asarray(solution.row_dual) / obj_scale, n_partners)
        bound = dual_bound(p, prices)
    used = x > 1e-9
    stats = {"lp_columns": int(pairs.size), "lp_rows": rows.count + int(apps.size), "lp_exact": True}
    return LPResult(objective, bound, pairs[used], x[used], prices, stats)


# -- pools ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pools:
    """The day's applications pooled for the flat partners (see the module).

    ``of_app[i]`` is application i's pool (-1 when no flat partner gives it a positive margin); a pool
    has one grade and one tenor, its ``supply`` is its applications' total amount (minor units), and
    its arcs go to its flat partners at ``arc_rate``, the margin per minor unit there.
    """

    flat_partner: np.ndarray  # bool per partner
    flat_pair: (
        np.ndarray
    )  # bool per pair: its partner is flat (the pair's margin reaches the LP through a pool)
    of_app: np.ndarray
    grade: np.ndarray
    supply: np.ndarray
    arc_pool: np.ndarray
    arc_partner: np.ndarray
    arc_rate: np.ndarray

    def __len__(self) -> int:
        return len(self.grade)

    @property
    def arc_cell(self) -> np.ndarray:
        return self.arc_partner * len(GRADES) + self.grade[self.arc_pool]


def flat_partners(problem: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat per partner, tenor code per application, each (partner, tenor code)'s largest margin per unit)."""
    p = problem
    n_partners = len(p.partners)
    tenors, tenor_code = np.unique(p.applications.tenor_months, return_inverse=True)
    rate = p.value / p.applications.amount_minor[p.pairs.app]
    key = p.pairs.partner * tenors.size + tenor_code[p.pairs.app]
    high = np.full(n_partners * tenors.size, -np.inf)
    low = np.full(n_partners * tenors.size, np.inf)
    np.maximum.at(high, key, rate)
    np.minimum.at(low, key, rate)
    seen = np.isfinite(high)
    spread = np.zeros_like(high)
    spread[seen] = high[seen] - low[seen]
    uneven = spread > FLAT_TOLERANCE * np.maximum(
        np.abs(high), np.abs(low), where=seen, out=np.zeros_like(high)
    )
    flat = ~uneven.reshape(n_partners, tenors.size).any(axis=1)
    return flat, tenor_code.astype(np.int64), high


def build_pools(problem: Problem) -> Pools:
    """Pool the applications by tenor, grade and the set of flat partners that give them a positive margin."""
    p = problem
    n = len(p.applications)
    flat, tenor_code, rate_of = flat_partners(p)
    n_tenors = int(tenor_code.max()) + 1 if n else 1
    flat_pair = flat[p.pairs.partner]
    usable = flat_pair & (p.value > 0)
    flat_index = np.cumsum(flat) - 1
    signature = np.zeros((n, int(flat.sum())), dtype=bool)
    signature[p.pairs.app[usable], flat_index[p.pairs.partner[usable]]] = True
    pooled = signature.any(axis=1)
    key = np.concatenate(
        [
            np.packbits(signature, axis=1),
            tenor_code[:, None].astype(np.uint8),
            p.applications.grade[:, None].astype(np.uint8),
        ],
        axis=1,
    )
    key = np.ascontiguousarray(key[pooled])
    of_app = np.full(n, -1, np.int64)
    if not pooled.any():
        empty = np.zeros(0, np.int64)
        return Pools(flat, flat_pair, of_app, empty, np.zeros(0), empty, empty, np.zeros(0))
    rows = key.view(np.dtype((np.void, key.shape[1]))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    of_app[pooled] = inverse.ravel()
    members = np.flatnonzero(pooled)[first]  # one application of each pool
    supply = np.bincount(of_app[pooled], weights=p.applications.amount_minor[pooled].astype(np.float64))
    arc_pool, arc_flat = np.nonzero(signature[members])
    arc_partner = np.flatnonzero(flat)[arc_flat]
    arc_rate = rate_of[arc_partner * n_tenors + tenor_code[members[arc_pool]]]
    grade = p.applications.grade[members].astype(np.int64)
    return Pools(flat, flat_pair, of_app, grade, supply, arc_pool.astype(np.int64), arc_partner, arc_rate)


class _PooledLP:
    """The pooled master (see the module), grown column by column and warm-started between solves.

    Rows: the coupling rows (:class:`_Rows`), one row a pool (arcs out less the individuals' shares in,
    at most the pooled applications' supply; money in units of the median amount), one row an
    individual (its pairs and its pool share at most 1). Columns: arcs (money), individuals' pairs
    (fractions), individuals' pool shares (fractions).
    """

    def __init__(self, problem: Problem, pools: Pools, positive: np.ndarray) -> None:
        import highspy

        p = self.problem = problem
        self.pools = pools
        self.amount = p.applications.amount_minor.astype(np.float64)
        self.rows = _Rows(p, positive)
        self.unit = max(float(np.median(self.amount)), 1.0) if self.amount.size else 1.0
        self.obj_scale = 1.0 / max(float(np.median(p.value[positive])) if positive.any() else 1.0, 1e-9)
        self.pool_row = self.rows.count + np.arange(len(pools))
        self.n_rows = self.rows.count + len(pools)
        self.pool_upper = pools.supply / self.unit
        self.app_row = np.full(len(p.applications), -1, np.int64)
        self.arc_column = np.full(pools.arc_pool.size, -1, np.int64)
        self.pair_column = np.full(len(p.pairs), -1, np.int64)
        self.share_column = np.full(len(p.applications), -1, np.int64)
        self.n_columns = 0
        self.highs = new_highs()
        self.highs.changeObjectiveSense(highspy.ObjSense.kMaximize)
        _add_rows(self.highs, np.concatenate([self.rows.upper, self.pool_upper]))

    def add_arcs(self, arcs: np.ndarray) -> None:
        arcs = arcs[self.arc_column[arcs] < 0]
        if arcs.size == 0:
            return
        pools = self.pools
        money = np.full(arcs.size, self.unit)
        cap_row, cap_value, cell_row, cell_value = self.rows.entries(
            pools.arc_partner[arcs], pools.arc_cell[arcs], money
        )
        _add_columns(
            self.highs,
            pools.arc_rate[arcs] * self.unit * self.obj_scale,
            np.full(arcs.size, np.inf),
            np.column_stack([self.pool_row[pools.arc_pool[arcs]], cap_row, cell_row]),
            np.column_stack([np.ones(arcs.size), cap_value, cell_value]),
        )
        self._place(self.arc_column, arcs)

    def add_pairs(self, pairs: np.ndarray) -> None:
        """Pairs of partners that are not flat; their applications become individuals first."""
        pairs = pairs[self.pair_column[pairs] < 0]
        if pairs.size == 0:
            return
        p, pools = self.problem, self.pools
        apps = p.pairs.app[pairs]
        fresh = np.unique(apps[self.app_row[apps] < 0])
        if fresh.size:
            self.app_row[fresh] = self.n_rows + np.arange(fresh.size)
            self.n_rows += fresh.size
            _add_rows(self.highs, np.ones(fresh.size))
            pool = pools.of_app[fresh]
            in_pool = fresh[pool >= 0]
            if in_pool.size:  # the pool's supply less the individual's amount; its share column instead
                taken = np.bincount(pool[pool >= 0], weights=self.amount[in_pool], minlength=len(pools))
                changed = np.flatnonzero(taken)
                self.pool_upper[changed] = np.maximum(
                    self.pool_upper[changed] - taken[changed] / self.unit, 0.0
                )
                self.highs.changeRowsBounds(
                    changed.size,
                    self.pool_row[changed].astype(np.int32),
                    np.full(changed.size, -np.inf),
                    self.pool_upper[changed],
                )
                _add_columns(
                    self.highs,
                    np.zeros(in_pool.size),
                    np.full(in_pool.size, np.inf),
                    np.column_stack([self.app_row[in_pool], self.pool_row[pools.of_app[in_pool]]]),
                    np.column_stack([np.ones(in_pool.size), -self.amount[in_pool] / self.unit]),
                )
                self._place(self.share_column, in_pool)
        amount = self.amount[apps]
        cap_row, cap_value, cell_row, cell_value = self.rows.entries(
            p.pairs.partner[pairs], pair_cells(p)[pairs], amount
        )
        _add_columns(
            self.highs,
            p.value[pairs] * self.obj_scale,
            np.full(pairs.size, np.inf),
            np.column_stack([self.app_row[apps], cap_row, cell_row]),
            np.column_stack([np.ones(pairs.size), cap_value, cell_value]),
        )
        self._place(self.pair_column, pairs)

    def _place(self, where: np.ndarray, index: np.ndarray) -> None:
        where[index] = self.n_columns + np.arange(index.size)
        self.n_columns += index.size

    def solve(self) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, Prices]:
        """(objective in minor units, column values, each pool's price per minor unit, each application's
        dual: its row's for an individual, its amount times its pool's price for a pooled one, else 0)."""
        p, pools = self.problem, self.pools
        if self.n_columns == 0:
            return (
                0.0,
                np.zeros(0),
                np.zeros(len(pools)),
                np.zeros(len(p.applications)),
                Prices.zero(len(p.partners)),
            )
        _solve(self.highs)
        solution = self.highs.getSolution()
        row_dual = np.asarray(solution.row_dual) / self.obj_scale
        prices = self.rows.prices(row_dual, len(p.partners))
        pool_price = np.maximum(row_dual[self.pool_row], 0) / self.unit
        app_dual = np.zeros(len(p.applications))
        pooled = pools.of_app >= 0
        app_dual[pooled] = self.amount[pooled] * pool_price[pools.of_app[pooled]]
        individual = self.app_row >= 0
        app_dual[individual] = np.maximum(row_dual[self.app_row[individual]], 0)
        objective = float(self.highs.getInfo().objective_function_value) / self.obj_scale
        return objective, np.asarray(solution.col_value), pool_price, app_dual, prices

    def pair_solution(self, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The master's solution as one over pairs: (pair indices, x).

        Each pool's supply and the money on its arcs are laid end to end on one line (the
        individuals' shares first, then its pooled applications in order: any order is optimal,
        they are interchangeable at the pool's partners); where an application's stretch meets an
        arc's, that much of the application goes to the arc's partner.
        """
        p, pools = self.problem, self.pools
        pairs = np.flatnonzero(self.pair_column >= 0)
        x = value[self.pair_column[pairs]]
        arcs = np.flatnonzero(self.arc_column >= 0)
        flow = value[self.arc_column[arcs]] * self.unit
        arcs, flow = arcs[flow > MONEY_EPSILON], flow[flow > MONEY_EPSILON]
        order = np.argsort(pools.arc_pool[arcs], kind="stable")
        arcs, flow = arcs[order], flow[order]
        demand_end = np.cumsum(flow)
        total = np.bincount(pools.arc_pool[arcs], weights=flow, minlength=len(pools))
        origin = np.cumsum(total) - total
        sharing = np.flatnonzero(self.share_column >= 0)
        share = value[self.share_column[sharing]] * self.amount[sharing]
        sharing, share = sharing[share > MONEY_EPSILON], share[share > MONEY_EPSILON]
        plain = np.flatnonzero((pools.of_app >= 0) & (self.app_row < 0))
        supply_app = np.concatenate([sharing, plain])
        supply = np.concatenate([share, self.amount[plain]])
        order = np.lexsort((np.repeat([0, 1], [sharing.size, plain.size]), pools.of_app[supply_app]))
        supply_app, supply = supply_app[order], supply[order]
        pool = pools.of_app[supply_app]
        offered = np.cumsum(supply)
        offered -= (offered - supply)[np.searchsorted(pool, pool, side="left")]  # within the pool
        end = origin[pool] + np.minimum(offered, total[pool])
        begin = origin[pool] + np.minimum(offered - supply, total[pool])
        live = end - begin > MONEY_EPSILON
        supply_app, begin, end = supply_app[live], begin[live], end[live]
        cuts = np.unique(np.concatenate([begin, end, demand_end - flow, demand_end]))
        middle, length = (cuts[:-1] + cuts[1:]) / 2, np.diff(cuts)
        s = np.minimum(np.searchsorted(end, middle, side="right"), max(end.size - 1, 0))
        d = np.minimum(np.searchsorted(demand_end, middle, side="right"), max(demand_end.size - 1, 0))
        ok = (length > MONEY_EPSILON) & (end.size > 0) & (demand_end.size > 0)
        if end.size and demand_end.size:
            ok &= (begin[s] <= middle) & (middle < end[s]) & (demand_end[d] - flow[d] <= middle)
        apps, partner, length = supply_app[s[ok]], pools.arc_partner[arcs[d[ok]]], length[ok]
        key = p.pairs.app * len(p.partners) + p.pairs.partner
        columns = np.concatenate([pairs, np.searchsorted(key, apps * len(p.partners) + partner)])
        x = np.concatenate([x, length / self.amount[apps]])
        used = x > 1e-9
        return columns[used], np.minimum(x[used], 1.0)


def top_per_owner(scores: np.ndarray, owner: np.ndarray, k: int) -> np.ndarray:
    """Positions of up to ``k`` entries per owner, the highest scores first; exact ties in a seeded random
    order, so that tied applications spread over the tied partners instead of all naming the same few."""
    if scores.size == 0:
        return np.zeros(0, np.int64)
    tie_break = np.random.default_rng(scores.size).random(scores.size)
    order = np.lexsort((tie_break, -np.round(scores, 6), owner))
    ranked_owner = owner[order]
    first = np.searchsorted(ranked_owner, ranked_owner, side="left")
    return order[np.arange(order.size) - first < k]


def solve_lp(
    problem: Problem,
    *,
    prices: Prices | None = None,
    full: bool = False,
    integer: bool = False,
) -> LPResult:
    """The LP relaxation of the day, by column generation over the pooled master (see the module).

    ``prices`` (say a sample's) choose the first master; any prices, or none, give the same optimum.
    ``full=True`` solves the LP over every positive pair at once; ``integer=True`` its MIP.
    """
    p = problem
    positive = p.value > 0
    if full or integer:
        return _full_lp(p, positive, integer)
    pools = build_pools(p)
    lp = _PooledLP(p, pools, positive)
    start = prices if prices is not None else Prices.zero(len(p.partners))
    cell_price = start.per_cell()
    arc_cell = pools.arc_cell
    arc_reduced = pools.arc_rate - cell_price[arc_cell]
    useful = np.flatnonzero(pools.arc_rate > 0)
    lp.add_arcs(useful[top_per_owner(arc_reduced[useful], pools.arc_pool[useful], INITIAL_ARCS)])
    # the pairs of partners that are not flat: an application starts as an individual where one of them
    # comes near the best its pool's arcs or nothing give it at the starting prices
    risky = np.flatnonzero(positive & ~pools.flat_pair)
    risky_app = p.pairs.app[risky]
    risky_amount = lp.amount[risky_app]
    risky_cell = pair_cells(p)[risky]
    risky_value = p.value[risky]
    pool_best = np.zeros(len(pools))
    if useful.size:
        np.maximum.at(pool_best, pools.arc_pool[useful], arc_reduced[useful])
    flat_best = lp.amount * np.append(pool_best, 0.0)[pools.of_app]  # of_app -1: no pool, 0
    reduced = risky_value - risky_amount * cell_price[risky_cell]
    near = np.flatnonzero(reduced >= flat_best[risky_app] - NEAR_BAND * risky_value)
    lp.add_pairs(risky[near[top_per_owner(reduced[near], risky_app[near], INITIAL_PAIRS)]])
    tolerance = PRICING_TOLERANCE / lp.obj_scale
    risky_capacity = (p.capacity_minor.astype(np.float64), p.grade_limit_minor.astype(np.float64))

    def lagrangian(prices: Prices) -> tuple[float, np.ndarray, np.ndarray]:
        """(the Lagrangian bound at these prices, each application's best priced margin or 0, each
        pool's best priced margin per unit or 0): the dual the pricing is smoothed towards."""
        cell = prices.per_cell()
        arc = pools.arc_rate - cell[arc_cell]
        pool_value = np.zeros(len(pools))
        np.maximum.at(pool_value, pools.arc_pool, arc)
        best = lp.amount * np.append(pool_value, 0.0)[pools.of_app]
        np.maximum.at(best, risky_app, risky_value - risky_amount * cell[risky_cell])
        bound = (
            best.sum()
            + (prices.capacity * risky_capacity[0]).sum()
            + (prices.grade * risky_capacity[1]).sum()
        )
        return float(bound), best, pool_value

    center = start
    center_bound, center_dual, center_pool = lagrangian(center)
    exact = False
    for rounds in range(1, MAX_ROUNDS + 1):
        objective, value, pool_price, app_dual, lp_prices = lp.solve()
        cell_price = lp_prices.per_cell()
        arc_reduced = pools.arc_rate - cell_price[arc_cell] - pool_price[pools.arc_pool]
        arcs = np.flatnonzero((arc_reduced > tolerance / lp.unit) & (lp.arc_column < 0))
        reduced = risky_value - risky_amount * cell_price[risky_cell] - app_dual[risky_app]
        pricing = np.flatnonzero((reduced > tolerance) & (lp.pair_column[risky] < 0))
        if arcs.size == 0 and pricing.size == 0:
            exact = True
            break
        if rounds == MAX_ROUNDS:
            break
        master_bound, master_dual, master_pool = lagrangian(lp_prices)
        if master_bound < center_bound:
            center, center_bound, center_dual, center_pool = lp_prices, master_bound, master_dual, master_pool
        # Wentges smoothing: price at a point between the master's duals and the best-bound prices, so
        # that the first masters' poor duals do not pull in columns the optimum never uses
        a = SMOOTHING
        smooth = Prices(
            a * center.capacity + (1 - a) * lp_prices.capacity, a * center.grade + (1 - a) * lp_prices.grade
        )
        smooth_cell = smooth.per_cell()
        smooth_arc = (
            pools.arc_rate - smooth_cell[arc_cell] - (a * center_pool + (1 - a) * pool_price)[pools.arc_pool]
        )
        smooth_app = a * center_dual + (1 - a) * app_dual
        smooth_pair = risky_value - risky_amount * smooth_cell[risky_cell] - smooth_app[risky_app]
        chosen_arcs = arcs[smooth_arc[arcs] > tolerance / lp.unit]
        chosen = pricing[smooth_pair[pricing] > tolerance]
        if chosen_arcs.size + chosen.size == 0:  # a mispricing: the master's own columns then
            chosen_arcs, chosen = arcs, pricing
        lp.highs.setOptionValue("simplex_strategy", 4)  # the last basis stays primal feasible: primal simplex
        lp.add_arcs(
            chosen_arcs[top_per_owner(arc_reduced[chosen_arcs], pools.arc_pool[chosen_arcs], ADDED_ARCS)]
        )
        lp.add_pairs(risky[chosen[top_per_owner(reduced[chosen], risky_app[chosen], ADDED_PAIRS)]])
    columns, x = lp.pair_solution(value)
    stats = {
        "rounds": rounds,
        "pools": len(pools),
        "flat_partners": int(pools.flat_partner.sum()),
        "individuals": int((lp.app_row >= 0).sum()),
        "lp_columns": lp.n_columns,
        "lp_rows": lp.n_rows,
        "eligible_pairs": len(p.pairs),
        "lp_exact": exact,
    }
    return LPResult(objective, dual_bound(p, lp_prices), columns, x, lp_prices, stats)
