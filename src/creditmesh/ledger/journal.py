"""Double-entry bookkeeping: the chart of accounts and the journal entry of every money movement.

A journal entry is an immutable tuple of postings that sums to zero (debits
positive, credits negative). :func:`entry_for_payment` and its siblings are
pure functions from an event to its postings; :func:`check_balanced` raises a
:class:`LedgerInvariantError` (not an ``assert``, which ``python -O`` strips)
before anything unbalanced could be written.

Who owns the principal decides the accounts (the seeds' funding models; each model's
record in :mod:`creditmesh.funding` says which case it is, and the per-model maps below
are derived from it):

* on balance sheet (``capital_heavy_on``): the platform's own loan. Principal in *loans receivable*,
  interest is *financing income*, losses hit *credit losses*.
* guaranteed (``capital_heavy_off``): a partner's loan the platform guarantees. Principal is
  *serviced for partners*; interest is *due to funding partners*; the fees are the
  guarantee fee, booked at origination against a *guarantee liability* that is
  released to income as the fees are paid; at charge-off the platform pays the
  partner the outstanding principal (*guarantee payouts*).
* neither (``capital_light``, ``ice``, ``tech_solution``): a partner's loan without guarantee.
  Principal and interest belong to the partner; the platform earns its fee
  (service fee, ICE referral fee, technology service fee); losses are the partner's.

Late fees are the platform's own (*late fee income*) for every model.

What finance books at month end (``creditmesh.finance``): the IFRS 9 / CECL expected loss as a movement
to a *loss allowance* on loans receivable and to the *contingent guarantee liability* of guaranteed
loans (the provision expenses), the interest paid on the ABS and trust funding of the on-balance book
(*funding costs*), and facilitation, origination and servicing expenses such as collection fees.
Late fees are the platform's own (*late fee income*) for every model, and so are the commissions
paid to collection agencies (*collection fees*).
"""

from __future__ import annotations

from dataclasses import dataclass

from creditmesh.errors import CreditmeshError
from creditmesh.funding import BY_NAME, MODELS


class LedgerInvariantError(CreditmeshError):
    """A money invariant failed: a bug, never an input problem. Nothing was written."""


@dataclass(frozen=True, slots=True)
class Account:
    code: str
    name: str
    kind: str  # asset, liability, equity, income, expense


CHART: tuple[Account, ...] = (
    Account("1000", "cash and settlement", "asset"),
    Account("1100", "loans receivable (on balance sheet)", "asset"),
    Account("1150", "late fees receivable", "asset"),
    Account("1190", "allowance for credit losses on loans receivable", "asset"),
    Account("1200", "loans serviced for funding partners", "asset"),
    Account("1300", "guarantee fees receivable", "asset"),
    Account("2000", "due to funding partners", "liability"),
    Account("2100", "guarantee liabilities", "liability"),
    Account("2150", "guarantee liabilities, contingent (expected loss)", "liability"),
    Account("2200", "funding from ABS and trusts", "liability"),
    Account("3000", "platform capital", "equity"),
    Account("4000", "financing income", "income"),
    Account("4100", "loan facilitation and servicing fees", "income"),
    Account("4200", "revenue from releasing guarantee liabilities", "income"),
    Account("4300", "referral services fees (ICE)", "income"),
    Account("4400", "technology service fees", "income"),
    Account("4500", "late payment fees", "income"),
    Account("4600", "recoveries of charged-off loans", "income"),
    Account("5000", "credit losses", "expense"),
    Account("5100", "guarantee payouts", "expense"),
    Account("5200", "collection fees (agencies)", "expense"),
    Account("5300", "provision for contingent liabilities", "expense"),
    Account("5400", "funding costs", "expense"),
    Account("5500", "facilitation, origination and servicing expenses", "expense"),
    Account("5600", "provision for loans receivable", "expense"),
)
ACCOUNTS = {a.code: a for a in CHART}

