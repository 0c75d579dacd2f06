"""Funding partners of every funding model, each with its own appetite and capacity."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pyarrow as pa

from creditmesh.funding import FUNDING_MODELS, MODELS
from creditmesh.ids import format_ids
from creditmesh.money import allocate
from creditmesh.simulate.population import REGIONS

#: How the partners split across funding models (the seeds: 162 partners, most of them banks
#: and consumer-finance companies funding capital-light loans).
MODEL_WEIGHTS = MappingProxyType({m.name: m.simulated_partner_weight for m in MODELS})
TENOR_CHOICES = (3, 6, 9, 12, 18, 24)
#: Appetite by model: (max_pd low, max_pd high). Risk-bearing money takes the riskier borrowers.
MAX_PD_RANGE = MappingProxyType({m.name: m.simulated_max_pd for m in MODELS})


def draw_institutions(rng: np.random.Generator, count: int) -> tuple[pa.Table, np.ndarray]:
    """The institutions table and each institution's funding-model index (for allocation)."""
    per_model = allocate(count, [MODEL_WEIGHTS[m] for m in FUNDING_MODELS])
    # every model gets at least one partner (count >= number of models is checked in the config)
    per_model = _at_least_one(per_model)
    model = np.repeat(np.arange(len(FUNDING_MODELS), dtype=np.int8), per_model)
    low = np.array([MAX_PD_RANGE[FUNDING_MODELS[m]][0] for m in model])
    high = np.array([MAX_PD_RANGE[FUNDING_MODELS[m]][1] for m in model])
    max_pd = np.round(low + (high - low) * rng.random(count), 3)
    tenors = []
    regions = []
    for _ in range(count):
        keep = rng.random(len(TENOR_CHOICES)) < 0.75
        keep[3] = True  # everyone funds 12 months
        tenors.append([t for t, k in zip(TENOR_CHOICES, keep) if k])
        regions.append(
            []
            if rng.random() < 0.6
            else sorted(rng.choice(REGIONS, size=int(rng.integers(3, 15)), replace=False).tolist())
        )
    apr_min = np.round(rng.uniform(0.07, 0.12, count), 4)
    apr_max = np.where(rng.random(count) < 0.8, 0.24, 0.36)
    capacity_rmb = np.round(rng.lognormal(17.2, 0.8, count), -4)
    table = pa.table(
        {
            "institution_id": format_ids("FI", np.arange(1, count + 1), width=4),
            "name": pa.array(
                [f"{MODELS[m].simulated_partner_name} {i + 1:04d}" for i, m in enumerate(model)]
            ),
            "funding_model": pa.array([FUNDING_MODELS[m] for m in model]),
            "max_pd": max_pd,
            "min_score": pa.array(rng.integers(0, 40, count) * 5, type=pa.int16()),
            "max_amount_minor": pa.array(
                (rng.choice([50_000, 100_000, 200_000], count) * 100).astype(np.int64)
            ),
            "tenors": pa.array(tenors, type=pa.list_(pa.int16())),
            "regions": pa.array(regions, type=pa.list_(pa.string())),
            "apr_min": apr_min,
            "apr_max": apr_max,
            "funding_cost": np.round(rng.uniform(0.03, 0.075, count), 4),
            "monthly_capacity_minor": pa.array((capacity_rmb * 100).astype(np.int64)),
        }
    )
    return table, model


def _at_least_one(counts: list[int]) -> list[int]:
    counts = list(counts)
    for i, c in enumerate(counts):
        if c == 0:
            donor = int(np.argmax(counts))
            counts[donor] -= 1
            counts[i] = 1
    return counts
