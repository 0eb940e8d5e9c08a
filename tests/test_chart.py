"""The delivery-rate picture: a well-formed SVG with one line per vendor, in bounds."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from datetime import date

from pipelines.reporting.chart import HEIGHT, as_markdown_image, rate_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_one_line_per_vendor_inside_the_picture() -> None:
    series = {
        "nixflex": [(date(2026, 11, 1), 0.9), (date(2026, 11, 2), 0.95)],
        "smsfactor": [(date(2026, 11, 1), 0.5), (date(2026, 11, 3), 1.2)],  # clamped to 100 %
    }
    root = ET.fromstring(rate_chart("Delivery", series))
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 2
    for line in lines:
        ys = [float(p.split(",")[1]) for p in line.get("points", "").split()]
        assert all(0 <= y <= HEIGHT for y in ys)
    assert {t.text for t in root.iter(f"{SVG}text")} >= {"nixflex", "smsfactor", "2026-11-01"}


def test_no_data_says_so_and_embeds_as_a_data_uri() -> None:
    svg = rate_chart("Delivery", {})
    assert "no campaigns sent yet" in svg
    markdown = as_markdown_image(svg, "rates")
    encoded = markdown.removeprefix("![rates](data:image/svg+xml;base64,").removesuffix(")")
    assert base64.b64decode(encoded).decode() == svg
