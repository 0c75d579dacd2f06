"""Back-testing collection strategies on the simulator: the same book, the same daily capacity, each arm
run day by day against borrowers who answer (:mod:`creditmesh.simulate.collections`).

Every arm but ``none`` sends the same reminders before the due date, so the same loans fall
delinquent whatever the arm; an arm is a way to plan the rest of a day: a strategy (optimised with the uplift model, or fixed), the
industry's baseline (call the oldest debt first), nothing at all, or random exploration (what
the uplift model learns from). :func:`run_arm` returns the day-by-day record and
:class:`ArmResult` the metrics: principal recovered, cost, cost per unit collected, the 30-day
collection rate and Day-1 delinquency rate as the seeds define them, cure and roll rates by
bucket, and the promise-kept rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from creditmesh.collections.assign import Assignment, assign_day, dpd_order_plan, eligible
from creditmesh.collections.queue import QUEUE_COLUMNS, finish_queue
from creditmesh.collections.strategy import Strategy
from creditmesh.collections.uplift import NO_CONTACT, UpliftModel, score_queue
from creditmesh.delinquency import BUCKET_NAMES
from creditmesh.delinquency import bucket as bucket_of_dpd
from creditmesh.simulate.collections import CHANNELS, CollectionWorld

#: The day the simulated calendar starts, for the plans' dates and times (the world counts days from 0).
EPOCH = date(2024, 1, 1)
#: How long after a day's actions the uplift model's outcome is read.
OUTCOME_DAYS = 30


@dataclass(frozen=True)
class Arm:
    """A way to plan a day: ``kind`` is ``strategy``, ``dpd_order``, ``reminders`` (the reminders every arm
    sends, and nothing more), ``none`` (not even those) or ``explore``."""

    name: str
    kind: str
    strategy: Strategy | None = None
    model: UpliftModel | None = None
    capacity: dict[str, int] | None = None
    budget_minor: int | None = None  # a day's most cost (an optimised strategy only)


@dataclass
class ArmResult:
    """What an arm did and what came of it over the days run."""

    name: str
    days: int
    recovered_minor: int
    cost_minor: int
    actions: dict[str, int]
    collection_rate_30d: float
    day1_delinquency_rate: float
    roll_rates: pd.DataFrame  # from bucket (rows) to bucket 30 days later (columns), shares
    promises_kept: int
    promises_broken: int
    history: pd.DataFrame | None = field(default=None, repr=False)  # explore: queue rows, action, outcome

    @property
    def cost_per_unit_collected(self) -> float:
        return self.cost_minor / max(self.recovered_minor, 1)

    @property
    def promise_kept_rate(self) -> float:
        return self.promises_kept / max(self.promises_kept + self.promises_broken, 1)

    def cure_rate(self, bucket: str) -> float:
        """Share of the loans in ``bucket`` that are current 30 days later."""
        return (
            float(self.roll_rates.loc[bucket, "current"]) if bucket in self.roll_rates.index else float("nan")
        )

    def summary(self) -> dict:
        return {
            "arm": self.name,
            "recovered_minor": self.recovered_minor,
            "cost_minor": self.cost_minor,
            "cost_per_unit_collected": round(self.cost_per_unit_collected, 5),
            "collection_rate_30d": round(self.collection_rate_30d, 4),
            "day1_delinquency_rate": round(self.day1_delinquency_rate, 4),
            "cure_rate_31_60": round(self.cure_rate("dpd_31_60"), 4),
            "cure_rate_1_30": round(self.cure_rate("dpd_1_30"), 4),
            "promise_kept_rate": round(self.promise_kept_rate, 4),
            "actions": self.actions,
        }


def world_queue(world: CollectionWorld, day: int, reminder_days: int = 3) -> pd.DataFrame:
    """The world's queue as :func:`creditmesh.collections.queue.build_queue` gives it (plus ``loan``)."""
    columns = world.queue(day, reminder_days)
    frame = finish_queue(pd.DataFrame({c: columns[c] for c in QUEUE_COLUMNS}))
    frame["loan"] = columns["loan"]
    return frame


