"""The simulator's collections phase: borrowers answer actions, with diminishing returns, and the same luck."""

import numpy as np

from creditmesh.simulate.collections import CHANNELS, NOT_YET, CollectionWorld, Response

CALL = CHANNELS.index("call")


def _world(
    n: int, *, seed: int = 1, fraud: bool = False, response: Response | None = None
) -> CollectionWorld:
    """``n`` loans with one installment of 1,000.00 due on day 10 (every borrower misses it: miss rate 1)."""
    due = np.full((n, 2), NOT_YET, np.int32)
    due[:, 0] = 10
    principal = np.zeros((n, 2), np.int64)
    principal[:, 0] = 100_000
    missing = Response(**{**(response or Response()).__dict__, "miss_rate": 10.0})
    world = CollectionWorld(seed, due, principal, np.full(n, 0.05), np.full(n, fraud), np.arange(n), missing)
    world.begin(0)
    return world


def _run(world: CollectionWorld, days: int, act_every: int | None = None) -> int:
    for day in range(days):
        if act_every and day > 10 and day % act_every == 0:
            queue = world.queue(day)
            world.act(day, queue["loan"], np.full(queue["loan"].size, CALL))
        world.advance(day)
    return int(world.recovered_principal.sum())


def test_the_same_seed_and_actions_give_the_same_days():
    assert _run(_world(2_000, seed=3), 60, 2) == _run(_world(2_000, seed=3), 60, 2)
    assert _run(_world(2_000, seed=3), 60, 2) != _run(_world(2_000, seed=4), 60, 2)


def test_calls_collect_more_than_silence_and_some_pay_anyway():
    silent = _run(_world(5_000), 60)
    called = _run(_world(5_000), 60, act_every=2)
    assert 0.7 * 5_000 * 100_000 < silent < called  # most first misses are paid anyway


def test_returns_diminish_with_every_contact_of_the_week():
    no_fatigue = Response(fatigue=0.0, anyway_share=0.0, never_share=0.0)
    tired = Response(fatigue=2.0, anyway_share=0.0, never_share=0.0)
    fresh = _run(_world(5_000, response=no_fatigue), 18, act_every=1)
    worn = _run(_world(5_000, response=tired), 18, act_every=1)
    assert worn < 0.8 * fresh


def test_fraud_never_pays_and_is_charged_off_at_181_days_past_due():
    world = _world(300, fraud=True)
    assert _run(world, 10 + 181, act_every=3) == 0
    missed = world.paid_on[:, 0] > 10  # nine in ten miss (the miss rate is capped at 90 %)
    assert missed.mean() > 0.8
    assert (world.charged_off == missed).all() and (world.dpd(10 + 181)[missed] == 181).all()


def test_a_promise_is_kept_or_broken_on_its_day():
    world = _world(3_000, response=Response(anyway_share=0.0, promise_share=1.0, call_reach=1.0))
    _run(world, 60, act_every=5)
    assert world.kept.sum() > 0 and world.broken.sum() > 0
    assert (world.paid_on[world.kept > 0, 0] < NOT_YET).all()  # a kept promise is a payment
    serial = world.broken > 1  # who breaks one promise tends to break the next: the never-payers
    assert (world.paid_on[serial, 0] == NOT_YET).mean() > 0.8
