"""Eight processes paying the same fifty loans at once on PostgreSQL: each payment booked once, the books sound."""

from __future__ import annotations

import multiprocessing
import queue
import random
import threading
from collections import defaultdict
from datetime import date

from _books import assert_books_sound, booked_by_key, terms
from _worker import post_plan

from creditmesh.ledger import IdempotencyConflict, Ledger, PaymentRequest

WORKERS = 8
LOANS = 50
OWN_PAYMENTS = 25  # per worker, under keys no other worker uses
SHARED_KEYS = 24  # each posted by three workers with the same body
POSTERS_PER_SHARED_KEY = 3
#: Before the first due date (a prepayment, re-cast) and on it (the first installment's interest, then principal).
DAYS = ("2024-02-01", "2024-02-15")
TIMEOUT_SECONDS = 120


def loan_id(number: int) -> str:
    return f"L{number % LOANS:02d}"


def payment_plans() -> list[list]:
    """Each worker's payments, in its own shuffled order; the shared keys sit in three workers' plans."""
    rng = random.Random(20240215)
    plans = [
        [
            [loan_id(rng.randrange(LOANS)), rng.randrange(3_000, 8_000), rng.choice(DAYS), f"w{w}-{i}"]
            for i in range(OWN_PAYMENTS)
        ]
        for w in range(WORKERS)
    ]
    for j in range(SHARED_KEYS):
        body = [loan_id(j), 5_000, DAYS[j % 2], f"shared-{j}"]
        for w in rng.sample(range(WORKERS), POSTERS_PER_SHARED_KEY):
            plans[w].append(list(body))
    for plan in plans:
        rng.shuffle(plan)
    return plans


def run_posters(url: str, plans: list[list]) -> list[dict]:
    """Post each plan from its own process, all starting together; every acknowledgement they made.

    The processes fork from a forkserver that has imported the ledger once, rather than spawning eight fresh
    interpreters that each spend a second importing SQLAlchemy and pandas; each opens its own connections.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["_worker"])
    start, acks = context.Barrier(len(plans) + 1), context.Queue()
    posters = [context.Process(target=post_plan, args=(url, plan, start, acks)) for plan in plans]
    for poster in posters:
        poster.start()
    start.wait(timeout=TIMEOUT_SECONDS)
    expected, received = sum(len(plan) for plan in plans), []
    while len(received) < expected:
        try:
            ack = acks.get(timeout=TIMEOUT_SECONDS)
        except queue.Empty:
            break
        assert "error" not in ack, ack.get("error")
        received.append(ack)
    for poster in posters:
        poster.join(timeout=TIMEOUT_SECONDS)
        assert poster.exitcode == 0
    return received


def test_eight_processes_paying_fifty_loans_at_once_book_each_payment_once_and_keep_the_books(pg_url):
    ledger = Ledger.connect(pg_url)
    try:
        for number in range(LOANS):
            ledger.book_loan(terms(loan_id(number)))
        plans = payment_plans()
        acks = run_posters(pg_url, plans)

        assert len(acks) == sum(len(plan) for plan in plans)  # every payment was acknowledged
        booked = booked_by_key(ledger)
        by_key = defaultdict(list)
        for ack in acks:
            by_key[ack["key"]].append(ack)
        assert set(booked) == set(by_key)
        for key, key_acks in by_key.items():
            assert len(booked[key]) == 1, key  # present exactly once
            assert {ack["payment_id"] for ack in key_acks} == set(booked[key]), key
            assert sum(not ack["replayed"] for ack in key_acks) == 1, (
                key
            )  # booked by one poster, replayed to the rest
        assert sum(len(key_acks) == POSTERS_PER_SHARED_KEY for key_acks in by_key.values()) == SHARED_KEYS
        assert_books_sound(ledger)
    finally:
        ledger.close()


RACES = 30


def test_one_key_posted_to_two_loans_at_once_books_one_and_refuses_the_other_as_a_conflict(pg_url):
    """Each loan's lock serialises its own payments only, so the key's uniqueness is settled by the database."""
    ledger = Ledger.connect(pg_url)
    ledger.book_loan(terms("A"))
    ledger.book_loan(terms("B"))
    together = threading.Barrier(2)
    outcomes: list[str] = []

    def post_each_key_to(loan: str) -> None:
        own = Ledger.connect(pg_url, migrate=False)
        try:
            for race in range(RACES):
                together.wait(timeout=TIMEOUT_SECONDS)
                try:
                    own.post_payment(PaymentRequest(loan, 1_000, date(2024, 2, 15), f"race-{race}"))
                    outcomes.append("booked")
                except IdempotencyConflict:
                    outcomes.append("conflict")
                except Exception as error:  # noqa: BLE001 - the outcome is what the test is about
                    outcomes.append(type(error).__name__)
        finally:
            own.close()

    try:
        threads = [threading.Thread(target=post_each_key_to, args=(loan,)) for loan in ("A", "B")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TIMEOUT_SECONDS)
        assert len(booked_by_key(ledger)) == RACES
        assert_books_sound(ledger)
        assert sorted(set(outcomes)) == ["booked", "conflict"] and outcomes.count("booked") == RACES, outcomes
    finally:
        ledger.close()
