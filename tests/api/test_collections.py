"""The collections routes over the service's database (the ledger's), through the real server, operators only."""

from datetime import date

import pytest

from creditmesh.ledger import Ledger, LoanTerms, PaymentRequest


@pytest.fixture(scope="module")
def booked(server, settings):
    ledger = Ledger.connect(settings.db_url)
    for k in range(3):
        ledger.book_loan(LoanTerms(f"CQ{k}", f"CQB{k}", 1_000_000, 180_000, 6, date(2023, 1, 15 + k)))
    ledger.post_payment(PaymentRequest("CQ2", 175_525, date(2023, 2, 17), "cq-k"))
    ledger.close()


@pytest.fixture
def operator(booked, as_role):
    return as_role("operator")


def _mine(body: dict) -> dict:
    return {r["loan_id"]: r for r in body["rows"] if r["loan_id"].startswith("CQ")}


def test_the_queue_lists_the_delinquent_loans_oldest_first(operator):
    answer = operator.get("/v1/collections/queue", params={"as_of": "2023-03-20", "limit": 5000})
    assert answer.status_code == 200, answer.text
    rows = _mine(answer.json())
    assert list(rows) == ["CQ0", "CQ1", "CQ2"]
    assert rows["CQ0"]["dpd"] == 33 and rows["CQ0"]["bucket"] == "dpd_31_60"
    assert "score" not in rows["CQ0"] and "borrower_id" not in rows["CQ0"]


def test_actions_and_promises_are_recorded_once_and_show_in_the_queue(operator):
    action = {
        "action_id": "cq-a1",
        "loan_id": "CQ0",
        "at": "2023-03-20T02:00:00Z",
        "channel": "call",
        "outcome": "contacted",
    }
    assert operator.post("/v1/collections/actions", json=action).status_code == 201
    again = operator.post("/v1/collections/actions", json=action)
    assert again.status_code == 200 and again.json() == {"action_id": "cq-a1", "recorded": False}
    promise = {
        "promise_id": "cq-p1",
        "loan_id": "CQ1",
        "at": "2023-03-20T03:00:00Z",
        "amount_minor": 100_000,
        "due_on": "2023-03-25",
    }
    assert operator.post("/v1/promises", json=promise).status_code == 201
    rows = _mine(operator.get("/v1/collections/queue", params={"as_of": "2023-03-20", "limit": 5000}).json())
    assert rows["CQ0"]["contacts_today"] == 1 and rows["CQ1"]["open_promise_minor"] == 100_000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"at": "2023-03-20T14:00:00Z"}, "at"),  # 22:00 in the borrower's time zone
        ({"target": "third_party"}, "target"),
        ({"loan_id": "CQ9"}, "loan_id"),
        ({"channel": "pigeon"}, "channel"),
        ({"outcome": "promise_to_pay"}, "outcome"),
    ],
)
def test_an_action_against_the_rules_is_one_422_naming_the_field(operator, body, field):
    action = {
        "action_id": "cq-x",
        "loan_id": "CQ2",
        "at": "2023-03-20T02:00:00Z",
        "channel": "sms",
        "outcome": "sent",
    }
    answer = operator.post("/v1/collections/actions", json={**action, **body})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][-1] == field


def test_only_operators_may_use_collections(operator, client):
    assert client.get("/v1/collections/queue", params={"as_of": "2023-03-20"}).status_code == 403
