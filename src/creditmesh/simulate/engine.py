"""Run the simulation end to end and write it out atomically."""

from __future__ import annotations

import contextlib
import json
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from creditmesh import __version__
from creditmesh.errors import ParameterError
from creditmesh.folders import replaced_atomically, sha256_file
from creditmesh.schema import IDENTITY_KINDS, TABLES
from creditmesh.simulate.allocation import Allocation
from creditmesh.simulate.collections import Collector
from creditmesh.simulate.config import SimulationConfig
from creditmesh.simulate.identities import identity_rows, identity_values
from creditmesh.simulate.institutions import draw_institutions
from creditmesh.simulate.platform import run_platform
from creditmesh.simulate.policy import Policy, RulePolicy
from creditmesh.simulate.population import REGIONS, draw_population
from creditmesh.simulate.state import Calendar
from creditmesh.simulate.tables import book_tables, borrowers_table

#: Where the truth columns go, apart from the tables the platform reads.
TRUTH_FOLDER = "truth"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1
#: Threads writing Parquet files, and the chunks handed to them and not yet written, at most.
WRITER_THREADS = 2
PENDING_CHUNKS = 4
#: The platform's tables, in the order a result lists them.
TABLE_ORDER = (
    "institutions",
    "borrowers",
    "identities",
    "applications",
    "decisions",
    "credit_lines",
    "allocations",
    "loans",
    "installments",
    "payments",
    "collection_actions",
)
#: Builds a funding allocation from the institutions table and each borrower's region name.
FundingFactory = Callable[[pa.Table, np.ndarray], Allocation]


@dataclass(frozen=True)
class SimulationResult:
    """The platform's tables (truth columns removed) and the truth tables, keyed by table name."""

    config: SimulationConfig
    tables: dict[str, pa.Table]
    truth: dict[str, pa.Table]
    #: the servicing world's hidden state (``default_day`` per borrower, ``settle_day`` per loan, as day
    #: numbers): what a collections back-test needs to replay the platform's repayments; not written to disk
    servicing: dict[str, np.ndarray] | None = None

    @property
    def end_date(self):
        calendar = Calendar.of(self.config)
        return calendar.start + np.timedelta64(calendar.horizon - 1, "D")


def simulate(
    config: SimulationConfig | None = None,
    *,
    policy: Policy | None = None,
    funding: FundingFactory | None = None,
    collector: Collector | None = None,
    progress: Callable[[str], None] | None = None,
) -> SimulationResult:
    """Simulate the platform described by ``config`` (defaults: 20,000 borrowers over 24 months), in memory.

    ``funding`` builds the funding allocation once the institutions are drawn, from the institutions
    table and each borrower's region (e.g. ``creditmesh.matching.simulation.MatcherAllocation``, which
    the simulator cannot import: it is to its right); by default loans are funded by volume share.
    ``collector`` is who collects (e.g. ``creditmesh.collections.simulation.shipped_collector()``, the
    shipped strategy, which ``creditmesh simulate`` uses); by default nobody does, and borrowers pay as
    they would on their own. For a large platform, :func:`simulate_to` writes the tables as they are
    built instead of holding them.
    """
    config = config or SimulationConfig()
    sink = MemorySink()
    servicing = _run(config, sink, policy, funding, collector, progress)
    tables, truth = sink.tables()
    return SimulationResult(config, tables, truth, servicing)


