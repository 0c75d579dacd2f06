"""``creditmesh match``: allocate approved applications across funding partners (ICE)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from creditmesh.cli.common import OutputFormat, print_frame, read_table
from creditmesh.errors import ParameterError

app = typer.Typer(
    help="Matching (ICE): allocate approved applications across funding partners.", no_args_is_help=True
)


@app.command("allocate")
def allocate(
    applications: Annotated[
        Path,
        typer.Argument(
            help="Parquet of approved applications: application_id, pd, score, "
            "amount_minor, tenor_months, region, apr (grade optional); "
            "or a book folder with --month."
        ),
    ],
    partners_path: Annotated[
        Path,
        typer.Option("--partners", help="Partners: institutions Parquet, a simulate folder, YAML or JSON."),
    ],
    month: Annotated[
        str | None,
        typer.Option(help="With a book folder: the month (YYYY-MM) whose approved drawdowns to allocate."),
    ] = None,
    capacity: Annotated[
        str,
        typer.Option(
            help="Partners' capacity: 'drawn' (each partner's monthly_capacity_minor) or 'volume' (each funding "
            "model's share of the applications' volume, split by drawn capacity: how the simulated platform "
            "sizes it, see matching.partners.CAPACITY_SHARE)."
        ),
    ] = "drawn",
    capacity_divisor: Annotated[
        int, typer.Option(min=1, max=10_000, help="Capacity for the run: monthly capacity divided by this.")
    ] = 1,
    out: Annotated[Path | None, typer.Option(help="Write the allocations table (Parquet) here.")] = None,
    output: Annotated[OutputFormat, typer.Option(help="table or json.")] = OutputFormat.table,
) -> None:
    """Allocate a day with the LP (HiGHS); print the optimum beside the online greedy's, the left-out and revenue by funding model."""
    import pandas as pd

    from creditmesh.matching import load_partners
    from creditmesh.matching.applications import approved_drawdowns
    from creditmesh.matching.day import allocate_applications
    from creditmesh.matching.partners import capacity_for_volume

    if capacity not in ("drawn", "volume"):
        raise ParameterError("capacity", f"expected 'drawn' or 'volume', got {capacity!r}")
    partners = load_partners(partners_path)
    if applications.is_dir():
        if month is None:
            raise ParameterError(
                "month",
                "a book folder needs --month YYYY-MM (the month whose approved drawdowns to allocate)",
            )
        frame = approved_drawdowns(applications, month)
    else:
        frame = read_table(applications)
    monthly = (
        partners.capacity_minor
        if capacity == "drawn"
        else capacity_for_volume(partners, int(pd.to_numeric(frame["amount_minor"]).sum()))
    )
    result = allocate_applications(frame, partners, capacity_minor=monthly // capacity_divisor)
    summary = result.summary()
    if out is not None:
        result.allocations.to_parquet(out, index=False)
    if output is OutputFormat.json:
        typer.echo(json.dumps({**summary, "revenue": result.revenue.to_dict("records")}, default=float))
        return
    typer.echo(
        f"allocated {summary['allocated']:,} of {summary['applications']:,} in {summary['seconds']:.2f} s ({summary['method']})"
    )
    typer.echo(
        f"LP allocation {summary['objective_minor']:,.0f}, dual bound {summary['dual_bound_minor']:,.0f} "
        f"(gap {summary['gap_to_bound']:.3%}); online greedy {summary['greedy_objective_minor']:,.0f} "
        f"(gap {summary['greedy_gap_to_bound']:.3%}) — expected margin, minor units"
    )
    if summary["unallocated"]:
        typer.echo("left out: " + ", ".join(f"{k} {v:,}" for k, v in summary["unallocated"].items()))
    full = summary["partners_at_capacity"]
    typer.echo(
        f"partners at capacity: {sum(full.values()):,} of {len(partners):,}"
        + (" (" + ", ".join(f"{k} {v:,}" for k, v in full.items()) + ")" if full else "")
        + f"; capital-light, ICE and technology share of volume {summary['platform_service_volume_share']:.1%}"
    )
    print_frame(pd.DataFrame(result.revenue), "Revenue by funding model")
