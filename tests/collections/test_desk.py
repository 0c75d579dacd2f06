"""The queue, the record of actions, promises and agency fees over a real ledger (SQLite and PostgreSQL)."""

from datetime import date, datetime

import pandas as pd
import pytest

from creditmesh.collections import ActionRecord, CollectionsDesk, CollectionsError
from creditmesh.ledger import LoanTerms, PaymentRequest
from creditmesh.ledger.journal import COLLECTION_FEES

ORIGINATED = date(2024, 1, 15)  # 10,000.00 at 18 % over 6 months: 1,755.25 a month from 2024-02-15
MORNING = datetime(2024, 3, 20, 2, 0)  # 10:00 in UTC+8


@pytest.fixture
def desk(ledger, champion):
    for k in range(6):
        ledger.book_loan(LoanTerms(f"L{k}", f"B{k % 4}", 1_000_000, 180_000, 6, ORIGINATED))
    ledger.post_payment(PaymentRequest("L1", 175_525, date(2024, 2, 15), "k-L1"))
    return CollectionsDesk(ledger.engine, champion)


def test_the_queue_lists_each_delinquent_loan_with_dpd_bucket_and_amounts(desk, ledger):
    queue = desk.queue(date(2024, 3, 20)).set_index("loan_id")
    assert list(queue.index) == [f"L{k}" for k in range(6)]
    assert queue.loc["L0", "dpd"] == 34 and queue.loc["L0", "bucket"] == "dpd_31_60"
    assert queue.loc["L1", "dpd"] == 5 and queue.loc["L1", "bucket"] == "dpd_1_30"
    assert queue.loc["L1", "balance_minor"] == ledger.principal_from_schedule("L1")
    two_due = sum(i.principal_due for i in ledger.installments_of("L0")[:2])
    assert queue.loc["L0", "overdue_principal_minor"] == queue.loc["L0", "at_stake_minor"] == two_due
    assert queue.loc["L0", "overdue_minor"] == 2 * 175_525
    assert (queue["contacts_30d"] == 0).all() and (queue["days_since_contact"] == 999).all()


def test_a_loan_due_soon_is_queued_for_a_reminder_and_a_paid_up_one_is_not(desk, ledger):
    for k in range(6):
        ledger.post_payment(PaymentRequest(f"L{k}", 2 * 175_525, date(2024, 3, 16), f"p{k}"))
    assert desk.queue(date(2024, 3, 20)).empty
    queue = desk.queue(date(2024, 4, 13))
    assert set(queue["bucket"]) == {"pre_due"} and (queue["days_to_due"] == 2).all()
    assert (queue["at_stake_minor"] == queue["due_soon_principal_minor"]).all()


def test_actions_show_in_the_queue_history_and_count_against_the_days_contacts(desk):
    desk.record(ActionRecord("a1", "L0", MORNING, "call", "no_answer"))
    desk.record(ActionRecord("a2", "L4", MORNING, "sms", "sent"))  # the same borrower, B0
    assert desk.record(ActionRecord("a1", "L0", MORNING, "call", "no_answer")) is False  # a replay
    queue = desk.queue(date(2024, 3, 20)).set_index("loan_id")
    assert queue.loc["L0", "contacts_30d"] == 1 and queue.loc["L0", "contacts_today"] == 2
    assert queue.loc["L0", "days_since_contact"] == 0
    with pytest.raises(CollectionsError) as caught:
        desk.record(ActionRecord("a3", "L0", MORNING, "app_push", "sent"))
    assert caught.value.field == "at" and "contacted 2 times" in caught.value.reason
    desk.record(ActionRecord("a4", "L0", MORNING, "agency", "placed"))  # a placement is not a contact
    assert desk.queue(date(2024, 3, 21)).set_index("loan_id").loc["L0", "contacts_today"] == 0


@pytest.mark.parametrize(
    ("action", "field", "reason"),
    [
        (ActionRecord("x", "L0", datetime(2024, 3, 20, 14, 0), "call", "contacted"), "at", "quiet hours"),
        (ActionRecord("x", "L0", datetime(2024, 3, 19, 23, 30), "reminder", "sent"), "at", "quiet hours"),
        (
            ActionRecord("x", "L0", MORNING, "call", "contacted", target="third_party"),
            "target",
            "third parties",
        ),
        (ActionRecord("x", "L9", MORNING, "call", "contacted"), "loan_id", "unknown loan"),
        (ActionRecord("x", "L0", MORNING, "pigeon", "sent"), "channel", "not one of"),
        (ActionRecord("x", "L0", MORNING, "call", "promise_to_pay"), "promised_minor", "positive"),
        (
            ActionRecord(
                "x",
                "L0",
                MORNING,
                "call",
                "promise_to_pay",
                promised_minor=5,
                promise_due_on=date(2024, 6, 1),
            ),
            "promise_due_on",
            "30 days",
        ),
        (ActionRecord("x", "L0", MORNING, "call", "contacted", promised_minor=5), "promised_minor", "only"),
    ],
)
def test_an_action_against_the_rules_is_refused_naming_the_field(desk, action, field, reason):
    with pytest.raises(CollectionsError) as caught:
        desk.record(action)
    assert caught.value.field == field and reason in caught.value.reason
    assert desk.queue(date(2024, 3, 20))["contacts_30d"].sum() == 0


