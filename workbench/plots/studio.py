"""Figures of the LF Studio: built once, then updated in place from a :class:`workbench.studio.Snapshot`.

Builders return ``go.Figure`` objects (wrap them in ``go.FigureWidget`` for the dashboard);
``update_*`` functions change a figure's data inside ``batch_update`` so a FigureWidget sends
one message per refresh. Everything sent is small: m x m matrices and pre-binned histograms,
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


def confidence_figure(title: str = "Label-model confidence on the pool (rows some LF covers)", height: int = 320) -> go.Figure:
    """Two binned histograms of each row's top probability: majority vote and the label model."""
    fig = go.Figure()
    for name in ("majority vote", "label model"):
        fig.add_bar(name=name, x=[], y=[], marker_color=MODEL_COLORS[name],
                    hovertemplate="confidence %{x:.2f}: %{y} rows<extra>%{fullData.name}</extra>")
    fig.update_layout(title=title, barmode="overlay", template=TEMPLATE, height=height, bargap=0.05,
                      xaxis_title="max probability", yaxis_title="rows", margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
    return fig


def update_confidence(fig: go.Figure, majority: tuple[np.ndarray, np.ndarray] | None,
                      label_model: tuple[np.ndarray, np.ndarray] | None, label_model_name: str = "label model",
                      label_model_current: bool = True) -> None:
    """Set the histograms from (counts, edges) pairs; a stale label model is drawn faded."""
    with fig.batch_update():
        for trace, hist in zip(fig.data, (majority, label_model)):
            if hist is None:
                trace.x, trace.y = [], []
                continue
            counts, edges = hist
            trace.x = (edges[:-1] + edges[1:]) / 2
            trace.y = counts
            trace.width = np.diff(edges)
        fig.data[0].opacity = 0.6
        fig.data[1].name = label_model_name
        fig.data[1].opacity = 0.6 if label_model_current else 0.2


def balance_figure(class_names: Sequence[str], title: str = "Predicted class balance vs the dev set",
                   height: int = 320) -> go.Figure:
    """Grouped bars per class: dev-set gold share, majority vote's and the label model's predictions."""
    fig = go.Figure()
    for name in ("dev set", "majority vote", "label model"):
        fig.add_bar(name=name, x=list(class_names), y=[0] * len(class_names), marker_color=MODEL_COLORS[name],
                    hovertemplate="%{x}: %{y:.1%}<extra>%{fullData.name}</extra>")
    fig.update_layout(title=title, barmode="group", template=TEMPLATE, height=height, yaxis=dict(tickformat=".0%"),
                      margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
    return fig


def update_balance(fig: go.Figure, dev: Sequence[float] | None, majority: Sequence[float] | None,
                   label_model: Sequence[float] | None, label_model_name: str = "label model",
                   label_model_current: bool = True) -> None:
    """Set the three class-share bar groups (None empties a group)."""
    k = len(fig.data[0].x)
    with fig.batch_update():
        for trace, values in zip(fig.data, (dev, majority, label_model)):
            trace.y = list(np.zeros(k) if values is None else np.asarray(values, dtype=float))
        fig.data[2].name = label_model_name
        fig.data[2].opacity = 1.0 if label_model_current else 0.3
