"""Input and output models of the platform's routes: applications, credit lines, drawdowns, loans, payments.

Inputs forbid unknown fields and bound every value; identifiers arrive raw and are hashed before anything
else sees them (:mod:`creditmesh.api.identity`), so no output model has a field that could carry one.
Money is integer minor units; dates are ISO days (UTC).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from creditmesh.api.models import ApplicantFacts

#: The most identifiers of one kind an application may carry (contacts are many; a limit on everything).
MAX_VALUES = 200
ObjectId = Annotated[
    str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$", description="the caller's id")
]
Identifier = Annotated[str, Field(min_length=1, max_length=200)]
TenorMonths = Annotated[StrictInt, Field(ge=1, le=60)]


class _Input(BaseModel):
    # strict: a number is a JSON number, a flag a JSON boolean ("6" is not a tenor)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Identifiers(_Input):
    """What identifies the applicant; every value is hashed with the service's key on arrival."""

    phone: Identifier | None = None
    device: Identifier | None = None
    id_card: Identifier | None = None
    bank_card: Identifier | None = None
    address: Identifier | None = None
    ip: Identifier | None = None
    employer: Identifier | None = None
    contacts: Annotated[list[Identifier], Field(max_length=MAX_VALUES)] = []


class ApplicationIn(ApplicantFacts):
    """A credit-line application: the applicant's declared data and bureau answer, and its identifiers."""

    application_id: ObjectId
    borrower_id: ObjectId = Field(description="the caller's id of the applicant (not a personal identifier)")
    identifiers: Identifiers


class ApplicationOut(BaseModel):
    """The decision on an application and, when approved, the stored line."""

    application_id: str
    outcome: Literal["approve", "decline", "review"]
    credit_line_id: str | None
    limit_minor: int
    apr: float | None
    expires_on: date | None
    reasons: list[str]


class LineEvent(BaseModel):
    at: str = Field(description="UTC, ISO 8601")
    kind: str
    limit_before_minor: int
    limit_after_minor: int
    status: str
    application_id: str
    reviewer: str | None


class CreditLineOut(BaseModel):
    """A stored credit line: its limit, what is drawn, what is left, and how the limit moved."""

    credit_line_id: str
    borrower_id: str
    status: str
    limit_minor: int
    used_minor: int = Field(description="outstanding principal of the line's active loans")
    available_minor: int = Field(description="limit less used, never below 0; 0 when the line is not active")
    apr: float
    opened_on: date
    expires_on: date | None
    history: list[LineEvent]


class LineReviewIn(_Input):
    """A review of a stored line: the policy decides from the line's behaviour on book."""

    application_id: ObjectId


class DrawdownIn(_Input):
    """A drawdown under a stored line."""

    application_id: ObjectId
    credit_line_id: ObjectId
    amount_minor: Annotated[StrictInt, Field(gt=0, le=10**12)]
    tenor_months: TenorMonths
    schedule: Literal["equal_installment", "equal_principal"] = "equal_installment"


class InstallmentOut(BaseModel):
    seq: int
    due_date: date
    principal_due_minor: int
    interest_due_minor: int
    fee_due_minor: int
    principal_paid_minor: int = 0
    interest_paid_minor: int = 0
    fee_paid_minor: int = 0
    paid_on: date | None = None


class DrawdownOut(BaseModel):
    """A drawdown's answer: a booked loan (partner, funding model, APR, schedule), a decline with its
    reasons, a review, or no partner with the rules that excluded them."""

    application_id: str
    credit_line_id: str
    outcome: Literal["booked", "decline", "review", "no_partner"]
    amount_minor: int
    loan_id: str | None = None
    institution_id: str | None = None
    funding_model: str | None = None
    apr: float | None = None
    tenor_months: int
    schedule: list[InstallmentOut] = []
    reasons: list[str] = []


class LoanOut(BaseModel):
    """A booked loan today: its schedule, what was paid, days past due, bucket, what is outstanding and
    what would settle it today."""

    loan_id: str
    credit_line_id: str | None
    institution_id: str
    funding_model: str
    status: str
    principal_minor: int
    apr: float
    tenor_months: int
    originated_on: date
    schedule: list[InstallmentOut]
    paid_minor: int
    dpd: int
    bucket: str
    outstanding_principal_minor: int
    settlement_minor: int = Field(description="what settles the loan today (0 once settled)")


class PaymentIn(_Input):
    amount_minor: Annotated[StrictInt, Field(gt=0, le=10**12)]
    paid_on: date | None = Field(None, description="the day the money arrived; default today (UTC)")


class PaymentOut(BaseModel):
    """Where a payment went by the ledger's waterfall; ``replayed`` when the key was seen before."""

    payment_id: str
    loan_id: str
    amount_minor: int
    late_fee_minor: int
    fee_minor: int
    interest_minor: int
    principal_minor: int
    prepaid_interest_minor: int
    prepaid_principal_minor: int
    settled: bool
    replayed: bool


class LabelIn(_Input):
    label: Literal["blacklist", "delinquent"]


class KeyIn(_Input):
    role: Literal["app", "partner", "operator", "admin"]
    owner: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
    institution_id: ObjectId | None = None


class KeyOut(BaseModel):
    key_id: str
    role: str
    owner: str
    institution_id: str | None
    key: str | None = Field(None, description="the key itself: shown once, when it is created")
