"""Charts for the reports, drawn on matplotlib figures the caller owns.

A figure comes from :class:`matplotlib.figure.Figure`, never from pyplot: no global backend is
switched (``matplotlib.use``) and no pyplot state is left behind, so a report can be written from
a notebook or a server without changing how the caller draws.
"""

from __future__ import annotations

import base64
import io
from typing import Any


def new_figure(figsize: tuple[float, float], *, ncols: int = 1) -> tuple[Any, Any]:
    """A figure of ``figsize`` inches with one row of ``ncols`` axes (one axes, or an array of them)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    return figure, figure.subplots(1, ncols)


def png_base64(figure: Any, *, dpi: int = 90) -> str:
    """The figure as a base64 PNG, for an ``<img src="data:image/png;base64,...">`` in an HTML report."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()
