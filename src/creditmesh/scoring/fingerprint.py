"""The fingerprint of a training table, stored with every model so an audit can tell what it learnt from."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pandas as pd


def data_fingerprint(X: pd.DataFrame, y: Any) -> dict[str, Any]:
    """What a model was trained on: shape, columns, bad rate and a SHA-256 of the values."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in X.columns]).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    target = np.asarray(y, dtype=np.float64)
    digest.update(target.tobytes())
    return {
        "rows": int(len(X)),
        "columns": [str(c) for c in X.columns],
        "bad_rate": float(target.mean()),
        "sha256": digest.hexdigest(),
    }
