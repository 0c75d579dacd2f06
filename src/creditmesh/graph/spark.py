"""The relationship graph on Apache Spark: build, components, rings, grey list and point-in-time features.

Same answers as the scipy path of :mod:`creditmesh.graph.build`, :mod:`~creditmesh.graph.rings`,
:mod:`~creditmesh.graph.lists` and :mod:`~creditmesh.graph.features`, on DataFrames, so the graph
can outgrow one machine. What "same" takes:

* Indices. A borrower's index is its row in the borrowers Parquet file (Spark's
  ``_metadata.row_index``, files in name order), an identifier's is the local path's: namespace
  first, then order of first appearance in the identities file. Ring ids are scipy's component
  labels: components numbered by their smallest borrower index.
* Link weights in float32, summed in identifier order as scipy's sparse product sums them
  (``aggregate`` over the shared identifiers sorted by index, in Spark ``FLOAT`` arithmetic), so
  the strong threshold cuts the same links.
* Components by large-star / small-star (Kiveris et al., "Connected Components in MapReduce and
  Beyond", SoCC 2014) over the strong links, checkpointed every round to cut the lineage; each
  component ends as a star around its smallest borrower.
* Personalised PageRank as iterated joins over the borrowers that hold risk (the rest hold exactly
  zero, which adds nothing to a sum): the local path's Chebyshev semi-iteration step for step in
  float64, with its stopping rule, so the same iterations and scores within 1e-9.
* Point-in-time features: first-cap holders by a window over (seen_at, index), degree and label
  counts by joins, the ring size at each application by a time sweep of a union-find per
  component (grouped map), the hops to the black list by :data:`~creditmesh.graph.features.MAX_HOPS`
  min-max passes over the strong links.

A graph built here is saved as Parquet folders (borrowers, identifiers, incidence, links) and a
``manifest.json``; ``creditmesh graph build|rings|lists --engine spark`` read and write it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from creditmesh import delinquency
from creditmesh.errors import ParameterError, SchemaError
from creditmesh.folders import replaced_atomically
from creditmesh.graph.build import (
    NAMESPACE_OF_KIND,
    NAMESPACES,
    WEIGHT_SLACK,
    BadInputReport,
    GraphConfig,
)
from creditmesh.graph.features import FEATURE_NAMES, MAX_HOPS, VELOCITY_DAYS
from creditmesh.graph.labels import DELINQUENT_DAYS, FPD_DAYS
from creditmesh.graph.lists import MAX_ITERATIONS, PropagationConfig
from creditmesh.graph.rings import RECENT_DAYS
from creditmesh.schema import IDENTITY_KINDS, ROWS_QUOTED

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

DAY_US = 86_400_000_000
NEVER = np.iinfo(np.int64).max
MANIFEST = "manifest.json"
KIND = "relationship_graph_spark"
FORMAT_VERSION = 1
#: Parts of a saved Spark graph, each a Parquet folder.
PARTS = ("borrowers", "identifiers", "incidence", "links")
#: Rounds of large-star + small-star before giving up (each at least halves the work in practice).
MAX_STAR_ROUNDS = 64


def _f():
    from pyspark.sql import functions

    return functions


# -- reading -------------------------------------------------------------------------------------


def read_positioned(session: SparkSession, path: str | Path, name: str, column: str) -> DataFrame:
    """A Parquet file (or folder) with each row's position in it as ``column`` (files in name order)."""
    F = _f()
    path = Path(path)
    if not path.exists():
        raise SchemaError(name, f"missing file {path}")
    frame = session.read.parquet(str(path)).select("*", "_metadata.file_path", "_metadata.row_index")
    counts = sorted(frame.groupBy("file_path").count().collect())
    offsets, total = {}, 0
    for row in counts:
        offsets[row["file_path"]] = total
        total += row["count"]
    if len(offsets) <= 1:
        position = F.col("row_index")
    else:
        position = F.col("row_index") + F.coalesce(
            *[F.when(F.col("file_path") == p, F.lit(o)) for p, o in offsets.items()]
        )
    return frame.withColumn(column, position.cast("long")).drop("file_path", "row_index")


def read_tables(session: SparkSession, directory: str | Path) -> tuple[DataFrame, DataFrame]:
    """(identities with ``pos``, borrowers with ``index``) from a dataset folder's Parquet files."""
    folder = Path(directory)
    return (
        read_positioned(session, folder / "identities.parquet", "identities", "pos"),
        read_positioned(session, folder / "borrowers.parquet", "borrowers", "index"),
    )


# -- the graph -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SparkGraph:
    """The relationship graph as DataFrames, keyed by the local path's integer indices.

    ``borrowers``: index, borrower_id, registered_at_us. ``identifiers``: identifier, namespace (index
    into NAMESPACES), value, holders, hub. ``incidence``: borrower, identifier, kind (index into
    IDENTITY_KINDS), one row per (borrower, identifier). ``links``: src, dst, weight (float32), both
    directions, hubs dropped.
    """

    config: GraphConfig
    borrowers: DataFrame
    identifiers: DataFrame
    incidence: DataFrame
    links: DataFrame
    report: BadInputReport

    @property
    def session(self) -> SparkSession:
        return self.borrowers.sparkSession

    def strong(self) -> DataFrame:
        """The strong links (src, dst, weight), both directions."""
        return self.links.where(strong_condition(self.config))

    def summary(self) -> dict:
        F = _f()
        hubs = {
            r["namespace"]: r["count"]
            for r in self.identifiers.where("hub").groupBy("namespace").count().collect()
        }
        strong = self.strong()
        return {
            "borrowers": self.borrowers.count(),
            "identifiers": self.identifiers.count(),
            "identity_rows": self.incidence.count(),
            "hub_identifiers": int(sum(hubs.values())),
            "hub_identifiers_by_namespace": {n: int(hubs.get(i, 0)) for i, n in enumerate(NAMESPACES)},
            "links": self.links.where(F.col("src") < F.col("dst")).count(),
            "strong_links": strong.where(F.col("src") < F.col("dst")).count(),
            "skipped_rows": self.report.skipped,
        }


