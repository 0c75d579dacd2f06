"""Graph labels: ``POST /v1/borrowers/{borrower_id}/labels`` (operators): black list or delinquency."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from creditmesh.api.deps import OperatorKey, PlatformDep
from creditmesh.api.platform_models import LabelIn, ObjectId

router = APIRouter(prefix="/v1/borrowers", tags=["graph"])


@router.post("/{borrower_id}/labels", status_code=status.HTTP_204_NO_CONTENT)
def label_borrower(
    borrower_id: Annotated[ObjectId, Path()], body: LabelIn, who: OperatorKey, platform: PlatformDep
) -> None:
    """Put a borrower on the black list (or mark it delinquent): every worker's graph knows from now on."""
    platform.label(who, borrower_id, body.label)
