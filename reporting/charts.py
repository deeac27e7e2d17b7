"""Server-rendered SVG charts for the dashboard and the PDF: one module, no JavaScript, no inline
style (the CSP forbids it); only SVG presentation attributes. Every text is escaped."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2f6f4f", "#5b8fb9", "#d08c2c", "#8d6cab", "#b5504b", "#6b8e23")
ROW_HEIGHT = 22
LABEL_WIDTH = 230
BAR_WIDTH = 300


def _number(value: float) -> str:
    return f"{value:,.1f}"


# Characters of a bar label that fit LABEL_WIDTH at font size 12 (about 6.5 px a character).
LABEL_CHARS = 34


def _fit(label: str) -> str:
    """A bar label cut to the space beside the bars (the whole label stays in its tooltip)."""
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 3].rstrip() + "..."


def bar_chart(
    rows: Sequence[tuple[str, float]], *, unit: str = "t CO2e", title: str = ""
) -> SafeString:
    """Horizontal bars, one per (label, value), scaled to the largest value."""
    if not rows:
        return mark_safe("")
    top = max((v for _, v in rows), default=0.0) or 1.0
    height = ROW_HEIGHT * len(rows) + 8
    width = LABEL_WIDTH + BAR_WIDTH + 110
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(rows):
        y = 4 + i * ROW_HEIGHT
        bar = max(0.0, value) / top * BAR_WIDTH
        parts.append(
            f'<g><title>{escape(label)}</title><text x="{LABEL_WIDTH - 6}" y="{y + 15}" '
            f'text-anchor="end" font-size="12" fill="#333">{escape(_fit(label))}</text></g>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{bar:.1f}" height="{ROW_HEIGHT - 6}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{LABEL_WIDTH + bar + 4:.1f}" y="{y + 15}" font-size="12" fill="#333">'
            f"{_number(value)} {escape(unit)}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from escaped parts


def column_chart(
    columns: Sequence[tuple[str, float]], *, unit: str = "t CO2e", title: str = ""
) -> SafeString:
    """Vertical columns (e.g. months), scaled to the largest value, labelled below."""
    if not columns:
        return mark_safe("")
    top = max((v for _, v in columns), default=0.0) or 1.0
    step = 46
    plot = 160
    width = step * len(columns) + 20
    height = plot + 50
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)} ({escape(unit)})</title>",
        f'<line x1="10" y1="{plot + 10}" x2="{width - 10}" y2="{plot + 10}" stroke="#999"/>',
    ]
    for i, (label, value) in enumerate(columns):
        x = 14 + i * step
        bar = max(0.0, value) / top * plot
        parts.append(
            f'<rect x="{x}" y="{plot + 10 - bar:.1f}" width="{step - 10}" height="{bar:.1f}" '
            f'fill="{PALETTE[0]}"><title>{escape(label)}: {_number(value)} {escape(unit)}'
            f"</title></rect>"
            f'<text x="{x + (step - 10) / 2:.1f}" y="{plot + 26}" text-anchor="middle" '
            f'font-size="10" fill="#333">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from escaped parts


def share_bar(shares: Sequence[tuple[str, float]], *, title: str = "") -> SafeString:
    """One 100 % bar split into the shares (fractions summing to about 1), with a legend."""
    total = sum(v for _, v in shares) or 1.0
    width, height = 540, 30 + 18 * len(shares)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(title)}</title>",
    ]
    x = 0.0
    for i, (label, value) in enumerate(shares):
        w = value / total * width
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="20" fill="{colour}"/>')
        parts.append(
            f'<rect x="0" y="{28 + 18 * i}" width="12" height="12" fill="{colour}"/>'
            f'<text x="18" y="{38 + 18 * i}" font-size="12" fill="#333">'
            f"{escape(label)}: {value / total:.0%}</text>"
        )
        x += w
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from escaped parts


def as_image(svg: str, *, alt: str) -> SafeString:
    """An SVG chart as an <img> with a data URI: XHTML documents (iXBRL) may not hold inline SVG,
    and WeasyPrint draws the image in the PDF."""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return format_html('<img alt="{}" src="data:image/svg+xml;base64,{}"/>', alt, data)
