"""Collection strategies as data: a YAML or JSON file, validated, content-hashed, like a credit policy.

A strategy says what each action costs, how much of each the teams can do in a day, the contact
rules a regulator imposes (at most N contacts a day per borrower, quiet hours in the borrower's
local time, no contact of third parties, stop on dispute), and, segment by segment (bucket,
balance, score), which actions may be taken. The first segment a loan matches is its segment.

``mode: optimise`` lets :func:`creditmesh.collections.assign.assign_day` choose among a segment's
actions by expected recovery less cost under capacity; ``mode: fixed`` takes each segment's first
action, segments in file order, until the capacity is spent (the usual hand-written playbook).

The version is the SHA-256 of the canonical JSON, so two files that say the same thing share it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from creditmesh.decision.policy import VersionedDocument, field_path, read_mapping
from creditmesh.delinquency import BUCKET_NAMES
from creditmesh.errors import CreditmeshError
from creditmesh.schema import COLLECTION_CHANNELS

#: Where a loan stands: delinquency's buckets, with ``pre_due`` for a current loan in the queue (one with an
#: installment due within the reminder window).
BUCKETS = ("pre_due", *(name for name in BUCKET_NAMES if name != "current"))
#: The actions that reach the borrower (a reminder, an agency placement or a legal step is not a contact).
CONTACT_CHANNELS = ("sms", "app_push", "call", "field_visit")
#: Caps ("put a limit on everything").
MAX_SEGMENTS = 64
MAX_CAPACITY_PER_DAY = 10**7
COST_MAX_MINOR = 10**9


class StrategyError(CreditmeshError):
    """A strategy file that is unreadable or invalid; the field is the path of the bad entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionTerms(_Strict):
    """What one action costs, and for an agency its commission on what it collects."""

    cost_minor: int = Field(ge=0, le=COST_MAX_MINOR)
    commission_pct: float = Field(default=0.0, ge=0, le=100, description="agency's share of what it collects")


class Capacity(_Strict):
    """How many actions of a channel the teams can take in a day: agents × per agent, or a flat number."""

    agents: int | None = Field(default=None, ge=0, le=100_000)
    per_agent: int | None = Field(default=None, ge=1, le=10_000)
    per_day: int | None = Field(default=None, ge=0, le=MAX_CAPACITY_PER_DAY)

    @model_validator(mode="after")
    def _one_way(self) -> Capacity:
        if (self.per_day is None) == (self.agents is None or self.per_agent is None):
            raise ValueError("give either per_day, or agents and per_agent")
        return self

    @property
    def actions_per_day(self) -> int:
        return self.per_day if self.per_day is not None else self.agents * self.per_agent


class QuietHours(_Strict):
    """No contact from ``start`` to ``end`` o'clock in the borrower's local time (it may wrap past midnight)."""

    start: int = Field(ge=0, le=23)
    end: int = Field(ge=0, le=23)


class ContactRules(_Strict):
    """The rules a regulator imposes on every contact."""

    max_contacts_per_day: int = Field(ge=0, le=10, description="per borrower, in the borrower's local day")
    quiet_hours: QuietHours
    utc_offset_minutes: int = Field(default=480, ge=-720, le=840, description="borrowers' local time")
    third_party_contact: bool = False
    stop_on_dispute: bool = True
    reminder_days_before_due: int = Field(default=3, ge=0, le=15)


