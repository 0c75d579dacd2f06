"""The scorecard: selection, positive coefficients, points that add up, reasons, and SQL that scores alike everywhere."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
from pg_server import PG_ADMIN_DSN, skip_without_pg
from sklearn.base import clone

from creditmesh.errors import ParameterError
from creditmesh.scoring import BinningProcess, Scorecard, sql_points
from creditmesh.scoring.metrics import auc
from creditmesh.scoring.scorecard import CV_TIE


@pytest.fixture(scope="module")
def fitted(credit):
    X, y = credit
    return Scorecard(binning=BinningProcess(special_values={"months_late": [98]})).fit(X, y)


def test_scorecard_ranks_risk_and_keeps_only_positive_coefficients(fitted, credit):
    X, y = credit
    assert auc(y, fitted.predict_proba(X)[:, 1]) > 0.7
    assert fitted.sign_ == "positive"  # a few strong features: free coefficients do not rank better held out
    assert (fitted.coef_ > 0).all()
    assert set(fitted.features_) <= set(X.columns)
    assert set(fitted.selection_.feature) == set(X.columns)


def test_points_follow_the_scaling(fitted, credit):
    X, _ = credit
    unrounded = clone(fitted).set_params(round_points=False).fit(X, credit[1])
    points = unrounded.predict_points(X)
    logit = unrounded.decision_function(X)
    factor = 20 / math.log(2)
    expected = 600 - factor * math.log(50) - factor * logit  # offset + factor · ln(good:bad odds)
    np.testing.assert_allclose(points, expected, rtol=0, atol=1e-8)
    assert (fitted.points_table().groupby("feature").points.apply(lambda p: (p == p.round()).all())).all()


def test_reasons_name_the_features_that_cost_the_most_points(fitted, credit):
    X, _ = credit
    by_feature = fitted.points_by_feature(X.head(50))
    best = {f: fitted.points_[f].max() for f in fitted.features_}
    for (_, row), reasons in zip(by_feature.iterrows(), fitted.reasons(X.head(50))):
        lost = {f: best[f] - row[f] for f in fitted.features_}
        assert all(lost[r] > 0 for r in reasons)
        if reasons:
            assert lost[reasons[0]] == max(lost.values())


def test_stepwise_selection_keeps_no_more_than_the_filter(credit):
    X, y = credit
    stepwise = Scorecard(selection="stepwise").fit(X, y)
    filtered = Scorecard().fit(X, y)
    assert set(stepwise.features_) <= set(filtered.features_)
    assert len(stepwise.features_) >= 3


def _weak_features(n: int, seed: int, k: int = 30) -> tuple[pd.DataFrame, np.ndarray]:
    """Many features that each carry a little of the risk, and none much: IV of each about 0.01."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, k))
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1.5 + 0.12 * X.sum(axis=1))))).astype(int)
    return pd.DataFrame(X, columns=[f"x{j}" for j in range(k)]), y


def test_cross_validated_cut_off_keeps_many_weak_features_a_fixed_cut_off_drops():
    X, y = _weak_features(12_000, 0)
    X_test, y_test = _weak_features(20_000, 1)
    chosen = Scorecard().fit(X, y)
    fixed = Scorecard(min_iv=0.02).fit(X, y)
    assert chosen.min_iv_ < 0.02 and len(chosen.features_) > len(fixed.features_)
    assert (
        auc(y_test, chosen.predict_proba(X_test)[:, 1])
        > auc(y_test, fixed.predict_proba(X_test)[:, 1]) + 0.02
    )
    table = chosen.cv_results_[chosen.cv_results_.sign == chosen.sign_]
    assert list(table.min_iv) == sorted(table.min_iv) and table.auc_mean.notna().any()
    level = table[table.auc_mean >= table.auc_mean.max() - CV_TIE]
    assert chosen.min_iv_ == level.min_iv.min()  # the most features among the level cut-offs


