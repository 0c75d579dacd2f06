"""Finance: the income statement from the journal, provisions over time, ABS funding and regulatory capital.

:func:`income_statement` turns the ledger's journal into the seeds' statement of operations (lines
mapped to accounts in :mod:`~creditmesh.finance.lines`) tied to the balance sheet;
:func:`provisions_roll_forward` moves the ECL allowance and the guarantee liability month by month;
:func:`securitise` selects an ABS pool, projects it and runs the waterfall (:mod:`~creditmesh.finance.pool`,
:mod:`~creditmesh.finance.deal`); :func:`regulatory_capital` weighs the book under Basel IRB and the
standardised approach.
"""

from creditmesh.finance.abs import AbsReport, book_funding_costs, securitise
from creditmesh.finance.capital import CapitalResult, irb_risk_weight, regulatory_capital
from creditmesh.finance.deal import Deal, Tranche, WaterfallResult, blended_funding_cost, run_waterfall
from creditmesh.finance.lines import LINES, StatementLine, mapping_problems
from creditmesh.finance.pool import EligibilityCriteria, Pool, PoolCashFlows, project_pool, select_pool
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
    "AbsReport",
    "book_funding_costs",
    "securitise",
    "CapitalResult",
    "irb_risk_weight",
    "regulatory_capital",
    "Deal",
    "Tranche",
    "WaterfallResult",
    "blended_funding_cost",
    "run_waterfall",
    "EligibilityCriteria",
    "Pool",
    "PoolCashFlows",
    "project_pool",
    "select_pool",
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
