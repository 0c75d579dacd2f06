"""Payment posters that run in processes of their own, for the concurrency and crash tests.

A plan is a list of ``[loan_id, amount_minor, "YYYY-MM-DD", idempotency_key]``; a poster posts it in order
and acknowledges each payment only after ``post_payment`` has returned.

* :func:`post_plan` runs in a ``multiprocessing`` process (the concurrency test): it waits at a barrier so
  that every poster starts at once, and puts each acknowledgement on a queue.
* ``python _worker.py URL PLAN.json [--forever]`` (the crash test) prints ``ready``, waits for a line on
  stdin, then prints one JSON line per acknowledged payment and flushes it. With ``--forever`` it posts the
  plan again and again under fresh keys (``key#round``) until it is killed.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from datetime import date
from itertools import count

from creditmesh.ledger import Ledger, PaymentRequest


def post(ledger: Ledger, plan: list, acknowledge: Callable[[dict], None], *, forever: bool = False) -> None:
    for round_number in count() if forever else range(1):
        for loan_id, amount, day, key in plan:
            key = f"{key}#{round_number}" if forever else key
            result = ledger.post_payment(PaymentRequest(loan_id, amount, date.fromisoformat(day), key))
            acknowledge({"key": key, "payment_id": result.payment_id, "replayed": result.replayed})


def post_plan(url: str, plan: list, start, acks) -> None:
    """Connect, wait at ``start`` (a barrier) for the other posters, post ``plan``; put acks (or a traceback) on ``acks``."""
    try:
        ledger = Ledger.connect(url, migrate=False)
        start.wait()
        post(ledger, plan, acks.put)
        ledger.close()
    except BaseException:
        acks.put({"error": traceback.format_exc()})
        raise


def main(url: str, plan_path: str, forever: bool) -> None:
    with open(plan_path) as plan_file:
        plan = json.load(plan_file)
    ledger = Ledger.connect(url, migrate=False)
    print("ready", flush=True)
    sys.stdin.readline()
    post(ledger, plan, lambda ack: print(json.dumps(ack), flush=True), forever=forever)
    ledger.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--forever" in sys.argv[3:])
