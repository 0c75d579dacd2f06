"""Stored decisions: ``GET /v1/decisions/{application_id}``."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from creditmesh.api.decide import stored_decision, stored_or_none
from creditmesh.api.deps import ApiKey, AuditLogDep
from creditmesh.api.models import ApplicationId, DecisionOut

router = APIRouter(prefix="/v1/decisions", tags=["decisions"], dependencies=[ApiKey])


@router.get(
    "/{application_id}",
    response_model=DecisionOut,
    responses={404: {"description": "no decision for that id"}},
)
async def get_decision(application_id: Annotated[ApplicationId, Path()], log: AuditLogDep) -> DecisionOut:
    """The decision stored for an application id."""
    row = stored_or_none(log, application_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no decision for application {application_id}")
    return stored_decision(row)
