"""The simulator's parameters, declared once and checked before anything is written."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from types import MappingProxyType

from creditmesh.errors import ParameterError
from creditmesh.funding import FUNDING_MODELS, MODELS
from creditmesh.schema import CHANNELS

#: Caps that keep one run bounded (TigerBeetle: put a limit on everything).
BORROWERS_MAX = 50_000_000
MONTHS_MAX = 120
INSTITUTIONS_MAX = 10_000


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Defaults are calibrated to the seeds' disclosures (Q4 2024).

    Shares are fractions that must sum to 1. ``channel_shares`` is the mix of new
    users by acquisition channel (the seeds: ~47 % embedded finance in late 2024);
    ``funding_shares`` the mix of loan volume by funding model (the seeds: 53.2 %
    capital-light, ICE and technology solutions in Q4 2024; each model's
    ``simulated_volume_share`` in :mod:`creditmesh.funding`).
    """

    borrowers: int = 20_000
    months: int = 24
    seed: int = 0
    start: date = date(2023, 1, 1)
    institutions: int = 160
    channel_shares: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"app": 0.36, "embedded": 0.47, "partner": 0.14, "offline": 0.03})
    )
    funding_shares: Mapping[str, float] = field(
        default_factory=lambda: _frozen({m.name: m.simulated_volume_share for m in MODELS})
    )
    #: Share of registered users who belong to a fraud ring.
    fraud_ring_share: float = 0.004
    #: Share of registered users who commit fraud alone (no shared identifiers to find them by): first-party
    #: fraud the graph cannot see, which draws a whole line and never pays (0.001 before the engines caught the
    #: rings; calibrated with the 90 day+ rate, issue 14).
    fraud_solo_share: float = 0.012
    #: Share of users already registered when the simulation starts (the platform is not new).
    initial_user_share: float = 0.55

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel_shares", _frozen(self.channel_shares))
        object.__setattr__(self, "funding_shares", _frozen(self.funding_shares))
        for problem in self.problems():
            raise ParameterError(*problem)

    def problems(self) -> list[tuple[str, str]]:
        """Every parameter that is out of range, as (parameter, reason) pairs."""
        found: list[tuple[str, str]] = []

        def bounded(name: str, value: object, low: float, high: float, *, integer: bool) -> None:
            kind = int if integer else (int, float)
            if isinstance(value, bool) or not isinstance(value, kind):
                found.append((name, f"must be {'an integer' if integer else 'a number'}, got {value!r}"))
            elif not (low <= value <= high) or (not integer and not math.isfinite(value)):
                found.append((name, f"must be between {low:g} and {high:g}, got {value!r}"))

        bounded("borrowers", self.borrowers, 1, BORROWERS_MAX, integer=True)
        bounded("months", self.months, 1, MONTHS_MAX, integer=True)
        bounded("seed", self.seed, 0, 2**63 - 1, integer=True)
        bounded("institutions", self.institutions, len(FUNDING_MODELS), INSTITUTIONS_MAX, integer=True)
        bounded("fraud_ring_share", self.fraud_ring_share, 0.0, 0.2, integer=False)
        bounded("fraud_solo_share", self.fraud_solo_share, 0.0, 0.2, integer=False)
        bounded("initial_user_share", self.initial_user_share, 0.0, 1.0, integer=False)
        if not isinstance(self.start, date):
            found.append(("start", f"must be a date, got {self.start!r}"))
        for name, shares, allowed in (
            ("channel_shares", self.channel_shares, CHANNELS),
            ("funding_shares", self.funding_shares, FUNDING_MODELS),
        ):
            unknown = sorted(set(shares) - set(allowed))
            if unknown:
                found.append((name, f"unknown key(s) {unknown}; allowed: {list(allowed)}"))
                continue
            values = list(shares.values())
            if any(
                isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0
                for v in values
            ):
                found.append((name, "every share must be a number >= 0"))
            elif abs(sum(values) - 1.0) > 1e-9:
                found.append((name, f"shares must sum to 1, they sum to {sum(values):.6g}"))
        return found

    def share_vector(self, name: str, keys: tuple[str, ...]) -> list[float]:
        shares = getattr(self, name)
        return [float(shares.get(key, 0.0)) for key in keys]

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready record of the configuration, written beside the data."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = (
                dict(value)
                if isinstance(value, Mapping)
                else value.isoformat()
                if isinstance(value, date)
                else value
            )
        return out
