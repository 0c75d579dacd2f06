"""The relationship graph: borrowers linked through the identifiers they share, as scipy.sparse matrices.

The ``identities`` table (borrower_id, kind, value) becomes an incidence matrix
``B`` (borrowers x identifiers) over integer indices. An identifier is a
(namespace, value) pair; every kind is its own namespace except ``contact``,
which shares the ``phone`` namespace because a contact's value is the hash of
the contact's phone (so "A lists B's phone" links A and B).

Link weights: entry ``B[i, x] = sqrt(weight[kind])``, so ``W = B Bᵀ`` sums, over
the identifiers two borrowers share, ``weight[kind]`` (or the geometric mean of
two kinds for a contact that names a phone). A link is *strong* when its weight
reaches ``GraphConfig.strong_weight``; rings are components over strong links.

Hub identifiers: an identifier held by more than ``cap[namespace]`` borrowers (a
public IP, a large employer) is dropped from ``W`` whole and counted in the
report; a public IP shared by 10,000 people is not a ring.

Bad input rule (documented once, here): identity rows with an empty or null
value, an unknown kind, or a borrower missing from ``borrowers`` are counted,
quoted (first examples) in :class:`BadInputReport` and skipped; repeated rows
are dropped. Missing columns or a ``borrowers`` table with repeated ids are
refused with a :class:`~creditmesh.errors.SchemaError` before anything is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from creditmesh.errors import ParameterError, SchemaError
from creditmesh.schema import IDENTITY_KINDS, ROWS_QUOTED, check_types

#: The namespace each kind's values live in (contacts are phone numbers).
NAMESPACE_OF_KIND = MappingProxyType(
    {kind: ("phone" if kind == "contact" else kind) for kind in IDENTITY_KINDS}
)
#: Namespaces in a fixed order; an identifier's namespace is stored as its index here.
NAMESPACES = tuple(dict.fromkeys(NAMESPACE_OF_KIND.values()))
_KIND_NAMESPACE = np.array([NAMESPACES.index(NAMESPACE_OF_KIND[k]) for k in IDENTITY_KINDS], dtype=np.int8)

DEFAULT_WEIGHTS = MappingProxyType(
    {
        "phone": 1.0,
        "device": 1.0,
        "bank_card": 1.0,
        "contact": 0.5,
        "address": 0.4,
        "ip": 0.3,
        "employer": 0.2,
    }
)
#: An identifier held by more borrowers than this (per namespace) is a hub.
DEFAULT_CAPS = MappingProxyType(
    {
        "phone": 10,
        "device": 10,
        "bank_card": 5,
        "address": 20,
        "ip": 30,
        "employer": 50,
    }
)
DEFAULT_STRONG_WEIGHT = 1.0


@dataclass(frozen=True)
class GraphConfig:
    """Weights per identifier kind, hub caps per namespace, and the weight that makes a link strong."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    caps: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPS))
    strong_weight: float = DEFAULT_STRONG_WEIGHT

    def __post_init__(self) -> None:
        weights, caps = dict(self.weights), dict(self.caps)
        if set(weights) != set(IDENTITY_KINDS):
            raise ParameterError(
                "weights", f"need one weight per kind {list(IDENTITY_KINDS)}, got {sorted(weights)}"
            )
        bad = {k: v for k, v in weights.items() if not (isinstance(v, (int, float)) and 0 <= v <= 10)}
        if bad:
            raise ParameterError("weights", f"must be numbers in [0, 10], got {bad}")
        if set(caps) != set(NAMESPACES):
            raise ParameterError("caps", f"need one cap per namespace {list(NAMESPACES)}, got {sorted(caps)}")
        bad = {
            k: v for k, v in caps.items() if not (isinstance(v, int) and not isinstance(v, bool) and v >= 2)
        }
        if bad:
            raise ParameterError("caps", f"must be integers >= 2, got {bad}")
        if not (isinstance(self.strong_weight, (int, float)) and self.strong_weight > 0):
            raise ParameterError("strong_weight", f"must be a positive number, got {self.strong_weight!r}")
        object.__setattr__(self, "weights", MappingProxyType(weights))
        object.__setattr__(self, "caps", MappingProxyType(caps))

    def kind_weights(self) -> np.ndarray:
        """Weight per kind code (index into IDENTITY_KINDS)."""
        return np.array([self.weights[k] for k in IDENTITY_KINDS], dtype=np.float64)

    def namespace_caps(self) -> np.ndarray:
        return np.array([self.caps[n] for n in NAMESPACES], dtype=np.int64)

    def as_dict(self) -> dict:
        return {
            "weights": dict(self.weights),
            "caps": dict(self.caps),
            "strong_weight": float(self.strong_weight),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> GraphConfig:
        return cls(
            weights=dict(data["weights"]),
            caps={k: int(v) for k, v in data["caps"].items()},
            strong_weight=float(data["strong_weight"]),
        )


@dataclass(frozen=True)
class BadInputReport:
    """What the build skipped, by rule: counts and the first examples of each problem."""

    rows_read: int = 0
    rows_used: int = 0
    empty_value: int = 0
    unknown_kind: int = 0
    unknown_borrower: int = 0
    duplicate: int = 0
    examples: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        return self.empty_value + self.unknown_kind + self.unknown_borrower + self.duplicate

    def lines(self) -> list[str]:
        """One readable line per problem found (empty when the input was clean)."""
        out = []
        for name in ("empty_value", "unknown_kind", "unknown_borrower", "duplicate"):
            count = getattr(self, name)
            if count:
                shown = "; ".join(self.examples.get(name, ()))
                out.append(
                    f"identities: {count:,} row(s) with {name.replace('_', ' ')} skipped (e.g. {shown})"
                )
        return out

    def as_dict(self) -> dict:
        data = asdict(self)
        data["examples"] = {k: list(v) for k, v in self.examples.items()}
        return data


@dataclass(frozen=True)
class EncodedIdentities:
    """Identity rows as integer codes: the input of :func:`build_graph`, whatever the source."""

    borrower: np.ndarray  # int32 index into borrower_ids
    kind: np.ndarray  # int8 index into IDENTITY_KINDS
    identifier: np.ndarray  # int64 index into identifier_namespace / identifier_values
    borrower_ids: pa.Array
    registered_at_us: np.ndarray  # int64 microseconds since the epoch, UTC, per borrower
    identifier_namespace: np.ndarray  # int8 index into NAMESPACES, per identifier
    identifier_values: pa.Array | None  # the hashed values (None for synthetic benchmark data)

    @property
    def n_borrowers(self) -> int:
        return int(self.registered_at_us.shape[0])

    @property
    def n_identifiers(self) -> int:
        return int(self.identifier_namespace.shape[0])


def _to_arrow(frame: pd.DataFrame | pa.Table, name: str) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pd.DataFrame):
        return pa.Table.from_pandas(frame, preserve_index=False)
    raise SchemaError(name, f"expected a pandas DataFrame or a pyarrow Table, got {type(frame).__name__}")


