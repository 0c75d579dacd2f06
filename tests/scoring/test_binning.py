"""Binning: trends hold, missing and special values get their own bins, and bad input follows each feature's rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.scoring import BinningProcess, FeatureBinning


def _regular_rates(binning: FeatureBinning) -> np.ndarray:
    e = np.asarray(binning.events[: binning.n_regular])
    n = np.asarray(binning.nonevents[: binning.n_regular])
    return e / (e + n)


@pytest.mark.parametrize("trend", ["ascending", "descending", "auto"])
def test_fitted_bins_follow_the_requested_trend(credit, trend):
    X, y = credit
    process = BinningProcess(trend=trend, special_values={"months_late": [98]}).fit(X, y)
    for name in ("income", "utilisation", "age", "months_late"):
        binning = process.binnings_[name]
        rates = _regular_rates(binning)
        steps = np.diff(rates)
        resolved = binning.trend if trend == "auto" else trend
        assert resolved in ("ascending", "descending")
        assert (steps > 0).all() if resolved == "ascending" else (steps < 0).all(), (name, rates)


def test_auto_finds_the_direction_of_risk(credit):
    X, y = credit
    process = BinningProcess().fit(X, y)
    assert process.binnings_["utilisation"].trend == "ascending"
    assert process.binnings_["income"].trend == "descending"


def test_peak_trend_rises_then_falls():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, 20000)
    y = (rng.random(20000) < 0.05 + 0.3 * np.exp(-((x - 5) ** 2) / 4)).astype(int)
    binning = BinningProcess(trend="peak").fit(pd.DataFrame({"x": x}), y).binnings_["x"]
    rates = _regular_rates(binning)
    top = int(np.argmax(rates))
    assert 0 < top < len(rates) - 1
    assert (np.diff(rates[: top + 1]) > 0).all() and (np.diff(rates[top:]) < 0).all()


def test_bins_respect_the_minimum_size(credit):
    X, y = credit
    process = BinningProcess(min_bin_size=0.1).fit(X, y)
    for binning in process.binnings_.values():
        counts = np.asarray(binning.events) + np.asarray(binning.nonevents)
        assert (counts[: binning.n_regular] >= 0.1 * len(X) - 1e-9).all()


def test_missing_and_special_values_have_their_own_bins(credit):
    X, y = credit
    process = BinningProcess(special_values={"months_late": [98]}).fit(X, y)
    income = process.binnings_["income"]
    assert income.events[income.missing_bin] + income.nonevents[income.missing_bin] == X.income.isna().sum()
    late = process.binnings_["months_late"]
    special = late.n_regular
    assert late.labels()[special] == "special 98"
    assert late.events[special] + late.nonevents[special] == (X.months_late == 98).sum()
    bins = process.bins(X)["months_late"]
    assert (bins[X.months_late.to_numpy() == 98] == special).all()


def test_rare_categories_are_pooled_and_unseen_ones_follow_the_rule(credit):
    X, y = credit
    process = BinningProcess(cat_cutoff=0.01).fit(X, y)
    channel = process.binnings_["channel"]
    assert channel.dtype == "categorical"
    pooled = channel.groups[channel.other_bin]
    assert "kiosk" in pooled and "__other__" in pooled
    assert channel.bin_one("drone") == channel.other_bin
    strict = BinningProcess(unseen="error").fit(X, y)
    with pytest.raises(SchemaError, match="channel.*drone"):
        strict.transform(X.assign(channel="drone"))
    with pytest.raises(SchemaError, match="channel.*drone"):
        strict.binnings_["channel"].bin_one("drone")


def test_table_counts_add_up_and_iv_is_the_sum_of_bins(credit):
    X, y = credit
    process = BinningProcess().fit(X, y)
    table = process.binning_table("utilisation")
    total = table.iloc[-1]
    assert total["bin"] == "total"
    assert table["count"].iloc[:-1].sum() == len(X) == total["count"]
    assert table["events"].iloc[:-1].sum() == y.sum()
    assert table["iv"].iloc[:-1].sum() == pytest.approx(total["iv"])


def test_user_splits_are_kept_as_given(credit):
    X, y = credit
    process = BinningProcess(
        user_splits={"age": [25, 35, 50], "channel": [["app", "embedded"], ["partner", "offline"]]}
    )
    process.fit(X, y)
    assert process.binnings_["age"].splits == (25.0, 35.0, 50.0)
    channel = process.binnings_["channel"]
    assert channel.groups == (("app", "embedded"), ("partner", "offline"))
    # kiosk was left out of the groups: it is scored with the last group, as documented
    assert channel.bin_one("kiosk") == channel.n_regular - 1 or channel.other_bin is None


def test_text_in_a_numerical_feature_is_refused_naming_it(credit):
    X, y = credit
    process = BinningProcess().fit(X, y)
    bad = X.astype({"age": object})
    bad.loc[3, "age"] = "forty"
    with pytest.raises(SchemaError, match="age.*'forty'"):
        process.transform(bad)
    with pytest.raises(SchemaError, match="age"):
        process.binnings_["age"].bin_one("forty")
    with pytest.raises(SchemaError, match="income"):
        process.transform(X.drop(columns=["income"]))


def test_out_of_range_and_missing_rules(credit):
    X, y = credit
    strict = BinningProcess(out_of_range="error", missing="error").fit(
        X.dropna(), y[X.notna().all(axis=1).to_numpy()]
    )
    with pytest.raises(SchemaError, match="utilisation.*outside the training range"):
        strict.transform(X.dropna().assign(utilisation=5.0))
    with pytest.raises(SchemaError, match="income.*missing"):
        strict.transform(X)
    lenient = BinningProcess().fit(X, y)
    edge = lenient.binnings_["utilisation"]
    assert edge.bin_one(5.0) == edge.n_regular - 1


def test_bad_parameters_name_the_parameter(credit):
    X, y = credit
    with pytest.raises(ParameterError, match="BinningProcess.min_bin_size"):
        BinningProcess(min_bin_size=0.9).fit(X, y)
    with pytest.raises(ParameterError, match="BinningProcess.trend"):
        BinningProcess(trend="sideways").fit(X, y)
    with pytest.raises(SchemaError, match="y"):
        BinningProcess().fit(X, np.full(len(X), 2))


def test_binning_round_trips_through_its_dict(credit):
    X, y = credit
    process = BinningProcess(special_values={"months_late": [98]}).fit(X, y)
    for binning in process.binnings_.values():
        again = FeatureBinning.from_dict(binning.to_dict())
        assert again == binning
        np.testing.assert_array_equal(again.bin_index(X[binning.name]), binning.bin_index(X[binning.name]))


def test_integer_and_float_categories_are_the_same_category():
    X = pd.DataFrame({"grade": pd.Series([1, 2, 3, 1, 2, 3] * 200)})
    y = np.array([0, 0, 1, 0, 1, 1] * 200)
    binning = (
        BinningProcess(categorical_features=["grade"], cat_cutoff=0.0, min_bin_size=0.01)
        .fit(X, y)
        .binnings_["grade"]
    )
    assert binning.bin_one(1.0) == binning.bin_one(1) == binning.bin_one("1")
    floats = binning.bin_index(pd.Series([1.0, 2.0, np.nan]))
    assert floats[0] == binning.bin_one(1) and floats[2] == binning.missing_bin
