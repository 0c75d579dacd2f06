"""Collections in the simulator: a way to plan each day (an *arm*) that the simulated platform and the
back-test call as their :class:`~creditmesh.simulate.collections.Collector`.

An arm is a strategy (optimised with the uplift model, or fixed), the industry's baseline (call the oldest
debt first), the reminders alone, nothing at all, or random exploration (what the uplift model learns
from). Every arm but ``none`` sends the strategy's reminders before the due date, so the same loans fall
delinquent whatever the arm; the arms differ in how they collect.
"""

from __future__ import annotations

from dataclasses import dataclass
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
_CHANNEL_CODE = {name: code for code, name in enumerate(CHANNELS)}


@dataclass(frozen=True)
class Arm:
    """A way to plan a day: ``kind`` is one of :data:`ARM_KINDS`; ``capacity`` overrides the strategy's
    daily capacity by channel, ``budget_minor`` caps a day's cost (an optimised strategy only)."""

    name: str
    kind: str
    strategy: Strategy | None = None
    model: UpliftModel | None = None
    capacity: dict[str, int] | None = None
    budget_minor: int | None = None
    seed: int = 0  # an exploring arm's luck

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
        else:
            plan = assign_day(
                queue,
                self.strategy,
                expected,
                as_of=on,
                capacity=self.capacity,
                budget_minor=self.budget_minor,
            )
        position = pd.Index(queue["loan_id"]).get_indexer(plan.plan["loan_id"])
        return queue.iloc[position].reset_index(drop=True), plan.plan["channel"].to_numpy()

    def _explore(self, queue: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        """Random actions among those the rules and segments allow, none half the time, within capacity."""
        strategy = self.strategy
        ok = eligible(queue, strategy)
        channels = np.array(strategy.channels, dtype=object)
        noise = rng.random(ok.shape) * ok
        pick = noise.argmax(axis=1)
        act = ok.any(axis=1) & (rng.random(len(queue)) < 0.5)
        caps = strategy.capacity.copy()
        for name, value in (self.capacity or {}).items():
            caps[strategy.channels.index(name)] = value
        for c, cap in enumerate(caps):
            rows = np.flatnonzero(act & (pick == c))
            if cap >= 0 and rows.size > cap:
                act[rng.choice(rows, rows.size - cap, replace=False)] = False
        return queue[act].reset_index(drop=True), channels[pick[act]]


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
