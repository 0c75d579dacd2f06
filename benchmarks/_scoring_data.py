"""Labelled credit tables for the scoring benchmarks: where they live, how each is read, and the folds.

Each data set in ``shared/data/README.md`` that carries a probability-of-default style
target has a :class:`DatasetSpec` here. Loading one gives ``(X, y)``: ``X`` a DataFrame
whose numerical columns are float64 (NaN for missing) and whose string columns are
``object`` (the contract the scoring models take), ``y`` an int8 array with bad = 1.
Id columns are dropped, and so are protected attributes (HMDA's ``afam``), which a
credit model must never take as input.

The data folder is ``$CREDITMESH_DATA`` when set, else ``shared/data`` beside the
repository (``<repo>/../shared/data``; from a git worktree the main checkout's parent
is tried too). Any other CSV or Parquet file loads through :func:`load_table`.

Importing this module has no side effects, and running it as a script does nothing
(``make bench`` loops over ``benchmarks/*.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
#: One split for every method: StratifiedKFold(shuffle=True) with this seed unless --seed says otherwise.
SPLIT_SEED = 20_251_125
#: Target labels read as "bad" (= 1) when a target column holds strings; matched case-insensitively.
BAD_LABELS = ("bad", "yes", "y", "true", "t", "default", "defaulted", "1", "1.0")
GOOD_LABELS = ("good", "no", "n", "false", "f", "0", "0.0", "paid", "current")


class DataError(ValueError):
    """A data set or column that cannot be used, with the reason and what exists instead."""


@dataclass(frozen=True)
class DatasetSpec:
    """One labelled table in the shared data folder and how to read it."""

    name: str
    folder: str
    file: str
    target: str
    bad: str | int
    drop: tuple[str, ...] = ()
    note: str = ""
    #: A stratified sample of this many rows (seed SPLIT_SEED) instead of the whole table.
    max_rows: int | None = None


#: The data sets issue #5 names, by the short name used in result rows (``auc_<name>_<method>``).
DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("taiwan", "taiwan_credit_card_default", "taiwan_default.csv.gz", "target", 1, ("ID",)),
        DatasetSpec(
            "gmsc",
            "give_me_some_credit",
            "cs_training.csv.gz",
            "SeriousDlqin2yrs",
            1,
            ("Id",),
            "Kaggle rules: local benchmarking only",
        ),
        DatasetSpec("german", "german_credit", "german_credit.csv.gz", "creditability", "bad"),
        DatasetSpec("lending_club", "lending_club_2016q1", "lending_club.csv.gz", "Class", "bad"),
        # afam is a protected attribute (never a model input); insurance nearly leaks the target
        # (44 of its 48 applicants were denied), so the README asks for both variants.
        DatasetSpec(
            "hmda",
            "mortgage_applications_boston",
            "hmda_aer.csv.gz",
            "deny",
            "yes",
            ("afam",),
            "afam dropped (protected)",
        ),
        DatasetSpec(
            "hmda_no_insurance",
            "mortgage_applications_boston",
            "hmda_aer.csv.gz",
            "deny",
            "yes",
            ("afam", "insurance"),
            "afam (protected) and insurance (near-leak) dropped",
        ),
        # Many weak features: the 80,000 x 84 consumer-loan table is not in shared/data, so
        # the one real table there with many weak, sparse features stands in, cut to its size.
        DatasetSpec(
            "ieee_80k",
            "ieee_cis_fraud",
            "ieee_cis_train_subset.csv.gz",
            "isFraud",
            1,
            ("TransactionID", "TransactionDT"),
            "Kaggle rules: local benchmarking only; 80,000 rows drawn stratified; many weak features",
            max_rows=80_000,
        ),
    )
}
#: Folder names (as in the README) accepted wherever a short name is.
ALIASES = {
    "taiwan_credit_card_default": "taiwan",
    "give_me_some_credit": "gmsc",
    "german_credit": "german",
    "lending_club_2016q1": "lending_club",
    "mortgage_applications_boston": "hmda",
    "ieee_cis_fraud": "ieee_80k",
}


def data_root() -> Path:
    """The shared data folder: $CREDITMESH_DATA, else ``shared/data`` beside this repository or its main checkout."""
    env = os.environ.get("CREDITMESH_DATA")
    if env:
        return Path(env).expanduser()
    candidates = [REPO.parent / "shared" / "data"]
    try:  # a git worktree's parent need not hold shared/; the main checkout's parent does
        common = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--path-format=absolute", "--git-common-dir"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        if common:
            candidates.append(Path(common).parent.parent / "shared" / "data")
    except (OSError, subprocess.SubprocessError):
        pass
    candidates.append(Path("/work/shared/data"))
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def resolve_names(names: str | None) -> list[str]:
    """``--datasets`` as a list of short names (all of them when empty); an unknown name raises DataError."""
    if not names:
        return list(DATASETS)
    out = []
    for raw in (part.strip() for part in names.split(",")):
        if not raw:
            continue
        name = ALIASES.get(raw, raw)
        if name not in DATASETS:
            raise DataError(f"unknown data set {raw!r}; known: {', '.join(DATASETS)}")
        out.append(name)
    return out


def read_frame(path: str | Path) -> pd.DataFrame:
    """A CSV (optionally compressed) or Parquet file as a DataFrame."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no such file: {path}")
    suffixes = "".join(path.suffixes).lower()
    if ".parquet" in suffixes or suffixes.endswith(".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, low_memory=False)


def target_to_binary(values: pd.Series, bad: str | int | None = None) -> np.ndarray:
    """A two-valued target column as 0/1 with bad = 1.

    ``bad`` names the bad label; without it 0/1 numbers are taken as they are and
    string labels are read through BAD_LABELS / GOOD_LABELS. Missing targets raise.
    """
    if values.isna().any():
        raise DataError(f"target {values.name!r} has {int(values.isna().sum())} missing values")
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    text = values.astype(str).str.strip().str.lower()
    labels = set(values.astype(float).astype(str)) if numeric else set(text)
    if len(labels) != 2:
        raise DataError(
            f"target {values.name!r} must hold exactly two values, found {len(labels)}: {sorted(labels)[:5]}"
        )
    if bad is not None:
        label = str(bad).strip().lower()
        if numeric:
            try:
                return (
                    (values.astype(float) == float(label)).to_numpy(dtype=np.int8)
                    if str(float(label)) in labels
                    else _no_such_label(values, bad)
                )
            except ValueError:
                _no_such_label(values, bad)
        if label not in labels:
            _no_such_label(values, bad)
        return (text == label).to_numpy(dtype=np.int8)
    if numeric and labels == {"0.0", "1.0"}:
        return values.to_numpy(dtype=np.int8)
    bad_found = [label for label in labels if label in BAD_LABELS]
    good_found = [label for label in labels if label in GOOD_LABELS]
    if not numeric and len(bad_found) == 1 and (len(good_found) == 1 or len(labels - set(bad_found)) == 1):
        return (text == bad_found[0]).to_numpy(dtype=np.int8)
    raise DataError(
        f"cannot tell which value of target {values.name!r} is bad: {sorted(labels)}; pass --bad VALUE"
    )


def _no_such_label(values: pd.Series, bad: str | int) -> np.ndarray:
    raise DataError(f"target {values.name!r} has no value {bad!r}; values: {sorted(set(values.astype(str)))}")


def _is_id_column(name: str) -> bool:
    lowered = name.lower()
    return lowered in ("id", "index", "unnamed: 0") or lowered.endswith("_id")


def _as_text(series: pd.Series) -> pd.Series:
    """Strings as an object column, missing as NaN."""
    values = [np.nan if pd.isna(v) else str(v) for v in series.astype(object)]
    return pd.Series(values, index=series.index, dtype=object, name=series.name)


def prepare_features(frame: pd.DataFrame, *, target: str, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """The feature columns of ``frame``: numbers as float64, strings and booleans as object, ids and ``drop`` gone.

    Date/time columns are dropped (no scorecard anchor bins them); a column named in ``drop``
    that does not exist raises DataError.
    """
    missing = [column for column in drop if column not in frame.columns]
    if missing:
        raise DataError(f"cannot drop {missing}: no such columns; columns: {list(frame.columns)}")
    keep = [c for c in frame.columns if c != target and c not in drop and not _is_id_column(str(c))]
    out = {}
    for column in keep:
        series = frame[column]
        if pd.api.types.is_bool_dtype(series):
            out[str(column)] = _as_text(series)
        elif pd.api.types.is_numeric_dtype(series):
            out[str(column)] = series.astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(series) or isinstance(series.dtype, pd.PeriodDtype):
            continue
        else:
            out[str(column)] = _as_text(series)
    if not out:
        raise DataError("no feature columns left after dropping the target, ids and dropped columns")
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def load_table(
    path: str | Path, target: str, *, bad: str | int | None = None, drop: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, np.ndarray]:
    """A modeller's CSV/Parquet file as ``(X, y)``; ``target`` must be a column with two values."""
    frame = read_frame(path)
    if target not in frame.columns:
        raise DataError(f"no target column {target!r} in {path}; columns: {list(frame.columns)}")
    y = target_to_binary(frame[target], bad)
    return prepare_features(frame, target=target, drop=drop), y


def load_dataset(name: str, root: Path | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """One of DATASETS as ``(X, y)``, read from the shared data folder."""
    spec = DATASETS[ALIASES.get(name, name)]
    path = (root or data_root()) / spec.folder / spec.file
    if not path.is_file():
        raise DataError(f"{spec.name}: {path} not found (set CREDITMESH_DATA to the shared data folder)")
    X, y = load_table(path, spec.target, bad=spec.bad, drop=spec.drop)
    return stratified_sample(X, y, spec.max_rows) if spec.max_rows else (X, y)


def stratified_folds(
    y: np.ndarray, folds: int, seed: int = SPLIT_SEED
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, test) row indices of a shuffled stratified k-fold split, the same for every method."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), y))


def stratified_sample(
    X: pd.DataFrame, y: np.ndarray, rows: int, seed: int = SPLIT_SEED
) -> tuple[pd.DataFrame, np.ndarray]:
    """At most ``rows`` rows, drawn stratified on ``y``, in their original order."""
    if rows >= len(y):
        return X, y
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(y)), train_size=rows, stratify=y, random_state=seed)
    keep = np.sort(keep)
    return X.iloc[keep].reset_index(drop=True), y[keep]


if __name__ == "__main__":  # a helper, not a benchmark
    sys.exit(0)
