"""Run the simulation end to end and write it out atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

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
from creditmesh.simulate.tables import (
    application_tables,
    borrowers_table,
    collection_actions_table,
    credit_lines_table,
    loan_tables,
)

#: Where the truth columns go, apart from the tables the platform reads.
TRUTH_FOLDER = "truth"
MANIFEST = "manifest.json"
FORMAT_VERSION = 1
WRITER_THREADS = 2
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
    """Simulate the platform described by ``config`` (defaults: 20,000 borrowers over 24 months).

    ``funding`` builds the funding allocation once the institutions are drawn, from the institutions
    table and each borrower's region (e.g. ``creditmesh.matching.simulation.MatcherAllocation``, which
    the simulator cannot import: it is to its right); by default loans are funded by volume share.
    ``collector`` is who collects (e.g. ``creditmesh.collections.simulation.shipped_collector()``, the
    shipped strategy, which ``creditmesh simulate`` uses); by default nobody does, and borrowers pay as
    they would on their own.
    """
    config = config or SimulationConfig()
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
    policy.prepare(_without_truth("borrowers", borrowers_full), identities)
    allocation = (
        None if funding is None else funding(institutions, np.asarray(REGIONS, dtype=object)[pop.region])
    )
    book = run_platform(rng, config, pop, policy, institution_model, capacity, say, allocation, collector)
    say("tables")
    pool = pa.default_memory_pool()
    pool.release_unused()  # the month loop's pandas frames are gone: hand their memory back
    applications_full, decisions = application_tables(book, pop, borrower_ids, config.start, policy.version)
    book.applications.clear()  # free each batch of arrays as soon as its tables exist
    pool.release_unused()
    credit_lines = credit_lines_table(book, borrower_ids, config.start)
    loans, allocations, installments, payments = loan_tables(
        book, borrower_ids, institutions["institution_id"], config.start
    )
    book.installments.clear()
    actions = collection_actions_table(book, loans["loan_id"], config.start)
    book.collection_actions.clear()
    pool.release_unused()
    tables = {
        "institutions": institutions,
        "borrowers": _without_truth("borrowers", borrowers_full),
        "identities": identities,
        "applications": _without_truth("applications", applications_full),
        "decisions": decisions,
        "credit_lines": credit_lines,
        "allocations": allocations,
        "loans": loans,
        "installments": installments,
        "payments": payments,
        "collection_actions": actions,
    }
    truth = {
        "borrowers": borrowers_full.select(["borrower_id", *TABLES["borrowers"].truth]),
        "applications": applications_full.select(["application_id", *TABLES["applications"].truth]),
    }
    return SimulationResult(config, tables, truth, book.servicing)


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
    target = Path(directory)
    say = progress or (lambda _step: None)
    if target.exists() and not target.is_dir():
        raise ParameterError("out", f"{target} exists and is not a folder")
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise ParameterError("out", f"{target} is not empty; pass overwrite to replace it")
    with replaced_atomically(target) as staging:
        files: dict[str, dict[str, object]] = {}
        (staging / TRUTH_FOLDER).mkdir()
        jobs = [
            (f"{folder}/{name}.parquet" if folder else f"{name}.parquet", data)
            for folder, group in (("", result.tables), (TRUTH_FOLDER, result.truth))
            for name, data in group.items()
        ]

        def write(relative: str, data: pa.Table) -> tuple[str, dict[str, object]]:
            # ids and hashes are unique: dictionary-encoding them only costs time
            dictionary = [c for c in data.column_names if not c.endswith(("_id", "value", "idempotency_key"))]
            pq.write_table(data, staging / relative, compression="zstd", use_dictionary=dictionary)
            return relative, {"rows": data.num_rows, "sha256": sha256_file(staging / relative)}

        # pyarrow releases the GIL while it encodes, so two writers use both cores
        with ThreadPoolExecutor(max_workers=WRITER_THREADS) as pool:
            for relative, record in pool.map(lambda job: write(*job), jobs):
                say(f"write {relative}")
                files[relative] = record
        files = dict(sorted(files.items()))
        manifest = {
            "format_version": FORMAT_VERSION,
            "creditmesh_version": __version__,
            "config": result.config.as_dict(),
            "end_date": str(result.end_date),
            "files": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return target
