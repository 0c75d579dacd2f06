"""How simulated borrowers repay, day by day, and how they answer what collections does.

One :class:`CollectionWorld` serves the simulated platform (loans are added as they are booked, and each
day of each month is run through it) and the collections back-test (a book's loans added at once). Each
installment is paid on its due day unless the loan misses it; a miss starts a *delinquency episode* of one
of four kinds:

* ``anyway``: a transient miss (a salary late, a card expired) paid within days whatever is done;
* ``persuadable``: a small daily chance of paying on its own, and a chance with every action, larger for a
  call or a visit, lower with each contact of the borrower in the last week (diminishing returns) and with
  the debt's age; a call may end in a promise to pay, kept or broken;
* ``partial``: pays the minimum and stays late. The borrower pays the oldest installment overdue whenever it
  would pass 60 days, so the loan stays in the 31-60 dpd bucket month after month (as most of the Taiwan
  cards "two months delayed" do); catches up (pays everything overdue) on their own or after an action as a
  persuadable borrower does, with a chance that grows as the money comes back over the episode's first
  weeks; or stops paying and becomes ``never``;
* ``never``: does not pay before charge-off (fraud, real distress).

A transient miss (chance by the borrower's true risk, lower after a reminder) is ``anyway`` or, less often,
``persuadable`` or ``partial``. A borrower who *defaults* (a day drawn from the true PD by the platform, see
:mod:`creditmesh.simulate.behaviour`) misses every installment from that day on, on every loan, and is
``persuadable``, ``partial`` or ``never`` as a person: persuaded once, the borrower pays everything overdue on
every loan and the default is over. At 181 days past due a loan is charged off; over the following year an
agency, a legal step or the borrower now and then recovers part of it (:class:`Response`'s recovery terms).

Every chance is read from a hash of (seed, loan or borrower, day, what is drawn), not from a generator's
stream: the same loan on the same day meets the same luck whatever else was done to the book, so two
strategies run on one world differ only by what they did (common random numbers).

The world knows nothing of strategies. Each day a :class:`Collector` (``creditmesh.collections`` provides
them) reads :meth:`CollectionWorld.queue` and returns the day's actions; :meth:`CollectionWorld.step` runs the
day: the queue, the actions (:meth:`~CollectionWorld.act`), then the day's payments (:meth:`~CollectionWorld.advance`).
The work per day is proportional to the loans in an episode and the installments falling due, not to the book.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

import numpy as np

from creditmesh.delinquency import CHARGE_OFF_DPD
from creditmesh.ids import splitmix64
from creditmesh.schema import COLLECTION_OUTCOMES

ANYWAY, PERSUADABLE, NEVER_PAYS = 0, 1, 2
#: An installment's ``missed_as`` when it fell due while its borrower was in a default they can be persuaded out of.
MISSED_IN_DEFAULT = 3
#: An episode (and an installment's ``missed_as``) of a borrower who pays part of what is due and stays late.
PARTIAL = 4
#: The actions the world understands, in the order of schema.COLLECTION_CHANNELS.
CHANNELS = ("reminder", "sms", "app_push", "call", "field_visit", "agency", "legal")
CONTACTS = ("sms", "app_push", "call", "field_visit")
NOT_YET = np.iinfo(np.int32).max
#: Promise states in the world's action log (-1: the action made no promise).
PROMISE_OPEN, PROMISE_KEPT, PROMISE_BROKEN = 0, 1, 2
#: What a chance is drawn for (the last part of its hash key).
(
    MISS,
    KIND,
    DEFAULT_KIND,
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
    RECOVERY,
    RECOVERY_PACE,
    BREAKS,
) = range(16)
_OUTCOME = {name: code for code, name in enumerate(COLLECTION_OUTCOMES)}


@dataclass(frozen=True)
class Response:
    """How borrowers repay and answer collections. Calibrated so that the simulated platform on creditmesh's
    engines, collected with the shipped strategy, lands in the seeds' bands (Day-1 delinquency, 30-day
    collection, 90 day+) on three seeds (tests/simulate/test_calibration.py). Issue 14 moved ``miss_rate``
    (0.052 to 0.049) and ``default_persuadable_share`` (0.3 to 0.12): the engines' applicants are riskier
    (``simulate.population.PD_INTERCEPT``), so fewer transient misses keep Day-1 in its band, and more
    defaults stay unpaid to the 90 day+ bucket. Issue 15 added the ``partial`` episode (``partial_*``), off by
    default (``partial_share`` and ``default_partial_share`` 0): with it on, no setting tried kept the three
    delinquency bands on seeds 7, 8 and 9 (see docs/collections.md, "The simulator answers")."""

    #: Chance an installment is missed for a transient reason, for a borrower at a 5 % true PD (scaled by
    #: (PD / 5 %) ** 0.6, between 0.3 and 3 times).
    miss_rate: float = 0.049
    #: A reminder in the days before the due date cuts the chance of a transient miss by this share.
    reminder_effect: float = 0.2
    #: Of transient misses, the share paid anyway, and the share who pay part of what is due and stay late
    #: (``partial``); the others are persuadable.
    anyway_share: float = 0.94
    partial_share: float = 0.0
    #: Days an ``anyway`` borrower takes to pay: geometric with this daily chance (at most 28 days).
    anyway_daily: float = 0.3
    #: Of defaulting borrowers, the share who can be persuaded (the others never pay before charge-off).
    default_persuadable_share: float = 0.12
    #: Of defaulting borrowers (not fraudsters), the share who pay the minimum and stay late (``partial``).
    default_partial_share: float = 0.0
    #: A ``partial`` borrower pays the oldest installment overdue whenever it would be later than this (so
    #: the loan stays in the 31-60 dpd bucket, as Taiwan's cards "two months delayed" paying the minimum do)...
    partial_max_dpd: int = 60
    #: ... pays everything overdue on their own with this daily chance (a defaulted one as their ability
    #: comes back), answers an action as a persuadable borrower does with this share of its effect ...
    partial_daily: float = 0.004
    partial_action_scale: float = 3.0
    #: ... both scaled by 1 - exp(-days since the episode began / this): the money to catch up comes slowly.
    partial_recovery_days: float = 45.0
    #: ... and stops paying altogether (as a ``never``) with this daily chance.
    partial_break_daily: float = 0.008
    #: A defaulted borrower's ability to pay comes back slowly (a new job, a sale): every chance of paying,
    #: with or without an action, is scaled by 1 - exp(-days since the default / τ), τ drawn per borrower
    #: from a log-normal with this median and this spread (the standard deviation of log τ).
    default_recovery_days: float = 20.0
    default_recovery_spread: float = 0.0
    #: A persuadable borrower's daily chance of paying with no contact.
    persuadable_daily: float = 0.01
    #: Each action's chance of a payment from a persuadable borrower (before fatigue and age).
    action_effect: tuple[float, ...] = (0.0, 0.08, 0.05, 0.35, 0.45, 0.0, 0.2)
    #: An agency's daily chance of a payment while it holds the loan (persuadable; a tenth of it on others).
    agency_daily: float = 0.012
    #: Diminishing returns: an action's effect is divided by (1 + this × the borrower's contacts in 7 days).
    fatigue: float = 0.25
    #: The effect also decays with the debt's age: × exp(-dpd / this).
    age_scale: float = 150.0
    #: A call reaches the borrower this often; reached, the borrower promises to pay this often.
    call_reach: float = 0.55
    promise_share: float = 0.35
    #: A persuadable borrower keeps a promise this often (the others break theirs).
    promise_kept: float = 0.7
    #: A contact starts a dispute this often.
    dispute_rate: float = 0.002
    #: After charge-off, for ``recovery_days``: an agency holding the loan collects one installment with this
    #: daily chance, the borrower pays one on their own with ``recovery_own_daily``, and a legal step wins a
    #: judgment for the whole balance with ``recovery_legal``. The assumption: a year after charge-off about
    #: a fifth of the charged-off principal is recovered with an agency (US card issuers recover 15-27 % of
    #: gross charge-offs: Discover 26.5 %, JPMorgan Chase 15.6-16.1 %, American Express about 25 % in 2011,
    #: American Banker, "Credit card default recoveries", January 2012, from the issuers' regulatory reports).
    recovery_days: int = 365
    recovery_agency_daily: float = 0.006
    recovery_own_daily: float = 0.0005
    recovery_legal: float = 0.05


class Collector(Protocol):
    """What collections does each day: reminders before the due date, and a plan for the queue."""

    #: Every installment due within this many days gets a reminder (0: none).
    reminder_days: int
    #: What one reminder costs (minor units).
    reminder_cost_minor: int
    #: The arm the actions are recorded under.
    arm: str

    def plan(
        self, day: int, on: date, queue: dict[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The day's actions on the queue's loans: their world loan numbers, channel codes (indices into
        :data:`CHANNELS`) and costs in minor units, one action per loan at most."""
        ...


