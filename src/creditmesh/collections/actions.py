"""What collections did and what came of it: actions recorded under the contact rules, promises to pay
kept or broken as the ledger's payments arrive, payments linked to the action before them, and the
agencies' commissions booked in the journal.

Each function works inside the caller's transaction (:class:`creditmesh.collections.desk.CollectionsDesk`
owns them). An action is refused, with the field at fault, when it would break a contact rule:
a contact in the borrower's quiet hours, beyond the day's cap, of a third party, or on a loan
under dispute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, insert, select, text

from creditmesh.collections.strategy import CONTACT_CHANNELS, ContactRules
from creditmesh.delinquency import days_between_sql
from creditmesh.errors import CreditmeshError
from creditmesh.ledger import journal
from creditmesh.ledger.tables import collection_actions, loans
from creditmesh.schema import COLLECTION_CHANNELS, COLLECTION_OUTCOMES

#: A promise is for a payment within this many days of the promise.
PROMISE_DAYS_MAX = 30
#: A payment is credited to the last action on its loan no older than this.
ATTRIBUTION_DAYS = 30
AMOUNT_MAX_MINOR = 10**12


class CollectionsError(CreditmeshError):
    """An action collections refuses to record: the field at fault and why. Nothing was written."""


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One thing done about a loan: a contact, a reminder, a placement, and its outcome.

    A promise to pay is an action with outcome ``promise_to_pay``, ``promised_minor`` and ``promise_due_on``.
    """

    action_id: str
    loan_id: str
    at: datetime  # UTC, naive or aware
    channel: str
    outcome: str
    target: str = "borrower"
    promised_minor: int = 0
    promise_due_on: date | None = None
    cost_minor: int = 0
    agent_id: str | None = None
    strategy_version: str | None = None
    arm: str | None = None


def _utc(at: datetime) -> datetime:
    if at.tzinfo is not None:
        from datetime import UTC

        at = at.astimezone(UTC).replace(tzinfo=None)
    return at


def local_time(at: datetime, rules: ContactRules) -> datetime:
    """The borrower's local wall-clock time at UTC ``at``."""
    return _utc(at) + timedelta(minutes=rules.utc_offset_minutes)


def quiet(local: datetime, rules: ContactRules) -> bool:
    start, end = rules.quiet_hours.start, rules.quiet_hours.end
    hour = local.hour
    if start == end:
        return False
    return start <= hour < end if start < end else hour >= start or hour < end


