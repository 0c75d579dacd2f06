"""Booked loans: ``GET /v1/loans/{id}`` and payments ``POST /v1/loans/{id}/payments`` (``Idempotency-Key``)."""

from typing import Annotated

from fastapi import APIRouter, Header, Path

from creditmesh.api.deps import AppKey, LoanReaderKey, PlatformDep
from creditmesh.api.platform_models import LoanOut, ObjectId, PaymentIn, PaymentOut

router = APIRouter(prefix="/v1/loans", tags=["loans"])
LoanId = Annotated[ObjectId, Path()]
IdempotencyKey = Annotated[
    str, Header(alias="Idempotency-Key", min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")
]


@router.get("/{loan_id}", response_model=LoanOut, responses={404: {"description": "no such loan"}})
def get_loan(loan_id: LoanId, who: LoanReaderKey, platform: PlatformDep) -> LoanOut:
    """The loan today: schedule, paid, days past due, bucket, outstanding principal, settlement amount."""
    return platform.loan(who, loan_id)


@router.post(
    "/{loan_id}/payments",
    response_model=PaymentOut,
    responses={404: {"description": "no such loan"}, 409: {"description": "key used for another payment"}},
)
def pay(
    loan_id: LoanId, body: PaymentIn, idempotency_key: IdempotencyKey, who: AppKey, platform: PlatformDep
) -> PaymentOut:
    """A payment through the ledger's waterfall (dues, then prepayment; settlement when it covers all). The
    same key and body return the first result; the same key with another body is a 409."""
    return platform.pay(who, loan_id, idempotency_key, body)
