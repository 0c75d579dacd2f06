"""The waterfall of :mod:`creditmesh.ledger.waterfall` over due installments, as one windowed SQL query.

For payments that pay no more than is due (no prepayment, no re-cast), the split is set-based: each
payment is joined to its loan's due installments not yet settled, oldest first, and each installment
takes, component by component in the waterfall's order, what is left of the payment after the older
installments and the earlier components. The bulk path runs it over a whole file
(:mod:`creditmesh.ledger.bulk`); ``tests/ledger/test_bulk_equals_one_by_one.py`` holds it equal to the
Python waterfall of the one-by-one path. Kept apart from the bulk path so that a server-side function for
one payment can run the same text.
"""

from __future__ import annotations

from creditmesh.funding import GUARANTEED_MODELS, sql_in
from creditmesh.ledger import journal
from creditmesh.ledger.waterfall import COMPONENTS


def clamp(value: str, top: str) -> str:
    """``value`` kept within [0, top], in SQL that both engines run."""
    return f"CASE WHEN {value} <= 0 THEN 0 WHEN {value} >= {top} THEN {top} ELSE {value} END"


#: What keeps each engine's planner from inlining a subquery (PostgreSQL's ``OFFSET 0``; SQLite has none):
#: :func:`lines_sql`'s ``fence``.
FENCES = {"postgresql": "OFFSET 0"}


def lines_sql(
    *,
    payments: str,
    paid: str,
    late: str,
    where: str,
    carried: tuple[str, ...] = (),
    partition: str = "row_number",
    open_only: bool = False,
    due_owed: bool = True,
    fence: str = "",
) -> str:
    """One row per (payment, due installment not yet settled), in SQL for both engines.

    ``payments`` is a FROM item aliased ``v`` with ``row_number`` (one per payment), ``loan_id``,
    ``paid_on`` and ``amount_minor``; ``paid`` one aliased ``p`` with each installment's allocations so far
    (``loan_id, seq``, one column per component, and ``settled_on`` unless ``open_only``); ``late`` one
    aliased ``f`` with its late fees (``loan_id, seq, late_fee``); ``where`` which payments to allocate;
    ``carried`` more columns of ``v`` to carry along; ``partition`` the column of ``v`` that tells payments
    apart (``loan_id`` when each loan has one payment at most: the lines then come sorted by loan). The lines
    leave out the installments whose ``p.settled_on`` is set, unless ``open_only``: ``where`` already keeps
    only installments not yet settled and ``paid`` holds only theirs (the bulk path: those after the loan's
    last settled one), so no clause leaves any out.

    Columns: the payment's, ``seq``, ``due_owed`` (all that is due on the payment's day), what the line
    takes of each component (:data:`COMPONENTS`), ``settles`` (1 when the installment owes nothing
    afterwards), ``within_due`` (1 when the payment is no more than ``due_owed``: a larger one prepays, which
    only the one-by-one path does) and ``pays`` (1 when the line takes anything and ``within_due``). With
    ``due_owed=False``, instead of ``due_owed`` and ``within_due`` (a window over each payment's lines, of
    its own), ``owed`` (what the line's installment owes) for the caller to sum with its other sums per
    payment, and ``pays`` is 1 when the line takes anything (the caller posts only payments within what is
    due). ``fence`` ends the subquery whose columns are each line's split (PostgreSQL: ``OFFSET 0``), so that the
    planner computes the split once instead of again in every expression that reads it (settles, pays, the
    caller's sums); SQLite, which has no such fence, gets the same lines without it.
    """
    due = {part: f"i.{part}_due_minor" for part in COMPONENTS} | {"late_fee": "COALESCE(f.late_fee, 0)"}
    owed = {part: f"{due[part]} - COALESCE(p.{part}, 0)" for part in COMPONENTS}
    total = " + ".join(f"({expression})" for expression in owed.values())
    # what is left of the payment for each component of the line: after the older lines (``x.remaining``) and the
    # line's earlier components (``owed_before_*``); the line takes it, up to what the component owes, and
    # settles the installment when every component takes all it owes
    parts = ", ".join(
        f"{clamp(f'x.remaining - x.owed_before_{part}' if k else 'x.remaining', f'x.owed_{part}')} AS {part}"
        for k, part in enumerate(COMPONENTS)
    )
    settles = " AND ".join(f"y.{part} = y.owed_{part}" for part in COMPONENTS)
    owed_before = "".join(
        f",\n                   {' + '.join(f'({owed[p]})' for p in COMPONENTS[:k])} AS owed_before_{part}"
        for k, part in enumerate(COMPONENTS)
        if k
    )
    unsettled = "" if open_only else " AND p.settled_on IS NULL"
    if due_owed:
        owed_total = f"CAST(SUM({total}) OVER (PARTITION BY v.{partition}) AS BIGINT) AS due_owed"
        owed_column = "due_owed"
        within_due = (
            ",\n               CASE WHEN y.amount_minor <= y.due_owed THEN 1 ELSE 0 END AS within_due"
        )
        pays = "y.amount_minor <= y.due_owed AND "
    else:
        owed_total, owed_column, within_due, pays = f"{total} AS owed", "owed", "", ""
    # the fenced subquery says its order (the windows'), else the planner sorts its rows again for the caller's
    fenced = f" ORDER BY x.{partition}, x.seq {fence}" if fence else ""
    carry = "".join(f", v.{column}" for column in carried)
    carry_x = "".join(f", x.{column}" for column in carried)
    carry_y = "".join(f", y.{column}" for column in carried)
    owed_x = ", ".join(f"x.owed_{part}" for part in COMPONENTS)
    return f"""
        SELECT y.row_number, y.loan_id, y.seq, y.paid_on, y.amount_minor, y.{owed_column}{carry_y},
               y.{", y.".join(COMPONENTS)},
               CASE WHEN {settles} THEN 1 ELSE 0 END AS settles{within_due},
               CASE WHEN {pays}y.{" + y.".join(COMPONENTS)} > 0 THEN 1 ELSE 0 END AS pays
        FROM (
        SELECT x.row_number, x.loan_id, x.seq, x.paid_on, x.amount_minor, x.{owed_column}{carry_x}, {owed_x},
               {parts}
        FROM (
            SELECT v.row_number, v.loan_id, v.paid_on, v.amount_minor, i.seq{carry},
                   {", ".join(f"{expression} AS owed_{part}" for part, expression in owed.items())}{owed_before},
                   CAST(v.amount_minor - (SUM({total}) OVER (PARTITION BY v.{partition} ORDER BY i.seq ROWS UNBOUNDED PRECEDING)
                                          - ({total})) AS BIGINT) AS remaining,
                   {owed_total}
            FROM {payments}
            JOIN installments i ON i.loan_id = v.loan_id AND i.due_date <= v.paid_on
            LEFT JOIN {paid} ON p.loan_id = i.loan_id AND p.seq = i.seq
            LEFT JOIN {late} ON f.loan_id = i.loan_id AND f.seq = i.seq
            WHERE ({where}){unsettled}
        ) AS x{fenced}
        ) AS y"""


