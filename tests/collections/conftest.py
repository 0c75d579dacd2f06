"""Collections fixtures: a fresh ledger on each engine (the ledger tests' fixtures), and the shipped strategy."""

from __future__ import annotations

import pytest
from ledger.conftest import ledger, ledger_url  # noqa: F401 - fixtures shared with the ledger's tests

from creditmesh.collections import default_strategy_path, load_strategy


@pytest.fixture(scope="session")
def champion():
    return load_strategy(default_strategy_path())