def test_cross_validated_cut_off_does_not_lose_to_every_feature_among_pure_noise(make_credit):
    def noisy(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
        X, y = make_credit(6000, seed)
        noise = np.random.default_rng(1000 * seed + 100).normal(size=(len(X), 30))
        return X.assign(**{f"noise{k}": noise[:, k] for k in range(30)}), y

    X, y = noisy(0)
    X_test, y_test = noisy(1)
    binning = BinningProcess(special_values={"months_late": [98]})
    chosen = Scorecard(binning=binning).fit(X, y)
    every = Scorecard(binning=binning, min_iv=0.0).fit(X, y)
    assert {"utilisation", "months_late", "age"} <= set(chosen.features_)
    assert (
        auc(y_test, chosen.predict_proba(X_test)[:, 1])
        >= auc(y_test, every.predict_proba(X_test)[:, 1]) - 0.002
    )


def _twins(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Two features that share one signal (WoE correlation about 0.8) and whose difference carries another."""
    rng = np.random.default_rng(seed)
    z, u, v = rng.normal(size=(3, n))
    X = pd.DataFrame({"x1": z + 0.3 * u, "x2": z - 0.3 * u, "x3": v})
    y = (rng.random(n) < 1 / (1 + np.exp(-(-2 + 0.5 * z + 1.2 * u + 0.5 * v)))).astype(int)
    return X, y


def test_free_coefficients_are_chosen_where_one_feature_corrects_another_and_rank_better_on_fresh_rows():
    X, y = _twins(12_000, 0)
    X_test, y_test = _twins(20_000, 1)
    chosen = Scorecard().fit(X, y)
    ruled = Scorecard(sign="positive").fit(X, y)
    assert chosen.sign_ == "free" and ruled.sign_ == "positive"
    assert (ruled.coef_ > 0).all() and "x2" not in ruled.features_
    assert (
        chosen.coef_[chosen.features_.index("x2")] < 0
    )  # x2's points rise with its bad rate: it corrects x1
    assert (
        auc(y_test, chosen.predict_proba(X_test)[:, 1])
        > auc(y_test, ruled.predict_proba(X_test)[:, 1]) + 0.02
    )
    best = chosen.cv_results_.groupby("sign").auc_mean.max()
    assert best["free"] > best["positive"] + CV_TIE
    # a negative coefficient still gives points per bin that add up to the score
    points = chosen.predict_points(X_test.head(200))
    np.testing.assert_allclose(points, chosen.points_by_feature(X_test.head(200)).sum(axis=1))


def test_a_feature_whose_trend_the_analyst_set_keeps_its_points_in_that_trend_under_free_coefficients():
    X, y = _twins(12_000, 0)
    binning = BinningProcess(trend={"x1": "ascending", "x2": "ascending"})
    card = Scorecard(binning=binning, sign="free").fit(X, y)
    assert card.binning_.asked_trend("x2") == "ascending" and card.binning_.asked_trend("x3") is None
    assert "x2" not in card.features_
    reason = card.selection_.set_index("feature").loc["x2", "reason"]
    assert reason == "coefficient not positive"
    regular = card.points_["x1"][: card.binning_.binnings_["x1"].n_regular]
    assert (np.diff(regular) <= 0).all()  # ascending risk: points fall bin by bin


def test_sign_rule_and_max_corr_are_checked(credit):
    X, y = credit
    with pytest.raises(ParameterError, match="Scorecard.sign"):
        Scorecard(sign="negative").fit(X, y)
    with pytest.raises(ParameterError, match="Scorecard.max_corr"):
        Scorecard(max_corr=1.5).fit(X, y)
    fixed = Scorecard(sign="free", min_iv=0.0).fit(X, y)
    assert fixed.sign_ == "free" and fixed.cv_results_ is None


def test_special_values_get_bins_of_their_own_through_the_scorecard(credit):
    X, y = credit
    sentinel = X.assign(age=X.age.where(np.arange(len(X)) % 10 != 0, -99.0))
    fitted = Scorecard(special_values=[-99.0, 98.0], min_iv=0.0).fit(sentinel, y)
    ages = fitted.binning_.binnings_["age"]
    assert ages.special_values == (-99.0, 98.0)
    table = ages.table().set_index("bin")
    assert table.loc["special -99", "count"] == (sentinel.age == -99).sum()
    assert ages.value_range[0] == sentinel.age[sentinel.age != -99].min()  # -99 is not a regular value
    months = fitted.binning_.binnings_["months_late"].table().set_index("bin")
    assert months.loc["special 98", "count"] == (X.months_late == 98).sum()
    with pytest.raises(ParameterError, match="Scorecard.special_values"):
        Scorecard(special_values=[-1], binning=BinningProcess()).fit(X, y)


def test_bad_parameters_are_named(credit):
    X, y = credit
    with pytest.raises(ParameterError, match="Scorecard.pdo"):
        Scorecard(pdo=-5).fit(X, y)
    with pytest.raises(ParameterError, match="Scorecard.selection"):
        Scorecard(selection="magic").fit(X, y)
    with pytest.raises(ParameterError, match="Scorecard.min_iv"):
        Scorecard(min_iv="tuned").fit(X, y)
    with pytest.raises(ParameterError, match="not fitted"):
        Scorecard().predict_proba(X)


def test_get_params_round_trips_through_clone(fitted):
    again = clone(fitted)
    assert again.get_params(deep=False).keys() == fitted.get_params(deep=False).keys()
    assert again.get_params()["binning__special_values"] == {"months_late": [98]}


def _rows_for_sql(X: pd.DataFrame, n: int = 400) -> pd.DataFrame:
    rows = X.head(n).copy()
    rows["has_car"] = rows["has_car"].map(str)  # booleans are categories, stored as their text
    rows.insert(0, "application_id", [f"a{i}" for i in range(len(rows))])
    rows.loc[rows.index[:3], "channel"] = [None, "drone", "kiosk"]  # missing, unseen, rare
    return rows


def _records(rows: pd.DataFrame) -> list[tuple]:
    return [
        tuple(None if (isinstance(v, float) and math.isnan(v)) else v for v in r)
        for r in rows.itertuples(index=False)
    ]


def _expected(fitted: Scorecard, rows: pd.DataFrame) -> dict[str, float]:
    return dict(zip(rows.application_id, fitted.predict_points(rows.drop(columns="application_id"))))


def test_sql_export_scores_like_python_in_sqlite(fitted, credit):
    rows = _rows_for_sql(credit[0])
    with sqlite3.connect(":memory:") as conn:
        conn.execute(
            "CREATE TABLE applications (application_id TEXT, income REAL, utilisation REAL, age REAL,"
            " months_late REAL, channel TEXT, has_car TEXT)"
        )
        conn.executemany("INSERT INTO applications VALUES (?, ?, ?, ?, ?, ?, ?)", _records(rows))
        got = {r[0]: r[-1] for r in conn.execute(sql_points(fitted))}
    assert got == _expected(fitted, rows)


def test_sql_export_scores_like_python_in_duckdb(fitted, credit):
    duckdb = pytest.importorskip("duckdb")
    rows = _rows_for_sql(credit[0])
    conn = duckdb.connect()
    conn.execute(
        "CREATE TABLE applications (application_id TEXT, income DOUBLE, utilisation DOUBLE, age DOUBLE,"
        " months_late DOUBLE, channel TEXT, has_car TEXT)"
    )
    conn.executemany("INSERT INTO applications VALUES (?, ?, ?, ?, ?, ?, ?)", _records(rows))
    got = {r[0]: r[-1] for r in conn.execute(sql_points(fitted)).fetchall()}
    assert got == _expected(fitted, rows)


def test_sql_export_scores_like_python_in_postgresql(fitted, credit):
    skip_without_pg()
    import psycopg

    rows = _rows_for_sql(credit[0])
    with psycopg.connect(PG_ADMIN_DSN) as conn:
        conn.execute(
            "CREATE TEMP TABLE applications (application_id TEXT, income DOUBLE PRECISION,"
            " utilisation DOUBLE PRECISION, age DOUBLE PRECISION, months_late DOUBLE PRECISION,"
            " channel TEXT, has_car TEXT)"
        )
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO applications VALUES (%s, %s, %s, %s, %s, %s, %s)", _records(rows))
            got = {r[0]: float(r[-1]) for r in cur.execute(sql_points(fitted)).fetchall()}
        conn.rollback()
    assert got == _expected(fitted, rows)


def test_a_real_credit_table_scores_alike_in_python_and_sql(german):
    """German credit (text categories, CC BY 4.0 copy under tests/data): the SQL export scores every row as Python does."""
    X, y = german
    card = Scorecard().fit(X, y)
    assert auc(y, card.predict_proba(X)[:, 1]) > 0.75
    assert any(card.binning_.binnings_[f].dtype == "categorical" for f in card.features_)
    rows = X.copy()
    rows.insert(0, "application_id", [f"g{i}" for i in range(len(rows))])
    columns = ", ".join(
        f'"{c}" {"REAL" if pd.api.types.is_numeric_dtype(rows[c]) else "TEXT"}' for c in rows.columns
    )
    with sqlite3.connect(":memory:") as conn:
        conn.execute(f"CREATE TABLE applications ({columns})")
        conn.executemany(
            f"INSERT INTO applications VALUES ({', '.join('?' * len(rows.columns))})",
            [tuple(r) for r in rows.itertuples(index=False)],
        )
        got = {r[0]: r[-1] for r in conn.execute(sql_points(card))}
    assert got == dict(zip(rows.application_id, card.predict_points(X)))
