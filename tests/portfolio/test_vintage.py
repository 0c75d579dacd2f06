"""Vintage curves on a hand-built book, and their invariants on a simulated one."""

from __future__ import annotations

import datetime as dt

import pytest

from creditmesh.errors import ParameterError
from creditmesh.portfolio.vintage import quarter_label, vintage_curves

UTC = dt.UTC
AS_OF = dt.date(2024, 12, 31)


def vintage_book(loan_book):
    lb = loan_book()
    lb.loan("late", principal=1_500, originated=dt.date(2024, 1, 10))
    lb.installment("late", dt.date(2024, 2, 10), 1_000)  # never paid: 30+ on 03-11, 180+ on 08-08
    lb.installment("late", dt.date(2024, 3, 10), 500)
    lb.single(
        "good",
        principal=2_000,
        originated=dt.date(2024, 2, 1),
        due=dt.date(2024, 3, 1),
        paid=dt.date(2024, 3, 1),
    )
    lb.single(
        "ice_late",
        principal=4_000,
        originated=dt.date(2024, 1, 10),
        due=dt.date(2024, 2, 10),
        funding_model="ice",
    )
    lb.single(
        "tech_late",
        principal=4_000,
        originated=dt.date(2024, 1, 10),
        due=dt.date(2024, 2, 10),
        funding_model="tech_solution",
    )
    # capital-light counts; 31 days late: 30+ on 05-30 (month on book 2), never 180+
    lb.loan(
        "light",
        principal=8_000,
        originated=dt.datetime(2024, 3, 31, 23, 0, tzinfo=UTC),
        funding_model="capital_light",
    )
    lb.installment("light", dt.date(2024, 4, 30), 8_000, paid=dt.date(2024, 5, 31))
    lb.single(
        "q2",
        principal=16_000,
        originated=dt.date(2024, 4, 2),
        due=dt.date(2024, 5, 2),
        paid=dt.date(2024, 5, 2),
    )
    return lb.book()


def curve(frame, vintage):
    rows = frame[frame["vintage"] == vintage]
    return dict(zip(rows["months_on_book"], rows["delinquent_minor"]))


def test_30_day_curve_counts_the_balance_at_first_30_dpd_by_month_on_book(loan_book):
    frame = vintage_curves(vintage_book(loan_book), 30, AS_OF)
    q1 = frame[frame["vintage"] == "2024Q1"]
    assert set(q1["principal_minor"]) == {1_500 + 2_000 + 8_000}  # ICE and tech are not in the vintage
    assert curve(frame, "2024Q1") == {1: 0, 2: 8_000, **{m: 9_500 for m in range(3, 10)}}
    assert q1["rate"].iloc[-1] == 9_500 / 11_500
    # shown only while the whole vintage has been on book m months: Q1 ends 03-31, +9 months = 12-31
    assert q1["months_on_book"].max() == 9
    assert frame[frame["vintage"] == "2024Q2"]["months_on_book"].max() == 6
    assert set(curve(frame, "2024Q2").values()) == {0}


def test_180_day_curve_hits_at_the_charge_off_threshold(loan_book):
    frame = vintage_curves(vintage_book(loan_book), 180, AS_OF)
    assert curve(frame, "2024Q1") == {**{m: 0 for m in range(1, 7)}, 7: 1_500, 8: 1_500, 9: 1_500}


def test_an_unobserved_hit_is_not_counted_and_a_young_vintage_has_no_point(loan_book):
    frame = vintage_curves(vintage_book(loan_book), 30, dt.date(2024, 5, 29))
    assert curve(frame, "2024Q1") == {1: 0}  # 03-31 + 1 month <= 05-29; "late" hits on 03-11 at month 3
    assert "2024Q2" not in set(frame["vintage"])


def test_curves_never_fall_and_stay_in_0_1_on_a_simulated_book(simulated_book):
    for days in (30, 180):
        frame = vintage_curves(simulated_book, days)
        assert len(frame)
        assert frame["rate"].between(0, 1).all()
        assert (frame.groupby("vintage")["rate"].diff().dropna() >= 0).all()
    thirty = vintage_curves(simulated_book, 30).set_index(["vintage", "months_on_book"])["delinquent_minor"]
    one_eighty = vintage_curves(simulated_book, 180).set_index(["vintage", "months_on_book"])[
        "delinquent_minor"
    ]
    # every loan that reached 180 dpd passed 30 dpd earlier, with at least as much principal open then
    assert (one_eighty <= thirty.reindex(one_eighty.index)).all()


def test_quarter_labels_and_bad_threshold(loan_book):
    assert quarter_label(dt.date(2024, 11, 5)) == "2024Q4"
    with pytest.raises(ParameterError) as raised:
        vintage_curves(vintage_book(loan_book), 0)
    assert raised.value.field == "days"
