"""``creditmesh model``: build a training table, train, evaluate, score and monitor credit models."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from creditmesh.cli.common import Engine, EngineOption, OutputFormat, read_table, spark_session_for, steps
from creditmesh.errors import ParameterError

app = typer.Typer(
    help="Credit models: build a training table, train, evaluate, score, monitor.", no_args_is_help=True
)


class ModelKind(str, enum.Enum):
    scorecard = "scorecard"
    gbm = "gbm"


def _split_list(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _special_values(value: str | None) -> list[float] | None:
    """``--special -1,-99`` as numbers; anything else is an error naming the option."""
    items = _split_list(value)
    if not items:
        return None
    try:
        return [float(v) for v in items]
    except ValueError:
        raise ParameterError(
            "special", f"expected comma-separated numbers such as -1,-99, got {value!r}"
        ) from None


@app.command("dataset")
def dataset(
    directory: Annotated[Path, typer.Argument(help="A folder written by `creditmesh simulate`.")],
    out: Annotated[Path, typer.Option(help="Parquet file to write.")],
    seed: Annotated[int, typer.Option(help="Seed of the outcome draw.")] = 0,
) -> None:
    """Write the credit-line applications of a simulated platform with features, `approved` and `bad_12m`."""
    from creditmesh.scoring.dataset import read_credit_line_table

    table = read_credit_line_table(directory, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out, index=False)
    typer.echo(
        f"wrote {out}: {len(table):,} applications, {table.approved.mean():.1%} approved, "
        f"bad rate {table.bad_12m.mean():.2%} (approved {table.bad_12m[table.approved].mean():.2%})"
    )


@app.command("train")
def train(
    data: Annotated[Path, typer.Option(help="Training table (.parquet or .csv).")],
    target: Annotated[str, typer.Option(help="Outcome column: 1 bad, 0 good.")],
    out: Annotated[
        Path, typer.Option(help="Where to save the model (.json for a scorecard, a folder for a GBM).")
    ],
    kind: Annotated[ModelKind, typer.Option(help="Model type.")] = ModelKind.scorecard,
    drop: Annotated[str | None, typer.Option(help="Comma-separated columns that are not features.")] = None,
    where: Annotated[
        str | None, typer.Option(help="Train only on rows where this boolean column is true (e.g. approved).")
    ] = None,
    reject_inference: Annotated[
        str | None, typer.Option(help="augment or parcel, using the --where column as approval.")
    ] = None,
    special: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated numbers that mean 'not a value' (sentinels such as -1,-99): the scorecard "
            "bins each apart, in every numerical feature."
        ),
    ] = None,
) -> None:
    """Fit a scorecard or a GBM and save it as a versioned artifact."""
    from creditmesh.scoring import GBMClassifier, Scorecard
    from creditmesh.scoring.artifact import save_model
    from creditmesh.scoring.dataset import feature_frame
    from creditmesh.scoring.reject import training_set

    special_values = _special_values(special)
    if special_values is not None and kind is not ModelKind.scorecard:
        raise ParameterError(
            "special", "applies to --kind scorecard (a GBM splits on sentinel values itself)"
        )
    frame = read_table(data)
    drops = _split_list(drop) + ([where] if where else [])
    X = feature_frame(frame, target, drops)
    y = frame[target].to_numpy()
    weight = None
    if reject_inference is not None and where is None:
        raise ParameterError("reject_inference", "needs --where naming the approval column")
    if where is not None:
        if where not in frame.columns:
            raise ParameterError("where", f"{where!r} is not a column")
        training = training_set(X, y, frame[where].to_numpy(dtype=bool), reject_inference=reject_inference)
        X, y, weight = training.X, training.y, training.weight
    with steps(2, f"train {kind.value}") as step:
        model = (
            Scorecard(special_values=special_values) if kind is ModelKind.scorecard else GBMClassifier()
        ).fit(X, y, sample_weight=weight)
        step("fitted")
        save_model(model, out)
        step("saved")
    features = model.features_
    typer.echo(
        f"saved {kind.value} to {out}: {len(features)} features ({', '.join(features[:8])}"
        f"{', …' if len(features) > 8 else ''}), trained on {len(X):,} rows"
    )


@app.command("evaluate")
def evaluate(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")],
    data: Annotated[Path, typer.Option(help="Table with the outcome.")],
    target: Annotated[str, typer.Option(help="Outcome column.")],
    report: Annotated[Path | None, typer.Option(help="Write the HTML model report here.")] = None,
    reference: Annotated[
        Path | None, typer.Option(help="Reference sample for PSI/CSI in the report.")
    ] = None,
) -> None:
    """AUC, Gini, KS, Brier and calibration error on a labelled table, and optionally the HTML report."""
    from creditmesh.scoring import metrics as model_metrics
    from creditmesh.scoring.artifact import load_model
    from creditmesh.scoring.dataset import feature_frame
    from creditmesh.scoring.report import write_report

    model = load_model(model_path)
    frame = read_table(data)
    X = feature_frame(frame, target, [])
    y = frame[target].to_numpy(dtype=float)
    figures = model_metrics.summary(y, model.predict_proba(X)[:, 1])
    if report is not None:
        ref = feature_frame(read_table(reference), target, []) if reference is not None else None
        write_report(model, X, y, report, title=f"Model report: {model_path.name}", reference=ref)
    typer.echo("  ".join(f"{k} {v:.4f}" if k != "rows" else f"rows {int(v):,}" for k, v in figures.items()))
    if report is not None:
        typer.echo(f"wrote {report}")


@app.command("score")
def score(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")],
    data: Annotated[Path, typer.Option(help="Table of applications to score.")],
    out: Annotated[
        Path,
        typer.Option(
            help="Parquet file for pd, score, grade and reasons (a Parquet folder with --engine spark)."
        ),
    ],
    engine: EngineOption = Engine.local,
) -> None:
    """Score every row of a table (PD, score, grade, reasons), keeping its identifier columns."""
    from creditmesh.scoring.artifact import load_model
    from creditmesh.scoring.serve import score_table_with_ids

    if engine is Engine.spark:
        from creditmesh.scoring.spark import score_parquet

        if data.suffix != ".parquet" and not data.is_dir():
            raise ParameterError("data", f"{data}: --engine spark reads Parquet (a file or a folder)")
        rows = score_parquet(model_path, data, out, spark_session_for("model-score"))
        typer.echo(f"wrote {out}: {rows:,} rows (Parquet folder, scored on Spark)")
        return

    model = load_model(model_path)
    result = score_table_with_ids(model, read_table(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    result.to_parquet(out, index=False)
    typer.echo(f"wrote {out}: {len(result):,} rows, mean PD {result.pd.mean():.4f}")


@app.command("monitor")
def monitor(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A saved model.")],
    reference: Annotated[Path, typer.Option(help="The sample the model was built on (or last quarter's).")],
    current: Annotated[Path, typer.Option(help="The sample to check.")],
    output: Annotated[OutputFormat, typer.Option(help="table or json.")] = OutputFormat.table,
) -> None:
    """PSI of the score and CSI of each feature between two samples (stable < 0.10 ≤ watch < 0.25 ≤ shifted)."""
    from creditmesh.scoring.artifact import load_model
    from creditmesh.scoring.report import stability

    model = load_model(model_path)
    table = stability(model, read_table(reference), read_table(current))
    if output is OutputFormat.json:
        typer.echo(table.to_json(orient="records"))
        return
    from rich.console import Console
    from rich.table import Table

    view = Table("what", "value", "status")
    for row in table.itertuples(index=False):
        style = {"stable": "green", "watch": "yellow", "shifted": "red"}[row.status]
        view.add_row(row.what, f"{row.value:.4f}", f"[{style}]{row.status}[/{style}]")
    Console().print(view)
