"""A seeded day of approved applications for the matching benchmark, drawn like the simulator's.

Regions follow the simulator's Zipf-like weights (``simulate.population``), tenors its drawdown
tenor mix (``simulate.platform.TENORS``/``TENOR_WEIGHTS``), APR its grade pricing
(``simulate.policy.GRADE_APR``), PD a log-normal over approved borrowers (median 2.5 %, capped at
the champion policy's approval range), amounts a log-normal around 5,000 CNY in 100-CNY steps.
Partners are the simulator's ``institutions`` table (``simulate.institutions.draw_institutions``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmesh.scoring.scorecard import BASE_ODDS, BASE_SCORE, PDO, scaling
from creditmesh.scoring.serve import grade_of
from creditmesh.simulate.institutions import draw_institutions
from creditmesh.simulate.platform import TENOR_WEIGHTS, TENORS
from creditmesh.simulate.policy import GRADE_APR, GRADE_PD_MAX
from creditmesh.simulate.population import REGIONS


def approved_day(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pd_ = np.clip(np.exp(rng.normal(np.log(0.025), 0.8, n)), 0.001, 0.2)
    factor, offset = scaling(PDO, BASE_SCORE, BASE_ODDS)
    score = np.round(offset + factor * np.log((1 - pd_) / pd_), 2)
    weights = 1.0 / np.arange(1, len(REGIONS) + 1) ** 0.8
    region = np.asarray(REGIONS, dtype=object)[rng.choice(len(REGIONS), n, p=weights / weights.sum())]
    tenor = TENORS[rng.choice(TENORS.size, n, p=TENOR_WEIGHTS)].astype(np.int64)
    amount = (np.clip(np.round(np.exp(rng.normal(np.log(5_000), 0.7, n)), -2), 500, 20_000) * 100).astype(
        np.int64
    )
    apr = np.asarray(GRADE_APR)[np.searchsorted(GRADE_PD_MAX, pd_, side="left").clip(0, len(GRADE_APR) - 1)]
    return pd.DataFrame(
        {
            "application_id": [f"AP{seed:02d}{k:08d}" for k in range(n)],
            "pd": pd_,
            "score": score,
            "grade": grade_of(pd_),
            "amount_minor": amount,
            "tenor_months": tenor,
            "region": region,
            "apr": apr,
        }
    )


def institutions(count: int = 160, seed: int = 7):
    """The simulator's institutions, plus partner-specific fee terms and acceptance rates (the simulator
    draws neither): each partner's fee within ±30 % of its funding model's default, its acceptance
    rate within ±0.1 of the default (risk-bearing fee: the APR less the funding cost, as the simulator)."""
    from creditmesh.matching.partners import DEFAULT_ACCEPTANCE_RATE, DEFAULT_FEE_RATE

    rng = np.random.default_rng(seed)
    table, _ = draw_institutions(rng, count)
    models = table["funding_model"].to_pylist()
    fee = [
        None if DEFAULT_FEE_RATE[m] is None else round(DEFAULT_FEE_RATE[m] * rng.uniform(0.7, 1.3), 4)
        for m in models
    ]
    accept = [round(min(1.0, DEFAULT_ACCEPTANCE_RATE[m] + rng.uniform(-0.1, 0.1)), 3) for m in models]
    return table.append_column("fee_rate", pa.array(fee, pa.float64())).append_column(
        "acceptance_rate", pa.array(accept)
    )
