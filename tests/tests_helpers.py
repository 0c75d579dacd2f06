"""Small helpers shared by tests of several boxes."""

from __future__ import annotations

import numpy as np


def split_half(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random half of ``range(n)`` and the other half."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])
