"""An ABS deal over a pool: tranches, the priority of payments, triggers, and what each tranche earns and loses.

Modelled on absbox / Hastructure's deal (bonds, fees, a waterfall per deal status, triggers that switch
the status), run here in integer minor units over every scenario at once. Each month the pool's
collections are the available funds; the steps of the deal's current waterfall take from them in
order:

* ``("fee", name)``: the servicing fee, ``rate / 12`` of the pool's opening balance;
* ``("interest", tranche)``: the tranche's coupon on its balance, plus any interest unpaid before;
* ``("principal", tranche)``: principal up to the month's *principal distribution amount* (the fall in
  the pool's performing balance, defaults included: interest left over covers the losses, which is what
  excess spread is for), sequentially;
* ``("turbo", tranche)``: every unit left, until the tranche is repaid;
* the rest is **excess spread**, released to the subordinated tranche.

The deal is ``normal`` until a trigger (the cumulative default rate of the pool passing
``trigger_cumulative_default_rate``) switches a scenario to ``accelerated`` for good. Every unit
collected goes to a fee, a tranche's interest or principal, or the excess spread: the tranches'
cash flows (with the fees) sum to the pool's, exactly (:meth:`WaterfallResult.problems`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from creditmesh.errors import ParameterError
from creditmesh.money import Rounding, allocate, mul_rate_array, rate_to_ppm

if TYPE_CHECKING:
    import pandas as pd

    from creditmesh.finance.pool import PoolCashFlows

#: The tranches' ranks, most senior first.
KINDS = ("senior", "mezzanine", "subordinated")
#: The priority of payments in each deal status: (action, tranche or fee).
WATERFALLS: Mapping[str, tuple[tuple[str, str], ...]] = MappingProxyType(
    {
        "normal": (
            ("fee", "servicing"),
            ("interest", "senior"),
            ("interest", "mezzanine"),
            ("principal", "senior"),
            ("principal", "mezzanine"),
            ("principal", "subordinated"),
        ),
        "accelerated": (
            ("fee", "servicing"),
            ("interest", "senior"),
            ("turbo", "senior"),
            ("interest", "mezzanine"),
            ("turbo", "mezzanine"),
            ("turbo", "subordinated"),
        ),
    }
)


@dataclass(frozen=True, slots=True)
class Tranche:
    """A class of notes: its rank, size and annual coupon (the subordinated tranche usually has none)."""

    kind: str
    balance_minor: int
    coupon: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ParameterError("kind", f"expected one of {list(KINDS)}, got {self.kind!r}")
        if self.balance_minor < 0:
            raise ParameterError(f"{self.kind}.balance_minor", "must not be negative")
        if not 0 <= self.coupon < 1:
            raise ParameterError(f"{self.kind}.coupon", f"must be in [0, 1), got {self.coupon}")


@dataclass(frozen=True, slots=True)
class Deal:
    """Tranches (one of each kind), the servicing fee and the trigger."""

    tranches: tuple[Tranche, ...]
    servicing_fee_rate: float = 0.005
    trigger_cumulative_default_rate: float = 0.08

    def __post_init__(self) -> None:
        if tuple(t.kind for t in self.tranches) != KINDS:
            raise ParameterError("tranches", f"one tranche of each kind, in the order {list(KINDS)}")

    @classmethod
    def sized(
        cls,
        pool_balance_minor: int,
        *,
        shares: tuple[int, int, int] = (80, 12, 8),
        coupons: tuple[float, float, float] = (0.028, 0.045, 0.0),
        **options,
    ) -> Deal:
        """Tranches cut from the pool balance in ``shares`` (percent, summing to 100) without losing a unit."""
        if sum(shares) != 100:
            raise ParameterError("shares", f"must sum to 100, got {sum(shares)}")
        sizes = allocate(pool_balance_minor, list(shares))
        return cls(tuple(Tranche(k, s, c) for k, s, c in zip(KINDS, sizes, coupons, strict=True)), **options)

    @property
    def notes_sold(self) -> tuple[Tranche, ...]:
        """The tranches sold to investors (the platform keeps the subordinated one)."""
        return self.tranches[:-1]

    def weighted_average_coupon(self) -> float:
        """The cost of the notes sold, weighted by their size: the ABS leg of the funding cost."""
        sold = self.notes_sold
        total = sum(t.balance_minor for t in sold)
        return sum(t.balance_minor * t.coupon for t in sold) / total if total else 0.0


@dataclass(frozen=True)
class WaterfallResult:
    """Every flow of the deal, scenarios x months, minor units."""

    deal: Deal
    pool: PoolCashFlows
    fees: np.ndarray
    interest: dict[str, np.ndarray]
    principal: dict[str, np.ndarray]
    excess_spread: np.ndarray
    #: The tranches' balances at the end of each month.
    balance: dict[str, np.ndarray]
    #: The month each scenario's trigger fired (-1: never).
    triggered_month: np.ndarray

    def paid(self) -> np.ndarray:
        """Everything the waterfall paid out, per scenario and month."""
        total = self.fees + self.excess_spread
        for kind in KINDS:
            total = total + self.interest[kind] + self.principal[kind]
        return total

    def problems(self) -> list[str]:
        """Months in which the payments differ from the collections, or a balance went negative."""
        found = []
        gap = self.paid() - self.pool.collections
        if gap.any():
            s, t = np.argwhere(gap)[0]
            found.append(f"scenario {s}, month {t + 1}: paid differs from collected by {gap[s, t]}")
        found += [f"{kind}: negative balance" for kind in KINDS if (self.balance[kind] < 0).any()]
        return found

    def tranche_table(self) -> pd.DataFrame:
        """Per tranche: size, coupon, expected principal loss, weighted average life and interest shortfall."""
        import pandas as pd

        months = np.arange(1, self.fees.shape[1] + 1)
        rows = []
        for tranche in self.deal.tranches:
            kind = tranche.kind
            paid = self.principal[kind]
            repaid = paid.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                wal = np.where(repaid > 0, (paid * months).sum(axis=1) / repaid / 12, np.nan)
            lost = self.balance[kind][:, -1]
            size = tranche.balance_minor
            rows.append(
                {
                    "tranche": kind,
                    "balance_minor": size,
                    "coupon": tranche.coupon,
                    "expected_loss": float(lost.mean() / size) if size else 0.0,
                    "worst_loss": float(lost.max() / size) if size else 0.0,
                    "wal_years": float(np.nanmean(wal)) if np.isfinite(wal).any() else float("nan"),
                    "interest_paid_minor": int(self.interest[kind].sum(axis=1).mean()),
                    "excess_spread_minor": int(self.excess_spread.sum(axis=1).mean())
                    if kind == KINDS[-1]
                    else 0,
                }
            )
        return pd.DataFrame(rows)


def run_waterfall(deal: Deal, flows: PoolCashFlows) -> WaterfallResult:
    """Pay the pool's collections through the deal's priority of payments, month by month, every scenario."""
    collections = flows.collections
    scenarios, months = collections.shape
    reduction = flows.principal_reduction
    fee_ppm = rate_to_ppm(deal.servicing_fee_rate)
    coupon_ppm = {t.kind: rate_to_ppm(t.coupon) for t in deal.tranches}
    balance = {t.kind: np.full(scenarios, t.balance_minor, dtype=np.int64) for t in deal.tranches}
    owed = {kind: np.zeros(scenarios, dtype=np.int64) for kind in KINDS}
    out_interest = {kind: np.zeros((scenarios, months), dtype=np.int64) for kind in KINDS}
    out_principal = {kind: np.zeros((scenarios, months), dtype=np.int64) for kind in KINDS}
    out_balance = {kind: np.zeros((scenarios, months), dtype=np.int64) for kind in KINDS}
    fees = np.zeros((scenarios, months), dtype=np.int64)
    excess = np.zeros((scenarios, months), dtype=np.int64)
    triggered_month = np.full(scenarios, -1)
    pool_open = np.full(scenarios, flows.opening_balance_minor, dtype=np.int64)
    cumulative_defaults = np.zeros(scenarios, dtype=np.int64)
    limit = deal.trigger_cumulative_default_rate * max(flows.opening_balance_minor, 1)
    for t in range(months):
        cumulative_defaults += flows.defaults[:, t]
        newly = (triggered_month < 0) & (cumulative_defaults > limit)
        triggered_month[newly] = t + 1
        accelerated = triggered_month >= 0
        for kind in KINDS:  # interest accrues on the opening balance, whichever waterfall pays it
            owed[kind] += mul_rate_array(balance[kind], coupon_ppm[kind], 12, rounding=Rounding.HALF_UP)
        fee_due = mul_rate_array(np.maximum(pool_open, 0), fee_ppm, 12, rounding=Rounding.HALF_UP)
        for status, steps in WATERFALLS.items():
            mask = accelerated if status == "accelerated" else ~accelerated
            available = np.where(mask, collections[:, t], 0)
            distribution = np.where(mask, reduction[:, t], 0)
            for action, target in steps:
                if action == "fee":
                    pay = np.minimum(available, np.where(mask, fee_due, 0))
                    fees[:, t] += pay
                elif action == "interest":
                    pay = np.minimum(available, np.where(mask, owed[target], 0))
                    owed[target] -= pay
                    out_interest[target][:, t] += pay
                else:
                    cap = balance[target] if action == "turbo" else np.minimum(balance[target], distribution)
                    pay = np.minimum(available, np.where(mask, cap, 0))
                    distribution = np.maximum(distribution - pay, 0)
                    balance[target] -= pay
                    out_principal[target][:, t] += pay
                available = available - pay
            excess[:, t] += available
        for kind in KINDS:
            out_balance[kind][:, t] = balance[kind]
        pool_open = pool_open - reduction[:, t]
    return WaterfallResult(
        deal, flows, fees, out_interest, out_principal, excess, out_balance, triggered_month
    )


def blended_funding_cost(mix: Mapping[str, tuple[int, float]]) -> float:
    """The funding cost of the on-balance book: each source's (amount in minor units, annual rate), weighted."""
    total = sum(amount for amount, _ in mix.values())
    if total <= 0:
        raise ParameterError("mix", "the funding sources must add up to a positive amount")
    return sum(amount * rate for amount, rate in mix.values()) / total