def _examples(table: pa.Table, mask: np.ndarray) -> tuple[str, ...]:
    rows = np.flatnonzero(mask)[:ROWS_QUOTED]
    picked = table.take(pa.array(rows)).to_pylist()
    return tuple(f"row {r}: {p['borrower_id']!r}/{p['kind']!r}/{p['value']!r}" for r, p in zip(rows, picked))


def timestamps_us(values: pa.ChunkedArray | pa.Array, field_name: str) -> np.ndarray:
    """UTC timestamps as int64 microseconds since the epoch; nulls are refused."""
    if values.null_count:
        raise SchemaError(field_name, f"nulls not allowed ({values.null_count:,} found)")
    if not pa.types.is_timestamp(values.type):
        raise SchemaError(field_name, f"expected a timestamp, got {values.type}")
    return pc.cast(values, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(zero_copy_only=False)


def _codes(column: pa.ChunkedArray | pa.Array, labels: tuple[str, ...]) -> np.ndarray:
    """Index of each value in ``labels`` (-1 for unknown or null), via a dictionary so each distinct text is looked up once."""
    encoded = pc.dictionary_encode(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    found = pc.fill_null(pc.index_in(encoded.dictionary.cast(pa.string()), value_set=pa.array(labels)), -1)
    mapping = np.append(found.to_numpy(zero_copy_only=False), -1).astype(np.int8)
    indices = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False)
    return mapping[indices]


def _identifiers(
    value: pa.Array, rows: np.ndarray, namespace: np.ndarray
) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """(identifier per used row, namespace per identifier, value per identifier): one dictionary encoding per namespace,
    so an identifier is a (namespace, value) pair without a hash table over pairs."""
    identifier = np.empty(rows.shape[0], dtype=np.int32)
    namespaces, dictionaries = [], []
    offset = 0
    for code in range(len(NAMESPACES)):
        where = np.flatnonzero(namespace == code)
        if where.size == 0:
            continue
        encoded = pc.dictionary_encode(value.take(pa.array(rows[where])))
        identifier[where] = encoded.indices.to_numpy(zero_copy_only=False) + offset
        size = len(encoded.dictionary)
        namespaces.append(np.full(size, code, dtype=np.int8))
        dictionaries.append(encoded.dictionary)
        offset += size
    values = pa.concat_arrays(dictionaries) if dictionaries else pa.array([], type=pa.string())
    return identifier, (np.concatenate(namespaces) if namespaces else np.zeros(0, dtype=np.int8)), values


def _repeated(borrower: np.ndarray, kind: np.ndarray, identifier: np.ndarray) -> np.ndarray:
    """Rows repeating an earlier (borrower, kind, identifier). A sorted copy of one int64 key tells first whether
    any row repeats (most tables have none); only then are the repeats marked."""
    if borrower.size == 0:
        return np.zeros(0, dtype=bool)
    key = (
        (borrower.astype(np.int64) << np.int64(34))
        | (identifier.astype(np.int64) << np.int64(3))
        | kind.astype(np.int64)
    )
    ordered = np.sort(key)
    if not (ordered[1:] == ordered[:-1]).any():
        return np.zeros(borrower.shape[0], dtype=bool)
    del ordered
    return pd.Series(key).duplicated().to_numpy()


def encode_identities(
    identities: pd.DataFrame | pa.Table, borrowers: pd.DataFrame | pa.Table
) -> tuple[EncodedIdentities, BadInputReport]:
    """Turn the identities and borrowers tables into integer codes, skipping bad rows by the module's rule."""
    ids_table = _to_arrow(identities, "identities")
    people = _to_arrow(borrowers, "borrowers")
    problems = check_types("identities", ids_table.schema)
    missing = [c for c in ("borrower_id", "registered_at") if c not in people.column_names]
    if missing:
        problems.append(f"borrowers: missing column(s) {', '.join(missing)}")
    if problems:
        raise SchemaError("identities" if not missing else "borrowers", "; ".join(problems))
    ids_table = ids_table.select(["borrower_id", "kind", "value"]).combine_chunks()
    borrower_ids = people["borrower_id"].combine_chunks().cast(pa.string())
    if borrower_ids.null_count:
        raise SchemaError("borrowers.borrower_id", f"nulls not allowed ({borrower_ids.null_count:,} found)")
    if len(pc.unique(borrower_ids)) != len(borrower_ids):
        raise SchemaError("borrowers.borrower_id", "repeats: a borrower must appear once")
    registered = timestamps_us(people["registered_at"], "borrowers.registered_at")

    value = ids_table["value"].cast(pa.string()).combine_chunks()
    # empty: null, zero length, or whitespace only
    empty = pc.fill_null(pc.or_(pc.equal(pc.utf8_length(value), 0), pc.utf8_is_space(value)), True)
    empty = empty.to_numpy(zero_copy_only=False)
    kind = _codes(ids_table["kind"], IDENTITY_KINDS)
    unknown_kind = (kind < 0) & ~empty
    who = pc.index_in(ids_table["borrower_id"].cast(pa.string()), value_set=borrower_ids)
    who = pc.fill_null(who, -1).to_numpy(zero_copy_only=False)
    unknown_borrower = (who < 0) & ~empty & ~unknown_kind
    usable = ~(empty | unknown_kind | unknown_borrower)

    rows = np.flatnonzero(usable)
    kind_used = kind[rows].astype(np.int8)
    borrower = who[rows].astype(np.int32)
    del usable, kind, who
    identifier, identifier_namespace, identifier_values = _identifiers(
        value, rows, _KIND_NAMESPACE[kind_used]
    )
    repeated = _repeated(borrower, kind_used, identifier)
    duplicate_mask = np.zeros(len(ids_table), dtype=bool)
    duplicate_mask[rows[repeated]] = True
    keep = ~repeated
    del rows, value
    pa.default_memory_pool().release_unused()  # hand the hash tables' memory back before the build

    report = BadInputReport(
        rows_read=len(ids_table),
        rows_used=int(keep.sum()),
        empty_value=int(empty.sum()),
        unknown_kind=int(unknown_kind.sum()),
        unknown_borrower=int(unknown_borrower.sum()),
        duplicate=int(repeated.sum()),
        examples={
            name: _examples(ids_table, mask)
            for name, mask in (
                ("empty_value", empty),
                ("unknown_kind", unknown_kind),
                ("unknown_borrower", unknown_borrower),
                ("duplicate", duplicate_mask),
            )
            if mask.any()
        },
    )
    encoded = EncodedIdentities(
        borrower=borrower[keep],
        kind=kind_used[keep],
        identifier=identifier[keep],
        borrower_ids=borrower_ids,
        registered_at_us=registered,
        identifier_namespace=identifier_namespace,
        identifier_values=identifier_values,
    )
    return encoded, report


@dataclass(frozen=True)
class RelationshipGraph:
    """Borrowers, identifiers, the incidence matrix and the weighted links between borrowers.

    ``incidence``: CSR, borrowers x identifiers, data = kind code + 1 (int8), every identity row.
    ``links``: CSR, borrowers x borrowers, symmetric, float32 weights, hubs dropped, no diagonal.
    ``holders``: distinct borrowers per identifier; ``hub``: holders above the namespace's cap.
    """

    config: GraphConfig
    borrower_ids: pa.Array
    registered_at_us: np.ndarray
    identifier_namespace: np.ndarray
    identifier_values: pa.Array | None
    incidence: sp.csr_matrix
    holders: np.ndarray
    hub: np.ndarray
    links: sp.csr_matrix
    report: BadInputReport

    @property
    def n_borrowers(self) -> int:
        return int(self.registered_at_us.shape[0])

    @property
    def strong(self) -> sp.csr_matrix:
        """Links whose weight reaches the strong threshold (same weights, others removed)."""
        keep = is_strong(self.links.data, self.config.strong_weight)
        out = sp.csr_matrix(
            (self.links.data * keep, self.links.indices.copy(), self.links.indptr.copy()),
            shape=self.links.shape,
        )
        out.eliminate_zeros()
        return out

    def kind_incidence(self, kind: str) -> sp.csr_matrix:
        """Borrowers x identifiers for one kind (1 where the borrower holds the identifier as that kind)."""
        code = IDENTITY_KINDS.index(kind) + 1
        data = (self.incidence.data == code).astype(np.float32)
        out = sp.csr_matrix(
            (data, self.incidence.indices.copy(), self.incidence.indptr.copy()), shape=self.incidence.shape
        )
        out.eliminate_zeros()
        return out

    def index_of(self, borrower_ids) -> np.ndarray:
        """Integer indices of borrower ids (-1 where unknown)."""
        found = pc.index_in(
            pa.array(
                list(borrower_ids)
                if not isinstance(borrower_ids, (pa.Array, pa.ChunkedArray))
                else borrower_ids,
                type=pa.string(),
            ),
            value_set=self.borrower_ids,
        )
        return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)

    def summary(self) -> dict:
        strong = self.strong
        return {
            "borrowers": self.n_borrowers,
            "identifiers": int(self.identifier_namespace.shape[0]),
            "identity_rows": int(self.incidence.nnz),
            "hub_identifiers": int(self.hub.sum()),
            "hub_identifiers_by_namespace": {
                n: int(((self.identifier_namespace == i) & self.hub).sum()) for i, n in enumerate(NAMESPACES)
            },
            "links": int(self.links.nnz // 2),
            "strong_links": int(strong.nnz // 2),
            "skipped_rows": self.report.skipped,
        }


def incidence_matrix(encoded: EncodedIdentities) -> sp.csr_matrix:
    """Borrowers x identifiers, data = kind code + 1; a borrower holding one identifier as two kinds keeps both rows' kinds
    summed away: the larger kind code wins (it only happens for a phone listed as one's own contact)."""
    shape = (encoded.n_borrowers, encoded.n_identifiers)
    matrix = sp.csr_matrix(
        (encoded.kind.astype(np.int8) + np.int8(1), (encoded.borrower, encoded.identifier)), shape=shape
    )
    if matrix.nnz != encoded.borrower.shape[0]:  # same (borrower, identifier) under two kinds: keep one entry
        coo = sp.coo_matrix(
            (encoded.kind.astype(np.int16) + 1, (encoded.borrower, encoded.identifier)), shape=shape
        )
        order = np.lexsort((-coo.data, coo.col, coo.row))
        row, col, data = coo.row[order], coo.col[order], coo.data[order]
        first = np.ones(row.shape[0], dtype=bool)
        first[1:] = (row[1:] != row[:-1]) | (col[1:] != col[:-1])
        matrix = sp.csr_matrix((data[first].astype(np.int8), (row[first], col[first])), shape=shape)
    matrix.sort_indices()
    return matrix


#: Slack when comparing a summed float32 link weight with the strong threshold (batch and online agree on it).
WEIGHT_SLACK = 1e-4


def is_strong(weight, strong_weight: float):
    """A link is strong when its weight reaches the threshold (up to float rounding)."""
    return weight >= strong_weight - WEIGHT_SLACK


def weighted_links(
    incidence: sp.csr_matrix, keep_entry: np.ndarray, kind_weights: np.ndarray
) -> sp.csr_matrix:
    """W = B Bᵀ over the kept entries of B, B[i, x] = sqrt(weight of the kind), diagonal removed, float32."""
    weight = np.sqrt(kind_weights[incidence.data.astype(np.int64) - 1]).astype(np.float32)
    weight *= keep_entry
    b = sp.csr_matrix((weight, incidence.indices.copy(), incidence.indptr.copy()), shape=incidence.shape)
    b.eliminate_zeros()
    links = (b @ b.T).tocsr()
    links.setdiag(0)
    links.eliminate_zeros()
    links.sort_indices()
    return links.astype(np.float32)


def build_graph(
    encoded: EncodedIdentities, config: GraphConfig | None = None, report: BadInputReport | None = None
) -> RelationshipGraph:
    """The graph of ``encoded`` identities: incidence, hub identifiers, weighted links (vectorised, no loop per row)."""
    config = config or GraphConfig()
    incidence = incidence_matrix(encoded)
    holders = np.bincount(incidence.indices, minlength=encoded.n_identifiers).astype(np.int64)
    hub = holders > config.namespace_caps()[encoded.identifier_namespace]
    links = weighted_links(incidence, ~hub[incidence.indices], config.kind_weights())
    return RelationshipGraph(
        config=config,
        borrower_ids=encoded.borrower_ids,
        registered_at_us=encoded.registered_at_us,
        identifier_namespace=encoded.identifier_namespace,
        identifier_values=encoded.identifier_values,
        incidence=incidence,
        holders=holders,
        hub=hub,
        links=links,
        report=report or BadInputReport(),
    )


def build(
    identities: pd.DataFrame | pa.Table, borrowers: pd.DataFrame | pa.Table, config: GraphConfig | None = None
) -> RelationshipGraph:
    """Encode the tables (skipping bad rows by the module's rule) and build the graph."""
    encoded, report = encode_identities(identities, borrowers)
    return build_graph(encoded, config, report)
