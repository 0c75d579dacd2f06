"""Credit policies as data: a versioned YAML or JSON file, validated, content-hashed, one section a stage.

A policy file says, for each of the three decisions (``credit_line``, ``drawdown``,
``line_adjustment``), which knock-out rules apply, where the score cut-off and the review band
lie, which grades are offered at what line and APR, and the limits. Conditions are written in the
rule language of :mod:`creditmesh.decision.rules` and compiled when the file is loaded, so a rule
that does not parse is refused with its field path (``credit_line.knockouts[2].when``).

The policy's version is the SHA-256 of its canonical JSON (keys sorted, no whitespace), so two
files that say the same thing have the same version whatever their layout or format.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from creditmesh.decision.rules import Condition, RuleError, can_hold_without, compile_rule, telling_values
from creditmesh.errors import CreditmeshError

#: Caps on the size of a policy ("put a limit on everything").
MAX_RULES_PER_STAGE = 100
LINE_MAX_MINOR_CAP = 10**12


class PolicyError(CreditmeshError):
    """A policy file that is unreadable or invalid; the field is the path of the bad entry."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    """A named condition. A knock-out's name is the reason code a borrower is told."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    when: str = Field(min_length=1, max_length=2_000)
    outcome: Literal["decline", "review"] = "decline"


class GradeTerms(_Strict):
    """What a grade is offered: a line of ``income × line_income_pct / 100`` within bounds, at an APR."""

    grade: str = Field(min_length=1, max_length=8)
    line_income_pct: int = Field(ge=0, le=10_000, description="line as a percentage of monthly income")
    line_min_minor: int = Field(ge=0, le=LINE_MAX_MINOR_CAP)
    line_max_minor: int = Field(ge=0, le=LINE_MAX_MINOR_CAP)
    apr: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _bounds(self) -> GradeTerms:
        if self.line_min_minor > self.line_max_minor:
            raise ValueError("line_min_minor must not exceed line_max_minor")
        return self


class CreditLineStage(_Strict):
    """Pre-loan credit approval: knock-outs, then the model's PD against the cut-off and review band."""

    knockouts: tuple[Rule, ...] = Field(default=(), max_length=MAX_RULES_PER_STAGE)
    max_pd: float = Field(gt=0, le=1, description="decline above this PD")
    min_score: float | None = Field(default=None, description="decline below this score, when set")
    review_band_below: float = Field(
        default=0.0, ge=0, le=1, description="PDs in (max_pd - this, max_pd] go to review"
    )
    review_band_above: float = Field(
        default=0.0, ge=0, le=1, description="PDs in (max_pd, max_pd + this] go to review"
    )
    grades: tuple[GradeTerms, ...] = Field(min_length=1, max_length=32)
    line_round_minor: int = Field(
        default=100_00, ge=1, le=LINE_MAX_MINOR_CAP, description="lines are rounded down to this"
    )

    @field_validator("grades")
    @classmethod
    def _unique_grades(cls, grades: tuple[GradeTerms, ...]) -> tuple[GradeTerms, ...]:
        names = [g.grade for g in grades]
        if len(set(names)) != len(names):
            raise ValueError(f"a grade is listed twice: {names}")
        return grades


class DrawdownStage(_Strict):
    """A drawdown under an open line: knock-outs, then the amount capped by the available line."""

    knockouts: tuple[Rule, ...] = Field(default=(), max_length=MAX_RULES_PER_STAGE)
    min_amount_minor: int = Field(default=500_00, ge=0, le=LINE_MAX_MINOR_CAP)
    max_amount_minor: int = Field(default=LINE_MAX_MINOR_CAP, ge=0, le=LINE_MAX_MINOR_CAP)


class LineAdjustmentStage(_Strict):
    """A periodic line review: the first of freeze / decrease / increase whose condition holds."""

    freeze_when: str | None = None
    decrease_when: str | None = None
    increase_when: str | None = None
    decrease_pct: int = Field(default=50, ge=0, le=100, description="new line = line × this / 100")
    increase_pct: int = Field(default=130, ge=100, le=1_000, description="new line = line × this / 100")
    line_max_minor: int = Field(default=200_000_00, ge=0, le=LINE_MAX_MINOR_CAP)
    line_round_minor: int = Field(default=100_00, ge=1, le=LINE_MAX_MINOR_CAP)