class Segment(_Strict):
    """Loans in these buckets, with a balance and a score in these ranges, and the actions allowed on them."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    buckets: tuple[str, ...] = Field(min_length=1)
    balance_min_minor: int = Field(default=0, ge=0)
    balance_max_minor: int | None = Field(default=None, ge=0)
    score_min: float = Field(default=0.0, ge=0, le=1, description="expected share recovered with no contact")
    score_max: float = Field(default=1.0, ge=0, le=1)
    actions: tuple[str, ...] = Field(min_length=1, max_length=len(COLLECTION_CHANNELS))

    @field_validator("buckets")
    @classmethod
    def _known_buckets(cls, buckets: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [b for b in buckets if b not in BUCKETS]
        if unknown:
            raise ValueError(f"unknown bucket(s) {unknown}; known: {list(BUCKETS)}")
        return buckets

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, actions: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [a for a in actions if a not in COLLECTION_CHANNELS]
        if unknown:
            raise ValueError(f"unknown action(s) {unknown}; known: {list(COLLECTION_CHANNELS)}")
        if len(set(actions)) != len(actions):
            raise ValueError(f"an action is listed twice: {list(actions)}")
        return actions

    @model_validator(mode="after")
    def _ranges(self) -> Segment:
        if self.balance_max_minor is not None and self.balance_max_minor < self.balance_min_minor:
            raise ValueError("balance_max_minor must not be below balance_min_minor")
        if self.score_max < self.score_min:
            raise ValueError("score_max must not be below score_min")
        return self


class StrategyDocument(_Strict):
    """The whole strategy file."""

    name: str = Field(min_length=1, max_length=64)
    label: str = Field(
        default="", max_length=64, description="a human's version label; the version is the hash"
    )
    mode: Literal["optimise", "fixed"] = "optimise"
    actions: dict[str, ActionTerms]
    capacity: dict[str, Capacity] = Field(
        default_factory=dict, description="channels without one are unlimited"
    )
    contact_rules: ContactRules
    segments: tuple[Segment, ...] = Field(min_length=1, max_length=MAX_SEGMENTS)

    @field_validator("actions", "capacity")
    @classmethod
    def _known_channels(cls, table: dict[str, Any]) -> dict[str, Any]:
        unknown = [a for a in table if a not in COLLECTION_CHANNELS]
        if unknown:
            raise ValueError(f"unknown action(s) {unknown}; known: {list(COLLECTION_CHANNELS)}")
        return table

    @model_validator(mode="after")
    def _consistent(self) -> StrategyDocument:
        names = [s.name for s in self.segments]
        if len(set(names)) != len(names):
            raise ValueError(f"a segment is named twice: {names}")
        for segment in self.segments:
            missing = [a for a in segment.actions if a not in self.actions]
            if missing:
                raise ValueError(
                    f"segment {segment.name!r} uses action(s) {missing} that actions does not price"
                )
        return self


class Strategy(VersionedDocument):
    """A validated strategy with its content hash as ``version`` (every planned action's ``strategy_version``)."""

    document: StrategyDocument

    @property
    def rules(self) -> ContactRules:
        return self.document.contact_rules

    @cached_property
    def channels(self) -> tuple[str, ...]:
        """The actions the strategy prices, in the order of :data:`COLLECTION_CHANNELS`."""
        return tuple(c for c in COLLECTION_CHANNELS if c in self.document.actions)

    @cached_property
    def cost_minor(self) -> np.ndarray:
        return np.array([self.document.actions[c].cost_minor for c in self.channels], np.int64)

    @cached_property
    def capacity(self) -> np.ndarray:
        """Actions per day of each channel; -1 where unlimited."""
        caps = self.document.capacity
        return np.array([caps[c].actions_per_day if c in caps else -1 for c in self.channels], np.int64)

    def per_agent(self, channel: str) -> int | None:
        capacity = self.document.capacity.get(channel)
        return None if capacity is None else capacity.per_agent

    def segment_of(self, bucket: np.ndarray, balance_minor: np.ndarray, score: np.ndarray) -> np.ndarray:
        """Each loan's segment index (first match, file order), or -1 where none matches."""
        segment = np.full(len(bucket), -1, np.int64)
        for k, s in enumerate(self.document.segments):
            hit = (
                (segment < 0)
                & np.isin(bucket, s.buckets)
                & (balance_minor >= s.balance_min_minor)
                & (score >= s.score_min)
                & (score <= s.score_max)
            )
            if s.balance_max_minor is not None:
                hit &= balance_minor <= s.balance_max_minor
            segment[hit] = k
        return segment

    def allowed(self, segment: np.ndarray) -> np.ndarray:
        """(loans, channels) booleans: the actions each loan's segment allows (none without a segment)."""
        table = np.zeros((len(self.document.segments) + 1, len(self.channels)), bool)
        for k, s in enumerate(self.document.segments):
            table[k, [self.channels.index(a) for a in s.actions]] = True
        return table[segment]  # -1 picks the last row, all False

    def first_action(self, segment: np.ndarray) -> np.ndarray:
        """Each loan's segment's first action (a channel index), or -1 without a segment."""
        first = np.array([self.channels.index(s.actions[0]) for s in self.document.segments] + [-1], np.int64)
        return first[segment]

    def __repr__(self) -> str:
        return f"Strategy(name={self.name!r}, version={self.version[:12]})"


def strategy_from_dict(data: Mapping[str, Any]) -> Strategy:
    """Validate a strategy given as a mapping; errors name the field path and the reason."""
    try:
        document = StrategyDocument.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise StrategyError(
            field_path(first["loc"], "strategy"), first["msg"].removeprefix("Value error, ")
        ) from None
    return Strategy(document)


def load_strategy(path: str | Path) -> Strategy:
    """Read a strategy file (``.yaml``/``.yml`` or ``.json``)."""
    return strategy_from_dict(read_mapping(path, StrategyError, "strategy"))


def default_strategy_path() -> Path:
    """The shipped champion strategy."""
    return Path(__file__).with_name("strategies") / "champion.yaml"


def default_uplift_path() -> Path:
    """The shipped uplift model: learned from random exploration on a simulated book (seed 21; the
    benchmark and the calibration tests run on other seeds). ``benchmarks/collections_strategies.py --train`` rebuilds it."""
    return Path(__file__).with_name("strategies") / "uplift.json"


def assign_strategy_arms(
    loan_ids: Sequence[str], challengers: Sequence[tuple[str, float]], *, salt: str
) -> np.ndarray:
    """Each loan's arm by hash split (the same rule as credit policies): champion unless a challenger's share."""
    from creditmesh.decision import assign_arms

    return assign_arms(loan_ids, challengers, salt=salt)
