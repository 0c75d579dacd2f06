"""Credit-line applications: ``POST /v1/applications``."""

from fastapi import APIRouter

from creditmesh.api.decide import decide_once
from creditmesh.api.deps import ApiKey, AuditLogDep, EngineDep, MetricsDep
from creditmesh.api.models import CreditLineApplication, DecisionOut

router = APIRouter(prefix="/v1/applications", tags=["credit lines"], dependencies=[ApiKey])


@router.post("", response_model=DecisionOut)
async def decide_credit_line(
    application: CreditLineApplication, engine: EngineDep, log: AuditLogDep, metrics: MetricsDep
) -> DecisionOut:
    """Decide a credit-line application: approve with a line and APR, decline with reasons, or review."""
    return decide_once(log, engine, "credit_line", application.model_dump(mode="json"), metrics)
