"""The manual-review queue (operators): ``GET /v1/reviews`` (pending, oldest first) and
``POST /v1/reviews/{application_id}``; the reviewer is the key's owner."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from creditmesh.api.deps import AuditLogDep, OperatorKey, PlatformDep
from creditmesh.api.models import ApplicationId, ReviewOut, ReviewSettlement
from creditmesh.decision.audit import MAX_REVIEWS_LISTED, AuditError
from creditmesh.stages import STAGE_NAMES

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])


@router.get("", response_model=list[ReviewOut])
def pending_reviews(
    log: AuditLogDep,
    who: OperatorKey,
    stage: Annotated[str | None, Query(pattern=f"^({'|'.join(STAGE_NAMES)})$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_REVIEWS_LISTED)] = 100,
) -> list[ReviewOut]:
    """Applications the policy sent to people and no one has settled yet, oldest first."""
    return [ReviewOut.from_row(r) for r in log.pending_reviews(stage=stage, limit=limit)]


@router.post(
    "/{application_id}",
    response_model=ReviewOut,
    responses={
        404: {"description": "no review queued for that id"},
        409: {"description": "already settled with another answer"},
    },
)
def settle_review(
    application_id: Annotated[ApplicationId, Path()],
    body: ReviewSettlement,
    who: OperatorKey,
    platform: PlatformDep,
) -> ReviewOut:
    """A person's outcome for a pending review; sending the same answer again returns it unchanged."""
    try:
        return ReviewOut.from_row(platform.settle_review(who, application_id, body.outcome, body.note))
    except AuditError as error:
        if error.reason.startswith("no review"):
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
