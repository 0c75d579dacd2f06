"""One borrower through the service: application, credit line, drawdown, partner, booked loan, repayment.

:class:`Platform` ties the boxes together for the routes; each method is one unit of work that owns its
transaction, on the ledger's engine (SQLite file or PostgreSQL, same code):

* :meth:`Platform.apply`: identifiers hashed, the applicant added to the graph's event stream and the
  graph's signals read back (:mod:`creditmesh.api.identity`), the decision stored (audit log) and, when
  approved, the line opened in the ledger with its profile and first history event, in one transaction.
* :meth:`Platform.draw`: the line locked, available = limit - outstanding principal, the drawdown decided,
  partners ranked by the online matcher, the first with daily room reserved by a guarded UPDATE, the loan
  booked under its funding model, and the answer stored, all in one transaction. A repeat of the
  application id returns the stored answer (another body: 409).
* :meth:`Platform.review_line`, :meth:`Platform.pay`, :meth:`Platform.loan`, :meth:`Platform.credit_line`.

Every write records the API key that made it (``actors``). A tenant sees only its own objects (another's
is "not found"); a partner key sees only the loans booked to its institution.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from creditmesh import delinquency
from creditmesh.api.errors import Conflict, NotFound
from creditmesh.api.identity import GraphView, append_borrower, append_label, hashed_identities
from creditmesh.api.keys import Principal
from creditmesh.api.platform_models import (
    ApplicationIn,
    ApplicationOut,
    CreditLineOut,
    DrawdownIn,
    DrawdownOut,
    InstallmentOut,
    LineEvent,
    LoanOut,
    PaymentIn,
    PaymentOut,
)
from creditmesh.api.tables import (
    actors,
    credit_line_events,
    credit_line_profiles,
    drawdowns,
    partner_capacity,
)
from creditmesh.decision import DecisionEngine
from creditmesh.decision.audit import AuditError, AuditLog
from creditmesh.ledger import IdempotencyConflict, Ledger, LedgerError, LoanTerms, PaymentRequest
from creditmesh.ledger.tables import credit_lines, loans, payments
from creditmesh.ledger.waterfall import settlement_amount
from creditmesh.matching import OnlineMatcher
from creditmesh.matching.partners import Partners
from creditmesh.money import rate_to_ppm
from creditmesh.stages import CREDIT_LINE, DRAWDOWN, LINE_ADJUSTMENT

#: A line may be drawn for this many days after it opens.
LINE_TERM_DAYS = 365
#: A partner's daily capacity is its monthly capacity over this many days.
DAYS_PER_MONTH = 30
#: The most history events a credit line's answer lists (newest last).
MAX_LINE_EVENTS = 200
#: In-memory room handed to the matcher: capacity is the database's (``partner_capacity``), not a worker's.
UNBOUNDED_MINOR = 10**15
#: Declared fields of an application that go to the decision as they are.
DECLARED = (
    "channel",
    "age",
    "monthly_income_minor",
    "employment",
    "bureau_score",
    "bureau_inquiries_6m",
    "bureau_delinquencies_24m",
    "device_age_days",
    "apply_hour",
    "contacts_count",
    "region",
)


def today() -> date:
    return datetime.now(UTC).date()


def bucket_of(dpd: int, status: str) -> str:
    """The delinquency bucket of a loan at ``dpd`` (a charged-off or written-off loan stays charged off)."""
    if status in ("charged_off", "written_off"):
        return "charged_off"
    return str(delinquency.bucket(np.array([dpd]))[0])


def fingerprint(payload: Mapping[str, Any]) -> str:
    """SHA-256 of a request's canonical JSON (identifiers already hashed)."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _insert_actor(
    conn: sa.Connection, kind: str, object_id: str, who: Principal, *more: tuple[str, str]
) -> None:
    """Record which key made these writes (``kind``, ``object_id`` and any ``more`` pairs), in one statement."""
    now = time.time_ns()
    rows = [
        {"kind": k, "object_id": o, "tenant": who.owner, "key_id": who.key_id, "at_ns": now}
        for k, o in ((kind, object_id), *more)
    ]
    conn.execute(actors.insert(), rows if len(rows) > 1 else rows[0])


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:20]}"


