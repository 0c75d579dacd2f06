"""Benchmark: the graph and the portfolio series on Apache Spark (local mode) beside the embedded engines, same data.

Goal (issue #16): identical answers at every size; 10,000,000 borrowers (about 60,000,000 identity
rows) through Spark's graph build + components + PageRank + point-in-time features and the portfolio
series in under 15 minutes and 12 GB on 2 cores; a chart of time against size for both engines.

Data: the graph benchmark's synthetic platform (``graph_scale.synthetic_platform``: hashed identity
rows with hubs and rings, one application per borrower, a black list and delinquencies) and the
portfolio benchmark's synthetic book (``portfolio.build``) with as many borrowers (about 20
installments a borrower), both written as Parquet first (not timed) and cached.

Embedded engines: scipy (``graph.build``, ``rings.components``, ``lists.risk_scores``,
``features.application_features``) and DuckDB (``metric_series``, 2 threads). Spark: the same steps
from ``creditmesh.graph.spark`` and a ``SparkBook``, on ``local[2]``. Answers compared: the links
(every weight, bit for bit), the ring id of every borrower on a strong link, the risk of every
borrower (within 1e-9), every feature of every application, every cell of the series. Also measured
for ``docs/scale.md``: the shuffle bytes each Spark step wrote and read and its stages (from Spark's status store, UI off), the
large-star/small-star rounds and PageRank iterations, and the peak resident memory of the whole
process tree (Python, the JVM and its Python workers), sampled every 0.2 s, and the CPU seconds the
tree used per step (on a shared machine, the load-independent figure).

Each size runs in a fresh child process. Usage::

    python benchmarks/spark_scale.py --borrowers 1000000          # one size
    python benchmarks/spark_scale.py                              # 1M, 4M and 10M
    python benchmarks/spark_scale.py --borrowers 200000           # a smoke run
    python benchmarks/spark_scale.py --summary                    # chart and closing line only

Every completed size's record is appended to ``spark_scale_runs.jsonl``; the chart
(``docs/spark_scale.png``) and the closing line cover the latest record of every size. The last line on
stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "portfolio"))

from _common import GB, load_average, make_console, print_json_line, result_row  # noqa: E402

BENCHMARK = "spark_scale"
DEFAULT_SIZES = (1_000_000, 4_000_000, 10_000_000)
GOAL_SECONDS, GOAL_GB = 900.0, 12.0
RESULT = "@@RESULT "
INSTALLMENTS_PER_BORROWER = 20.4  # portfolio.build: rows / mean tenor / 2 borrowers
CHART = HERE.parent / "docs" / "spark_scale.png"
#: Every completed size's full record (the figures docs/scale.md quotes), one JSON object a line; the chart
#: is drawn from the latest record of each size, so sizes can be run one at a time.
RUNS = HERE / "spark_scale_runs.jsonl"


def cache_root() -> Path:
    return Path(os.environ.get("CREDITMESH_CACHE", Path.home() / ".cache" / "creditmesh"))


class TreePeak:
    """The peak resident memory of this process and all its children (the JVM, Spark's Python workers)."""

    def __init__(self) -> None:
        import psutil

        self._root = psutil.Process()
        self.peak = 0
        self.children_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def sample(self) -> int:
        import psutil

        total = children = 0
        for process in [self._root, *self._root.children(recursive=True)]:
            try:
                rss = process.memory_info().rss
            except psutil.Error:
                continue
            total += rss
            children += rss if process.pid != self._root.pid else 0
        self.peak = max(self.peak, total)
        self.children_peak = max(self.children_peak, children)
        return self.peak

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by this process and its live children (the JVM, Spark's Python workers)."""
        import psutil

        total = 0.0
        for process in [self._root, *self._root.children(recursive=True)]:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()

    def reset(self) -> None:
        self.peak = 0
        self.children_peak = 0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def shuffle_totals(session) -> dict:
    """Totals over every completed stage of the application so far, from Spark's status store (the data the
    UI's REST API serves, read in the driver: the UI stays off): stages, shuffle bytes written and read, bytes
    spilled to disk, and the executors' CPU seconds."""
    context = session.sparkContext
    jvm = context._jvm
    stages = (
        context._jsc.sc()
        .statusStore()
        .stageList(
            jvm.java.util.ArrayList(),
            False,
            False,
            context._gateway.new_array(jvm.double, 0),
            jvm.java.util.ArrayList(),
        )
    )
    totals = {"stages": 0, "shuffle_write": 0, "shuffle_read": 0, "spill": 0, "task_cpu_s": 0.0}
    found = stages.iterator()
    while found.hasNext():
        stage = found.next()
        if str(stage.status()) != "COMPLETE":
            continue
        totals["stages"] += 1
        totals["shuffle_write"] += int(stage.shuffleWriteBytes())
        totals["shuffle_read"] += int(stage.shuffleReadBytes())
        totals["spill"] += int(stage.diskBytesSpilled())
        totals["task_cpu_s"] += stage.executorCpuTime() / 1e9
    return totals


def driver_memory_for(n: int) -> str:
    """The local-mode driver heap (local mode: the one executor too), sized from the data: 2 GB plus 0.6 GB a
    million borrowers, at most 8 GB (the goal is 12 GB for the whole process tree at 10M)."""
    return f"{min(8, 2 + int(np.ceil(0.6 * n / 1e6)))}g"


def shuffle_partitions_for(n: int) -> int:
    """``spark.sql.shuffle.partitions``: the largest shuffle (the identity rows, about 130 B each) in parts of
    about 64 MB, at least 4 (2 cores, twice over); adaptive execution coalesces the small shuffles."""
    return max(4, int(np.ceil(n * 6.5 * 130 / 64e6)))


def graph_data(n: int, console) -> Path:
    """The synthetic platform of graph_scale written as Parquet (cached)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from graph_scale import synthetic_platform

    folder = cache_root() / f"spark_scale_graph_{n}"
    if (folder / "DONE").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    identities, borrowers, applications, blacklist, delinquency = synthetic_platform(n)
    apps = applications if isinstance(applications, pa.Table) else pa.Table.from_pandas(applications)
    if "application_id" not in apps.column_names:
        apps = apps.append_column("application_id", pa.array([f"A{i}" for i in range(apps.num_rows)]))
    pq.write_table(identities, folder / "identities.parquet", row_group_size=4_000_000)
    pq.write_table(borrowers, folder / "borrowers.parquet")
    pq.write_table(apps, folder / "applications.parquet")
    blacklist.to_parquet(folder / "blacklist.parquet", index=False)
    delinquency.to_parquet(folder / "delinquency.parquet", index=False)
    (folder / "DONE").write_text("done\n")
    console.print(f"[{n:,}] wrote the graph data to {folder}")
    return folder


def _child(n: int, driver_memory: str) -> None:
    import pandas as pd
    import pyarrow.parquet as pq
    from portfolio import build as build_book

    from creditmesh.graph import build
    from creditmesh.graph import spark as spark_graph
    from creditmesh.graph.features import FEATURE_NAMES, application_features
    from creditmesh.graph.lists import PropagationConfig, risk_scores
    from creditmesh.graph.rings import components
    from creditmesh.portfolio import Book
    from creditmesh.portfolio.series import metric_series
    from creditmesh.portfolio.spark import SparkBook
    from creditmesh.spark import spark_session

    console = make_console()
    peak = TreePeak()
    folder = graph_data(n, console)
    book_folder, _ = build_book(int(n * INSTALLMENTS_PER_BORROWER), 1, console)
    record: dict = {
        "borrowers": n,
        "local": {},
        "spark": {},
        "local_peak": {},
        "spark_peak": {},
        "shuffle": {},
    }
    as_of = pd.Timestamp("2025-01-01", tz="UTC")
    as_of_us = int(as_of.value // 1000)
    config = PropagationConfig()

    def stage(engine: str, name: str, fn, session=None):
        peak.reset()
        before = shuffle_totals(session) if session is not None else None
        cpu = peak.cpu_seconds()
        started = time.perf_counter()
        out = fn()
        record[engine][name] = time.perf_counter() - started
        record.setdefault("cpu", {})[f"{engine} {name}"] = peak.cpu_seconds() - cpu
        record[f"{engine}_peak"][name] = peak.sample()
        record.setdefault("load", {})[f"{engine} {name}"] = load_average()
        if session is not None:
            record.setdefault("jvm_peak", {})[name] = peak.children_peak
            after = shuffle_totals(session)
            record["shuffle"][name] = {k: after[k] - before[k] for k in after}
        sys.stderr.write(
            f"[{n:,}] {engine} {name}: {record[engine][name]:.1f} s (cpu {record['cpu'][f'{engine} {name}']:.1f} s), "
            f"tree peak {peak.peak / GB:.2f} GB, shuffle {record['shuffle'].get(name)} "
            f"(load {load_average()})\n"
        )
        return out

    # -- embedded engines ------------------------------------------------------------------------------
    tables = {
        name: pq.read_table(folder / f"{name}.parquet")
        for name in ("identities", "borrowers", "applications")
    }
    black = pd.read_parquet(folder / "blacklist.parquet")
    late = pd.read_parquet(folder / "delinquency.parquet")
    record["identity_rows"] = tables["identities"].num_rows
    local = stage("local", "build", lambda: build(tables["identities"], tables["borrowers"]))
    labels = stage("local", "components", lambda: components(local))
    score, black_mask, local_iterations = stage(
        "local", "pagerank", lambda: risk_scores(local, black, as_of_us=as_of_us, config=config)
    )
    features = stage(
        "local",
        "features",
        lambda: application_features(
            tables["identities"],
            tables["borrowers"],
            tables["applications"],
            blacklist=black,
            delinquency=late,
        ),
    )
    with Book.open(book_folder) as book:
        book.sql("SET threads = 2")
        (record["installments"],) = book.one("SELECT COUNT(*) FROM installments")
        series = stage(
            "local",
            "series",
            lambda: metric_series(book, "month", dt.date(2022, 1, 1), dt.date(2024, 12, 31)),
        )
    links = local.links.tocoo()
    local_links = (links.row.astype(np.int64) * n + links.col, links.data)
    strong_rows = np.flatnonzero(np.diff(local.strong.indptr) > 0)
    local_summary = local.summary()
    local = tables = None  # free the embedded graph before Spark starts

    # -- Spark -----------------------------------------------------------------------------------------
    session = spark_session(
        "creditmesh-spark-scale",
        master_url="local[2]",
        config={
            "spark.driver.memory": driver_memory or driver_memory_for(n),
            "spark.ui.enabled": "false",
            # the comparison brings every application's features back to the driver (10M rows: 1,030 MB of
            # results at 10M, over the 1 GB default, which aborted the first 10M run after PageRank)
            "spark.driver.maxResultSize": "3g",
            "spark.sql.shuffle.partitions": str(shuffle_partitions_for(n)),
            "spark.default.parallelism": str(shuffle_partitions_for(n)),
            "spark.sql.adaptive.enabled": "true",
            "spark.sql.adaptive.coalescePartitions.enabled": "true",
            "spark.local.dir": str(cache_root() / "spark-local"),
        },
        checkpoint_dir=cache_root() / "spark-checkpoints",
    )
    identities, borrowers = spark_graph.read_tables(session, folder)

    def spark_build():
        graph = spark_graph.build(identities, borrowers)
        graph.links.count()
        return graph

    graph = stage("spark", "build", spark_build, session)

    def spark_components():
        rings, rounds = spark_graph.components(graph)
        return rings.toPandas(), rounds

    found_rings, rounds = stage("spark", "components", spark_components, session)
    record["star_rounds"] = rounds
    blacklist = spark_graph.labels_from_frame(session, black)

    def spark_pagerank():
        scores, iterations = spark_graph.risk_scores(graph, blacklist, as_of_us=as_of_us, config=config)
        return scores.toPandas(), iterations

    (spark_scores, spark_iterations) = stage("spark", "pagerank", spark_pagerank, session)
    applications = spark_graph.read_positioned(
        session, folder / "applications.parquet", "applications", "app"
    )

    def spark_features():
        return (
            spark_graph.application_features(
                identities,
                borrowers,
                applications,
                blacklist=blacklist,
                delinquency_labels=spark_graph.labels_from_frame(session, late),
                graph=graph,  # the build's encoding of the same identities, not a second one
            )
            .orderBy("app")
            .toPandas()
        )

    spark_features_frame = stage("spark", "features", spark_features, session)
    with SparkBook.open(book_folder, session) as spark_book:
        spark_series = stage(
            "spark",
            "series",
            lambda: metric_series(spark_book, "month", dt.date(2022, 1, 1), dt.date(2024, 12, 31)),
            session,
        )
    spark_links = graph.links.toPandas()

    # -- the same answers? ---------------------------------------------------------------------------------
    key = spark_links["src"].to_numpy() * n + spark_links["dst"].to_numpy()
    order, local_order = np.argsort(key), np.argsort(local_links[0])
    same_links = bool(
        np.array_equal(key[order], local_links[0][local_order])
        and np.array_equal(spark_links["weight"].to_numpy(np.float32)[order], local_links[1][local_order])
    )
    same_rings = bool(
        len(found_rings) == strong_rows.shape[0]
        and (found_rings["ring"].to_numpy() == labels[found_rings["borrower"].to_numpy()]).all()
    )
    risk = np.zeros(n)
    risk[spark_scores["node"].to_numpy()] = spark_scores["risk"].to_numpy()
    risk_gap = float(np.abs(risk - score).max())
    same_features = all(
        (spark_features_frame[c].to_numpy() == features[c].to_numpy()).all() for c in FEATURE_NAMES
    )
    cells = series.drop(columns=["period_start", "period_end"]).astype("Float64")
    spark_cells = spark_series.drop(columns=["period_start", "period_end"]).astype("Float64")
    same_series = bool(cells.equals(spark_cells))
    record["answers"] = {
        "links": same_links,
        "rings": same_rings,
        "risk_max_gap": risk_gap,
        "iterations": [int(local_iterations), int(spark_iterations)],
        "features": bool(same_features),
        "series": same_series,
        "identical": same_links
        and same_rings
        and risk_gap <= 1e-9
        and same_features
        and same_series
        and int(local_iterations) == int(spark_iterations),
    }
    record["summary"] = local_summary
    record["local_total_s"] = sum(record["local"].values())
    record["spark_total_s"] = sum(record["spark"].values())
    record["spark_peak_bytes"] = max(record["spark_peak"].values())
    record["spark_jvm_peak_bytes"] = max(record["jvm_peak"].values())
    record["spark_settings"] = {
        "driver_memory": driver_memory or driver_memory_for(n),
        "shuffle_partitions": shuffle_partitions_for(n),
    }
    record["local_peak_bytes"] = max(record["local_peak"].values())
    record["load_at_end"] = load_average()
    peak.stop()
    session.stop()
    sys.stdout.write(RESULT + json.dumps(record) + "\n")
    sys.stdout.flush()


def _run(n: int, driver_memory: str, timeout_s: float) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(n),
        "--driver-memory",
        driver_memory,
    ]
    started = time.perf_counter()
    try:  # the child's progress goes straight to our stderr, stage by stage
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"borrowers": n, "failed": True, "error": f"timed out after {timeout_s:g} s"}
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            record = json.loads(line[len(RESULT) :])
            record["wall_s"] = time.perf_counter() - started
            return record
    return {
        "borrowers": n,
        "failed": True,
        "error": f"exit {done.returncode} (the child's stderr above says why)",
    }


def chart(records: list[dict]) -> None:
    """Time against size for both engines (``docs/spark_scale.png``), from the latest run of each size."""
    from creditmesh.charts import new_figure

    latest = {r["borrowers"]: r for r in records if not r.get("failed")}
    done = [latest[n] for n in sorted(latest)]
    if not done:
        return
    figure, (wall, cpu) = new_figure((11, 4.2), ncols=2)
    sizes = [r["borrowers"] / 1e6 for r in done]
    loads = ", ".join(f"{r['borrowers'] / 1e6:g}M: {r['load_at_end']}" for r in done)
    for axes, key, unit in ((wall, "total_s", "wall minutes"), (cpu, "cpu_s", "CPU minutes (process tree)")):
        for engine, marker, label in (
            ("local", "o-", "embedded (scipy + DuckDB)"),
            ("spark", "s-", "Spark local[2]"),
        ):
            values = [
                (
                    r[f"{engine}_total_s"]
                    if key == "total_s"
                    else sum(v for k, v in r["cpu"].items() if k.startswith(engine))
                )
                / 60
                for r in done
            ]
            axes.plot(sizes, values, marker, label=label)
        axes.set_xlabel("borrowers, millions (6.5 identity rows, 20 installments each)")
        axes.set_ylabel(unit)
        axes.set_xlim(0, max(sizes) * 1.1)
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
    wall.axhline(GOAL_SECONDS / 60, color="grey", linestyle=":", label="goal for Spark at 10M (15 min)")
    wall.set_title(f"Graph + features + series, wall (2 shared cores; load {loads})", fontsize=9)
    cpu.set_title("The same, CPU (less moved by the other jobs on the machine)", fontsize=9)
    wall.legend(fontsize=8)
    figure.savefig(CHART, dpi=90, bbox_inches="tight")


def past_runs() -> list[dict]:
    if not RUNS.exists():
        return []
    return [json.loads(line) for line in RUNS.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--borrowers", type=int, action="append", help="a size to run (repeatable)")
    parser.add_argument(
        "--driver-memory",
        default="",
        help="the Spark driver's heap (local mode: the executor too); default sized from the borrowers",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=14400.0,
        help="seconds per size (10M on a busy 2-core machine ran past 90 minutes)",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="run nothing: redraw the chart and print the closing line from the recorded runs",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child, args.driver_memory)
        return 0
    console = make_console()
    records = []
    for n in [] if args.summary else args.borrowers or DEFAULT_SIZES:
        console.print(f"== {n:,} borrowers (load {load_average()})")
        record = _run(n, args.driver_memory, args.timeout)
        records.append(record)
        if not record.get("failed"):
            with RUNS.open("a") as runs:
                runs.write(json.dumps(record, sort_keys=True) + "\n")
        if record.get("failed"):
            console.print(f"[{n:,}] failed: {record['error']}")
            continue
        console.print(
            f"[{n:,}] embedded {record['local_total_s']:.0f} s (peak {record['local_peak_bytes'] / GB:.1f} GB); "
            f"Spark {record['spark_total_s']:.0f} s (peak {record['spark_peak_bytes'] / GB:.1f} GB); "
            f"answers {record['answers']}; star rounds {record['star_rounds']}; "
            f"shuffle written { ({k: round(v['shuffle_write'] / GB, 2) for k, v in record['shuffle'].items()}) } GB; load {record['load_at_end']}"
        )
    runs = past_runs()
    chart(runs)
    # the closing line covers every size recorded (the latest run of each), so RESULTS.md, which keeps a
    # benchmark's latest line, shows all sizes though they are run one at a time; this run's failures too
    latest = {r["borrowers"]: r for r in runs}
    latest.update({r["borrowers"]: r for r in records if r.get("failed")})
    results = []
    for n, record in sorted(latest.items()):
        if record.get("failed"):
            results.append(result_row(f"spark total at {n:,} borrowers", "s", None, goal=record["error"]))
            continue
        goal = f"< {GOAL_SECONDS:.0f} s at 10M" if n >= 10_000_000 else None
        results += [
            result_row(
                f"graph + series at {n:,} borrowers, Spark local[2] vs embedded",
                "s",
                round(record["spark_total_s"], 1),
                goal=goal,
                anchor=round(record["local_total_s"], 1),
                anchor_name="scipy + DuckDB",
            ),
            result_row(
                f"CPU seconds at {n:,} borrowers, Spark local[2] vs embedded (process tree)",
                "s",
                round(sum(v for k, v in record["cpu"].items() if k.startswith("spark")), 1),
                anchor=round(sum(v for k, v in record["cpu"].items() if k.startswith("local")), 1),
                anchor_name="scipy + DuckDB",
            ),
            result_row(
                f"peak memory at {n:,} borrowers, Spark (process tree)",
                "GB",
                round(record["spark_peak_bytes"] / GB, 2),
                goal=f"< {GOAL_GB:.0f} GB" if n >= 10_000_000 else None,
                anchor=round(record["local_peak_bytes"] / GB, 2),
                anchor_name="scipy + DuckDB",
            ),
            result_row(
                f"identical answers at {n:,} borrowers (1 = yes)",
                "bool",
                1 if record["answers"]["identical"] else 0,
                goal="1",
            ),
        ]
    print_json_line(BENCHMARK, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
