"""Figures for the filter: pure builders from the statistics in :mod:`workbench.curate`.

Every builder returns a new ``go.Figure`` whose traces keep the same number and order for
any input, so the threshold explorer can copy fresh data into its ``FigureWidget`` in
place. Nothing sends one point per row to the browser: histograms
are binned with numpy and scatter plots are sampled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from workbench.plots import SHARE_AXIS, SHARE_LABELS, TEMPLATE, category_angle, class_labels
from workbench.plots._layout import axis_labels, fit_layout, round_axis

KEPT_COLOR = "#2a9d8f"
THRESHOLD_COLOR = "#e76f51"
OTHER_COLOR = "#8d99ae"
CLASS_COLORS = ["#264653", "#e9c46a", "#f4a261", "#2a9d8f", "#9b5de5", "#00bbf9"]


def _class_color(i: int) -> str:
    return CLASS_COLORS[i % len(CLASS_COLORS)]


def threshold_curve_figure(curve: pd.DataFrame, current: pd.DataFrame | None = None, *, labeled_name: str = "valid",
                           class_names: Sequence[str] | None = None, title: str | None = None,
                           template=TEMPLATE) -> go.Figure:
    """Coverage of the pool against precision on a labeled set, one line per class (and ``all``).

    Parameters
    ----------
    curve : DataFrame
        From :func:`workbench.curate.threshold_curve` with a labeled set
        (``valid_precision``); without one, coverage is drawn against the threshold.
    current : DataFrame, optional
        The same columns at the current thresholds (:func:`workbench.curate.operating_point`),
        drawn as markers.
    labeled_name : str
        What to call the labeled set (``"dev"``, ``"valid"``).
    class_names : sequence of str, optional
        Names for a curve whose classes are ids (made without ``class_names``).
    title : str, optional
    template : plotly template
        Styling; an empty one (``{}``) builds several times faster when only the data is
        needed (the explorer's in-place updates).
    """
    has_valid = "valid_precision" in curve.columns
    x_col, y_col = ("coverage", "valid_precision") if has_valid else ("threshold", "coverage")
    x_title = "pool coverage" if has_valid else "threshold"
    y_title = f"{labeled_name} precision" if has_valid else "pool coverage"
    support = "valid_n_kept" if has_valid else "n_kept"
    hover = (f"threshold %{{customdata[0]:.2f}}<br>{x_title} %{{x:.1%}}<br>{y_title} %{{y:.1%}}"
             f" (%{{customdata[1]}} {labeled_name + ' ' if has_valid else ''}rows)<extra>%{{fullData.name}}</extra>")
    if class_names is not None:
        curve = curve.assign(**{"class": class_labels(curve["class"], class_names, keep=("all",))})
        if current is not None:
            current = current.assign(**{"class": class_labels(current["class"], class_names, keep=("all",))})
    classes = list(pd.unique(curve["class"]))
    fig = go.Figure(layout=dict(template=template))
    for i, name in enumerate(classes):
        part = curve[curve["class"] == name].sort_values("threshold")
        fig.add_scatter(
            x=part[x_col].to_numpy(), y=part[y_col].to_numpy(), customdata=part[["threshold", support]].to_numpy(),
            mode="lines", name=str(name), line=dict(width=3 if name == "all" else 1.5, color="#111" if name == "all" else _class_color(i - 1)),
            hovertemplate=hover,
        )
    marks = current if current is not None else curve.iloc[0:0]
    fig.add_scatter(
        x=marks[x_col].to_numpy(), y=marks[y_col].to_numpy(), customdata=marks[["threshold", support]].to_numpy(),
        text=marks["class"].astype(str).to_numpy(), mode="markers+text", textposition="top center", name="current",
        marker=dict(size=13, color=THRESHOLD_COLOR, line=dict(color="white", width=2)),
        hovertemplate=hover.replace("%{fullData.name}", "%{text} now"),
    )
    x_axis = SHARE_AXIS if has_valid else dict(tickformat=".2f")
    fig.update_layout(
        title=title or (f"Coverage vs {labeled_name} precision" if has_valid else "Coverage vs threshold"),
        xaxis=dict(title=x_title, **x_axis), yaxis=dict(title=y_title, **SHARE_AXIS),
    )
    fig.update_traces(cliponaxis=False)
    return fit_layout(fig, x_labels=SHARE_LABELS if has_valid else ["0.00"], y_labels=SHARE_LABELS)


def class_balance_figure(balance: pd.DataFrame, title: str = "Class balance of the kept set", *,
                         class_names: Sequence[str] | None = None, template=TEMPLATE) -> go.Figure:
    """Bars of the kept set's class shares beside the target shares.

    ``balance`` is :func:`workbench.curate.class_balance`; when it has ``weighted_share``
    (balanced by weights) that is what the kept bars show. Its classes are shown by name:
    ``class_names`` names a table made without them.
    """
    names = class_labels(balance.index, class_names)
    share = balance["weighted_share"] if "weighted_share" in balance.columns else balance["share"]
    label = "kept (weighted)" if "weighted_share" in balance.columns else "kept"
    fig = go.Figure(layout=dict(template=template))
    fig.add_bar(
        x=names, y=share.to_numpy(float), name=label, marker_color=KEPT_COLOR,
        text=[f"{c:,}" for c in balance["count"]], textposition="outside",
        hovertemplate="%{x}: %{y:.1%} of the kept set (%{text} rows)<extra></extra>",
    )
    fig.add_bar(x=names, y=balance["target_share"].to_numpy(float), name="target", marker_color=OTHER_COLOR,
                hovertemplate="%{x}: target %{y:.1%}<extra></extra>")
    fig.update_traces(cliponaxis=False)  # the counts above full bars
    fig.update_layout(barmode="group", title=title, yaxis=dict(title="share of rows", **SHARE_AXIS),
                      xaxis=dict(title="class"))
    return fit_layout(fig, x_labels=names, y_labels=SHARE_LABELS)


def threshold_histogram(
    confidence,
    status,
    thresholds: Mapping[str, float],
    *,
    bins: int = 20,
    low: float = 0.5,
    title: str = "Confidence of the pool",
    template=TEMPLATE,
) -> go.Figure:
    """Histogram of top-class confidence, stacked by what the filter did, with threshold lines.

    Parameters
    ----------
    confidence : array of float
        Top probability per row.
    status : array of str
        Per row: ``"kept"``, ``"below threshold"`` (removed by the confidence step) or
        ``"removed by other steps"``.
    thresholds : mapping of str to float
        Lines to draw, e.g. ``{"global": 0.7, "spam": 0.8}``.
    bins : int
    low : float
        Left end of the axis (``1/k``).
    """
    confidence = np.asarray(confidence, dtype=float)
    status = np.asarray(status, dtype=object)
    colors = {"kept": KEPT_COLOR, "below threshold": THRESHOLD_COLOR, "removed by other steps": OTHER_COLOR}
    # A row with any other status would be in no stack and silently vanish from the counts.
    unknown = sorted(set(status.tolist()) - colors.keys())
    if unknown:
        raise ValueError(f"status has values {unknown}; expected {', '.join(colors)}")
    edges = np.linspace(low, 1.0, bins + 1)
    centers, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    fig = go.Figure(layout=dict(template=template))
    stacked = np.zeros(bins, dtype=int)
    for name, color in colors.items():
        counts, _ = np.histogram(confidence[status == name], bins=edges)
        stacked += counts
        fig.add_bar(x=centers, y=counts, width=widths, name=name, marker_color=color,
                    hovertemplate=f"{name}: %{{y:,d}} rows with confidence %{{x:.2f}}<extra></extra>")
    for i, (name, value) in enumerate(thresholds.items()):
        fig.add_vline(x=value, line_color="#111" if i == 0 else _class_color(i - 1), line_dash="solid" if i == 0 else "dash",
                      annotation_text=f"{name} {value:.2f}", annotation_position="top left" if i == 0 else "top right")
    rows = round_axis(stacked.max(initial=0))
    fig.update_layout(barmode="stack", bargap=0.02, title=title,
                      xaxis=dict(title="top probability", range=[low, 1.0], tickformat=".2f"), yaxis=dict(title="rows", **rows))
    return fit_layout(fig, x_labels=["0.00"], y_labels=axis_labels(rows), legend=True)


def funnel_figure(stages: pd.DataFrame, title: str = "Filter funnel", *, template=TEMPLATE) -> go.Figure:
    """Rows remaining after each step (:meth:`workbench.curate.Funnel.to_frame`), with the
    reasons rows were removed in the hover text."""
    reasons = ["<br>".join(f"{r}: {n:,}" for r, n in removed.items()) or "raw pool" for removed in stages["removed"]]
    fig = go.Figure(layout=dict(template=template))
    fig.add_trace(go.Funnel(
        y=stages["stage"].tolist(), x=stages["n_rows"].to_numpy(int), customdata=reasons,
        textinfo="value+percent initial", texttemplate="%{value:,d} (%{percentInitial:.0%})", marker_color=KEPT_COLOR,
        hovertemplate="%{y}: %{x:,d} rows left<br>%{customdata}<extra></extra>",
    ))
    stage_names = stages["stage"].astype(str).tolist()
    fig.update_layout(title=title, yaxis=dict(title="step"), xaxis=dict(title="rows left"))
    return fit_layout(fig, y_labels=stage_names, legend=False)


def kept_set_figure(balance: pd.DataFrame, stages: pd.DataFrame, *, class_names: Sequence[str] | None = None,
                    title: str = "The kept set", template=TEMPLATE) -> go.Figure:
    """The kept set's class balance against the target (left) beside the filter funnel (right).

    One figure instead of :func:`class_balance_figure` and :func:`funnel_figure` side by
    side, so an app draws one figure fewer. Trace order: kept bars, target bars, funnel.
    """
    from plotly.subplots import make_subplots

    left = class_balance_figure(balance, class_names=class_names, template={})
    right = funnel_figure(stages, template={})
    fig = make_subplots(rows=1, cols=2, column_widths=[0.4, 0.6], horizontal_spacing=0.14,
                        subplot_titles=(left.layout.title.text, right.layout.title.text),
                        figure=go.Figure(layout=dict(template=template)))
    fig.add_traces(list(left.data), rows=1, cols=1)
    fig.add_traces([trace.update(showlegend=False) for trace in right.data], rows=1, cols=2)
    fig.update_yaxes(title="share of rows", row=1, col=1, **SHARE_AXIS)
    fig.update_xaxes(title="class", row=1, col=1)
    fig.update_layout(title=title, template=template, barmode="group")
    return fit_layout(fig, x_labels=class_labels(balance.index, class_names), y_labels=SHARE_LABELS)


def diversity_scatter(X, selections: Mapping[str, Sequence[int]], *, max_points: int = 3000, random_state: int = 0,
                      title: str = "Which rows each selection picks") -> go.Figure:
    """The first two feature dimensions of the pool (sampled), with each selection on top.

    ``X`` are features such as :func:`workbench.curate.text_embedding` (whose first two
    columns are the leading SVD components); ``selections`` maps a name to row positions.
    The pool and every selection larger than ``max_points`` are sampled down to
    ``max_points`` rows.
    """
    X = np.asarray(X, dtype=float)
    rng = np.random.default_rng(random_state)

    def sample(rows: np.ndarray) -> np.ndarray:
        return rows if len(rows) <= max_points else rng.choice(rows, size=max_points, replace=False)

    shown = sample(np.arange(len(X)))
    fig = go.Figure(go.Scattergl(x=X[shown, 0], y=X[shown, 1], mode="markers", name="pool",
                                 marker=dict(size=4, color="#ccc"), hoverinfo="skip"))
    for i, (name, rows) in enumerate(selections.items()):
        rows = sample(np.asarray(rows))
        fig.add_scattergl(x=X[rows, 0], y=X[rows, 1], mode="markers", name=name,
                          marker=dict(size=8, color=_class_color(i + 2), symbol=["circle", "x", "diamond"][i % 3]))
    fig.update_layout(title=title, template=TEMPLATE, xaxis=dict(title="component 1", tickformat=".1f"),
                      yaxis=dict(title="component 2", tickformat=".1f"))
    # the widest tick label is the longest of the axis ends at one decimal
    ends = [f"{v:.1f}" for v in (X[shown, 1].min(initial=0), X[shown, 1].max(initial=0))]
    return fit_layout(fig, x_labels=["-0.0"], y_labels=ends)

