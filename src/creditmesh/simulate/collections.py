"""The simulator's collections phase: borrowers who answer (or do not answer) what collections does.

Each loan pays its installments on their due days unless it misses one; a miss starts a
*delinquency episode* of one of three kinds, drawn from the borrower's true risk:

* ``anyway``: pays everything overdue within days whatever is done (most first misses: a salary
  late, a card expired);
* ``persuadable``: a small daily chance of paying on its own, and a chance with every action,
  larger for a call or a visit, lower with each contact already made this week (diminishing
  returns) and with the debt's age; a call may end in a promise to pay, kept or broken;
* ``never``: does not pay (fraud, real distress); at 181 days past due the loan is charged off, and
  only an agency or a legal step recovers a little afterwards.

A reminder before the due date lowers the chance of a miss. Everything is vectorised over loans.
Every chance is read from a hash of (seed, loan, day, what is drawn), not from a generator's stream:
the same loan on the same day meets the same luck whatever else was done to the book, so two
strategies run on one world differ only by what they did (common random numbers).
The world knows nothing of strategies: each day the caller reads :meth:`CollectionWorld.queue`,
decides, calls :meth:`CollectionWorld.act`, then :meth:`CollectionWorld.advance`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from creditmesh.delinquency import CHARGE_OFF_DPD
from creditmesh.ids import splitmix64

ANYWAY, PERSUADABLE, NEVER_PAYS = 0, 1, 2
#: The actions the world understands, in the order of schema.COLLECTION_CHANNELS.
CHANNELS = ("reminder", "sms", "app_push", "call", "field_visit", "agency", "legal")
NOT_YET = np.iinfo(np.int32).max
#: What a chance is drawn for (the last part of its hash key).
(
    MISS,
    KIND,
    NEVER_DRAW,
    ANYWAY_DAYS,
    OWN_CURE,
    AGENCY,
    PROMISE,
    REACH,
    ACTION,
    PROMISE_DAY,
    KEEPS,
    LEGAL,
    DISPUTE,
) = range(13)


@dataclass(frozen=True)
class Response:
    """How borrowers answer: calibrated so that the seeds' 30-day collection rate (86-89 %) is reached with
    the shipped strategy and 31-60 dpd loans cure about a quarter of the time in a month (tests/simulate)."""

    #: Chance an installment is missed, for a borrower at a 5 % true PD (scaled by (PD / 5 %) ** 0.6).
    miss_rate: float = 0.045
    #: A reminder in the three days before the due date cuts the chance of a miss by this share.
    reminder_effect: float = 0.2
    #: Of first misses, the share that pays anyway; of the rest, the share that never pays (scaled by risk).
    anyway_share: float = 0.9
    never_share: float = 0.2
    #: Days an ``anyway`` borrower takes to pay: geometric with this daily chance.
    anyway_daily: float = 0.2
    #: A persuadable borrower's daily chance of paying with no contact.
    persuadable_daily: float = 0.01
    #: Each action's chance of a payment from a persuadable borrower (before fatigue and age).
    action_effect: tuple[float, ...] = (0.0, 0.05, 0.03, 0.22, 0.35, 0.0, 0.2)
    #: An agency's daily chance of a payment while it holds the loan (persuadable; a tenth of it on others).
    agency_daily: float = 0.012
    #: Diminishing returns: an action's effect is divided by (1 + this × contacts in the last 7 days).
    fatigue: float = 0.5
    #: The effect also decays with the debt's age: × exp(-dpd / this).
    age_scale: float = 150.0
    #: A call reaches the borrower this often; reached, the borrower promises to pay this often.
    call_reach: float = 0.55
    promise_share: float = 0.35
    #: A persuadable borrower keeps a promise this often (the others break theirs).
    promise_kept: float = 0.7
    #: After charge-off, a legal step or an agency recovers the balance with this chance (per step / per day).
    recovery_legal: float = 0.03
    recovery_agency_daily: float = 0.001
    #: A contact starts a dispute this often.
    dispute_rate: float = 0.002


class CollectionWorld:
    """Loans' repayments day by day, answering the actions taken on them.

    ``due_day`` and ``principal_minor`` are (loans, installments) arrays (unused slots: due ``NOT_YET``,
    principal 0); ``true_pd`` and ``is_fraud`` describe each loan's borrower.
    """

    def __init__(
        self,
        seed: int,
        due_day: np.ndarray,
        principal_minor: np.ndarray,
        true_pd: np.ndarray,
        is_fraud: np.ndarray,
        borrower: np.ndarray,
        response: Response = Response(),
    ) -> None:
        self.seed = splitmix64(np.array([seed], np.uint64))[0]
        self.response = response
        self.due_day = np.asarray(due_day, np.int32)
        self.principal = np.asarray(principal_minor, np.int64)
        self.borrower = np.asarray(borrower)
        n = self.due_day.shape[0]
        self.n = n
        risk = np.clip((np.asarray(true_pd) / 0.05) ** 0.6, 0.3, 3.0)
        self.p_miss = np.minimum(response.miss_rate * risk, 0.9)
        self.p_never = np.where(is_fraud, 1.0, np.clip(response.never_share * risk, 0.05, 0.95))
        self.is_fraud = np.asarray(is_fraud, bool)
        self.paid_upto = np.zeros(n, np.int32)  # installments paid (in order)
        self.kind = np.full(n, -1, np.int8)  # episode kind, -1 when current
        self.anyway_day = np.full(n, NOT_YET, np.int32)
        self.charged_off = np.zeros(n, bool)
        self.recovered_after_charge_off = np.zeros(n, bool)
        self.last_contact = np.full(n, -10_000, np.int32)
        self.contact_days = np.zeros((n, 7), np.int32) - 10_000  # the last seven contact days (a ring)
        self.contacts_total = np.zeros(n, np.int32)
        self.last_reminder = np.full(n, -10_000, np.int32)
        self.broken = np.zeros(n, np.int32)
        self.kept = np.zeros(n, np.int32)
        self.promise_due = np.full(n, NOT_YET, np.int32)
        self.promise_keeps = np.zeros(n, bool)
        self.promise_minor = np.zeros(n, np.int64)
        self.with_agency = np.zeros(n, bool)
        self.disputed = np.zeros(n, bool)
        self.cure_today = np.zeros(n, bool)
        self.contacts_today = np.zeros(n, np.int32)
        self.principal_cum = np.cumsum(self.principal, axis=1)
        self.paid_principal = np.zeros(n, np.int64)  # every principal repaid, in order (running total)
        self.recovered_principal = np.zeros(n, np.int64)  # of it, repaid while delinquent or after charge-off
        self.agency_collected = np.zeros(n, np.int64)  # of that, collected while an agency held the loan
        self.paid_on = np.full(self.due_day.shape, NOT_YET, np.int32)  # the day each installment was paid

    def chance(self, day: int, what: int, loans: np.ndarray | None = None) -> np.ndarray:
        """Uniform [0, 1) draws for ``loans`` (all when None) on ``day``, the same whatever else happened."""
        loans = np.arange(self.n, dtype=np.uint64) if loans is None else np.asarray(loans, np.uint64)
        key = (loans << np.uint64(24)) ^ (np.uint64(day & 0xFFFF) << np.uint64(8)) ^ np.uint64(what)
        return (splitmix64(key ^ self.seed) >> np.uint64(11)).astype(np.float64) / float(1 << 53)

    def begin(self, day: int) -> None:
        """Start the world at ``day`` with a clean book: what fell due before it was paid on its due day."""
        count, _ = self._owed_before(day)
        slots = np.arange(self.due_day.shape[1])[None, :]
        before = slots < count[:, None]
        self.paid_on = np.where(before, self.due_day, self.paid_on)
        self.paid_upto = count
        rows = np.arange(self.n)
        self.paid_principal = np.concatenate([np.zeros((self.n, 1), np.int64), self.principal_cum], axis=1)[
            rows, count
        ]

    # -- reading -----------------------------------------------------------------------------------

    def _owed_before(self, day: int, inclusive: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Per loan: installments due before ``day`` (or on it) and the principal of those not yet paid."""
        due = (self.due_day <= day) if inclusive else (self.due_day < day)
        count = due.sum(axis=1).astype(np.int32)
        rows = np.arange(self.n)
        cum = np.concatenate([np.zeros((self.n, 1), np.int64), self.principal_cum], axis=1)
        owed = cum[rows, count] - cum[rows, np.minimum(self.paid_upto, count)]
        return count, np.maximum(owed, 0)

    def dpd(self, day: int) -> np.ndarray:
        rows = np.arange(self.n)
        first_unpaid = self.due_day[rows, np.minimum(self.paid_upto, self.due_day.shape[1] - 1)]
        late = (self.paid_upto < self.due_day.shape[1]) & (first_unpaid < day)
        return np.where(late, day - first_unpaid, 0).astype(np.int64)

    def balance(self) -> np.ndarray:
        rows = np.arange(self.n)
        done = np.concatenate([np.zeros((self.n, 1), np.int64), self.principal_cum], axis=1)[
            rows, self.paid_upto
        ]
        return self.principal_cum[:, -1] - done

    def queue(self, day: int, reminder_days: int = 3) -> dict[str, np.ndarray]:
        """The queue's columns for the loans collections may act on today (delinquent, charged off and not
        recovered, or due within ``reminder_days``), as arrays; ``loan`` is the world's loan index."""
        _, overdue = self._owed_before(day)
        _, soon = self._owed_before(day + reminder_days, inclusive=True)
        due_soon = np.maximum(soon - overdue, 0)
        dpd = self.dpd(day)
        balance = self.balance()
        live = (balance > 0) & ~self.recovered_after_charge_off
        pick = np.flatnonzero(live & ((overdue > 0) | self.charged_off | ((due_soon > 0) & (dpd == 0))))
        recent = (self.contact_days[pick] > day - 30).sum(axis=1)
        return {
            "loan": pick,
            "loan_id": np.char.add("L", pick.astype(str)),
            "borrower_id": np.char.add("B", self.borrower[pick].astype(str)),
            "funding_model": np.full(pick.size, "capital_heavy_on"),
            "charged_off": self.charged_off[pick],
            "dpd": dpd[pick],
            "days_to_due": np.zeros(pick.size, np.int64),
            "balance_minor": np.where(self.charged_off[pick], balance[pick], balance[pick]),
            "overdue_principal_minor": np.where(self.charged_off[pick], balance[pick], overdue[pick]),
            "overdue_minor": overdue[pick],
            "due_soon_principal_minor": np.where(dpd[pick] == 0, due_soon[pick], 0),
            "broken_promises": self.broken[pick],
            "kept_promises": self.kept[pick],
            "open_promise_minor": np.where(self.promise_due[pick] < NOT_YET, self.promise_minor[pick], 0),
            "contacts_30d": recent,
            "days_since_contact": np.minimum(day - self.last_contact[pick], 999),
            "contacts_today": self.contacts_today[pick],
            "disputed": self.disputed[pick],
            "with_agency": self.with_agency[pick],
        }

    # -- acting ------------------------------------------------------------------------------------

    def act(self, day: int, loan: np.ndarray, channel: np.ndarray) -> dict[str, np.ndarray]:
        """Take each ``channel`` (an index into :data:`CHANNELS`) on each ``loan`` today; returns what came of it:
        ``reached``, ``promised`` (with its amount) and ``disputed``, one a row."""
        r = self.response
        loan = np.asarray(loan, np.int64)
        channel = np.asarray(channel, np.int64)
        names = np.array(CHANNELS)[channel]
        contact = np.isin(names, ("sms", "app_push", "call", "field_visit"))
        reminder = names == "reminder"
        self.last_reminder[loan[reminder]] = day
        c_loan = loan[contact]
        recent = (self.contact_days[c_loan] > day - 7).sum(axis=1)
        self.contact_days[c_loan, self.contacts_total[c_loan] % 7] = day
        self.contacts_total[c_loan] += 1
        self.last_contact[c_loan] = day
        self.contacts_today[c_loan] += 1
        dpd = self.dpd(day)[loan]
        fatigue = np.ones(loan.size)
        fatigue[contact] = 1.0 / (1.0 + r.fatigue * recent)
        effect = np.asarray(r.action_effect)[channel] * fatigue * np.exp(-dpd / r.age_scale)
        kind = self.kind[loan]
        reached = np.where(names == "call", self.chance(day, REACH, loan) < r.call_reach, contact)
        pays = (
            (kind == PERSUADABLE)
            & ~self.charged_off[loan]
            & (self.chance(day, ACTION, loan) < effect)
            & reached
        )
        self.cure_today[loan[pays]] = True
        # a promise, from a call or a visit that reached the borrower and did not end in a payment now
        promised = np.isin(names, ("call", "field_visit")) & reached & ~pays & (kind >= 0)
        promised &= ~self.charged_off[loan] & (self.promise_due[loan] == NOT_YET)
        promised &= self.chance(day, PROMISE, loan) < r.promise_share
        p_loan = loan[promised]
        self.promise_due[p_loan] = day + 1 + (self.chance(day, PROMISE_DAY, p_loan) * 7).astype(np.int32)
        self.promise_keeps[p_loan] = np.where(
            self.kind[p_loan] == ANYWAY,
            True,
            (self.kind[p_loan] == PERSUADABLE) & (self.chance(day, KEEPS, p_loan) < r.promise_kept),
        )
        _, owed = self._owed_before(day)
        self.promise_minor[p_loan] = owed[p_loan]
        # legal steps and agencies after charge-off
        legal = (
            (names == "legal") & self.charged_off[loan] & (self.chance(day, LEGAL, loan) < r.recovery_legal)
        )
        self.cure_today[loan[legal]] = True
        self.with_agency[loan[names == "agency"]] = True
        disputes = contact & (self.chance(day, DISPUTE, loan) < r.dispute_rate)
        self.disputed[loan[disputes]] = True
        return {
            "reached": reached,
            "promised": promised,
            "promised_minor": self.promise_minor[loan] * promised,
            "disputed": disputes,
        }

    def advance(self, day: int) -> dict[str, np.ndarray]:
        """The end of ``day``: misses, cures, kept and broken promises, charge-offs. Returns the principal each
        loan repaid today (``paid_minor``) and of it what was overdue or charged off (``recovered_minor``)."""
        r = self.response
        n = self.n
        before = self.paid_principal.copy()
        recovered_before = self.recovered_principal.copy()
        # installments due today: a current loan pays or misses (a fresh reminder lowers the chance)
        rows = np.arange(n)
        slot = np.minimum(self.paid_upto, self.due_day.shape[1] - 1)
        due_now = (
            (self.kind < 0) & (self.paid_upto < self.due_day.shape[1]) & (self.due_day[rows, slot] == day)
        )
        due_now &= ~self.charged_off
        p_miss = self.p_miss * np.where(self.last_reminder >= day - 3, 1.0 - r.reminder_effect, 1.0)
        misses = due_now & (self.chance(day, MISS) < p_miss)
        pays = due_now & ~misses
        self._pay_through(pays, day, recovery=False)
        m = np.flatnonzero(misses)
        draw = self.chance(day, KIND, m)
        never = self.chance(day, NEVER_DRAW, m) < self.p_never[m]
        kind = np.where(draw < r.anyway_share, ANYWAY, np.where(never, NEVER_PAYS, PERSUADABLE))
        kind = np.where(self.is_fraud[m], NEVER_PAYS, kind)
        self.kind[m] = kind
        wait = np.ceil(np.log1p(-self.chance(day, ANYWAY_DAYS, m)) / np.log1p(-r.anyway_daily)).astype(
            np.int32
        )
        self.anyway_day[m] = np.where(kind == ANYWAY, day + np.maximum(wait, 1), NOT_YET)
        # who pays today
        episode = self.kind >= 0
        cure = self.cure_today.copy()
        cure |= episode & (self.anyway_day <= day)
        dpd = self.dpd(day + 1)
        own = r.persuadable_daily + np.where(self.with_agency, r.agency_daily, 0.0) * np.exp(
            -dpd / r.age_scale
        )
        luck = self.chance(day, OWN_CURE)
        cure |= episode & (self.kind == PERSUADABLE) & ~self.charged_off & (luck < own)
        agency_never = episode & (self.kind == NEVER_PAYS) & self.with_agency & ~self.charged_off
        cure |= agency_never & (luck < r.agency_daily / 10)
        promised = self.promise_due <= day
        kept = promised & self.promise_keeps
        cure |= kept
        self.kept += kept
        self.broken += promised & ~self.promise_keeps & ~cure
        self.promise_due[promised] = NOT_YET
        # after charge-off an agency recovers now and then
        gone = self.charged_off & ~self.recovered_after_charge_off
        cure |= gone & self.with_agency & (self.chance(day, AGENCY) < r.recovery_agency_daily)
        recovered = cure & self.charged_off
        held = self.recovered_principal.copy()
        self._pay_through(cure & ~self.charged_off & episode, day, recovery=True)
        self._pay_off(recovered, day)
        self.agency_collected += np.where(self.with_agency, self.recovered_principal - held, 0)
        self.recovered_after_charge_off |= recovered
        self.kind[cure & ~recovered] = -1
        self.anyway_day[cure] = NOT_YET
        self.with_agency[cure & ~recovered] = False
        # charge-off at 181 dpd
        newly = ~self.charged_off & (self.dpd(day + 1) >= CHARGE_OFF_DPD)
        self.charged_off |= newly
        self.promise_due[newly] = NOT_YET
        self.cure_today[:] = False
        self.contacts_today[:] = 0
        return {
            "paid_minor": self.paid_principal - before,
            "recovered_minor": self.recovered_principal - recovered_before,
        }

    def _pay_through(self, mask: np.ndarray, day: int, *, recovery: bool) -> None:
        """The loans in ``mask`` pay every installment due up to and including ``day``."""
        count, owed = self._owed_before(day, inclusive=True)
        rows = np.flatnonzero(mask)
        self._mark_paid(rows, count[rows], day)
        self.paid_upto[rows] = np.maximum(self.paid_upto[rows], count[rows])
        self.paid_principal[rows] += owed[rows]
        if recovery:
            self.recovered_principal[rows] += owed[rows]

    def _mark_paid(self, rows: np.ndarray, upto: np.ndarray, day: int) -> None:
        """Installments ``paid_upto .. upto - 1`` of each row are paid on ``day``."""
        slots = np.arange(self.due_day.shape[1])[None, :]
        newly = (slots >= self.paid_upto[rows, None]) & (slots < upto[:, None])
        block = self.paid_on[rows]
        block[newly] = day
        self.paid_on[rows] = block

    def _pay_off(self, mask: np.ndarray, day: int) -> None:
        rows = np.flatnonzero(mask)
        balance = self.balance()[rows]
        self._mark_paid(rows, np.full(rows.size, self.due_day.shape[1], np.int32), day)
        self.paid_upto[rows] = self.due_day.shape[1]
        self.paid_principal[rows] += balance
        self.recovered_principal[rows] += balance


def world_from_book(
    seed: int,
    loans: dict[str, np.ndarray],
    installments: dict[str, np.ndarray],
    true_pd: np.ndarray,
    is_fraud: np.ndarray,
    response: Response = Response(),
) -> CollectionWorld:
    """A world over a simulated book's loans: their schedules (``loan``, ``due_day``, ``principal_due``) and
    their borrowers' true PD and fraud flag (indexed by ``loans["borrower"]``)."""
    loan = np.asarray(installments["loan"], np.int64)
    n = int(loans["loan"].size)
    order = np.lexsort((installments["due_day"], loan))
    loan, due, principal = (
        loan[order],
        np.asarray(installments["due_day"])[order],
        np.asarray(installments["principal_due"])[order],
    )
    start = np.searchsorted(loan, np.arange(n))
    slot = np.arange(loan.size) - start[loan]
    width = int(slot.max(initial=0)) + 1
    due_day = np.full((n, width), NOT_YET, np.int32)
    amount = np.zeros((n, width), np.int64)
    due_day[loan, slot] = due
    amount[loan, slot] = principal
    borrower = np.asarray(loans["borrower"])
    return CollectionWorld(seed, due_day, amount, true_pd[borrower], is_fraud[borrower], borrower, response)
