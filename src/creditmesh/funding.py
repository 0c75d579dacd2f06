"""Funding models as data: one record per model, and every subset and map derived from the records.

Who funds a loan and who bears its loss decide how it is booked, priced, counted and simulated (the
seeds: capital-heavy loans on or off the balance sheet, the capital-light model, ICE and the
technology solutions). Each model is one :class:`FundingModel` in :data:`MODELS`; the rest of
creditmesh reads its properties or the subsets below, never a list of names typed again. Adding a
model is one record here (plus, if it earns a new kind of fee, its income account in
``ledger/journal.py``, and an Alembic revision for the ledger's CHECK on ``loans.funding_model``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from creditmesh.errors import ParameterError

#: Longest funding model name: the ledger stores it in ``loans.funding_model VARCHAR(20)``.
NAME_MAX_CHARS = 20
_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: The incomes a platform fee is booked to (``ledger/journal.py`` names an account for each).
FEE_INCOMES = ("service", "referral", "technology")
#: The margin formulas of ``matching/margin.py``, each with whether it subtracts the expected credit loss.
MARGIN_FORMULAS: Mapping[str, bool] = MappingProxyType(
    {"spread_less_loss": True, "fee_less_loss": True, "fee_share": False, "one_off_fee": False}
)


@dataclass(frozen=True, slots=True)
class FundingModel:
    """One funding model: who holds the loan, who bears its loss, where it is counted, and its defaults.

    Rates are fractions; ``simulated_*`` fields are the simulator's calibration (the seeds, Q4 2024).
    """

    #: Identifier stored in the tables (``loans.funding_model``, ``institutions.funding_model``).
    name: str
    #: What a reader calls it.
    label: str
    #: The loan is the platform's own asset (loans receivable), funded with its own money.
    on_balance_sheet: bool
    #: A partner funds the loan and the platform guarantees it: the platform pays the loss.
    guarantees: bool
    #: Counted in the 90 day+ delinquency rate. Footnote 7 counts "on- and off-balance sheet loans" and leaves
    #: out only charged-off loans, ICE and technology solutions: every other model counts (issue 14).
    in_delinquency_rate: bool
    #: Counted in the 30 day+ and 180 day+ vintage charts, and so in the roll rates and the ECL's PDs.
    in_vintages: bool
    #: One of the seeds' "capital-light model, ICE and total technology solutions": platform services.
    platform_service: bool
    #: Which of :data:`FEE_INCOMES` the platform's fee is booked to (``ledger/journal.py`` maps each to an
    #: account; a guaranteed model's periodic fee is a guarantee fee whatever this says).
    fee_income: str
    #: Which of :data:`MARGIN_FORMULAS` matching prices the platform's margin with.
    margin_formula: str
    #: The platform's fee when a partner names none; ``None``: the APR less the partner's funding cost.
    default_fee_rate: float | None
    #: Probability a partner accepts a referred borrower when no acceptance model is fitted.
    default_acceptance_rate: float
    #: Share of loan volume in the simulator's default configuration (the shares sum to 1).
    simulated_volume_share: float
    #: Relative number of simulated partners of this model.
    simulated_partner_weight: int
    #: Range the simulator draws a partner's ``max_pd`` from: risk-bearing money takes riskier borrowers.
    simulated_max_pd: tuple[float, float]
    #: What a simulated partner of this model is called ("Trust 0042").
    simulated_partner_name: str

    def __post_init__(self) -> None:
        for field, reason in self.problems():
            raise ParameterError(f"funding model {self.name!r}.{field}", reason)

    @property
    def bears_credit_risk(self) -> bool:
        """The platform bears the credit loss: the loan is its own, or it guarantees the partner's."""
        return self.on_balance_sheet or self.guarantees

    def problems(self) -> list[tuple[str, str]]:
        """Every property that is malformed or contradicts another, as (field, reason) pairs."""
        found: list[tuple[str, str]] = []
        if not (
            isinstance(self.name, str) and _NAME.fullmatch(self.name) and len(self.name) <= NAME_MAX_CHARS
        ):
            found.append(("name", f"must be snake_case of at most {NAME_MAX_CHARS} characters"))
        if not self.label:
            found.append(("label", "must not be empty"))
        if self.on_balance_sheet and self.guarantees:
            found.append(
                ("guarantees", "an on-balance-sheet loan is the platform's own; it guarantees no one")
            )
        if self.platform_service and self.bears_credit_risk:
            found.append(("platform_service", "a platform service leaves the credit risk to the partner"))
        if self.fee_income not in FEE_INCOMES:
            found.append(("fee_income", f"must be one of {list(FEE_INCOMES)}, got {self.fee_income!r}"))
        if self.margin_formula not in MARGIN_FORMULAS:
            found.append(
                ("margin_formula", f"must be one of {list(MARGIN_FORMULAS)}, got {self.margin_formula!r}")
            )
        elif MARGIN_FORMULAS[self.margin_formula] != self.bears_credit_risk:
            found.append(("margin_formula", "subtracts the expected loss exactly when the platform bears it"))
        rates = [("default_acceptance_rate", self.default_acceptance_rate)]
        rates += [("simulated_volume_share", self.simulated_volume_share)]
        if self.default_fee_rate is not None:
            rates.append(("default_fee_rate", self.default_fee_rate))
        found += [(f, f"must be a fraction in [0, 1], got {v!r}") for f, v in rates if not 0.0 <= v <= 1.0]
        low, high = self.simulated_max_pd
        if not 0.0 <= low <= high <= 1.0:
            found.append(
                ("simulated_max_pd", f"must be (low, high) with 0 <= low <= high <= 1, got {(low, high)}")
            )
        if self.simulated_partner_weight < 0:
            found.append(("simulated_partner_weight", f"must be >= 0, got {self.simulated_partner_weight}"))
        return found


