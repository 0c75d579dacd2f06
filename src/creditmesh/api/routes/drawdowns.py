"""Drawdowns under an existing line: ``POST /v1/drawdowns``."""

from fastapi import APIRouter

from creditmesh.api.decide import decide_once
from creditmesh.api.deps import ApiKey, AuditLogDep, EngineDep, MetricsDep
from creditmesh.api.models import DecisionOut, DrawdownRequest

router = APIRouter(prefix="/v1/drawdowns", tags=["drawdowns"], dependencies=[ApiKey])


@router.post("", response_model=DecisionOut)
async def decide_drawdown(
    drawdown: DrawdownRequest, engine: EngineDep, log: AuditLogDep, metrics: MetricsDep
) -> DecisionOut:
    """Approve a drawdown (the amount granted, capped by the available line) or decline it with reasons."""
    return decide_once(log, engine, "drawdown", drawdown.model_dump(mode="json"), metrics)