def strong_condition(config: GraphConfig) -> Column:
    """Spark's reading of :func:`~creditmesh.graph.build.is_strong`: numpy compares the float32 weights
    with the threshold cast to float32, so the threshold here is that float32 value."""
    F = _f()
    threshold = float(np.float32(config.strong_weight - WEIGHT_SLACK))
    return F.col("weight").cast("double") >= F.lit(threshold)


def _kind_code(column: Column) -> Column:
    F = _f()
    return F.coalesce(*[F.when(column == k, F.lit(i)) for i, k in enumerate(IDENTITY_KINDS)], F.lit(None))


def _lookup(column: Column, values: list, cast: str) -> Column:
    """``values[column]`` as a Spark expression (a small constant table)."""
    F = _f()
    return F.element_at(F.array(*[F.lit(v).cast(cast) for v in values]), column.cast("int") + 1)


def _examples(rows: list) -> tuple[str, ...]:
    return tuple(f"row {r['pos']}: {r['borrower_id']!r}/{r['kind']!r}/{r['value']!r}" for r in rows)


def _zip_index(frame: DataFrame, order: list[str], name: str) -> DataFrame:
    """``frame`` with a dense 0-based ``name`` in the order of ``order`` (a total order), natively: a range sort,
    each row's place in its sorted partition (``monotonically_increasing_id`` keeps it in the low 33 bits), and
    the partitions' running counts as offsets. Sorted once and materialised (a local checkpoint), so the
    numbering cannot change between the count and the use; no row passes through Python."""
    F = _f()
    ordered = (
        frame.orderBy(*order)
        .withColumn("_zip_part", F.spark_partition_id())
        .withColumn("_zip_row", F.monotonically_increasing_id())
        .localCheckpoint()
    )
    counts = dict(ordered.groupBy("_zip_part").count().collect())
    offsets, total = [], 0
    for part in range(max(counts, default=-1) + 1):
        offsets.append(total)
        total += counts.get(part, 0)
    offset = _lookup(F.col("_zip_part"), offsets or [0], "long")
    place = F.col("_zip_row") - F.shiftleft(F.col("_zip_part").cast("long"), 33)
    return ordered.select(*frame.columns, (offset + place).alias(name))


def check_borrowers(borrowers: DataFrame) -> DataFrame:
    """Borrowers (index, borrower_id, registered_at_us), refused as the local path refuses them."""
    F = _f()
    missing = [c for c in ("borrower_id", "registered_at") if c not in borrowers.columns]
    if missing:
        raise SchemaError("borrowers", f"missing column(s) {', '.join(missing)}")
    people = borrowers.select(
        "index",
        F.col("borrower_id").cast("string").alias("borrower_id"),
        F.col("registered_at"),
    )
    facts = people.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_distinct("borrower_id").alias("distinct"),
        F.sum(F.col("borrower_id").isNull().cast("long")).alias("null_ids"),
        F.sum(F.col("registered_at").isNull().cast("long")).alias("null_times"),
    ).first()
    if facts["null_ids"]:
        raise SchemaError("borrowers.borrower_id", f"nulls not allowed ({facts['null_ids']:,} found)")
    if facts["distinct"] != facts["rows"]:
        raise SchemaError("borrowers.borrower_id", "repeats: a borrower must appear once")
    if facts["null_times"]:
        raise SchemaError("borrowers.registered_at", f"nulls not allowed ({facts['null_times']:,} found)")
    if dict(people.dtypes)["registered_at"] not in ("timestamp", "timestamp_ntz"):
        raise SchemaError(
            "borrowers.registered_at", f"expected a timestamp, got {dict(people.dtypes)['registered_at']}"
        )
    return people.select("index", "borrower_id", F.unix_micros("registered_at").alias("registered_at_us"))