def risk_multiplier(true_pd: np.ndarray) -> np.ndarray:
    """How much likelier than a 5 % PD borrower one is to miss an installment: (PD / 5 %) ** 0.6, clipped."""
    return np.clip((np.asarray(true_pd, np.float64) / 0.05) ** 0.6, 0.3, 3.0)


class _Columns:
    """Named column arrays that grow by appending (capacity grows by half again when full)."""

    def __init__(self, spec: dict[str, tuple[type, object]]) -> None:
        self.spec = spec
        self.size = 0
        self.data = {name: np.full(0, fill, dtype) for name, (dtype, fill) in spec.items()}

    def extend(self, count: int) -> np.ndarray:
        """Room for ``count`` more rows (filled with each column's default); their indices."""
        need = self.size + count
        capacity = next(iter(self.data.values())).size
        if need > capacity:
            grown = max(need, capacity + capacity // 2, 1024)
            for name, (dtype, fill) in self.spec.items():
                bigger = np.full(grown, fill, dtype)
                bigger[: self.size] = self.data[name][: self.size]
                self.data[name] = bigger
        index = np.arange(self.size, need)
        self.size = need
        return index

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name][: self.size]

    def trimmed(self, name: str) -> np.ndarray:
        """A copy of one column without the spare capacity."""
        return self.data[name][: self.size].copy()


