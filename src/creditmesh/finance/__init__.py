"""Finance: the income statement from the journal, provisions over time, ABS funding and regulatory capital.

:func:`income_statement` turns the ledger's journal into the seeds' statement of operations (lines
mapped to accounts in :mod:`~creditmesh.finance.lines`) tied to the balance sheet;
:func:`provisions_roll_forward` moves the ECL allowance and the guarantee liability month by month.
"""

from creditmesh.finance.lines import LINES, StatementLine, mapping_problems
from creditmesh.finance.provisions import (
    RollForward,
    book_of_ledger,
    book_provisions,
    discounted_ecl,
    provisions_roll_forward,
)
from creditmesh.finance.statement import (
    BalanceSheet,
    IncomeStatement,
    StatementError,
    balance_sheet,
    income_statement,
    profit_and_loss,
    quarter_bounds,
    shift_quarter,
)

__all__ = [
    "LINES",
    "StatementLine",
    "mapping_problems",
    "RollForward",
    "book_of_ledger",
    "book_provisions",
    "discounted_ecl",
    "provisions_roll_forward",
    "BalanceSheet",
    "IncomeStatement",
    "StatementError",
    "balance_sheet",
    "income_statement",
    "profit_and_loss",
    "quarter_bounds",
    "shift_quarter",
]
