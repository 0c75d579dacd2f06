"""Batch scoring on Apache Spark: a saved scorecard or GBM applied with ``mapInArrow``, PDs bit-identical to the local path.

The artifact's files travel with the task (read once on the driver, checked again by
:func:`~creditmesh.scoring.artifact.load_model` on each worker, so a changed byte is refused
there too); each partition loads the model once and scores its Arrow batches with
:func:`~creditmesh.scoring.serve.score_table_with_ids`, the function the local path calls. The same
rows through the same fitted objects give the same PD, score, grade and reasons, to the bit,
whatever the partitioning: every model scores a row from that row alone.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from creditmesh.errors import CreditmeshError, SchemaError
from creditmesh.scoring.artifact import MODEL_FILE, load_model

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

#: The columns scoring adds after the identifier columns (``*_id``), as Spark DDL.
SCORE_COLUMNS = "pd DOUBLE, score DOUBLE, grade STRING, reasons ARRAY<STRING>"


def artifact_files(path: str | Path) -> dict[str, bytes]:
    """The bytes of a saved model: ``{name: bytes}`` of its folder (GBM), or of its one JSON file (scorecard)."""
    path = Path(path)
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}
    if path.is_file():
        return {MODEL_FILE: path.read_bytes()}
    raise CreditmeshError("model", f"no model at {path}")


def _scorer(files: Mapping[str, bytes]):
    """The mapInArrow function: load the model from ``files`` once, then score each Arrow batch."""

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import pyarrow as pa

        from creditmesh.scoring.serve import score_table_with_ids

        with tempfile.TemporaryDirectory(prefix="creditmesh-model-") as folder:
            for name, data in files.items():
                (Path(folder) / name).write_bytes(data)
            model = load_model(folder)
        for batch in batches:
            scored = score_table_with_ids(model, batch.to_pandas())
            yield pa.RecordBatch.from_pandas(scored, preserve_index=False)

    return score


def score_frame(model_path: str | Path, frame: DataFrame) -> DataFrame:
    """Score every row of a Spark DataFrame: its ``*_id`` columns, then pd, score, grade and reasons."""
    files = artifact_files(model_path)
    load_model(model_path)  # refuse a bad artifact on the driver, before any task starts
    ids = [f for f in frame.schema.fields if f.name.endswith("_id")]
    overlap = [f.name for f in ids if f.name in ("pd", "score", "grade", "reasons")]
    if overlap:
        raise SchemaError("data", f"columns {overlap} clash with the scores")
    schema = ", ".join([f"`{f.name}` {f.dataType.simpleString()}" for f in ids] + [SCORE_COLUMNS])
    return frame.mapInArrow(_scorer(files), schema)


def score_parquet(model_path: str | Path, data: str | Path, out: str | Path, session=None) -> int:
    """Score a Parquet file or folder into the Parquet folder ``out`` (replaced); returns the rows scored."""
    from creditmesh.spark import spark_session

    session = session or spark_session("creditmesh-score")
    if not Path(data).exists():
        raise CreditmeshError("data", f"{data} does not exist")
    scored = score_frame(model_path, session.read.parquet(str(data))).cache()
    try:
        scored.write.mode("overwrite").parquet(str(out))
        return scored.count()
    finally:
        scored.unpersist()