_LOAN_COLUMNS: dict[str, tuple[type, object]] = {
    "first": (np.int64, 0),  # its first installment's row
    "count": (np.int16, 0),  # its installments
    "borrower": (np.int64, 0),
    "model": (np.int8, 0),  # the funding model's index (for the queue)
    "paid_upto": (np.int16, 0),  # installments paid, in order
    "principal_total": (np.int64, 0),
    "paid_principal": (np.int64, 0),  # principal repaid so far
    "recovered_principal": (np.int64, 0),  # of it, repaid while delinquent or after charge-off
    "agency_collected": (np.int64, 0),  # of that, collected while an agency held the loan
    "settle_day": (np.int32, NOT_YET),  # the day it is settled early
    "kind": (np.int8, -1),  # the episode's kind, -1 when current
    "episode_day": (np.int32, NOT_YET),  # the day its episode began (the missed installment's due day)
    "anyway_day": (np.int32, NOT_YET),
    "charged_off_day": (np.int32, NOT_YET),
    "closed": (np.bool_, False),  # out of play: a year after its charge-off
    "with_agency": (np.bool_, False),
    "disputed": (np.bool_, False),
    "promise_due": (np.int32, NOT_YET),
    "promise_keeps": (np.bool_, False),
    "promise_minor": (np.int64, 0),
    "promise_action": (np.int64, -1),  # the promise's row in the action log
    "broken": (np.int16, 0),
    "kept": (np.int16, 0),
}
_ROW_COLUMNS: dict[str, tuple[type, object]] = {
    "loan": (np.int64, 0),
    "due_day": (np.int32, NOT_YET),
    "principal": (np.int64, 0),
    "paid_on": (np.int32, NOT_YET),
    "missed_as": (
        np.int8,
        -1,
    ),  # the episode its miss started (-1: paid on the day, or the loan was late already)
}
_ACTION_COLUMNS: dict[str, tuple[type, object]] = {
    "loan": (np.int64, 0),
    "day": (np.int32, 0),
    "channel": (np.int8, 0),
    "outcome": (np.int8, 0),
    "promised_minor": (np.int64, 0),
    "promise_due": (np.int32, NOT_YET),
    "promise_status": (np.int8, -1),
    "cost_minor": (np.int64, 0),
    "arm": (np.int16, 0),
}


