"""A scorecard anchor that cannot run on the project's own stack, served from its own virtual environment.

``benchmarks/_anchor_envs.py`` starts this script with the environment's interpreter
(``.bench-envs/<method>/bin/python anchor_worker.py <method>``) and talks to it one JSON
request a line on stdin; each answer is one stdout line starting with ``@@REPLY ``.
Everything the libraries print goes to stderr. Requests::

    {"op": "fit", "train": "<parquet>", "target": "<column>", "special": [...]}
                                                              -> {"ok": true, "fit_s": ..., "features": [...]}
    {"op": "predict", "test": "<parquet>", "out": "<parquet>"}  -> {"ok": true}   (column "p": P(bad))
    {"op": "quit"}

Fit time is measured here, around the library calls alone (no Parquet reading, no
process start-up). Models (the worker's argument; ``toad`` and ``toad_tutorial`` share toad's environment):

- ``scorecardpy``: ``var_filter`` (IV >= 0.02, missing <= 95 %, identical <= 95 %), ``woebin``
  (tree method, defaults), ``woebin_ply``, then ``LogisticRegression(penalty="l1", C=0.9,
  solver="saga")`` as in its README. A category unseen in training (left NaN by ``woebin_ply``)
  scores with WoE 0. Declared special values go to ``woebin(special_values=...)``.
- ``toad``, at full strength: ``toad.selection.select(empty=0.5, iv=0.05, corr=0.7)``,
  ``Combiner(method="dt", min_samples=0.05)`` (decision-tree cuts, about 0.04 AUC above ChiMerge on a
  table with many weak features), ``WOETransformer``, ``toad.selection.stepwise(estimator="ols",
  direction="both", criterion="aic")``, then ``LogisticRegression()``.
- ``toad_tutorial``: the same with ``Combiner(method="chi", min_samples=0.05)`` as in toad's
  tutorial. Its ChiMerge's cut points are sorted before use (a toad bug, see ``_sort_toad_chi_splits``).

toad has no option for special values: it bins a sentinel (-1, -99) as the number it is.

This file runs under the anchor's own older pandas, so it uses nothing from creditmesh.
"""

from __future__ import annotations

import builtins
import json
import sys
import time
import traceback
import warnings

REPLY = "@@REPLY "


def _no_input(prompt: str = "") -> str:
    raise RuntimeError(
        f"the library asked for interactive input ({prompt.strip()!r}); the benchmark cannot answer"
    )


class ScorecardpyModel:
    def __init__(self, special=()):
        self.special = list(special)

    def fit(self, train, target):
        import scorecardpy as sc
        from sklearn.linear_model import LogisticRegression

        filtered = sc.var_filter(train, y=target)
        self.bins = sc.woebin(filtered, y=target, check_cate_num=False, special_values=self.special or None)
        woe = sc.woebin_ply(filtered, self.bins)
        self.features = [c for c in woe.columns if c != target]
        self.raw = [c for c in filtered.columns if c != target]
        self.model = LogisticRegression(penalty="l1", C=0.9, solver="saga").fit(
            woe[self.features], woe[target]
        )
        return self.raw

    def predict(self, test):
        import scorecardpy as sc

        woe = sc.woebin_ply(test[self.raw], self.bins)[self.features]
        # woebin_ply leaves a category it did not see in training as NaN, which LogisticRegression
        # refuses; such a cell gets WoE 0 (no evidence either way), as a modeller would patch it.
        return self.model.predict_proba(woe.fillna(0.0))[:, 1]


def _sort_toad_chi_splits() -> None:
    """toad 0.1.7's Rust ChiMerge can return its cut points out of order (on Give Me Some Credit's
    MonthlyIncome: [5933, 10500, 10000, 9400]), and ``np.digitize`` then refuses them; keep its
    cut points, sorted."""
    import importlib

    import numpy as np

    module = importlib.import_module("toad.merge")  # the attribute toad.merge is the merge function
    if getattr(module.ChiMerge, "_sorted_by_benchmark", False):
        return
    original = module.ChiMerge

    def chi_merge(*args, **kwargs):
        return np.unique(np.asarray(original(*args, **kwargs)))

    chi_merge._sorted_by_benchmark = True
    module.ChiMerge = chi_merge


class ToadModel:
    #: ``Combiner`` method: "dt" at full strength, "chi" in toad's tutorial.
    method = "dt"

    def __init__(self, special=()):
        self.special = list(special)  # toad has no option for them (see the module docstring)

    def fit(self, train, target):
        import toad
        from sklearn.linear_model import LogisticRegression

        _sort_toad_chi_splits()

        selected = toad.selection.select(train, target=target, empty=0.5, iv=0.05, corr=0.7)
        self.combiner = toad.transform.Combiner()
        self.combiner.fit(selected, y=target, method=self.method, min_samples=0.05)
        self.woe = toad.transform.WOETransformer()
        woe = self.woe.fit_transform(self.combiner.transform(selected), selected[target], exclude=[target])
        final = toad.selection.stepwise(
            woe, target=target, estimator="ols", direction="both", criterion="aic"
        )
        self.features = [c for c in final.columns if c != target]
        self.raw = [c for c in selected.columns if c != target]
        self.model = LogisticRegression().fit(final[self.features], final[target])
        return self.features

    def predict(self, test):
        woe = self.woe.transform(self.combiner.transform(test[self.raw]))
        return self.model.predict_proba(woe[self.features])[:, 1]


class ToadTutorialModel(ToadModel):
    method = "chi"


MODELS = {"scorecardpy": ScorecardpyModel, "toad": ToadModel, "toad_tutorial": ToadTutorialModel}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in MODELS:
        sys.stderr.write(f"usage: anchor_worker.py {{{'|'.join(MODELS)}}}\n")
        return 2
    import pandas as pd

    reply_to = sys.stdout
    sys.stdout = sys.stderr  # library chatter must not mix with the replies
    builtins.input = _no_input
    warnings.simplefilter("ignore")
    factory = MODELS[argv[0]]
    model = None

    def reply(payload):
        reply_to.write(REPLY + json.dumps(payload) + "\n")
        reply_to.flush()

    reply({"ok": True, "ready": argv[0], "pandas": pd.__version__})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            if request["op"] == "quit":
                reply({"ok": True})
                return 0
            if request["op"] == "fit":
                train = pd.read_parquet(request["train"])
                model = factory(request.get("special") or ())
                started = time.perf_counter()
                features = model.fit(train, request["target"])
                reply(
                    {"ok": True, "fit_s": time.perf_counter() - started, "features": list(map(str, features))}
                )
            elif request["op"] == "predict":
                if model is None:
                    raise RuntimeError("predict before fit")
                test = pd.read_parquet(request["test"])
                pd.DataFrame({"p": model.predict(test)}).to_parquet(request["out"])
                reply({"ok": True})
            else:
                raise ValueError(f"unknown op {request['op']!r}")
        except Exception as error:  # noqa: BLE001 - every failure goes back to the benchmark as a row
            traceback.print_exc(file=sys.stderr)
            reply({"ok": False, "error": f"{type(error).__name__}: {error}"[:500]})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
