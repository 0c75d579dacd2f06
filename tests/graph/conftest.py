"""Fixtures of the graph tests."""

import pytest


@pytest.fixture(scope="session")
def small_platform():
    """A small simulated platform (seconds to make), shared by the tests that need realistic data."""
    from creditmesh.simulate import SimulationConfig, simulate

    return simulate(SimulationConfig(borrowers=4_000, months=12, seed=21, fraud_ring_share=0.02))
