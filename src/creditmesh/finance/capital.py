"""Regulatory capital for retail credit: the Basel IRB risk-weight formula beside the standardised approach.

The IRB retail formula (Basel II paragraphs 328-330; Basel framework CRE31.14-31.16), with no maturity
adjustment for retail exposures::

    K  = LGD x N[ G(PD) / sqrt(1 - R) + sqrt(R / (1 - R)) x G(0.999) ] - PD x LGD
    RW = K x 12.5 x scaling

``N`` is the standard normal distribution function and ``G`` its inverse. The asset correlation ``R`` is
0.04 for qualifying revolving retail exposures and, for other retail exposures,
``0.03 x w + 0.16 x (1 - w)`` with ``w = (1 - exp(-35 PD)) / (1 - exp(-35))``. Basel II multiplies IRB
risk-weighted assets by 1.06 (paragraph 44); the final Basel III framework drops the scaling and raises
the PD floor. A defaulted exposure (PD = 1) needs ``max(0, LGD - EL_BE)``; with the best estimate of the
expected loss equal to the LGD, nothing more. The standardised approach weighs regulatory retail
exposures at 75 % and the unsecured part of a loan past due more than 90 days at 150 % (its specific
provisions below 20 %: the book's loans carry none in this sense).

Risk weights are fractions; risk-weighted assets are minor units (the weight rounded to a millionth).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from creditmesh import funding
from creditmesh.errors import ParameterError
from creditmesh.money import Rounding, mul_rate_array, rate_to_ppm

if TYPE_CHECKING:
    import pandas as pd

    from creditmesh.portfolio import ECLResult

#: Confidence level of the IRB formula.
CONFIDENCE = 0.999
#: Asset correlation of qualifying revolving retail exposures.
QRR_CORRELATION = 0.04
#: Other retail: the correlation runs from 0.16 (PD near 0) down to 0.03 (high PD), weighted by exp(-35 PD).
OTHER_RETAIL_CORRELATION = (0.03, 0.16)
OTHER_RETAIL_DECAY = 35.0
#: Retail segments the formula knows.
SEGMENTS = ("qualifying_revolving", "other_retail")


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A regulator's parameters for retail credit risk."""

    name: str
    #: Multiplier on IRB risk-weighted assets.
    scaling: float
    #: Lowest PD the IRB formula may use, by segment.
    pd_floor: Mapping[str, float]
    #: Standardised risk weight of a regulatory retail exposure.
    standardised_retail_weight: float
    #: Standardised weight of a loan past due more than 90 days.
    standardised_past_due_weight: float
    #: Minimum total capital, a fraction of risk-weighted assets.
    capital_ratio: float = 0.08


RULE_SETS: Mapping[str, RuleSet] = MappingProxyType(
    {
        "basel2": RuleSet(
            "basel2",
            1.06,
            MappingProxyType({"qualifying_revolving": 0.0003, "other_retail": 0.0003}),
            0.75,
            1.50,
        ),
        "basel3": RuleSet(
            "basel3",
            1.0,
            MappingProxyType({"qualifying_revolving": 0.001, "other_retail": 0.0005}),
            0.75,
            1.50,
        ),
    }
)


def correlation(pd_: np.ndarray, segment: str) -> np.ndarray:
    """Asset correlation R of each exposure of ``segment``."""
    pd_ = np.asarray(pd_, dtype=float)
    if segment == "qualifying_revolving":
        return np.full(pd_.shape, QRR_CORRELATION)
    if segment == "other_retail":
        low, high = OTHER_RETAIL_CORRELATION
        weight = (1 - np.exp(-OTHER_RETAIL_DECAY * pd_)) / (1 - np.exp(-OTHER_RETAIL_DECAY))
        return low * weight + high * (1 - weight)
    raise ParameterError("segment", f"expected one of {list(SEGMENTS)}, got {segment!r}")