#: Every funding model, in the order codes and shares are listed (the order is part of the data:
#: int8 codes in matching and the simulator's draws follow it).
MODELS: tuple[FundingModel, ...] = (
    FundingModel(
        name="capital_heavy_on",
        label="capital-heavy, on balance sheet",
        on_balance_sheet=True,
        guarantees=False,
        in_delinquency_rate=True,
        in_vintages=True,
        platform_service=False,
        fee_income="service",
        margin_formula="spread_less_loss",
        default_fee_rate=None,
        default_acceptance_rate=1.0,  # the platform's own money
        simulated_volume_share=0.13,
        simulated_partner_weight=5,
        simulated_max_pd=(0.15, 0.30),
        simulated_partner_name="Microcredit",
    ),
    FundingModel(
        name="capital_heavy_off",
        label="capital-heavy, off balance sheet (guaranteed)",
        on_balance_sheet=False,
        guarantees=True,
        in_delinquency_rate=True,
        in_vintages=True,
        platform_service=False,
        fee_income="service",
        margin_formula="fee_less_loss",
        default_fee_rate=None,
        default_acceptance_rate=0.95,
        simulated_volume_share=0.39,
        simulated_partner_weight=25,
        simulated_max_pd=(0.12, 0.25),
        simulated_partner_name="Trust",
    ),
    FundingModel(
        name="capital_light",
        label="capital-light",
        on_balance_sheet=False,
        guarantees=False,
        in_delinquency_rate=True,  # off balance sheet, and not among the footnote's exclusions (issue 14)
        in_vintages=True,  # the vintage footnote leaves out only ICE and technology solutions
        platform_service=True,
        fee_income="service",
        margin_formula="fee_share",
        default_fee_rate=0.06,
        default_acceptance_rate=0.85,
        simulated_volume_share=0.18,
        simulated_partner_weight=39,
        simulated_max_pd=(0.04, 0.10),
        simulated_partner_name="Bank",
    ),
    FundingModel(
        name="ice",
        label="ICE (Intelligence Credit Engine) referral",
        on_balance_sheet=False,
        guarantees=False,
        in_delinquency_rate=False,
        in_vintages=False,
        platform_service=True,
        fee_income="referral",
        margin_formula="one_off_fee",
        default_fee_rate=0.03,  # a one-off referral fee, a fraction of principal
        default_acceptance_rate=0.7,
        simulated_volume_share=0.26,
        simulated_partner_weight=25,
        simulated_max_pd=(0.06, 0.14),
        simulated_partner_name="Bank",
    ),
    FundingModel(
        name="tech_solution",
        label="technology solution",
        on_balance_sheet=False,
        guarantees=False,
        in_delinquency_rate=False,
        in_vintages=False,
        platform_service=True,
        fee_income="technology",
        margin_formula="fee_share",
        default_fee_rate=0.01,
        default_acceptance_rate=0.9,
        simulated_volume_share=0.04,
        simulated_partner_weight=6,
        simulated_max_pd=(0.05, 0.12),
        simulated_partner_name="Regional Bank",
    ),
)

