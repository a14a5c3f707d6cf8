"""Plotly figure builders: pure functions from statistics to figures.

Nothing here sends one point per row to the browser: histograms are binned with numpy
first, and matrices are m x m. Topic modules sit beside this one
(``workbench.plots.filter``, ``workbench.plots.learning``, ...).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

TEMPLATE = "plotly_white"


def lf_summary_bars(summary: pd.DataFrame, title: str = "Labeling functions") -> go.Figure:
    """Grouped bars per LF: coverage and, when the summary has gold labels, dev accuracy."""
    names = list(summary.index)
    fig = go.Figure(go.Bar(name="Coverage", x=names, y=summary["Coverage"].to_numpy(float)))
    if "Emp. Acc." in summary.columns:
        fig.add_bar(name="Dev accuracy", x=names, y=summary["Emp. Acc."].to_numpy(float))
    fig.update_layout(barmode="group", title=title, yaxis=dict(range=[0, 1], tickformat=".0%"),
                      template=TEMPLATE, legend=dict(orientation="h", y=1.1))
    return fig


def matrix_heatmap(matrix: pd.DataFrame, title: str, colorscale: str = "Blues") -> go.Figure:
    """Heatmap of an m x m LF matrix (overlap, conflict) with LF names on both axes."""
    names = [str(n) for n in matrix.index]
    values = matrix.to_numpy(float)
    fig = go.Figure(go.Heatmap(
        z=values, x=names, y=names, colorscale=colorscale, zmin=0,
        text=np.vectorize(lambda v: f"{v:.1%}")(values) if values.size else None, texttemplate="%{text}",
        hovertemplate="%{y} × %{x}: %{z:.1%}<extra></extra>",
    ))
    fig.update_layout(title=title, template=TEMPLATE, yaxis=dict(autorange="reversed"), xaxis=dict(tickangle=-45))
    return fig


def confidence_histogram(proba: np.ndarray, bins: int = 20, threshold: float | None = None,
                         title: str = "Label model confidence") -> go.Figure:
    """Histogram of each row's top probability (binned here, not in the browser).

    ``proba`` is an ``(n, k)`` probability matrix, or the top probabilities of a binary task.
    """
    proba = np.asarray(proba, dtype=float)
    top = proba.max(axis=1) if proba.ndim == 2 else proba
    k = proba.shape[1] if proba.ndim == 2 else 2
    counts, edges = np.histogram(top, bins=bins, range=(1 / k, 1.0))
    centers = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(x=centers, y=counts, width=np.diff(edges), name="rows",
                           hovertemplate="confidence %{x:.2f}: %{y} rows<extra></extra>"))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color="crimson",
                      annotation_text=f"threshold {threshold:.2f}")
    fig.update_layout(title=title, xaxis_title="max probability", yaxis_title="rows", template=TEMPLATE, bargap=0.02)
    return fig


def class_balance_bars(predicted: Sequence[float], reference: Sequence[float] | None, class_names: Sequence[str],
                       title: str = "Class balance", reference_name: str = "dev set") -> go.Figure:
    """Predicted class proportions beside a reference (the dev set's)."""
    names = list(class_names)
    fig = go.Figure(go.Bar(name="predicted", x=names, y=list(predicted)))
    if reference is not None:
        fig.add_bar(name=reference_name, x=names, y=list(reference))
    fig.update_layout(barmode="group", title=title, yaxis=dict(tickformat=".0%"), template=TEMPLATE)
    return fig


def lf_accuracy_scatter(report_lfs: pd.DataFrame, title: str = "Learned vs dev accuracy") -> go.Figure:
    """Each LF's learned accuracy (label model) against its dev accuracy, sized by coverage.

    ``report_lfs`` is :attr:`workbench.generate.HealthReport.lfs`.
    """
    df = report_lfs
    fig = go.Figure(go.Scatter(
        x=df["dev_accuracy"], y=df["learned_accuracy"], text=list(df.index), mode="markers+text",
        textposition="top center", marker=dict(size=8 + 60 * df["coverage"].to_numpy(float)),
        hovertemplate="%{text}: dev %{x:.2f}, learned %{y:.2f}<extra></extra>",
    ))
    fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line=dict(dash="dot", color="gray"))
    fig.update_layout(title=title, xaxis=dict(title="dev accuracy", range=[0, 1.05]),
                      yaxis=dict(title="learned accuracy", range=[0, 1.05]), template=TEMPLATE)
    return fig
