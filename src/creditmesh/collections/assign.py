"""A day's actions assigned to channels and agents within their daily capacity (HiGHS, as in matching).

Each loan in the queue gets at most one action a day. Which actions a loan may get is the
strategy's segment for it, less what the contact rules forbid today: a borrower already contacted
``max_contacts_per_day`` times, a disputed loan (``stop_on_dispute``), a second contact of one
borrower on one day (the plan contacts a borrower through one loan at most: the one with the most
at stake), an agency placement of a loan an agency holds already. Every contact is scheduled in
the borrower's local working hours, outside the quiet hours.

``mode: optimise`` maximises the expected principal recovered over no contact, less the action's
cost (and an agency's commission), with the uplift model's figures:

    max Σ v_ia x_ia   s.t.   Σ_a x_ia ≤ 1 (each loan),   Σ_i x_ia ≤ C_a (each channel with a capacity)

Channels without a capacity are each loan's outside option ``u_i`` (its best uncapacitated
action, or nothing); only the gain over it, ``v_ia − u_i``, competes for capacity, and only each
capacitated channel's best ``Σ C`` loans by that gain can be in an optimal plan (any other could
swap with an idle one of them), so the LP stays small for a million loans. The constraint matrix
is an interval (transportation) matrix, so the basic optimum HiGHS returns is whole. The dual
price of a channel's capacity row is what one more action of it is worth today; times the actions
one agent takes a day, what one more agent is worth.

``mode: fixed`` takes each segment's actions in their listed order, segments in file order and the
oldest debt first within a segment, until each channel's capacity is spent (no model needed).
:func:`dpd_order_plan` is the industry's baseline: call the oldest debt first, a message to the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from creditmesh.collections.strategy import CONTACT_CHANNELS, ContactRules, Strategy
from creditmesh.errors import ParameterError

PLAN_COLUMNS = (
    "loan_id",
    "borrower_id",
    "channel",
    "bucket",
    "dpd",
    "at_stake_minor",
    "expected_recovered_minor",
    "uplift_minor",
    "cost_minor",
    "scheduled_at",
)


@dataclass(frozen=True)
class ChannelUse:
    """One channel's day: actions planned, its capacity (-1: unlimited), and what more of it is worth."""

    channel: str
    planned: int
    capacity: int
    price_per_action_minor: float
    price_per_agent_minor: float | None


@dataclass(frozen=True)
class Assignment:
    """The day's plan (one row an action, :data:`PLAN_COLUMNS`) and the channels' use and dual prices."""

    plan: pd.DataFrame
    channels: tuple[ChannelUse, ...]
    objective_minor: float  # expected recovery over no contact, less cost, of the plan
    method: str
    seconds: float
    #: What a unit of the budget was worth today over its face value (λ: each action's value was its uplift less
    #: its cost less λ times its price); 0 without a binding budget.
    budget_price: float = 0.0

    def summary(self) -> dict:
        return {
            "method": self.method,
            "actions": int(len(self.plan)),
            "objective_minor": round(self.objective_minor),
            "cost_minor": int(self.plan["cost_minor"].sum()) if len(self.plan) else 0,
            "channels": [c.__dict__ for c in self.channels],
        }


def in_quiet_hours(local_hour: np.ndarray | int, rules: ContactRules) -> np.ndarray:
    """Whether a local hour falls in the quiet hours (which may wrap past midnight)."""
    start, end = rules.quiet_hours.start, rules.quiet_hours.end
    hour = np.asarray(local_hour)
    if start == end:
        return np.zeros(hour.shape, bool)
    return (hour >= start) & (hour < end) if start < end else (hour >= start) | (hour < end)


def local_hour(at_utc: pd.Series | np.ndarray, rules: ContactRules) -> np.ndarray:
    """The borrower's local hour at each UTC time."""
    local = pd.to_datetime(np.asarray(at_utc)) + pd.Timedelta(minutes=rules.utc_offset_minutes)
    return np.asarray(local.hour)


