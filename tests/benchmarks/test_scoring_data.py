"""The scoring benchmarks' loaders: targets to bad = 1, features in the models' contract, one split for all."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import _scoring_data as data  # noqa: E402


def test_string_targets_map_bad_to_one_whatever_the_case():
    y = data.target_to_binary(pd.Series(["good", "BAD", "good", "bad"], name="creditability"))
    assert y.tolist() == [0, 1, 0, 1]
    assert data.target_to_binary(pd.Series(["no", "yes", "no"], name="deny")).tolist() == [0, 1, 0]


def test_numeric_zero_one_target_is_kept_and_an_explicit_bad_label_wins():
    assert data.target_to_binary(pd.Series([0, 1, 1, 0])).tolist() == [0, 1, 1, 0]
    assert data.target_to_binary(pd.Series(["A", "B", "A"], name="t"), bad="a").tolist() == [1, 0, 1]
    assert data.target_to_binary(pd.Series([1, 2, 2]), bad=2).tolist() == [0, 1, 1]
    with pytest.raises(data.DataError, match="no value"):
        data.target_to_binary(pd.Series([1, 2, 2], name="t"), bad=3)


@pytest.mark.parametrize("values", [["x", "y", "z"], ["p", "q"], [0, 1, None], [1, 2]])
def test_unusable_targets_are_refused_with_the_column_named(values):
    with pytest.raises(data.DataError, match="target"):
        data.target_to_binary(pd.Series(values, name="target"))


def test_features_drop_ids_and_named_columns_and_follow_the_model_contract():
    frame = pd.DataFrame(
        {
            "ID": [1, 2, 3],
            "loan_id": ["a", "b", "c"],
            "income": [1, None, 3],
            "grade": ["A", None, "B"],
            "flag": [True, False, True],
            "afam": ["no", "yes", "no"],
            "target": [0, 1, 0],
        }
    )
    X = data.prepare_features(frame, target="target", drop=("afam",))
    assert list(X.columns) == ["income", "grade", "flag"]
    assert X["income"].dtype == np.float64 and np.isnan(X.loc[1, "income"])
    assert X["grade"].dtype == object and X["grade"].tolist()[0] == "A" and pd.isna(X.loc[1, "grade"])
    assert X["flag"].tolist() == ["True", "False", "True"]
    with pytest.raises(data.DataError, match="no such columns"):
        data.prepare_features(frame, target="target", drop=("nope",))


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_a_modellers_file_loads_as_features_and_binary_target(tmp_path, suffix):
    frame = pd.DataFrame(
        {"Id": range(6), "x": [1.0, 2, 3, 4, 5, 6], "c": list("abcabc"), "Class": ["good", "bad"] * 3}
    )
    path = tmp_path / f"book{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    X, y = data.load_table(path, "Class")
    assert list(X.columns) == ["x", "c"] and y.tolist() == [0, 1] * 3
    with pytest.raises(data.DataError, match="no target column"):
        data.load_table(path, "missing")


def test_folds_are_stratified_and_the_same_on_every_call():
    y = np.array([0] * 90 + [1] * 10)
    first, second = data.stratified_folds(y, 5), data.stratified_folds(y, 5)
    for (train_a, test_a), (train_b, test_b) in zip(first, second):
        assert np.array_equal(test_a, test_b) and np.array_equal(train_a, train_b)
        assert y[test_a].sum() == 2 and len(test_a) == 20
    assert sorted(np.concatenate([test for _, test in first]).tolist()) == list(range(100))


def test_dataset_names_accept_the_readme_folders_and_refuse_unknown_ones():
    assert data.resolve_names("taiwan_credit_card_default,hmda_no_insurance") == [
        "taiwan",
        "hmda_no_insurance",
    ]
    assert data.resolve_names(None) == list(data.DATASETS)
    with pytest.raises(data.DataError, match="unknown data set"):
        data.resolve_names("nope")


def test_hmda_never_feeds_the_protected_attribute_to_a_model():
    for name in ("hmda", "hmda_no_insurance"):
        assert "afam" in data.DATASETS[name].drop
    assert "insurance" in data.DATASETS["hmda_no_insurance"].drop
