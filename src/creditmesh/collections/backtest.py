"""Back-testing collection strategies on the simulator: the same book, the same daily capacity, each arm
run day by day against borrowers who answer (:mod:`creditmesh.simulate.collections`).

An arm (:class:`creditmesh.collections.simulation.Arm`) is a way to plan a day. :func:`run_arm` runs one
on a world over a finished book and returns :class:`ArmResult`: principal recovered (repaid while late or
after charge-off), principal collected (every repayment, late or not: the figure to compare arms by, since an
arm that keeps loans current leaves less to recover), cost, cost per unit recovered, the 30-day collection rate and Day-1 delinquency rate as the seeds define them, cure and
roll rates by bucket, and the promise-kept rate.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from creditmesh.collections.assign import eligible
from creditmesh.collections.simulation import Arm, queue_frame
from creditmesh.collections.strategy import Strategy
from creditmesh.collections.uplift import NO_CONTACT, UpliftModel, outcome_days
from creditmesh.delinquency import BUCKET_NAMES
from creditmesh.delinquency import bucket as bucket_of_dpd
from creditmesh.errors import ParameterError
from creditmesh.simulate.collections import CHANNELS, CollectionWorld

__all__ = ["Arm", "ArmResult", "compare_arms", "run_arm"]


@dataclass
class ArmResult:
    """What an arm did and what came of it over the days run."""

    name: str
    days: int
    recovered_minor: int  # principal repaid while the loan was late or after its charge-off
    collected_minor: int  # every principal repayment over the days run, on time or late
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
            "collected_minor": self.collected_minor,
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
    collected_before = int(L["paid_principal"].sum())
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
            # whether any action was open to the loan today: only such rows are the exploration's controls
            could = eligible(queue, arm.strategy).any(axis=1)
            explored.append(queue.assign(action=taken, day=day, eligible=could, control=arm.held_out(queue)))
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
        int(L["paid_principal"].sum()) - collected_before,
        round(cost),
        actions,
        *_seed_rates(world, start_day, start_day + days),
        _roll_rates(snapshots),
        int(L["kept"].sum()) - kept_before,
        int(L["broken"].sum()) - broken_before,
        history,
    )


def _outcomes(rows: pd.DataFrame, paid_by_day: dict[int, np.ndarray], end: int) -> pd.DataFrame:
    """Each explored row's principal repaid over its bucket's outcome horizon after it
    (:func:`~creditmesh.collections.uplift.outcome_days`; rows too late to tell dropped)."""
    horizon = outcome_days(rows["bucket"].to_numpy())
    keep = rows["day"].to_numpy() + horizon < end
    rows, horizon = rows[keep].reset_index(drop=True), horizon[keep]
    day, loan = rows["day"].to_numpy(), rows["loan"].to_numpy()
    before = np.array([paid_by_day[d][n] for d, n in zip(day, loan, strict=True)], np.int64)
    after = np.array([paid_by_day[d + h][n] for d, h, n in zip(day, horizon, loan, strict=True)], np.int64)
    return rows.assign(recovered_minor=np.minimum(after - before, rows["at_stake_minor"].to_numpy()))


def _seed_rates(world: CollectionWorld, first: int, end: int) -> tuple[float, float]:
    """The seeds' 30-day collection rate and Day-1 delinquency rate over installments due from ``first`` to
    30 days before ``end``, read as :func:`creditmesh.portfolio.metrics.day1_delinquency_rate` and
    :func:`~creditmesh.portfolio.metrics.collection_rate_30d` read the platform's book: installments falling
    due on loans current when the due date began (no earlier installment still unpaid then, so a loan in
    arrears or charged off does not "become overdue" again every month), not paid before their due date;
    the principal overdue the day after, and of it, what was repaid in full within 30 days."""
    due_day, paid_on, principal = world.rows["due_day"], world.rows["paid_on"], world.rows["principal"]
    loan = world.rows["loan"]
    rows = np.flatnonzero((due_day >= first) & (due_day < end - 30))
    # installments are paid in order, so the one before is the last earlier one to be settled
    earlier = rows - 1
    has_earlier = rows > world.loans["first"][loan[rows]]
    blocked = has_earlier & (paid_on[np.maximum(earlier, 0)] >= due_day[rows])
    rows = rows[~blocked & (paid_on[rows] >= due_day[rows])]
    overdue = paid_on[rows] > due_day[rows]
    collected = overdue & (paid_on[rows] <= due_day[rows].astype(np.int64) + 30)
    overdue_minor = int(principal[rows][overdue].sum())
    return float(principal[rows][collected].sum() / max(overdue_minor, 1)), float(
        overdue_minor / max(int(principal[rows].sum()), 1)
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
    """The uplift model from an exploration arm's record, on the rows the exploration could have acted on
    (``eligible``): a loan no action was open to (a borrower's second loan, the plan contacting a borrower
    through one loan; a disputed loan) is not a control of the loans that were contacted but another
    population, mostly defaulters' other loans that never pay, and with it in the no-contact arm every
    contact showed an uplift it did not have (seed 21's exploration, 30-day share repaid, 1-30 dpd: 0.69
    with or without contact among the eligible, 0.07 for the loans no action was open to). The no-contact
    rows are the held-out borrowers' (``control``, :data:`~creditmesh.collections.simulation.EXPLORE_HOLDOUT`),
    left alone throughout, and the actions' rows the others'."""
    if "eligible" in history:
        history = history[history["eligible"].to_numpy(bool)].reset_index(drop=True)
    if "control" in history:  # no contact: the held-out borrowers' loans; an action: the others'
        control = history["control"].to_numpy(bool)
        keep = control == (history["action"].to_numpy(dtype=object) == NO_CONTACT)
        history = history[keep].reset_index(drop=True)
    return UpliftModel().fit(history, history["action"].to_numpy(), history["recovered_minor"].to_numpy())


def world_from_simulation(result, seed: int | None = None, response=None) -> CollectionWorld:
    """The simulated platform's own servicing world over its book (:func:`creditmesh.simulate.simulate`'s
    result): the same loans and schedules, early settlements, funding models, borrowers' defaults and luck
    (the platform's seed), so that run from day 0 under the collector the platform had it repays exactly as
    the platform's book shows; its day 0 is the simulation's first day. ``seed`` other than the platform's
    gives the same book other luck."""
    from creditmesh.funding import FUNDING_MODELS
    from creditmesh.simulate.collections import NOT_YET, Response

    if result.servicing is None:
        raise ParameterError("result", "a simulation result without its servicing state cannot be replayed")
    loans = result.tables["loans"]
    installments = result.tables["installments"]
    truth = result.truth["borrowers"]
    start = np.datetime64(result.config.start, "D")
    loan_index = pd.Index(loans["loan_id"].to_numpy(zero_copy_only=False))
    borrower_index = pd.Index(truth["borrower_id"].to_numpy(zero_copy_only=False))
    loan = loan_index.get_indexer(installments["loan_id"].to_numpy(zero_copy_only=False))
    due = (installments["due_date"].to_numpy(zero_copy_only=False).astype("datetime64[D]") - start).astype(
        np.int64
    )
    order = np.lexsort((due, loan))
    count = np.bincount(loan, minlength=len(loan_index))
    models = pd.Index(FUNDING_MODELS).get_indexer(loans["funding_model"].to_numpy(zero_copy_only=False))
    world = CollectionWorld(
        result.config.seed if seed is None else seed,
        np.minimum(result.servicing["default_day"], NOT_YET),
        truth["true_pd"].to_numpy(),
        truth["is_fraud"].to_numpy(zero_copy_only=False),
        response or Response(),
        epoch=result.config.start,
        funding_models=FUNDING_MODELS,
    )
    world.add_loans(
        borrower_index.get_indexer(loans["borrower_id"].to_numpy(zero_copy_only=False)),
        count,
        due[order],
        installments["principal_due_minor"].to_numpy()[order],
        settle_day=np.minimum(result.servicing["settle_day"], NOT_YET),
        model=models,
    )
    return world


def warm_up(world: CollectionWorld, until: int, collector: Arm | None = None) -> CollectionWorld:
    """Run the world from its first day to ``until`` under ``collector`` (default: the shipped strategy, as
    the simulated platform collects by default), so that arms start from the platform's book as it stood
    that day, with its delinquencies, promises and charge-offs, the same for every arm."""
    from creditmesh.collections.simulation import shipped_collector

    collector = collector or shipped_collector()
    for day in range(world.today, until):
        world.step(day, collector)
    return world


#: Capacities of the exploration runs the shipped uplift model learned from: more than a day's plan,
#: so that every action is seen often enough.
EXPLORE_CAPACITY = {"call": 50, "field_visit": 10, "agency": 20, "legal": 5}


def simulated_book(borrowers: int, seed: int, *, months: int = 24):
    """A freshly simulated platform (``borrowers``, ``months``, ``seed``) collected by the shipped strategy,
    as ``creditmesh simulate`` runs it (on creditmesh's engines: the decision engine after a burn-in, the
    matcher's router; the world is calibrated on them, issue 14), whose servicing world the arms replay."""
    from creditmesh.collections.simulation import platform_engines, shipped_collector
    from creditmesh.simulate import SimulationConfig, simulate

    config = SimulationConfig(borrowers=borrowers, months=months, seed=seed)
    policy, funding = platform_engines(config, True)
    return simulate(config, policy=policy, funding=funding, collector=shipped_collector())


def book_at(result, start_day: int) -> CollectionWorld:
    """The platform's servicing world as it stood at the start of ``start_day`` (replayed under the shipped
    strategy), for arms to run from."""
    return warm_up(world_from_simulation(result), start_day)


def last_days(result, days: int) -> int:
    """The first day of the book's last ``days`` days (the period the platform's own figures are read over)."""
    horizon = int((np.datetime64(result.end_date, "D") - np.datetime64(result.config.start, "D")).astype(int))
    return horizon + 1 - days


def exploring(strategy: Strategy) -> Strategy:
    """The strategy to explore with: each segment may take every action the strategy takes anywhere in the
    segment's buckets, whatever its balance or score, so that the uplift model sees each action across the
    whole bucket (the champion's legal steps, only on charged-off balances of 10,000.00 or more, were
    tried 12 times in a year of exploration: too few to claim the uplift a legal step has, so no optimised
    plan took one)."""
    document = strategy.document
    segments = []
    for segment in document.segments:
        wider = list(segment.actions)
        for other in document.segments:
            if set(other.buckets) & set(segment.buckets):
                wider += [a for a in other.actions if a not in wider]
        segments.append(segment.model_copy(update={"actions": tuple(wider)}))
    return Strategy(document.model_copy(update={"segments": tuple(segments)}))


def train_uplift_on_simulation(
    strategy: Strategy, *, borrowers: int, seed: int, start_day: int | None = None, days: int = 365
) -> UpliftModel:
    """Explore at random (:func:`exploring` ``strategy``'s actions) on a simulated book (within
    :data:`EXPLORE_CAPACITY`) over its last ``days`` days
    (or from ``start_day``) and fit the uplift model to it. A year, so that the rows whose outcome is read
    over the long horizon (agencies, legal steps) span most of it too."""
    result = simulated_book(borrowers, seed)
    start = last_days(result, days) if start_day is None else start_day
    explore = Arm("explore", "explore", exploring(strategy), capacity=EXPLORE_CAPACITY, seed=seed)
    explored = run_arm(book_at(result, start), explore, start_day=start, days=days)
    return fit_uplift(explored.history)


def compare_arms(
    arms: list[Arm], *, borrowers: int, seed: int, start_day: int | None = None, days: int = 182
) -> list[ArmResult]:
    """Each arm on its own copy of one simulated platform's servicing world over the book's last ``days``
    days (or from ``start_day``): the same borrowers, the same book, the same luck."""
    result = simulated_book(borrowers, seed)
    start = last_days(result, days) if start_day is None else start_day
    world = book_at(result, start)
    return [run_arm(copy.deepcopy(world), arm, start_day=start, days=days) for arm in arms]