def _check_fields(action: ActionRecord) -> None:
    for name in ("action_id", "loan_id"):
        value = getattr(action, name)
        if not isinstance(value, str) or not value or len(value) > 40:
            raise CollectionsError(name, "must be a non-empty string of at most 40 characters")
    if not isinstance(action.at, datetime):
        raise CollectionsError("at", f"must be a date and time, got {action.at!r}")
    if action.channel not in COLLECTION_CHANNELS:
        raise CollectionsError("channel", f"{action.channel!r} is not one of {list(COLLECTION_CHANNELS)}")
    if action.outcome not in COLLECTION_OUTCOMES:
        raise CollectionsError("outcome", f"{action.outcome!r} is not one of {list(COLLECTION_OUTCOMES)}")
    if action.target not in ("borrower", "third_party"):
        raise CollectionsError("target", "must be 'borrower' or 'third_party'")
    for name in ("promised_minor", "cost_minor"):
        value = getattr(action, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= AMOUNT_MAX_MINOR:
            raise CollectionsError(name, f"must be a whole number of minor units in [0, {AMOUNT_MAX_MINOR}]")


def record_action(conn: Connection, action: ActionRecord, rules: ContactRules) -> bool:
    """Record ``action`` under the contact rules; False when the same action was recorded before (a replay).

    Raises :class:`CollectionsError` naming the field when a rule or a field forbids it."""
    _check_fields(action)
    at = _utc(action.at)
    local = local_time(at, rules)
    local_day = local.date()
    previous = conn.execute(
        select(collection_actions).where(collection_actions.c.action_id == action.action_id)
    ).one_or_none()
    if previous is not None:
        same = (previous.loan_id, previous.channel, previous.outcome, previous.promised_minor) == (
            action.loan_id,
            action.channel,
            action.outcome,
            action.promised_minor,
        )
        if not same:
            raise CollectionsError("action_id", f"{action.action_id!r} was recorded for a different action")
        return False
    loan = conn.execute(
        select(loans.c.borrower_id, loans.c.status).where(loans.c.loan_id == action.loan_id)
    ).one_or_none()
    if loan is None:
        raise CollectionsError("loan_id", f"unknown loan {action.loan_id!r}")
    if loan.status in ("settled", "written_off"):
        raise CollectionsError(
            "loan_id", f"{action.loan_id!r} is {loan.status.replace('_', ' ')}: nothing to collect"
        )
    contact = action.channel in CONTACT_CHANNELS
    if action.target == "third_party" and not rules.third_party_contact:
        raise CollectionsError("target", "the contact rules forbid contacting third parties")
    if (contact or action.channel == "reminder") and quiet(local, rules):
        raise CollectionsError(
            "at",
            f"{local:%H:%M} is in the borrower's quiet hours "
            f"({rules.quiet_hours.start:02d}:00-{rules.quiet_hours.end:02d}:00 local time)",
        )
    resolving = action.outcome in ("dispute", "dispute_resolved")
    if contact and rules.stop_on_dispute and not resolving and _disputed(conn, action.loan_id):
        raise CollectionsError(
            "loan_id", f"{action.loan_id!r} is under dispute: contact stops until it is resolved"
        )
    if contact:
        today = conn.execute(
            text(
                "SELECT COUNT(*) FROM collection_actions WHERE borrower_id = :borrower AND local_day = :day"
                f" AND channel IN ({', '.join(repr(c) for c in CONTACT_CHANNELS)})"
            ),
            {"borrower": loan.borrower_id, "day": local_day},
        ).scalar_one()
        if today >= rules.max_contacts_per_day:
            raise CollectionsError(
                "at",
                f"borrower {loan.borrower_id!r} was contacted {today} times on {local_day}; "
                f"the rules allow {rules.max_contacts_per_day} a day",
            )
    promise = action.outcome == "promise_to_pay"
    if promise:
        if action.promised_minor <= 0:
            raise CollectionsError("promised_minor", "a promise to pay names a positive amount")
        due = action.promise_due_on
        if not isinstance(due, date) or not local_day <= due <= local_day + timedelta(days=PROMISE_DAYS_MAX):
            raise CollectionsError(
                "promise_due_on", f"a promise is due between {local_day} and {PROMISE_DAYS_MAX} days later"
            )
    elif action.promised_minor or action.promise_due_on is not None:
        raise CollectionsError("promised_minor", "only a promise_to_pay outcome carries a promise")
    conn.execute(
        insert(collection_actions).values(
            action_id=action.action_id,
            loan_id=action.loan_id,
            borrower_id=loan.borrower_id,
            at=at,
            local_day=local_day,
            channel=action.channel,
            target=action.target,
            outcome=action.outcome,
            promised_minor=action.promised_minor,
            promise_due_on=action.promise_due_on if promise else None,
            promise_status="open" if promise else None,
            cost_minor=action.cost_minor,
            agent_id=action.agent_id,
            strategy_version=action.strategy_version,
            arm=action.arm,
        )
    )
    return True


def _disputed(conn: Connection, loan_id: str) -> bool:
    row = conn.execute(
        text(
            "SELECT MAX(CASE WHEN outcome = 'dispute' THEN at END), MAX(CASE WHEN outcome = 'dispute_resolved'"
            " THEN at END) FROM collection_actions WHERE loan_id = :loan"
        ),
        {"loan": loan_id},
    ).one()
    return row[0] is not None and (row[1] is None or row[1] < row[0])


def resolve_promises(conn: Connection, as_of: date) -> tuple[int, int]:
    """Open promises the payments have met by ``as_of`` become kept; those past due unmet become broken.

    A promise is met by the loan's payments from the day it was made to its due date. Returns (kept, broken)."""
    paid = (
        "(SELECT COALESCE(SUM(p.amount_minor), 0) FROM payments AS p WHERE p.loan_id = collection_actions.loan_id"
        " AND p.paid_on >= collection_actions.local_day AND p.paid_on <= collection_actions.promise_due_on"
        " AND p.paid_on <= :as_of)"
    )
    kept = conn.execute(
        text(
            f"UPDATE collection_actions SET promise_status = 'kept', promise_resolved_on = :as_of"
            f" WHERE promise_status = 'open' AND local_day <= :as_of AND {paid} >= promised_minor"
        ),
        {"as_of": as_of},
    ).rowcount
    broken = conn.execute(
        text(
            "UPDATE collection_actions SET promise_status = 'broken', promise_resolved_on = :as_of"
            " WHERE promise_status = 'open' AND promise_due_on < :as_of"
        ),
        {"as_of": as_of},
    ).rowcount
    return int(kept or 0), int(broken or 0)


def payments_with_actions(conn: Connection, since: date, until: date) -> list:
    """Each payment from ``since`` to ``until`` with the last action on its loan at or before the payment's
    day (within :data:`ATTRIBUTION_DAYS`), or none: rows of payment_id, loan_id, paid_on, amount_minor,
    principal_minor, action_id, channel."""
    age = days_between_sql("p.paid_on", "a.local_day", conn.dialect.name)
    last = (
        "SELECT a.{col} FROM collection_actions AS a WHERE a.loan_id = p.loan_id AND a.local_day <= p.paid_on"
        f" AND {age} <= {ATTRIBUTION_DAYS} ORDER BY a.at DESC, a.action_id DESC LIMIT 1"
    )
    return conn.execute(
        text(f"""
        SELECT p.payment_id, p.loan_id, p.paid_on, p.amount_minor,
               p.principal_minor + p.prepaid_principal_minor AS principal_minor,
               ({last.format(col="action_id")}) AS action_id, ({last.format(col="channel")}) AS channel
        FROM payments AS p WHERE p.paid_on >= :since AND p.paid_on <= :until
        ORDER BY p.paid_on, p.payment_id
    """),
        {"since": since, "until": until},
    ).all()


def book_agency_fees(conn: Connection, on: date, commission_pct: float) -> int:
    """Journal the agencies' commission on the payments of ``on`` on loans placed with an agency before them.

    One entry for the day (kind ``collection_fees``): a collection-fee expense and the cash paid out, per
    loan; booking the same day again books nothing. Returns the total fee in minor units."""
    if not 0 <= commission_pct <= 100:
        raise CollectionsError("commission_pct", f"must be in [0, 100], got {commission_pct!r}")
    reference = f"collection fees {on.isoformat()}"
    done = conn.execute(
        text("SELECT COUNT(*) FROM journal_entries WHERE kind = 'collection_fees' AND reference = :ref"),
        {"ref": reference},
    ).scalar_one()
    if done:
        return 0
    ppm = round(commission_pct * 10_000)
    fees = conn.execute(
        text("""
        SELECT p.loan_id, SUM((p.amount_minor * :ppm + 500000) / 1000000) AS fee
        FROM payments AS p
        WHERE p.paid_on = :on AND EXISTS (
            SELECT 1 FROM collection_actions AS a
            WHERE a.loan_id = p.loan_id AND a.channel = 'agency' AND a.local_day <= p.paid_on)
        GROUP BY p.loan_id ORDER BY p.loan_id
    """),
        {"on": on, "ppm": ppm},
    ).all()
    fees = [(loan_id, int(fee)) for loan_id, fee in fees if fee]
    if not fees:
        return 0
    from creditmesh.ledger.tables import journal_entries, postings

    entry_id = conn.execute(
        insert(journal_entries)
        .values(occurred_on=on, kind="collection_fees", loan_id=None, reference=reference)
        .returning(journal_entries.c.entry_id)
    ).scalar_one()
    lines = []
    for loan_id, fee in fees:
        for account, amount in journal.entry_for_collection_fee(fee):
            lines.append(
                {"entry_id": entry_id, "account_code": account, "loan_id": loan_id, "amount_minor": amount}
            )
    conn.execute(insert(postings), lines)
    return sum(fee for _, fee in fees)


def arm_metrics(conn: Connection, since: date, until: date) -> list:
    """By strategy arm, over actions from ``since`` to ``until``: actions, contacts, cost, promises made, kept
    and broken, and the principal of the payments each arm's actions were the last action before."""
    age = days_between_sql("p.paid_on", "a.local_day", conn.dialect.name)
    contact = ", ".join(f"'{c}'" for c in CONTACT_CHANNELS)
    return conn.execute(
        text(f"""
        WITH acted AS (
            SELECT * FROM collection_actions WHERE local_day >= :since AND local_day <= :until
        ),
        credited AS (
            SELECT p.payment_id, p.principal_minor + p.prepaid_principal_minor AS principal,
                   (SELECT a.action_id FROM collection_actions AS a
                    WHERE a.loan_id = p.loan_id AND a.local_day <= p.paid_on AND {age} <= {ATTRIBUTION_DAYS}
                    ORDER BY a.at DESC, a.action_id DESC LIMIT 1) AS action_id
            FROM payments AS p WHERE p.paid_on >= :since AND p.paid_on <= :until
        )
        SELECT COALESCE(a.arm, 'champion') AS arm, COUNT(*) AS actions,
               SUM(CASE WHEN a.channel IN ({contact}) THEN 1 ELSE 0 END) AS contacts,
               CAST(SUM(a.cost_minor) AS BIGINT) AS cost_minor,
               SUM(CASE WHEN a.outcome = 'promise_to_pay' THEN 1 ELSE 0 END) AS promises,
               SUM(CASE WHEN a.promise_status = 'kept' THEN 1 ELSE 0 END) AS kept,
               SUM(CASE WHEN a.promise_status = 'broken' THEN 1 ELSE 0 END) AS broken,
               CAST(COALESCE(SUM(c.principal), 0) AS BIGINT) AS principal_collected_minor
        FROM acted AS a LEFT JOIN credited AS c ON c.action_id = a.action_id
        GROUP BY COALESCE(a.arm, 'champion') ORDER BY 1
    """),
        {"since": since, "until": until},
    ).all()
