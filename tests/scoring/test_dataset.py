"""The simulated modelling table: one row per credit-line application, outcomes drawn from the truth."""

from __future__ import annotations

import numpy as np
import pytest

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.scoring.dataset import (
    APPLICATION_FEATURES,
    credit_line_table,
    feature_frame,
    read_credit_line_table,
)
from creditmesh.simulate import SimulationConfig, simulate


@pytest.fixture(scope="module")
def platform():
    result = simulate(SimulationConfig(borrowers=4000, months=12, seed=2))
    return (
        result.tables["applications"].to_pandas(),
        result.tables["decisions"].to_pandas(),
        result.truth["applications"].to_pandas(),
    )


def test_one_row_per_credit_line_application_with_its_decision(platform):
    applications, decisions, truth = platform
    table = credit_line_table(applications, decisions, truth)
    lines = applications[applications.stage == "credit_line"]
    assert len(table) == len(lines) and table.application_id.is_unique
    outcome = decisions.set_index("application_id").outcome
    assert (table.approved == (table.application_id.map(outcome) == "approve")).all()
    assert set(APPLICATION_FEATURES) <= set(table.columns)
    assert not {"months_on_book", "max_dpd_on_book", "line_utilization"} & set(table.columns)


def test_outcomes_follow_the_true_pd_and_the_seed(platform):
    applications, decisions, truth = platform
    table = credit_line_table(applications, decisions, truth, seed=5)
    true_pd = table.application_id.map(truth.set_index("application_id").true_pd)
    expected = true_pd.mean()
    assert abs(table.bad_12m.mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / len(table))
    again = credit_line_table(applications, decisions, truth, seed=5)
    assert (again.bad_12m == table.bad_12m).all()


def test_a_folder_that_is_not_a_dataset_is_named(tmp_path):
    with pytest.raises(SchemaError, match="not a simulated dataset"):
        read_credit_line_table(tmp_path)


def test_the_features_are_every_column_but_the_target_ids_timestamps_and_those_dropped(platform):
    table = credit_line_table(*platform)
    features = feature_frame(table, "bad_12m", ["approved"])
    assert "bad_12m" not in features and "approved" not in features
    assert "application_id" not in features and "applied_at" not in features
    assert set(features.columns) <= {"channel", *APPLICATION_FEATURES}
    with pytest.raises(ParameterError, match="target: 'outcome' is not a column"):
        feature_frame(table, "outcome", [])
    with pytest.raises(ParameterError, match="drop: not columns of the table"):
        feature_frame(table, "bad_12m", ["nothing"])
