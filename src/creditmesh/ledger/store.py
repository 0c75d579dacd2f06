"""The ledger: one code path over SQLite (a file, the default) and PostgreSQL (by URL).

Every public method is one unit of work in one transaction that it owns; no
helper commits on the side. Writes take the strictest lock the engine offers
for what they touch: on PostgreSQL the loan's row (``SELECT ... FOR UPDATE``),
on SQLite the whole database (``BEGIN IMMEDIATE``, WAL mode, ``synchronous=FULL``).
So a payment is either booked whole (installments, payment, journal) or not at
all, and an acknowledged payment survives a crash.
"""

from __future__ import annotations

import os
import uuid
from collections import namedtuple
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from creditmesh.databases import database_url as parse_database_url
from creditmesh.errors import CreditmeshError
from creditmesh.funding import FUNDING_MODELS
from creditmesh.ledger import hotpath, journal, serverside
from creditmesh.ledger.aging import LATE_FEE_MINOR, AgingReport
from creditmesh.ledger.aging import age as age_loans
from creditmesh.ledger.fingerprint import payment_fingerprint
from creditmesh.ledger.tables import (
    allocations,
    credit_lines,
    installments,
    journal_entries,
    loans,
    payments,
    postings,
)
from creditmesh.ledger.waterfall import COMPONENTS, Installment, settlement_amount, split_payment
from creditmesh.money import MINOR_UNITS
from creditmesh.schedules import TENOR_MONTHS_MAX, build_schedules
from creditmesh.schema import SCHEDULES

if TYPE_CHECKING:
    from creditmesh.ledger.bulk import BulkResult

DEFAULT_URL = "sqlite:///creditmesh-ledger.db"
IDEMPOTENCY_KEY_MAX = 80
#: Serialises migrations on PostgreSQL when several processes (service workers) start at once.
MIGRATION_LOCK_KEY = 7_405_190_001


def database_url(value: str | None = None) -> str:
    """The one database URL format of the ledger and the service (:func:`creditmesh.databases.database_url`);
    ``None`` reads ``$CREDITMESH_DB``, else :data:`DEFAULT_URL`."""
    return parse_database_url(value or os.environ.get("CREDITMESH_DB") or DEFAULT_URL)


class LedgerError(CreditmeshError):
    """A request the ledger refuses: the field at fault and why. Nothing was written."""


class IdempotencyConflict(LedgerError):
    """The idempotency key was used before with a different request."""


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """What a drawdown books: the loan's contract."""

    loan_id: str
    borrower_id: str
    principal_minor: int
    apr_ppm: int
    tenor_months: int
    originated_on: date
    funding_model: str = "capital_heavy_on"
    schedule: str = "equal_installment"
    institution_id: str = "platform"
    credit_line_id: str | None = None
    application_id: str | None = None
    currency: str = "CNY"
    fee_per_installment_minor: int = 0
    origination_fee_minor: int = 0


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    loan_id: str
    amount_minor: int
    paid_on: date
    idempotency_key: str
    currency: str = "CNY"

    def fingerprint(self) -> str:
        """SHA-256 of the request body, the same for the one-by-one and the bulk path."""
        return payment_fingerprint(self.loan_id, self.amount_minor, self.paid_on.isoformat(), self.currency)


@dataclass(frozen=True, slots=True)
class PaymentResult:
    payment_id: str
    loan_id: str
    amount_minor: int
    late_fee_minor: int
    fee_minor: int
    interest_minor: int
    principal_minor: int
    prepaid_interest_minor: int
    prepaid_principal_minor: int
    settled: bool
    recovery: bool
    replayed: bool = False


