"""A small SVG line chart, for a picture in an asset's metadata.

A few dozen lines of SVG are all a chart of daily delivery rates needs, so no plotting
library is brought in for it: the picture is made in Python and shown by the Dagster UI as
a markdown image (``data:image/svg+xml``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import date
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 120, 28, 36
COLOURS = ("#4f46e5", "#e11d48", "#059669", "#d97706")


def rate_chart(title: str, series: Mapping[str, Sequence[tuple[date, float]]]) -> str:
    """An SVG of one line per series (e.g. per vendor): dates along, rates 0-100 % up."""
    days = sorted({day for points in series.values() for day, _ in points})
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = max((days[-1] - days[0]).days, 1) if days else 1

    def x(day: date) -> float:
        return LEFT + (day - days[0]).days / span * inner_w

    def y(rate: float) -> float:
        return TOP + (1 - max(0.0, min(rate, 1.0))) * inner_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + inner_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="#e5e7eb"/><text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick:.0%}</text>'
        )
    if days:
        for day in (days[0], days[-1]):
            parts.append(
                f'<text x="{x(day):.1f}" y="{HEIGHT - 14}" text-anchor="middle">'
                f"{day.isoformat()}</text>"
            )
    for n, (name, points) in enumerate(sorted(series.items())):
        colour = COLOURS[n % len(COLOURS)]
        path = " ".join(f"{x(d):.1f},{y(r):.1f}" for d, r in sorted(points))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        parts += [
            f'<circle cx="{x(d):.1f}" cy="{y(r):.1f}" r="2.5" fill="{colour}"/>' for d, r in points
        ]
        legend_y = TOP + 14 + 16 * n
        parts.append(
            f'<rect x="{WIDTH - RIGHT + 12}" y="{legend_y - 9}" width="10" height="10" '
            f'fill="{colour}"/><text x="{WIDTH - RIGHT + 28}" y="{legend_y}">{escape(name)}</text>'
        )
    if not days:
        parts.append(f'<text x="{LEFT + 10}" y="{TOP + 40}">no campaigns sent yet</text>')
    parts.append("</svg>")
    return "".join(parts)


def as_markdown_image(svg: str, alt: str) -> str:
    """The picture inline, as a markdown image the Dagster UI shows in metadata."""
    encoded = base64.b64encode(svg.encode()).decode()
    return f"![{alt}](data:image/svg+xml;base64,{encoded})"
