"""Stored credit lines: ``GET /v1/credit-lines/{id}`` and line reviews ``POST /v1/credit-lines/{id}/reviews``."""

from typing import Annotated

from fastapi import APIRouter, Path

from creditmesh.api.deps import OperatorKey, PlatformDep, ReaderKey
from creditmesh.api.platform_models import CreditLineOut, LineReviewIn, ObjectId

router = APIRouter(prefix="/v1/credit-lines", tags=["credit lines"])
LineId = Annotated[ObjectId, Path()]


@router.get(
    "/{credit_line_id}", response_model=CreditLineOut, responses={404: {"description": "no such line"}}
)
def get_credit_line(credit_line_id: LineId, who: ReaderKey, platform: PlatformDep) -> CreditLineOut:
    """The line's limit, what is drawn, what is available, and the history of its limit."""
    return platform.credit_line(who, credit_line_id)


@router.post(
    "/{credit_line_id}/reviews",
    response_model=CreditLineOut,
    responses={404: {"description": "no such line"}},
)
def review_credit_line(
    credit_line_id: LineId, body: LineReviewIn, who: OperatorKey, platform: PlatformDep
) -> CreditLineOut:
    """Review the line on its behaviour on book: freeze, decrease, increase or keep the limit (the reviewer
    is the key's owner)."""
    return platform.review_line(who, credit_line_id, body.application_id)
