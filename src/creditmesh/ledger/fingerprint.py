"""The fingerprint of a payment request: SHA-256 of its body.

The one-by-one path (:class:`~creditmesh.ledger.store.PaymentRequest`) and the bulk path
(:mod:`creditmesh.ledger.bulk`) compute it the same way, so a retry under the same idempotency
key is recognised as a replay whichever path it takes, and a different body is refused.
"""

from __future__ import annotations

import hashlib


def payment_fingerprint(loan_id: str, amount_minor: int, paid_on: str, currency: str) -> str:
    """SHA-256 (hex) of ``loan_id|amount_minor|paid_on|currency``; ``paid_on`` as YYYY-MM-DD."""
    return hashlib.sha256(f"{loan_id}|{amount_minor}|{paid_on}|{currency}".encode()).hexdigest()
