"""Charts drawn on the server as inline SVG: no JavaScript, no build step, nothing fetched.

`segment_chart` shows, per segment, the baseline's value, the tolerance band below it (baseline
minus the policy's ``max_drop``) and the candidate's value, coloured by the check's status and
labelled with the delta and the p-value of the drop. `history_chart` draws metric histories of the
candidate's and the baseline's runs, step by step. Every label is escaped: segment values and
metric names come from MLflow and are data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict

__all__ = ["HistorySeries", "SegmentBar", "history_chart", "segment_chart"]

_STATUS_COLOUR = {
    "fail": "#c62828",
    "error": "#8e24aa",
    "warn": "#ef6c00",
    "pass": "#2e7d32",
    "skip": "#757575",
}
_BASELINE_COLOUR = "#455a64"
_BAND_COLOUR = "#cfd8dc"
_SERIES_COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f")


class SegmentBar(BaseModel):
    """One segment of a segment check: both values, the tolerance and the check's verdict."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    segment: str
    candidate: float | None
    baseline: float | None
    max_drop: float | None
    status: str
    p_value: float | None = None
    rows: int | None = None
    anchor: str | None = None


class HistorySeries(BaseModel):
    """One metric's logged values for one run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str
    points: list[tuple[int, float]]
    dashed: bool = False


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.{digits}f}"


def _finite(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def segment_chart(title: str, bars: Sequence[SegmentBar], *, width: int = 1040) -> Markup:
    """A dumbbell chart of a segment metric: baseline, tolerance band and candidate per segment.

    Args:
        title: What is compared, e.g. "recall by region".
        bars: One entry per segment, worst first is the caller's choice.
        width: Width in pixels (the SVG scales down with the page).
    """
    row_h, top, label_w, right_w = 34, 70, 150, 300
    height = top + row_h * max(1, len(bars)) + 34
    plot_l, plot_r = label_w, width - right_w
    values = _finite(
        [b.candidate for b in bars]
        + [b.baseline for b in bars]
        + [(b.baseline - b.max_drop) for b in bars if b.baseline is not None and b.max_drop]
    )
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = max((hi - lo) * 0.08, 0.01)
    lo, hi = lo - pad, hi + pad
    if min(values or [0.0]) >= 0.0 and max(values or [1.0]) <= 1.0:
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    span = hi - lo or 1.0

    def x(value: float) -> float:
        return plot_l + (value - lo) / span * (plot_r - plot_l)

    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="18" class="chart-title">{escape(title)}</text>',
        f'<text x="{plot_r + 12}" y="{top - 12}" class="chart-axis">baseline → candidate '
        "(Δ, p of the drop)</text>",
    ]
    for i in range(5):
        value = lo + span * i / 4
        gx = x(value)
        out.append(
            f'<line x1="{gx:.1f}" y1="{top - 8}" x2="{gx:.1f}" y2="{height - 30}" '
            'class="chart-grid"/>'
            f'<text x="{gx:.1f}" y="{height - 12}" text-anchor="middle" '
            f'class="chart-axis">{value:.3f}</text>'
        )
    for index, bar in enumerate(bars):
        cy = top + row_h * index + row_h / 2
        colour = _STATUS_COLOUR.get(bar.status, "#757575")
        label = escape(bar.segment)
        rows = f" ({bar.rows} rows)" if bar.rows is not None else ""
        out.append(
            f'<g class="segment segment-{escape(bar.status)}" data-segment="{label}">'
            f'<text x="{label_w - 10}" y="{cy + 4:.1f}" text-anchor="end" '
            f'class="chart-label">{label}<title>{label}{escape(rows)}</title></text>'
        )
        if bar.baseline is not None and bar.max_drop is not None and math.isfinite(bar.baseline):
            band_l = x(max(lo, bar.baseline - bar.max_drop))
            out.append(
                f'<rect x="{band_l:.1f}" y="{cy - 9:.1f}" width="{x(bar.baseline) - band_l:.1f}" '
                f'height="18" fill="{_BAND_COLOUR}" rx="2"><title>tolerance: down to '
                f"{_fmt(bar.baseline - bar.max_drop)}</title></rect>"
            )
        if bar.baseline is not None and bar.candidate is not None:
            both = _finite([bar.baseline, bar.candidate])
            if len(both) == 2:
                out.append(
                    f'<line x1="{x(both[0]):.1f}" y1="{cy:.1f}" x2="{x(both[1]):.1f}" '
                    f'y2="{cy:.1f}" stroke="{colour}" stroke-width="2"/>'
                )
        if bar.baseline is not None and math.isfinite(bar.baseline):
            bx = x(bar.baseline)
            out.append(
                f'<line x1="{bx:.1f}" y1="{cy - 11:.1f}" x2="{bx:.1f}" y2="{cy + 11:.1f}" '
                f'stroke="{_BASELINE_COLOUR}" stroke-width="3"><title>baseline '
                f"{_fmt(bar.baseline)}</title></line>"
            )
        if bar.candidate is not None and math.isfinite(bar.candidate):
            out.append(
                f'<circle cx="{x(bar.candidate):.1f}" cy="{cy:.1f}" r="7" fill="{colour}">'
                f"<title>candidate {_fmt(bar.candidate)}</title></circle>"
            )
        delta = (
            bar.candidate - bar.baseline
            if bar.candidate is not None and bar.baseline is not None
            else None
        )
        note = f"{_fmt(bar.baseline)} → {_fmt(bar.candidate)} ("
        note += (
            f"{delta:+.3f}".replace("-", "−")
            if delta is not None and math.isfinite(delta)
            else "n/a"
        )
        if bar.p_value is not None:
            note += f", p={bar.p_value:.2g}"
        note += ")"
        out.append(
            f'<text x="{plot_r + 12}" y="{cy + 4:.1f}" class="chart-value" '
            f'fill="{colour}">{escape(note)} {escape(bar.status.upper())}</text></g>'
        )
    out.append(
        f'<g class="chart-legend" transform="translate({plot_l},{top - 34})">'
        f'<line x1="0" y1="-6" x2="0" y2="6" stroke="{_BASELINE_COLOUR}" stroke-width="3"/>'
        '<text x="8" y="4" class="chart-axis">baseline</text>'
        f'<rect x="72" y="-7" width="22" height="14" fill="{_BAND_COLOUR}"/>'
        '<text x="100" y="4" class="chart-axis">allowed drop</text>'
        f'<circle cx="200" cy="0" r="6" fill="{_STATUS_COLOUR["pass"]}"/>'
        '<text x="210" y="4" class="chart-axis">candidate (pass)</text>'
        f'<circle cx="330" cy="0" r="6" fill="{_STATUS_COLOUR["fail"]}"/>'
        '<text x="340" y="4" class="chart-axis">candidate (fail)</text></g>'
    )
    out.append("</svg>")
    return Markup("".join(out))


def history_chart(
    title: str, series: Sequence[HistorySeries], *, width: int = 540, height: int = 260
) -> Markup:
    """A line chart of metric histories (value by step), one line per run.

    Args:
        title: The metric, e.g. "val_loss".
        series: The lines; a dashed one is the baseline's.
        width: Width in pixels.
        height: Height in pixels.
    """
    left, right, top, bottom = 60, 150, 30, 30
    points = [p for s in series for p in s.points if math.isfinite(p[1])]
    out = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
    ]
    if not points:
        out.append(
            f'<text x="{left}" y="{height / 2}" class="chart-axis">no values logged</text></svg>'
        )
        return Markup("".join(out))
    steps = [p[0] for p in points]
    values = [p[1] for p in points]
    s_lo, s_hi = min(steps), max(steps)
    v_lo, v_hi = min(values), max(values)
    v_pad = (v_hi - v_lo) * 0.05 or abs(v_hi) * 0.05 or 1.0
    v_lo, v_hi = v_lo - v_pad, v_hi + v_pad
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(step: float) -> float:
        return left + (step - s_lo) / ((s_hi - s_lo) or 1) * plot_w

    def py(value: float) -> float:
        return top + (1 - (value - v_lo) / (v_hi - v_lo)) * plot_h

    for i in range(5):
        value = v_lo + (v_hi - v_lo) * i / 4
        out.append(
            f'<line x1="{left}" y1="{py(value):.1f}" x2="{left + plot_w}" y2="{py(value):.1f}" '
            f'class="chart-grid"/><text x="{left - 6}" y="{py(value) + 4:.1f}" '
            f'text-anchor="end" class="chart-axis">{value:.3g}</text>'
        )
    out.append(
        f'<text x="{left}" y="{height - 8}" class="chart-axis">step {s_lo}</text>'
        f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end" '
        f'class="chart-axis">step {s_hi}</text>'
    )
    for index, line in enumerate(series):
        colour = _SERIES_COLOURS[index % len(_SERIES_COLOURS)]
        finite = [(s, v) for s, v in line.points if math.isfinite(v)]
        if not finite:
            continue
        path = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in finite)
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}>'
            f"<title>{escape(line.label)}</title></polyline>"
        )
        ly = top + 14 + 18 * index
        out.append(
            f'<line x1="{left + plot_w + 12}" y1="{ly - 4}" x2="{left + plot_w + 32}" '
            f'y2="{ly - 4}" stroke="{colour}" stroke-width="2"{dash}/>'
            f'<text x="{left + plot_w + 38}" y="{ly}" class="chart-axis">'
            f"{escape(line.label)}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))
