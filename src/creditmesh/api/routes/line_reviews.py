"""Periodic line reviews: ``POST /v1/line-reviews``."""

from fastapi import APIRouter

from creditmesh.api.decide import decide_once
from creditmesh.api.deps import ApiKey, AuditLogDep, EngineDep, MetricsDep
from creditmesh.api.models import DecisionOut, LineReview

router = APIRouter(prefix="/v1/line-reviews", tags=["line reviews"], dependencies=[ApiKey])


@router.post("", response_model=DecisionOut)
async def review_line(
    review: LineReview, engine: EngineDep, log: AuditLogDep, metrics: MetricsDep
) -> DecisionOut:
    """Increase, decrease, freeze or keep a line; ``credit_line_minor`` is the new limit."""
    return decide_once(log, engine, "line_adjustment", review.model_dump(mode="json"), metrics)
