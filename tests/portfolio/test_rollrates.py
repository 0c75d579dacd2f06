"""Transition matrices: exact counts and rates, bootstrap intervals, and the book's month-end buckets."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditmesh.errors import ParameterError
from creditmesh.portfolio.rollrates import (
    BUCKETS,
    flow_rates,
    month_end_buckets,
    roll_rates,
    transition_matrix,
)

STATES = ("a", "b", "c")


def test_counts_and_rates_are_exact_and_intervals_hold_the_estimate():
    from_state = ["a"] * 80 + ["a"] * 20 + ["b"] * 30 + ["b"] * 10
    to_state = ["a"] * 80 + ["b"] * 20 + ["c"] * 30 + ["a"] * 10
    m = transition_matrix(from_state, to_state, states=STATES, n_boot=300, seed=1)
    assert m.counts.loc["a"].tolist() == [80, 20, 0]
    assert m.rates.at["a", "b"] == 0.2 and m.rates.at["b", "c"] == 0.75
    assert np.isnan(m.rates.loc["c"]).all()  # no observation from c
    for a, b in (("a", "a"), ("a", "b"), ("b", "c")):
        assert m.lower.at[a, b] < m.rates.at[a, b] < m.upper.at[a, b]
    assert m.lower.at["a", "c"] == m.upper.at["a", "c"] == 0.0
    assert (m.observations, m.clusters) == (140, 140)
    again = transition_matrix(from_state, to_state, states=STATES, n_boot=300, seed=1)
    assert again.lower.equals(m.lower)  # seeded


def test_clustered_bootstrap_is_wider_when_a_clusters_transitions_move_together():
    rng = np.random.default_rng(0)
    stays = rng.random(200) < 0.5  # each cluster either always stays or always moves
    from_state = ["a"] * 2_000
    to_state = ["a" if s else "b" for s in stays for _ in range(10)]
    cluster = np.repeat(np.arange(200), 10)
    alone = transition_matrix(from_state, to_state, states=STATES, n_boot=200)
    together = transition_matrix(from_state, to_state, states=STATES, cluster=cluster, n_boot=200)
    width = lambda m: m.upper.at["a", "b"] - m.lower.at["a", "b"]  # noqa: E731
    assert together.clusters == 200
    assert width(together) > 2 * width(alone)


def test_weights_turn_roll_rates_into_flow_rates():
    m = transition_matrix(["a", "a"], ["a", "b"], states=STATES, weight=[300.0, 100.0], n_boot=0)
    assert m.rates.at["a", "b"] == 0.25
    assert np.isnan(m.lower.at["a", "b"])  # no bootstrap asked


@settings(max_examples=30, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(STATES), st.sampled_from(STATES)), min_size=1, max_size=60))
def test_observed_rows_sum_to_one(pairs):
    m = transition_matrix([a for a, _ in pairs], [b for _, b in pairs], states=STATES, n_boot=20)
    for state in {a for a, _ in pairs}:
        assert m.rates.loc[state].sum() == pytest.approx(1.0)
        assert (m.lower.loc[state] <= m.rates.loc[state] + 1e-12).all()


def test_bad_input_names_the_field():
    with pytest.raises(ParameterError) as raised:
        transition_matrix(["a"], ["z"], states=STATES)
    assert raised.value.field == "states"
    with pytest.raises(ParameterError) as raised:
        transition_matrix(["a"], ["a"], states=STATES, confidence=1.0)
    assert raised.value.field == "confidence"


def delinquent_book(loan_book):
    lb = loan_book()
    lb.loan("A", principal=3_000, originated=dt.date(2024, 1, 5))
    lb.installment("A", dt.date(2024, 2, 5), 1_000, paid=dt.date(2024, 2, 5))
    lb.installment("A", dt.date(2024, 3, 5), 2_000)  # never paid: charged off on 09-02
    lb.single(
        "B", principal=500, originated=dt.date(2024, 1, 5), due=dt.date(2024, 2, 5), paid=dt.date(2024, 2, 5)
    )
    lb.single(
        "I", principal=700, originated=dt.date(2024, 1, 5), due=dt.date(2024, 2, 5), funding_model="ice"
    )
    return lb.book()


def test_month_end_buckets_follow_a_loan_into_charge_off(loan_book):
    frame = month_end_buckets(delinquent_book(loan_book), dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    a = frame[frame["loan_id"] == "A"]
    assert a["bucket"].tolist() == [
        "current",
        "current",
        "1-30",
        "31-60",
        "61-90",
        "91-180",
        "91-180",
        "91-180",
        "charged_off",
    ]
    assert a["balance_minor"].tolist()[:2] == [3_000, 2_000]
    assert frame[frame["loan_id"] == "B"]["bucket"].tolist() == ["current", "paid_off"]
    assert "I" not in set(frame["loan_id"])  # ICE is out of the roll rates by default


def test_roll_and_flow_rates_of_the_book(loan_book):
    m = roll_rates(delinquent_book(loan_book), dt.date(2024, 1, 1), dt.date(2024, 12, 31), n_boot=50)
    assert m.counts.loc["current"].to_dict() == {
        s: (1.0 if s in ("current", "1-30", "paid_off") else 0.0) for s in BUCKETS
    }
    assert m.rates.at["91-180", "charged_off"] == 1 / 3
    assert flow_rates(m).to_dict() == {
        "current -> 1-30": 1 / 3,
        "1-30 -> 31-60": 1.0,
        "31-60 -> 61-90": 1.0,
        "61-90 -> 91-180": 1.0,
        "91-180 -> charged_off": 1 / 3,
    }
    assert np.isnan(m.rates.loc["charged_off"]).all()


def test_simulated_roll_rates_are_rows_of_probabilities(simulated_book):
    m = roll_rates(simulated_book, dt.date(2023, 1, 1), dt.date(2024, 12, 31), n_boot=50)
    observed = m.rates.dropna(how="all")
    assert np.allclose(observed.sum(axis=1), 1.0)
    assert m.rates.at["current", "current"] > 0.8
    balance = roll_rates(
        simulated_book, dt.date(2023, 1, 1), dt.date(2024, 12, 31), weight="balance", n_boot=0
    )
    assert 0 < flow_rates(balance)["current -> 1-30"] < 0.1