def encode(
    identities: DataFrame, borrowers: DataFrame
) -> tuple[DataFrame, DataFrame, DataFrame, BadInputReport]:
    """(incidence rows, borrowers, identifiers, report): the local encoding's rules on DataFrames.

    ``identities`` carries ``pos`` and ``borrowers`` ``index`` (see :func:`read_tables`).
    """
    F = _f()
    missing = [c for c in ("borrower_id", "kind", "value") if c not in identities.columns]
    if missing:
        raise SchemaError("identities", f"missing column(s) {', '.join(missing)}")
    people = check_borrowers(borrowers)
    rows = identities.select(
        "pos",
        F.col("borrower_id").cast("string").alias("borrower_id"),
        F.col("kind").cast("string").alias("kind"),
        F.col("value").cast("string").alias("value"),
    )
    empty = F.col("value").isNull() | (F.length("value") == 0) | F.col("value").rlike(r"^(?U)\s+$")
    code = _kind_code(F.col("kind"))
    flagged = (
        rows.join(people.select("borrower_id", "index"), "borrower_id", "left")
        .withColumn("code", code)
        .withColumn("empty", empty)
        .withColumn("unknown_kind", F.col("code").isNull() & ~F.col("empty"))
        .withColumn("unknown_borrower", F.col("index").isNull() & ~F.col("empty") & ~F.col("unknown_kind"))
        .cache()
    )
    namespace_of_code = [NAMESPACES.index(NAMESPACE_OF_KIND[k]) for k in IDENTITY_KINDS]
    usable = flagged.where(~(F.col("empty") | F.col("unknown_kind") | F.col("unknown_borrower"))).select(
        "pos",
        F.col("index").alias("borrower"),
        F.col("code").alias("kind"),
        _lookup(F.col("code"), namespace_of_code, "int").alias("namespace"),
        "value",
    )
    firsts = usable.groupBy("namespace", "value").agg(F.min("pos").alias("first"))
    identifiers = _zip_index(firsts, ["namespace", "first"], "identifier").drop("first").cache()
    coded = usable.join(identifiers, ["namespace", "value"]).select("pos", "borrower", "kind", "identifier")
    # one entry per (borrower, identifier): the larger kind code wins, as in incidence_matrix. A repeated row
    # (same borrower, kind and identifier) is a row of the group beyond its distinct kinds (a bit each), so
    # the duplicates are counted in the same pass; the repeated rows themselves are sought only to quote them.
    incidence = (
        coded.groupBy("borrower", "identifier")
        .agg(
            F.max("kind").alias("kind"),
            (F.count(F.lit(1)) - F.bit_count(F.bit_or(F.expr("shiftleft(1, kind)")))).alias("repeats"),
        )
        .cache()
    )
    counts = flagged.agg(
        F.count(F.lit(1)).alias("rows_read"),
        F.sum(F.col("empty").cast("long")).alias("empty_value"),
        F.sum(F.col("unknown_kind").cast("long")).alias("unknown_kind"),
        F.sum(F.col("unknown_borrower").cast("long")).alias("unknown_borrower"),
    ).first()
    duplicate = int(incidence.agg(F.sum("repeats")).first()[0] or 0)
    skipped = sum(int(counts[name] or 0) for name in ("empty_value", "unknown_kind", "unknown_borrower"))
    used = int(counts["rows_read"]) - skipped - duplicate  # every usable row has its identifier
    examples = {}
    for name in ("empty_value", "unknown_kind", "unknown_borrower"):
        if counts[name]:
            column = "empty" if name == "empty_value" else name
            examples[name] = _examples(flagged.where(column).orderBy("pos").limit(ROWS_QUOTED).collect())
    if duplicate:
        from pyspark.sql import Window

        order = Window.partitionBy("borrower", "kind", "identifier").orderBy("pos")
        repeated = coded.withColumn("n", F.row_number().over(order)).where("n > 1")
        repeated = repeated.select("pos").orderBy("pos").limit(ROWS_QUOTED)
        examples["duplicate"] = _examples(flagged.join(repeated, "pos").orderBy("pos").collect())
    report = BadInputReport(
        rows_read=int(counts["rows_read"]),
        rows_used=int(used),
        empty_value=int(counts["empty_value"] or 0),
        unknown_kind=int(counts["unknown_kind"] or 0),
        unknown_borrower=int(counts["unknown_borrower"] or 0),
        duplicate=duplicate,
        examples=examples,
    )
    incidence = incidence.select("borrower", "identifier", "kind")
    flagged.unpersist()
    return incidence, people, identifiers, report


def _sqrt_weight(config: GraphConfig) -> Column:
    """sqrt(weight of the kind) as float32, computed as numpy does (float64 sqrt, then float32)."""
    values = [float(v) for v in np.sqrt(config.kind_weights()).astype(np.float32)]
    return _lookup(_f().col("kind"), values, "float")


def weighted_links(incidence: DataFrame, config: GraphConfig) -> DataFrame:
    """Links (src, dst, weight) of ``incidence`` (borrower, identifier, kind), both directions, float32 weights
    summed in identifier order (as scipy's product sums them)."""
    F = _f()
    entries = incidence.select("borrower", "identifier", _sqrt_weight(config).alias("w")).where("w > 0")
    a, b = entries.alias("a"), entries.alias("b")
    pairs = a.join(b, "identifier").where(F.col("a.borrower") < F.col("b.borrower"))
    pairs = pairs.select(
        F.col("a.borrower").alias("src"),
        F.col("b.borrower").alias("dst"),
        "identifier",
        (F.col("a.w") * F.col("b.w")).alias("p"),  # float x float: a float32 product
    )
    upper = pairs.groupBy("src", "dst").agg(
        F.aggregate(
            F.array_sort(F.collect_list(F.struct("identifier", "p"))),
            F.lit(0.0).cast("float"),
            lambda acc, e: acc + e["p"],
        ).alias("weight")
    )
    return upper.unionByName(upper.select(F.col("dst").alias("src"), F.col("src").alias("dst"), "weight"))


def build(identities: DataFrame, borrowers: DataFrame, config: GraphConfig | None = None) -> SparkGraph:
    """The graph of the local :func:`~creditmesh.graph.build.build`, on Spark."""
    F = _f()
    config = config or GraphConfig()
    incidence, people, identifiers, report = encode(identities, borrowers)
    holders = incidence.groupBy("identifier").agg(F.count(F.lit(1)).alias("holders"))
    caps = [int(c) for c in config.namespace_caps()]
    identifiers = (
        identifiers.join(holders, "identifier", "left")
        .withColumn("holders", F.coalesce("holders", F.lit(0)).cast("long"))
        .withColumn("hub", F.col("holders") > _lookup(F.col("namespace"), caps, "long"))
        .select("identifier", "namespace", "value", "holders", "hub")
        .cache()
    )
    kept = incidence.join(identifiers.where(~F.col("hub")).select("identifier"), "identifier")
    links = weighted_links(kept, config).cache()
    return SparkGraph(config, people.cache(), identifiers, incidence, links, report)


