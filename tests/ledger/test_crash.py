"""A poster killed with SIGKILL mid-stream leaves every acknowledged payment booked once and nothing half-posted."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from _books import assert_books_sound, booked_by_key, terms

from creditmesh.ledger import Ledger

WORKER = Path(__file__).with_name("_worker.py")
LOANS = 20
ACKS_BEFORE_KILL = 400
SECONDS_BEFORE_KILL = 1.5  # after the first acknowledgement
START_SECONDS_MAX = 60


def crash_plan() -> list[list]:
    """One round of payments over every loan: prepayments before the first due date and payments on it."""
    return [
        [f"C{n:02d}", 1_000 + 37 * n, "2024-02-01" if n % 2 else "2024-02-15", f"c{n}"] for n in range(LOANS)
    ]


def post_until_killed(url: str, folder: Path) -> tuple[list[dict], str]:
    """Run ``_worker.py --forever``, SIGKILL it a moment after its first acknowledgement; what it acknowledged."""
    plan_path = folder / "plan.json"
    plan_path.write_text(json.dumps(crash_plan()))
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), url, str(plan_path), "--forever"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in worker.stdout], daemon=True)
    reader.start()
    try:
        assert lines.get(timeout=START_SECONDS_MAX) == "ready\n"
        worker.stdin.write("go\n")
        worker.stdin.flush()
        received = [lines.get(timeout=START_SECONDS_MAX)]
        deadline = time.monotonic() + SECONDS_BEFORE_KILL
        while len(received) < ACKS_BEFORE_KILL and time.monotonic() < deadline and worker.poll() is None:
            try:
                received.append(lines.get(timeout=0.05))
            except queue.Empty:
                pass
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        reader.join(timeout=10)
    while not lines.empty():
        received.append(lines.get())
    stderr = worker.stderr.read()
    acks = []
    for line in received:
        try:
            acks.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by the kill was never a whole acknowledgement
            pass
    return acks, stderr


def test_a_killed_poster_leaves_every_acknowledged_payment_booked_once_and_nothing_half_posted(
    ledger_url, tmp_path
):
    ledger = Ledger.connect(ledger_url)
    for n in range(LOANS):
        ledger.book_loan(terms(f"C{n:02d}"))
    ledger.close()

    acks, stderr = post_until_killed(ledger_url, tmp_path)
    assert "Traceback" not in stderr, stderr
    assert len(acks) > LOANS  # it got well into its loop before the kill

    reopened = Ledger.connect(ledger_url)
    try:
        booked = booked_by_key(reopened)
        for ack in acks:
            assert booked.get(ack["key"]) == [ack["payment_id"]], ack["key"]
        assert (
            len(booked) - len(acks) <= 1
        )  # at most the payment committed just before the kill, unacknowledged
        assert_books_sound(reopened)
    finally:
        reopened.close()