class Assume(_Strict):
    """Read a missing value as this one (``on_blacklist: {assume: false}``: no flag means not listed)."""

    assume: bool | int | float | str

    @field_validator("assume")
    @classmethod
    def _finite(cls, value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("an assumed value must be finite")
        if isinstance(value, str) and len(value) > 64:
            raise ValueError("an assumed string is at most 64 characters")
        return value


#: What a missing input does to the knock-outs that read it: decline it, send it to review, or read it as a value.
Missing = Literal["decline", "review"] | Assume


class PolicyDocument(_Strict):
    """The whole policy file."""

    name: str = Field(min_length=1, max_length=64)
    label: str = Field(
        default="", max_length=64, description="a human's version label; the version is the hash"
    )
    optional_inputs: tuple[str, ...] = Field(
        default=(), description="fields rules may use that an application may lack"
    )
    missing: dict[str, Missing] = Field(
        default_factory=dict,
        max_length=MAX_RULES_PER_STAGE,
        description="per input a knock-out reads, what a missing value does (policy check requires it)",
    )
    credit_line: CreditLineStage
    drawdown: DrawdownStage = DrawdownStage()
    line_adjustment: LineAdjustmentStage = LineAdjustmentStage()


class VersionedDocument:
    """A validated document (a policy, a collection strategy) named by its content: ``version`` is the
    SHA-256 of its canonical JSON, so two files that say the same thing share it."""

    def __init__(self, document: BaseModel) -> None:
        self.document = document

    @cached_property
    def canonical_json(self) -> str:
        return canonical_version(self.document)[0]

    @cached_property
    def version(self) -> str:
        """SHA-256 of the canonical JSON: the version every decision or action made under it records."""
        return canonical_version(self.document)[1]

    @property
    def name(self) -> str:
        return self.document.name


class CreditPolicy(VersionedDocument):
    """A validated policy with its rules compiled and its content hash as ``version``."""

    document: PolicyDocument

    @cached_property
    def assumed(self) -> dict[str, Any]:
        """The inputs a missing value of which is read as a given value, and that value."""
        return {name: t.assume for name, t in self.document.missing.items() if isinstance(t, Assume)}

    @cached_property
    def authored_knockouts(self) -> dict[str, tuple[tuple[Rule, Condition], ...]]:
        """Per stage, each knock-out the file lists, compiled (missing inputs read as assumed)."""
        return {
            stage: tuple(
                (rule, compile_rule(rule.when, where=f"{stage}.knockouts[{i}].when", assume=self.assumed))
                for i, rule in enumerate(getattr(self.document, stage).knockouts)
            )
            for stage in ("credit_line", "drawdown")
        }

    @cached_property
    def knockouts(self) -> dict[str, tuple[tuple[Rule, Condition], ...]]:
        """Per stage, the knock-outs applied: the file's own, then ``missing_<input>`` for each input they
        read whose missing value declines or reviews."""
        stages = {}
        for stage, authored in self.authored_knockouts.items():
            read = dict.fromkeys(f for _, c in authored for f in c.fields)
            implied = tuple(
                (
                    Rule(name=f"missing_{name}"[:64], when=f"missing({name})", outcome=treatment),
                    compile_rule(f"missing({name})", where=f"missing.{name}"),
                )
                for name, treatment in self.document.missing.items()
                if name in read and treatment in ("decline", "review")
            )
            stages[stage] = authored + implied
        return stages

    @cached_property
    def adjustments(self) -> tuple[tuple[str, Condition], ...]:
        """The line-review conditions in the order they are tried: freeze, decrease, increase."""
        stage = self.document.line_adjustment
        return tuple(
            (kind, compile_rule(text, where=f"line_adjustment.{kind}_when"))
            for kind, text in (
                ("freeze", stage.freeze_when),
                ("decrease", stage.decrease_when),
                ("increase", stage.increase_when),
            )
            if text
        )

    @cached_property
    def grade_terms(self) -> dict[str, GradeTerms]:
        return {g.grade: g for g in self.document.credit_line.grades}

    def fields(self, stage: str) -> set[str]:
        """Every field a rule of this policy's ``stage`` reads."""
        if stage == "line_adjustment":
            return {f for _, c in self.adjustments for f in c.fields}
        return {f for _, c in self.knockouts[stage] for f in c.fields}

    @property
    def optional_inputs(self) -> set[str]:
        """Inputs an application may lack: those the file lists, and those it says what a missing value does."""
        return set(self.document.optional_inputs) | set(self.document.missing)

    def __repr__(self) -> str:
        return f"CreditPolicy(name={self.name!r}, version={self.version[:12]})"


def field_path(location: tuple[Any, ...], whole: str = "policy") -> str:
    """A pydantic error location as a field path (``credit_line.knockouts[2].when``); ``whole`` when empty."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or whole


def canonical_version(document: BaseModel) -> tuple[str, str]:
    """A validated document's canonical JSON (keys sorted, no whitespace) and its SHA-256: its version."""
    canonical = json.dumps(document.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return canonical, hashlib.sha256(canonical.encode()).hexdigest()


def read_mapping(path: str | Path, error: type[CreditmeshError], what: str = "policy") -> Mapping[str, Any]:
    """The mapping a ``.yaml``/``.yml`` or ``.json`` file holds; ``error`` (naming the file) when it cannot."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as problem:
        raise error(str(file), f"cannot read: {problem.strerror}") from None
    try:
        if file.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as problem:  # noqa: BLE001 - any parse failure is the file's fault
        raise error(str(file), f"does not parse: {problem}") from None
    if not isinstance(data, Mapping):
        raise error(str(file), f"a {what} file holds a mapping at the top level")
    return data


def policy_from_dict(data: Mapping[str, Any]) -> CreditPolicy:
    """Validate a policy given as a mapping; errors name the field path."""
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise PolicyError(field_path(first["loc"]), first["msg"]) from None
    policy = CreditPolicy(document)
    try:
        _ = policy.knockouts, policy.adjustments  # compile every rule now, not at the first application
    except RuleError as error:
        raise PolicyError(error.field, error.reason) from None
    return policy


#: The most combinations of telling values the check tries for one rule (beyond it, a seeded sample).
MAX_COMBINATIONS = 20_000


@dataclass(frozen=True)
class PolicyReport:
    """What ``creditmesh policy check`` found: errors fail the check, warnings are for the author to read.

    ``missing`` lists, per stage, each input the knock-outs read and what a missing value does
    (``decline``, ``review``, ``assume <value>``, ``rule`` when the rule catches it itself).
    """

    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    missing: dict[str, dict[str, str]]


def _rows(conditions: Sequence[Condition], assumed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Applications built from the values that tell ``conditions`` apart (missing left out where assumed)."""
    values = telling_values(conditions)
    names = sorted(values)
    choices = [[v for v in values[n] if v is not None or n not in assumed] for n in names]
    total = math.prod(len(c) for c in choices)
    if total <= MAX_COMBINATIONS:
        return [dict(zip(names, combo)) for combo in itertools.product(*choices)]
    import random

    draw = random.Random(0)
    return [{n: draw.choice(c) for n, c in zip(names, choices)} for _ in range(MAX_COMBINATIONS)]


def _describe(treatment: Any) -> str:
    return f"assume {treatment.assume!r}" if isinstance(treatment, Assume) else str(treatment)


def check_policy(policy: CreditPolicy) -> PolicyReport:
    """Policy safety beyond validation: missing values, rules that can never fire, shadowed rules.

    - Every input a knock-out reads must say what a missing value does, in ``missing:`` or in the
      rule itself (``missing(x) or x < 5``). A knock-out that an application passes by leaving the input
      out, where some value of it would be knocked out, fails the check: a rule on a missing value is
      unknown and does not fire, so without this an applicant who hides a bad answer does better than
      one who tells it.
    - A rule that holds for none of the values that tell its conditions apart can never fire; a rule
      that holds only where an earlier rule of at least its outcome holds (a decline shadows both, a
      review a review; the line review's freeze/decrease/increase take the first that holds) never
      changes a decision. Both are reported as warnings, with the rule that shadows.
    """
    errors: list[str] = []
    warnings: list[str] = []
    missing: dict[str, dict[str, str]] = {}
    treatments = policy.document.missing
    for stage, authored in policy.authored_knockouts.items():
        said = missing.setdefault(stage, {})
        for i, (rule, condition) in enumerate(authored):
            where = f"{stage}.knockouts[{i}] ({rule.name})"
            for name in condition.fields:
                if name in treatments:
                    said[name] = _describe(treatments[name])
                elif can_hold_without(condition, name):
                    said.setdefault(name, "rule")
                else:
                    said[name] = "passes"
                    errors.append(
                        f"{where}: an application without {name} passes this {rule.outcome} rule; say what a "
                        f"missing {name} does (missing: {{{name}: decline | review | {{assume: value}}}}) "
                        f"or catch it in the rule (missing({name}) or ...)"
                    )
        warnings += _unreachable(
            [(f"{stage}.knockouts[{i}] ({r.name})", r.outcome, c) for i, (r, c) in enumerate(authored)],
            policy.assumed,
            shadows=lambda earlier, later: earlier == "decline" or earlier == later,
        )
    read = {name for inputs in missing.values() for name in inputs}
    warnings += [f"missing.{name}: no knock-out reads it" for name in treatments if name not in read]
    warnings += _unreachable(
        [(f"line_adjustment.{kind}_when", kind, c) for kind, c in policy.adjustments],
        policy.assumed,
        shadows=lambda earlier, later: True,
    )
    return PolicyReport(tuple(errors), tuple(warnings), missing)


def _unreachable(
    rules: Sequence[tuple[str, str, Condition]], assumed: Mapping[str, Any], shadows: Any
) -> list[str]:
    """Warnings for the rules of one stage that can never fire or that an earlier rule shadows."""
    found = []
    for j, (where, outcome, condition) in enumerate(rules):
        earlier = [
            (w, c) for w, o, c in rules[:j] if shadows(o, outcome) and set(c.fields) <= set(condition.fields)
        ]
        rows = [r for r in _rows([condition, *(c for _, c in earlier)], assumed) if condition.holds(r)]
        if not rows:
            found.append(f"{where} can never fire: no application meets '{condition.text}'")
            continue
        for other, c in earlier:
            if all(c.holds(r) for r in rows):
                found.append(
                    f"{where} is shadowed by {other}: whenever it fires, that rule has fired already"
                )
                break
    return found


def default_policy_path():
    """The policy file shipped with creditmesh (a starting point to copy and tune)."""
    from importlib import resources

    return resources.files("creditmesh.decision") / "policies" / "champion.yaml"


def load_policy(path: str | Path) -> CreditPolicy:
    """Read a policy file (``.yaml``/``.yml`` or ``.json``)."""
    return policy_from_dict(read_mapping(path, PolicyError))
