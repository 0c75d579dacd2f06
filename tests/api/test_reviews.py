"""The manual-review queue over HTTP: a review is queued with its decision, listed, settled once by an operator
(the key's owner is the reviewer)."""

from __future__ import annotations

import numpy as np
from _service import applicant, count_where


def _night_burst(rows, n: int) -> dict:
    """An application the shipped policy sends to people (new device, at night, almost no contacts)."""
    return {**applicant(rows[0], n), "device_age_days": 0, "apply_hour": 2, "contacts_count": 1}


def test_a_review_is_queued_listed_and_settled_once_by_the_keys_owner(client, as_role, rows):
    operator = as_role("operator")
    body = _night_burst(rows, 20_001)
    decision = client.post("/v1/applications", json=body).json()
    assert decision["outcome"] == "review" and "new_device_night_burst" in decision["reasons"]
    pending = operator.get("/v1/reviews", params={"stage": "credit_line", "limit": 1000}).json()
    queued = [r for r in pending if r["application_id"] == body["application_id"]]
    assert len(queued) == 1 and queued[0]["status"] == "pending" and queued[0]["outcome"] is None
    assert queued[0]["reasons"] == decision["reasons"]
    assert client.get("/v1/reviews").status_code == 403, "an app key does not review"

    answer = {"outcome": "decline", "note": "device farm"}
    assert (
        operator.post(f"/v1/reviews/{body['application_id']}", json={**answer, "reviewer": "me"}).status_code
        == 422
    )
    settled = operator.post(f"/v1/reviews/{body['application_id']}", json=answer)
    assert settled.status_code == 200, settled.text
    assert settled.json()["status"] == "settled" and settled.json()["outcome"] == "decline"
    assert settled.json()["reviewer"] == "analyst-7", "the reviewer is the key's owner"
    again = operator.post(f"/v1/reviews/{body['application_id']}", json=answer)
    assert again.status_code == 200 and again.json() == settled.json()  # the same answer is idempotent
    other = operator.post(f"/v1/reviews/{body['application_id']}", json={**answer, "outcome": "approve"})
    assert other.status_code == 409 and "already settled as decline" in other.text
    still = operator.get("/v1/reviews", params={"limit": 1000}).json()
    assert body["application_id"] not in {r["application_id"] for r in still}
    assert client.get(f"/v1/decisions/{body['application_id']}").json()["outcome"] == "review"  # history kept


def test_an_approved_application_is_not_in_the_queue_and_cannot_be_settled(client, as_role, rows):
    body = {**_night_burst(rows, 20_002), "device_age_days": 400, "apply_hour": 14, "contacts_count": 150}
    decision = client.post("/v1/applications", json=body).json()
    assert decision["outcome"] != "review"
    answer = as_role("operator").post(f"/v1/reviews/{body['application_id']}", json={"outcome": "approve"})
    assert answer.status_code == 404


def test_bad_settlements_and_limits_are_422_naming_the_field(as_role):
    operator = as_role("operator")
    answer = operator.post("/v1/reviews/x-1", json={"outcome": "maybe", "extra": 1})
    assert answer.status_code == 422
    fields = {tuple(e["loc"])[-1] for e in answer.json()["detail"]}
    assert {"outcome", "extra"} <= fields
    assert operator.get("/v1/reviews", params={"limit": 0}).status_code == 422
    assert operator.get("/v1/reviews", params={"stage": "nope"}).status_code == 422


def test_an_approved_credit_line_review_stores_the_line_for_the_applicants_tenant(
    client, as_role, rows, settings, model_path
):
    import pandas as pd
    import sqlalchemy as sa

    from creditmesh.api.tables import credit_line_profiles
    from creditmesh.decision.policy import default_policy_path, load_policy
    from creditmesh.scoring.artifact import load_model
    from creditmesh.scoring.dataset import APPLICATION_FEATURES

    operator = as_role("operator")
    # a review with a line proposed: the policy's review band just under the PD cut-off (the model rates every
    # night-burst applicant of this book above the cut-off, so a knock-out review proposes no line)
    cutoff = load_policy(default_policy_path()).document.credit_line.max_pd
    pd_ = load_model(model_path).predict_proba(pd.DataFrame(rows)[list(APPLICATION_FEATURES)])[:, 1]
    nearest = np.argsort(np.abs(pd_ - cutoff), kind="stable")
    for n, k in enumerate(nearest[:50]):
        body = applicant(rows[k], 20_100 + n)
        decision = client.post("/v1/applications", json=body).json()
        if decision["outcome"] == "review":
            proposed = client.get(f"/v1/decisions/{body['application_id']}").json()["credit_line_minor"]
            if proposed > 0:
                break
    settled = operator.post(f"/v1/reviews/{body['application_id']}", json={"outcome": "approve"})
    assert settled.status_code == 200, settled.text
    engine = sa.create_engine(settings.db_url)
    with engine.connect() as conn:
        line_id = conn.execute(
            sa.select(credit_line_profiles.c.credit_line_id).where(
                credit_line_profiles.c.application_id == body["application_id"]
            )
        ).scalar_one()
    engine.dispose()
    line = client.get(f"/v1/credit-lines/{line_id}").json()
    assert line["limit_minor"] > 0 and line["available_minor"] == line["limit_minor"]
    assert line["history"][0]["kind"] == "open"
    assert as_role("other_app").get(f"/v1/credit-lines/{line_id}").status_code == 404
    again = operator.post(f"/v1/reviews/{body['application_id']}", json={"outcome": "approve"})
    assert again.status_code == 200  # settling again opens no second line
    assert count_where(settings.db_url, credit_line_profiles.c.application_id, body["application_id"]) == 1
