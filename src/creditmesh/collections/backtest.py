"""Back-testing collection strategies on the simulator: the same book, the same daily capacity, each arm
run day by day against borrowers who answer (:mod:`creditmesh.simulate.collections`).

An arm (:class:`creditmesh.collections.simulation.Arm`) is a way to plan a day. :func:`run_arm` runs one
on a world over a finished book and returns :class:`ArmResult`: principal recovered, cost, cost per
unit collected, the 30-day collection rate and Day-1 delinquency rate as the seeds define them, cure and
roll rates by bucket, and the promise-kept rate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from creditmesh.collections.simulation import Arm, queue_frame
from creditmesh.collections.strategy import Strategy
from creditmesh.collections.uplift import NO_CONTACT, UpliftModel
from creditmesh.delinquency import BUCKET_NAMES
from creditmesh.delinquency import bucket as bucket_of_dpd
from creditmesh.simulate.collections import CHANNELS, CollectionWorld

__all__ = ["Arm", "ArmResult", "compare_arms", "run_arm"]

#: How long after a day's actions the uplift model's outcome is read.
OUTCOME_DAYS = 30


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


def run_arm(
    world: CollectionWorld,
    arm: Arm,
    *,
    start_day: int,
    days: int,
    progress: Callable[[str], None] | None = None,
) -> ArmResult:
    """Run ``arm`` on ``world`` for ``days`` days from ``start_day`` (the world begins there with a clean book
    unless it has already run up to that day, see :func:`warm_up`); the world is changed in place."""
    if world.today < start_day:
        world.begin(start_day)
    L = world.loans
    first_action = world.actions.size
    recovered_before = int(L["recovered_principal"].sum())
    agency_before = int(L["agency_collected"].sum())
    kept_before, broken_before = int(L["kept"].sum()), int(L["broken"].sum())
    reminders_before, reminder_cost_before = world.reminders_sent, world.reminder_cost_minor
    snapshots: list[np.ndarray] = []
    explored: list[pd.DataFrame] = []
    paid_by_day: dict[int, np.ndarray] = {}
    for offset in range(days):
        day = start_day + offset
        if progress and offset % 30 == 0:
            progress(f"{arm.name}: day {offset}/{days}")
        if offset % 30 == 0:
            snapshots.append(world.dpd(day) + np.where(world.charged_off, 10_000, 0))
        queue = queue_frame(world.queue(day))
        rows, channels = arm.plan_frame(queue, world.date(day), day)
        if len(rows):
            codes = np.array([CHANNELS.index(c) for c in channels], np.int64)
            costs = np.array([arm.prices.get(c, 0) for c in channels], np.int64)
            world.act(day, rows["loan"].to_numpy(), codes, costs, arm=arm.name)
        if arm.kind == "explore":
            chosen = dict(zip(rows["loan"], channels, strict=True))
            taken = queue["loan"].map(chosen).fillna(NO_CONTACT).to_numpy(dtype=object)
            explored.append(queue.assign(action=taken, day=day))
            paid_by_day[day] = L["paid_principal"].copy()  # before the day's payments
        world.advance(day, remind=arm.reminder_days > 0, reminder_cost_minor=arm.reminder_cost_minor)
    log = world.actions
    channel = log["channel"][first_action:]
    actions = {name: int((channel == k).sum()) for k, name in enumerate(CHANNELS)}
    actions["reminder"] += world.reminders_sent - reminders_before
    cost = int(log["cost_minor"][first_action:].sum()) + world.reminder_cost_minor - reminder_cost_before
    cost += arm.commission * float(L["agency_collected"].sum() - agency_before)
    history = None
    if explored:
        history = _outcomes(pd.concat(explored, ignore_index=True), paid_by_day, start_day + days)
    return ArmResult(
        arm.name,
        days,
        int(L["recovered_principal"].sum()) - recovered_before,
        round(cost),
        actions,
        *_seed_rates(world, start_day, start_day + days),
        _roll_rates(snapshots),
        int(L["kept"].sum()) - kept_before,
        int(L["broken"].sum()) - broken_before,
        history,
    )


def _outcomes(rows: pd.DataFrame, paid_by_day: dict[int, np.ndarray], end: int) -> pd.DataFrame:
    """Each explored row's principal repaid in the :data:`OUTCOME_DAYS` after it (rows too late to tell dropped)."""
    rows = rows[rows["day"] + OUTCOME_DAYS < end].reset_index(drop=True)
    day, loan = rows["day"].to_numpy(), rows["loan"].to_numpy()
    before = np.array([paid_by_day[d][n] for d, n in zip(day, loan, strict=True)], np.int64)
    after = np.array([paid_by_day[d + OUTCOME_DAYS][n] for d, n in zip(day, loan, strict=True)], np.int64)
    return rows.assign(recovered_minor=np.minimum(after - before, rows["at_stake_minor"].to_numpy()))


