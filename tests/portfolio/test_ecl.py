"""Expected credit loss: stages, PD from matrix powers or a given PD, LGD from recoveries, who carries it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from creditmesh.errors import ParameterError
from creditmesh.portfolio.ecl import default_probabilities, expected_credit_loss
from creditmesh.portfolio.rollrates import BUCKETS, transition_matrix

AS_OF = dt.date(2024, 12, 31)
OLD = dt.date(2024, 1, 1)


def ecl_book(loan_book):
    lb = loan_book()
    # current, 3 installments left (due on or after AS_OF)
    lb.loan("cur", principal=3_000_000, originated=OLD)
    for month in (1, 2, 3):
        lb.installment("cur", dt.date(2025, month, 15), 1_000_000)
    lb.single("dpd45", principal=2_000_000, originated=OLD, due=AS_OF - dt.timedelta(days=45))
    lb.single(
        "dpd100",
        principal=1_000_000,
        originated=OLD,
        due=AS_OF - dt.timedelta(days=100),
        funding_model="capital_heavy_off",
    )
    lb.single("ice", principal=4_000_000, originated=OLD, due=dt.date(2025, 2, 1), funding_model="ice")
    lb.single(
        "off", principal=5_000_000, originated=OLD, due=dt.date(2025, 2, 1), funding_model="capital_heavy_off"
    )
    lb.single(
        "repaid", principal=9_000_000, originated=OLD, due=dt.date(2024, 6, 1), paid=dt.date(2024, 6, 1)
    )
    # charged off on 2024-07-29 with 2,000 open; half recovered by AS_OF, the rest after it (not seen yet)
    lb.loan("written", principal=3_000, originated=dt.date(2023, 12, 1))
    lb.installment("written", dt.date(2024, 1, 30), 1_000, paid=dt.date(2024, 10, 1))
    lb.installment("written", dt.date(2024, 2, 28), 1_000, paid=dt.date(2025, 3, 1))
    lb.installment("written", dt.date(2024, 3, 30), 1_000)
    return lb.book()


def test_stages_lgd_and_ecl_with_a_given_pd(loan_book):
    book = ecl_book(loan_book)
    pds = pd.Series({"cur": 0.02, "dpd45": 0.3, "dpd100": 0.9, "ice": 0.05, "off": 0.04})
    result = expected_credit_loss(book, AS_OF, pd_12m=pds)
    loans = result.loans.set_index("loan_id")
    assert set(loans.index) == {
        "cur",
        "dpd45",
        "dpd100",
        "ice",
        "off",
    }  # repaid and charged-off loans are out
    assert loans["stage"].to_dict() == {"cur": 1, "dpd100": 3, "dpd45": 2, "ice": 1, "off": 1}
    # LGD: 3,000 open at charge-off, 1,000 recovered by AS_OF
    assert result.lgd == pytest.approx(1 - 1_000 / 3_000)
    lgd = result.lgd
    # stage 1, 3 months left: 12-month PD is the lifetime PD over 3 months
    pd_cur = 1 - (1 - 0.02) ** (3 / 12)
    assert loans.at["cur", "pd_12m"] == pytest.approx(pd_cur)
    assert loans.at["cur", "ecl_minor"] == round(3_000_000 * round(pd_cur * lgd, 6))
    # stage 2: lifetime PD; past-due loan with nothing left to fall due counts one month
    assert loans.at["dpd45", "remaining_months"] == 1
    assert loans.at["dpd45", "ecl_minor"] == round(2_000_000 * round((1 - 0.7 ** (1 / 12)) * lgd, 6))
    # stage 3: PD 1
    assert loans.at["dpd100", "pd_lifetime"] == 1.0
    assert loans.at["dpd100", "ecl_minor"] == round(1_000_000 * round(lgd, 6))
    # ICE carries no principal risk for the platform; the off-balance loan is a guarantee liability
    assert loans.at["ice", "provision_minor"] == 0 and loans.at["ice", "ecl_minor"] > 0
    provisions = result.provisions()
    assert provisions["loss_allowance_minor"] == loans.loc[["cur", "dpd45"], "ecl_minor"].sum()
    assert provisions["guarantee_liability_minor"] == loans.loc[["dpd100", "off"], "ecl_minor"].sum()
    table = result.by_stage()
    assert table["ecl_minor"].sum() == loans["ecl_minor"].sum()


def test_cecl_uses_lifetime_pd_in_stage_1_too(loan_book):
    book = ecl_book(loan_book)
    pds = pd.Series({"cur": 0.02, "dpd45": 0.3, "dpd100": 0.9, "ice": 0.05, "off": 0.04})
    ifrs9 = expected_credit_loss(book, AS_OF, pd_12m=pds, lgd=0.5).loans.set_index("loan_id")
    cecl = expected_credit_loss(book, AS_OF, pd_12m=pds, lgd=0.5, basis="cecl").loans.set_index("loan_id")
    assert (cecl["ecl_minor"] >= ifrs9["ecl_minor"]).all()
    assert ifrs9["lgd"].eq(0.5).all()


def test_pd_from_matrix_powers_matches_a_hand_computation():
    # current stays 0.9, rolls to 1-30 0.1; 1-30 cures 0.5, rolls to 31-60 0.5; 31-60 -> 61-90 -> 91-180 for sure
    rows = {
        "current": {"current": 0.9, "1-30": 0.1},
        "1-30": {"current": 0.5, "31-60": 0.5},
        "31-60": {"61-90": 1.0},
        "61-90": {"91-180": 1.0},
    }
    pairs = [(a, b) for a, row in rows.items() for b, p in row.items() for _ in range(int(p * 10))]
    matrix = transition_matrix([a for a, _ in pairs], [b for _, b in pairs], states=BUCKETS, n_boot=0)
    p = np.zeros((7, 7))
    for a, row in rows.items():
        for b, v in row.items():
            p[BUCKETS.index(a), BUCKETS.index(b)] = v
    for k in (4, 5, 6):
        p[k, k] = 1.0
    for horizon in (1, 3, 4, 12):
        power = np.linalg.matrix_power(p, horizon)
        expected = power[0, 4] + power[0, 5]
        got = default_probabilities(matrix, np.array([horizon]), np.array(["current"]))[0]
        assert got == pytest.approx(expected)
    # four steps to default from current: 1-30, 31-60, 61-90, 91-180
    got = default_probabilities(matrix, np.array([3, 4, 1]), np.array(["current", "current", "61-90"]))
    assert got.tolist() == pytest.approx([0.0, 0.1 * 0.5, 1.0])


def test_pd_from_the_roll_rates_of_a_simulated_book(simulated_book):
    result = expected_credit_loss(simulated_book, dt.date(2024, 12, 31))
    loans = result.loans
    assert result.matrix is not None
    by_bucket = loans.groupby("bucket")["pd_12m"].mean()
    assert by_bucket["current"] < by_bucket["1-30"] < by_bucket["61-90"] <= 1.0
    assert (loans["pd_lifetime"] >= loans["pd_12m"] - 1e-12).all()
    assert (loans["ecl_minor"] <= loans["ead_minor"]).all()
    assert (loans.loc[loans["stage"] == 3, "pd_12m"] == 1.0).all()


def test_bad_arguments_name_the_field(loan_book):
    book = ecl_book(loan_book)
    for kwargs, field in (
        ({"basis": "gaap"}, "basis"),
        ({"lgd": 1.5}, "lgd"),
        ({"sicr_pd_ratio": 1.0}, "sicr_pd_ratio"),
        ({"pd_12m": pd.Series({"cur": 0.1})}, "pd_12m"),
    ):
        with pytest.raises(ParameterError) as raised:
            expected_credit_loss(book, AS_OF, **kwargs)
        assert raised.value.field == field


def test_sicr_by_pd_deterioration_against_the_pd_at_origination():
    from creditmesh.portfolio import REQUIRED_TABLES, Book
    from creditmesh.simulate import SimulationConfig, simulate

    result = simulate(SimulationConfig(borrowers=1_500, months=12, seed=3))
    tables = {name: result.tables[name] for name in (*REQUIRED_TABLES, "decisions")}
    with Book.from_frames(**tables) as book:
        as_of = dt.date(2023, 12, 31)
        open_loans = book.sql(
            "SELECT l.loan_id, d.pd FROM loans l JOIN decisions d ON d.application_id = l.application_id"
        ).set_index("loan_id")["pd"]
        worse = open_loans.copy()
        half = worse.index[::2]
        worse.loc[half] = np.minimum(1.0, 3 * worse.loc[half])  # tripled since origination: SICR
        result = expected_credit_loss(book, as_of, pd_12m=worse, lgd=0.5).loans.set_index("loan_id")
    current = result[result["dpd"] <= 30]
    tripled = current.index.isin(half)
    assert (current.loc[tripled, "stage"] == 2).all()
    assert (current.loc[~tripled, "stage"] == 1).all()