#: Each record by its name.
BY_NAME: Mapping[str, FundingModel] = MappingProxyType({m.name: m for m in MODELS})
if len(BY_NAME) != len(MODELS):  # pragma: no cover - a record typed twice
    raise ParameterError("funding.MODELS", "a funding model name appears twice")

#: Every funding model's name, in :data:`MODELS` order (the values ``funding_model`` columns may hold).
FUNDING_MODELS: tuple[str, ...] = tuple(m.name for m in MODELS)


def names_where(prop: str) -> tuple[str, ...]:
    """The names of the models whose boolean property ``prop`` holds, in :data:`MODELS` order."""
    return tuple(m.name for m in MODELS if getattr(m, prop))


#: The platform's own loans (loans receivable).
ON_BALANCE_MODELS = names_where("on_balance_sheet")
#: Partners' loans the platform guarantees.
GUARANTEED_MODELS = names_where("guarantees")
#: Loans whose credit loss the platform bears (its own or guaranteed).
RISK_BEARING_MODELS = names_where("bears_credit_risk")
#: Loans counted in the 90 day+ delinquency rate.
DELINQUENCY_RATE_MODELS = names_where("in_delinquency_rate")
#: Loans in the vintage charts, the roll rates and the ECL's transition matrix.
VINTAGE_MODELS = names_where("in_vintages")
#: The seeds' "capital-light model, ICE and total technology solutions".
PLATFORM_SERVICE_MODELS = names_where("platform_service")


def get_model(name: object, *, field: str = "funding_model") -> FundingModel:
    """The record of funding model ``name``; a :class:`ParameterError` on ``field`` lists the known ones."""
    model = BY_NAME.get(name) if isinstance(name, str) else None
    if model is None:
        raise ParameterError(field, f"unknown funding model {name!r}; known: {', '.join(FUNDING_MODELS)}")
    return model


def check_names(names: str | Iterable[str], *, field: str = "funding_models") -> tuple[str, ...]:
    """``names`` (one name or several) as a tuple, each a known funding model, or a :class:`ParameterError`."""
    chosen = (names,) if isinstance(names, str) else tuple(names)
    unknown = sorted({str(n) for n in chosen if n not in BY_NAME})
    if unknown:
        raise ParameterError(field, f"unknown funding model(s) {unknown}; known: {list(FUNDING_MODELS)}")
    return chosen


def sql_in(column: str, names: Iterable[str]) -> str:
    """``column IN ('a', 'b')`` over funding model names (checked: never user text), for CHECKs and SQL.

    An empty set gives ``1 = 0``, which every engine reads as false.
    """
    chosen = check_names(names, field=column)
    if not chosen:
        return "1 = 0"
    return f"{column} IN ({', '.join(repr(n) for n in chosen)})"