def _require_int(value: object, field: str, *, positive: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise LedgerError(
            field, f"must be an integer number of minor units, got {type(value).__name__} {value!r}"
        )
    if positive and value <= 0:
        raise LedgerError(field, f"must be positive, got {value}")
    return int(value)


def _require_id(value: object, field: str, *, longest: int = 40) -> str:
    if not isinstance(value, str) or not value or len(value) > longest:
        raise LedgerError(field, f"must be a non-empty string of at most {longest} characters")
    return value


def _require_date(value: object, field: str) -> date:
    if not isinstance(value, date) or hasattr(value, "hour"):
        raise LedgerError(field, f"must be a date, got {value!r}")
    return value


def _as_installments(rows: list) -> tuple[Installment, ...]:
    """The ``installments`` statement's rows (loan_id, seq, due_date, amounts, paid_on, accrued_from) as
    :class:`Installment` records."""
    return tuple(
        Installment(r[1], hotpath.as_date(r[2]), *r[3:11], hotpath.as_date(r[11]), hotpath.as_date(r[12]))
        for r in rows
    )


def _writes_for_split(
    loan_id: str,
    payment_id: str,
    paid_on: date,
    before: tuple[Installment, ...],
    changed: tuple[Installment, ...],
) -> list[tuple]:
    """What a payment writes for the installments it changed (the waterfall's rows before and after it):
    an allocation of what it paid of each (appended; with ``settled_on`` when it settles one), the late fees an
    early settlement waived (appended, negative), and the schedule a re-cast or an early settlement rewrote."""
    rows = {r.seq: r for r in before}
    allocated, waived, rescheduled = [], [], []
    for after in changed:
        was = rows[after.seq]
        paid = {part: getattr(after, f"{part}_paid") - getattr(was, f"{part}_paid") for part in COMPONENTS}
        settled_on = after.paid_on if was.paid_on is None else None
        if any(paid.values()) or settled_on is not None:
            allocated.append(
                {
                    "loan_id": loan_id,
                    "seq": after.seq,
                    "payment_id": payment_id,
                    "settled_on": settled_on,
                    **paid,
                }
            )
        if after.late_fee_due != was.late_fee_due:
            waived.append(
                {
                    "loan_id": loan_id,
                    "seq": after.seq,
                    "assessed_on": paid_on,
                    "amount_minor": after.late_fee_due - was.late_fee_due,
                }
            )
        due = ("principal_due", "interest_due", "fee_due", "accrued_from")
        if any(getattr(after, name) != getattr(was, name) for name in due):
            rescheduled.append({"loan_id": loan_id, "seq": after.seq, **{n: getattr(after, n) for n in due}})
    calls = [("insert_allocation", allocated)] if allocated else []
    calls += [("insert_late_fee", waived)] if waived else []
    return calls + ([("update_schedule", rescheduled)] if rescheduled else [])


def _book_payment(
    conn: Connection,
    booked: dict,
    entry: tuple[journal.Posting, ...],
    *,
    before: Sequence[tuple] = (),
    after: Sequence[tuple] = (),
) -> None:
    """The journal entry, its postings and the payment row, between the ``before`` and ``after`` statements:
    one round trip for all on PostgreSQL (one data-modifying WITH, in a pipeline with the others); on SQLite
    (no data-modifying WITH, and no round trips to save) one statement after another."""
    if conn.dialect.name == "postgresql":
        accounts = {"accounts": [a for a, _ in entry], "amounts": [m for _, m in entry]}
        hotpath.batch(conn, [*before, ("book_payment", {**booked, **accounts}), *after])
        return
    hotpath.batch(conn, before)
    entry_id = hotpath.one(
        conn,
        "insert_entry",
        {
            "occurred_on": booked["paid_on"],
            "kind": booked["kind"],
            "loan_id": booked["loan_id"],
            "reference": booked["payment_id"],
        },
    ).entry_id
    hotpath.run(
        conn,
        "insert_posting",
        [
            {
                "entry_id": entry_id,
                "account_code": account,
                "loan_id": booked["loan_id"],
                "amount_minor": amount,
            }
            for account, amount in entry
        ],
    )
    hotpath.run(
        conn, "insert_payment", {**{k: v for k, v in booked.items() if k != "kind"}, "entry_id": entry_id}
    )
    hotpath.batch(conn, after)


def _principal_outstanding(conn: Connection, *which) -> int:
    """Principal still owed on the loans ``which`` selects: their schedules' principal less what was allocated to it."""
    due = (
        select(func.coalesce(func.sum(installments.c.principal_due_minor), 0))
        .select_from(installments.join(loans, loans.c.loan_id == installments.c.loan_id))
        .where(*which)
    )
    paid = (
        select(func.coalesce(func.sum(allocations.c.principal_minor), 0))
        .select_from(allocations.join(loans, loans.c.loan_id == allocations.c.loan_id))
        .where(*which)
    )
    return int(conn.execute(select(due.scalar_subquery() - paid.scalar_subquery())).scalar_one())


def _replayed(row, key: str, fingerprint: str) -> PaymentResult:
    """The first result booked under ``key``, or a conflict if it was booked for another request."""
    if row.request_sha256 != fingerprint:
        raise IdempotencyConflict("idempotency_key", f"{key!r} was used for a different payment")
    return _as_result(row, replayed=True)


def _as_result(row, *, replayed: bool) -> PaymentResult:
    """A payment's row (the ``payments`` columns by name) as the result ``post_payment`` answers."""
    return PaymentResult(
        row.payment_id,
        row.loan_id,
        row.amount_minor,
        row.late_fee_minor,
        row.fee_minor,
        row.interest_minor,
        row.principal_minor,
        row.prepaid_interest_minor,
        row.prepaid_principal_minor,
        bool(row.settled),
        bool(row.recovery),
        replayed=replayed,
    )


_ServerRow = namedtuple("_ServerRow", [name for name, _ in serverside.RESULT])


def _server_result(row, request: PaymentRequest, fingerprint: str) -> PaymentResult | None:
    """What the server-side function answered, as :meth:`Ledger.post_payment` answers (None: it declined)."""
    if row.outcome == "declined":
        return None
    if row.outcome == "replayed":
        return _replayed(row, request.idempotency_key, fingerprint)
    return _as_result(row, replayed=False)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _sqlite_pragmas(engine: Engine) -> None:
    """WAL, foreign keys, full sync, and BEGIN IMMEDIATE so that a writer takes the lock up front."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # pragma: no cover - exercised by every SQLite test
        dbapi_connection.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:  # pragma: no cover
        # straight to the driver: SQLAlchemy's execution context costs more than the statement (one per payment)
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE")


class Ledger:
    """The system of record for credit lines, loans, schedules, payments and their journal."""

    #: On PostgreSQL, post a payment that pays no more than is due with one call of the server-side function
    #: (:mod:`creditmesh.ledger.serverside`); False books every payment by the Python path (the tests compare them).
    server_side = True

    def __init__(self, engine: Engine, *, business_date: date | Callable[[], date] | None = None) -> None:
        self.engine = engine
        self._business_date = business_date

    def business_date(self) -> date:
        """The day the ledger books as today: the one it was opened with, else today in UTC.

        No payment is dated after it and no write-off either: a date in the future is a typo or a
        forgery, and booking it would age and report the loan wrongly until that day came.
        """
        given = self._business_date
        if given is None:
            return datetime.now(UTC).date()
        return given() if callable(given) else given

    @classmethod
    def connect(
        cls,
        url: str | None = None,
        *,
        migrate: bool = True,
        business_date: date | Callable[[], date] | None = None,
        pool_size: int | None = None,
    ) -> Ledger:
        """Open the ledger at ``url`` (:func:`database_url`: default ``$CREDITMESH_DB``, else a SQLite file
        here) and migrate it; ``business_date`` fixes :meth:`business_date`. ``pool_size``: on PostgreSQL the
        connections kept open, and no more (default: SQLAlchemy's 5, plus 10 opened and closed as needed)."""
        url = database_url(url)
        if url.startswith("sqlite"):
            engine = create_engine(url)
            _sqlite_pragmas(engine)
        else:
            # no pool_pre_ping: it costs a round trip per payment; a dead connection fails the request,
            # and the idempotency key makes the client's retry safe
            # the transaction always ends in COMMIT or ROLLBACK, so the pool need not reset on return either
            # a fixed pool when sized: a connection opened beyond it (SQLAlchemy's overflow) is closed again when
            # returned, and each costs the server a new backend
            sized = {} if pool_size is None else {"pool_size": pool_size, "max_overflow": 0}
            engine = create_engine(
                url, pool_recycle=1800, pool_reset_on_return=None, isolation_level="READ COMMITTED", **sized
            )
        ledger = cls(engine, business_date=business_date)
        if migrate:
            ledger.migrate()
        return ledger

    def migrate(self) -> None:
        """Bring the database to the newest schema with Alembic."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
        with self.engine.begin() as connection:
            if (
                connection.dialect.name == "postgresql"
            ):  # one migrator at a time; SQLite's BEGIN IMMEDIATE is one
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()

    # -- writes ------------------------------------------------------------------------------------------

    def open_credit_line(
        self,
        credit_line_id: str,
        borrower_id: str,
        *,
        limit_minor: int,
        apr_ppm: int,
        opened_on: date,
        currency: str = "CNY",
    ) -> None:
        with self.engine.begin() as conn:
            self.open_credit_line_in(
                conn,
                credit_line_id,
                borrower_id,
                limit_minor=limit_minor,
                apr_ppm=apr_ppm,
                opened_on=opened_on,
                currency=currency,
            )

    def open_credit_line_in(
        self,
        conn: Connection,
        credit_line_id: str,
        borrower_id: str,
        *,
        limit_minor: int,
        apr_ppm: int,
        opened_on: date,
        currency: str = "CNY",
        expires_on: date | None = None,
    ) -> None:
        """:meth:`open_credit_line` inside the caller's transaction (the service opens a line with its decision)."""
        _require_id(credit_line_id, "credit_line_id")
        _require_id(borrower_id, "borrower_id")
        _require_int(limit_minor, "limit_minor", positive=True)
        _require_int(apr_ppm, "apr_ppm", positive=False)
        _require_date(opened_on, "opened_on")
        if expires_on is not None and _require_date(expires_on, "expires_on") <= opened_on:
            raise LedgerError("expires_on", "must be after the day the line opens")
        self._check_currency(currency)
        try:
            conn.execute(
                insert(credit_lines).values(
                    credit_line_id=credit_line_id,
                    borrower_id=borrower_id,
                    currency=currency,
                    limit_minor=limit_minor,
                    apr_ppm=apr_ppm,
                    opened_on=opened_on,
                    status="active",
                    expires_on=expires_on,
                )
            )
        except IntegrityError:
            raise LedgerError("credit_line_id", f"{credit_line_id!r} exists already") from None

    def line_usage(self, conn: Connection, credit_line_id: str) -> tuple[int, int]:
        """(outstanding principal of the line's active loans, their worst days past due at the last aging)."""
        of_line = (loans.c.credit_line_id == credit_line_id, loans.c.status == "active")
        worst = conn.execute(select(func.coalesce(func.max(loans.c.dpd), 0)).where(*of_line)).scalar_one()
        return _principal_outstanding(conn, *of_line), int(worst)

    def adjust_credit_line_in(
        self, conn: Connection, credit_line_id: str, *, limit_minor: int, status: str
    ) -> None:
        """Set a line's limit and status (a line review), inside the caller's transaction."""
        _require_int(limit_minor, "limit_minor", positive=False)
        if status not in ("active", "frozen", "closed"):
            raise LedgerError("status", f"must be active, frozen or closed, got {status!r}")
        conn.execute(
            update(credit_lines)
            .where(credit_lines.c.credit_line_id == credit_line_id)
            .values(limit_minor=limit_minor, status=status)
        )

    def book_loan(self, terms: LoanTerms) -> None:
        """Book a drawdown: the loan, its schedule and the disbursement entry, or nothing."""
        with self.engine.begin() as conn:
            self.book_loan_in(conn, terms)

    def book_loan_in(self, conn: Connection, terms: LoanTerms, *, check_line: bool = True) -> list[dict]:
        """:meth:`book_loan` inside the caller's transaction (which the caller commits or rolls back), so a
        drawdown's decision, capacity and loan are one unit of work. ``check_line=False`` when the caller
        has checked the credit line under its own lock already. Returns the schedule's rows as booked."""
        self._check_terms(terms)
        schedule = build_schedules(
            np.array([terms.principal_minor]),
            np.array([terms.apr_ppm]),
            np.array([terms.tenor_months]),
            np.array([np.datetime64(terms.originated_on, "D")]),
            np.array([terms.schedule == "equal_principal"]),
        )
        fee = terms.fee_per_installment_minor
        rows = [
            {
                "loan_id": terms.loan_id,
                "seq": int(seq),
                "due_date": due.astype(object),
                "principal_due_minor": int(p),
                "interest_due_minor": int(i),
                "fee_due_minor": fee,
            }
            for seq, due, p, i in zip(
                schedule.seq, schedule.due_date, schedule.principal_due_minor, schedule.interest_due_minor
            )
        ]
        entry = journal.entry_for_disbursement(
            terms.funding_model, terms.principal_minor, fee * terms.tenor_months, terms.origination_fee_minor
        )
        if terms.credit_line_id is not None and check_line:
            self._check_line(conn, terms)
        try:
            conn.execute(
                insert(loans).values(
                    loan_id=terms.loan_id,
                    borrower_id=terms.borrower_id,
                    credit_line_id=terms.credit_line_id,
                    application_id=terms.application_id,
                    institution_id=terms.institution_id,
                    funding_model=terms.funding_model,
                    currency=terms.currency,
                    principal_minor=terms.principal_minor,
                    apr_ppm=terms.apr_ppm,
                    tenor_months=terms.tenor_months,
                    schedule=terms.schedule,
                    originated_on=terms.originated_on,
                    status="active",
                )
            )
        except IntegrityError:
            raise LedgerError("loan_id", f"{terms.loan_id!r} exists already") from None
        conn.execute(insert(installments), rows)
        self._write_entry(conn, "disbursement", terms.originated_on, terms.loan_id, terms.loan_id, entry)
        return rows

    def post_payment(
        self, request: PaymentRequest, *, on_booked: Callable[[Connection, PaymentResult], None] | None = None
    ) -> PaymentResult:
        """Book a payment once: the same key and body return the first result; a different body is refused.

        Two requests with one key on two loans can race past each other's row locks; the unique key
        lets one win, and the other then answers as a replay or a conflict, like any later request.
        ``on_booked(conn, result)`` runs inside the payment's transaction when it is booked (not on a
        replay), so what the caller records beside it (who posted it) commits with it or not at all.
        """
        try:
            return self._post_payment(request, on_booked)
        except (
            IntegrityError,
            self.engine.dialect.dbapi.IntegrityError,
        ):  # raised through SQLAlchemy or the driver
            with self.engine.connect() as conn:
                previous = self._previous_payment(conn, request.idempotency_key, request.fingerprint())
            if previous is None:
                raise
            return previous

    def settlement_amount(self, loan_id: str, on: date) -> int:
        """What settles the loan on ``on``: everything due, the interest accrued since, the rest of the principal."""
        _require_date(on, "on")
        with self.engine.connect() as conn:
            loan = self._lock_loan(conn, loan_id, lock=False)
            rows = self._installments(conn, loan_id)
        return settlement_amount(rows, on, apr_ppm=loan.apr_ppm, period_start=loan.originated_on)

    def _post_payment(
        self, request: PaymentRequest, on_booked: Callable[[Connection, PaymentResult], None] | None = None
    ) -> PaymentResult:
        _require_id(request.loan_id, "loan_id")
        amount = _require_int(request.amount_minor, "amount_minor", positive=True)
        paid_on = _require_date(request.paid_on, "paid_on")
        _require_id(request.idempotency_key, "idempotency_key", longest=IDEMPOTENCY_KEY_MAX)
        self._check_currency(request.currency)
        fingerprint = request.fingerprint()
        if self.engine.dialect.name == "postgresql" and self.server_side:
            booked = self._post_on_server(request, amount, fingerprint, on_booked)
            if booked is not None:
                return booked
        with self.engine.begin() as conn:
            # the loan, locked, and its installments (read once the lock is held): one round trip on PostgreSQL
            loans, installments = hotpath.batch(
                conn,
                [
                    ("lock_loan", {"loan_id": request.loan_id, "key": request.idempotency_key}, True),
                    ("installments", {"loan_id": request.loan_id}),
                ],
            )
            loan = loans[0] if loans else None
            if loan is None:
                raise LedgerError("loan_id", f"unknown loan {request.loan_id!r}")
            originated_on = hotpath.as_date(loan.originated_on)
            if loan.payment_id is not None:  # the key was used before
                return _replayed(loan, request.idempotency_key, fingerprint)
            if request.currency != loan.currency:
                raise LedgerError(
                    "currency", f"the loan is in {loan.currency}, the payment in {request.currency}"
                )
            if paid_on < originated_on:
                raise LedgerError("paid_on", f"{paid_on} is before the loan's origination on {originated_on}")
            if paid_on > (today := self.business_date()):
                raise LedgerError("paid_on", f"{paid_on} is after the business date {today}")
            if loan.status in ("settled", "written_off"):
                raise LedgerError(
                    "loan_id", f"{request.loan_id!r} is {loan.status.replace('_', ' ')}: no payment is taken"
                )
            rows = _as_installments(installments)
            try:
                split = split_payment(
                    rows,
                    amount,
                    paid_on,
                    apr_ppm=loan.apr_ppm,
                    equal_principal=loan.schedule == "equal_principal",
                    period_start=originated_on,
                )
            except CreditmeshError as error:
                raise LedgerError(error.field, error.reason) from None
            recovery = loan.status == "charged_off"
            entry = journal.entry_for_payment(
                loan.funding_model,
                late_fee=split.late_fee,
                fee=split.fee,
                interest=split.interest + split.prepaid_interest,
                principal=split.principal + split.prepaid_principal,
                recovery=recovery,
                fee_waived=0 if recovery else split.fee_waived,
            )
            entry = journal.check_balanced(entry, what="payment")
            payment_id = uuid.uuid4().hex[:24]
            updates = _writes_for_split(request.loan_id, payment_id, paid_on, rows, split.installments)
            booked = {
                "payment_id": payment_id,
                "idempotency_key": request.idempotency_key,
                "request_sha256": fingerprint,
                "loan_id": request.loan_id,
                "paid_on": paid_on,
                "currency": request.currency,
                "amount_minor": amount,
                "late_fee_minor": split.late_fee,
                "fee_minor": split.fee,
                "interest_minor": split.interest,
                "principal_minor": split.principal,
                "prepaid_interest_minor": split.prepaid_interest,
                "prepaid_principal_minor": split.prepaid_principal,
                "recovery": recovery,
                "settled": split.settled,
                "kind": "recovery" if recovery else "payment",
            }
            settle = [("settle_loan", {"loan_id": request.loan_id})] if split.settled and not recovery else []
            _book_payment(conn, booked, entry, before=updates, after=settle)
            result = PaymentResult(
                payment_id,
                request.loan_id,
                amount,
                split.late_fee,
                split.fee,
                split.interest,
                split.principal,
                split.prepaid_interest,
                split.prepaid_principal,
                split.settled,
                recovery,
            )
            if on_booked is not None:
                on_booked(conn, result)
        return result

    def _post_on_server(
        self,
        request: PaymentRequest,
        amount: int,
        fingerprint: str,
        on_booked: Callable[[Connection, PaymentResult], None] | None,
    ) -> PaymentResult | None:
        """The payment through the server-side function (:mod:`creditmesh.ledger.serverside`): its result, a
        replay (or :class:`IdempotencyConflict`), or None when the function declined it (nothing written), for
        the Python path. Without ``on_booked`` the call is its own transaction: one round trip a payment."""
        params = (
            request.loan_id,
            amount,
            request.paid_on,
            request.idempotency_key,
            request.currency,
            fingerprint,
            uuid.uuid4().hex[:24],
            self.business_date(),
        )
        if on_booked is None:
            row = _ServerRow(*hotpath.call_alone(self.engine, serverside.CALL, params))
            return _server_result(row, request, fingerprint)
        with self.engine.begin() as conn:
            result = _server_result(hotpath.call(conn, serverside.CALL, params), request, fingerprint)
            if result is not None and not result.replayed:
                on_booked(conn, result)
        return result

    def post_payments_bulk(self, batch) -> BulkResult:
        """Post a file of payments (an Arrow table or DataFrame with idempotency_key, loan_id, paid_on,
        amount_minor[, currency]): set-based in one transaction, then what needs the full waterfall one by one.

        Rows that the one-by-one path refuses come back in ``rejected`` with their reason.
        """
        import pyarrow as pa

        from creditmesh.ledger.bulk import BulkResult, post_payments

        if not isinstance(batch, pa.Table):
            batch = pa.Table.from_pandas(batch, preserve_index=False)
        with self.engine.begin() as conn:
            result = post_payments(conn, batch, business_date=self.business_date())
        routed = result.routed.sort_by([("paid_on", "ascending"), ("row_number", "ascending")]).to_pylist()
        refused = []
        for row in routed:
            try:
                self.post_payment(
                    PaymentRequest(
                        row["loan_id"],
                        row["amount_minor"],
                        _as_date(row["paid_on"]),
                        row["idempotency_key"],
                        row["currency"],
                    )
                )
            except CreditmeshError as error:  # refused like any bad row: named, and nothing written for it
                refused.append({**row, "reason": str(error)})
        rejected = result.rejected
        if refused:
            rejected = pa.concat_tables([rejected, pa.Table.from_pylist(refused, schema=rejected.schema)])
        return BulkResult(
            result.posted + len(routed) - len(refused), result.replayed, result.routed, rejected
        )

    def load_loans(self, loans_table, installments_table) -> int:
        """Book a whole book of loans and their schedules at once (schema tables), in one transaction."""
        from creditmesh.ledger.bulk import load_loans

        with self.engine.begin() as conn:
            return load_loans(conn, loans_table, installments_table)

    def write_off(self, loan_id: str, on: date) -> None:
        """Close collection on a charged-off loan on ``on`` (recorded): no payment is taken after this.

        ``on`` lies between the charge-off (and the last payment) and the business date.
        """
        _require_date(on, "on")
        if on > (today := self.business_date()):
            raise LedgerError("on", f"{on} is after the business date {today}")
        with self.engine.begin() as conn:
            loan = self._lock_loan(conn, loan_id)
            if loan.status != "charged_off":
                raise LedgerError(
                    "loan_id", f"{loan_id!r} is {loan.status}; only a charged-off loan can be written off"
                )
            charged_off_on = _as_date(loan.charged_off_on)
            if on < charged_off_on:
                raise LedgerError("on", f"{on} is before the loan's charge-off on {charged_off_on}")
            last_paid_on = conn.execute(
                select(func.max(payments.c.paid_on)).where(payments.c.loan_id == loan_id)
            ).scalar_one()
            if last_paid_on is not None and on < _as_date(last_paid_on):
                raise LedgerError("on", f"{on} is before the loan's last payment on {_as_date(last_paid_on)}")
            conn.execute(
                update(loans)
                .where(loans.c.loan_id == loan_id)
                .values(status="written_off", written_off_on=on)
            )

    def age(self, as_of: date, *, late_fee_minor: int = LATE_FEE_MINOR) -> AgingReport:
        """Month-end batch: days past due, buckets, late fees, charge-offs and ``loan_days`` for ``as_of``."""
        _require_date(as_of, "as_of")
        _require_int(late_fee_minor, "late_fee_minor", positive=False)
        with self.engine.begin() as conn:
            return age_loans(conn, as_of, late_fee_minor=late_fee_minor)

    def book_provisions(
        self, on: date, *, loss_allowance_minor: int, contingent_liability_minor: int, reference: str
    ) -> tuple[int, int]:
        """Bring the loss allowance and the contingent guarantee liability to the expected loss at ``on``.

        Books the movement from their balances (the provision expenses) and returns it as
        (allowance movement, contingent movement); a reference booked before books nothing again.
        """
        _require_date(on, "on")
        _require_int(loss_allowance_minor, "loss_allowance_minor", positive=False)
        _require_int(contingent_liability_minor, "contingent_liability_minor", positive=False)
        for field, value in (
            ("loss_allowance_minor", loss_allowance_minor),
            ("contingent_liability_minor", contingent_liability_minor),
        ):
            if value < 0:
                raise LedgerError(field, f"must not be negative, got {value}")
        _require_id(reference, "reference", longest=80)
        with self.engine.begin() as conn:
            self._serialise(conn, "provisions")
            if self._booked(conn, "provisions", reference):
                return (0, 0)
            held = dict(
                conn.execute(
                    select(postings.c.account_code, func.sum(postings.c.amount_minor))
                    .where(
                        postings.c.account_code.in_([journal.LOSS_ALLOWANCE, journal.CONTINGENT_GUARANTEE])
                    )
                    .group_by(postings.c.account_code)
                ).all()
            )
            allowance = loss_allowance_minor + int(held.get(journal.LOSS_ALLOWANCE, 0))  # credit balances
            contingent = contingent_liability_minor + int(held.get(journal.CONTINGENT_GUARANTEE, 0))
            entry = journal.entry_for_provisions(allowance_movement=allowance, contingent_movement=contingent)
            if entry:
                self._write_entry(conn, "provisions", on, None, reference, entry)
            return (allowance, contingent)

    def book_funding(self, on: date, amount_minor: int, *, reference: str) -> None:
        """Cash from a trust or an ABS issue for the on-balance book (negative: principal repaid to it)."""
        self._book_company_entry(
            "funding", on, amount_minor, reference, journal.entry_for_funding, signed=True
        )

    def book_funding_cost(self, on: date, amount_minor: int, *, reference: str) -> None:
        """Interest paid to the trusts' and ABS notes' investors."""
        self._book_company_entry("funding_cost", on, amount_minor, reference, journal.entry_for_funding_cost)

    def book_servicing_expense(self, on: date, amount_minor: int, *, reference: str) -> None:
        """Facilitation, origination and servicing paid: credit searches, collection fees."""
        self._book_company_entry(
            "servicing_expense", on, amount_minor, reference, journal.entry_for_servicing_expense
        )

    def _book_company_entry(
        self, kind, on, amount_minor, reference, entry_for, *, signed: bool = False
    ) -> None:
        """One entry of the platform's own (no loan), once per reference."""
        _require_date(on, "on")
        amount = _require_int(amount_minor, "amount_minor", positive=not signed)
        if amount == 0:
            raise LedgerError("amount_minor", "must not be zero")
        _require_id(reference, "reference", longest=80)
        with self.engine.begin() as conn:
            self._serialise(conn, kind)
            if not self._booked(conn, kind, reference):
                self._write_entry(conn, kind, on, None, reference, entry_for(amount))

    def _serialise(self, conn: Connection, kind: str) -> None:
        """One writer of ``kind`` entries at a time: the check for a booked reference, and the balances a
        movement is computed from, hold until commit (SQLite's BEGIN IMMEDIATE locks the whole file already)."""
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"creditmesh.ledger.{kind}"))))

    def _booked(self, conn: Connection, kind: str, reference: str) -> bool:
        found = conn.execute(
            select(journal_entries.c.entry_id).where(
                journal_entries.c.kind == kind, journal_entries.c.reference == reference
            )
        ).first()
        return found is not None

    # -- reads -------------------------------------------------------------------------------------------

    def export(self, directory: str | Path) -> dict[str, int]:
        """Write loans, installments, payments and loan_days as Parquet in the schema's types."""
        from creditmesh.ledger.export import export

        return export(self.engine, directory)

    def trial_balance(self, as_of: date | None = None) -> dict[str, int]:
        """Balance per account (of the entries on or before ``as_of``, when given); the values sum to zero."""
        query = select(postings.c.account_code, func.sum(postings.c.amount_minor)).group_by(
            postings.c.account_code
        )
        if as_of is not None:
            _require_date(as_of, "as_of")
            query = query.join(journal_entries, journal_entries.c.entry_id == postings.c.entry_id).where(
                journal_entries.c.occurred_on <= as_of
            )
        with self.engine.connect() as conn:
            return {code: int(total) for code, total in conn.execute(query)}

    def unbalanced_entries(self) -> list[int]:
        """Journal entries whose postings do not sum to zero (empty in a sound ledger)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(postings.c.entry_id)
                .group_by(postings.c.entry_id)
                .having(func.sum(postings.c.amount_minor) != 0)
            )
            return [int(r[0]) for r in rows]

    def principal_from_journal(self, loan_id: str) -> int:
        """The loan's principal balance as its principal account's postings say."""
        with self.engine.connect() as conn:
            loan = conn.execute(select(loans.c.funding_model).where(loans.c.loan_id == loan_id)).one()
            total = conn.execute(
                select(func.coalesce(func.sum(postings.c.amount_minor), 0)).where(
                    postings.c.loan_id == loan_id,
                    postings.c.account_code == journal.PRINCIPAL_ACCOUNT[loan.funding_model],
                )
            ).scalar_one()
            return int(total)

    def principal_from_schedule(self, loan_id: str) -> int:
        with self.engine.connect() as conn:
            return _principal_outstanding(conn, loans.c.loan_id == loan_id)

    def installments_of(self, loan_id: str) -> tuple[Installment, ...]:
        with self.engine.connect() as conn:
            return self._installments(conn, loan_id)

    def installments_in(self, conn: Connection, loan_id: str) -> tuple[Installment, ...]:
        """Every installment of the loan in seq order, read in the caller's transaction."""
        return self._installments(conn, loan_id)

    def loan(self, loan_id: str):
        with self.engine.connect() as conn:
            row = conn.execute(select(loans).where(loans.c.loan_id == loan_id)).one_or_none()
        if row is None:
            raise LedgerError("loan_id", f"unknown loan {loan_id!r}")
        return row

    def payments_of(self, loan_id: str) -> list:
        with self.engine.connect() as conn:
            return conn.execute(
                select(payments).where(payments.c.loan_id == loan_id).order_by(payments.c.paid_on)
            ).all()

    # -- inside a transaction --------------------------------------------------------------------------

    def _check_currency(self, currency: object) -> None:
        if currency not in MINOR_UNITS:
            raise LedgerError("currency", f"unknown currency {currency!r}")

    def _check_terms(self, t: LoanTerms) -> None:
        _require_id(t.loan_id, "loan_id")
        _require_id(t.borrower_id, "borrower_id")
        _require_id(t.institution_id, "institution_id")
        _require_int(t.principal_minor, "principal_minor", positive=True)
        _require_int(t.apr_ppm, "apr_ppm", positive=False)
        _require_int(t.fee_per_installment_minor, "fee_per_installment_minor", positive=False)
        if t.apr_ppm < 0 or t.apr_ppm > 1_000_000:
            raise LedgerError("apr_ppm", f"must be between 0 and 1,000,000 (100 %), got {t.apr_ppm}")
        if t.fee_per_installment_minor < 0:
            raise LedgerError("fee_per_installment_minor", "must not be negative")
        origination_fee = _require_int(t.origination_fee_minor, "origination_fee_minor", positive=False)
        if not 0 <= origination_fee < t.principal_minor:
            raise LedgerError("origination_fee_minor", "must be at least 0 and below the principal")
        tenor = _require_int(t.tenor_months, "tenor_months", positive=True)
        if tenor > TENOR_MONTHS_MAX:
            raise LedgerError("tenor_months", f"must be at most {TENOR_MONTHS_MAX}")
        _require_date(t.originated_on, "originated_on")
        if t.funding_model not in FUNDING_MODELS:
            raise LedgerError("funding_model", f"{t.funding_model!r} is not one of {list(FUNDING_MODELS)}")
        if t.schedule not in SCHEDULES:
            raise LedgerError("schedule", f"{t.schedule!r} is not one of {list(SCHEDULES)}")
        self._check_currency(t.currency)

    def _check_line(self, conn: Connection, terms: LoanTerms) -> None:
        """Available line = limit - outstanding principal of the line's loans; the drawdown must fit."""
        query = select(credit_lines).where(credit_lines.c.credit_line_id == terms.credit_line_id)
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        line = conn.execute(query).one_or_none()
        if line is None:
            raise LedgerError("credit_line_id", f"unknown credit line {terms.credit_line_id!r}")
        if line.status != "active":
            raise LedgerError("credit_line_id", f"the credit line is {line.status}")
        if line.currency != terms.currency:
            raise LedgerError(
                "currency", f"the credit line is in {line.currency}, the loan in {terms.currency}"
            )
        drawn = _principal_outstanding(
            conn, loans.c.credit_line_id == terms.credit_line_id, loans.c.status == "active"
        )
        available = line.limit_minor - drawn
        if terms.principal_minor > available:
            raise LedgerError(
                "principal_minor", f"{terms.principal_minor} exceeds the available line of {available}"
            )

    def _lock_loan(self, conn: Connection, loan_id: str, *, lock: bool = True):
        query = select(loans).where(loans.c.loan_id == loan_id)
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        loan = conn.execute(query).one_or_none()
        if loan is None:
            raise LedgerError("loan_id", f"unknown loan {loan_id!r}")
        return loan

    def _previous_payment(self, conn: Connection, key: str, fingerprint: str) -> PaymentResult | None:
        row = hotpath.one(conn, "previous_payment", {"key": key})
        return None if row is None else _replayed(row, key, fingerprint)

    def _installments(self, conn: Connection, loan_id: str) -> tuple[Installment, ...]:
        """Every installment of the loan, settled ones too, in seq order."""
        return _as_installments(hotpath.run(conn, "installments", {"loan_id": loan_id}))

    def _write_entry(
        self,
        conn: Connection,
        kind: str,
        on: date,
        loan_id: str | None,
        reference: str,
        entry: tuple[journal.Posting, ...],
    ) -> int:
        entry = journal.check_balanced(entry, what=kind)
        entry_id = conn.execute(
            insert(journal_entries)
            .values(occurred_on=on, kind=kind, loan_id=loan_id, reference=reference)
            .returning(journal_entries.c.entry_id)
        ).scalar_one()
        conn.execute(
            insert(postings),
            [
                {"entry_id": entry_id, "account_code": account, "loan_id": loan_id, "amount_minor": amount}
                for account, amount in entry
            ],
        )
        return int(entry_id)
