"""``creditmesh simulate``: a seeded synthetic lending platform written as Parquet tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from creditmesh.cli.common import parse_date, steps
from creditmesh.errors import ParameterError


def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write the Parquet tables to.")],
    borrowers: Annotated[int, typer.Option(help="Registered users to simulate.")] = 20_000,
    months: Annotated[int, typer.Option(help="Months of platform history.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same platform.")] = 0,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    institutions: Annotated[int, typer.Option(help="Funding partners.")] = 160,
    overwrite: Annotated[bool, typer.Option(help="Replace the folder if it is not empty.")] = False,
    engines: Annotated[
        bool,
        typer.Option(
            "--engines/--placeholders",
            help="Run on creditmesh's engines (the default): the decision engine with the shipped champion "
            "policy, a model trained on a burn-in under the placeholder and the graph's fraud check at "
            "arrival, and the ICE matcher's router. --placeholders decides with the simulator's rule and "
            "funds by volume share: much faster, for tests.",
        ),
    ] = True,
    collections: Annotated[
        str,
        typer.Option(
            help="Who collects: 'champion' (the shipped strategy with the shipped uplift model) or 'none' "
            "(borrowers pay as they would on their own)."
        ),
    ] = "champion",
) -> None:
    """Simulate a lending platform and write its tables (truth apart, under truth/)."""
    from creditmesh.simulate import SimulationConfig, simulate_to
    from creditmesh.simulate.engine import TABLE_ORDER

    options = dict(borrowers=borrowers, months=months, seed=seed, institutions=institutions)
    first_day = parse_date(start, "start")
    if first_day is not None:
        options["start"] = first_day
    config = SimulationConfig(**options)
    if out.exists() and not out.is_dir():
        raise ParameterError("out", f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ParameterError("out", f"{out} is not empty; pass --overwrite to replace it")
    if collections not in ("champion", "none"):
        raise ParameterError("collections", f"expected 'champion' or 'none', got {collections!r}")
    from creditmesh.collections.simulation import platform_engines, shipped_collector

    collector = shipped_collector() if collections == "champion" else None
    with steps(config.months + 16, "simulate") as step:
        policy, funding = platform_engines(config, engines)
        # streamed: each table is written as it is built, never held whole
        simulate_to(
            out,
            config,
            policy=policy,
            funding=funding,
            collector=collector,
            overwrite=overwrite,
            progress=step,
        )
    files = json.loads((out / "manifest.json").read_text())["files"]
    rows = {name: files[f"{name}.parquet"]["rows"] for name in TABLE_ORDER}
    typer.echo(f"wrote {out}: " + ", ".join(f"{name} {count:,}" for name, count in rows.items()))