def irb_capital_requirement(pd_, lgd, *, segment: str = "other_retail", rules: str = "basel3") -> np.ndarray:
    """K per unit of exposure, from the formula in the module notes (PD floored; defaulted exposures 0)."""
    from scipy.special import ndtr, ndtri

    rule = rule_set(rules)
    pd_ = np.asarray(pd_, dtype=float)
    lgd = np.broadcast_to(np.asarray(lgd, dtype=float), pd_.shape)
    if np.any((pd_ < 0) | (pd_ > 1) | np.isnan(pd_)):
        raise ParameterError("pd", "every PD must be in [0, 1]")
    if np.any((lgd < 0) | (lgd > 1) | np.isnan(lgd)):
        raise ParameterError("lgd", "every LGD must be in [0, 1]")
    if segment not in SEGMENTS:
        raise ParameterError("segment", f"expected one of {list(SEGMENTS)}, got {segment!r}")
    defaulted = pd_ >= 1
    floored = np.clip(pd_, rule.pd_floor[segment], 1 - 1e-12)
    r = correlation(floored, segment)
    stressed = ndtr((ndtri(floored) + np.sqrt(r) * ndtri(CONFIDENCE)) / np.sqrt(1 - r))
    k = lgd * stressed - floored * lgd
    return np.where(defaulted, 0.0, np.maximum(k, 0.0))


def irb_risk_weight(pd_, lgd, *, segment: str = "other_retail", rules: str = "basel3") -> np.ndarray:
    """RW = K x 12.5 x the rule set's scaling."""
    rule = rule_set(rules)
    return irb_capital_requirement(pd_, lgd, segment=segment, rules=rules) * 12.5 * rule.scaling


def standardised_risk_weight(dpd, *, rules: str = "basel3") -> np.ndarray:
    """75 % for a regulatory retail exposure; 150 % once more than 90 days past due."""
    rule = rule_set(rules)
    dpd = np.asarray(dpd)
    return np.where(dpd > 90, rule.standardised_past_due_weight, rule.standardised_retail_weight)


def rule_set(name: str) -> RuleSet:
    try:
        return RULE_SETS[name]
    except KeyError:
        raise ParameterError("rules", f"expected one of {list(RULE_SETS)}, got {name!r}") from None


@dataclass(frozen=True)
class CapitalResult:
    """Per loan (``loans``) and for the book (:meth:`summary`), under both approaches."""

    rules: str
    segment: str
    loans: pd.DataFrame

    def summary(self) -> dict[str, float | int]:
        """EAD, risk-weighted assets and capital under IRB and the standardised approach, and their densities."""
        rule = rule_set(self.rules)
        ead = int(self.loans["ead_minor"].sum())
        irb = int(self.loans["irb_rwa_minor"].sum())
        standardised = int(self.loans["standardised_rwa_minor"].sum())
        return {
            "loans": len(self.loans),
            "ead_minor": ead,
            "irb_rwa_minor": irb,
            "standardised_rwa_minor": standardised,
            "irb_density": irb / ead if ead else float("nan"),
            "standardised_density": standardised / ead if ead else float("nan"),
            "irb_capital_minor": _capital(irb, rule.capital_ratio),
            "standardised_capital_minor": _capital(standardised, rule.capital_ratio),
        }


def _capital(rwa_minor: int, ratio: float) -> int:
    return int(mul_rate_array(np.array([rwa_minor]), rate_to_ppm(ratio), 1, rounding=Rounding.CEILING)[0])


def regulatory_capital(
    ecl: ECLResult, *, segment: str = "other_retail", rules: str = "basel3"
) -> CapitalResult:
    """Both approaches for every loan whose credit risk the platform bears, from an ECL run's EAD, PD and LGD.

    The IRB PD is the 12-month PD; a guaranteed partner's loan is the platform's exposure in full (a credit
    substitute, conversion factor 100 %).
    """
    loans = ecl.loans
    loans = loans[loans["funding_model"].isin(funding.RISK_BEARING_MODELS)].copy()
    pd_ = np.where(loans["stage"].to_numpy() == 3, 1.0, loans["pd_12m"].to_numpy(dtype=float))
    lgd = loans["lgd"].to_numpy(dtype=float)
    loans["irb_risk_weight"] = irb_risk_weight(pd_, lgd, segment=segment, rules=rules)
    loans["standardised_risk_weight"] = standardised_risk_weight(loans["dpd"].to_numpy(), rules=rules)
    ead = loans["ead_minor"].to_numpy(dtype=np.int64)
    for approach in ("irb", "standardised"):
        weight = rate_to_ppm(loans[f"{approach}_risk_weight"].to_numpy())
        loans[f"{approach}_rwa_minor"] = mul_rate_array(ead, weight, 1, rounding=Rounding.HALF_UP)
    columns = [
        "loan_id",
        "funding_model",
        "stage",
        "dpd",
        "ead_minor",
        "pd_12m",
        "lgd",
        "irb_risk_weight",
        "irb_rwa_minor",
        "standardised_risk_weight",
        "standardised_rwa_minor",
    ]
    return CapitalResult(rules, segment, loans[columns].reset_index(drop=True))