def permitted(queue: pd.DataFrame, strategy: Strategy) -> np.ndarray:
    """(loans, channels) booleans: what the contact rules permit today, whatever the segment."""
    rules = strategy.rules
    channels = strategy.channels
    ok = np.broadcast_to(
        (queue["at_stake_minor"].to_numpy() > 0)[:, None], (len(queue), len(channels))
    ).copy()
    if rules.stop_on_dispute:
        ok &= ~queue["disputed"].to_numpy(bool)[:, None]
    contact = np.isin(np.array(channels), CONTACT_CHANNELS)
    may_contact = (queue["contacts_today"].to_numpy() < rules.max_contacts_per_day) & _first_of_borrower(
        queue
    )
    ok[:, contact] &= may_contact[:, None]
    if "reminder" in channels:
        ok[:, channels.index("reminder")] &= queue["bucket"].to_numpy() == "pre_due"
    if "agency" in channels:
        ok[:, channels.index("agency")] &= ~queue["with_agency"].to_numpy(bool)
    return ok


def segments(queue: pd.DataFrame, strategy: Strategy) -> np.ndarray:
    """Each loan's segment index in the strategy (-1: none), by bucket, balance and score."""
    score = queue["score"].to_numpy() if "score" in queue else np.zeros(len(queue))
    return strategy.segment_of(queue["bucket"].to_numpy(), queue["balance_minor"].to_numpy(), score)


def eligible(queue: pd.DataFrame, strategy: Strategy) -> np.ndarray:
    """(loans, channels) booleans: what the loan's segment allows and the contact rules permit today."""
    return strategy.allowed(segments(queue, strategy)) & permitted(queue, strategy)


def _first_of_borrower(queue: pd.DataFrame) -> np.ndarray:
    """True for the one loan of each borrower that may be contacted today (the most at stake, then queue order)."""
    borrower, _ = pd.factorize(queue["borrower_id"])
    rows = np.arange(len(queue))
    order = np.lexsort((rows, -queue["at_stake_minor"].to_numpy(), borrower))
    first = np.ones(order.size, bool)
    first[1:] = borrower[order][1:] != borrower[order][:-1]
    keep = np.zeros(len(queue), bool)
    keep[order[first]] = True
    return keep


