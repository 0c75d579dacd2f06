"""Pictures the console draws as inline SVG: a graph of borrowers, and a score against its cut-off.

SVG rather than PNG: a picture of 40 borrowers draws in about a millisecond, scales to any screen, and its labels
are text a screen reader can reach (each picture also has a title, a description and a table beside it). No
script and no style attribute: colours are SVG presentation attributes, so the page's content security policy
stays strict. The layout is a seeded force-directed one (Fruchterman and Reingold), so one ring always looks the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np

#: Colours with at least 4.5:1 contrast on white (WCAG 2.1 AA for text and 3:1 for shapes).
INK, MUTED, FOCUS, BLACKLISTED, DELINQUENT, LINK = (
    "#1a1a1a",
    "#595959",
    "#0b5cad",
    "#b00020",
    "#8a4b00",
    "#767676",
)
#: Iterations of the layout (a limit on everything) and the picture's size in px.
LAYOUT_ITERATIONS = 120
WIDTH, HEIGHT, MARGIN = 640, 420, 48
#: A picture of more nodes names only the focus and its neighbours.
LABELLED_NODES = 20


def layout(n: int, edges: Sequence[tuple[int, int]], *, seed: int = 7) -> np.ndarray:
    """Positions in [0, 1]² for ``n`` nodes joined by ``edges`` (index pairs): force-directed, deterministic."""
    if n == 0:
        return np.zeros((0, 2))
    if n == 1:
        return np.array([[0.5, 0.5]])
    angle = np.linspace(0, 2 * math.pi, n, endpoint=False)
    rng = np.random.default_rng(seed)
    pos = np.c_[np.cos(angle), np.sin(angle)] * 0.5 + rng.normal(0, 0.02, (n, 2))
    k = math.sqrt(1.0 / n)
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
    temperature = 0.1
    for _ in range(LAYOUT_ITERATIONS):
        delta = pos[:, None, :] - pos[None, :, :]
        distance = np.maximum(np.linalg.norm(delta, axis=2), 1e-3)
        push = (k * k / distance**2)[:, :, None] * delta
        move = push.sum(axis=1)
        if len(pairs):
            d = pos[pairs[:, 0]] - pos[pairs[:, 1]]
            length = np.maximum(np.linalg.norm(d, axis=1), 1e-3)
            pull = (length / k)[:, None] * d
            np.add.at(move, pairs[:, 0], -pull)
            np.add.at(move, pairs[:, 1], pull)
        size = np.maximum(np.linalg.norm(move, axis=1), 1e-9)
        pos += move / size[:, None] * np.minimum(size, temperature)[:, None]
        temperature *= 0.97
    low, high = pos.min(axis=0), pos.max(axis=0)
    return (pos - low) / np.where(high - low > 1e-9, high - low, 1.0)


def _short(borrower_id: str, length: int = 14) -> str:
    return borrower_id if len(borrower_id) <= length else borrower_id[: length - 1] + "…"


def graph_svg(nodes: list[dict], edges: list[dict], *, title: str, description: str) -> str:
    """An SVG picture: ``nodes`` (``id``, ``focus``, ``flags``) and ``edges`` (``source``, ``target``, ``kinds``)."""
    index = {node["id"]: i for i, node in enumerate(nodes)}
    drawn = [e for e in edges if e["source"] in index and e["target"] in index]
    pairs = [(index[e["source"]], index[e["target"]]) for e in drawn]
    pos = layout(len(nodes), pairs)
    xy = [(MARGIN + x * (WIDTH - 2 * MARGIN), MARGIN + y * (HEIGHT - 2 * MARGIN)) for x, y in pos]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="svg-title svg-desc" class="picture">',
        f'<title id="svg-title">{escape(title)}</title><desc id="svg-desc">{escape(description)}</desc>',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]
    for (a, b), edge in zip(pairs, drawn):
        (x1, y1), (x2, y2) = xy[a], xy[b]
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{LINK}" stroke-width="1.5"/>'
        )
        if len(pairs) <= 30 and edge.get("kinds"):
            parts.append(
                f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 3:.1f}" font-size="10" fill="{MUTED}" '
                f'text-anchor="middle">{escape(edge["kinds"])}</text>'
            )
    # with many nodes, only the focus and its direct neighbours are named (the table beside names them all)
    named = {i for i, n in enumerate(nodes) if n.get("focus")}
    named |= {b for a, b in pairs if a in named} | {a for a, b in pairs if b in named}
    if len(nodes) <= LABELLED_NODES:
        named = set(range(len(nodes)))
    for k, (node, (x, y)) in enumerate(zip(nodes, xy)):
        colour = (
            FOCUS
            if node.get("focus")
            else BLACKLISTED
            if "blacklisted" in node.get("flags", ())
            else DELINQUENT
            if "delinquent" in node.get("flags", ())
            else INK
        )
        radius = 9 if node.get("focus") else 6
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{colour}"/>')
        if k in named:
            parts.append(
                f'<text x="{x:.1f}" y="{y + radius + 12:.1f}" font-size="11" fill="{INK}" text-anchor="middle">'
                f"{escape(_short(node['id']))}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def cutoff_svg(pd_value: float, max_pd: float, band_below: float, band_above: float) -> str:
    """A scale of PD: the decline cut-off, the review band around it, and where this application's PD falls."""
    top = max(2 * max_pd, pd_value * 1.1, 0.01)
    width, height, left, right = 520, 64, 16, 16
    span = width - left - right

    def x(value: float) -> float:
        return left + span * min(max(value, 0.0), top) / top

    low, high = x(max_pd - band_below), x(max_pd + band_above)
    title = f"PD {pd_value:.2%} against the cut-off {max_pd:.2%}: " + (
        "above, declined unless reviewed" if pd_value > max_pd else "at or below, approvable"
    )
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="cut-title" class="gauge"><title id="cut-title">{escape(title)}</title>',
            f'<rect x="{left}" y="22" width="{x(max_pd) - left:.1f}" height="12" fill="#d8ecd9"/>',
            f'<rect x="{x(max_pd):.1f}" y="22" width="{width - right - x(max_pd):.1f}" height="12" fill="#f6d5d5"/>',
            f'<rect x="{low:.1f}" y="18" width="{max(high - low, 2):.1f}" height="20" fill="#f0c36d"/>',
            f'<line x1="{x(max_pd):.1f}" y1="12" x2="{x(max_pd):.1f}" y2="44" stroke="{INK}" stroke-width="2"/>',
            f'<text x="{x(max_pd):.1f}" y="58" font-size="11" fill="{INK}" text-anchor="middle">'
            f"cut-off {max_pd:.2%}</text>",
            f'<path d="M {x(pd_value):.1f} 20 l -6 -10 h 12 z" fill="{FOCUS}"/>',
            f'<text x="{x(pd_value):.1f}" y="8" font-size="11" fill="{FOCUS}" text-anchor="middle">'
            f"PD {pd_value:.2%}</text>",
            f'<text x="{left}" y="58" font-size="11" fill="{MUTED}">0 %</text>',
            f'<text x="{width - right}" y="58" font-size="11" fill="{MUTED}" text-anchor="end">{top:.0%}</text>',
            "</svg>",
        ]
    )
