"""The income statement's lines as data: which journal accounts each of the seeds' lines sums, in one place.

A line sums the postings of its :class:`Source` accounts, optionally only those of loans whose funding
model has a property (``funding.py``), so one account may feed two lines (the service fees of
capital-heavy and of capital-light loans). Every posting to an income or expense account belongs to
exactly one line (:func:`mapping_problems`, checked by the tests): that is what makes the statement's
net income equal the change in retained earnings.

The seeds' figures are the fourth quarter of 2024 (seeds/002, unaudited condensed consolidated
statements of operations, RMB thousands); only their shares of total net revenue are compared, as a
simulated book is far smaller. Sales and marketing, general and administrative expenses, interest and
other income and income tax are not booked by the ledger and are left out of the statement.
"""

from __future__ import annotations

from dataclasses import dataclass

from creditmesh import funding
from creditmesh.ledger import journal

#: The statement's sections, in order, and whether their lines are revenue (credit balances).
SECTIONS: dict[str, bool] = {
    "credit_driven_services": True,
    "platform_services": True,
    "operating_costs": False,
    "provisions": False,
}


@dataclass(frozen=True, slots=True)
class Source:
    """The postings of ``account``, of loans whose funding model has property ``where`` (any loan when None).

    ``holds=False`` takes the loans whose model lacks the property.
    """

    account: str
    where: str | None = None
    holds: bool = True

    def models(self) -> tuple[str, ...] | None:
        """The funding models this source takes, or None for every posting of the account."""
        if self.where is None:
            return None
        return tuple(m.name for m in funding.MODELS if bool(getattr(m, self.where)) == self.holds)


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One line of the seeds' statement of operations and the accounts it is computed from."""

    key: str
    label: str
    section: str
    sources: tuple[Source, ...]
    #: The seeds' Q4 2024 amount, RMB thousands (seeds/002).
    seed_q4_2024_thousands: int
    #: Why a line has no source, or what it holds that its label does not say.
    note: str = ""

    @property
    def revenue(self) -> bool:
        return SECTIONS[self.section]


LINES: tuple[StatementLine, ...] = (
    StatementLine(
        "capital_heavy_fees",
        "Loan facilitation and servicing fees - capital heavy",
        "credit_driven_services",
        (Source(journal.SERVICE_FEES, "bears_credit_risk"),),
        362_958,
    ),
    StatementLine(
        "financing_income",
        "Financing income",
        "credit_driven_services",
        (Source(journal.FINANCING_INCOME),),
        1_667_340,
    ),
    StatementLine(
        "guarantee_release",
        "Revenue from releasing of guarantee liabilities",
        "credit_driven_services",
        (Source(journal.GUARANTEE_RELEASE),),
        761_827,
    ),
    StatementLine(
        "credit_driven_other_fees",
        "Other services fees (credit driven)",
        "credit_driven_services",
        (Source(journal.LATE_FEE_INCOME, "bears_credit_risk"),),
        97_375,
        "late payment fees of capital-heavy loans",
    ),
    StatementLine(
        "capital_light_fees",
        "Loan facilitation and servicing fees - capital light",
        "platform_services",
        (Source(journal.SERVICE_FEES, "bears_credit_risk", holds=False),),
        515_062,
    ),
    StatementLine(
        "referral_fees",
        "Referral services fees",
        "platform_services",
        (Source(journal.REFERRAL_FEES),),
        907_207,
    ),
    StatementLine(
        "platform_other_fees",
        "Other services fees (platform)",
        "platform_services",
        (Source(journal.LATE_FEE_INCOME, "bears_credit_risk", holds=False), Source(journal.TECH_FEES)),
        170_483,
        "late payment fees of platform-service loans and technology service fees",
    ),
    StatementLine(
        "servicing_expenses",
        "Facilitation, origination and servicing",
        "operating_costs",
        (Source(journal.SERVICING_EXPENSES), Source(journal.COLLECTION_FEES)),
        734_659,
        "including the collection agencies' fees",
    ),
    StatementLine(
        "funding_costs",
        "Funding costs",
        "operating_costs",
        (Source(journal.FUNDING_COSTS),),
        126_841,
        "interest to the trusts and ABS investors funding the on-balance book",
    ),
    StatementLine(
        "provision_loans_receivable",
        "Provision for loans receivable",
        "provisions",
        (
            Source(journal.LOAN_PROVISION),
            Source(journal.CREDIT_LOSSES, "on_balance_sheet"),
            Source(journal.RECOVERIES),
        ),
        598_353,
        "the allowance's movement, plus write-offs beyond it, less recoveries",
    ),
    StatementLine(
        "provision_financial_assets",
        "Provision for financial assets receivable",
        "provisions",
        (),
        63_251,
        "none: unpaid guarantee fees receivable are reversed against the guarantee liability at charge-off",
    ),
    StatementLine(
        "provision_accounts_receivable",
        "Provision for accounts receivable and contract assets",
        "provisions",
        (Source(journal.CREDIT_LOSSES, "on_balance_sheet", holds=False),),
        77_450,
        "late fees receivable of partners' loans written off",
    ),
    StatementLine(
        "provision_contingent_liabilities",
        "Provision for contingent liabilities",
        "provisions",
        (Source(journal.CONTINGENT_PROVISION), Source(journal.GUARANTEE_PAYOUTS)),
        311_372,
        "the contingent guarantee liability's movement, plus guarantee payouts net of recoveries",
    ),
)

#: The seeds' Q4 2024 total net revenue, RMB thousands.
SEED_TOTAL_REVENUE_THOUSANDS = 4_482_252
#: Accounts whose balances are the statement's (income and expense).
PROFIT_AND_LOSS_ACCOUNTS: tuple[str, ...] = tuple(
    a.code for a in journal.CHART if a.kind in ("income", "expense")
)


def line_of(account: str, funding_model: str | None) -> list[str]:
    """The keys of the lines a posting to ``account`` of a loan of ``funding_model`` (None: no loan) falls in."""
    found = []
    for line in LINES:
        for source in line.sources:
            models = source.models()
            if source.account == account and (models is None or funding_model in models):
                found.append(line.key)
    return found


def mapping_problems() -> list[str]:
    """Every (income or expense account, funding model) pair that falls in no line or in more than one."""
    problems = []
    if sum(line.seed_q4_2024_thousands for line in LINES if line.revenue) != SEED_TOTAL_REVENUE_THOUSANDS:
        problems.append("the seeds' revenue lines do not add up to their total net revenue")
    for account in PROFIT_AND_LOSS_ACCOUNTS:
        for model in funding.FUNDING_MODELS:
            keys = line_of(account, model)
            if len(keys) != 1:
                problems.append(f"account {account}, {model} loans: in {len(keys)} lines {keys}")
    problems += [
        f"{line.key}: unknown section {line.section!r}" for line in LINES if line.section not in SECTIONS
    ]
    return problems
