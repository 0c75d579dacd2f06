"""Who arrives on the platform: borrowers, their observable features, their true risk, fraud rings.

Each borrower has a latent creditworthiness ``z``. The observable features
(income, employment, bureau history, device and behaviour signals) are noisy,
partly missing views of it, and the true 12-month probability of default is a
function of ``z`` plus risk the features cannot see. Fraudsters come in rings
that register in bursts and share devices, contacts, IPs and an employer; a
few act alone. The truth (``true_pd``, ``is_fraud``, ``ring_id``) is returned
beside the observables and written apart from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from creditmesh.schema import CHANNELS, EMPLOYMENT
from creditmesh.simulate.config import SimulationConfig

REGIONS = tuple(f"R{i:02d}" for i in range(1, 32))
#: Fraud rings hold between these many members.
RING_SIZE_MIN, RING_SIZE_MAX = 4, 16
#: Calibration of the true 12-month PD: logit(pd) = PD_INTERCEPT - PD_SLOPE * risk_z. The intercept is set so that
#: the book the engines approve (the champion's cut-off on a trained model, rings caught at arrival) defaults as
#: the seeds' 90 day+ rate implies (-2.5 when the placeholder rule decided; issue 14).
PD_INTERCEPT = -2.2
PD_SLOPE = 1.05


@dataclass(frozen=True)
class Population:
    """Borrowers as column arrays, row ``i`` is borrower ``i``."""

    registered_day: np.ndarray  # int32 days since config.start
    registered_second: np.ndarray  # int32 seconds into that day
    channel: np.ndarray  # int8 index into CHANNELS
    region: np.ndarray  # int8 index into REGIONS
    birth_year: np.ndarray  # int16
    z: np.ndarray  # float32 latent creditworthiness (higher is better)
    true_pd: np.ndarray  # float64 12-month PD
    is_fraud: np.ndarray  # bool
    ring: np.ndarray  # int32 ring number, -1 outside rings
    # observable features at registration
    monthly_income_minor: np.ndarray  # int64, -1 when missing
    employment: np.ndarray  # int8 index into EMPLOYMENT, -1 when missing
    bureau_score: np.ndarray  # int16, -1 for a thin file
    bureau_inquiries_6m: np.ndarray  # int16, -1 for a thin file
    bureau_delinquencies_24m: np.ndarray  # int16, -1 for a thin file
    device_age_days: np.ndarray  # int32
    apply_hour: np.ndarray  # int8
    contacts_count: np.ndarray  # int32
    household: np.ndarray  # int64 household number (families share an address)
    employer: np.ndarray  # int64 employer number

    @property
    def size(self) -> int:
        return int(self.z.shape[0])


def _arrival_days(
    rng: np.random.Generator, count: int, config: SimulationConfig, horizon_days: int
) -> np.ndarray:
    """Registration days: an installed base at the start, then a steady stream that grows ~2 % a month."""
    initial = rng.random(count) < config.initial_user_share
    days = np.empty(count, dtype=np.int32)
    days[initial] = rng.integers(0, min(28, horizon_days), initial.sum())
    stream = ~initial
    growth = 0.02 / 30.0
    u = rng.random(stream.sum())
    # inverse CDF of an exponentially growing arrival rate over [0, horizon_days)
    days[stream] = np.floor(np.log1p(u * np.expm1(growth * horizon_days)) / growth).astype(np.int32)
    return np.minimum(days, horizon_days - 1)


def draw_population(rng: np.random.Generator, config: SimulationConfig, horizon_days: int) -> Population:
    n = config.borrowers
    start_year = config.start.year
    registered_day = _arrival_days(rng, n, config, horizon_days)
    channel = rng.choice(len(CHANNELS), size=n, p=config.share_vector("channel_shares", CHANNELS)).astype(
        np.int8
    )
    region_weights = 1.0 / np.arange(1, len(REGIONS) + 1) ** 0.8
    region = rng.choice(len(REGIONS), size=n, p=region_weights / region_weights.sum()).astype(np.int8)
    age = np.clip(np.round(19 + rng.gamma(3.0, 4.5, n)), 18, 65).astype(np.int16)
    birth_year = (start_year - age).astype(np.int16)

    z = rng.standard_normal(n).astype(np.float32)
    # Employment: better-off applicants are more often salaried.
    employment_logits = np.stack(
        [
            1.2 + 0.6 * z,
            0.2 + 0.1 * z,
            0.3 - 0.3 * z,
            np.where(age < 24, 0.4, -3.0) + 0 * z,
            np.where(age > 55, 0.5, -4.0) + 0 * z,
            -1.6 - 0.7 * z,
        ],
        axis=1,
    )
    employment_p = np.exp(employment_logits - employment_logits.max(axis=1, keepdims=True))
    employment_p /= employment_p.sum(axis=1, keepdims=True)
    employment = (employment_p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1).astype(np.int8)
    employment_effect = np.array([0.0, 0.05, -0.25, -0.6, -0.3, -0.9])[employment]
    log_income = (
        8.55 + 0.32 * z + employment_effect + 0.012 * np.minimum(age - 18, 25) + 0.3 * rng.standard_normal(n)
    )
    monthly_income_minor = (np.round(np.exp(log_income) / 100) * 100 * 100).astype(np.int64)
    monthly_income_minor[rng.random(n) < 0.12] = -1
    employment = np.where(rng.random(n) < 0.05, -1, employment).astype(np.int8)

    thin_file = rng.random(n) < np.where(age < 25, 0.55, 0.3)
    bureau_score = np.clip(np.round(640 + 75 * (0.75 * z + 0.66 * rng.standard_normal(n))), 300, 900).astype(
        np.int16
    )
    inquiries = np.minimum(rng.poisson(np.exp(0.7 - 0.45 * z)), 60).astype(np.int16)
    delinquencies = np.minimum(rng.poisson(np.exp(-1.7 - 0.9 * z)), 30).astype(np.int16)
    for column in (bureau_score, inquiries, delinquencies):
        column[thin_file] = -1
    device_age_days = np.minimum(rng.exponential(420, n), 3000).astype(np.int32)
    apply_hour = np.clip(np.round(rng.normal(14, 4.5, n)), 0, 23).astype(np.int8)
    contacts_count = np.minimum(rng.lognormal(4.6, 0.7, n), 3000).astype(np.int32)

    # Risk the features cannot see, so that no model can be perfect.
    risk_z = (
        0.8 * z
        + 0.6 * rng.standard_normal(n)
        - 0.2 * (age < 23)
        - 0.35 * (employment == EMPLOYMENT.index("unemployed"))
    )
    true_pd = 1.0 / (1.0 + np.exp(-(PD_INTERCEPT - PD_SLOPE * risk_z)))

    household = _households(rng, n)
    employer = np.minimum(rng.zipf(1.6, n), 5_000_000).astype(np.int64)
    employer[employment != EMPLOYMENT.index("salaried")] = -1

    is_fraud = np.zeros(n, dtype=bool)
    ring = np.full(n, -1, dtype=np.int32)
    population = dict(
        registered_day=registered_day,
        registered_second=rng.integers(0, 86_400, n).astype(np.int32),
        channel=channel,
        region=region,
        birth_year=birth_year,
        z=z,
        true_pd=true_pd,
        is_fraud=is_fraud,
        ring=ring,
        monthly_income_minor=monthly_income_minor,
        employment=employment,
        bureau_score=bureau_score,
        bureau_inquiries_6m=inquiries,
        bureau_delinquencies_24m=delinquencies,
        device_age_days=device_age_days,
        apply_hour=apply_hour,
        contacts_count=contacts_count,
        household=household,
        employer=employer,
    )
    _plant_fraud(rng, config, population, horizon_days)
    return Population(**population)


def _households(rng: np.random.Generator, n: int) -> np.ndarray:
    """Families: consecutive borrowers grouped into households of 1-4 who share an address."""
    sizes = np.minimum(rng.geometric(0.75, n), 4)
    starts = np.cumsum(sizes)
    household = np.searchsorted(starts, np.arange(n), side="right").astype(np.int64)
    return rng.permutation(household)


def _plant_fraud(
    rng: np.random.Generator, config: SimulationConfig, p: dict[str, np.ndarray], horizon_days: int
) -> None:
    """Turn some borrowers into fraudsters: rings that burst in together, and a few loners.

    Fraudsters dress up their applications (declared income, a salaried job, a
    decent bureau file bought or borrowed) so that the features alone do not
    catch them; what gives rings away is what they share.
    """
    n = config.borrowers
    ring_members = int(round(config.fraud_ring_share * n))
    solo = int(round(config.fraud_solo_share * n))
    if ring_members + solo == 0:
        return
    chosen = rng.choice(n, size=min(n, ring_members + solo), replace=False)
    in_rings, alone = chosen[:ring_members], chosen[ring_members:]
    sizes: list[int] = []
    remaining = len(in_rings)
    while remaining > 0:
        size = min(remaining, int(rng.integers(RING_SIZE_MIN, RING_SIZE_MAX + 1)))
        sizes.append(size)
        remaining -= size
    ring_of_member = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    p["ring"][in_rings] = ring_of_member
    # rings strike throughout the period (stratified, so a small run is not at the mercy of a few bursts)
    rings = len(sizes)
    burst_day = (
        (rng.permutation(rings) + rng.random(rings)) / max(rings, 1) * max(1, horizon_days - 60)
    ).astype(np.int64)
    p["registered_day"][in_rings] = burst_day[ring_of_member] + rng.integers(0, 7, len(in_rings))
    fraud = chosen
    p["is_fraud"][fraud] = True
    p["true_pd"][fraud] = 1.0
    k = len(fraud)
    p["employment"][fraud] = EMPLOYMENT.index("salaried")
    p["monthly_income_minor"][fraud] = (np.round(rng.lognormal(9.0, 0.25, k) / 100) * 100 * 100).astype(
        np.int64
    )
    thin = rng.random(k) < 0.5
    p["bureau_score"][fraud] = np.where(thin, -1, rng.integers(600, 720, k)).astype(np.int16)
    p["bureau_inquiries_6m"][fraud] = np.where(thin, -1, rng.integers(0, 4, k)).astype(np.int16)
    p["bureau_delinquencies_24m"][fraud] = np.where(thin, -1, 0).astype(np.int16)
    # Weak individual tells: new devices, late-night sessions, few contacts.
    p["device_age_days"][fraud] = rng.exponential(40, k).astype(np.int32)
    p["apply_hour"][fraud] = np.where(
        rng.random(k) < 0.4, rng.integers(0, 5, k), rng.integers(9, 22, k)
    ).astype(np.int8)
    p["contacts_count"][fraud] = rng.integers(5, 60, k).astype(np.int32)
    p["employer"][in_rings] = 10_000_000 + ring_of_member  # the ring's shell company
    p["employer"][alone] = np.minimum(rng.zipf(1.6, len(alone)), 5_000_000)
    p["household"][in_rings] = (
        20_000_000 + ring_of_member * 3 + rng.integers(0, 3, len(in_rings))
    )  # drop addresses
