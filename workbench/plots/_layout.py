"""The one home of figure layout: margins computed from the labels a figure shows, round axes.

Plotly's own ``automargin`` grows margins in the browser only, not in static exports, and a
fixed ``margin=dict(l=50)`` clips a long tick label or the axis title beside it. Every builder
in :mod:`workbench.plots` ends with :func:`fit_layout`, which sizes the margins from the
longest tick label on each side (estimated from its characters), the axis titles, the title
and the legend, puts the legend in its own band under the title (never over an axis title),
and returns the figure. :func:`round_axis` gives a count axis round, integer ticks; a
secondary axis gets the same number of intervals as the primary one, so the grids line up and
both axes read in round steps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import plotly.graph_objects as go

#: plotly's default font size (px) and a generous average glyph width for its default font.
FONT_PX = 12
GLYPH_WIDTH = 0.62
TITLE_PX = 17  # the figure title's font size in plotly's templates
PAD = 8
#: the size assumed for a figure that does not set one (plotly's defaults)
DEFAULT_WIDTH, DEFAULT_HEIGHT = 700, 450
NICE_STEPS = (1, 2, 2.5, 3, 4, 5, 6, 8, 10)
INTERVALS = 5


def text_px(text: object, size: float = FONT_PX) -> float:
    """Estimated width in pixels of ``text`` (its longest ``<br>``-separated line, tags removed)."""
    lines = re.split(r"<br\s*/?>", str(text))
    return max(len(re.sub(r"<[^>]+>", "", line)) for line in lines) * GLYPH_WIDTH * size


def text_lines(text: object) -> int:
    return len(re.split(r"<br\s*/?>", str(text))) if text not in (None, "") else 0


def label_need(labels: Iterable[object], angle: float = 0.0, size: float = FONT_PX) -> tuple[float, float]:
    """(width, height) in pixels that tick ``labels`` drawn at ``angle`` degrees take."""
    widths = [text_px(label, size) for label in labels]
    longest = max(widths, default=0.0)
    rad = math.radians(abs(angle))
    return longest * math.cos(rad) + size * math.sin(rad), longest * math.sin(rad) + size * math.cos(rad)


def nice_step(raw: float, integer: bool = False) -> float:
    """The smallest round step (1, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten) at least ``raw``."""
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in NICE_STEPS if s * power >= raw * (1 - 1e-9))
    return float(max(1, math.ceil(step))) if integer else float(step)


def round_axis(max_value: float, *, intervals: int = INTERVALS, integer: bool = True) -> dict:
    """Axis settings from 0 to a round top with ``intervals`` round steps (integers for counts)."""
    step = nice_step(max(float(max_value), 0.0) / intervals, integer=integer)
    settings = dict(range=[0, step * intervals], tick0=0, dtick=step, tickmode="linear")
    if integer:
        settings["tickformat"] = ",d"
    return settings


def axis_labels(settings: dict, fmt=None) -> list[str]:
    """The tick labels a linear axis from :func:`round_axis` (or a fixed range and ``dtick``) shows."""
    low, high = settings["range"]
    step = settings["dtick"]
    values = [low + i * step for i in range(int(round((high - low) / step)) + 1)]
    fmt = fmt or settings.get("tickformat", "")
    if fmt == ",d":
        return [f"{int(round(v)):,}" for v in values]
    if fmt.endswith("%"):
        digits = int(fmt[1:-1] or 0) if fmt.startswith(".") else 0
        return [f"{v:.{digits}%}" for v in values]
    return [f"{v:g}" for v in values]


def _legend_entries(fig: go.Figure) -> list[str]:
    names = []
    for trace in fig.data:
        if trace.showlegend is False or not trace.name:
            continue
        if trace.legendgroup and trace.legendgroup in {getattr(t, "legendgroup", None) for t in fig.data[: fig.data.index(trace)]}:
            continue
        names.append(str(trace.name))
    return names


def legend_rows(names: Sequence[str], width: float) -> int:
    """Rows a horizontal legend of ``names`` takes in ``width`` pixels (40 px of symbol per entry)."""
    rows, used = (1 if names else 0), 0.0
    for name in names:
        entry = 40 + text_px(name)
        if used and used + entry > width:
            rows, used = rows + 1, 0.0
        used += entry
    return rows


def fit_layout(fig: go.Figure, *, x_labels: Iterable[object] = (), y_labels: Iterable[object] = (),
               y2_labels: Iterable[object] = (), x_angle: float = 0.0, legend: bool | None = None,
               bottom_extra: float = 0.0) -> go.Figure:
    """Margins from the labels shown, the title at the top and the legend in a band under it.

    Parameters
    ----------
    fig : Figure
        Its title, axis titles (``xaxis``, ``yaxis``, and ``yaxis2`` for a secondary axis) and
        legend entries are read from it.
    x_labels, y_labels, y2_labels : iterables
        The tick labels drawn on the bottom, left and right axes.
    x_angle : float
        The bottom tick labels' angle in degrees.
    legend : bool, optional
        Whether to show the legend; default when more than one entry has a name.
    bottom_extra : float
        Pixels below the plot beyond the tick labels and axis title (a lower panel's own).

    Returns the figure, so a builder can end with ``return fit_layout(fig, ...)``.
    """
    layout = fig.layout
    entries = _legend_entries(fig)
    show_legend = (len(entries) > 1) if legend is None else legend
    width, height = layout.width or DEFAULT_WIDTH, layout.height or DEFAULT_HEIGHT

    y_width, _ = label_need(y_labels)
    y2_width, _ = label_need(y2_labels)
    _, x_height = label_need(x_labels, x_angle)
    line = FONT_PX * 1.4
    left = PAD + y_width + 6 + (line + 6 if layout.yaxis.title.text else 0)
    right = PAD + 12
    y2 = layout["yaxis2"] if "yaxis2" in layout else None
    if y2 is not None and y2.overlaying:
        right = PAD + y2_width + 6 + (line + 6 if y2.title.text else 0)
    bottom = PAD + x_height + 6 + (line + 6 if layout.xaxis.title.text else 0) + bottom_extra
    plot_width = max(width - left - right, 200)
    title_height = text_lines(layout.title.text) * TITLE_PX * 1.3
    legend_height = legend_rows(entries, plot_width) * (FONT_PX + 8) if show_legend else 0
    # subplot titles and line labels sit just above the plot area: they get a band of their own
    above = any(a.yref == "paper" and a.y is not None and a.y >= 0.999 for a in layout.annotations)
    top = PAD + title_height + legend_height + (line + 4 if above else 0) + PAD

    fig.update_layout(
        margin=dict(l=math.ceil(left), r=math.ceil(right), t=math.ceil(top), b=math.ceil(bottom)),
        showlegend=show_legend,
        title=dict(yref="container", y=1, yanchor="top", pad=dict(t=PAD, l=PAD), x=0, xref="container", xanchor="left"),
    )
    if show_legend:
        fig.update_layout(legend=dict(orientation="h", yref="container", y=1 - (PAD + title_height) / height, yanchor="top",
                                      x=0, xanchor="left", traceorder="normal"))
    return fig


def resize(fig: go.Figure, *, width: int | None = None, height: int | None = None) -> go.Figure:
    """Set a figure's size after :func:`fit_layout`, keeping its legend the same pixels under the title."""
    legend = fig.layout.legend
    if legend.yref == "container" and legend.y is not None and height:
        offset = (1 - legend.y) * (fig.layout.height or DEFAULT_HEIGHT)
        legend.y = 1 - offset / height
    fig.update_layout(width=width, height=height)
    return fig
