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

from workbench.plots._layout import axis_labels, fit_layout, round_axis

TEMPLATE = "plotly_white"
#: a share axis from 0% to 100% in round steps
SHARE_AXIS = dict(range=[0, 1], tick0=0, dtick=0.2, tickmode="linear", tickformat=".0%")
SHARE_LABELS = axis_labels(SHARE_AXIS)


def class_labels(labels, class_names: Sequence[str] | None, keep: Sequence[str] = ()) -> list[str]:
    """The classes of a table as names: a class id (``1``, ``"1"``) becomes ``class_names[id]``.

    A label that already is one of ``class_names``, or one of ``keep`` (such as ``"all"``), stays;
    without ``class_names`` every label is shown as it is. Anything else is an error naming it.
    """
    if class_names is None:
        return [str(label) for label in labels]
    names = [str(n) for n in class_names]
    out = []
    for label in labels:
        text = str(label)
        if text in names or text in keep:
            out.append(text)
        elif text.isdigit() and int(text) < len(names):
            out.append(names[int(text)])
        else:
            raise ValueError(f"class {text!r} is neither one of the class names {names} nor a class id 0..{len(names) - 1}")
    return out


def category_angle(labels) -> int:
    """Tick angle for category labels: level when short, slanted when long or many."""
    labels = [str(label) for label in labels]
    return -45 if labels and (max(map(len, labels)) > 10 or len(labels) * max(map(len, labels)) > 60) else 0


def lf_summary_bars(summary: pd.DataFrame, title: str = "Labeling functions") -> go.Figure:
    """Grouped bars per LF: coverage and, when the summary has gold labels, dev accuracy."""
    names = list(summary.index)
    fig = go.Figure(go.Bar(name="Coverage", x=names, y=summary["Coverage"].to_numpy(float)))
    if "Emp. Acc." in summary.columns:
        fig.add_bar(name="Dev accuracy", x=names, y=summary["Emp. Acc."].to_numpy(float))
    angle = category_angle(names)
    fig.update_layout(barmode="group", title=title, yaxis=dict(title="share of rows", **SHARE_AXIS),
                      xaxis=dict(title="labeling function", tickangle=angle), template=TEMPLATE)
    return fit_layout(fig, x_labels=names, y_labels=SHARE_LABELS, x_angle=angle)


def matrix_heatmap(matrix: pd.DataFrame, title: str, colorscale: str = "Blues") -> go.Figure:
    """Heatmap of an m x m LF matrix (overlap, conflict) with LF names on both axes.

    Cells and the colour bar are both in percent of rows.
    """
    names = [str(n) for n in matrix.index]
    values = matrix.to_numpy(float)
    fig = go.Figure(go.Heatmap(
        z=values, x=names, y=names, colorscale=colorscale, zmin=0,
        text=np.vectorize(lambda v: f"{v:.1%}")(values) if values.size else None, texttemplate="%{text}",
        hovertemplate="%{y} × %{x}: %{z:.1%}<extra></extra>",
        colorbar=dict(tickformat=".0%", title=dict(text="rows", side="top")),
    ))
    fig.update_layout(title=title, template=TEMPLATE, yaxis=dict(autorange="reversed", title="labeling function"),
                      xaxis=dict(tickangle=-45, title="labeling function"))
    return fit_layout(fig, x_labels=names, y_labels=names, x_angle=-45, legend=False)


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
                           hovertemplate="confidence %{x:.2f}: %{y:,d} rows<extra></extra>"))
    if threshold is not None:
        fig.add_vline(x=threshold, line_dash="dash", line_color="crimson",
                      annotation_text=f"threshold {threshold:.2f}")
    rows = round_axis(counts.max(initial=0))
    fig.update_layout(title=title, xaxis=dict(title="max probability", range=[1 / k, 1.0], tickformat=".2f"),
                      yaxis=dict(title="rows", **rows), template=TEMPLATE, bargap=0.02)
    return fit_layout(fig, x_labels=["0.00"], y_labels=axis_labels(rows), legend=False)


def class_balance_bars(predicted: Sequence[float], reference: Sequence[float] | None, class_names: Sequence[str],
                       title: str = "Class balance", reference_name: str = "dev set") -> go.Figure:
    """Predicted class proportions beside a reference (the dev set's)."""
    names = list(class_names)
    fig = go.Figure(go.Bar(name="predicted", x=names, y=list(predicted)))
    if reference is not None:
        fig.add_bar(name=reference_name, x=names, y=list(reference))
    fig.update_layout(barmode="group", title=title, yaxis=dict(title="share of rows", **SHARE_AXIS),
                      xaxis=dict(title="class"), template=TEMPLATE)
    return fit_layout(fig, x_labels=names, y_labels=SHARE_LABELS)


def lf_accuracy_scatter(report_lfs: pd.DataFrame, title: str = "Learned vs dev accuracy") -> go.Figure:
    """Each LF's learned accuracy (label model) against its dev accuracy, sized by coverage.

    ``report_lfs`` is :attr:`workbench.generate.HealthReport.lfs`.
    """
    df = report_lfs
    fig = go.Figure(go.Scatter(
        x=df["dev_accuracy"], y=df["learned_accuracy"], text=list(df.index), mode="markers+text",
        textposition="top center", marker=dict(size=8 + 60 * df["coverage"].to_numpy(float)), cliponaxis=False,
        hovertemplate="%{text}: dev %{x:.2f}, learned %{y:.2f}<extra></extra>",
    ))
    fig.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line=dict(dash="dot", color="gray"))
    fig.update_layout(title=title, xaxis=dict(title="dev accuracy", **SHARE_AXIS),
                      yaxis=dict(title="learned accuracy", **SHARE_AXIS), template=TEMPLATE)
    return fit_layout(fig, x_labels=SHARE_LABELS, y_labels=SHARE_LABELS, legend=False)


def styled_table(table: pd.DataFrame, *, digits: int = 3):
    """A DataFrame for display: text columns aligned left, whole numbers without decimals.

    Jupyter right-aligns every cell, and a count column that holds a missing value becomes
    float and shows ``12.0``; this returns a pandas ``Styler`` (the data are not changed)
    that left-aligns text columns (and the index when it is text), prints integer-valued
    columns as integers with thousands separators, other numbers with ``digits`` decimals,
    and missing values as blanks.
    """
    text = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])]
    formats = {}
    for column in table.columns:
        values = table[column]
        if pd.api.types.is_bool_dtype(values) or column in text:
            continue
        finite = values.dropna().to_numpy(dtype=float)
        whole = pd.api.types.is_integer_dtype(values) or (finite.size > 0 and np.all(finite == np.round(finite)))
        formats[column] = "{:,.0f}" if whole else f"{{:,.{digits}f}}"
    styler = table.style.format(formats, na_rep="")
    left = [{"selector": "th.row_heading", "props": [("text-align", "left")]}] if not pd.api.types.is_numeric_dtype(table.index) else []
    if text:
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
    for column in text:  # the header of a text column sits over it, on the left
        left.append({"selector": f"th.col_heading.col{table.columns.get_loc(column)}", "props": [("text-align", "left")]})
    return styler.set_table_styles(left, overwrite=False)
