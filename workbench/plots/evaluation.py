"""Figures of :mod:`workbench.evaluate`: metrics over time, slice gaps, model comparison, confusion.

Every builder takes the table the evaluate function returned (small by
construction: one row per period, slice or model) and returns a plotly Figure.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from workbench.evaluate import compare_models
>>> y = np.array([0, 1, 1, 0])
>>> fig = model_comparison_figure(compare_models({"a": y, "b": 1 - y}, y))
>>> [t.name for t in fig.data]
['a', 'b']
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.plots import SHARE_AXIS, SHARE_LABELS, TEMPLATE, category_angle, class_labels
from workbench.plots._layout import axis_labels, fit_layout, round_axis

STATUS_COLORS = {"flagged": "#d62728", "ok": "#1f77b4", "too small": "#c7c7c7", "empty": "#eeeeee"}


def _require(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} needs columns {missing}; got {list(table.columns)}")


def metrics_over_time_figure(time_table: pd.DataFrame, metrics: Sequence[str] = ("accuracy", "f1")) -> go.Figure:
    """Lines of ``metrics`` per period over bars of the row count, from :func:`~workbench.evaluate.metrics_over_time`.

    Periods without rows are left off the axis (a table filled month by month is mostly
    empty months otherwise) and counted in the axis title; the ``"no date"`` bucket is the
    last category. The row-count axis on the right has round steps and the same number of
    intervals as the metric axis, so both read on one grid.
    """
    _require(time_table, ["period", "n", *metrics], "metrics_over_time_figure")
    shown = time_table[time_table["n"] > 0]
    skipped = len(time_table) - len(shown)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    periods = shown["period"].astype(str).tolist()
    counts = shown["n"].astype(int)
    fig.add_trace(
        go.Bar(x=periods, y=counts, name="rows", marker_color="rgba(150,150,150,0.35)",
               hovertemplate="%{x}: %{y:,d} rows<extra></extra>"),
        secondary_y=True,
    )
    for metric in metrics:
        fig.add_trace(
            go.Scatter(x=periods, y=shown[metric], name=metric, mode="lines+markers", cliponaxis=False,
                       customdata=counts, connectgaps=False,
                       hovertemplate=f"%{{x}}: {metric} %{{y:.3f}} (n=%{{customdata:,d}})<extra></extra>"),
            secondary_y=False,
        )
    angle = category_angle(periods)
    rows = round_axis(counts.max() if len(counts) else 0)
    period_title = "period" + (f" ({skipped} without rows left out)" if skipped else "")
    fig.update_xaxes(type="category", title_text=period_title, tickangle=angle)
    fig.update_yaxes(title_text="metric", secondary_y=False, **SHARE_AXIS)
    fig.update_yaxes(title_text="rows", showgrid=False, secondary_y=True, **rows)
    fig.update_layout(title="Metrics over time (bars: rows per period)", hovermode="x unified", template=TEMPLATE)
    return fit_layout(fig, x_labels=periods, y_labels=SHARE_LABELS, y2_labels=axis_labels(rows), x_angle=angle)


def slice_gap_figure(slice_table: pd.DataFrame, margin: float | None = None) -> go.Figure:
    """Each slice's error-rate gap to the whole set, coloured by status, from :func:`~workbench.evaluate.slice_report`.

    Slices are labelled with their size. Error bars are the slice's Wilson
    interval shifted by the whole set's error rate, so a wide bar says "too few
    rows to tell". The dashed line is the margin above which a big-enough slice
    is flagged.
    """
    _require(slice_table, ["slice", "n", "error_rate", "error_gap", "error_low", "error_high", "status"],
             "slice_gap_figure")
    overall = slice_table.loc[slice_table["slice"] == "all", "error_rate"]
    base = float(overall.iloc[0]) if len(overall) else 0.0
    parts = slice_table[(slice_table["slice"] != "all") & (slice_table["n"] > 0)].iloc[::-1]
    margin = slice_table.attrs.get("margin") if margin is None else margin

    labels = parts["slice"] + " (n=" + parts["n"].astype(str) + ")"
    fig = go.Figure()
    for status, rows in parts.groupby("status", sort=False):
        fig.add_trace(go.Bar(
            y=labels[rows.index], x=rows["error_gap"], orientation="h", name=status,
            marker_color=STATUS_COLORS.get(status, "#7f7f7f"),
            error_x=dict(type="data", symmetric=False, array=rows["error_high"] - base - rows["error_gap"],
                         arrayminus=rows["error_gap"] - (rows["error_low"] - base), thickness=1),
            customdata=rows["error_rate"],
            hovertemplate="%{y}: error rate %{customdata:.3f} (gap %{x:+.3f})<extra></extra>",
        ))
    if margin is not None:
        fig.add_vline(x=margin, line_dash="dash", line_color="#d62728", annotation_text=f"margin {margin:+.2f}",
                      annotation_position="top right")
    fig.add_vline(x=0, line_color="black", line_width=1)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=list(labels), title="slice")
    fig.update_layout(title=f"Error rate of each slice minus the whole set's ({base:.3f})",
                      xaxis=dict(title="error-rate gap (positive = worse than the whole)", tickformat="+.2f"),
                      barmode="overlay", template=TEMPLATE, height=max(300, 28 * len(parts) + 170))
    return fit_layout(fig, x_labels=["+0.00"], y_labels=list(labels))


def model_comparison_figure(comparison: pd.DataFrame, metric: str = "accuracy") -> go.Figure:
    """Grouped bars of ``metric`` per model, on the whole set and on every slice, from :func:`~workbench.evaluate.compare_models`."""
    _require(comparison, [metric], "model_comparison_figure")
    slice_cols = [c for c in comparison.columns if c.startswith(f"{metric}[") and c.endswith("]")]
    columns = [metric, *slice_cols]
    labels = ["all", *(c[len(metric) + 1 : -1] for c in slice_cols)]
    fig = go.Figure()
    for model, row in comparison.iterrows():
        fig.add_trace(go.Bar(x=labels, y=row[columns].astype(float), name=str(model),
                             hovertemplate=f"{model}<br>%{{x}}: {metric} %{{y:.3f}}<extra></extra>"))
    angle = category_angle(labels)
    fig.update_layout(barmode="group", title=f"{metric} of each model, whole set and slices", template=TEMPLATE,
                      yaxis=dict(title=metric, **SHARE_AXIS), xaxis=dict(title="slice", type="category", tickangle=angle))
    return fit_layout(fig, x_labels=labels, y_labels=SHARE_LABELS, x_angle=angle)


def confusion_figure(confusion: pd.DataFrame, title: str = "Confusion matrix", *,
                     class_names: Sequence[str] | None = None) -> go.Figure:
    """Heatmap of :attr:`EvaluationReport.confusion <workbench.evaluate.EvaluationReport>` with counts in the cells.

    Rows and columns show class names: those :func:`~workbench.evaluate.evaluate` was given, or
    ``class_names`` here for a report made without them (``true 1`` becomes ``true spam``).
    """
    def named(labels):
        parts = [str(label).split(" ", 1) if " " in str(label) else ["", str(label)] for label in labels]
        names = class_labels([c for _, c in parts], class_names, keep=("abstain",))
        return [f"{prefix} {name}".strip() for (prefix, _), name in zip(parts, names)]

    confusion = pd.DataFrame(confusion.to_numpy(), index=pd.Index(named(confusion.index), name=confusion.index.name),
                             columns=pd.Index(named(confusion.columns), name=confusion.columns.name))
    fig = px.imshow(confusion, text_auto=",d", color_continuous_scale="Blues", aspect="auto")
    fig.update_layout(title=title, coloraxis_showscale=False, template=TEMPLATE, height=360,
                      xaxis=dict(title=confusion.columns.name or "predicted", side="bottom"),
                      yaxis=dict(title=confusion.index.name or "true"))
    return fit_layout(fig, x_labels=[str(c) for c in confusion.columns], y_labels=[str(i) for i in confusion.index],
                      legend=False)
