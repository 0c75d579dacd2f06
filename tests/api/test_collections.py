"""The collections routes over a real ledger, through a real server."""

from dataclasses import replace
from datetime import date

import httpx
import pytest
from conftest import API_KEY, running

from creditmesh.ledger import Ledger, LoanTerms, PaymentRequest


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('collections') / 'ledger.db'}"
    ledger = Ledger.connect(url)
    for k in range(3):
        ledger.book_loan(LoanTerms(f"L{k}", f"B{k}", 1_000_000, 180_000, 6, date(2024, 1, 15 + k)))
    ledger.post_payment(PaymentRequest("L2", 175_525, date(2024, 2, 17), "k"))
    ledger.close()
    return url


@pytest.fixture(scope="module")
def desk_client(settings, ledger_url):
    with running(replace(settings, ledger_url=ledger_url)) as url:
        with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=10) as client:
            yield client


def test_the_queue_lists_the_delinquent_loans_oldest_first(desk_client):
    answer = desk_client.get("/v1/collections/queue", params={"as_of": "2024-03-20"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["loans"] == 3 and [r["loan_id"] for r in body["rows"]] == ["L0", "L1", "L2"]
    assert body["rows"][0]["dpd"] == 34 and body["rows"][0]["bucket"] == "dpd_31_60"
    assert "score" not in body["rows"][0] and "borrower_id" not in body["rows"][0]


def test_actions_and_promises_are_recorded_once_and_show_in_the_queue(desk_client):
    action = {
        "action_id": "a1",
        "loan_id": "L0",
        "at": "2024-03-20T02:00:00Z",
        "channel": "call",
        "outcome": "contacted",
    }
    assert desk_client.post("/v1/collections/actions", json=action).status_code == 201
    again = desk_client.post("/v1/collections/actions", json=action)
    assert again.status_code == 200 and again.json() == {"action_id": "a1", "recorded": False}
    promise = {
        "promise_id": "p1",
        "loan_id": "L1",
        "at": "2024-03-20T03:00:00Z",
        "amount_minor": 100_000,
        "due_on": "2024-03-25",
    }
    assert desk_client.post("/v1/promises", json=promise).status_code == 201
    rows = {
        r["loan_id"]: r
        for r in desk_client.get("/v1/collections/queue", params={"as_of": "2024-03-20"}).json()["rows"]
    }
    assert rows["L0"]["contacts_today"] == 1 and rows["L1"]["open_promise_minor"] == 100_000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"at": "2024-03-20T14:00:00Z"}, "at"),  # 22:00 in the borrower's time zone
        ({"target": "third_party"}, "target"),
        ({"loan_id": "L9"}, "loan_id"),
        ({"channel": "pigeon"}, "channel"),
        ({"outcome": "promise_to_pay"}, "outcome"),
    ],
)
def test_an_action_against_the_rules_is_one_422_naming_the_field(desk_client, body, field):
    action = {
        "action_id": "x",
        "loan_id": "L2",
        "at": "2024-03-20T02:00:00Z",
        "channel": "sms",
        "outcome": "sent",
    }
    answer = desk_client.post("/v1/collections/actions", json={**action, **body})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"][-1] == field


def test_without_a_ledger_the_routes_answer_503(client):
    assert client.get("/v1/collections/queue", params={"as_of": "2024-03-20"}).status_code == 503


def test_the_routes_need_an_api_key(desk_client):
    answer = httpx.get(f"{desk_client.base_url}/v1/collections/queue", params={"as_of": "2024-03-20"})
    assert answer.status_code == 401
