"""Stored decisions: ``GET /v1/decisions/{application_id}`` (the tenant's own, or any for an operator)."""

from typing import Annotated

from fastapi import APIRouter, Path

from creditmesh.api.decide import stored_decision
from creditmesh.api.deps import PlatformDep, ReaderKey
from creditmesh.api.models import ApplicationId, DecisionOut

router = APIRouter(prefix="/v1/decisions", tags=["decisions"])


@router.get(
    "/{application_id}",
    response_model=DecisionOut,
    responses={404: {"description": "no decision for that id"}},
)
def get_decision(
    application_id: Annotated[ApplicationId, Path()], who: ReaderKey, platform: PlatformDep
) -> DecisionOut:
    """The decision stored for an application id."""
    return stored_decision(platform.decision_row(who, application_id))
