"""The loan book: credit lines, loans, schedules, payments and the double-entry journal behind them."""

from creditmesh.ledger.journal import LedgerInvariantError
from creditmesh.ledger.store import (
    IdempotencyConflict,
    Ledger,
    LedgerError,
    LoanTerms,
    PaymentRequest,
    PaymentResult,
)

__all__ = [
    "IdempotencyConflict",
    "Ledger",
    "LedgerError",
    "LedgerInvariantError",
    "LoanTerms",
    "PaymentRequest",
    "PaymentResult",
]