def test_contact_stops_on_a_dispute_until_it_is_resolved(desk):
    desk.record(ActionRecord("d1", "L3", MORNING, "call", "dispute"))
    assert desk.queue(date(2024, 3, 20)).set_index("loan_id").loc["L3", "disputed"]
    with pytest.raises(CollectionsError, match="under dispute"):
        desk.record(ActionRecord("d2", "L3", datetime(2024, 3, 21, 2), "sms", "sent"))
    desk.record(ActionRecord("d3", "L3", datetime(2024, 3, 22, 2), "call", "dispute_resolved"))
    desk.record(ActionRecord("d4", "L3", datetime(2024, 3, 23, 2), "sms", "sent"))
    assert not desk.queue(date(2024, 3, 23)).set_index("loan_id").loc["L3", "disputed"]


def test_promises_are_kept_when_the_ledger_sees_the_payment_and_broken_when_not(desk, ledger):
    desk.promise("p1", "L0", at=MORNING, amount_minor=200_000, due_on=date(2024, 3, 25))
    desk.promise("p2", "L2", at=MORNING, amount_minor=200_000, due_on=date(2024, 3, 25))
    desk.promise("p3", "L3", at=MORNING, amount_minor=200_000, due_on=date(2024, 3, 28))
    ledger.post_payment(PaymentRequest("L0", 200_000, date(2024, 3, 22), "k1"))
    ledger.post_payment(PaymentRequest("L2", 100_000, date(2024, 3, 22), "k2"))
    assert desk.queue(date(2024, 3, 21)).set_index("loan_id").loc["L0", "open_promise_minor"] == 200_000
    assert desk.resolve_promises(date(2024, 3, 23)) == (1, 0)
    assert desk.resolve_promises(date(2024, 3, 26)) == (0, 1)
    queue = desk.queue(date(2024, 3, 26)).set_index("loan_id")
    assert queue.loc["L0", "kept_promises"] == 1 and queue.loc["L2", "broken_promises"] == 1
    assert queue.loc["L3", "open_promise_minor"] == 200_000


def test_payments_are_linked_to_the_action_before_them(desk, ledger):
    desk.record(ActionRecord("c1", "L0", MORNING, "sms", "sent"))
    desk.record(ActionRecord("c2", "L0", datetime(2024, 3, 21, 2), "call", "contacted"))
    ledger.post_payment(PaymentRequest("L0", 100_000, date(2024, 3, 21), "k1"))
    ledger.post_payment(PaymentRequest("L2", 100_000, date(2024, 3, 21), "k2"))
    linked = desk.payments_with_actions(date(2024, 3, 1), date(2024, 3, 31)).set_index("loan_id")
    assert linked.loc["L0", "action_id"] == "c2" and linked.loc["L0", "channel"] == "call"
    assert pd.isna(linked.loc["L2", "action_id"])


def test_agency_commission_is_booked_once_in_a_balanced_journal(desk, ledger):
    desk.record(ActionRecord("g1", "L0", MORNING, "agency", "placed"))
    ledger.post_payment(PaymentRequest("L0", 300_000, date(2024, 3, 22), "k1"))
    ledger.post_payment(PaymentRequest("L2", 300_000, date(2024, 3, 22), "k2"))  # no agency: no fee
    assert desk.book_agency_fees(date(2024, 3, 22)) == 75_000  # the champion's 25 %
    assert desk.book_agency_fees(date(2024, 3, 22)) == 0
    balances = ledger.trial_balance()
    assert balances[COLLECTION_FEES] == 75_000 and sum(balances.values()) == 0
    assert ledger.unbalanced_entries() == []


def test_a_plan_from_the_ledger_respects_the_strategy(desk, champion):
    from creditmesh.collections import Strategy

    fixed = CollectionsDesk(desk.engine, Strategy(champion.document.model_copy(update={"mode": "fixed"})))
    plan = fixed.plan(date(2024, 3, 20)).plan
    assert plan["borrower_id"].is_unique  # one contact a borrower
    assert set(plan["channel"]) <= {"sms", "call"}


def test_metrics_by_arm_count_actions_cost_promises_and_what_was_collected(desk, ledger):
    desk.record(ActionRecord("m1", "L0", MORNING, "call", "contacted", cost_minor=300, arm="champion"))
    desk.record(ActionRecord("m2", "L2", MORNING, "sms", "sent", cost_minor=10, arm="gentle"))
    desk.promise("m3", "L3", at=MORNING, amount_minor=100_000, due_on=date(2024, 3, 22))
    ledger.post_payment(PaymentRequest("L0", 175_525, date(2024, 3, 21), "k1"))
    desk.resolve_promises(date(2024, 3, 25))
    metrics = desk.metrics(date(2024, 3, 1), date(2024, 3, 31)).set_index("arm")
    assert metrics.loc["champion", "actions"] == 2 and metrics.loc["champion", "cost_minor"] == 300
    assert metrics.loc["champion", "broken"] == 1 and metrics.loc["champion", "promise_kept_rate"] == 0
    paid = ledger.payments_of("L0")[0]
    assert (
        metrics.loc["champion", "principal_collected_minor"]
        == paid.principal_minor + paid.prepaid_principal_minor
    )
    assert metrics.loc["gentle", "contacts"] == 1 and metrics.loc["gentle", "principal_collected_minor"] == 0
