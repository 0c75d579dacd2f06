"""The platform's expected margin on one (application, partner) pair, by funding model.

Money in is integer minor units; the margin is an expected value, so it is a float of minor
units (never booked: the ledger books real fees). For an amount ``A`` over ``n`` months at APR
``r``, 12-month PD ``p``, loss given default ``LGD``:

- balance-years ``B = A · (n + 1) / 24`` (the average outstanding of an amortising loan, ``A (n+1) / 2n``,
  times ``n / 12`` years);
- PD over the tenor ``p_n = 1 − (1 − p)^(n/12)``; exposure at default the average outstanding
  ``EAD = A (n + 1) / 2n``; expected loss ``EL = p_n · LGD · EAD``.

Margin by formula (each funding model names its ``margin_formula`` in :mod:`creditmesh.funding`;
``f`` is the partner's fee rate, ``c`` its annual funding cost):

- ``spread_less_loss`` (``capital_heavy_on``, the platform's balance sheet): interest income − funding
  cost − expected loss, ``(r − c) · B − EL``;
- ``fee_less_loss`` (``capital_heavy_off``, a partner funds, the platform guarantees): guarantee and
  service fee − the loss the guarantee bears, ``f · B − EL``, with ``f = r − c`` unless the partner
  names one;
- ``fee_share`` (``capital_light``, a partner funds and bears the risk; ``tech_solution``, the partner
  runs it on the platform's technology): the service or tech fee, ``f · B``;
- ``one_off_fee`` (``ice``, a referral: no principal, no risk): the referral fee, once, ``f · A``.

The expected margin the optimiser maximises is ``P(accept) · margin``: a declined referral earns
nothing and costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from creditmesh.funding import MODELS
from creditmesh.matching.applications import Applications
from creditmesh.matching.partners import Partners

#: Loss given default on unsecured consumer credit where the platform bears the loss (a fraction of EAD).
DEFAULT_LGD = 0.85


@dataclass(frozen=True)
class PairTerms:
    """What a margin formula reads, one entry per (application, partner) pair (float arrays, minor units)."""

    apr: np.ndarray
    funding_cost: np.ndarray
    fee_rate: np.ndarray
    amount: np.ndarray
    balance_years: np.ndarray
    expected_loss: np.ndarray


#: Each of :data:`creditmesh.funding.MARGIN_FORMULAS`, as written in the module docstring.
FORMULAS: Mapping[str, Callable[[PairTerms], np.ndarray]] = MappingProxyType(
    {
        "spread_less_loss": lambda t: (t.apr - t.funding_cost) * t.balance_years - t.expected_loss,
        "fee_less_loss": lambda t: t.fee_rate * t.balance_years - t.expected_loss,
        "fee_share": lambda t: t.fee_rate * t.balance_years,
        "one_off_fee": lambda t: t.fee_rate * t.amount,
    }
)
#: Each funding model's formula, as an index into :data:`FORMULAS`, in ``Partners.model`` order.
FORMULA_OF_MODEL = np.array([list(FORMULAS).index(m.margin_formula) for m in MODELS], dtype=np.int8)


def pair_margin(
    applications: Applications,
    partners: Partners,
    app_index: np.ndarray,
    partner_index: np.ndarray,
    *,
    lgd: float = DEFAULT_LGD,
) -> np.ndarray:
    """The margin (float minor units, before acceptance) of each pair given as parallel index arrays."""
    amount = applications.amount_minor[app_index].astype(np.float64)
    n = applications.tenor_months[app_index].astype(np.float64)
    r = applications.apr[app_index]
    p = applications.pd[app_index]
    cost = partners.funding_cost[partner_index]
    fee = partners.fee_rate[partner_index]
    fee = np.where(np.isnan(fee), r - cost, fee)
    balance_years = amount * (n + 1.0) / 24.0
    loss = -np.expm1(n / 12.0 * np.log1p(-np.minimum(p, 1 - 1e-12))) * lgd * amount * (n + 1.0) / (2.0 * n)
    terms = PairTerms(r, cost, fee, amount, balance_years, loss)
    formula = FORMULA_OF_MODEL[partners.model[partner_index]]
    return np.select([formula == k for k in range(len(FORMULAS))], [f(terms) for f in FORMULAS.values()])


def expected_margin(
    applications: Applications,
    partners: Partners,
    app_index: np.ndarray,
    partner_index: np.ndarray,
    *,
    lgd: float = DEFAULT_LGD,
) -> np.ndarray:
    """``P(accept) · margin`` of each pair (float minor units): what allocation maximises."""
    accept = partners.acceptance_probability(
        applications.pd[app_index], applications.amount_minor[app_index], partner_index
    )
    return accept * pair_margin(applications, partners, app_index, partner_index, lgd=lgd)


def annual_margin_rate(
    margin_minor: np.ndarray, amount_minor: np.ndarray, tenor_months: np.ndarray
) -> np.ndarray:
    """A margin as the ``allocations`` table states it: a fraction of principal a year."""
    return np.asarray(margin_minor, float) / (
        np.asarray(amount_minor, float) * np.asarray(tenor_months, float) / 12.0
    )