def save(graph: SparkGraph, directory: str | Path) -> Path:
    """Write the graph's parts as Parquet folders and a manifest, all or nothing (a local folder)."""
    target = Path(directory)
    summary = graph.summary()
    with replaced_atomically(target) as staging:
        for part in PARTS:
            getattr(graph, part).write.parquet(str(staging / part))
        manifest = {
            "kind": KIND,
            "format_version": FORMAT_VERSION,
            "config": graph.config.as_dict(),
            "report": graph.report.as_dict(),
            "summary": summary,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return target


def load(session: SparkSession, directory: str | Path) -> SparkGraph:
    """A graph written by :func:`save`."""
    folder = Path(directory)
    path = folder / MANIFEST
    if not path.is_file():
        raise SchemaError(str(folder), f"no {MANIFEST}: not a graph saved with --engine spark")
    manifest = json.loads(path.read_text())
    if manifest.get("kind") != KIND or manifest.get("format_version") != FORMAT_VERSION:
        raise SchemaError(
            str(folder),
            f"holds a {manifest.get('kind')!r} v{manifest.get('format_version')}, not a graph built with "
            "--engine spark",
        )
    report = dict(manifest["report"])
    report["examples"] = {k: tuple(v) for k, v in report["examples"].items()}
    parts = {p: session.read.parquet(str(folder / p)) for p in PARTS}
    return SparkGraph(GraphConfig.from_dict(manifest["config"]), report=BadInputReport(**report), **parts)


# -- components ------------------------------------------------------------------------------------


def _large_star(edges: DataFrame) -> DataFrame:
    """Kiveris et al.'s large-star: every neighbour larger than u is linked to u's smallest neighbour-or-self."""
    F = _f()
    both = edges.unionByName(edges.select(F.col("v").alias("u"), F.col("u").alias("v")))
    smallest = both.groupBy("u").agg(F.least(F.min("v"), F.col("u")).alias("m"))
    return (
        both.where(F.col("v") > F.col("u"))
        .join(smallest, "u")
        .select(F.col("v").alias("u"), F.col("m").alias("v"))
        .distinct()
    )


def _small_star(edges: DataFrame) -> DataFrame:
    """Kiveris et al.'s small-star: u and its smaller neighbours are linked to the smallest of them."""
    F = _f()
    oriented = edges.select(F.greatest("u", "v").alias("u"), F.least("u", "v").alias("v"))
    smallest = oriented.groupBy("u").agg(F.min("v").alias("m"))
    joined = oriented.join(smallest, "u")
    moved = joined.where(F.col("v") != F.col("m")).select(F.col("v").alias("u"), F.col("m").alias("v"))
    centre = smallest.select("u", F.col("m").alias("v"))
    return moved.unionByName(centre).distinct()


def component_labels(strong: DataFrame) -> tuple[DataFrame, int]:
    """(borrower, label) for every borrower on a strong link, label = the smallest borrower of its component,
    by large-star / small-star rounds until every edge points at a centre; and the rounds taken."""
    F = _f()
    edges = strong.where(F.col("src") < F.col("dst")).select(F.col("dst").alias("u"), F.col("src").alias("v"))
    edges = edges.checkpoint()
    rounds = 0
    while rounds < MAX_STAR_ROUNDS:
        rounds += 1
        edges = _small_star(_large_star(edges)).checkpoint()
        # converged when no centre (v) is itself linked to a smaller node (appears as u)
        if edges.select(F.col("v").alias("u")).distinct().join(edges.select("u"), "u", "left_semi").isEmpty():
            break
    else:
        raise ParameterError("strong links", f"components did not converge in {MAX_STAR_ROUNDS} rounds")
    centres = edges.select(F.col("v").alias("borrower"), F.col("v").alias("label")).distinct()
    return edges.select(F.col("u").alias("borrower"), F.col("v").alias("label")).unionByName(centres), rounds


def ring_ids(labels: DataFrame) -> DataFrame:
    """(borrower, ring): scipy's component label, the rank of the component's smallest borrower among every
    component's (a borrower off the strong links is its own component: label = index - earlier non-centres)."""
    F = _f()
    members = labels.where(F.col("borrower") != F.col("label")).select(F.col("borrower").alias("node"))
    centres = labels.where(F.col("borrower") == F.col("label")).select(F.col("label").alias("node"))
    # for a centre m: ring = m - #(non-centre borrowers below m) = m - (position among all - position among centres)
    both = _zip_index(
        members.withColumn("centre", F.lit(False)).unionByName(centres.withColumn("centre", F.lit(True))),
        ["node"],
        "p",
    )
    only = _zip_index(centres, ["node"], "q")
    ring = (
        both.where("centre")
        .join(only, "node")
        .select(F.col("node").alias("label"), (F.col("node") - (F.col("p") - F.col("q"))).alias("ring"))
    )
    return labels.join(ring, "label").select("borrower", "ring")


def components(graph: SparkGraph) -> tuple[DataFrame, int]:
    """(borrower, ring) for every borrower on a strong link (the others are rings of one), and the rounds."""
    labels, rounds = component_labels(graph.strong())
    return ring_ids(labels.cache()).cache(), rounds


# -- labels from the book -------------------------------------------------------------------------


def labels_from_book(
    loans: DataFrame, installments: DataFrame, *, as_of_us: int, days: int, first_only: bool
) -> DataFrame:
    """(borrower_id, at_us): the first moment a borrower's installment (the first one with ``first_only``) was
    ``days`` past due and still open, known by ``as_of_us``; :mod:`creditmesh.graph.labels` on Spark."""
    F = _f()
    session = loans.sparkSession
    loans.select("loan_id", "borrower_id").createOrReplaceTempView("_cm_label_loans")
    installments.createOrReplaceTempView("_cm_label_installments")
    day = delinquency.day_at_dpd_sql("i.due_date", days, "spark")
    seq = "AND i.seq = 1" if first_only else ""
    found = session.sql(
        f"""
SELECT l.borrower_id, MIN(unix_micros(CAST({day} AS TIMESTAMP))) AS at_us
FROM _cm_label_installments AS i JOIN _cm_label_loans AS l ON l.loan_id = i.loan_id
WHERE {delinquency.open_on_sql("i.paid_at", day)} {seq}
GROUP BY l.borrower_id"""
    )
    return found.where(F.col("at_us") <= F.lit(as_of_us))


def labels_from_frame(session: SparkSession, table: pd.DataFrame) -> DataFrame:
    """(borrower_id, at_us) from a label frame of :mod:`creditmesh.graph.labels` (an operator's list)."""
    column = "listed_at" if "listed_at" in table.columns else "delinquent_at"
    at = pd.to_datetime(table[column], utc=True).dt.tz_convert(None).to_numpy().astype("datetime64[us]")
    frame = pd.DataFrame({"borrower_id": table["borrower_id"].astype(str), "at_us": at.astype(np.int64)})
    return session.createDataFrame(frame, "borrower_id string, at_us long")


def label_times(borrowers: DataFrame, labels: DataFrame) -> DataFrame:
    """(index, at_us): per labelled borrower, when its label became known (the earliest)."""
    F = _f()
    return (
        labels.join(borrowers.select("index", "borrower_id"), "borrower_id")
        .groupBy("index")
        .agg(F.min("at_us").alias("at_us"))
    )


# -- rings ------------------------------------------------------------------------------------------


def ring_table(
    graph: SparkGraph,
    rings: DataFrame,
    *,
    as_of_us: int,
    applications: DataFrame | None = None,
    blacklist: DataFrame | None = None,
    delinquency_labels: DataFrame | None = None,
    min_size: int = 2,
) -> pd.DataFrame:
    """:func:`~creditmesh.graph.rings.ring_table` on Spark: one row per ring of ``min_size``+ borrowers."""
    F = _f()
    members = rings.join(
        graph.borrowers.select(F.col("index").alias("borrower"), "registered_at_us", "borrower_id"),
        "borrower",
    )
    sizes = (
        members.groupBy("ring")
        .agg(
            F.count(F.lit(1)).alias("size"),
            F.min("registered_at_us").alias("first"),
            F.max("registered_at_us").alias("last"),
        )
        .where(F.col("size") >= max(min_size, 2))
    )
    strong = graph.strong().where(F.col("src") < F.col("dst"))
    links = (
        strong.join(rings.withColumnRenamed("borrower", "src"), "src")
        .groupBy("ring")
        .agg(F.count(F.lit(1)).alias("strong_links"))
    )
    device = IDENTITY_KINDS.index("device")
    shared = (
        graph.incidence.where(F.col("kind") == device)
        .join(rings, "borrower")
        .groupBy("ring", "identifier")
        .count()
        .where("count >= 2")
        .groupBy("ring")
        .agg(F.count(F.lit(1)).alias("shared_devices"))
    )
    table = sizes.join(links, "ring", "left").join(shared, "ring", "left")
    if applications is not None:
        at = F.unix_micros("applied_at")
        recent = (
            applications.where((at <= as_of_us) & (at > as_of_us - RECENT_DAYS * DAY_US))
            .select(F.col("borrower_id").cast("string").alias("borrower_id"))
            .join(members, "borrower_id")
            .groupBy("ring")
            .agg(F.count(F.lit(1)).alias("applications_7d"))
        )
        table = table.join(recent, "ring", "left")
    for name, labels in (("blacklisted", blacklist), ("delinquent", delinquency_labels)):
        if labels is None:
            continue
        flagged = (
            label_times(graph.borrowers, labels)
            .where(F.col("at_us") < as_of_us + 1)
            .select(F.col("index").alias("borrower"))
            .join(rings, "borrower")
            .groupBy("ring")
            .agg(F.count(F.lit(1)).alias(name))
        )
        table = table.join(flagged, "ring", "left")
    out = table.toPandas()
    for name in ("strong_links", "shared_devices", "applications_7d", "blacklisted", "delinquent"):
        out[name] = (
            out[name].fillna(0).astype(np.int64) if name in out else np.zeros(len(out), dtype=np.int64)
        )
    size = out["size"].to_numpy(dtype=np.int64)
    possible = size * (size - 1) / 2
    frame = pd.DataFrame(
        {
            "ring": out["ring"].to_numpy(dtype=np.int64),
            "size": size,
            "strong_links": out["strong_links"].to_numpy(),
            "density": np.where(possible > 0, out["strong_links"].to_numpy() / np.maximum(possible, 1), 0.0),
            "shared_devices": out["shared_devices"].to_numpy(),
            "registration_span_days": (
                out["last"].to_numpy(dtype=np.int64) - out["first"].to_numpy(dtype=np.int64)
            )
            / DAY_US,
            "applications_7d": out["applications_7d"].to_numpy(),
            "share_delinquent": out["delinquent"].to_numpy() / size,
            "share_blacklisted": out["blacklisted"].to_numpy() / size,
        }
    )
    return frame.sort_values(["size", "ring"], ascending=[False, True], ignore_index=True)


# -- the grey list ----------------------------------------------------------------------------------


def transition(graph: SparkGraph, damping: float) -> DataFrame:
    """d Pᵀ as (i, j, t): t = d · w_ij / out_weight(j), the out-weight summed in float64 as the local path sums it."""
    F = _f()
    links = graph.links.select("src", "dst", F.col("weight").cast("double").alias("w"))
    out = links.groupBy("src").agg(F.sum("w").alias("out_weight"))
    inverse = out.select(F.col("src").alias("j"), (F.lit(1.0) / F.col("out_weight")).alias("inv"))
    return (
        links.select(F.col("src").alias("i"), F.col("dst").alias("j"), "w")
        .join(inverse, "j")
        .select("i", "j", (F.col("w") * F.col("inv") * F.lit(damping)).alias("t"))
    )


def seeds(graph: SparkGraph, blacklist: DataFrame, *, as_of_us: int, config: PropagationConfig) -> DataFrame:
    """(node, seed) for the borrowers blacklisted by ``as_of_us``: 0.5 ** (age in days / half-life)."""
    F = _f()
    listed = label_times(graph.borrowers, blacklist).where(F.col("at_us") <= as_of_us)
    age_days = (F.lit(as_of_us) - F.least("at_us", F.lit(as_of_us))).cast("double") / F.lit(float(DAY_US))
    return listed.select(
        F.col("index").alias("node"),
        F.pow(F.lit(0.5), age_days / F.lit(float(config.half_life_days))).alias("seed"),
    )


def personalised_pagerank(
    edges_t: DataFrame,
    seed: DataFrame,
    *,
    damping: float,
    tolerance: float,
    max_iterations: int = MAX_ITERATIONS,
) -> tuple[DataFrame, int]:
    """Solve r = (1 - d) s + d Pᵀ r over the borrowers holding risk; returns (node, rank) and the iterations.

    The Chebyshev semi-iteration of :func:`~creditmesh.graph.lists.personalised_pagerank`, step for
    step and in float64 (``edges_t`` is d Pᵀ from :func:`transition`): one join-and-sum product a step
    over the borrowers whose step is not zero (a zero adds nothing to a sum), the same recurrence, the
    same stopping rule on the L1 residual (``d · tolerance · Σs``) and iteration cap, so the same
    number of steps. The state (rank, residual, step per borrower) is checkpointed locally every step
    (small: the borrowers holding risk; kept on the executors, not written out).
    """
    F = _f()
    total = seed.agg(F.sum("seed")).first()[0] or 0.0
    stop = damping * tolerance * max(total, 1e-300)

    def product(state: DataFrame) -> DataFrame:
        return (
            edges_t.join(state.where(F.col("step") != 0).select(F.col("node").alias("j"), "step"), "j")
            .groupBy(F.col("i").alias("node"))
            .agg(F.sum(F.col("t") * F.col("step")).alias("p"))
        )

    rank = seed.select("node", (F.lit(1 - damping) * F.col("seed")).alias("rank"))
    start = rank.select("node", "rank", F.col("rank").alias("step"))
    first = product(start)  # residual of r = (1 - d) s is d Pᵀ r
    state = (
        rank.join(first, "node", "full")
        .select(
            "node",
            F.coalesce("rank", F.lit(0.0)).alias("rank"),
            F.coalesce("p", F.lit(0.0)).alias("residual"),
        )
        .withColumn("step", F.col("residual"))
        .localCheckpoint()
    )
    sigma, rho = 1.0 / damping, damping
    zero = F.lit(0.0)
    for iteration in range(1, max_iterations + 1):
        moved = product(state)
        state = (
            state.join(moved, "node", "full")
            .select(
                "node",
                (F.coalesce("rank", zero) + F.coalesce("step", zero)).alias("rank"),
                (F.coalesce("residual", zero) + (F.coalesce("p", zero) - F.coalesce("step", zero))).alias(
                    "residual"
                ),
                F.coalesce("step", zero).alias("step"),
            )
            .localCheckpoint()
        )
        if (state.agg(F.sum(F.abs("residual"))).first()[0] or 0.0) <= stop:
            return state.select("node", F.col("rank").alias("r")), iteration
        rho_next = 1.0 / (2.0 * sigma - rho)
        state = state.withColumn(
            "step",
            F.col("step") * F.lit(rho_next * rho) + F.col("residual") * F.lit(2.0 * rho_next / damping),
        )
        rho = rho_next
    return state.select("node", F.col("rank").alias("r")), max_iterations


def risk_scores(
    graph: SparkGraph, blacklist: DataFrame, *, as_of_us: int, config: PropagationConfig | None = None
) -> tuple[DataFrame, int]:
    """(node, risk, black) for the borrowers with risk (the others score 0), and the iterations."""
    F = _f()
    config = config or PropagationConfig()
    seed = seeds(graph, blacklist, as_of_us=as_of_us, config=config).cache()
    # d Pᵀ is the same every step: computed once, held hash-partitioned by j (the column each step joins on),
    # so a step shuffles only the borrowers whose step is not zero, never the links again
    edges_t = transition(graph, config.damping).repartition("j").cache()
    rank, iterations = personalised_pagerank(
        edges_t, seed, damping=config.damping, tolerance=config.tolerance
    )
    edges_t.unpersist()
    scores = rank.join(seed.select("node", F.lit(True).alias("black")), "node", "left").select(
        "node",
        (F.col("r") / F.lit(1 - config.damping)).alias("risk"),
        F.coalesce("black", F.lit(False)).alias("black"),
    )
    return scores, iterations


def grey_list(
    graph: SparkGraph, blacklist: DataFrame, *, as_of_us: int, config: PropagationConfig | None = None
) -> tuple[pd.DataFrame, int]:
    """Borrowers not blacklisted whose risk reaches the threshold, riskiest first (ties by index), and the iterations.

    Columns borrower_id, risk; the explaining paths of :func:`~creditmesh.graph.lists.grey_list` are the
    local path's (``creditmesh graph explain``).
    """
    F = _f()
    config = config or PropagationConfig()
    scores, iterations = risk_scores(graph, blacklist, as_of_us=as_of_us, config=config)
    grey = (
        scores.where((F.col("risk") >= config.threshold) & ~F.col("black"))
        .join(graph.borrowers.select(F.col("index").alias("node"), "borrower_id"), "node")
        .select("node", "borrower_id", "risk")
        .toPandas()
    )
    grey = grey.sort_values(["risk", "node"], ascending=[False, True], kind="stable", ignore_index=True)
    return grey[["borrower_id", "risk"]], iterations


# -- point-in-time features ----------------------------------------------------------------------------


def _time_sweep(frame: pd.DataFrame) -> pd.DataFrame:
    """Applications of one or more whole components with their ring size at applied_at: a union-find over the
    components' strong links in order of formation (the later borrower's seen_at), answered application by
    application in time order (a ring grows only by its own links, so components may share a sweep)."""
    edges = frame[frame["is_edge"]].sort_values("t", kind="stable")
    apps = frame[~frame["is_edge"]].sort_values("t", kind="stable")
    parent: dict[int, int] = {}
    size: dict[int, int] = {}

    def find(v: int) -> int:
        parent.setdefault(v, v)
        size.setdefault(v, 1)
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    e_u, e_v, e_t = edges["u"].tolist(), edges["v"].tolist(), edges["t"].tolist()
    k = 0
    out = []
    for app, a, t in zip(apps["app"].tolist(), apps["u"].tolist(), apps["t"].tolist()):
        while k < len(e_t) and e_t[k] <= t:
            ru, rv = find(e_u[k]), find(e_v[k])
            if ru != rv:
                if size[ru] < size[rv]:
                    ru, rv = rv, ru
                parent[rv] = ru
                size[ru] += size[rv]
            k += 1
        out.append((app, size[find(a)]))
    return pd.DataFrame(out, columns=["app", "ring_size"])


def application_features(
    identities: DataFrame,
    borrowers: DataFrame,
    applications: DataFrame,
    *,
    blacklist: DataFrame | None = None,
    delinquency_labels: DataFrame | None = None,
    config: GraphConfig | None = None,
    graph: SparkGraph | None = None,
) -> DataFrame:
    """:func:`~creditmesh.graph.features.application_features` on Spark: application_id and FEATURE_NAMES.

    ``applications`` carries ``app`` (its row position: the output's order), application_id, borrower_id
    and applied_at; labels are (borrower_id, at_us) frames (:func:`labels_from_book`, :func:`labels_from_frame`).
    ``graph``: a :func:`build` of the same identities and borrowers, whose encoding (borrowers, identifiers,
    incidence) is then reused instead of encoding the identities again.
    """
    F = _f()
    from pyspark.sql import Window

    config = config or GraphConfig()
    if graph is not None:
        incidence, people, identifiers = graph.incidence, graph.borrowers, graph.identifiers
    else:
        incidence, people, identifiers, _ = encode(identities, borrowers)
    apps = applications.select(
        "app",
        F.col("application_id").cast("string").alias("application_id"),
        F.col("borrower_id").cast("string").alias("borrower_id"),
        F.unix_micros("applied_at").alias("t"),
    ).join(people.select("borrower_id", F.col("index").alias("a")), "borrower_id", "left")
    if not apps.where(F.col("a").isNull()).isEmpty():
        missing = apps.where(F.col("a").isNull()).count()
        raise ParameterError(
            "applications.borrower_id", f"{missing:,} application(s) name a borrower not in borrowers"
        )
    apps = apps.cache()
    first_applied = apps.groupBy("a").agg(F.min("t").alias("applied"))
    seen = people.join(first_applied.withColumnRenamed("a", "index"), "index", "left").select(
        F.col("index").alias("b"),
        F.least("registered_at_us", F.coalesce("applied", "registered_at_us")).alias("seen"),
    )

    def effective(labels: DataFrame | None, name: str) -> DataFrame:
        if labels is None:
            return seen.select("b", F.lit(NEVER).alias(name))
        times = label_times(people, labels).select(F.col("index").alias("b"), "at_us")
        return seen.join(times, "b", "left").select(
            "b",
            F.when(F.col("at_us").isNull(), F.lit(NEVER)).otherwise(F.greatest("at_us", "seen")).alias(name),
        )

    state = (
        seen.join(effective(blacklist, "black"), "b").join(effective(delinquency_labels, "late"), "b").cache()
    )
    caps = [int(c) for c in config.namespace_caps()]
    rank = Window.partitionBy("identifier").orderBy("seen", "borrower")
    first_cap = (
        incidence.join(state.select(F.col("b").alias("borrower"), "seen"), "borrower")
        .join(identifiers.select("identifier", "namespace"), "identifier")
        .withColumn("rank", F.row_number().over(rank) - 1)
        .where(F.col("rank") < _lookup(F.col("namespace"), caps, "long"))
        .select("borrower", "identifier", "kind")
        .cache()
    )
    # links through each first-cap entry of the applicant: other first-cap holders seen by t
    mine = apps.join(first_cap.withColumnRenamed("borrower", "a"), "a")
    others = first_cap.select("identifier", F.col("borrower").alias("b")).join(state, "b")
    window = VELOCITY_DAYS * DAY_US
    pairs = (
        mine.join(others, "identifier")
        .join(state.select(F.col("b").alias("a"), F.col("seen").alias("seen_a")), "a")
        .where((F.col("b") != F.col("a")) & (F.col("seen") <= F.col("t")))
    )
    counts = pairs.groupBy("app").agg(
        *[
            F.sum((F.col("kind") == i).cast("long")).alias(f"degree_{k}")
            for i, k in enumerate(IDENTITY_KINDS)
        ],
        F.sum((F.greatest("seen_a", "seen") > F.col("t") - window).cast("long")).alias("new_links_30d"),
        F.sum((F.col("late") < F.col("t")).cast("long")).alias("neighbour_links_delinquent"),
        F.sum((F.col("black") < F.col("t")).cast("long")).alias("neighbour_links_blacklisted"),
    )
    # the strong links among first-cap holders, formed when the later of the two is seen
    strong = weighted_links(first_cap, config).where(strong_condition(config)).select("src", "dst").cache()
    ring_size = _ring_sizes(strong, state, apps)
    hops = _blacklist_hops(strong, state, apps)
    out = (
        apps.select("app", "application_id")
        .join(counts, "app", "left")
        .join(ring_size, "app", "left")
        .join(hops, "app", "left")
    )
    fill = {c: 0 for c in counts.columns if c != "app"}
    out = out.fillna(fill).fillna({"ring_size": 1, "blacklist_hops": -1})
    total = sum((F.col(f"degree_{k}") for k in IDENTITY_KINDS), F.lit(0))
    out = out.withColumn(
        "neighbour_delinquency_rate",
        F.when(
            total > 0, F.col("neighbour_links_delinquent").cast("double") / total.cast("double")
        ).otherwise(F.lit(0.0)),
    )
    return out.select("app", "application_id", *FEATURE_NAMES)


def _ring_sizes(strong: DataFrame, state: DataFrame, apps: DataFrame) -> DataFrame:
    """(app, ring_size) for applicants on a strong link: per component, a time sweep (grouped map)."""
    F = _f()
    labels, _ = component_labels(strong)
    labels = labels.cache()
    seen = state.select("b", "seen")
    edges = (
        strong.where(F.col("src") < F.col("dst"))
        .join(seen.withColumnRenamed("b", "src").withColumnRenamed("seen", "s1"), "src")
        .join(seen.withColumnRenamed("b", "dst").withColumnRenamed("seen", "s2"), "dst")
        .join(labels.withColumnRenamed("borrower", "src"), "src")
        .select(
            "label",
            F.lit(True).alias("is_edge"),
            F.lit(None).cast("long").alias("app"),
            F.col("src").alias("u"),
            F.col("dst").alias("v"),
            F.greatest("s1", "s2").alias("t"),
        )
    )
    asking = apps.join(labels.withColumnRenamed("borrower", "a"), "a").select(
        "label",
        F.lit(False).alias("is_edge"),
        "app",
        F.col("a").alias("u"),
        F.lit(None).cast("long").alias("v"),
        "t",
    )
    # components are disjoint, so one sweep over several of them answers each as its own sweep would: the
    # grouped map takes buckets of whole components (one pandas call a bucket, not one a component)
    buckets = int(apps.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    return (
        edges.unionByName(asking)
        .withColumn("bucket", F.pmod(F.xxhash64("label"), F.lit(buckets)))
        .drop("label")
        .groupBy("bucket")
        .applyInPandas(_time_sweep, "app long, ring_size long")
    )


def _blacklist_hops(strong: DataFrame, state: DataFrame, apps: DataFrame) -> DataFrame:
    """(app, blacklist_hops) by the reach passes of :meth:`~creditmesh.graph.features.PointInTimeGraph._blacklist_hops`:
    reach[h][v] = min(reach[0][v], min over strong neighbours u of max(seen[u], reach[h-1][u]))."""
    F = _f()
    reach0 = state.where(F.col("black") != NEVER).select("b", (F.col("black") + 1).alias("r"))
    reach = [reach0.cache()]
    seen = state.select("b", "seen")
    for _ in range(MAX_HOPS):
        through = (
            strong.join(reach[-1].withColumnRenamed("b", "dst"), "dst")
            .join(seen.withColumnRenamed("b", "dst"), "dst")
            .groupBy(F.col("src").alias("b"))
            .agg(F.min(F.greatest("seen", "r")).alias("near"))
        )
        nxt = through.join(reach0.withColumnRenamed("r", "r0"), "b", "full").select(
            "b", F.least(F.coalesce("r0", F.lit(NEVER)), F.coalesce("near", F.lit(NEVER))).alias("r")
        )
        reach.append(nxt.localCheckpoint())
    hops = apps.select("app", "a", "t")
    answer = F.lit(-1)
    for h in range(MAX_HOPS, -1, -1):
        hops = hops.join(reach[h].select(F.col("b").alias("a"), F.col("r").alias(f"r{h}")), "a", "left")
    for h in range(MAX_HOPS, -1, -1):
        answer = F.when(F.col("t") >= F.coalesce(F.col(f"r{h}"), F.lit(NEVER)), F.lit(h)).otherwise(answer)
    return hops.select("app", answer.cast("long").alias("blacklist_hops"))


def dataset_as_of_us(directory: str | Path, as_of=None) -> int:
    """The moment of the lists: the end of ``as_of`` or of the dataset (:mod:`creditmesh.graph.data`)."""
    from creditmesh.graph.data import dataset_end, end_of_day, timestamp_us

    return timestamp_us(dataset_end(directory) if as_of is None else end_of_day(as_of))


__all__ = [
    "SparkGraph",
    "build",
    "components",
    "grey_list",
    "labels_from_book",
    "load",
    "ring_table",
    "save",
    "application_features",
    "FPD_DAYS",
    "DELINQUENT_DAYS",
]