def account_case(column: str, mapping: dict[str, str]) -> str:
    """A CASE over funding models built from journal.py's tables (our constants, never user text)."""
    for model, account in mapping.items():
        if not (model.replace("_", "").isalpha() and account.isdigit()):
            raise journal.LedgerInvariantError(
                "journal", f"unexpected account mapping {model!r} -> {account!r}"
            )
    whens = " ".join(f"WHEN '{model}' THEN '{account}'" for model, account in mapping.items())
    return f"CASE {column} {whens} END"


def payment_lines(model: str, paid: dict[str, str]) -> list[tuple[str, str]]:
    """:func:`creditmesh.ledger.journal.entry_for_payment` of a payment that is not a recovery and waives no fee,
    but its cash line, in SQL: (account, amount) per line, in the entry's order; an account is NULL where the
    funding model has no such line. ``model`` is the loan's funding model, ``paid`` what the payment paid of
    each component (:data:`COMPONENTS`), both as SQL expressions."""
    guaranteed = sql_in(model, GUARANTEED_MODELS)
    return [
        (f"'{journal.LATE_FEES_RECEIVABLE}'", f"-{paid['late_fee']}"),
        (account_case(model, journal.PRINCIPAL_ACCOUNT), f"-{paid['principal']}"),
        (account_case(model, journal.INTEREST_ACCOUNT), f"-{paid['interest']}"),
        (account_case(model, journal.FEE_ACCOUNT), f"-{paid['fee']}"),
        (f"CASE WHEN {guaranteed} THEN '{journal.GUARANTEE_LIABILITY}' END", paid["fee"]),
        (f"CASE WHEN {guaranteed} THEN '{journal.GUARANTEE_RELEASE}' END", f"-{paid['fee']}"),
    ]
