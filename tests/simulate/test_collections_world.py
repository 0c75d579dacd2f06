"""The simulator's repayment world: borrowers answer actions, with diminishing returns, the same luck for the
same loan and day, and recoveries after charge-off."""

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from creditmesh.delinquency import CHARGE_OFF_DPD
from creditmesh.simulate.collections import CHANNELS, NOT_YET, CollectionWorld, Response

CALL, AGENCY, LEGAL = (CHANNELS.index(c) for c in ("call", "agency", "legal"))


def _world(
    n: int,
    *,
    seed: int = 1,
    fraud: bool = False,
    default_day: int = NOT_YET,
    response: Response | None = None,
    installments: int = 1,
) -> CollectionWorld:
    """``n`` borrowers with one loan each of ``installments`` installments of 1,000.00, the first due on day 10
    and then every 30 days; nine in ten are missed (the miss rate's cap) unless the response says otherwise."""
    world = CollectionWorld(
        seed,
        np.full(n, default_day),
        np.full(n, 0.05),
        np.full(n, fraud),
        response or Response(miss_rate=10.0),
    )
    due = np.tile(10 + 30 * np.arange(installments), n)
    world.add_loans(np.arange(n), np.full(n, installments), due, np.full(n * installments, 100_000))
    return world


def _run(world: CollectionWorld, days: int, act_every: int | None = None, channel: int = CALL) -> int:
    for day in range(days):
        if act_every and day > 10 and day % act_every == 0:
            queue = world.queue(day)
            world.act(day, queue["loan"], np.full(queue["loan"].size, channel))
        world.advance(day)
    return int(world.loans["recovered_principal"].sum())


def test_the_same_seed_and_actions_give_the_same_days():
    assert _run(_world(2_000, seed=3), 60, 2) == _run(_world(2_000, seed=3), 60, 2)
    assert _run(_world(2_000, seed=3), 60, 2) != _run(_world(2_000, seed=4), 60, 2)


def test_calls_collect_more_than_silence_and_most_transient_misses_are_paid_anyway():
    silent = _run(_world(5_000), 60)
    called = _run(_world(5_000), 60, act_every=2)
    # nine in ten installments are missed; of those, the anyway share pays within 28 days untouched
    assert 0.9 * Response().anyway_share * 5_000 * 100_000 < silent < called


def test_returns_diminish_with_every_contact_of_the_week():
    no_fatigue = Response(fatigue=0.0, anyway_share=0.0, miss_rate=10.0)
    tired = Response(fatigue=2.0, anyway_share=0.0, miss_rate=10.0)
    fresh = _run(_world(5_000, response=no_fatigue), 18, act_every=1)
    worn = _run(_world(5_000, response=tired), 18, act_every=1)
    assert worn < 0.8 * fresh


def test_a_defaulted_borrower_can_pay_only_as_their_ability_comes_back():
    fast = Response(default_persuadable_share=1.0, default_recovery_days=1.0, miss_rate=0.0)
    slow = Response(default_persuadable_share=1.0, default_recovery_days=200.0, miss_rate=0.0)
    quick = _run(_world(3_000, default_day=0, response=fast), 40, act_every=1)
    sluggish = _run(_world(3_000, default_day=0, response=slow), 40, act_every=1)
    assert sluggish < 0.5 * quick


def test_fraud_never_pays_and_is_charged_off_at_181_days_past_due():
    world = _world(300, fraud=True, default_day=0)
    assert _run(world, 10 + CHARGE_OFF_DPD, act_every=3) == 0
    assert (world.rows["paid_on"] == NOT_YET).all()
    assert world.charged_off.all() and (world.dpd(10 + CHARGE_OFF_DPD) == CHARGE_OFF_DPD).all()
    assert (world.loans["charged_off_day"] == 10 + CHARGE_OFF_DPD).all()


def test_a_promise_is_kept_or_broken_on_its_day():
    world = _world(
        3_000, response=Response(anyway_share=0.0, promise_share=1.0, call_reach=1.0, miss_rate=10.0)
    )
    _run(world, 60, act_every=5)
    kept, broken = world.loans["kept"], world.loans["broken"]
    assert kept.sum() > 0 and broken.sum() > 0
    assert (world.rows["paid_on"][kept > 0] < NOT_YET).all()  # a kept promise is a payment
    log = world.actions
    promised = log["promise_status"] >= 0
    assert promised.sum() == kept.sum() + broken.sum() + (world.loans["promise_due"] < NOT_YET).sum()


