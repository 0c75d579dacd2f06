"""Partner definitions and days of approved applications for the matching tests, drawn here (no shared data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from creditmesh.scoring.serve import grade_of


def partner(institution_id: str = "P1", **overrides) -> dict:
    """One valid partner definition; ``overrides`` change any field."""
    record = {
        "institution_id": institution_id,
        "name": institution_id,
        "funding_model": "capital_light",
        "max_pd": 0.2,
        "min_score": 0,
        "max_amount_minor": 2_000_000,
        "tenors": [3, 6, 12],
        "regions": [],
        "apr_min": 0.05,
        "apr_max": 0.36,
        "funding_cost": 0.05,
        "monthly_capacity_minor": 10_000_000,
    }
    record.update(overrides)
    return record


def day(n: int, seed: int, *, regions: int = 5) -> pd.DataFrame:
    """A day of approved applications like the simulator's: PD, score, amount, tenor, region, APR."""
    rng = np.random.default_rng(seed)
    p = np.clip(np.exp(rng.normal(np.log(0.03), 0.8, n)), 0.001, 0.3)
    return pd.DataFrame(
        {
            "application_id": [f"A{seed}-{k}" for k in range(n)],
            "pd": p,
            "score": np.round(600 + 28.85 * np.log((1 - p) / p / 50), 2),
            "grade": grade_of(p),
            "amount_minor": (rng.integers(5, 200, n) * 10_000).astype(np.int64),
            "tenor_months": rng.choice([3, 6, 9, 12, 18, 24], n).astype(np.int64),
            "region": np.array([f"R{k:02d}" for k in range(1, regions + 1)], dtype=object)[
                rng.integers(0, regions, n)
            ],
            "apr": rng.choice([0.12, 0.15, 0.18, 0.21, 0.24, 0.30], n),
        }
    )
