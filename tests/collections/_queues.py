"""Queues built in memory (the columns build_queue returns), for tests that need many loans."""

from __future__ import annotations

import numpy as np
import pandas as pd

from creditmesh.collections.queue import QUEUE_COLUMNS, finish_queue


def random_queue(n: int, seed: int = 0, *, borrowers: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dpd = np.where(rng.random(n) < 0.1, 0, rng.integers(1, 200, n))
    overdue = np.where(dpd > 0, rng.integers(10_000, 500_000, n), 0)
    frame = pd.DataFrame(
        {
            "loan_id": [f"L{k:07d}" for k in range(n)],
            "borrower_id": [f"B{k:07d}" for k in rng.integers(0, borrowers or n, n)],
            "funding_model": "capital_heavy_on",
            "charged_off": dpd > 180,
            "dpd": dpd,
            "days_to_due": np.where(dpd == 0, rng.integers(0, 4, n), rng.integers(0, 30, n)),
            "balance_minor": overdue + rng.integers(0, 1_000_000, n),
            "overdue_principal_minor": overdue,
            "overdue_minor": overdue + overdue // 10,
            "due_soon_principal_minor": np.where(dpd == 0, rng.integers(10_000, 200_000, n), 0),
            "broken_promises": rng.poisson(0.3, n),
            "kept_promises": rng.poisson(0.2, n),
            "open_promise_minor": 0,
            "contacts_30d": rng.poisson(2, n),
            "days_since_contact": rng.integers(0, 40, n),
            "contacts_today": rng.integers(0, 3, n),
            "disputed": rng.random(n) < 0.03,
            "with_agency": (dpd > 90) & (rng.random(n) < 0.3),
        },
        columns=list(QUEUE_COLUMNS),
    )
    return finish_queue(frame)


def true_share(queue: pd.DataFrame, action: np.ndarray) -> np.ndarray:
    """A known response for the tests: calls help the 31-90 dpd loans, messages help a little, early loans
    mostly pay anyway, broken promises lower the chance."""
    dpd = queue["dpd"].to_numpy()
    base = (
        np.where(dpd <= 30, 0.7, np.where(dpd <= 90, 0.25, 0.05)) * 0.8 ** queue["broken_promises"].to_numpy()
    )
    lift = np.select(
        [action == "call", action == "sms", action == "app_push", action == "field_visit"],
        [np.where((dpd > 30) & (dpd <= 90), 0.3, 0.05), 0.04, 0.02, 0.2],
        0.0,
    )
    return np.clip(base + lift, 0, 1)