def test_an_agency_recovers_part_of_the_charged_off_principal_within_the_year_and_nothing_after():
    never = Response(
        default_persuadable_share=0.0, default_partial_share=0.0, miss_rate=0.0, recovery_own_daily=0.0
    )
    placed, alone = (_world(2_000, default_day=0, response=never, installments=6) for _ in range(2))
    charged_on = 10 + CHARGE_OFF_DPD
    for world, channel in ((placed, AGENCY), (alone, None)):
        for day in range(charged_on + never.recovery_days + 60):
            if channel is not None and day == charged_on + 1:
                queue = world.queue(day)
                world.act(day, queue["loan"], np.full(queue["loan"].size, channel))
            world.advance(day)
    exposure = 2_000 * 6 * 100_000
    recovered = placed.loans["recovered_principal"].sum() / exposure
    assert 0.1 < recovered < 0.5  # the assumption: about a fifth within a year
    assert alone.loans["recovered_principal"].sum() == 0
    late = placed.rows["paid_on"] < NOT_YET
    assert (placed.rows["paid_on"][late] < charged_on + never.recovery_days).all()
    assert placed.loans["closed"].all()  # out of play after the year


def test_a_legal_judgment_recovers_the_whole_balance():
    world = _world(
        2_000,
        default_day=0,
        response=Response(
            default_persuadable_share=0.0, default_partial_share=0.0, miss_rate=0.0, recovery_legal=0.5
        ),
    )
    charged_on = 10 + CHARGE_OFF_DPD
    _run(world, charged_on + 1)
    queue = world.queue(charged_on + 1)
    world.act(charged_on + 1, queue["loan"], np.full(queue["loan"].size, LEGAL))
    world.advance(charged_on + 1)
    won = world.loans["recovered_principal"] == 100_000
    assert 0.3 < won.mean() < 0.7


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    default_day=st.integers(min_value=0, max_value=300) | st.just(NOT_YET),
    every=st.integers(min_value=1, max_value=7),
    channel=st.sampled_from(range(1, len(CHANNELS))),
)
def test_installments_are_paid_in_order_never_twice_and_never_beyond_the_principal(
    seed, default_day, every, channel
):
    world = _world(50, seed=seed, default_day=default_day, installments=4, response=Response(miss_rate=0.3))
    _run(world, 400, act_every=every, channel=channel)
    paid_on = world.rows["paid_on"].reshape(50, 4)
    order = np.where(paid_on == NOT_YET, 10**9, paid_on.astype(np.int64))
    assert (np.diff(order, axis=1) >= 0).all()  # each loan pays its installments in order
    upto = world.loans["paid_upto"]
    assert ((paid_on < NOT_YET).sum(axis=1) == upto).all()
    assert (world.loans["paid_principal"] == upto.astype(np.int64) * 100_000).all()
    assert (world.loans["recovered_principal"] <= world.loans["paid_principal"]).all()


def test_a_partial_payer_stays_two_months_late_until_the_loan_is_paid_off():
    holds = Response(
        default_persuadable_share=0.0,
        default_partial_share=1.0,
        partial_daily=0.0,
        partial_break_daily=0.0,
        miss_rate=0.0,
    )
    world = _world(500, default_day=0, response=holds, installments=6)
    for day in range(10 + 5 * 30 + 120):
        if 70 <= day <= 10 + 5 * 30 + 30:  # from the third due date on, at most two installments overdue
            assert ((world.dpd(day) > 30) & (world.dpd(day) <= holds.partial_max_dpd + 1)).all()
        world.advance(day)
    assert not world.charged_off.any()
    assert (world.loans["paid_upto"] == 6).all()  # one installment a month, the last two after the end


def test_actions_bring_partial_payers_current_and_a_broken_one_is_charged_off():
    partial = Response(default_persuadable_share=0.0, default_partial_share=1.0, partial_break_daily=0.0)
    silent, called = (_world(2_000, default_day=0, response=partial, installments=6) for _ in range(2))
    _run(silent, 120)
    _run(called, 120, act_every=3)
    assert (called.dpd(120) == 0).sum() > 1.5 * (silent.dpd(120) == 0).sum()
    broken = _world(300, default_day=0, installments=6, response=replace(partial, partial_break_daily=1.0))
    _run(broken, 10 + CHARGE_OFF_DPD + 1)
    assert broken.charged_off.all() and (broken.rows["paid_on"] == NOT_YET).all()
