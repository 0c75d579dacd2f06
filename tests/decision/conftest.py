"""A small simulated platform and a quickly trained GBM for the decision tests (seconds, one thread)."""

from __future__ import annotations

import pytest
from tests_helpers import small_credit_line_applications, small_gbm

from creditmesh.decision import default_policy_path, load_policy


@pytest.fixture(scope="session")
def applications():
    return small_credit_line_applications()


@pytest.fixture(scope="session")
def model(applications):
    return small_gbm(applications)


@pytest.fixture(scope="session")
def policy():
    return load_policy(default_policy_path())