class CollectionWorld:
    """Loans' repayments day by day, answering the actions taken on them.

    ``default_day``, ``true_pd`` and ``is_fraud`` describe each borrower (a borrower who never defaults has
    ``NOT_YET``); loans are added with :meth:`add_loans`. Days are numbers counted from ``epoch``.
    """

    def __init__(
        self,
        seed: int,
        default_day: np.ndarray,
        true_pd: np.ndarray,
        is_fraud: np.ndarray,
        response: Response = Response(),
        *,
        epoch: date = date(2024, 1, 1),
        funding_models: tuple[str, ...] = ("capital_heavy_on",),
        record_actions: bool = True,
    ) -> None:
        self.seed = splitmix64(np.array([seed], np.uint64))[0]
        self.response = response
        self.epoch = epoch
        self.funding_models = np.array(funding_models)
        self.record_actions = record_actions
        r = response
        self.default_day = np.minimum(np.asarray(default_day, np.int64), NOT_YET).astype(np.int32)
        self.is_fraud = np.asarray(is_fraud, bool)
        self.p_miss = np.minimum(r.miss_rate * risk_multiplier(true_pd), 0.9)
        nb = self.default_day.size
        self.borrowers = nb
        everyone = np.arange(nb, dtype=np.uint64)
        draw = self._chance_of(everyone, 0, DEFAULT_KIND)
        self.default_kind = np.select(
            [
                self.is_fraud,
                draw < r.default_persuadable_share,
                draw < r.default_persuadable_share + r.default_partial_share,
            ],
            [NEVER_PAYS, PERSUADABLE, PARTIAL],
            NEVER_PAYS,
        ).astype(np.int8)
        # each borrower's pace of recovery from a default (Box-Muller over two hashed uniforms)
        u1 = np.maximum(self._chance_of(everyone, 1, RECOVERY_PACE), 1e-12)
        u2 = self._chance_of(everyone, 2, RECOVERY_PACE)
        normal = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
        self.recovery_days = (r.default_recovery_days * np.exp(r.default_recovery_spread * normal)).astype(
            np.float32
        )
        self.cured = np.zeros(nb, bool)  # the borrower's default is over
        self.contact_days = np.full((nb, 7), -10_000, np.int32)  # the last seven contact days (a ring)
        self.contacts_total = np.zeros(nb, np.int32)
        self.last_contact = np.full(nb, -10_000, np.int32)
        self.contacts_today = np.zeros(nb, np.int16)
        self.persuaded = np.zeros(nb, bool)  # an action today made the borrower pay
        self.loans = _Columns(_LOAN_COLUMNS)
        self.rows = _Columns(_ROW_COLUMNS)
        self.actions = _Columns(_ACTION_COLUMNS)
        self.arms: list[str] = []
        self._due_on: dict[int, list[np.ndarray]] = {}  # day -> rows falling due that day
        self._settle_on: dict[int, list[np.ndarray]] = {}  # day -> loans settled early that day
        self._legal_wins: list[np.ndarray] = []
        self._paid_log: list[np.ndarray] = []  # rows paid since the log was last read
        self._due_log: list[np.ndarray] = []  # rows that fell due since the log was last read
        self.reminders_sent = 0
        self.reminder_cost_minor = 0
        self.today = 0  # the first day not yet run

    # -- luck --------------------------------------------------------------------------------------

    def _chance_of(self, keys: np.ndarray, day: int, what: int) -> np.ndarray:
        key = (np.asarray(keys, np.uint64) << np.uint64(24)) ^ (np.uint64(day & 0xFFFF) << np.uint64(8))
        return (splitmix64(key ^ np.uint64(what) ^ self.seed) >> np.uint64(11)).astype(np.float64) / float(
            1 << 53
        )

    def chance(self, day: int, what: int, loans: np.ndarray) -> np.ndarray:
        """Uniform [0, 1) draws for ``loans`` on ``day``, the same whatever else happened."""
        return self._chance_of(np.asarray(loans, np.uint64) * np.uint64(2) + np.uint64(1), day, what)

    def borrower_chance(self, day: int, what: int, borrowers: np.ndarray) -> np.ndarray:
        """The same for borrowers (a borrower's luck is shared by their loans)."""
        return self._chance_of(np.asarray(borrowers, np.uint64) * np.uint64(2), day, what)

    # -- the book ----------------------------------------------------------------------------------

    def add_loans(
        self,
        borrower: np.ndarray,
        count: np.ndarray,
        due_day: np.ndarray,
        principal_minor: np.ndarray,
        *,
        settle_day: np.ndarray | None = None,
        model: np.ndarray | None = None,
    ) -> np.ndarray:
        """Book loans: each one's borrower and number of installments, and the installments' due days and
        principal, loan after loan in schedule order; ``settle_day`` the day a loan is settled early
        (``NOT_YET`` if never). Returns the loans' numbers (their rows in the world, in order)."""
        count = np.asarray(count, np.int64)
        loans = self.loans.extend(count.size)
        rows = self.rows.extend(int(count.sum()))
        first = rows[0] + np.concatenate([[0], np.cumsum(count)[:-1]]) if count.size else rows[:0]
        owner = np.repeat(loans, count)
        self.loans["first"][loans] = first
        self.loans["count"][loans] = count
        self.loans["borrower"][loans] = borrower
        if model is not None:
            self.loans["model"][loans] = model
        self.rows["loan"][rows] = owner
        self.rows["due_day"][rows] = due_day
        self.rows["principal"][rows] = principal_minor
        np.add.at(self.loans["principal_total"], owner, np.asarray(principal_minor, np.int64))
        settle = (
            np.full(count.size, NOT_YET, np.int64) if settle_day is None else np.asarray(settle_day, np.int64)
        )
        self.loans["settle_day"][loans] = np.minimum(settle, NOT_YET)
        # only installments due before the settlement fall due; the settlement pays the rest
        falls_due = np.asarray(due_day) <= settle[owner - loans[0]] if count.size else np.zeros(0, bool)
        self._index(self._due_on, rows[falls_due], np.asarray(due_day)[falls_due])
        early = settle < NOT_YET
        self._index(self._settle_on, loans[early], settle[early])
        return loans

    @staticmethod
    def _index(index: dict[int, list[np.ndarray]], items: np.ndarray, days: np.ndarray) -> None:
        if items.size == 0:
            return
        order = np.argsort(days, kind="stable")
        items, days = items[order], np.asarray(days)[order]
        cuts = np.flatnonzero(np.diff(days)) + 1
        for part, day in zip(np.split(items, cuts), days[np.concatenate([[0], cuts])], strict=True):
            index.setdefault(int(day), []).append(part)

    def begin(self, day: int) -> None:
        """Start at ``day`` with a clean book: what fell due before it was paid on its due day, and every
        default before it is over."""
        self.today = day
        for key in [d for d in self._due_on if d < day]:
            rows = np.concatenate(self._due_on.pop(key))
            self.rows["paid_on"][rows] = self.rows["due_day"][rows]
            loans = self.rows["loan"][rows]
            np.maximum.at(
                self.loans["paid_upto"], loans, (rows - self.loans["first"][loans] + 1).astype(np.int16)
            )
            np.add.at(self.loans["paid_principal"], loans, self.rows["principal"][rows])
        for key in [d for d in self._settle_on if d < day]:
            self._settle(np.concatenate(self._settle_on.pop(key)), key)
        self.cured |= self.default_day < day
        self._paid_log.clear()

    @property
    def size(self) -> int:
        return self.loans.size

    @property
    def charged_off(self) -> np.ndarray:
        return self.loans["charged_off_day"] < NOT_YET

    def date(self, day: int) -> date:
        return self.epoch + timedelta(days=int(day))

    # -- reading -----------------------------------------------------------------------------------

    def _block(self, loans: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The loans' installments as (loans, width) arrays: due days (``NOT_YET`` past the end), principal."""
        count = self.loans["count"][loans].astype(np.int64)
        width = int(count.max(initial=1))
        slot = np.arange(width)[None, :]
        valid = slot < count[:, None]
        rows = np.where(valid, self.loans["first"][loans][:, None] + slot, 0)
        due = np.where(valid, self.rows["due_day"][rows], NOT_YET)
        principal = np.where(valid, self.rows["principal"][rows], 0)
        return rows, due, principal

    def dpd(self, day: int, loans: np.ndarray | None = None) -> np.ndarray:
        """Days past due of the oldest unpaid installment (0 when none is late)."""
        loans = np.arange(self.size) if loans is None else np.asarray(loans, np.int64)
        upto = self.loans["paid_upto"][loans].astype(np.int64)
        count = self.loans["count"][loans].astype(np.int64)
        row = self.loans["first"][loans] + np.minimum(upto, np.maximum(count - 1, 0))
        oldest = self.rows["due_day"][row] if row.size else np.zeros(0, np.int32)
        late = (upto < count) & (oldest < day)
        return np.where(late, day - oldest.astype(np.int64), 0)

    def _owed(self, day: int, loans: np.ndarray, *, inclusive: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Per loan: installments due before ``day`` (or on it), and the principal of those not yet paid."""
        _, due, principal = self._block(loans)
        count = ((due <= day) if inclusive else (due < day)).sum(axis=1)
        cum = np.concatenate([np.zeros((loans.size, 1), np.int64), np.cumsum(principal, axis=1)], axis=1)
        rows = np.arange(loans.size)
        upto = np.minimum(self.loans["paid_upto"][loans].astype(np.int64), count)
        return count, np.maximum(cum[rows, count] - cum[rows, upto], 0)

    def balance(self, loans: np.ndarray | None = None) -> np.ndarray:
        loans = np.arange(self.size) if loans is None else np.asarray(loans, np.int64)
        return self.loans["principal_total"][loans] - self.loans["paid_principal"][loans]

    def ability(self, day: int, borrowers: np.ndarray) -> np.ndarray:
        """How able each borrower is to pay today: 1, or for one in default, 1 - exp(-days in default / their τ)."""
        since = day - self.default_day[borrowers].astype(np.int64)
        in_default = (since >= 0) & ~self.cured[borrowers]
        slow = -np.expm1(-np.maximum(since, 0) / self.recovery_days[borrowers])
        return np.where(in_default, slow, 1.0)

    def _catching_up(self, day: int, loans: np.ndarray) -> np.ndarray:
        """How far a ``partial`` borrower has the money to catch up on each loan: 1 - exp(-days since its
        episode began / :attr:`Response.partial_recovery_days`)."""
        since = np.maximum(day - self.loans["episode_day"][loans].astype(np.int64), 0)
        return -np.expm1(-since / self.response.partial_recovery_days)

    def in_play(self) -> np.ndarray:
        """Loans in an episode: delinquent, or charged off within the recovery year."""
        return np.flatnonzero((self.loans["kind"] >= 0) & ~self.loans["closed"])

    def queue(self, day: int) -> dict[str, np.ndarray]:
        """The queue's columns for the loans collections may act on today (delinquent, or charged off and not
        yet out of play), as arrays; ``loan`` is the world's loan number."""
        pick = self.in_play()
        charged = self.charged_off[pick]
        _, overdue = self._owed(day, pick)
        balance = self.balance(pick)
        borrower = self.loans["borrower"][pick]
        recent = (self.contact_days[borrower] > day - 30).sum(axis=1)
        promise_open = self.loans["promise_due"][pick] < NOT_YET
        return {
            "loan": pick,
            "loan_id": np.char.add("L", pick.astype(str)),
            "borrower_id": np.char.add("B", borrower.astype(str)),
            "funding_model": self.funding_models[self.loans["model"][pick]],
            "charged_off": charged,
            "dpd": self.dpd(day, pick),
            "days_to_due": np.zeros(pick.size, np.int64),
            "balance_minor": balance,
            "overdue_principal_minor": np.where(charged, balance, overdue),
            "overdue_minor": np.where(charged, balance, overdue),
            "due_soon_principal_minor": np.zeros(pick.size, np.int64),
            "broken_promises": self.loans["broken"][pick],
            "kept_promises": self.loans["kept"][pick],
            "open_promise_minor": np.where(promise_open, self.loans["promise_minor"][pick], 0),
            "contacts_30d": recent,
            "days_since_contact": np.minimum(day - self.last_contact[borrower], 999),
            "contacts_today": self.contacts_today[borrower],
            "disputed": self.loans["disputed"][pick],
            "with_agency": self.loans["with_agency"][pick],
        }

    # -- acting ------------------------------------------------------------------------------------

    def act(
        self,
        day: int,
        loan: np.ndarray,
        channel: np.ndarray,
        cost_minor: np.ndarray | None = None,
        *,
        arm: str = "",
    ) -> dict[str, np.ndarray]:
        """Take each ``channel`` (an index into :data:`CHANNELS`) on each ``loan`` today; returns what came of it
        (``reached``, ``promised`` with its amount, ``disputed``, one a row) and records it in the action log."""
        r = self.response
        loan = np.asarray(loan, np.int64)
        channel = np.asarray(channel, np.int64)
        names = np.array(CHANNELS)[channel]
        borrower = self.loans["borrower"][loan]
        contact = np.isin(names, CONTACTS)
        c_borrower = borrower[contact]
        recent = (self.contact_days[c_borrower] > day - 7).sum(axis=1)
        # a borrower contacted twice today: the ring and the counters take both (np.add.at, slot by slot)
        order = np.argsort(c_borrower, kind="stable")
        nth = np.arange(order.size) - np.searchsorted(c_borrower[order], c_borrower[order])
        slot = np.empty(order.size, np.int64)
        slot[order] = nth
        self.contact_days[c_borrower, (self.contacts_total[c_borrower] + slot) % 7] = day
        np.add.at(self.contacts_total, c_borrower, 1)
        np.add.at(self.contacts_today, c_borrower, 1)
        self.last_contact[c_borrower] = day
        dpd = self.dpd(day, loan)
        fatigue = np.ones(loan.size)
        fatigue[contact] = 1.0 / (1.0 + r.fatigue * recent)
        effect = np.asarray(r.action_effect)[channel] * fatigue * np.exp(-dpd / r.age_scale)
        effect *= self.ability(day, borrower)
        kind = self.loans["kind"][loan]
        charged = self.charged_off[loan]
        reached = np.where(names == "call", self.chance(day, REACH, loan) < r.call_reach, contact)
        effect *= np.where(kind == PARTIAL, r.partial_action_scale * self._catching_up(day, loan), 1.0)
        curable = (kind == PERSUADABLE) | (kind == PARTIAL)
        pays = curable & ~charged & (self.chance(day, ACTION, loan) < effect) & reached
        self.persuaded[borrower[pays]] = True
        # a promise, from a call or a visit that reached the borrower and did not end in a payment now
        promised = np.isin(names, ("call", "field_visit")) & reached & ~pays & (kind >= 0) & ~charged
        promised &= self.loans["promise_due"][loan] == NOT_YET
        promised &= self.chance(day, PROMISE, loan) < r.promise_share
        p_loan = loan[promised]
        _, owed = self._owed(day, loan)
        due = day + 1 + (self.chance(day, PROMISE_DAY, p_loan) * 7).astype(np.int32)
        p_kind = self.loans["kind"][p_loan]
        keeping = r.promise_kept * self.ability(day, borrower[promised])
        keeping *= np.where(p_kind == PARTIAL, self._catching_up(day, p_loan), 1.0)
        keeps = np.where(
            p_kind == ANYWAY,
            True,
            np.isin(p_kind, (PERSUADABLE, PARTIAL)) & (self.chance(day, KEEPS, p_loan) < keeping),
        )
        self.loans["promise_due"][p_loan] = due
        self.loans["promise_keeps"][p_loan] = keeps
        self.loans["promise_minor"][p_loan] = owed[promised]
        # legal steps and agencies after charge-off
        legal = (names == "legal") & charged & (self.chance(day, LEGAL, loan) < r.recovery_legal)
        self._legal_wins.append(loan[legal])
        self.loans["with_agency"][loan[names == "agency"]] = True
        disputes = contact & (self.chance(day, DISPUTE, loan) < r.dispute_rate)
        self.loans["disputed"][loan[disputes]] = True
        outcome = np.select(
            [
                disputes,
                pays,
                promised,
                names == "agency",
                (names == "call") & ~reached,
                np.isin(names, ("call", "field_visit")),
            ],
            [_OUTCOME[o] for o in ("dispute", "paid", "promise_to_pay", "placed", "no_answer", "contacted")],
            _OUTCOME["sent"],
        )
        if self.record_actions and loan.size:
            rows = self.actions.extend(loan.size)
            a = self.actions
            a["loan"][rows] = loan
            a["day"][rows] = day
            a["channel"][rows] = channel
            a["outcome"][rows] = outcome
            a["promised_minor"][rows[promised]] = owed[promised]
            a["promise_due"][rows[promised]] = due
            a["promise_status"][rows[promised]] = PROMISE_OPEN
            a["cost_minor"][rows] = 0 if cost_minor is None else cost_minor
            if arm not in self.arms:
                self.arms.append(arm)
            a["arm"][rows] = self.arms.index(arm)
            self.loans["promise_action"][p_loan] = rows[promised]
        return {
            "reached": reached,
            "promised": promised,
            "promised_minor": np.where(promised, owed, 0),
            "disputed": disputes,
        }

    def step(self, day: int, collector: Collector | None) -> dict[str, np.ndarray]:
        """One day: the collector's plan for today's queue, its actions, and the day's payments."""
        if collector is not None:
            loans, channels, costs = collector.plan(day, self.date(day), self.queue(day))
            if len(loans):
                self.act(day, loans, channels, costs, arm=collector.arm)
        reminded = collector is not None and collector.reminder_days > 0
        return self.advance(
            day, remind=reminded, reminder_cost_minor=collector.reminder_cost_minor if reminded else 0
        )

    # -- the day's payments ------------------------------------------------------------------------

    def advance(
        self, day: int, *, remind: bool = False, reminder_cost_minor: int = 0
    ) -> dict[str, np.ndarray]:
        """The end of ``day``: installments falling due paid or missed (``remind``: each had a reminder),
        settlements, cures, kept and broken promises, recoveries, charge-offs. Returns the loans that paid
        today (``loan``) with the principal they repaid (``paid_minor``) and of it what was overdue or charged
        off (``recovered_minor``)."""
        r = self.response
        L = self.loans
        self.today = day + 1
        events: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (loans, principal, recovered)
        # installments falling due today
        falling = np.concatenate(self._due_on.pop(day, [np.zeros(0, np.int64)]))
        if falling.size:
            self._due_log.append(falling)
            due_rows = falling[self.rows["paid_on"][falling] == NOT_YET]
            loans = self.rows["loan"][due_rows]
            current = (L["kind"][loans] < 0) & (L["charged_off_day"][loans] == NOT_YET)
            due_rows, loans = due_rows[current], loans[current]
            borrower = L["borrower"][loans]
            if remind:
                self.reminders_sent += loans.size
                self.reminder_cost_minor += loans.size * reminder_cost_minor
            p_miss = self.p_miss[borrower] * (1.0 - r.reminder_effect if remind else 1.0)
            defaulted = (self.default_day[borrower] <= day) & ~self.cured[borrower]
            misses = defaulted | (self.chance(day, MISS, loans) < p_miss)
            pay = ~misses
            events.append(
                self._pay_through(loans[pay], (due_rows[pay] - L["first"][loans[pay]] + 1), day, False)
            )
            m_loans, m_borrower = loans[misses], borrower[misses]
            draw = self.chance(day, KIND, m_loans)
            transient = np.select(
                [draw < r.anyway_share, draw < r.anyway_share + r.partial_share],
                [ANYWAY, PARTIAL],
                PERSUADABLE,
            )
            kind = np.where(defaulted[misses], self.default_kind[m_borrower], transient)
            L["kind"][m_loans] = kind
            L["episode_day"][m_loans] = day
            wait = np.ceil(np.log1p(-self.chance(day, ANYWAY_DAYS, m_loans)) / np.log1p(-r.anyway_daily))
            wait = np.clip(wait, 1, 28).astype(np.int32)
            L["anyway_day"][m_loans] = np.where(kind == ANYWAY, day + wait, NOT_YET)
            self.rows["missed_as"][due_rows[misses]] = np.where(
                defaulted[misses] & (kind == PERSUADABLE), MISSED_IN_DEFAULT, kind
            )
        # settlements (prepayment): everything left is paid, overdue or not
        settling = np.concatenate(self._settle_on.pop(day, [np.zeros(0, np.int64)]))
        settling = settling[L["charged_off_day"][settling] == NOT_YET]
        events.append(self._settle(settling, day))
        # who pays today
        play = self.in_play()
        kind = L["kind"][play]
        live = L["charged_off_day"][play] == NOT_YET
        borrower = L["borrower"][play]
        dpd = self.dpd(day + 1, play)
        partial = kind == PARTIAL
        own = np.where(partial, r.partial_daily, r.persuadable_daily)
        own += np.where(L["with_agency"][play], r.agency_daily, 0.0) * np.exp(-dpd / r.age_scale)
        own *= self.ability(day, borrower) * np.where(partial, self._catching_up(day, play), 1.0)
        luck = self.borrower_chance(day, OWN_CURE, borrower)
        curable = live & ((kind == PERSUADABLE) | partial)
        cures = curable & ((luck < own) | self.persuaded[borrower])
        promised = L["promise_due"][play] <= day
        kept = promised & L["promise_keeps"][play]
        cures |= kept & live
        cure_borrowers = np.zeros(self.borrowers, bool)
        cure_borrowers[borrower[cures]] = True
        # a persuaded borrower pays every loan in an episode that can be paid; an anyway loan pays on its day
        pays = live & (kind != NEVER_PAYS) & cure_borrowers[borrower]
        pays |= live & (kind == ANYWAY) & (L["anyway_day"][play] <= day)
        # an agency now and then gets a never-payer to pay before charge-off
        pays |= live & (kind == NEVER_PAYS) & L["with_agency"][play] & (luck < r.agency_daily / 10)
        paying = play[pays]
        events.append(self._pay_through(paying, self._owed(day, paying, inclusive=True)[0], day, True))
        L["kind"][paying] = -1
        L["anyway_day"][paying] = NOT_YET
        L["with_agency"][paying] = False
        # a borrower who was persuaded (or paid through an agency) ends their default
        healed = np.unique(borrower[pays & (cure_borrowers[borrower] | (kind == NEVER_PAYS))])
        self.cured[healed[self.default_day[healed] <= day]] = True
        # promises falling due today: kept if the loan paid, broken if not
        resolved = play[promised]
        paid_now = pays[promised]
        L["kept"][resolved[paid_now]] += 1
        L["broken"][resolved[~paid_now]] += 1
        if self.record_actions:
            action = L["promise_action"][resolved]
            self.actions["promise_status"][action[action >= 0]] = np.where(
                paid_now[action >= 0], PROMISE_KEPT, PROMISE_BROKEN
            )
        L["promise_due"][resolved] = NOT_YET
        L["promise_action"][resolved] = -1
        events.append(self._pay_partly(day, play[live & partial & ~pays], dpd[live & partial & ~pays]))
        # after charge-off: the agency, the borrower now and then, a legal judgment
        gone = play[~live & ~pays]
        recovering = gone[(day < L["charged_off_day"][gone] + r.recovery_days)]
        luck = self.chance(day, RECOVERY, recovering)
        odds = np.where(L["with_agency"][recovering], r.recovery_agency_daily, 0.0) + r.recovery_own_daily
        one = recovering[luck < odds]
        events.append(self._pay_through(one, L["paid_upto"][one].astype(np.int64) + 1, day, True))
        wins = np.concatenate(self._legal_wins) if self._legal_wins else np.zeros(0, np.int64)
        self._legal_wins.clear()
        wins = np.setdiff1d(wins, one)
        events.append(self._pay_through(wins, L["count"][wins].astype(np.int64), day, True))
        done = gone[
            (L["paid_upto"][gone] >= L["count"][gone])
            | (day + 1 >= L["charged_off_day"][gone] + r.recovery_days)
        ]
        L["closed"][done] = True
        # charge-off at 181 dpd
        still = play[live & ~pays]
        newly = still[self.dpd(day + 1, still) >= CHARGE_OFF_DPD]
        L["charged_off_day"][newly] = day + 1
        L["promise_due"][newly] = NOT_YET
        if self.record_actions:  # a promise still open at charge-off is broken
            action = L["promise_action"][newly]
            self.actions["promise_status"][action[action >= 0]] = PROMISE_BROKEN
        L["promise_action"][newly] = -1
        self.persuaded[:] = False
        self.contacts_today[:] = 0
        loans = np.concatenate([e[0] for e in events])
        return {
            "loan": loans,
            "paid_minor": np.concatenate([e[1] for e in events]),
            "recovered_minor": np.concatenate([e[2] for e in events]),
        }

    def _pay_partly(
        self, day: int, loans: np.ndarray, dpd: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``partial`` loans that did not pay in full today: some borrowers stop paying (their loans turn
        ``never``, and so does a default of theirs); the others pay the oldest installment overdue on a loan
        about to be later than :attr:`Response.partial_max_dpd` (a loan left with nothing overdue is current)."""
        r, L = self.response, self.loans
        borrower = L["borrower"][loans]
        breaks = self.borrower_chance(day, BREAKS, borrower) < r.partial_break_daily
        L["kind"][loans[breaks]] = NEVER_PAYS
        gone = borrower[breaks]
        in_default = (self.default_day[gone] <= day) & ~self.cured[gone]
        self.default_kind[gone[in_default]] = NEVER_PAYS
        due = loans[~breaks & (dpd > r.partial_max_dpd)]
        paid = self._pay_through(due, L["paid_upto"][due].astype(np.int64) + 1, day, True)
        over = due[self.dpd(day + 1, due) == 0]
        L["kind"][over] = -1
        L["with_agency"][over] = False
        return paid

    def _settle(self, loans: np.ndarray, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The loans are settled early: every installment left is paid today."""
        paid = self._pay_through(loans, self.loans["count"][loans].astype(np.int64), day, False)
        self.loans["kind"][loans] = -1
        self.loans["anyway_day"][loans] = NOT_YET
        return paid

    def _pay_through(
        self, loans: np.ndarray, upto: np.ndarray, day: int, recovery: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each loan pays its installments from the first unpaid one up to (not including) ``upto`` today; the
        principal each paid, and of it what counts as recovered (all of it when ``recovery``)."""
        L = self.loans
        loans = np.asarray(loans, np.int64)
        start = L["paid_upto"][loans].astype(np.int64)
        upto = np.minimum(np.maximum(np.asarray(upto, np.int64), start), L["count"][loans])
        length = upto - start
        keep = length > 0
        loans, start, length = loans[keep], start[keep], length[keep]
        if loans.size == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty
        offsets = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
        rows = np.repeat(L["first"][loans] + start, length) + offsets
        self.rows["paid_on"][rows] = day
        principal = np.add.reduceat(self.rows["principal"][rows], np.cumsum(length) - length)
        L["paid_upto"][loans] = start + length
        L["paid_principal"][loans] += principal
        recovered = principal if recovery else np.zeros_like(principal)
        if recovery:
            L["recovered_principal"][loans] += principal
            L["agency_collected"][loans] += np.where(L["with_agency"][loans], principal, 0)
        self._paid_log.append(rows)
        return loans, principal, recovered

    def take_logs(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows paid and the rows that fell due since the last call (each once), and forget them."""
        paid = np.concatenate(self._paid_log) if self._paid_log else np.zeros(0, np.int64)
        due = np.concatenate(self._due_log) if self._due_log else np.zeros(0, np.int64)
        self._paid_log.clear()
        self._due_log.clear()
        return paid, due
