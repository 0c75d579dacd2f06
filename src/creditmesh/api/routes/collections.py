"""Collections over the ledger: ``GET /v1/collections/queue`` (the day's queue, for operators),
``POST /v1/collections/actions`` (record what was done) and ``POST /v1/promises`` (a promise to pay).

The desk (the ledger's engine, the strategy's contact rules) is built on the first call and kept on
``app.state``, over the service's database (the ledger's, ``CREDITMESH_DB``) and the shipped champion
strategy; operators' keys only. A request that breaks a contact rule is one 422 naming the field.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from creditmesh.api.deps import role
from creditmesh.api.models import MAX_MINOR
from creditmesh.collections import ActionRecord, CollectionsDesk
from creditmesh.collections.queue import QUEUE_COLUMNS
from creditmesh.schema import COLLECTION_CHANNELS, COLLECTION_OUTCOMES

router = APIRouter(tags=["collections"], dependencies=[Depends(role("operator"))])
#: The most queue rows one answer holds (a limit on everything).
MAX_QUEUE_ROWS = 5_000
_LOCK = threading.Lock()

Id = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")]
Minor = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR, description="integer minor units (fen)")]


def get_desk(request: Request) -> CollectionsDesk:
    """The collections desk over the configured ledger, built once per app."""
    state = request.app.state
    with _LOCK:
        desk = getattr(state, "collections_desk", None)
        if desk is None:
            from creditmesh.collections import default_strategy_path, load_strategy
            from creditmesh.ledger import Ledger

            ledger = Ledger.connect(state.settings.db_url, migrate=False)  # the service migrated it at start
            strategy = load_strategy(default_strategy_path())
            desk = state.collections_desk = CollectionsDesk(ledger.engine, strategy)
    return desk


DeskDep = Annotated[CollectionsDesk, Depends(get_desk)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionIn(_Input):
    action_id: Id
    loan_id: Id
    at: datetime = Field(description="when it happened (UTC unless the time carries its zone)")
    channel: Literal[COLLECTION_CHANNELS]  # type: ignore[valid-type]
    outcome: Literal[tuple(o for o in COLLECTION_OUTCOMES if o != "promise_to_pay")]  # type: ignore[valid-type]
    target: Literal["borrower", "third_party"] = "borrower"
    cost_minor: Minor = 0
    agent_id: Id | None = None


class PromiseIn(_Input):
    promise_id: Id
    loan_id: Id
    at: datetime
    amount_minor: Annotated[StrictInt, Field(gt=0, le=MAX_MINOR)]
    due_on: date
    channel: Literal[COLLECTION_CHANNELS] = "call"  # type: ignore[valid-type]
    agent_id: Id | None = None


class Recorded(BaseModel):
    action_id: str
    recorded: bool = Field(description="false when the same action was recorded before (a replay)")


#: What an operator sees of a queued loan: no borrower id, no model score.
HIDDEN = ("borrower_id", "funding_model", "charged_off", "days_to_due", "due_soon_principal_minor")
QUEUE_FIELDS = ("loan_id", "bucket", "at_stake_minor", *(c for c in QUEUE_COLUMNS[1:] if c not in HIDDEN))


@router.get("/v1/collections/queue")
def collections_queue(
    desk: DeskDep,
    as_of: Annotated[date, Query(description="the day, YYYY-MM-DD")],
    limit: Annotated[int, Query(ge=1, le=MAX_QUEUE_ROWS)] = 100,
) -> dict[str, Any]:
    """The day's queue, oldest debt first: each loan's dpd, bucket, amounts, promises and contacts."""
    frame = desk.queue(as_of).sort_values(["dpd", "loan_id"], ascending=[False, True])
    rows = frame[list(QUEUE_FIELDS)].head(limit)
    return {"as_of": as_of.isoformat(), "loans": int(len(frame)), "rows": rows.to_dict(orient="records")}


@router.post("/v1/collections/actions", response_model=Recorded, status_code=status.HTTP_201_CREATED)
def record_action(body: ActionIn, desk: DeskDep, response: Response) -> Recorded:
    """Record one action under the contact rules; the same action again answers 200 unchanged."""
    recorded = desk.record(ActionRecord(**body.model_dump(), strategy_version=desk.strategy.version))
    if not recorded:
        response.status_code = status.HTTP_200_OK
    return Recorded(action_id=body.action_id, recorded=recorded)


@router.post("/v1/promises", response_model=Recorded, status_code=status.HTTP_201_CREATED)
def record_promise(body: PromiseIn, desk: DeskDep, response: Response) -> Recorded:
    """A promise to pay an amount by a day; kept or broken when the ledger sees the payment or not."""
    recorded = desk.promise(
        body.promise_id,
        body.loan_id,
        at=body.at,
        amount_minor=body.amount_minor,
        due_on=body.due_on,
        channel=body.channel,
        agent_id=body.agent_id,
    )
    if not recorded:
        response.status_code = status.HTTP_200_OK
    return Recorded(action_id=body.promise_id, recorded=recorded)
