"""Figures of the LF Studio: built once, then updated in place from a :class:`workbench.labeling.Snapshot`.

Builders return ``go.Figure`` objects (wrap them in ``go.FigureWidget`` for the dashboard);
``update_*`` functions change a figure's data in place, one ``batch_update`` per trace, so a
FigureWidget sends a few small messages per refresh and never re-renders from scratch. Everything sent is small: m x m matrices and pre-binned histograms,
never one point per row.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from workbench.plots import TEMPLATE, matrix_heatmap

MODEL_COLORS = {"majority vote": "#636efa", "label model": "#ef553b", "dev set": "#7f7f7f"}


def _percent_text(values: np.ndarray) -> np.ndarray | None:
    return np.vectorize(lambda v: f"{v:.0%}" if v >= 0.005 else "")(values) if values.size else None


def lf_matrix_figure(matrix: pd.DataFrame, title: str, colorscale: str = "Blues", height: int = 420) -> go.Figure:
    """Heatmap of an LF x LF matrix (built on :func:`workbench.plots.matrix_heatmap`)."""
    fig = matrix_heatmap(matrix, title, colorscale=colorscale)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=50, b=10), xaxis=dict(side="bottom"))
    update_lf_matrix(fig, matrix)
    return fig


def update_lf_matrix(fig: go.Figure, matrix: pd.DataFrame) -> None:
    """Replace the heatmap's values and LF names (names on both axes, cells as percentages)."""
    names = [str(n) for n in matrix.index]
    values = matrix.to_numpy(float)
    with fig.batch_update():
        trace = fig.data[0]
        trace.z = values
        trace.x = names
        trace.y = names
        trace.text = _percent_text(values)
        trace.zmax = float(values.max()) if values.size and values.max() > 0 else 1.0


def confidence_figure(title: str = "Confidence on pool rows some LF covers", height: int = 340) -> go.Figure:
    """Two binned histograms of each row's top probability: majority vote and the label model."""
    fig = go.Figure()
    for name in ("majority vote", "label model"):
        fig.add_bar(name=name, x=[], y=[], marker_color=MODEL_COLORS[name],
                    hovertemplate="confidence %{x:.2f}: %{y} rows<extra>%{fullData.name}</extra>")
    fig.update_layout(title=title, barmode="overlay", template=TEMPLATE, height=height, bargap=0.05,
                      xaxis_title="max probability", yaxis_title="rows", margin=dict(l=10, r=10, t=50, b=60),
                      legend=dict(orientation="h", y=-0.22, x=0, yanchor="top"))
    return fig


def _set_trace(fig: go.Figure, index: int, **props) -> None:
    """Edit one trace in a batch of its own.

    A batch that edits several traces sends, per property, one value per trace and ``undefined``
    for the traces where that value did not change; plotly.js then resets those to their
    defaults (an unchanged histogram vanishes, a legend says "trace 0"). One batch per trace
    sends only that trace's changes.
    """
    with fig.batch_update():
        trace = fig.data[index]
        for name, value in props.items():
            trace[name] = value


def update_confidence(fig: go.Figure, majority: tuple[np.ndarray, np.ndarray] | None,
                      label_model: tuple[np.ndarray, np.ndarray] | None, label_model_name: str = "label model",
                      label_model_current: bool = True) -> None:
    """Set the histograms from (counts, edges) pairs; a stale label model is drawn faded."""
    names = ("majority vote", label_model_name)
    opacities = (0.6, 0.6 if label_model_current else 0.2)
    for i, (hist, name, opacity) in enumerate(zip((majority, label_model), names, opacities)):
        if hist is None:
            _set_trace(fig, i, x=[], y=[], width=[], name=name, opacity=opacity)
        else:
            counts, edges = hist
            _set_trace(fig, i, x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), name=name, opacity=opacity)


def balance_figure(class_names: Sequence[str], title: str = "Predicted class balance vs the dev set",
                   height: int = 340) -> go.Figure:
    """Grouped bars per class: dev-set gold share, majority vote's and the label model's predictions."""
    fig = go.Figure()
    for name in ("dev set", "majority vote", "label model"):
        fig.add_bar(name=name, x=list(class_names), y=[0] * len(class_names), marker_color=MODEL_COLORS[name],
                    hovertemplate="%{x}: %{y:.1%}<extra>%{fullData.name}</extra>")
    fig.update_layout(title=title, barmode="group", template=TEMPLATE, height=height, yaxis=dict(tickformat=".0%"),
                      margin=dict(l=10, r=10, t=50, b=60),
                      legend=dict(orientation="h", y=-0.22, x=0, yanchor="top"))
    return fig


def update_balance(fig: go.Figure, dev: Sequence[float] | None, majority: Sequence[float] | None,
                   label_model: Sequence[float] | None, label_model_name: str = "label model",
                   label_model_current: bool = True) -> None:
    """Set the three class-share bar groups (None empties a group)."""
    k = len(fig.data[0].x)
    names = ("dev set", "majority vote", label_model_name)
    opacities = (1.0, 1.0, 1.0 if label_model_current else 0.3)
    groups = list(zip((dev, majority, label_model), names, opacities))
    # Check every group before drawing any: plotly would silently drop or leave out bars.
    for values, name, _ in groups:
        if values is not None and len(values) != k:
            raise ValueError(f"{name}: {len(values)} class shares for {k} classes")
    for i, (values, name, opacity) in enumerate(groups):
        y = list(np.zeros(k) if values is None else np.asarray(values, dtype=float))
        _set_trace(fig, i, y=y, name=name, opacity=opacity)
