"""Session fixtures: the simulator's institutions table, small, and the partners loaded from it."""

from __future__ import annotations

import numpy as np
import pytest

from creditmesh.matching import load_partners
from creditmesh.simulate.institutions import draw_institutions


@pytest.fixture(scope="session")
def institutions():
    table, _ = draw_institutions(np.random.default_rng(3), 40)
    return table


@pytest.fixture(scope="session")
def partners(institutions):
    return load_partners(institutions)
