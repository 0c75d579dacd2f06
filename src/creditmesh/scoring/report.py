"""The model report: one HTML page with the figures and charts a model validator asks for.

ROC, KS, calibration, score distribution by outcome, WoE per bin of each feature
and, given a reference sample, PSI of the score and CSI of every feature.
Charts are matplotlib PNGs embedded in the page, so the file stands alone.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from creditmesh.charts import new_figure, png_base64
from creditmesh.scoring import metrics
from creditmesh.scoring.binning import BinningProcess
from creditmesh.scoring.gbm import GBMClassifier
from creditmesh.scoring.scorecard import Scorecard
from creditmesh.scoring.serve import score_table

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
td, th { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; } img { width: 100%; }
.shifted { color: #b00; font-weight: bold; } .watch { color: #b60; }
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ kind }} · content hash <code>{{ content_hash }}</code> · trained on {{ training }}</p>
<h2>Performance</h2>
{{ summary | safe }}
<div class="grid">{% for chart in charts %}<figure><img alt="{{ chart.title }}" src="data:image/png;base64,{{ chart.png }}"><figcaption>{{ chart.title }}</figcaption></figure>{% endfor %}</div>
<h2>Gains and lift</h2>
{{ gains | safe }}
{% if stability %}<h2>Stability against the reference sample</h2>{{ stability | safe }}{% endif %}
<h2>Bins and weights of evidence</h2>
<div class="grid">{% for chart in woe_charts %}<figure><img alt="{{ chart.title }}" src="data:image/png;base64,{{ chart.png }}"><figcaption>{{ chart.title }}</figcaption></figure>{% endfor %}</div>
{% for name, table in bin_tables %}<h3>{{ name }}</h3>{{ table | safe }}{% endfor %}
</body></html>
"""


def _charts(y: np.ndarray, p: np.ndarray, score: np.ndarray) -> list[dict[str, str]]:
    charts = []
    share, tpr, fpr = metrics.cumulative_shares(y, p)
    fig, ax = new_figure((5, 4))
    ax.plot(fpr, tpr, label=f"AUC {metrics.auc(y, p):.3f}")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="share of goods", ylabel="share of bads", title="ROC")
    ax.legend()
    charts.append({"title": "ROC curve", "png": png_base64(fig)})

    fig, ax = new_figure((5, 4))
    ax.plot(share, tpr, label="bads")
    ax.plot(share, fpr, label="goods")
    gap = np.abs(tpr - fpr)
    at = int(np.argmax(gap))
    ax.vlines(share[at], fpr[at], tpr[at], color="red", label=f"KS {gap[at]:.3f}")
    ax.set(xlabel="share of applicants, riskiest first", ylabel="cumulative share", title="KS")
    ax.legend()
    charts.append({"title": "Kolmogorov–Smirnov", "png": png_base64(fig)})

    table = metrics.calibration_table(y, p, bins=10)
    fig, ax = new_figure((5, 4))
    ax.plot(table.mean_pd, table.bad_rate, "o-", label=f"ECE {metrics.ece(y, p):.4f}")
    top = max(table.mean_pd.max(), table.bad_rate.max()) * 1.05
    ax.plot([0, top], [0, top], "--", color="grey")
    ax.set(xlabel="mean predicted PD", ylabel="observed bad rate", title="Calibration (deciles)")
    ax.legend()
    charts.append({"title": "Calibration", "png": png_base64(fig)})

    fig, ax = new_figure((5, 4))
    bins = np.histogram_bin_edges(score, bins=40)
    ax.hist(score[y == 0], bins=bins, alpha=0.6, density=True, label="goods")
    ax.hist(score[y == 1], bins=bins, alpha=0.6, density=True, label="bads")
    ax.set(xlabel="score", ylabel="density", title="Score by outcome")
    ax.legend()
    charts.append({"title": "Score distribution by outcome", "png": png_base64(fig)})
    return charts


def _woe_charts(binning: BinningProcess, features: list[str]) -> list[dict[str, str]]:
    charts = []
    for name in features:
        table = binning.binning_table(name).iloc[:-1]
        table = table[table["count"] > 0]
        fig, ax = new_figure((5, 3.2))
        ax.bar(range(len(table)), table["woe"], color=["#c44" if w > 0 else "#4a4" for w in table["woe"]])
        ax.set_xticks(
            range(len(table)), [str(b)[:18] for b in table["bin"]], rotation=60, ha="right", fontsize=7
        )
        ax.set(ylabel="WoE (higher is riskier)", title=f"{name} (IV {binning.binnings_[name].iv:.3f})")
        charts.append({"title": name, "png": png_base64(fig)})
    return charts


def _binning_of(model: Scorecard | GBMClassifier) -> tuple[BinningProcess | None, list[str]]:
    if isinstance(model, Scorecard):
        return model.binning_, list(model.features_)
    if model.scorecards_:
        first = model.scorecards_[0]
        return first.binning_, list(first.features_)
    return None, []


def stability(
    model: Scorecard | GBMClassifier, reference: pd.DataFrame, current: pd.DataFrame
) -> pd.DataFrame:
    """PSI of the score and CSI of every binned feature between two samples, with their status."""
    ref_scores = score_table(model, reference)["score"].to_numpy()
    cur_scores = score_table(model, current)["score"].to_numpy()
    rows = [{"what": "score (PSI)", **_as_row(metrics.psi(ref_scores, cur_scores))}]
    binning, features = _binning_of(model)
    if binning is not None:
        ref_bins = binning.bins(reference, features)
        cur_bins = binning.bins(current, features)
        for name in features:
            n_bins = binning.binnings_[name].n_bins
            rows.append(
                {
                    "what": f"{name} (CSI)",
                    **_as_row(metrics.psi_of_bins(ref_bins[name], cur_bins[name], n_bins)),
                }
            )
    return pd.DataFrame(rows)


def _as_row(value: metrics.Stability) -> dict[str, Any]:
    return {"value": round(value.value, 4), "status": value.status}


def write_report(
    model: Scorecard | GBMClassifier,
    X: pd.DataFrame,
    y: np.ndarray,
    path: str | Path,
    *,
    title: str = "Model report",
    reference: pd.DataFrame | None = None,
) -> Path:
    """Evaluate ``model`` on ``(X, y)`` and write the HTML report to ``path``."""
    from jinja2 import Environment

    y = np.asarray(y, dtype=np.float64)
    scored = score_table(model, X)
    p = scored["pd"].to_numpy()
    summary = pd.DataFrame([metrics.summary(y, p)]).round(4)
    binning, features = _binning_of(model)
    stability_html = ""
    if reference is not None:
        table = stability(model, reference, X)
        stability_html = table.to_html(
            index=False,
            classes="stability",
            formatters={"status": lambda s: f'<span class="{s}">{html.escape(s)}</span>'},
            escape=False,
        )
    training = getattr(model, "training_", None) or {}
    page = (
        Environment(autoescape=True)
        .from_string(_PAGE)
        .render(
            title=title,
            kind=type(model).__name__,
            content_hash=getattr(model, "content_hash_", "(not saved)"),
            training=f"{training.get('rows', '?')} rows, bad rate {training.get('bad_rate', float('nan')):.4f}",
            summary=summary.to_html(index=False),
            charts=_charts(y, p, scored["score"].to_numpy()),
            gains=metrics.gains_table(y, p).round(4).to_html(index=False),
            stability=stability_html,
            woe_charts=_woe_charts(binning, features) if binning is not None else [],
            bin_tables=[(f, binning.binning_table(f).round(4).to_html(index=False)) for f in features]
            if binning
            else [],
        )
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path
