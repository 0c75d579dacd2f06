"""IRB retail risk weights equal the BCBS formula worked independently; the standardised 75 % beside them."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from creditmesh.errors import ParameterError
from creditmesh.finance.capital import (
    correlation,
    irb_capital_requirement,
    irb_risk_weight,
    standardised_risk_weight,
)

N = NormalDist()


def bcbs_k(pd: float, lgd: float, r: float) -> float:
    """Basel II paragraph 328 written out, no maturity adjustment (retail)."""
    return lgd * N.cdf((N.inv_cdf(pd) + math.sqrt(r) * N.inv_cdf(0.999)) / math.sqrt(1 - r)) - pd * lgd


def other_retail_r(pd: float) -> float:
    w = (1 - math.exp(-35 * pd)) / (1 - math.exp(-35))
    return 0.03 * w + 0.16 * (1 - w)


def test_other_retail_at_pd_1_percent_lgd_45_percent():
    r = other_retail_r(0.01)
    assert r == pytest.approx(0.12161, abs=1e-5)  # 0.03 x 0.2953 + 0.16 x 0.7047
    k = bcbs_k(0.01, 0.45, r)
    assert irb_capital_requirement([0.01], 0.45)[0] == pytest.approx(k, rel=1e-12)
    assert irb_risk_weight([0.01], 0.45, rules="basel3")[0] == pytest.approx(12.5 * k, rel=1e-12)
    assert irb_risk_weight([0.01], 0.45, rules="basel2")[0] == pytest.approx(1.06 * 12.5 * k, rel=1e-12)
    assert 12.5 * k == pytest.approx(0.4577, abs=1e-4)  # K = 3.66 %: well below the standardised 75 %


def test_qualifying_revolving_uses_a_flat_4_percent_correlation():
    for pd in (0.002, 0.01, 0.05, 0.2):
        k = bcbs_k(pd, 0.85, 0.04)
        assert irb_capital_requirement([pd], 0.85, segment="qualifying_revolving")[0] == pytest.approx(
            k, rel=1e-12
        )
    assert correlation(np.array([0.3]), "qualifying_revolving")[0] == 0.04


def test_the_other_retail_correlation_runs_from_16_to_3_percent():
    assert correlation(np.array([0.0]), "other_retail")[0] == pytest.approx(0.16)
    assert correlation(np.array([1.0]), "other_retail")[0] == pytest.approx(0.03, abs=1e-12)
    values = correlation(np.linspace(0, 1, 50), "other_retail")
    assert (np.diff(values) <= 0).all()


def test_pd_floors_defaults_and_bad_input():
    floored = bcbs_k(0.0005, 0.45, other_retail_r(0.0005))
    assert irb_capital_requirement([0.0], 0.45, rules="basel3")[0] == pytest.approx(floored, rel=1e-12)
    basel2 = bcbs_k(0.0003, 0.45, other_retail_r(0.0003))
    assert irb_capital_requirement([0.0001], 0.45, rules="basel2")[0] == pytest.approx(basel2, rel=1e-12)
    assert irb_capital_requirement([1.0], 0.45)[0] == 0.0
    with pytest.raises(ParameterError, match="pd"):
        irb_capital_requirement([1.5], 0.45)
    with pytest.raises(ParameterError, match="segment"):
        irb_capital_requirement([0.01], 0.45, segment="mortgage")
    with pytest.raises(ParameterError, match="rules"):
        irb_risk_weight([0.01], 0.45, rules="basel4")


def test_standardised_retail_is_75_percent_and_150_once_past_due_90_days():
    assert standardised_risk_weight([0, 30, 90, 91]).tolist() == [0.75, 0.75, 0.75, 1.5]
