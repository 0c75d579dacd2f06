"""The service's input and output models: every input field bounded, money in integer minor units.

Inputs forbid unknown fields, so a typo is a 422 naming it rather than a silently missing feature.
The stored model is the audit log's row (:mod:`creditmesh.decision.audit`); the output carries
only what the caller may see: no score, PD, grade, arm or shadow decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from creditmesh.schema import CHANNELS, EMPLOYMENT
from creditmesh.stages import STAGE_NAMES

#: The largest amount any money field accepts: 10^12 minor units (ten billion in the major unit).
MAX_MINOR = 10**12
MAX_COUNT = 100_000

ApplicationId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="the caller's id; repeating it returns the stored decision",
    ),
]
Minor = Annotated[
    StrictInt, Field(ge=0, le=MAX_MINOR, description="integer minor units (fen), never a float")
]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]
DaysPastDue = Annotated[StrictInt, Field(ge=0, le=10_000)]


class _Input(BaseModel):
    # strict: a number is a JSON number, a flag a JSON boolean ("0.5" and true are not ratios)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    application_id: ApplicationId


class ApplicantFacts(_Input):
    """What an applicant declared, the bureau's answer and the device's signals: the fields every
    application route shares (:class:`CreditLineApplication` here, the platform's ``ApplicationIn``)."""

    channel: Literal[CHANNELS] | None = None  # type: ignore[valid-type]
    age: Annotated[StrictInt, Field(ge=16, le=100)]
    monthly_income_minor: Minor | None = None
    employment: Literal[EMPLOYMENT] | None = None  # type: ignore[valid-type]
    bureau_score: Annotated[StrictInt, Field(ge=300, le=900)] | None = None
    bureau_inquiries_6m: Count | None = None
    bureau_delinquencies_24m: Count | None = None
    device_age_days: Annotated[StrictInt, Field(ge=0, le=36_500)]
    apply_hour: Annotated[StrictInt, Field(ge=0, le=23)]
    contacts_count: Count
    region: Annotated[str, Field(min_length=1, max_length=16)] | None = None


class CreditLineApplication(ApplicantFacts):
    """A credit-line application to the decision route: the applicant's facts and what the graph knows."""

    on_blacklist: StrictBool | None = None
    ring_size: Count | None = None


class DrawdownRequest(_Input):
    """A drawdown under an existing line: the amount asked, what is left of the line and the behaviour on book."""

    requested_amount_minor: Annotated[StrictInt, Field(gt=0, le=MAX_MINOR)]
    available_minor: Minor
    delinquent: StrictBool
    max_dpd_on_book: DaysPastDue | None = None
    on_blacklist: StrictBool | None = None


class LineReview(_Input):
    """A periodic line review: the current limit and the behaviour on book."""

    limit_minor: Minor
    max_dpd_on_book: DaysPastDue | None = None
    line_utilization: (
        Annotated[
            StrictFloat,
            Field(
                ge=0,
                le=10,
                allow_inf_nan=False,
                description="outstanding principal / credit line (a ratio, not money)",
            ),
        ]
        | None
    ) = None


class DecisionOut(BaseModel):
    """What the caller is told: the outcome, the amount and rate granted, and reasons a borrower can be told."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    application_id: str
    stage: Literal[STAGE_NAMES]
    outcome: Literal["approve", "decline", "review"]
    credit_line_minor: int = Field(
        description="the line, drawdown amount or new limit granted; integer minor units"
    )
    apr: float | None = Field(description="annual rate as a fraction, for an approved credit line")
    reasons: list[str]
    policy_version: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> DecisionOut:
        """From a decision row (``Decision.as_row()`` or the audit log's stored JSON)."""
        return cls.model_validate({**row, "reasons": list(row["reasons"])})


class ReviewSettlement(BaseModel):
    """A reviewer's answer to a pending review (the reviewer is the API key's owner, not a body field)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    outcome: Literal["approve", "decline"]
    note: Annotated[str, Field(max_length=2_000)] = ""


class ReviewOut(BaseModel):
    """A review in the queue: why the policy sent it to people, and, once settled, what they decided."""

    application_id: str
    stage: Literal[STAGE_NAMES]
    queued_at: str = Field(description="UTC, ISO 8601")
    reasons: list[str]
    status: Literal["pending", "settled"]
    outcome: Literal["approve", "decline"] | None
    reviewer: str | None
    settled_at: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ReviewOut:
        def iso(ns: int | None) -> str | None:
            return None if ns is None else datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat()

        return cls(
            application_id=row["application_id"],
            stage=row["stage"],
            queued_at=iso(row["queued_at_ns"]),
            reasons=list(row["reasons"]),
            status=row["status"],
            outcome=row["outcome"],
            reviewer=row["reviewer"],
            settled_at=iso(row["settled_at_ns"]),
        )


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    policy_version: str
    model_version: str | None
