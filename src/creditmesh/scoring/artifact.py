"""Saving and loading fitted models as readable, versioned, hashed artifacts (never pickle).

* A scorecard is one JSON file: parameters, bins, coefficients, points.
* A GBM is a folder: ``model.json`` (parameters, encoder, calibration, blend, the
  scorecards underneath) and LightGBM's own text model per booster.

``model.json`` carries the format version, the training data's fingerprint and a
SHA-256 content hash over its canonical JSON, which lists every booster file's
own hash; :func:`load_model` refuses an artifact whose bytes no longer match.
Saving is atomic: the new artifact is written beside the old one and renamed over it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from creditmesh.errors import CreditmeshError, SchemaError
from creditmesh.scoring.binning import BinningProcess, FeatureBinning
from creditmesh.scoring.calibration import Calibrator
from creditmesh.scoring.forest import Forest
from creditmesh.scoring.gbm import FeatureEncoder, GBMClassifier
from creditmesh.scoring.scorecard import Scorecard

FORMAT = "creditmesh.scoring.model"
FORMAT_VERSION = 1
MODEL_FILE = "model.json"


def save_model(model: Scorecard | GBMClassifier, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (a ``.json`` file for a scorecard, a folder for a GBM) atomically."""
    path = Path(path)
    training = getattr(model, "training_", None)
    if isinstance(model, Scorecard):
        model._check_fitted()
        document = _document("scorecard", _scorecard_state(model), training, files={})
        _atomic_write_file(path, _dumps(document))
        return path
    if isinstance(model, GBMClassifier):
        model._check_fitted()
        texts = {f"booster_{k}.txt": b.model_to_string().encode() for k, b in enumerate(model.boosters_)}
        state = {
            "params": model.get_params(),
            "encoder": model.encoder_.to_dict(),
            "monotone": model.monotone_,
            "search": model.search_,
            "calibrator": model.calibrator_.to_dict(),
            "calibration_losses": model.calibration_losses_,
            "blend_weights": list(model.blend_weights_),
            "best_iterations": model.best_iterations_,
            "scorecards": [_scorecard_state(s) for s in model.scorecards_],
            "boosters": sorted(texts),
        }
        document = _document(
            "gbm", state, training, files={n: hashlib.sha256(t).hexdigest() for n, t in texts.items()}
        )
        _atomic_write_dir(path, {MODEL_FILE: _dumps(document), **texts})
        return path
    raise SchemaError("model", f"expected a fitted Scorecard or GBMClassifier, got {type(model).__name__}")


def load_model(path: str | Path) -> Scorecard | GBMClassifier:
    """Read an artifact written by :func:`save_model`, checking its format, version and hashes."""
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() else path
    if not file.exists():
        raise CreditmeshError("model", f"no model at {path}")
    try:
        document = json.loads(file.read_text())
    except (OSError, ValueError) as error:
        raise CreditmeshError("model", f"{file} is not a model file: {error}") from None
    if document.get("format") != FORMAT:
        raise CreditmeshError(
            "model", f"{file} is not a creditmesh model (format {document.get('format')!r})"
        )
    if document.get("format_version") != FORMAT_VERSION:
        raise CreditmeshError(
            "model",
            f"{file} has format version {document.get('format_version')}, "
            f"this creditmesh reads {FORMAT_VERSION}",
        )
    if _content_hash(document) != document.get("content_hash"):
        raise CreditmeshError(
            "model", f"{file}: content hash does not match; the file changed after it was saved"
        )
    texts = {}
    for name, digest in document["files"].items():
        data = (path / name).read_bytes() if (path / name).exists() else b""
        if hashlib.sha256(data).hexdigest() != digest:
            raise CreditmeshError("model", f"{path / name} is missing or changed after the model was saved")
        texts[name] = data.decode()
    state = document["state"]
    if document["kind"] == "scorecard":
        model = _scorecard_from(state)
    else:
        model = _gbm_from(state, texts)
    model.training_ = document.get("training")
    model.content_hash_ = document["content_hash"]
    return model


# -- scorecard ------------------------------------------------------------------------------


