"""The three credit decisions a borrower meets, one record each; every list of stages derives from here.

A borrower first asks for a credit line, then draws on it; the lender reviews the line's limit
from time to time. The schema's ``stage`` column, the decision engine, the service's models and
review queue and the simulator's adapter all read :data:`STAGES`, so a new stage is one record
here plus its arithmetic in :mod:`creditmesh.decision.engine` and its section of a policy file.
"""

from __future__ import annotations

from dataclasses import dataclass

from creditmesh.errors import ParameterError


@dataclass(frozen=True)
class Stage:
    """One decision stage: its name, what it grants, and the inputs the engine needs for it."""

    name: str
    #: What ``credit_line_minor`` of a decision at this stage is.
    grants: str
    #: Columns an application at this stage must carry besides the fields its policy's rules read.
    inputs: tuple[str, ...]
    #: True when every application at this stage is scored by the credit model; the other stages
    #: are scored only when the engine is given a model for them.
    always_scored: bool


CREDIT_LINE = Stage("credit_line", "the line granted", ("monthly_income_minor",), always_scored=True)
DRAWDOWN = Stage(
    "drawdown", "the amount approved", ("requested_amount_minor", "available_minor"), always_scored=False
)
LINE_ADJUSTMENT = Stage("line_adjustment", "the new limit", ("limit_minor",), always_scored=False)

#: Every stage by name, in the order a borrower meets them.
STAGES: dict[str, Stage] = {s.name: s for s in (CREDIT_LINE, DRAWDOWN, LINE_ADJUSTMENT)}
#: The stage names, for CHECKs, enumerations and patterns.
STAGE_NAMES: tuple[str, ...] = tuple(STAGES)


def stage_named(name: str) -> Stage:
    """The stage called ``name``; any other name is refused, listing the stages."""
    try:
        return STAGES[name]
    except (KeyError, TypeError):
        raise ParameterError("stage", f"one of {', '.join(STAGE_NAMES)}, got {name!r}") from None
