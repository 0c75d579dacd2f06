"""Save and load a relationship graph as npz + Parquet, with a format version and a content hash (no pickle).

Layout of a graph folder::

    arrays.npz         sparse matrices and per-borrower / per-identifier arrays (allow_pickle=False)
    borrowers.parquet  borrower_id in index order
    identifiers.parquet namespace and hashed value in index order (absent for synthetic data)
    manifest.json      format_version, config, bad-input report, sha256 of every file

A save writes to a temporary folder beside the target and renames it into place,
so a failed build or save leaves the previous graph as it was. A load checks the
version and every file's hash before it trusts a byte.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from creditmesh.errors import SchemaError
from creditmesh.folders import replaced_atomically, sha256_file
from creditmesh.graph.build import NAMESPACES, BadInputReport, GraphConfig, RelationshipGraph

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


def write_folder(target: str | os.PathLike[str], kind: str, write: Callable[[Path], Mapping]) -> Path:
    """Run ``write(staging)`` into a fresh folder, hash its files, add the manifest, and swap it in for ``target``."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise SchemaError("out", f"{target} exists and is not a folder")
    with replaced_atomically(target) as staging:
        extra = dict(write(staging))
        files = {p.name: sha256_file(p) for p in sorted(staging.iterdir())}
        manifest = {"kind": kind, "format_version": FORMAT_VERSION, "files": files, **extra}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return target


def read_manifest(folder: str | os.PathLike[str], kind: str) -> dict:
    """The manifest of a saved folder, after checking its kind, version and every file's hash."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise SchemaError(str(folder), f"no {MANIFEST}: not a saved {kind}")
    manifest = json.loads(path.read_text())
    if manifest.get("kind") != kind:
        raise SchemaError(str(folder), f"holds a {manifest.get('kind')!r}, not a {kind!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise SchemaError(
            str(folder), f"format version {manifest.get('format_version')} is not {FORMAT_VERSION}"
        )
    for name, digest in manifest["files"].items():
        file = folder / name
        if not file.is_file():
            raise SchemaError(str(folder), f"{name} is missing")
        if sha256_file(file) != digest:
            raise SchemaError(str(folder), f"{name} does not match its content hash (changed or truncated)")
    return manifest


def save_csr(arrays: dict, name: str, matrix: sp.csr_matrix) -> None:
    arrays[f"{name}_data"] = matrix.data
    arrays[f"{name}_indices"] = matrix.indices
    arrays[f"{name}_indptr"] = matrix.indptr
    arrays[f"{name}_shape"] = np.array(matrix.shape, dtype=np.int64)


def load_csr(arrays, name: str) -> sp.csr_matrix:
    shape = tuple(int(v) for v in arrays[f"{name}_shape"])
    return sp.csr_matrix(
        (arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]), shape=shape
    )


def save_graph(graph: RelationshipGraph, directory: str | os.PathLike[str]) -> Path:
    """Write ``graph`` to ``directory`` all or nothing (see the module's layout)."""

    def write(staging: Path) -> dict:
        arrays: dict[str, np.ndarray] = {
            "registered_at_us": graph.registered_at_us,
            "identifier_namespace": graph.identifier_namespace,
            "holders": graph.holders,
            "hub": graph.hub,
        }
        save_csr(arrays, "incidence", graph.incidence)
        save_csr(arrays, "links", graph.links)
        np.savez(staging / "arrays.npz", **arrays)
        pq.write_table(pa.table({"borrower_id": graph.borrower_ids}), staging / "borrowers.parquet")
        if graph.identifier_values is not None:
            pq.write_table(
                pa.table(
                    {
                        "namespace": pa.array(np.asarray(NAMESPACES)[graph.identifier_namespace]),
                        "value": graph.identifier_values,
                    }
                ),
                staging / "identifiers.parquet",
            )
        return {
            "config": graph.config.as_dict(),
            "report": graph.report.as_dict(),
            "summary": graph.summary(),
        }

    return write_folder(directory, "relationship_graph", write)


def load_graph(directory: str | os.PathLike[str]) -> RelationshipGraph:
    """Read a graph written by :func:`save_graph`, refusing a folder whose files do not match their hashes."""
    folder = Path(directory)
    manifest = read_manifest(folder, "relationship_graph")
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        loaded = {k: arrays[k] for k in arrays.files}
    values = None
    if (folder / "identifiers.parquet").is_file():
        values = pq.read_table(folder / "identifiers.parquet")["value"].combine_chunks()
    report = dict(manifest["report"])
    report["examples"] = {k: tuple(v) for k, v in report["examples"].items()}
    return RelationshipGraph(
        config=GraphConfig.from_dict(manifest["config"]),
        borrower_ids=pq.read_table(folder / "borrowers.parquet")["borrower_id"].combine_chunks(),
        registered_at_us=loaded["registered_at_us"],
        identifier_namespace=loaded["identifier_namespace"],
        identifier_values=values,
        incidence=load_csr(loaded, "incidence"),
        holders=loaded["holders"],
        hub=loaded["hub"],
        links=load_csr(loaded, "links"),
        report=BadInputReport(**report),
    )