def simulate_to(
    directory: str | os.PathLike[str],
    config: SimulationConfig | None = None,
    *,
    policy: Policy | None = None,
    funding: FundingFactory | None = None,
    collector: Collector | None = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Simulate as :func:`simulate` does and write the dataset :func:`write_dataset` would write, all or
    nothing, streaming each table to its Parquet file as it is built (a row group a batch: a month's
    applications, a month's loans and their installments, ...) instead of holding the tables: the memory a
    simulation needs is its month loop's, not its tables'. Row for row the same tables as :func:`simulate`."""
    config = config or SimulationConfig()
    target = _writable(directory, overwrite)
    say = progress or (lambda _step: None)
    with replaced_atomically(target) as staging:
        files = ParquetSink.fill(
            staging, lambda sink: _run(config, sink, policy, funding, collector, progress)
        )
        _write_manifest(staging, config, files, say)
    return target


def _run(
    config: SimulationConfig,
    sink: TableSink,
    policy: Policy | None,
    funding: FundingFactory | None,
    collector: Collector | None,
    progress: Callable[[str], None] | None,
) -> dict[str, np.ndarray]:
    """The simulation, its tables handed to ``sink`` as they are built; the servicing world's hidden state."""
    policy = policy or RulePolicy()
    say = progress or (lambda _step: None)
    rng = np.random.default_rng(config.seed)
    horizon_days = Calendar.of(config).horizon

    say("borrowers")
    pop = draw_population(rng, config, horizon_days)
    institutions, institution_model = draw_institutions(rng, config.institutions)
    capacity = institutions["monthly_capacity_minor"].to_numpy().astype(np.float64)
    say("identities")
    borrower, kind, entity = identity_rows(rng, pop)
    salt = int(rng.integers(0, 2**62))
    borrowers_full = borrowers_table(pop, config.start)
    borrower_ids = borrowers_full["borrower_id"]
    identities = pa.table(
        {
            "borrower_id": borrower_ids.take(pa.array(borrower)),
            "kind": pa.DictionaryArray.from_arrays(
                pa.array(kind.astype(np.int32)), pa.array(IDENTITY_KINDS)
            ).cast(pa.string()),
            "value": identity_values(kind, entity, salt),
        },
        schema=TABLES["identities"].arrow_schema(),
    )
    del borrower, kind, entity
    borrowers = _without_truth("borrowers", borrowers_full)
    sink.add("institutions", institutions)
    sink.add("borrowers", borrowers)
    sink.add(f"{TRUTH_FOLDER}/borrowers", borrowers_full.select(["borrower_id", *TABLES["borrowers"].truth]))
    sink.add("identities", identities)
    policy.prepare(borrowers, identities)
    del (
        identities,
        borrowers,
        borrowers_full,
    )  # written (or held by the sink): the month loop needs the ids only
    allocation = (
        None if funding is None else funding(institutions, np.asarray(REGIONS, dtype=object)[pop.region])
    )
    book = run_platform(rng, config, pop, policy, institution_model, capacity, say, allocation, collector)
    say("tables")
    pool = pa.default_memory_pool()
    pool.release_unused()  # the month loop's pandas frames are gone: hand their memory back
    for name, chunk in book_tables(
        book, pop, borrower_ids, institutions["institution_id"], config.start, policy.version
    ):
        sink.add(name, chunk)
        del chunk
    pool.release_unused()
    return book.servicing


def read_config(directory: str | os.PathLike[str]) -> SimulationConfig:
    """The configuration a written dataset was simulated with (its ``manifest.json``)."""
    import dataclasses
    from datetime import date

    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ParameterError("directory", f"{directory} has no {MANIFEST}: not a simulated dataset")
    recorded = json.loads(path.read_text())["config"]
    known = {f.name for f in dataclasses.fields(SimulationConfig)}
    values = {k: v for k, v in recorded.items() if k in known}
    values["start"] = date.fromisoformat(values["start"])
    return SimulationConfig(**values)


def _without_truth(name: str, data: pa.Table) -> pa.Table:
    return data.select([c for c in data.column_names if c not in TABLES[name].truth])


def write_dataset(
    result: SimulationResult,
    directory: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write every table as ``<name>.parquet`` (truth under ``truth/``) plus a manifest, all or nothing.

    The files are written to a temporary folder beside ``directory`` and renamed
    into place in one step, so a crash leaves either the old folder or the new one.
    """
    target = _writable(directory, overwrite)
    say = progress or (lambda _step: None)

    def fill(sink: ParquetSink) -> None:
        for folder, group in (("", result.tables), (TRUTH_FOLDER, result.truth)):
            for name, data in group.items():
                sink.add(f"{folder}/{name}" if folder else name, data)

    with replaced_atomically(target) as staging:
        files = ParquetSink.fill(staging, fill)
        _write_manifest(staging, result.config, files, say)
    return target


def _writable(directory: str | os.PathLike[str], overwrite: bool) -> Path:
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise ParameterError("out", f"{target} exists and is not a folder")
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise ParameterError("out", f"{target} is not empty; pass overwrite to replace it")
    return target


def _write_manifest(
    staging: Path, config: SimulationConfig, files: dict[str, dict[str, object]], say: Callable[[str], None]
) -> None:
    for relative in files:
        say(f"write {relative}")
    calendar = Calendar.of(config)
    manifest = {
        "format_version": FORMAT_VERSION,
        "creditmesh_version": __version__,
        "config": config.as_dict(),
        "end_date": str(calendar.start + np.timedelta64(calendar.horizon - 1, "D")),
        "files": dict(sorted(files.items())),
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))


class TableSink(Protocol):
    """Where the simulator hands its tables, a chunk at a time, each table's chunks in row order."""

    def add(self, name: str, chunk: pa.Table) -> None:
        """Append ``chunk``'s rows to table ``name`` (``truth/<table>`` for truth columns)."""
        ...


class MemorySink:
    """Holds the chunks; :meth:`tables` concatenates them (:func:`simulate`)."""

    def __init__(self) -> None:
        self.chunks: dict[str, list[pa.Table]] = {}

    def add(self, name: str, chunk: pa.Table) -> None:
        self.chunks.setdefault(name, []).append(chunk)

    def tables(self) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
        """The platform's tables and the truth tables, each in one piece, in the schema's order."""
        whole = {name: pa.concat_tables(self.chunks.pop(name)).combine_chunks() for name in list(self.chunks)}
        prefix = f"{TRUTH_FOLDER}/"
        tables = {name: whole.pop(name) for name in TABLE_ORDER}
        truth = {name[len(prefix) :]: whole.pop(name) for name in list(whole) if name.startswith(prefix)}
        if whole:
            raise RuntimeError(f"tables the simulator does not write: {sorted(whole)}")
        return tables, truth


class ParquetSink:
    """Streams each table to ``<folder>/<name>.parquet``, a row group (or more) a chunk. :data:`WRITER_THREADS`
    threads write (pyarrow encodes without the GIL, so writing overlaps the simulation and the files are
    encoded side by side), each file always on the same thread, so that its chunks stay in order; at most
    :data:`PENDING_CHUNKS` chunks wait, so the memory a chunk holds is handed back soon after it is built."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: dict[str, int] = {}
        self._threads = [ThreadPoolExecutor(max_workers=1) for _ in range(WRITER_THREADS)]
        self._thread_of: dict[str, ThreadPoolExecutor] = {}
        self._pending: deque[Future[None]] = deque()

    @classmethod
    def fill(cls, folder: Path, fill: Callable[[ParquetSink], object]) -> dict[str, dict[str, object]]:
        """The files ``fill`` writes through a sink into ``folder``: each one's rows and SHA-256 (a manifest's
        ``files``). If ``fill`` fails, the writers are stopped and the error raised."""
        sink = cls(folder)
        try:
            fill(sink)
        except BaseException:
            sink._stop()
            raise
        return sink._close()

    def add(self, name: str, chunk: pa.Table) -> None:
        relative = f"{name}.parquet"
        while len(self._pending) >= PENDING_CHUNKS:
            self._pending.popleft().result()
        thread = self._thread_of.setdefault(relative, self._threads[len(self._thread_of) % WRITER_THREADS])
        self._pending.append(thread.submit(self._write, relative, chunk))

    def _write(self, relative: str, chunk: pa.Table) -> None:
        writer = self.writers.get(relative)
        if writer is None:
            (self.folder / relative).parent.mkdir(parents=True, exist_ok=True)
            # ids and hashes are unique: dictionary-encoding them only costs time
            names = chunk.column_names
            dictionary = [c for c in names if not c.endswith(("_id", "value", "idempotency_key"))]
            writer = pq.ParquetWriter(
                self.folder / relative, chunk.schema, compression="zstd", use_dictionary=dictionary
            )
            self.writers[relative] = writer
            self.rows[relative] = 0
        if chunk.num_rows:
            writer.write_table(chunk)
        self.rows[relative] += chunk.num_rows

    def _finish(self, relative: str) -> dict[str, object]:
        self.writers.pop(relative).close()
        return {"rows": self.rows[relative], "sha256": sha256_file(self.folder / relative)}

    def _close(self) -> dict[str, dict[str, object]]:
        try:
            while self._pending:
                self._pending.popleft().result()
            finished = {
                relative: thread.submit(self._finish, relative)
                for relative, thread in self._thread_of.items()
            }
            return {relative: done.result() for relative, done in finished.items()}
        finally:
            self._stop()

    def _stop(self) -> None:
        for thread in self._threads:
            thread.shutdown(wait=True, cancel_futures=True)
        # a writer is left open only when writing failed: that error is the one raised
        for writer in self.writers.values():
            with contextlib.suppress(Exception):
                writer.close()
        self.writers.clear()
