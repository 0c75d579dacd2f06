from datetime import date

from creditmesh.ledger import LoanTerms, PaymentRequest


def test_a_loan_and_a_payment_keep_the_books_balanced(ledger):
    ledger.book_loan(LoanTerms("L1", "B1", 1_000_000, 180_000, 6, date(2024, 1, 15)))
    ledger.post_payment(PaymentRequest("L1", 175_525, date(2024, 2, 15), "k1"))
    assert sum(ledger.trial_balance().values()) == 0
    assert ledger.principal_from_journal("L1") == ledger.principal_from_schedule("L1") == 1_000_000 - 160_525