def _plan(
    arm: Arm, queue: pd.DataFrame, day: date, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """The day's actions (queue rows and channel names) under ``arm``."""
    if arm.kind in ("none", "reminders") or queue.empty:
        return queue.iloc[:0], np.zeros(0, dtype=object)
    expected = None
    if arm.model is not None:
        queue = score_queue(queue, arm.model)
        expected = arm.model.expected_recovered(queue)
    if arm.kind == "explore":
        return _explore(arm, queue, rng)
    plan: Assignment
    if arm.kind == "dpd_order":
        plan = dpd_order_plan(queue, arm.strategy, expected, as_of=day, capacity=arm.capacity)
    else:
        plan = assign_day(
            queue, arm.strategy, expected, as_of=day, capacity=arm.capacity, budget_minor=arm.budget_minor
        )
    rows = queue.set_index("loan_id").loc[plan.plan["loan_id"]]
    return rows.reset_index(), plan.plan["channel"].to_numpy()


def _explore(arm: Arm, queue: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Random actions among those the rules and segments allow, none half the time, within capacity."""
    strategy = arm.strategy
    ok = eligible(queue, strategy)
    channels = np.array(strategy.channels, dtype=object)
    noise = rng.random(ok.shape) * ok
    pick = noise.argmax(axis=1)
    act = ok.any(axis=1) & (rng.random(len(queue)) < 0.5)
    caps = strategy.capacity.copy()
    for name, value in (arm.capacity or {}).items():
        caps[strategy.channels.index(name)] = value
    for c, cap in enumerate(caps):
        rows = np.flatnonzero(act & (pick == c))
        if cap >= 0 and rows.size > cap:
            act[rng.choice(rows, rows.size - cap, replace=False)] = False
    return queue[act].reset_index(drop=True), channels[pick[act]]


def run_arm(
    world: CollectionWorld,
    arm: Arm,
    *,
    start_day: int,
    days: int,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> ArmResult:
    """Run ``arm`` on ``world`` for ``days`` days from ``start_day``; the world is changed in place."""
    rng = np.random.default_rng(seed)
    world.begin(start_day)
    channel_index = {name: k for k, name in enumerate(CHANNELS)}
    actions = dict.fromkeys(CHANNELS, 0)
    cost = 0.0
    recovered_before = world.recovered_principal.sum()
    agency_before = world.agency_collected.sum()
    kept_before, broken_before = world.kept.sum(), world.broken.sum()
    snapshots: list[np.ndarray] = []
    explored: list[pd.DataFrame] = []
    paid_by_day: dict[int, np.ndarray] = {}
    strategy = arm.strategy
    reminder_days = strategy.rules.reminder_days_before_due if strategy else 3
    prices = {c: strategy.document.actions[c].cost_minor for c in strategy.channels} if strategy else {}
    for offset in range(days):
        day = start_day + offset
        if offset % 30 == 0:
            snapshots.append(world.dpd(day) + np.where(world.charged_off, 10_000, 0))
        queue = world_queue(world, day, reminder_days)
        if arm.kind != "none":  # the same reminders in every arm: the arms differ only in how they collect
            due_soon = queue[queue["bucket"] == "pre_due"]
            world.act(day, due_soon["loan"].to_numpy(), np.full(len(due_soon), channel_index["reminder"]))
            actions["reminder"] += len(due_soon)
            cost += prices.get("reminder", 0) * len(due_soon)
            queue = queue[queue["bucket"] != "pre_due"].reset_index(drop=True)
        rows, channels = _plan(arm, queue, EPOCH + timedelta(days=day), rng)
        if len(rows):
            world.act(day, rows["loan"].to_numpy(), np.array([channel_index[c] for c in channels]))
            for name, count in zip(*np.unique(channels, return_counts=True), strict=True):
                actions[name] += int(count)
                cost += prices.get(name, 0) * int(count)
        if arm.kind == "explore":
            chosen = dict(zip(rows["loan"], channels, strict=True))
            taken = queue["loan"].map(chosen).fillna(NO_CONTACT).to_numpy(dtype=object)
            explored.append(queue.assign(action=taken, day=day))
            paid_by_day[day] = world.paid_principal.copy()  # before the day's payments
        world.advance(day)
    commission = (
        strategy.document.actions["agency"].commission_pct / 100
        if strategy and "agency" in strategy.document.actions
        else 0.0
    )
    cost += commission * float(world.agency_collected.sum() - agency_before)
    history = None
    if explored:
        history = _outcomes(pd.concat(explored, ignore_index=True), paid_by_day, world, start_day + days)
    return ArmResult(
        arm.name,
        days,
        int(world.recovered_principal.sum() - recovered_before),
        round(cost),
        actions,
        *_seed_rates(world, start_day, start_day + days),
        _roll_rates(snapshots),
        int(world.kept.sum() - kept_before),
        int(world.broken.sum() - broken_before),
        history,
    )


def _outcomes(
    rows: pd.DataFrame, paid_by_day: dict[int, np.ndarray], world: CollectionWorld, end: int
) -> pd.DataFrame:
    """Each explored row's principal repaid in the :data:`OUTCOME_DAYS` after it (rows too late to tell dropped)."""
    rows = rows[rows["day"] + OUTCOME_DAYS < end].reset_index(drop=True)
    before = np.array([paid_by_day[d][loan] for d, loan in zip(rows["day"], rows["loan"], strict=True)])
    after = np.array(
        [paid_by_day[d + OUTCOME_DAYS][loan] for d, loan in zip(rows["day"], rows["loan"], strict=True)]
    )
    return rows.assign(recovered_minor=np.minimum(after - before, rows["at_stake_minor"].to_numpy()))


def _seed_rates(world: CollectionWorld, first: int, end: int) -> tuple[float, float]:
    """The seeds' 30-day collection rate and Day-1 delinquency rate over installments due from ``first`` to
    30 days before ``end``: principal overdue the day after its due date, and of it, repaid within a month."""
    due = (world.due_day >= first) & (world.due_day < end - 30)
    overdue = due & (world.paid_on > world.due_day)
    collected = overdue & (world.paid_on <= world.due_day + 30)
    principal = world.principal
    overdue_minor = principal[overdue].sum()
    return float(principal[collected].sum() / max(overdue_minor, 1)), float(
        overdue_minor / max(principal[due].sum(), 1)
    )


def _roll_rates(snapshots: list[np.ndarray]) -> pd.DataFrame:
    """Bucket to bucket 30 days later, over every pair of consecutive snapshots (shares by row)."""
    states = list(BUCKET_NAMES)
    counts = pd.DataFrame(0, index=states, columns=states, dtype=np.int64)
    for before, after in zip(snapshots[:-1], snapshots[1:], strict=False):
        b = np.where(before >= 10_000, "charged_off", bucket_of_dpd(np.minimum(before, 9_999)))
        a = np.where(after >= 10_000, "charged_off", bucket_of_dpd(np.minimum(after, 9_999)))
        table = pd.crosstab(pd.Series(b, name="from"), pd.Series(a, name="to"))
        counts = counts.add(table.reindex(index=states, columns=states, fill_value=0), fill_value=0)
    return counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)


def fit_uplift(history: pd.DataFrame) -> UpliftModel:
    """The uplift model from an exploration arm's record."""
    return UpliftModel().fit(history, history["action"].to_numpy(), history["recovered_minor"].to_numpy())


def world_from_simulation(result, seed: int, response=None) -> tuple[CollectionWorld, date]:
    """A collections world over a simulated book (:func:`creditmesh.simulate.simulate`'s result): its loans'
    schedules and its borrowers' true risk; returns the world and the date its day 0 stands for."""
    from creditmesh.simulate.collections import Response, world_from_book

    loans = result.tables["loans"].to_pandas()
    installments = result.tables["installments"].to_pandas()
    truth = result.truth["borrowers"].to_pandas()
    start = result.config.start
    loan_index = pd.Index(loans["loan_id"])
    borrower_index = pd.Index(truth["borrower_id"])
    due = pd.to_datetime(installments["due_date"]).dt.date
    world = world_from_book(
        seed,
        {"loan": np.arange(len(loans)), "borrower": borrower_index.get_indexer(loans["borrower_id"])},
        {
            "loan": loan_index.get_indexer(installments["loan_id"]),
            "due_day": np.array([(d - start).days for d in due], np.int32),
            "principal_due": installments["principal_due_minor"].to_numpy(np.int64),
        },
        truth["true_pd"].to_numpy(np.float64),
        truth["is_fraud"].to_numpy(bool),
        response or Response(),
    )
    return world, start


#: Capacities of the exploration runs the shipped uplift model learned from: more than a day's plan,
#: so that every action is seen often enough.
EXPLORE_CAPACITY = {"call": 50, "field_visit": 10, "agency": 20, "legal": 5}


def simulated_world(borrowers: int, seed: int, *, months: int = 24):
    """A collections world over a freshly simulated book (``borrowers``, ``months``, ``seed``)."""
    from creditmesh.simulate import SimulationConfig, simulate

    result = simulate(SimulationConfig(borrowers=borrowers, months=months, seed=seed))
    world, _ = world_from_simulation(result, seed=seed)
    return world


def train_uplift_on_simulation(
    strategy: Strategy, *, borrowers: int, seed: int, start_day: int = 365, days: int = 182
) -> UpliftModel:
    """Explore at random on a simulated book (within :data:`EXPLORE_CAPACITY`) and fit the uplift model to it."""
    world = simulated_world(borrowers, seed)
    explored = run_arm(
        world, Arm("explore", "explore", strategy, capacity=EXPLORE_CAPACITY), start_day=start_day, days=days
    )
    return fit_uplift(explored.history)


def compare_arms(
    arms: list[Arm], *, borrowers: int, seed: int, start_day: int = 365, days: int = 182
) -> list[ArmResult]:
    """Each arm on its own copy of one simulated book (the same borrowers, the same luck)."""
    from creditmesh.simulate import SimulationConfig, simulate

    result = simulate(SimulationConfig(borrowers=borrowers, months=24, seed=seed))
    out = []
    for arm in arms:
        world, _ = world_from_simulation(result, seed=seed)
        out.append(run_arm(world, arm, start_day=start_day, days=days, seed=seed))
    return out
