"""The ABS waterfall: every unit collected is paid to a fee, a tranche or the excess spread; a small deal by hand."""

from __future__ import annotations

import numpy as np
import pytest

from creditmesh.errors import ParameterError
from creditmesh.finance.deal import KINDS, Deal, Tranche, blended_funding_cost, run_waterfall
from creditmesh.finance.pool import PoolCashFlows


def half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def spreadsheet(deal_rows, months, opening, fee_rate_ppm, trigger_limit):
    """The deal worked row by row, as on a spreadsheet: one scenario, plain integers."""
    senior, mezz, sub = (t["balance"] for t in deal_rows)
    owed = [0, 0, 0]
    pool_open = opening
    cumulative = 0
    accelerated = False
    rows = []
    for interest, scheduled, prepaid, defaulted, recovered in months:
        cumulative += defaulted
        accelerated = accelerated or cumulative > trigger_limit
        cash = interest + scheduled + prepaid + recovered
        distribution = scheduled + prepaid + defaulted
        balances = [senior, mezz, sub]
        for k, t in enumerate(deal_rows):
            owed[k] += half_up(balances[k] * t["coupon_ppm"], 12 * 1_000_000)
        fee = min(cash, half_up(pool_open * fee_rate_ppm, 12 * 1_000_000))
        cash -= fee
        paid_interest = [0, 0, 0]
        paid_principal = [0, 0, 0]
        order = (
            [("i", 0), ("t", 0), ("i", 1), ("t", 1), ("t", 2)]
            if accelerated
            else [("i", 0), ("i", 1), ("p", 0), ("p", 1), ("p", 2)]
        )
        for action, k in order:
            if action == "i":
                pay = min(cash, owed[k])
                owed[k] -= pay
                paid_interest[k] += pay
            else:
                cap = balances[k] if action == "t" else min(balances[k], distribution)
                pay = min(cash, cap)
                distribution = max(distribution - pay, 0)
                balances[k] -= pay
                paid_principal[k] += pay
            cash -= pay
        senior, mezz, sub = balances
        pool_open -= scheduled + prepaid + defaulted
        rows.append((fee, paid_interest, paid_principal, cash, list(balances), accelerated))
    return rows


MONTHS = {
    "calm": [
        (9_000, 300_000, 50_000, 10_000, 0),
        (6_000, 250_000, 40_000, 10_000, 0),
        (3_500, 200_000, 20_000, 5_000, 1_000),
        (1_000, 100_000, 0, 5_000, 1_000),
    ],
    "stressed": [
        (9_000, 250_000, 10_000, 60_000, 0),
        (6_000, 200_000, 10_000, 60_000, 0),
        (3_000, 150_000, 5_000, 40_000, 6_000),
        (1_000, 100_000, 0, 20_000, 6_000),
    ],
}


def _flows(names):
    arrays = np.array([MONTHS[n] for n in names], dtype=np.int64)  # scenarios x months x 5
    return PoolCashFlows(1_000_000, *(arrays[:, :, k] for k in range(5)))


def test_a_small_deal_worked_by_hand_equals_the_engine():
    deal = Deal(
        (
            Tranche("senior", 800_000, 0.06),
            Tranche("mezzanine", 120_000, 0.12),
            Tranche("subordinated", 80_000, 0.0),
        ),
        servicing_fee_rate=0.012,
        trigger_cumulative_default_rate=0.1,
    )
    names = ["calm", "stressed"]
    result = run_waterfall(deal, _flows(names))
    assert result.problems() == []
    rows = [{"balance": t.balance_minor, "coupon_ppm": int(round(t.coupon * 1e6))} for t in deal.tranches]
    for s, name in enumerate(names):
        expected = spreadsheet(rows, MONTHS[name], 1_000_000, 12_000, 100_000)
        for t, (fee, interest, principal, excess, balances, accelerated) in enumerate(expected):
            assert result.fees[s, t] == fee
            assert [result.interest[k][s, t] for k in KINDS] == interest
            assert [result.principal[k][s, t] for k in KINDS] == principal
            assert result.excess_spread[s, t] == excess
            assert [result.balance[k][s, t] for k in KINDS] == balances
            assert (0 < result.triggered_month[s] <= t + 1) == accelerated
    assert result.triggered_month.tolist() == [-1, 2]  # 120,000 of defaults by month 2 passes 10 %
    # by hand, month 1 of the calm pool: fee 1,000,000 x 1.2 % / 12 = 1,000; senior interest 4,000; mezz 1,200
    assert result.fees[0, 0] == 1_000 and result.interest["senior"][0, 0] == 4_000
    assert result.interest["mezzanine"][0, 0] == 1_200
    # the principal distribution amount is 300,000 + 50,000 + 10,000 defaulted = 360,000; the cash left after
    # fee and interest, 359,000 - 1,000 - 4,000 - 1,200 = 352,800, goes to the senior notes, nothing to excess
    assert result.principal["senior"][0, 0] == 352_800 and result.excess_spread[0, 0] == 0
    table = result.tranche_table()
    assert list(table["tranche"]) == list(KINDS)
    assert table.loc[0, "expected_loss"] <= table.loc[1, "expected_loss"] <= table.loc[2, "expected_loss"]


def test_tranche_cash_flows_sum_to_pool_cash_flows_in_every_scenario():
    rng = np.random.default_rng(3)
    shape = (40, 24)
    interest = rng.integers(0, 20_000, shape)
    scheduled = rng.integers(0, 60_000, shape)
    prepaid = rng.integers(0, 20_000, shape)
    defaulted = rng.integers(0, 15_000, shape)
    recovered = rng.integers(0, 3_000, shape)
    flows = PoolCashFlows(2_000_000, interest, scheduled, prepaid, defaulted, recovered)
    result = run_waterfall(Deal.sized(2_000_000, trigger_cumulative_default_rate=0.1), flows)
    assert result.problems() == []
    assert (result.paid().sum(axis=1) == flows.collections.sum(axis=1)).all()
    assert (result.triggered_month > 0).any() and (result.triggered_month < 0).any()


def test_deals_are_sized_without_losing_a_unit_and_their_funding_cost_is_weighted():
    deal = Deal.sized(1_000_003, shares=(80, 12, 8), coupons=(0.03, 0.05, 0.0))
    assert sum(t.balance_minor for t in deal.tranches) == 1_000_003
    senior, mezz = deal.tranches[0].balance_minor, deal.tranches[1].balance_minor
    assert deal.weighted_average_coupon() == pytest.approx((senior * 0.03 + mezz * 0.05) / (senior + mezz))
    assert blended_funding_cost({"abs": (600, 0.031), "trusts": (400, 0.05)}) == pytest.approx(0.0386)
    with pytest.raises(ParameterError, match="shares"):
        Deal.sized(100, shares=(50, 40, 5))
    with pytest.raises(ParameterError, match="tranches"):
        Deal((Tranche("senior", 1, 0.01),))