def _seed_rates(world: CollectionWorld, first: int, end: int) -> tuple[float, float]:
    """The seeds' 30-day collection rate and Day-1 delinquency rate over installments due from ``first`` to
    30 days before ``end``: principal overdue the day after its due date, and of it, repaid within a month."""
    due_day, paid_on, principal = world.rows["due_day"], world.rows["paid_on"], world.rows["principal"]
    due = (due_day >= first) & (due_day < end - 30)
    overdue = due & (paid_on > due_day)
    collected = overdue & (paid_on <= due_day.astype(np.int64) + 30)
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


def world_from_simulation(result, seed: int, response=None) -> CollectionWorld:
    """A collections world over a simulated book (:func:`creditmesh.simulate.simulate`'s result): its loans'
    schedules and its borrowers' true risk; its day 0 is the simulation's first day."""
    from creditmesh.simulate.collections import Response, world_from_book

    loans = result.tables["loans"].to_pandas()
    installments = result.tables["installments"].to_pandas()
    truth = result.truth["borrowers"].to_pandas()
    start = np.datetime64(result.config.start, "D")
    loan_index = pd.Index(loans["loan_id"])
    borrower_index = pd.Index(truth["borrower_id"])

    def days(values: pd.Series) -> np.ndarray:
        return (values.to_numpy().astype("datetime64[D]") - start).astype(np.int64)

    return world_from_book(
        seed,
        {
            "loan": np.arange(len(loans)),
            "borrower": borrower_index.get_indexer(loans["borrower_id"]),
            "day": days(loans["originated_at"].dt.tz_localize(None)),
        },
        {
            "loan": loan_index.get_indexer(installments["loan_id"]),
            "due_day": days(pd.to_datetime(installments["due_date"])),
            "principal_due": installments["principal_due_minor"].to_numpy(np.int64),
        },
        truth["true_pd"].to_numpy(np.float64),
        truth["is_fraud"].to_numpy(bool),
        response or Response(),
        epoch=result.config.start,
    )


def warm_up(world: CollectionWorld, until: int, collector: Arm | None = None) -> CollectionWorld:
    """Run the world from its first day to ``until`` under ``collector`` (default: reminders alone with the
    shipped strategy), so that arms start from a book with its delinquencies and charge-offs, the same for
    every arm (the luck is hashed)."""
    if collector is None:
        from creditmesh.collections.strategy import default_strategy_path, load_strategy

        collector = Arm("warm_up", "reminders", load_strategy(default_strategy_path()))
    for day in range(world.today, until):
        world.step(day, collector)
    return world


#: Capacities of the exploration runs the shipped uplift model learned from: more than a day's plan,
#: so that every action is seen often enough.
EXPLORE_CAPACITY = {"call": 50, "field_visit": 10, "agency": 20, "legal": 5}


def simulated_book(borrowers: int, seed: int, *, months: int = 24):
    """A freshly simulated platform (``borrowers``, ``months``, ``seed``) whose loans a world runs over."""
    from creditmesh.simulate import SimulationConfig, simulate

    return simulate(SimulationConfig(borrowers=borrowers, months=months, seed=seed))


def train_uplift_on_simulation(
    strategy: Strategy, *, borrowers: int, seed: int, start_day: int = 365, days: int = 182
) -> UpliftModel:
    """Explore at random on a simulated book (within :data:`EXPLORE_CAPACITY`) and fit the uplift model to it."""
    world = warm_up(world_from_simulation(simulated_book(borrowers, seed), seed=seed), start_day)
    explore = Arm("explore", "explore", strategy, capacity=EXPLORE_CAPACITY, seed=seed)
    explored = run_arm(world, explore, start_day=start_day, days=days)
    return fit_uplift(explored.history)


def compare_arms(
    arms: list[Arm], *, borrowers: int, seed: int, start_day: int = 365, days: int = 182
) -> list[ArmResult]:
    """Each arm on its own copy of one simulated book (the same borrowers, the same luck)."""
    result = simulated_book(borrowers, seed)
    return [
        run_arm(
            warm_up(world_from_simulation(result, seed=seed), start_day), arm, start_day=start_day, days=days
        )
        for arm in arms
    ]