#: Each offered partner's room for the day (the ones without a row yet have their whole daily capacity).
_ROOM = sa.select(
    partner_capacity.c.institution_id, partner_capacity.c.capacity_minor - partner_capacity.c.reserved_minor
).where(
    partner_capacity.c.day == sa.bindparam("day"),
    partner_capacity.c.institution_id.in_(sa.bindparam("ids", expanding=True)),
)


def _first_answer(error: AuditError, application_id: str, stored, who: Principal, digest: str):
    """The answer stored for an application id decided before (a repeat, or a concurrent request a moment ago:
    the decision log's key refused it), read by ``stored``; a Conflict when that id was sent another request."""
    if error.field != "application_id":
        raise error
    answer = stored(who, application_id, digest)
    if answer is None:
        raise Conflict("application_id", f"{application_id} was already decided") from None
    return answer


class _PartnerFull(Exception):
    """A drawdown's partner had no room left when its capacity was reserved: the transaction runs again."""

    def __init__(self, institution_id: str) -> None:
        super().__init__(institution_id)
        self.institution_id = institution_id


@dataclass
class Platform:
    """The service's one flow over the boxes: built once per worker by the app's lifespan."""

    ledger: Ledger
    audit: AuditLog
    decisions: DecisionEngine
    matcher: OnlineMatcher | None
    graph: GraphView
    identifier_key: bytes

    @classmethod
    def build(
        cls, ledger: Ledger, decisions: DecisionEngine, partners: Partners | None, identifier_key: bytes
    ) -> Platform:
        matcher = None
        if partners is not None:
            matcher = OnlineMatcher(partners, capacity_minor=[UNBOUNDED_MINOR] * len(partners))
        audit = AuditLog(str(ledger.engine.url), engine=ledger.engine)
        audit.store_policies(decisions)  # committed now: decisions inside a transaction only refer to them
        return cls(ledger, audit, decisions, matcher, GraphView(ledger.engine), identifier_key)

    @property
    def engine(self) -> sa.Engine:
        return self.ledger.engine

    # -- applications --------------------------------------------------------------------------------

    def apply(self, who: Principal, body: ApplicationIn) -> ApplicationOut:
        """Decide a credit-line application from what was declared and what the graph says; store an approved line."""
        identities = hashed_identities(
            self.identifier_key,
            {k: v for k, v in body.identifiers.model_dump().items() if k not in ("id_card", "contacts")}
            | {"contact": body.identifiers.contacts},
        )
        request = body.model_dump(mode="json", exclude={"identifiers"})
        request["identities"] = sorted(identities)
        if body.identifiers.id_card:
            request["id_card"] = hashed_identities(
                self.identifier_key, {"id_card": body.identifiers.id_card}
            )[0][1]
        digest = fingerprint(request)
        # no look-up first: a repeated id meets the decision log's key (AuditError below), then the stored answer
        if not self.graph.knows(body.borrower_id):
            with self.engine.begin() as conn:  # the applicant enters the graph whatever the decision
                append_borrower(conn, body.borrower_id, identities)
        signals = self.graph.signals(body.borrower_id)
        inputs = {
            "application_id": body.application_id,
            "borrower_id": body.borrower_id,
            **{name: request[name] for name in DECLARED},
            "on_blacklist": signals["on_blacklist"],
            "ring_size": signals["ring_size"],
            "grey_list": signals["grey_list"],
            "neighbour_delinquency_rate": signals["neighbour_delinquency_rate"],
            "request_sha256": digest,
        }
        try:
            with self.engine.begin() as conn:
                decision = self.audit.decide(self.decisions, CREDIT_LINE.name, inputs, connection=conn)
                line_id = expires = None
                if decision.outcome == "approve":
                    line_id, expires = self._open_line(
                        conn,
                        who,
                        who.owner,
                        body.application_id,
                        body.borrower_id,
                        body.region,
                        decision.as_row(),
                    )
                    _insert_actor(conn, "decision", body.application_id, who, ("credit_line", line_id))
                else:
                    _insert_actor(conn, "decision", body.application_id, who)
        except AuditError as error:
            return _first_answer(error, body.application_id, self._stored_application, who, digest)
        return ApplicationOut(
            application_id=body.application_id,
            outcome=decision.outcome,
            credit_line_id=line_id,
            limit_minor=decision.credit_line_minor if decision.outcome == "approve" else 0,
            apr=decision.apr if decision.outcome == "approve" else None,
            expires_on=expires,
            reasons=list(decision.reasons),
        )

    def _open_line(
        self,
        conn: sa.Connection,
        who: Principal,
        tenant: str,
        application_id: str,
        borrower_id: str,
        region: str | None,
        decision: Mapping[str, Any],
    ) -> tuple[str, date]:
        """Store an approved line (ledger), its profile and its first history event; the line's id and expiry."""
        line_id = _new_id("cl_")
        opened = today()
        expires = opened + timedelta(days=LINE_TERM_DAYS)
        limit = int(decision["credit_line_minor"])
        self.ledger.open_credit_line_in(
            conn,
            line_id,
            borrower_id,
            limit_minor=limit,
            apr_ppm=int(rate_to_ppm(decision["apr"])),
            opened_on=opened,
            expires_on=expires,
        )
        conn.execute(
            credit_line_profiles.insert().values(
                credit_line_id=line_id,
                application_id=application_id,
                borrower_id=borrower_id,
                tenant=tenant,
                pd=float(decision["pd"]),
                score=float(decision["score"]),
                grade=str(decision["grade"]),
                region=region,
            )
        )
        self._line_event(conn, who, line_id, "open", 0, limit, "active", application_id)
        return line_id, expires

    def _line_event(
        self,
        conn: sa.Connection,
        who: Principal,
        line_id: str,
        kind: str,
        before: int,
        after: int,
        status: str,
        application_id: str,
        reviewer: str | None = None,
    ) -> None:
        conn.execute(
            credit_line_events.insert().values(
                credit_line_id=line_id,
                at_ns=time.time_ns(),
                kind=kind,
                limit_before_minor=before,
                limit_after_minor=after,
                status=status,
                application_id=application_id,
                key_id=who.key_id,
                reviewer=reviewer,
            )
        )

    def _stored_application(self, who: Principal, application_id: str, digest: str) -> ApplicationOut | None:
        """The answer already given to this application id, or None when it was never decided."""
        with self.engine.connect() as conn:
            try:
                row = self.audit.stored(application_id, connection=conn)
            except AuditError:
                return None
            owner = conn.execute(
                sa.select(actors.c.tenant).where(
                    actors.c.kind == "decision", actors.c.object_id == application_id
                )
            ).scalar_one_or_none()
            line = conn.execute(
                sa.select(credit_line_profiles.c.credit_line_id, credit_lines.c.expires_on)
                .join(credit_lines, credit_lines.c.credit_line_id == credit_line_profiles.c.credit_line_id)
                .where(credit_line_profiles.c.application_id == application_id)
            ).first()
        inputs = json.loads(row["inputs"])
        if row["stage"] != CREDIT_LINE.name or owner != who.owner or inputs.get("request_sha256") != digest:
            raise Conflict("application_id", f"{application_id} was already decided with other inputs")
        decision = json.loads(row["decision"])
        approved = decision["outcome"] == "approve" and line is not None
        return ApplicationOut(
            application_id=application_id,
            outcome=decision["outcome"],
            credit_line_id=line.credit_line_id if approved else None,
            limit_minor=int(decision["credit_line_minor"]) if approved else 0,
            apr=decision["apr"] if approved else None,
            expires_on=line.expires_on if approved else None,
            reasons=list(decision["reasons"]),
        )

    # -- credit lines ---------------------------------------------------------------------------------

    def _line_for(self, conn: sa.Connection, who: Principal, line_id: str):
        """The line's profile, if the caller may see it (its tenant's, or any line for an operator)."""
        profile = conn.execute(
            sa.select(credit_line_profiles).where(credit_line_profiles.c.credit_line_id == line_id)
        ).first()
        if profile is None or (who.role != "operator" and profile.tenant != who.owner):
            raise NotFound("credit_line_id", f"no credit line {line_id!r}")
        return profile

    def _locked_line(self, conn: sa.Connection, who: Principal, line_id: str):
        """The line and its profile in one read, the line's row locked (``FOR UPDATE OF`` on PostgreSQL; SQLite's
        writer holds the database), if the caller may see it."""
        query = (
            sa.select(credit_lines, credit_line_profiles.c.tenant, credit_line_profiles.c.pd)
            .add_columns(
                credit_line_profiles.c.score, credit_line_profiles.c.grade, credit_line_profiles.c.region
            )
            .join(
                credit_line_profiles, credit_line_profiles.c.credit_line_id == credit_lines.c.credit_line_id
            )
            .where(credit_lines.c.credit_line_id == line_id)
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=credit_lines)
        line = conn.execute(query).first()
        if line is None or (who.role != "operator" and line.tenant != who.owner):
            raise NotFound("credit_line_id", f"no credit line {line_id!r}")
        return line

    def credit_line(self, who: Principal, line_id: str) -> CreditLineOut:
        with self.engine.connect() as conn:
            self._line_for(conn, who, line_id)
            line = conn.execute(sa.select(credit_lines).where(credit_lines.c.credit_line_id == line_id)).one()
            used, _ = self.ledger.line_usage(conn, line_id)
            events = conn.execute(
                sa.select(credit_line_events)
                .where(credit_line_events.c.credit_line_id == line_id)
                .order_by(credit_line_events.c.event_id)
                .limit(MAX_LINE_EVENTS)
            ).all()
        return self._line_out(line, used, events)

    @staticmethod
    def _line_out(line, used: int, events) -> CreditLineOut:
        opened = _as_date(line.opened_on)
        expires = _as_date(line.expires_on) if line.expires_on is not None else None
        drawable = line.status == "active" and (expires is None or today() < expires)
        return CreditLineOut(
            credit_line_id=line.credit_line_id,
            borrower_id=line.borrower_id,
            status=line.status,
            limit_minor=line.limit_minor,
            used_minor=used,
            available_minor=max(line.limit_minor - used, 0) if drawable else 0,
            apr=line.apr_ppm / 1e6,
            opened_on=opened,
            expires_on=expires,
            history=[
                LineEvent(
                    at=datetime.fromtimestamp(e.at_ns / 1e9, tz=UTC).isoformat(),
                    kind=e.kind,
                    limit_before_minor=e.limit_before_minor,
                    limit_after_minor=e.limit_after_minor,
                    status=e.status,
                    application_id=e.application_id,
                    reviewer=e.reviewer,
                )
                for e in events
            ],
        )

    def review_line(self, who: Principal, line_id: str, application_id: str) -> CreditLineOut:
        """A line review: the policy freezes, decreases, increases or keeps the stored limit; the reviewer is
        the key's owner. A review id used before is a 409."""
        with self.engine.begin() as conn:
            line = self._locked_line(conn, who, line_id)
            used, worst_dpd = self.ledger.line_usage(conn, line_id)
            inputs = {
                "application_id": application_id,
                "limit_minor": int(line.limit_minor),
                "max_dpd_on_book": worst_dpd,
                "line_utilization": round(used / line.limit_minor, 6) if line.limit_minor else 0.0,
            }
            try:
                decision = self.audit.decide(self.decisions, LINE_ADJUSTMENT.name, inputs, connection=conn)
            except AuditError as error:
                raise Conflict(error.field, error.reason) from None
            _insert_actor(conn, "line_review", application_id, who)
            kind = {"line_frozen": "freeze", "line_decreased": "decrease", "line_increased": "increase"}.get(
                decision.reasons[0] if decision.reasons else "", "keep"
            )
            status = "frozen" if kind == "freeze" else line.status
            limit = int(decision.credit_line_minor) if kind != "keep" else int(line.limit_minor)
            self.ledger.adjust_credit_line_in(conn, line_id, limit_minor=limit, status=status)
            self._line_event(
                conn,
                who,
                line_id,
                kind,
                int(line.limit_minor),
                limit,
                status,
                application_id,
                reviewer=who.owner,
            )
        return self.credit_line(who, line_id)

    # -- drawdowns ------------------------------------------------------------------------------------

    def draw(self, who: Principal, body: DrawdownIn) -> DrawdownOut:
        """Check the stored line under its lock, decide, match a partner with room, book the loan, reserve the
        partner's capacity: one transaction. A repeated application id returns the first answer.

        The reservation is the transaction's last write, so a partner's row is locked only through the commit,
        not through the booking (every drawdown that goes to a popular partner queues on that row). The partner
        is chosen from its capacity read without a lock; when a concurrent drawdown took the room meanwhile, the
        transaction is rolled back and run again without that partner (capacity only fills within a day, so each
        retry drops a partner for good and the retries end)."""
        digest = fingerprint(body.model_dump(mode="json"))
        full: set[str] = set()
        while True:
            try:  # a repeated id meets the decision log's key (AuditError), then the stored answer
                with self.engine.begin() as conn:
                    return self._draw_in(conn, who, body, digest, full)
            except _PartnerFull as raced:
                full.add(raced.institution_id)
            except AuditError as error:
                return _first_answer(error, body.application_id, self._stored_drawdown, who, digest)

    def _draw_in(
        self, conn: sa.Connection, who: Principal, body: DrawdownIn, digest: str, full: set[str]
    ) -> DrawdownOut:
        line = self._locked_line(conn, who, body.credit_line_id)
        profile = line
        used, worst_dpd = self.ledger.line_usage(conn, body.credit_line_id)
        expires = _as_date(line.expires_on) if line.expires_on is not None else None
        reasons: list[str] = []
        if line.status != "active":
            reasons.append(f"line_{line.status}")
        elif expires is not None and today() >= expires:
            reasons.append("line_expired")
        available = 0 if reasons else max(int(line.limit_minor) - used, 0)
        signals = self.graph.signals(profile.borrower_id, connection=conn)
        inputs = {
            "application_id": body.application_id,
            "requested_amount_minor": body.amount_minor,
            "available_minor": available,
            "delinquent": worst_dpd > 0,
            "max_dpd_on_book": worst_dpd,
            "on_blacklist": signals["on_blacklist"],
        }
        decision = self.audit.decide(self.decisions, DRAWDOWN.name, inputs, connection=conn)
        amount = int(decision.credit_line_minor)
        answer = {
            "application_id": body.application_id,
            "credit_line_id": body.credit_line_id,
            "amount_minor": amount,
            "tenor_months": body.tenor_months,
            "reasons": reasons + list(decision.reasons),
        }
        if decision.outcome != "approve":
            return self._store_drawdown(conn, who, digest, {**answer, "outcome": decision.outcome})
        day = today()
        offer, excluded = self._choose_partner(conn, body, profile, amount, line.apr_ppm / 1e6, day, full)
        if offer is None:
            return self._store_drawdown(
                conn, who, digest, {**answer, "outcome": "no_partner", "reasons": excluded}
            )
        loan_id = _new_id("ln_")
        rows = self.ledger.book_loan_in(
            conn,
            LoanTerms(
                loan_id=loan_id,
                borrower_id=profile.borrower_id,
                principal_minor=amount,
                apr_ppm=int(line.apr_ppm),
                tenor_months=body.tenor_months,
                originated_on=today(),
                funding_model=offer.funding_model,
                schedule=body.schedule,
                institution_id=offer.institution_id,
                credit_line_id=body.credit_line_id,
                application_id=body.application_id,
                currency=line.currency,
            ),
            check_line=False,  # checked above, under the line's lock
        )
        schedule = [
            {
                k: r[k]
                for k in ("seq", "due_date", "principal_due_minor", "interest_due_minor", "fee_due_minor")
            }
            for r in rows
        ]
        booked = self._store_drawdown(
            conn,
            who,
            digest,
            {
                **answer,
                "outcome": "booked",
                "loan_id": loan_id,
                "institution_id": offer.institution_id,
                "funding_model": offer.funding_model,
                "apr": line.apr_ppm / 1e6,
                "schedule": schedule,
                "reasons": [],
            },
        )
        if not self._take_capacity(conn, offer.institution_id, day, amount):  # the last write (see draw)
            raise _PartnerFull(offer.institution_id)
        return booked

    def _choose_partner(
        self,
        conn: sa.Connection,
        body: DrawdownIn,
        profile,
        amount: int,
        apr: float,
        day: date,
        full: set[str],
    ):
        """The first ranked partner, ``full`` ones aside, whose daily capacity shows room for ``amount`` (read
        without a lock: :meth:`_take_capacity` reserves it), or None and the reasons."""
        if self.matcher is None:
            return None, ["matching_not_configured"]
        match = self.matcher.rank(
            {
                "application_id": body.application_id,
                "pd": profile.pd,
                "score": profile.score,
                "grade": profile.grade,
                "amount_minor": amount,
                "tenor_months": body.tenor_months,
                "region": profile.region or "",
                "apr": apr,
            }
        )
        if not match.offers:
            return None, list(match.reasons)
        offers = [o for o in match.offers if o.institution_id not in full]
        if not offers:
            return None, ["capacity_exhausted"]
        room = dict(conn.execute(_ROOM, {"day": day, "ids": [o.institution_id for o in offers]}).all())
        for offer in offers:
            left = room.get(offer.institution_id)
            if left is None:  # no drawdown went to it today yet: its whole daily capacity
                left = self._daily_capacity(offer.institution_id)
            if amount <= left:
                return offer, []
        return None, ["capacity_exhausted"]

    def _daily_capacity(self, institution_id: str) -> int:
        partners = self.matcher.partners
        return int(partners.capacity_minor[list(partners.ids).index(institution_id)]) // DAYS_PER_MONTH

    def _take_capacity(self, conn: sa.Connection, institution_id: str, day: date, amount: int) -> bool:
        """Reserve ``amount`` of the partner's capacity for ``day`` with a guarded UPDATE (never oversold)."""
        guarded = (
            partner_capacity.update()
            .where(
                partner_capacity.c.institution_id == institution_id,
                partner_capacity.c.day == day,
                partner_capacity.c.reserved_minor + amount <= partner_capacity.c.capacity_minor,
            )
            .values(reserved_minor=partner_capacity.c.reserved_minor + amount)
        )
        if conn.execute(guarded).rowcount == 1:
            return True
        exists = conn.execute(
            sa.select(partner_capacity.c.reserved_minor).where(
                partner_capacity.c.institution_id == institution_id, partner_capacity.c.day == day
            )
        ).first()
        if exists is not None:
            return False
        insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(
            insert(partner_capacity)
            .values(
                institution_id=institution_id,
                day=day,
                capacity_minor=self._daily_capacity(institution_id),
                reserved_minor=0,
            )
            .on_conflict_do_nothing()
        )
        return conn.execute(guarded).rowcount == 1

    def _store_drawdown(self, conn: sa.Connection, who: Principal, digest: str, answer: dict) -> DrawdownOut:
        """The answer stored (a repeat gets it back) with who made the decision and the loan."""
        out = DrawdownOut.model_validate(answer)
        booked = [("loan", out.loan_id)] if out.loan_id else []
        _insert_actor(conn, "decision", out.application_id, who, *booked)
        conn.execute(
            drawdowns.insert().values(
                application_id=out.application_id,
                credit_line_id=out.credit_line_id,
                request_sha256=digest,
                outcome=out.outcome,
                loan_id=out.loan_id,
                institution_id=out.institution_id,
                amount_minor=out.amount_minor,
                answer=out.model_dump_json(),
                tenant=who.owner,
                key_id=who.key_id,
                at_ns=time.time_ns(),
            )
        )
        return out

    def _stored_drawdown(self, who: Principal, application_id: str, digest: str) -> DrawdownOut | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(drawdowns.c.request_sha256, drawdowns.c.tenant, drawdowns.c.answer).where(
                    drawdowns.c.application_id == application_id
                )
            ).first()
        if row is None:
            return None
        if row.tenant != who.owner or row.request_sha256 != digest:
            raise Conflict("application_id", f"{application_id} was already used for another drawdown")
        return DrawdownOut.model_validate_json(row.answer)

    # -- loans and payments ---------------------------------------------------------------------------

    def _loan_for(self, conn: sa.Connection, who: Principal, loan_id: str):
        """The loan, if the caller may see it: its tenant's, its partner's, or any for an operator."""
        row = conn.execute(
            sa.select(loans, actors.c.tenant)
            .join(actors, sa.and_(actors.c.kind == "loan", actors.c.object_id == loans.c.loan_id))
            .where(loans.c.loan_id == loan_id)
        ).first()
        visible = row is not None and (
            who.role == "operator"
            or (who.role == "partner" and row.institution_id == who.institution_id)
            or (who.role == "app" and row.tenant == who.owner)
        )
        if not visible:
            raise NotFound("loan_id", f"no loan {loan_id!r}")
        return row

    def loan(self, who: Principal, loan_id: str) -> LoanOut:
        with self.engine.connect() as conn:
            loan = self._loan_for(conn, who, loan_id)
            rows = self.ledger.installments_in(conn, loan_id)
            paid = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(payments.c.amount_minor), 0)).where(
                    payments.c.loan_id == loan_id
                )
            ).scalar_one()
        on = today()
        originated = _as_date(loan.originated_on)
        overdue = [r.due_date for r in rows if r.paid_on is None and r.due_date < on]
        dpd = (on - min(overdue)).days if overdue else 0
        active = loan.status in ("active", "charged_off")
        return LoanOut(
            loan_id=loan.loan_id,
            credit_line_id=loan.credit_line_id,
            institution_id=loan.institution_id,
            funding_model=loan.funding_model,
            status=loan.status,
            principal_minor=loan.principal_minor,
            apr=loan.apr_ppm / 1e6,
            tenor_months=loan.tenor_months,
            originated_on=originated,
            schedule=[
                InstallmentOut(
                    seq=r.seq,
                    due_date=r.due_date,
                    principal_due_minor=r.principal_due,
                    interest_due_minor=r.interest_due,
                    fee_due_minor=r.fee_due + r.late_fee_due,
                    principal_paid_minor=r.principal_paid,
                    interest_paid_minor=r.interest_paid,
                    fee_paid_minor=r.fee_paid + r.late_fee_paid,
                    paid_on=r.paid_on,
                )
                for r in rows
            ],
            paid_minor=int(paid),
            dpd=dpd,
            bucket=bucket_of(dpd, loan.status),
            outstanding_principal_minor=sum(r.principal_outstanding for r in rows),
            settlement_minor=settlement_amount(
                rows, max(on, originated), apr_ppm=loan.apr_ppm, period_start=originated
            )
            if active
            else 0,
        )

    def pay(self, who: Principal, loan_id: str, idempotency_key: str, body: PaymentIn) -> PaymentOut:
        """A payment through the ledger's waterfall, once per key: the same key and body give the first result."""
        with self.engine.connect() as conn:
            self._loan_for(conn, who, loan_id)
        paid_on = body.paid_on or today()
        if paid_on > today():
            raise LedgerError("paid_on", f"{paid_on} is in the future")
        request = PaymentRequest(loan_id, body.amount_minor, paid_on, f"{who.owner}/{idempotency_key}")
        try:
            result = self.ledger.post_payment(
                request, on_booked=lambda conn, booked: _insert_actor(conn, "payment", booked.payment_id, who)
            )
        except IdempotencyConflict:
            raise Conflict("Idempotency-Key", "was used before for another payment") from None
        return PaymentOut(
            payment_id=result.payment_id,
            loan_id=result.loan_id,
            amount_minor=result.amount_minor,
            late_fee_minor=result.late_fee_minor,
            fee_minor=result.fee_minor,
            interest_minor=result.interest_minor,
            principal_minor=result.principal_minor,
            prepaid_interest_minor=result.prepaid_interest_minor,
            prepaid_principal_minor=result.prepaid_principal_minor,
            settled=result.settled,
            replayed=result.replayed,
        )

    # -- decisions, reviews, reports and labels --------------------------------------------------------

    def decision_row(self, who: Principal, application_id: str) -> Mapping[str, Any]:
        """The audit log's row of a decision the caller may see (its tenant's, or any for an operator)."""
        with self.engine.connect() as conn:
            owner = conn.execute(
                sa.select(actors.c.tenant).where(
                    actors.c.kind == "decision", actors.c.object_id == application_id
                )
            ).scalar_one_or_none()
            # a partner reaches here only for a drawdown its institution funds (drawdown_institution)
            if owner is None or (who.role == "app" and owner != who.owner):
                raise NotFound("application_id", f"no decision for application {application_id}")
            return self.audit.stored(application_id, connection=conn)

    def settle_review(self, who: Principal, application_id: str, outcome: str, note: str) -> dict[str, Any]:
        """A person's outcome for a pending review, the key's owner as reviewer; an approved credit-line
        application gets its line stored then, as the policy proposed it."""
        settled = self.audit.settle(application_id, outcome=outcome, reviewer=who.owner, note=note)
        if (
            outcome == "approve" and settled["stage"] == CREDIT_LINE.name
        ):  # again on a repeat, if it failed before
            row = self.audit.stored(application_id)
            decision, inputs = json.loads(row["decision"]), json.loads(row["inputs"])
            if int(decision["credit_line_minor"] or 0) > 0 and decision.get("apr") is not None:
                with self.engine.begin() as conn:
                    opened = conn.execute(
                        sa.select(credit_line_profiles.c.credit_line_id).where(
                            credit_line_profiles.c.application_id == application_id
                        )
                    ).first()
                    if opened is not None:
                        return settled
                    tenant = conn.execute(
                        sa.select(actors.c.tenant).where(
                            actors.c.kind == "decision", actors.c.object_id == application_id
                        )
                    ).scalar_one()
                    line_id, _ = self._open_line(
                        conn,
                        who,
                        tenant,
                        application_id,
                        inputs["borrower_id"],
                        inputs.get("region"),
                        decision,
                    )
                    _insert_actor(conn, "credit_line", line_id, who)
        return settled

    # -- reports and labels ---------------------------------------------------------------------------

    def drawdown_institution(self, who: Principal, application_id: str) -> None:
        """404 unless a partner key's institution funds this drawdown (operators see every report)."""
        if who.role == "operator":
            return
        with self.engine.connect() as conn:
            institution = conn.execute(
                sa.select(drawdowns.c.institution_id).where(drawdowns.c.application_id == application_id)
            ).scalar_one_or_none()
        if institution is None or institution != who.institution_id:
            raise NotFound("application_id", f"no report for {application_id!r}")

    def label(self, who: Principal, borrower_id: str, label: str) -> None:
        """A black-list or delinquency label for a borrower, known to every worker's graph from now on."""
        if not self.graph.knows(borrower_id):
            raise NotFound("borrower_id", f"no borrower {borrower_id!r} in the graph")
        with self.engine.begin() as conn:
            seq = append_label(conn, borrower_id, label)
            _insert_actor(conn, "label", str(seq), who)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
