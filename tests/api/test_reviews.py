"""The manual-review queue over HTTP: a review is queued with its decision, listed, settled once by a person."""

from __future__ import annotations

import uuid

from creditmesh.scoring.dataset import APPLICATION_FEATURES


def _night_burst(applications) -> dict:
    """An application the shipped policy sends to people (new device, at night, almost no contacts)."""
    row = applications.head(1).to_dict("records")[0]
    body = {"application_id": f"rv-{uuid.uuid4().hex[:12]}"}
    for name in APPLICATION_FEATURES:
        value = row[name]
        body[name] = None if value != value else (value if isinstance(value, str) else int(value))
    return {**body, "device_age_days": 0, "apply_hour": 2, "contacts_count": 1}


def test_a_review_is_queued_listed_and_settled_once(client, applications):
    body = _night_burst(applications)
    decision = client.post("/v1/applications", json=body).json()
    assert decision["outcome"] == "review" and "new_device_night_burst" in decision["reasons"]
    pending = client.get("/v1/reviews", params={"stage": "credit_line", "limit": 1000}).json()
    queued = [r for r in pending if r["application_id"] == body["application_id"]]
    assert len(queued) == 1 and queued[0]["status"] == "pending" and queued[0]["outcome"] is None
    assert queued[0]["reasons"] == decision["reasons"]

    answer = {"outcome": "decline", "reviewer": "analyst-7", "note": "device farm"}
    settled = client.post(f"/v1/reviews/{body['application_id']}", json=answer)
    assert settled.status_code == 200, settled.text
    assert settled.json()["status"] == "settled" and settled.json()["outcome"] == "decline"
    again = client.post(f"/v1/reviews/{body['application_id']}", json=answer)
    assert again.status_code == 200 and again.json() == settled.json()  # the same answer is idempotent
    other = client.post(f"/v1/reviews/{body['application_id']}", json={**answer, "outcome": "approve"})
    assert other.status_code == 409 and "already settled as decline" in other.text
    still = client.get("/v1/reviews", params={"limit": 1000}).json()
    assert body["application_id"] not in {r["application_id"] for r in still}
    assert (
        client.get(f"/v1/decisions/{body['application_id']}").json()["outcome"] == "review"
    )  # history is kept


def test_an_approved_application_is_not_in_the_queue_and_cannot_be_settled(client, applications):
    body = _night_burst(applications)
    body.update(device_age_days=400, apply_hour=14, contacts_count=150)
    decision = client.post("/v1/applications", json=body).json()
    assert decision["outcome"] != "review"
    answer = client.post(
        f"/v1/reviews/{body['application_id']}", json={"outcome": "approve", "reviewer": "a"}
    )
    assert answer.status_code == 404


def test_bad_settlements_and_limits_are_422_naming_the_field(client):
    answer = client.post("/v1/reviews/x-1", json={"outcome": "maybe", "reviewer": "", "extra": 1})
    assert answer.status_code == 422
    fields = {tuple(e["loc"])[-1] for e in answer.json()["detail"]}
    assert {"outcome", "reviewer", "extra"} <= fields
    assert client.get("/v1/reviews", params={"limit": 0}).status_code == 422
    assert client.get("/v1/reviews", params={"stage": "nope"}).status_code == 422
