"""A small simulated platform and a quickly trained GBM for the decision tests (seconds, one thread)."""

from __future__ import annotations

import pytest

from creditmesh.decision import default_policy_path, load_policy
from creditmesh.scoring import GBMClassifier
from creditmesh.scoring.dataset import APPLICATION_FEATURES, credit_line_table
from creditmesh.simulate import SimulationConfig, simulate


@pytest.fixture(scope="session")
def platform():
    result = simulate(SimulationConfig(borrowers=3000, months=6, seed=3))
    return (result.tables["applications"].to_pandas(), result.tables["decisions"].to_pandas(),
            result.truth["applications"].to_pandas())


@pytest.fixture(scope="session")
def applications(platform):
    table = credit_line_table(*platform)
    return table.drop(columns=["approved", "bad_12m"]).assign(bad_12m=table["bad_12m"])


@pytest.fixture(scope="session")
def model(applications):
    X = applications[list(APPLICATION_FEATURES)]  # the simulator asks without a channel
    return GBMClassifier(n_splits=2, learning_rate=0.2, max_rounds=40, early_stopping=10, num_threads=1).fit(
        X, applications["bad_12m"])


@pytest.fixture(scope="session")
def policy():
    return load_policy(default_policy_path())
