"""Tables for the scoring tests: a synthetic credit table with every kind of awkward column, and German credit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


def synthetic_credit(n: int = 6000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Numbers with missing values and a sentinel, a rare-heavy category, a boolean; bads from a known logit."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(8, 0.6, n)
    utilisation = rng.beta(2, 3, n)
    age = rng.integers(18, 75, n).astype(float)
    months_late = rng.poisson(0.4, n).astype(float)
    months_late[rng.random(n) < 0.05] = 98.0  # sentinel: "not reported"
    channel = rng.choice(
        ["app", "embedded", "partner", "offline", "kiosk"], n, p=[0.5, 0.25, 0.15, 0.095, 0.005]
    )
    has_car = rng.random(n) < 0.4
    logit = (
        -1.5
        - 0.6 * (np.log(income) - 8)
        + 2.0 * utilisation
        - 0.02 * (age - 40)
        + 0.5 * np.minimum(months_late, 5)
        + np.where(channel == "partner", 0.5, 0.0)
        - 0.3 * has_car
        + 0.8 * (utilisation > 0.7) * (age < 30)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    income[rng.random(n) < 0.08] = np.nan
    frame = pd.DataFrame(
        {
            "income": income,
            "utilisation": utilisation,
            "age": age,
            "months_late": months_late,
            "channel": channel,
            "has_car": has_car,
        }
    )
    return frame, y


@pytest.fixture(scope="session")
def make_credit():
    """:func:`synthetic_credit` itself, for tests that need several independent tables."""
    return synthetic_credit


@pytest.fixture(scope="session")
def credit() -> tuple[pd.DataFrame, np.ndarray]:
    return synthetic_credit()


@pytest.fixture(scope="session")
def german() -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_csv(DATA / "german_credit.csv.gz")
    y = (frame.pop("creditability") == "bad").astype(int).to_numpy()
    return frame, y
