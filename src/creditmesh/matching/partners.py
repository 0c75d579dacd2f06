"""Funding partners as data: loaded from the ``institutions`` table or a YAML/JSON file, checked at load.

A partner is one row: its funding model, risk appetite (``max_pd``, ``min_score``), the amounts,
tenors, regions and APRs it funds, its monthly capacity, its funding cost, the platform's fee
terms and its acceptance model (the probability it accepts a referred borrower). A definition
that contradicts itself is refused at load with a :class:`PartnerError` naming the partner and
the field; nothing is half-loaded.

The optional columns the simulator's ``institutions`` table does not carry take documented
defaults by funding model (:data:`DEFAULT_FEE_RATE`, :data:`DEFAULT_ACCEPTANCE_RATE`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from creditmesh.errors import CreditmeshError
from creditmesh.funding import FUNDING_MODELS, MODELS

#: The platform's fee by funding model when a partner names none (a fraction a year of the average
#: balance, except ICE: a one-off referral fee, fraction of principal). ``None`` for the risk-bearing
#: models means "the APR less the partner's funding cost": the platform keeps the spread and bears
#: the credit loss (the simulator's convention, ``simulate/tables.py``). From each model's record.
DEFAULT_FEE_RATE: Mapping[str, float | None] = MappingProxyType({m.name: m.default_fee_rate for m in MODELS})
#: Probability a partner accepts a borrower the platform refers, when no acceptance model is fitted.
#: On-balance money is the platform's own (always accepted); referrals to outside lenders are declined
#: more often the less the platform carries. From each model's record.
DEFAULT_ACCEPTANCE_RATE: Mapping[str, float] = MappingProxyType(
    {m.name: m.default_acceptance_rate for m in MODELS}
)
#: Each funding model's monthly capacity as a share of a month's approved drawdown volume, when capacity is
#: sized to the platform's volume (:func:`capacity_for_volume`: the simulated platform's matcher and
#: ``creditmesh match allocate --capacity volume``). The risk-bearing models earn the widest margin and hold
#: less than half of the volume, so their capacity binds and decides how much goes to the platform services,
#: which together hold more than the rest and so leave a choice among them. A calibration lever of the
#: simulated platform (docs/simulate.md).
CAPACITY_SHARE: Mapping[str, float] = MappingProxyType(
    {
        "capital_heavy_on": 0.12,
        "capital_heavy_off": 0.32,
        "capital_light": 0.40,
        "ice": 0.40,
        "tech_solution": 0.08,
    }
)
#: Concentration limit when a partner names none: the most of its capacity one grade may take.
DEFAULT_MAX_GRADE_SHARE = 0.6
#: Limits on everything: partners in one set, tenors a partner lists, longest tenor in months.
MAX_PARTNERS = 10_000
MAX_TENOR_MONTHS = 120

REQUIRED = (
    "institution_id",
    "funding_model",
    "max_pd",
    "min_score",
    "max_amount_minor",
    "tenors",
    "regions",
    "apr_min",
    "apr_max",
    "funding_cost",
    "monthly_capacity_minor",
)


class PartnerError(CreditmeshError):
    """A partner definition that cannot be used: the field names the partner and the column."""


@dataclass(frozen=True)
class Partner:
    """One funding partner, validated. Money in integer minor units, rates as fractions."""

    institution_id: str
    name: str
    funding_model: str
    max_pd: float
    min_score: float
    min_amount_minor: int
    max_amount_minor: int
    tenors: tuple[int, ...]
    regions: tuple[str, ...]  # empty: every region
    apr_min: float
    apr_max: float
    funding_cost: float
    monthly_capacity_minor: int
    fee_rate: float | None
    max_grade_share: float
    # acceptance model: P(accept) = sigmoid(intercept + pd_coef * pd + log_amount_coef * ln(amount in major units))
    acceptance_intercept: float
    acceptance_pd_coef: float = 0.0
    acceptance_log_amount_coef: float = 0.0


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


def _number(
    record: Mapping[str, Any], key: str, where: str, *, default: Any = None, integer: bool = False
) -> Any:
    value = record.get(key, default)
    if _is_missing(value):
        if default is not None or key not in REQUIRED:
            return default
        raise PartnerError(f"{where}.{key}", "is missing")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise PartnerError(f"{where}.{key}", f"must be a number, got {value!r}")
    if integer:
        if isinstance(value, (float, np.floating)) and not float(value).is_integer():
            raise PartnerError(f"{where}.{key}", f"must be integer minor units, got {value!r}")
        return int(value)
    if not math.isfinite(float(value)):
        raise PartnerError(f"{where}.{key}", f"must be finite, got {value!r}")
    return float(value)


def _list(record: Mapping[str, Any], key: str, where: str) -> list:
    value = record.get(key)
    if value is None:
        raise PartnerError(f"{where}.{key}", "is missing")
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise PartnerError(f"{where}.{key}", f"must be a list, got {value!r}")
    return list(value)


def _between(value: float, low: float, high: float, field: str) -> None:
    if not low <= value <= high:
        raise PartnerError(field, f"must be between {low:g} and {high:g}, got {value:g}")


def partner_from_record(record: Mapping[str, Any], position: int = 0) -> Partner:
    """One partner from a mapping of its fields, checked; the error names the partner and the field."""
    raw_id = record.get("institution_id")
    if not isinstance(raw_id, str) or not raw_id:
        raise PartnerError(
            f"partners[{position}].institution_id", f"must be a non-empty string, got {raw_id!r}"
        )
    where = f"partner {raw_id}"
    model = record.get("funding_model")
    if model not in FUNDING_MODELS:
        raise PartnerError(
            f"{where}.funding_model", f"unknown funding model {model!r}; known: {', '.join(FUNDING_MODELS)}"
        )
    max_pd = _number(record, "max_pd", where)
    _between(max_pd, 0.0, 1.0, f"{where}.max_pd")
    min_score = _number(record, "min_score", where)
    if min_score < 0:
        raise PartnerError(f"{where}.min_score", f"must be >= 0, got {min_score}")
    min_amount = _number(record, "min_amount_minor", where, default=0, integer=True)
    max_amount = _number(record, "max_amount_minor", where, integer=True)
    if min_amount < 0:
        raise PartnerError(f"{where}.min_amount_minor", f"must be >= 0, got {min_amount}")
    if max_amount <= 0:
        raise PartnerError(f"{where}.max_amount_minor", f"must be > 0, got {max_amount}")
    if min_amount > max_amount:
        raise PartnerError(
            f"{where}.min_amount_minor", f"{min_amount} is above max_amount_minor {max_amount}"
        )
    tenors = _list(record, "tenors", where)
    if not tenors:
        raise PartnerError(f"{where}.tenors", "lists no tenor")
    for t in tenors:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 1 <= int(t) <= MAX_TENOR_MONTHS:
            raise PartnerError(
                f"{where}.tenors",
                f"each tenor is a whole number of months in 1..{MAX_TENOR_MONTHS}, got {t!r}",
            )
    regions = _list(record, "regions", where)
    if any(not isinstance(r, str) or not r for r in regions):
        raise PartnerError(f"{where}.regions", "each region is a non-empty string")
    apr_min = _number(record, "apr_min", where)
    apr_max = _number(record, "apr_max", where)
    _between(apr_min, 0.0, 1.0, f"{where}.apr_min")
    _between(apr_max, 0.0, 1.0, f"{where}.apr_max")
    if apr_min > apr_max:
        raise PartnerError(f"{where}.apr_min", f"{apr_min} is above apr_max {apr_max}")
    funding_cost = _number(record, "funding_cost", where)
    _between(funding_cost, 0.0, 1.0, f"{where}.funding_cost")
    capacity = _number(record, "monthly_capacity_minor", where, integer=True)
    if capacity < 0:
        raise PartnerError(f"{where}.monthly_capacity_minor", f"must be >= 0, got {capacity}")
    fee_rate = _number(record, "fee_rate", where, default=DEFAULT_FEE_RATE[model])
    if fee_rate is not None:
        _between(fee_rate, 0.0, 1.0, f"{where}.fee_rate")
    share = _number(record, "max_grade_share", where, default=DEFAULT_MAX_GRADE_SHARE)
    if not 0.0 < share <= 1.0:
        raise PartnerError(f"{where}.max_grade_share", f"must be in (0, 1], got {share}")
    rate = _number(record, "acceptance_rate", where, default=DEFAULT_ACCEPTANCE_RATE[model])
    if not 0.0 < rate <= 1.0:
        raise PartnerError(f"{where}.acceptance_rate", f"must be in (0, 1], got {rate}")
    intercept = _number(record, "acceptance_intercept", where, default=_logit(rate))
    pd_coef = _number(record, "acceptance_pd_coef", where, default=0.0)
    amount_coef = _number(record, "acceptance_log_amount_coef", where, default=0.0)
    name = record.get("name") or raw_id
    return Partner(
        raw_id,
        str(name),
        str(model),
        max_pd,
        min_score,
        min_amount,
        max_amount,
        tuple(sorted({int(t) for t in tenors})),
        tuple(sorted(set(regions))),
        apr_min,
        apr_max,
        funding_cost,
        capacity,
        fee_rate,
        share,
        intercept,
        pd_coef,
        amount_coef,
    )


@dataclass(frozen=True)
class Partners:
    """A validated set of partners and the same facts as arrays, one entry a partner, for vectorised rules."""

    partners: tuple[Partner, ...]
    ids: np.ndarray  # object
    model: np.ndarray  # int8 index into FUNDING_MODELS
    max_pd: np.ndarray
    min_score: np.ndarray
    min_amount_minor: np.ndarray
    max_amount_minor: np.ndarray
    apr_min: np.ndarray
    apr_max: np.ndarray
    funding_cost: np.ndarray
    fee_rate: np.ndarray  # NaN: the APR less the funding cost
    capacity_minor: np.ndarray  # int64, monthly
    max_grade_share: np.ndarray
    acceptance: np.ndarray  # (n, 3): intercept, pd coefficient, ln(amount major) coefficient
    tenor_ok: (
        np.ndarray
    )  # bool (MAX_TENOR_MONTHS + 2, n): row t says who funds t months; the last row is "other"
    region_index: dict[str, int]
    region_ok: np.ndarray  # bool (len(region_index) + 1, n): the last row is a region no partner names

    def __len__(self) -> int:
        return len(self.partners)

    def tenor_rows(self, tenor_months: np.ndarray) -> np.ndarray:
        t = np.asarray(tenor_months, dtype=np.int64)
        return np.where((t >= 1) & (t <= MAX_TENOR_MONTHS), t, MAX_TENOR_MONTHS + 1)

    def region_rows(self, regions: Sequence[Any]) -> np.ndarray:
        other = len(self.region_index)
        get = self.region_index.get
        return np.fromiter((get(r, other) for r in regions), dtype=np.int64, count=len(regions))

    def acceptance_probability(
        self, pd_values: np.ndarray, amount_minor: np.ndarray, partner_index: np.ndarray
    ) -> np.ndarray:
        """P(the partner accepts) for each (application, partner) pair given as parallel arrays."""
        coef = self.acceptance[partner_index]
        z = (
            coef[..., 0]
            + coef[..., 1] * pd_values
            + coef[..., 2] * np.log(np.maximum(amount_minor, 100) / 100.0)
        )
        return 1.0 / (1.0 + np.exp(-z))


def capacity_for_volume(
    partners: Partners, volume_minor: int, share: Mapping[str, float] = CAPACITY_SHARE
) -> np.ndarray:
    """Each partner's capacity for a month of ``volume_minor`` approved drawdowns: its funding model's
    ``share`` of the volume, split across that model's partners in proportion to their drawn
    ``monthly_capacity_minor`` (a model no partner holds capacity in splits nothing)."""
    unknown = sorted(set(share) - set(FUNDING_MODELS))
    if unknown:
        raise PartnerError(
            "capacity_share", f"unknown funding model(s) {unknown}; allowed: {list(FUNDING_MODELS)}"
        )
    weight = partners.capacity_minor.astype(np.float64)
    model = partners.model
    model_share = np.array([share.get(m, 0.0) for m in FUNDING_MODELS])[model]
    model_weight = np.bincount(model, weights=weight, minlength=len(FUNDING_MODELS))[model]
    return np.floor(volume_minor * model_share * weight / np.maximum(model_weight, 1.0)).astype(np.int64)


def partners_from_records(records: Sequence[Mapping[str, Any]]) -> Partners:
    """A :class:`Partners` from mappings (one a partner); duplicates and bad fields are refused."""
    if len(records) == 0:
        raise PartnerError("partners", "no partner given")
    if len(records) > MAX_PARTNERS:
        raise PartnerError("partners", f"at most {MAX_PARTNERS} partners, got {len(records)}")
    partners = tuple(partner_from_record(r, i) for i, r in enumerate(records))
    seen: set[str] = set()
    for p in partners:
        if p.institution_id in seen:
            raise PartnerError(f"partner {p.institution_id}.institution_id", "appears twice")
        seen.add(p.institution_id)
    n = len(partners)
    tenor_ok = np.zeros((MAX_TENOR_MONTHS + 2, n), dtype=bool)
    regions = sorted({r for p in partners for r in p.regions})
    region_index = {r: k for k, r in enumerate(regions)}
    region_ok = np.zeros((len(regions) + 1, n), dtype=bool)
    for j, p in enumerate(partners):
        tenor_ok[list(p.tenors), j] = True
        if p.regions:
            region_ok[[region_index[r] for r in p.regions], j] = True
        else:
            region_ok[:, j] = True

    def col(name: str, dtype=np.float64) -> np.ndarray:
        return np.array([getattr(p, name) for p in partners], dtype=dtype)

    return Partners(
        partners=partners,
        ids=np.array([p.institution_id for p in partners], dtype=object),
        model=np.array([FUNDING_MODELS.index(p.funding_model) for p in partners], dtype=np.int8),
        max_pd=col("max_pd"),
        min_score=col("min_score"),
        min_amount_minor=col("min_amount_minor", np.int64),
        max_amount_minor=col("max_amount_minor", np.int64),
        apr_min=col("apr_min"),
        apr_max=col("apr_max"),
        funding_cost=col("funding_cost"),
        fee_rate=np.array([np.nan if p.fee_rate is None else p.fee_rate for p in partners]),
        capacity_minor=col("monthly_capacity_minor", np.int64),
        max_grade_share=col("max_grade_share"),
        acceptance=np.array(
            [[p.acceptance_intercept, p.acceptance_pd_coef, p.acceptance_log_amount_coef] for p in partners]
        ),
        tenor_ok=tenor_ok,
        region_index=region_index,
        region_ok=region_ok,
    )


def _records_of_table(table: pa.Table | pd.DataFrame) -> list[dict[str, Any]]:
    frame = table.to_pandas() if isinstance(table, pa.Table) else table
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise PartnerError("institutions", f"missing columns {missing}; the table has {list(frame.columns)}")
    records = frame.to_dict("records")
    for r in records:  # Arrow list columns arrive as numpy arrays
        for key in ("tenors", "regions"):
            if isinstance(r.get(key), np.ndarray):
                r[key] = [v.item() if hasattr(v, "item") else v for v in r[key]]
    return records


def _read_document(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as error:
            raise PartnerError("partners", f"{path.name} is not valid JSON: {error}") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PartnerError("partners", f"{path.name} is not valid YAML: {error}") from None


def load_partners(source: str | Path | pa.Table | pd.DataFrame | Sequence[Mapping[str, Any]]) -> Partners:
    """Partners from the ``institutions`` table (Arrow, pandas, a Parquet file or a dataset folder holding
    ``institutions.parquet``), a YAML or JSON file (a list, or a mapping with a ``partners`` list), or records."""
    if isinstance(source, (pa.Table, pd.DataFrame)):
        return partners_from_records(_records_of_table(source))
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            path = path / "institutions.parquet"
        if not path.is_file():
            raise PartnerError("partners", f"no such file: {path}")
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".arrow", ".feather"):
            import pyarrow.feather as feather
            import pyarrow.parquet as pq

            table = pq.read_table(path) if suffix == ".parquet" else feather.read_table(path)
            return partners_from_records(_records_of_table(table))
        if suffix in (".yaml", ".yml", ".json"):
            document = _read_document(path)
            if isinstance(document, Mapping):
                document = document.get("partners")
            if not isinstance(document, list):
                raise PartnerError(
                    "partners", f"{path.name} must hold a list of partners (or a 'partners' list)"
                )
            return partners_from_records(document)
        raise PartnerError("partners", f"{path.name}: expected .parquet, .arrow, .yaml, .yml or .json")
    return partners_from_records(list(source))


def fit_acceptance(partners: Partners, outcomes: pd.DataFrame, *, min_outcomes: int = 50) -> Partners:
    """Partners whose acceptance model is a logistic regression of past referrals' accept/reject.

    ``outcomes`` holds ``institution_id``, ``pd``, ``amount_minor`` and ``accepted`` (bool). A partner
    with fewer than ``min_outcomes`` outcomes, or only one kind, keeps its constant rate.
    """
    from sklearn.linear_model import LogisticRegression

    missing = [c for c in ("institution_id", "pd", "amount_minor", "accepted") if c not in outcomes.columns]
    if missing:
        raise PartnerError("outcomes", f"missing columns {missing}")
    records = []
    groups = dict(tuple(outcomes.groupby("institution_id", sort=False)))
    for p in partners.partners:
        record = dict(p.__dict__)
        rows = groups.get(p.institution_id)
        if rows is not None and len(rows) >= min_outcomes and rows["accepted"].nunique() == 2:
            x = np.column_stack(
                [
                    rows["pd"].to_numpy(float),
                    np.log(np.maximum(rows["amount_minor"].to_numpy(float), 100) / 100.0),
                ]
            )
            fit = LogisticRegression(C=10.0).fit(x, rows["accepted"].to_numpy(bool))
            record.update(
                acceptance_intercept=float(fit.intercept_[0]),
                acceptance_pd_coef=float(fit.coef_[0, 0]),
                acceptance_log_amount_coef=float(fit.coef_[0, 1]),
            )
        records.append(record)
    return partners_from_records(records)
