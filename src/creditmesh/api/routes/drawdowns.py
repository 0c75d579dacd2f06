"""Drawdowns under a stored line: ``POST /v1/drawdowns`` (app keys)."""

from fastapi import APIRouter

from creditmesh.api.deps import AppKey, MetricsDep, PlatformDep
from creditmesh.api.platform_models import DrawdownIn, DrawdownOut

router = APIRouter(prefix="/v1/drawdowns", tags=["drawdowns"])


@router.post(
    "",
    response_model=DrawdownOut,
    responses={404: {"description": "no such line"}, 409: {"description": "id used for another drawdown"}},
)
def draw(body: DrawdownIn, who: AppKey, platform: PlatformDep, metrics: MetricsDep) -> DrawdownOut:
    """Check the stored line, decide, match a partner with room, reserve its capacity and book the loan,
    in one transaction: a booked loan, a decline with reasons, or no partner with the excluding rules."""
    answer = platform.draw(who, body)
    metrics.observe_decision("drawdown", answer.outcome, answer.outcome != "review")
    return answer