CASH, RECEIVABLE, LATE_FEES_RECEIVABLE, SERVICED, GUARANTEE_FEES_RECEIVABLE = (
    "1000",
    "1100",
    "1150",
    "1200",
    "1300",
)
DUE_TO_PARTNERS, GUARANTEE_LIABILITY = "2000", "2100"
FINANCING_INCOME, SERVICE_FEES, GUARANTEE_RELEASE, REFERRAL_FEES, TECH_FEES = (
    "4000",
    "4100",
    "4200",
    "4300",
    "4400",
)
LATE_FEE_INCOME, RECOVERIES, CREDIT_LOSSES, GUARANTEE_PAYOUTS = "4500", "4600", "5000", "5100"
LOSS_ALLOWANCE, CONTINGENT_GUARANTEE, FUNDING_DEBT = "1190", "2150", "2200"
LOAN_PROVISION, CONTINGENT_PROVISION, FUNDING_COSTS, SERVICING_EXPENSES = "5600", "5300", "5400", "5500"
COLLECTION_FEES = "5200"

#: The income account of each kind of platform fee (:data:`creditmesh.funding.FEE_INCOMES`).
FEE_INCOME_ACCOUNT = {"service": SERVICE_FEES, "referral": REFERRAL_FEES, "technology": TECH_FEES}

# Per funding model, derived from its record (creditmesh.funding): who holds the principal and who bears the loss.
#: The account that holds a loan's principal.
PRINCIPAL_ACCOUNT = {m.name: RECEIVABLE if m.on_balance_sheet else SERVICED for m in MODELS}
#: Who is owed the principal disbursed: the platform's cash, or the partner that funded it.
FUNDING_ACCOUNT = {m.name: CASH if m.on_balance_sheet else DUE_TO_PARTNERS for m in MODELS}
#: Where interest paid goes: the platform's financing income, or the partner.
INTEREST_ACCOUNT = {m.name: FINANCING_INCOME if m.on_balance_sheet else DUE_TO_PARTNERS for m in MODELS}
#: Where the platform's fee goes (the guaranteed models' fee is a guarantee fee, receivable from origination).
FEE_ACCOUNT = {
    m.name: GUARANTEE_FEES_RECEIVABLE if m.guarantees else FEE_INCOME_ACCOUNT[m.fee_income] for m in MODELS
}
#: Where an origination fee goes: the platform's facilitation fee, or its ICE/technology fee.
ORIGINATION_FEE_ACCOUNT = {m.name: FEE_INCOME_ACCOUNT[m.fee_income] for m in MODELS}
#: What a recovery after charge-off repays: the platform's loss, its guarantee payout, or the partner.
RECOVERY_ACCOUNT = {
    m.name: RECOVERIES if m.on_balance_sheet else GUARANTEE_PAYOUTS if m.guarantees else DUE_TO_PARTNERS
    for m in MODELS
}
#: Who loses the principal charged off: the platform's credit losses, or the partner.
LOSS_ACCOUNT = {m.name: CREDIT_LOSSES if m.on_balance_sheet else DUE_TO_PARTNERS for m in MODELS}

Posting = tuple[str, int]  # (account code, amount: debit positive, credit negative)


def check_balanced(postings: tuple[Posting, ...], *, what: str) -> tuple[Posting, ...]:
    """The postings without zero lines; raises unless they sum to zero over known accounts."""
    kept = tuple((account, amount) for account, amount in postings if amount != 0)
    unknown = sorted({account for account, _ in kept if account not in ACCOUNTS})
    if unknown:
        raise LedgerInvariantError("journal", f"{what}: unknown account(s) {unknown}")
    total = sum(amount for _, amount in kept)
    if total != 0:
        raise LedgerInvariantError("journal", f"{what}: debits and credits differ by {total}")
    return kept


def entry_for_disbursement(
    funding_model: str, principal: int, guarantee_fees: int, origination_fee: int = 0
) -> tuple[Posting, ...]:
    """A loan is drawn: the platform pays out its own money, or books the partner's loan it services.

    An origination fee is kept out of the amount paid to the borrower (the borrower owes the
    whole principal) and is the platform's income at once.
    """
    model = BY_NAME[funding_model]
    if model.on_balance_sheet:
        postings: tuple[Posting, ...] = ((RECEIVABLE, principal), (CASH, -(principal - origination_fee)))
    else:
        postings = ((SERVICED, principal), (DUE_TO_PARTNERS, -principal), (CASH, origination_fee))
    postings += ((ORIGINATION_FEE_ACCOUNT[funding_model], -origination_fee),)
    if model.guarantees and guarantee_fees:
        postings += ((GUARANTEE_FEES_RECEIVABLE, guarantee_fees), (GUARANTEE_LIABILITY, -guarantee_fees))
    return check_balanced(postings, what="disbursement")


