"""Small helpers shared by tests of several boxes."""

from __future__ import annotations

import numpy as np


def split_half(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random half of ``range(n)`` and the other half."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 :])


def small_credit_line_applications(borrowers: int = 3000, months: int = 6, seed: int = 3):
    """The credit-line applications of a small simulated platform (features and ``bad_12m``), in seconds."""
    from creditmesh.scoring.dataset import credit_line_table
    from creditmesh.simulate import SimulationConfig, simulate

    result = simulate(SimulationConfig(borrowers=borrowers, months=months, seed=seed))
    table = credit_line_table(
        result.tables["applications"].to_pandas(),
        result.tables["decisions"].to_pandas(),
        result.truth["applications"].to_pandas(),
    )
    return table.drop(columns=["approved", "bad_12m"]).assign(bad_12m=table["bad_12m"])


def small_gbm(applications):
    """A quickly trained GBM (one thread) on the application features the simulator asks with (no channel)."""
    from creditmesh.scoring import GBMClassifier
    from creditmesh.scoring.dataset import APPLICATION_FEATURES

    return GBMClassifier(n_splits=2, learning_rate=0.2, max_rounds=40, early_stopping=10, num_threads=1).fit(
        applications[list(APPLICATION_FEATURES)], applications["bad_12m"]
    )


def application_of(row) -> dict:
    """A table row as one application: a mapping of features, with missing values as None."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