def _scorecard_state(model: Scorecard) -> dict[str, Any]:
    params = model.get_params(deep=False)
    params["binning"] = model.binning.get_params() if model.binning is not None else None
    return {
        "params": params,
        "binning": {
            "params": model.binning_.get_params(),
            "features": model.binning_.features_,
            "binnings": [model.binning_.binnings_[f].to_dict() for f in model.binning_.features_],
        },
        "features": list(model.features_),
        "coef": [float(c) for c in model.coef_],
        "intercept": float(model.intercept_),
        "points": {f: [float(v) for v in p] for f, p in model.points_.items()},
        "selection": model.selection_.to_dict(orient="records"),
        "min_iv": float(model.min_iv_),
        "sign": model.sign_,
        "cv": model.cv_results_.to_dict(orient="list") if model.cv_results_ is not None else None,
    }


def _binning_from(state: Mapping[str, Any]) -> BinningProcess:
    binning = BinningProcess(**state["params"])
    binning.features_ = list(state["features"])
    binning.binnings_ = {b["name"]: FeatureBinning.from_dict(b) for b in state["binnings"]}
    binning.n_features_in_ = len(binning.features_)
    binning.feature_names_in_ = np.asarray(binning.features_, dtype=object)
    return binning


def _scorecard_from(state: Mapping[str, Any]) -> Scorecard:
    params = dict(state["params"])
    if params.get("binning") is not None:
        params["binning"] = BinningProcess(**params["binning"])
    model = Scorecard(**params)
    model.binning_ = _binning_from(state["binning"])
    model.features_ = list(state["features"])
    model.coef_ = np.asarray(state["coef"], dtype=np.float64)
    model.intercept_ = float(state["intercept"])
    model.selection_ = pd.DataFrame(state["selection"])
    model.min_iv_ = float(state.get("min_iv", params.get("min_iv") if params.get("min_iv") != "cv" else 0.0))
    # artifacts saved before the sign rule was a choice were fitted under it
    model.sign_ = str(state.get("sign", "positive"))
    model.cv_results_ = pd.DataFrame(state["cv"]) if state.get("cv") is not None else None
    model.classes_ = np.array([0, 1])
    model.n_features_in_ = model.binning_.n_features_in_
    model.feature_names_in_ = model.binning_.feature_names_in_
    model._build_tables()
    saved = {f: np.asarray(p) for f, p in state["points"].items()}
    if any(not np.array_equal(saved[f], model.points_[f]) for f in model.features_):
        raise CreditmeshError("model", "the saved points do not follow from the saved coefficients and bins")
    return model


# -- gbm ------------------------------------------------------------------------------------------


def _gbm_from(state: Mapping[str, Any], texts: Mapping[str, str]) -> GBMClassifier:
    import lightgbm as lgb

    params = dict(state["params"])
    params.setdefault("search", "none")  # saved before the shape search: fitted on the estimator's own shape
    model = GBMClassifier(**params)
    model.encoder_ = FeatureEncoder.from_dict(state["encoder"])
    model.monotone_ = dict(state["monotone"])
    model.search_ = dict(
        state.get("search") or {"params": {}, "monotone": params["monotone"], "candidates": []}
    )
    model.calibrator_ = Calibrator.from_dict(state["calibrator"])
    model.calibration_losses_ = dict(state["calibration_losses"])
    model.blend_weights_ = tuple(state["blend_weights"])
    model.best_iterations_ = list(state["best_iterations"])
    model.scorecards_ = [_scorecard_from(s) for s in state["scorecards"]]
    model.boosters_ = [lgb.Booster(model_str=texts[name]) for name in state["boosters"]]
    model.forest_ = Forest.from_model_strings([texts[name] for name in state["boosters"]])
    model.classes_ = np.array([0, 1])
    model.features_ = list(model.encoder_.features)
    model.n_features_in_ = len(model.features_)
    model.feature_names_in_ = np.asarray(model.features_, dtype=object)
    return model


# -- the document -----------------------------------------------------------------------------------


def _document(
    kind: str, state: dict, training: Mapping[str, Any] | None, files: Mapping[str, str]
) -> dict[str, Any]:
    from creditmesh import __version__

    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "creditmesh_version": __version__,
        "training": dict(training) if training is not None else None,
        "files": dict(files),
        "state": state,
    }
    document["content_hash"] = _content_hash(document)
    return document


def _content_hash(document: Mapping[str, Any]) -> str:
    body = {k: v for k, v in document.items() if k != "content_hash"}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()
    ).hexdigest()


def _dumps(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=1, allow_nan=True) + "\n").encode()


def _atomic_write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(temp, 0o666 & ~umask)  # mkstemp makes 0600; a saved model is an ordinary file
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _atomic_write_dir(path: Path, files: Mapping[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(staging, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
