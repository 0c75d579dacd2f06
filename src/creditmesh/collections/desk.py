"""The collections desk over a ledger database: each public method is one unit of work in one transaction."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import Engine

from creditmesh.collections.actions import (
    ActionRecord,
    arm_metrics,
    book_agency_fees,
    payments_with_actions,
    record_action,
    resolve_promises,
)
from creditmesh.collections.assign import Assignment, assign_day
from creditmesh.collections.queue import build_queue
from creditmesh.collections.strategy import Strategy
from creditmesh.collections.uplift import UpliftModel, score_queue


class CollectionsDesk:
    """Today's queue and plan, and the record of what was done, over the ledger's engine."""

    def __init__(self, engine: Engine, strategy: Strategy, model: UpliftModel | None = None) -> None:
        self.engine = engine
        self.strategy = strategy
        self.model = model

    def queue(self, as_of: date) -> pd.DataFrame:
        """The day's queue, scored by the uplift model when there is one."""
        with self.engine.begin() as conn:
            queue = build_queue(
                conn, as_of, reminder_days_before_due=self.strategy.rules.reminder_days_before_due
            )
        return score_queue(queue, self.model) if self.model is not None else queue

    def plan(self, as_of: date, *, capacity: dict[str, int] | None = None) -> Assignment:
        """The day's actions under the strategy, within capacity."""
        queue = self.queue(as_of)
        expected = self.model.expected_recovered(queue) if self.model is not None else None
        return assign_day(queue, self.strategy, expected, as_of=as_of, capacity=capacity)

    def record(self, action: ActionRecord) -> bool:
        """Record one action under the contact rules (False: the same action was recorded before)."""
        with self.engine.begin() as conn:
            return record_action(conn, action, self.strategy.rules)

    def promise(
        self,
        action_id: str,
        loan_id: str,
        *,
        at: datetime,
        amount_minor: int,
        due_on: date,
        channel: str = "call",
        agent_id: str | None = None,
    ) -> bool:
        """A promise to pay ``amount_minor`` by ``due_on``, made during a contact."""
        return self.record(
            ActionRecord(
                action_id,
                loan_id,
                at,
                channel,
                "promise_to_pay",
                promised_minor=amount_minor,
                promise_due_on=due_on,
                agent_id=agent_id,
                strategy_version=self.strategy.version,
            )
        )

    def resolve_promises(self, as_of: date) -> tuple[int, int]:
        """(kept, broken) promises settled by ``as_of``."""
        with self.engine.begin() as conn:
            return resolve_promises(conn, as_of)

    def book_agency_fees(self, on: date) -> int:
        """The agencies' commission on the day's payments, journalled once; the total in minor units."""
        terms = self.strategy.document.actions.get("agency")
        with self.engine.begin() as conn:
            return book_agency_fees(conn, on, terms.commission_pct if terms else 0.0)

    def payments_with_actions(self, since: date, until: date) -> pd.DataFrame:
        with self.engine.begin() as conn:
            rows = payments_with_actions(conn, since, until)
        columns = [
            "payment_id",
            "loan_id",
            "paid_on",
            "amount_minor",
            "principal_minor",
            "action_id",
            "channel",
        ]
        return pd.DataFrame.from_records(rows, columns=columns)

    def metrics(self, since: date, until: date) -> pd.DataFrame:
        """By strategy arm: actions, contacts, cost, promises made, kept and broken (with the promise-kept
        rate), principal collected by the payments each arm's actions came last before, and the cost per unit
        collected."""
        with self.engine.begin() as conn:
            rows = arm_metrics(conn, since, until)
        columns = [
            "arm",
            "actions",
            "contacts",
            "cost_minor",
            "promises",
            "kept",
            "broken",
            "principal_collected_minor",
        ]
        frame = pd.DataFrame.from_records(rows, columns=columns)
        settled = (frame["kept"] + frame["broken"]).replace(0, float("nan"))
        collected = frame["principal_collected_minor"].replace(0, float("nan"))
        return frame.assign(
            promise_kept_rate=frame["kept"] / settled, cost_per_unit_collected=frame["cost_minor"] / collected
        )