def entry_for_payment(
    funding_model: str,
    *,
    late_fee: int,
    fee: int,
    interest: int,
    principal: int,
    recovery: bool,
    fee_waived: int = 0,
) -> tuple[Posting, ...]:
    """Cash in, split as the waterfall split it. After charge-off the whole amount is a recovery.

    Guarantee fees booked at origination and waived by an early settlement leave the books with
    the guarantee they paid for: the receivable and the liability are reversed together.
    """
    total = late_fee + fee + interest + principal
    if recovery:
        return check_balanced(((CASH, total), (RECOVERY_ACCOUNT[funding_model], -total)), what="recovery")
    postings: tuple[Posting, ...] = (
        (CASH, total),
        (LATE_FEES_RECEIVABLE, -late_fee),
        (PRINCIPAL_ACCOUNT[funding_model], -principal),
        (INTEREST_ACCOUNT[funding_model], -interest),
        (FEE_ACCOUNT[funding_model], -fee),
    )
    if BY_NAME[
        funding_model
    ].guarantees:  # the guarantee fee paid releases as much of the guarantee liability
        postings += ((GUARANTEE_LIABILITY, fee), (GUARANTEE_RELEASE, -fee))
        postings += ((GUARANTEE_LIABILITY, fee_waived), (GUARANTEE_FEES_RECEIVABLE, -fee_waived))
    return check_balanced(postings, what="payment")


def entry_for_late_fee(amount: int) -> tuple[Posting, ...]:
    return check_balanced(((LATE_FEES_RECEIVABLE, amount), (LATE_FEE_INCOME, -amount)), what="late fee")


def entry_for_collection_fee(amount: int) -> tuple[Posting, ...]:
    """An agency's commission on what it collected: the platform's expense, paid out in cash."""
    return check_balanced(((COLLECTION_FEES, amount), (CASH, -amount)), what="collection fee")


def entry_for_charge_off(
    funding_model: str, *, principal: int, late_fees: int, guarantee_fees: int
) -> tuple[Posting, ...]:
    """A loan reaches 181 days past due: its principal leaves the books, and who bears the loss pays it."""
    postings: tuple[Posting, ...] = ((CREDIT_LOSSES, late_fees), (LATE_FEES_RECEIVABLE, -late_fees))
    postings += ((LOSS_ACCOUNT[funding_model], principal), (PRINCIPAL_ACCOUNT[funding_model], -principal))
    if BY_NAME[funding_model].guarantees:
        postings += ((GUARANTEE_PAYOUTS, principal), (CASH, -principal))
        postings += ((GUARANTEE_LIABILITY, guarantee_fees), (GUARANTEE_FEES_RECEIVABLE, -guarantee_fees))
    return check_balanced(postings, what="charge-off")


def entry_for_provisions(*, allowance_movement: int, contingent_movement: int) -> tuple[Posting, ...]:
    """The month's change in expected loss: a rise is an expense and a larger allowance or contingent
    guarantee liability; a fall (loans repaid, or performing better than expected) releases it."""
    return check_balanced(
        (
            (LOAN_PROVISION, allowance_movement),
            (LOSS_ALLOWANCE, -allowance_movement),
            (CONTINGENT_PROVISION, contingent_movement),
            (CONTINGENT_GUARANTEE, -contingent_movement),
        ),
        what="provisions",
    )


def entry_for_funding(amount: int) -> tuple[Posting, ...]:
    """Cash raised for the on-balance book from a trust or an ABS tranche (positive) or repaid (negative)."""
    return check_balanced(((CASH, amount), (FUNDING_DEBT, -amount)), what="funding")


def entry_for_funding_cost(amount: int) -> tuple[Posting, ...]:
    """Interest paid to the trusts' and ABS notes' investors."""
    return check_balanced(((FUNDING_COSTS, amount), (CASH, -amount)), what="funding cost")


def entry_for_servicing_expense(amount: int) -> tuple[Posting, ...]:
    """Paid for facilitation, origination and servicing: credit searches, collection fees."""
    return check_balanced(((SERVICING_EXPENSES, amount), (CASH, -amount)), what="servicing expense")