def action_values(
    queue: pd.DataFrame, expected: pd.DataFrame | None, strategy: Strategy
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(loans, channels): expected principal recovered with each action, its uplift over no contact, and
    its cost (the action's price, plus an agency's commission on what it is expected to collect).
    Without the model's figures (``expected`` None) recoveries are unknown (zero) and cost is the price."""
    channels = strategy.channels
    shape = (len(queue), len(channels))
    if expected is None:
        zero = np.zeros(shape)
        return zero, zero, np.broadcast_to(strategy.cost_minor[None, :].astype(np.float64), shape)
    recovered = np.column_stack([expected[c].to_numpy(np.float64) for c in channels])
    uplift = recovered - expected["none"].to_numpy(np.float64)[:, None]
    commission = np.array([strategy.document.actions[c].commission_pct / 100 for c in channels])
    cost = strategy.cost_minor[None, :] + recovered * commission[None, :]
    return recovered, uplift, cost


def _capacities(strategy: Strategy, capacity: dict[str, int] | None) -> np.ndarray:
    caps = strategy.capacity.copy()
    for channel, value in (capacity or {}).items():
        if channel not in strategy.channels:
            raise ParameterError("capacity", f"{channel!r} is not an action of strategy {strategy.name!r}")
        if not isinstance(value, (int, np.integer)) or value < -1:
            raise ParameterError(
                f"capacity.{channel}", f"must be a whole number of actions (-1: unlimited), got {value!r}"
            )
        caps[strategy.channels.index(channel)] = int(value)
    return caps


def assign_day(
    queue: pd.DataFrame,
    strategy: Strategy,
    expected: pd.DataFrame | None = None,
    *,
    as_of: date,
    capacity: dict[str, int] | None = None,
    budget_minor: int | None = None,
    budget_price: float = 0.0,
) -> Assignment:
    """The day's plan under ``strategy`` (its mode decides how), with ``expected`` recoveries per arm
    (:meth:`UpliftModel.expected_recovered`; needed by ``mode: optimise``) and capacities overriding the
    strategy's (``{"call": 500}``; -1 for unlimited). ``budget_minor`` caps what an optimised plan spends today,
    the actions' prices (an agency's commission is paid later, out of what it collects). Each action's value
    is its uplift less its cost less λ times its price, λ >= ``budget_price`` (what a unit of the budget is
    worth, for a budget paced over many days, see :class:`creditmesh.collections.simulation.Arm`), raised by
    bisection until the plan fits; what the plan at that λ leaves of the budget goes to the best actions
    that still fit (:func:`_fill`)."""
    started = time.perf_counter()
    caps = _capacities(strategy, capacity)
    if budget_minor is not None and (not isinstance(budget_minor, (int, np.integer)) or budget_minor < 0):
        raise ParameterError(
            "budget_minor", f"must be a whole number of minor units >= 0, got {budget_minor!r}"
        )
    if not (isinstance(budget_price, (int, float, np.floating)) and 0 <= budget_price < 1e6):
        raise ParameterError("budget_price", f"must be a number from 0 to 1e6, got {budget_price!r}")
    if expected is None and strategy.document.mode == "optimise":
        raise ParameterError(
            "expected", "an optimising strategy needs the uplift model's expected recoveries"
        )
    ok = eligible(queue, strategy)
    recovered, uplift, cost = action_values(queue, expected, strategy)
    lam = float(budget_price) if budget_minor is not None else 0.0
    if strategy.document.mode == "optimise":
        price = np.broadcast_to(strategy.cost_minor[None, :].astype(np.float64), cost.shape)
        choice, prices = _optimise(uplift - cost - lam * price, ok, caps)
        if budget_minor is not None and _plan_cost(choice, price) > budget_minor:
            choice, prices, lam = _within_budget(uplift - cost, price, ok, caps, budget_minor, lam)
        method = "optimise"
    else:
        choice = _fixed(queue, strategy, segments(queue, strategy), ok, caps)
        prices = np.zeros(len(strategy.channels))
        method = "fixed"
    return _assignment(
        queue, strategy, choice, recovered, uplift, cost, caps, prices, as_of, method, started, lam
    )


def dpd_order_plan(
    queue: pd.DataFrame,
    strategy: Strategy,
    expected: pd.DataFrame | None = None,
    *,
    as_of: date,
    capacity: dict[str, int] | None = None,
) -> Assignment:
    """The baseline: calls to the oldest debts first up to the call capacity, an SMS to every other
    delinquent loan, a reminder before the due date; the contact rules hold as for any strategy."""
    started = time.perf_counter()
    caps = _capacities(strategy, capacity)
    channels = strategy.channels
    bucket = queue["bucket"].to_numpy()
    rules_ok = permitted(queue, strategy)
    choice = np.full(len(queue), -1, np.int64)
    order = np.lexsort((queue["loan_id"].to_numpy(), -queue["dpd"].to_numpy()))
    delinquent = bucket != "pre_due"
    if "call" in channels:
        c = channels.index("call")
        candidates = order[(rules_ok[order, c]) & delinquent[order]]
        if caps[c] >= 0:
            candidates = candidates[: caps[c]]
        choice[candidates] = c
    if "sms" in channels:
        s = channels.index("sms")
        rest = (choice < 0) & delinquent & rules_ok[:, s]
        choice[rest] = s
    if "reminder" in channels:
        r = channels.index("reminder")
        choice[(choice < 0) & ~delinquent & rules_ok[:, r]] = r
    recovered, uplift, cost = action_values(queue, expected, strategy)
    zero = np.zeros(len(channels))
    return _assignment(
        queue, strategy, choice, recovered, uplift, cost, caps, zero, as_of, "dpd_order", started
    )


def _optimise(value: np.ndarray, ok: np.ndarray, caps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each loan's channel (-1: none) maximising the plan's value, and each channel's capacity price."""
    loans, channels = value.shape
    value = np.where(ok & (value > 0), value, 0.0)
    capped = caps >= 0
    free = np.flatnonzero(~capped)
    outside = np.zeros(loans)
    outside_choice = np.full(loans, -1, np.int64)
    if free.size:
        best = value[:, free].argmax(axis=1)
        outside = value[np.arange(loans), free[best]]
        outside_choice = np.where(outside > 0, free[best], -1)
    choice = outside_choice.copy()
    prices = np.zeros(channels)
    capped_idx = np.flatnonzero(capped)
    if capped_idx.size == 0:
        return choice, prices
    # every loan's own best action fits every capacity: no capacity binds, that is the optimum (prices 0)
    best = value.argmax(axis=1)
    best = np.where(value[np.arange(loans), best] > 0, best, -1)
    wanted = np.bincount(best[best >= 0], minlength=channels)
    if (wanted[capped_idx] <= caps[capped_idx]).all():
        return best, prices
    gain = value[:, capped_idx] - outside[:, None]
    gain = np.where(value[:, capped_idx] > 0, gain, 0.0)
    keep_total = int(caps[capped_idx].sum())
    pair_loan, pair_channel, pair_gain = [], [], []
    for k, c in enumerate(capped_idx):
        column = gain[:, k]
        positive = np.flatnonzero(column > 0)
        if positive.size == 0 or caps[c] == 0:
            continue
        if positive.size > keep_total:
            positive = positive[np.argpartition(-column[positive], keep_total - 1)[:keep_total]]
        pair_loan.append(positive)
        pair_channel.append(np.full(positive.size, k))
        pair_gain.append(column[positive])
    if not pair_loan:
        return choice, prices
    loan = np.concatenate(pair_loan)
    chan = np.concatenate(pair_channel)
    gains = np.concatenate(pair_gain)
    x, duals = _solve_lp(loan, chan, gains, caps[capped_idx])
    taken = x > 0.5
    choice[loan[taken]] = capped_idx[chan[taken]]
    prices[capped_idx] = duals
    return choice, prices


#: Bisection steps on the cost's price when a budget binds (a limit on everything).
BUDGET_STEPS = 20


def _plan_cost(choice: np.ndarray, cost: np.ndarray) -> float:
    rows = np.flatnonzero(choice >= 0)
    return float(cost[rows, choice[rows]].sum())


def _within_budget(
    value: np.ndarray, price: np.ndarray, ok: np.ndarray, caps: np.ndarray, budget: int, low: float = 0.0
) -> tuple[np.ndarray, np.ndarray, float]:
    """The best plan found whose prices fit ``budget``: each action's value less λ times its price, λ above
    ``low`` by bisection; the plan, the channels' prices and λ."""
    high = max(2.0 * low, 1.0)
    while _plan_cost(_optimise(value - high * price, ok, caps)[0], price) > budget and high < 1e6:
        low, high = high, high * 4
    best = _optimise(value - high * price, ok, caps)
    for _ in range(BUDGET_STEPS):
        middle = (low + high) / 2
        trial = _optimise(value - middle * price, ok, caps)
        if _plan_cost(trial[0], price) <= budget:
            high, best = middle, trial
        else:
            low = middle
    return _fill(best[0], value, price, ok, caps, budget), best[1], high


def _fill(
    choice: np.ndarray, value: np.ndarray, price: np.ndarray, ok: np.ndarray, caps: np.ndarray, budget: int
) -> np.ndarray:
    """What the price left of the budget, spent: actions are lumpy (one agency placement or legal step may
    cost more than a day's calls), so the plan at the price that fits can leave much unspent; the loans
    without an action get the best of what still fits, by value per unit of cost, within capacity."""
    left = budget - _plan_cost(choice, price)
    loan, channel = np.nonzero(ok & (value > 0) & (choice < 0)[:, None] & (price <= left))
    if loan.size == 0:
        return choice
    choice = choice.copy()
    room = np.where(
        caps >= 0, caps - np.bincount(choice[choice >= 0], minlength=caps.size), np.iinfo(np.int64).max
    )
    cost = price[loan, channel]
    for k in np.argsort(-value[loan, channel] / np.maximum(cost, 1e-9), kind="stable"):
        i, c = loan[k], channel[k]
        if choice[i] < 0 and room[c] > 0 and cost[k] <= left:
            choice[i], room[c], left = c, room[c] - 1, left - cost[k]
    return choice


def _solve_lp(
    loan: np.ndarray, chan: np.ndarray, gain: np.ndarray, caps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """max gain·x, each loan at most once, each channel within its capacity: x and the capacity rows' duals."""
    import highspy

    from creditmesh.matching.lp import new_highs

    pairs = loan.size
    channel_rows = caps.size
    loans, loan_row = np.unique(loan, return_inverse=True)
    multi = np.bincount(loan_row) > 1
    row_of_loan = np.full(loans.size, -1, np.int64)
    row_of_loan[multi] = channel_rows + np.arange(multi.sum())
    rows = channel_rows + int(multi.sum())
    second = row_of_loan[loan_row]
    count = 1 + (second >= 0)
    start = np.concatenate([[0], np.cumsum(count)]).astype(np.int32)
    index = np.empty(int(count.sum()), np.int32)
    index[start[:-1]] = chan
    index[start[:-1][second >= 0] + 1] = second[second >= 0]
    scale = max(float(np.abs(gain).max()), 1.0)
    lp = highspy.HighsLp()
    lp.num_col_ = pairs
    lp.num_row_ = rows
    lp.col_cost_ = gain / scale
    lp.col_lower_ = np.zeros(pairs)
    lp.col_upper_ = np.ones(pairs)
    lp.row_lower_ = np.full(rows, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate([caps.astype(np.float64), np.ones(rows - channel_rows)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = np.ones(index.size)
    lp.sense_ = highspy.ObjSense.kMaximize
    h = new_highs()
    h.passModel(lp)
    h.run()
    solution = h.getSolution()
    x = np.asarray(solution.col_value)
    duals = np.abs(np.asarray(solution.row_dual)[:channel_rows]) * scale
    return x, duals


def _fixed(
    queue: pd.DataFrame, strategy: Strategy, segment: np.ndarray, ok: np.ndarray, caps: np.ndarray
) -> np.ndarray:
    """The playbook: each segment's actions in their order, segments in file order, oldest debt first."""
    choice = np.full(len(queue), -1, np.int64)
    left = caps.astype(np.int64).copy()
    order = np.lexsort((queue["loan_id"].to_numpy(), -queue["dpd"].to_numpy(), segment))
    order = order[segment[order] >= 0]
    ranked = [[strategy.channels.index(a) for a in s.actions] for s in strategy.document.segments]
    for rank in range(max(len(r) for r in ranked)):
        wanted = np.array([r[rank] if rank < len(r) else -1 for r in ranked] + [-1])[segment[order]]
        for c in range(len(strategy.channels)):
            candidates = order[(wanted == c) & (choice[order] < 0) & ok[order, c]]
            if left[c] >= 0:
                candidates = candidates[: left[c]]
                left[c] -= candidates.size
            choice[candidates] = c
    return choice


def _schedule(as_of: date, channel: np.ndarray, rules: ContactRules) -> np.ndarray:
    """UTC times spreading each channel's actions over the borrower's local working day (quiet hours excluded)."""
    start_hour, end_hour = rules.quiet_hours.end, rules.quiet_hours.start  # the working day runs between them
    window = ((end_hour - start_hour) % 24 or 24) * 60
    minutes = np.zeros(channel.size, np.int64)
    for c in np.unique(channel):
        pick = np.flatnonzero(channel == c)
        minutes[pick] = (np.arange(pick.size) * window) // max(pick.size, 1)
    local_midnight = datetime(as_of.year, as_of.month, as_of.day)
    base = np.datetime64(local_midnight - timedelta(minutes=rules.utc_offset_minutes), "m")
    return base + np.timedelta64(start_hour * 60, "m") + minutes.astype("timedelta64[m]")


def _assignment(
    queue, strategy, choice, recovered, uplift, cost, caps, prices, as_of, method, started, lam=0.0
) -> Assignment:
    rows = np.flatnonzero(choice >= 0)
    c = choice[rows]
    channels = np.array(strategy.channels, dtype=object)
    plan = pd.DataFrame(
        {
            "loan_id": queue["loan_id"].to_numpy()[rows],
            "borrower_id": queue["borrower_id"].to_numpy()[rows],
            "channel": channels[c],
            "bucket": queue["bucket"].to_numpy()[rows],
            "dpd": queue["dpd"].to_numpy()[rows],
            "at_stake_minor": queue["at_stake_minor"].to_numpy()[rows],
            "expected_recovered_minor": np.round(recovered[rows, c]).astype(np.int64),
            "uplift_minor": np.round(uplift[rows, c]).astype(np.int64),
            "cost_minor": np.round(cost[rows, c]).astype(np.int64),
        }
    )
    plan["scheduled_at"] = _schedule(as_of, c, strategy.rules)
    used = np.bincount(c, minlength=len(channels))
    uses = tuple(
        ChannelUse(
            str(name),
            int(used[k]),
            int(caps[k]),
            float(prices[k]),
            None
            if strategy.per_agent(str(name)) is None
            else float(prices[k]) * strategy.per_agent(str(name)),
        )
        for k, name in enumerate(channels)
    )
    objective = float((uplift[rows, c] - cost[rows, c]).sum())
    return Assignment(plan, uses, objective, method, time.perf_counter() - started, lam)
