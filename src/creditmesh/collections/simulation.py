"""Collections in the simulator: a way to plan each day (an *arm*) that the simulated platform and the
back-test call as their :class:`~creditmesh.simulate.collections.Collector`.

An arm is a strategy (optimised with the uplift model, or fixed), the industry's baseline (call the oldest
debt first), the reminders alone, nothing at all, or random exploration (what the uplift model learns
from). Every arm but ``none`` sends the strategy's reminders before the due date, so the same loans fall
delinquent whatever the arm; the arms differ in how they collect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from creditmesh.collections.assign import Assignment, assign_day, dpd_order_plan, eligible
from creditmesh.collections.queue import QUEUE_COLUMNS, finish_queue
from creditmesh.collections.strategy import (
    Strategy,
    default_strategy_path,
    default_uplift_path,
    load_strategy,
)
from creditmesh.collections.uplift import UpliftModel, load_uplift, score_queue
from creditmesh.simulate.collections import CHANNELS

ARM_KINDS = ("strategy", "dpd_order", "reminders", "none", "explore")
#: Share of borrowers an exploring arm leaves alone throughout: the uplift model's controls. A loan the
#: exploration acts on at random on other days is no control for today's action: it would be acted on within
#: days, so a day's action (an agency placement above all) showed almost no effect over the outcome horizon.
EXPLORE_HOLDOUT = 0.5
#: How far a day's over- or under-spending (as a share of its allowance) moves the budget's price.
PACING_STEP = 0.1
_CHANNEL_CODE = {name: code for code, name in enumerate(CHANNELS)}


@dataclass(frozen=True)
class Arm:
    """A way to plan a day: ``kind`` is one of :data:`ARM_KINDS`; ``capacity`` overrides the strategy's
    daily capacity by channel.

    ``budget_minor`` (an optimised strategy only) is a day's allowance for the actions' prices (as
    :func:`~creditmesh.collections.assign.assign_day` counts it), paced over the days run: what a day
    leaves unspent carries over, so a quiet day saves for an action that costs more than one day's
    allowance (a legal step), and each action must be worth its cost and λ times its price, λ the money's
    price, raised when the days spend more than their allowance and lowered when they spend less (a dual
    price, by subgradient steps of :data:`PACING_STEP`); a day whose account cannot pay for all it is worth
    raises its own price until the plan fits. A day before the last one planned starts the account over
    (a new run)."""

    name: str
    kind: str
    strategy: Strategy | None = None
    model: UpliftModel | None = None
    capacity: dict[str, int] | None = None
    budget_minor: int | None = None
    seed: int = 0  # an exploring arm's luck
    _pacing: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ARM_KINDS:
            raise ValueError(f"kind: expected one of {ARM_KINDS}, got {self.kind!r}")
        if self.kind != "none" and self.strategy is None:
            raise ValueError(f"{self.name}: an arm of kind {self.kind!r} needs a strategy")

    @property
    def arm(self) -> str:
        return self.name

    @property
    def reminder_days(self) -> int:
        """Days before a due date the strategy's reminders go out (0: this arm sends none)."""
        if self.kind == "none" or "reminder" not in self.strategy.channels:
            return 0
        return self.strategy.rules.reminder_days_before_due

    @property
    def reminder_cost_minor(self) -> int:
        return self.prices.get("reminder", 0)

    @property
    def prices(self) -> dict[str, int]:
        if self.strategy is None:
            return {}
        return {c: self.strategy.document.actions[c].cost_minor for c in self.strategy.channels}

    @property
    def commission(self) -> float:
        """The agency's share of what it collects."""
        actions = self.strategy.document.actions if self.strategy else {}
        return actions["agency"].commission_pct / 100 if "agency" in actions else 0.0

    def plan(
        self, day: int, on: date, queue: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The day's actions on a world's queue: loan numbers, channel codes and costs."""
        rows, channels = self.plan_frame(queue_frame(queue), on, day)
        codes = np.array([_CHANNEL_CODE[c] for c in channels], np.int64)
        prices = self.prices
        costs = np.array([prices.get(c, 0) for c in channels], np.int64)
        return rows["loan"].to_numpy(np.int64), codes, costs

    def plan_frame(self, queue: pd.DataFrame, on: date, day: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
        """The day's actions (queue rows and channel names) under this arm."""
        if self.kind in ("none", "reminders") or queue.empty:
            return queue.iloc[:0], np.zeros(0, dtype=object)
        expected = None
        if self.model is not None:
            expected = self.model.expected_recovered(queue)
            queue = score_queue(queue, self.model, expected)
        if self.kind == "explore":
            return self._explore(queue, np.random.default_rng([self.seed, day]))
        plan: Assignment
        if self.kind == "dpd_order":
            plan = dpd_order_plan(queue, self.strategy, expected, as_of=on, capacity=self.capacity)
        elif self.budget_minor is None:
            plan = assign_day(queue, self.strategy, expected, as_of=on, capacity=self.capacity)
        else:
            plan = self._paced(queue, expected, on, day)
        position = pd.Index(queue["loan_id"]).get_indexer(plan.plan["loan_id"])
        return queue.iloc[position].reset_index(drop=True), plan.plan["channel"].to_numpy()

    def _paced(self, queue: pd.DataFrame, expected: pd.DataFrame | None, on: date, day: int) -> Assignment:
        """The day's plan within the budget's account (see the class): the allowance plus what earlier days
        left, at the money's current price; the account and the price updated with what the plan costs."""
        account = self._pacing
        if day <= account.get("day", day - 1):
            account.clear()
        allowance = self.budget_minor
        bank = account.get("bank", 0) + allowance
        plan = assign_day(
            queue,
            self.strategy,
            expected,
            as_of=on,
            capacity=self.capacity,
            budget_minor=int(bank),
            budget_price=account.get("price", 0.0),
        )
        prices = self.prices
        spent = sum(prices.get(c, 0) for c in plan.plan["channel"])
        # the price moves with the days' spending against their allowance, not with one day's scarcity (a
        # day short of money for a dear action bisects its own, higher price; the account's stays)
        price = account.get("price", 0.0) + PACING_STEP * (spent - allowance) / max(allowance, 1)
        account.update(day=day, bank=bank - spent, price=min(max(price, 0.0), 1e5))
        return plan

    def held_out(self, queue: pd.DataFrame) -> np.ndarray:
        """The loans an exploring arm never acts on: those of :data:`EXPLORE_HOLDOUT` of the borrowers (by a
        hash of the borrower and the arm's seed), the uplift model's controls."""
        return held_out(queue["borrower_id"].to_numpy(dtype=object), self.seed)

    def _explore(self, queue: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        """Random actions among those the rules and segments allow, none half the time, within capacity; the
        held-out borrowers' loans (:meth:`held_out`) never."""
        strategy = self.strategy
        ok = eligible(queue, strategy)
        channels = np.array(strategy.channels, dtype=object)
        noise = rng.random(ok.shape) * ok
        pick = noise.argmax(axis=1)
        act = ok.any(axis=1) & (rng.random(len(queue)) < 0.5) & ~self.held_out(queue)
        caps = strategy.capacity.copy()
        for name, value in (self.capacity or {}).items():
            caps[strategy.channels.index(name)] = value
        for c, cap in enumerate(caps):
            rows = np.flatnonzero(act & (pick == c))
            if cap >= 0 and rows.size > cap:
                act[rng.choice(rows, rows.size - cap, replace=False)] = False
        return queue[act].reset_index(drop=True), channels[pick[act]]


def held_out(borrower_id: np.ndarray, seed: int) -> np.ndarray:
    """Whether each borrower is among the :data:`EXPLORE_HOLDOUT` an exploration with ``seed`` leaves alone."""
    keys = np.array([f"{seed}:{b}" for b in borrower_id], dtype=object)
    return pd.util.hash_array(keys) % 10_000 < EXPLORE_HOLDOUT * 10_000


def queue_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A world's queue as :func:`creditmesh.collections.queue.build_queue` gives it (plus ``loan``)."""
    return finish_queue({c: columns[c] for c in ("loan", *QUEUE_COLUMNS)})


def shipped_collector(name: str = "champion") -> Arm:
    """The shipped strategy with the shipped uplift model, as the simulated platform's collections."""
    return Arm(
        name, "strategy", load_strategy(default_strategy_path()), model=load_uplift(default_uplift_path())
    )


def platform_engines(config, engines: bool):
    """The decision policy and the funding of a simulated platform: creditmesh's engines (the decision engine
    after a burn-in, the ICE matcher's router), or ``(None, None)``, the simulator's placeholders. Here, in
    the last box that sees the decision engine, the matcher and the collector, so that ``creditmesh
    simulate``, ``collections compare``, the back-test and the benchmark build the platform one way."""
    if not engines:
        return None, None
    from creditmesh.decision.simulator import engine_policy_after_burn_in
    from creditmesh.matching.simulation import MatcherAllocation

    return engine_policy_after_burn_in(config), MatcherAllocation
