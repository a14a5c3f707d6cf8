"""Figures for the learning notebooks: pseudo-labeling rounds, reliability, student vs teacher.

Pure builders from the tables that :mod:`workbench.generate` and :mod:`workbench.learn`
return; nothing per row goes to the browser (reliability diagrams are binned first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.learn._calibration import expected_calibration_error, reliability_table
from workbench.plots import SHARE_AXIS, SHARE_LABELS, TEMPLATE, category_angle, class_labels
from workbench.plots._layout import axis_labels, fit_layout, nice_step, round_axis


FONT_LINE = 18  # one line of axis text, in pixels


def _score_columns(history: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    skip = {"pseudo_label_accuracy", "mean_confidence_added", "train_loss", *exclude}
    return [c for c in history.columns if c.endswith(("_accuracy", "_f1", "_f1_macro", "_roc_auc")) and c not in skip]


def pseudo_label_rounds(history: pd.DataFrame, class_names: Sequence[str] | None = None,
                        title: str = "Pseudo-labeling rounds") -> go.Figure:
    """Labeled pool size per round (stacked by class) and clean-set scores (right axis).

    ``history`` is :attr:`workbench.generate.PseudoLabeler.history_`. Rounds that
    early stopping rolled back are drawn faded; the pseudo-labels' audit accuracy,
    when present, is a dotted line.
    """
    rounds = history["round"].to_numpy()
    class_cols = [c for c in history.columns if c.startswith("added_")]
    seeds = int(history["n_labeled"].iloc[0])
    kept = history["kept"].to_numpy() if "kept" in history else np.ones(len(history), bool)
    opacity = np.where(kept, 1.0, 0.35)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=rounds, y=np.full(len(rounds), seeds), name="seeds", marker=dict(color="#7f7f7f", opacity=opacity))
    for col, name in zip(class_cols, class_labels([c.removeprefix("added_") for c in class_cols], class_names)):
        fig.add_bar(x=rounds, y=history[col].cumsum(), name=f"pseudo-labeled {name}",
                    marker=dict(opacity=opacity), hovertemplate="round %{x}: %{y} rows<extra>" + name + "</extra>")
    for col in _score_columns(history):
        fig.add_scatter(x=rounds, y=history[col], name=col.replace("_", " "), mode="lines+markers", secondary_y=True)
    if "pseudo_label_accuracy" in history:
        fig.add_scatter(x=rounds, y=history["pseudo_label_accuracy"], name="pseudo-label accuracy (audit)",
                        mode="lines+markers", line=dict(dash="dot"), secondary_y=True)
    threshold = history["threshold"].iloc[0] if "threshold" in history else np.nan
    subtitle = f" (threshold {threshold:.2f})" if np.isfinite(threshold) else ""
    rows = round_axis(history["n_labeled"].max())
    fig.update_layout(title=title + subtitle, barmode="stack", template=TEMPLATE, xaxis=dict(title="round", dtick=1))
    fig.update_yaxes(title_text="labeled rows", secondary_y=False, **rows)
    fig.update_yaxes(title_text="score", secondary_y=True, showgrid=False, **SHARE_AXIS)
    fig.update_traces(cliponaxis=False, selector=dict(type="scatter"))
    return fit_layout(fig, x_labels=[str(r) for r in rounds], y_labels=axis_labels(rows), y2_labels=SHARE_LABELS)


def reliability_diagram(y_true, proba_by_model: Mapping[str, np.ndarray], n_bins: int = 10, strategy: str = "uniform",
                        title: str = "Reliability diagram") -> go.Figure:
    """Accuracy against confidence per bin for each probability array, with the diagonal.

    ``proba_by_model`` maps a name to ``(n, k)`` probabilities of the same clean rows; the
    legend carries each one's ECE. A lower panel shows how many rows fall in each bin.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.06)
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
                    line=dict(dash="dash", color="gray"), row=1, col=1)
    for name, proba in proba_by_model.items():
        table = reliability_table(y_true, proba, n_bins=n_bins, strategy=strategy)
        ece = expected_calibration_error(y_true, proba, n_bins=n_bins, strategy=strategy)
        fig.add_scatter(
            x=table["confidence"], y=table["accuracy"], mode="lines+markers", name=f"{name} (ECE {ece:.3f})",
            legendgroup=name, customdata=table[["count", "lower", "upper"]].to_numpy(),
            hovertemplate="confidence %{x:.2f} → accuracy %{y:.2f}<br>%{customdata[0]} rows in "
                          "[%{customdata[1]:.2f}, %{customdata[2]:.2f}]<extra>" + name + "</extra>",
            row=1, col=1,
        )
        fig.add_bar(x=table["confidence"], y=table["count"], name=name, legendgroup=name, showlegend=False,
                    opacity=0.6, width=0.8 / n_bins, row=2, col=1)
    counts = max((max(t.y, default=0) for t in fig.data if t.type == "bar"), default=0)
    rows = round_axis(counts, intervals=2)
    fig.update_layout(title=f"{title} ({'equal-width' if strategy == 'uniform' else 'equal-mass'} bins)",
                      template=TEMPLATE, barmode="group")
    fig.update_yaxes(title_text="accuracy", row=1, col=1, **SHARE_AXIS)
    fig.update_yaxes(title_text="rows", row=2, col=1, **rows)
    fig.update_xaxes(range=[0, 1], dtick=0.2, tickformat=".1f", row=1, col=1)
    fig.update_xaxes(title_text="confidence (top-label probability)", range=[0, 1], dtick=0.2, tickformat=".1f", row=2, col=1)
    fig.update_traces(cliponaxis=False, selector=dict(type="scatter"))
    # the x axis title belongs to the lower panel (xaxis2): the bottom margin holds it, the legend sits on top
    fig.layout.xaxis.title.text = None
    return fit_layout(fig, x_labels=["0.0", "1.0"], y_labels=SHARE_LABELS + axis_labels(rows), bottom_extra=FONT_LINE + 6)


def model_comparison(report: pd.DataFrame, metrics: Sequence[str] = ("accuracy", "ece_uniform", "brier"),
                     title: str = "Student vs teacher") -> go.Figure:
    """Grouped bars of a few metrics per model (rows of a calibration or distillation report).

    ``report`` is indexed by model name, e.g. :func:`workbench.generate.compare_targets`
    or :func:`workbench.learn.calibration_report`.
    """
    missing = [m for m in metrics if m not in report.columns]
    if missing:
        raise ValueError(f"report has no column(s) {missing}; columns are {list(report.columns)}")
    fig = go.Figure()
    for name, row in report.iterrows():
        fig.add_bar(name=str(name), x=list(metrics), y=[row[m] for m in metrics],
                    text=[f"{row[m]:.3f}" for m in metrics], textposition="outside", cliponaxis=False)
    top = max([float(np.nanmax(report[list(metrics)].to_numpy(float)))] + [0.0])
    values = dict(range=[0, nice_step(top * 1.1 / 5) * 5], dtick=nice_step(top * 1.1 / 5), tickmode="linear", tick0=0)
    fig.update_layout(title=title, barmode="group", template=TEMPLATE, xaxis=dict(title="metric"),
                      yaxis=dict(title="value (accuracy: higher is better;<br>ECE, Brier, log loss: lower)", **values))
    return fit_layout(fig, x_labels=list(metrics), y_labels=axis_labels(values, fmt="g"))


def student_teacher_rounds(history: pd.DataFrame, title: str = "Student vs teacher per round") -> go.Figure:
    """Teacher and student accuracy on the clean valid and test sets, round by round.

    ``history`` is :attr:`workbench.learn.StudentTeacherResult.history`; rounds where the
    student beat the teacher on valid (and so relabeled the pool) are marked with a star.
    """
    rounds = history["round"].to_numpy()
    fig = go.Figure()
    styles = {"teacher": dict(dash="dash"), "student": dict(dash="solid")}
    for who in ("teacher", "student"):
        for split, color in (("valid", "#1f77b4"), ("test", "#d62728")):
            fig.add_scatter(x=rounds, y=history[f"{who}_{split}_accuracy"], name=f"{who} · {split}",
                            mode="lines+markers", line=dict(color=color, **styles[who]))
    won = history["student_beats_teacher"].to_numpy(bool)
    fig.add_scatter(x=rounds[won], y=history["student_valid_accuracy"][won], mode="markers", name="student wins → relabels",
                    marker=dict(symbol="star", size=14, color="gold", line=dict(color="black", width=1)))
    fig.update_layout(title=title, template=TEMPLATE, xaxis=dict(title="round", dtick=1),
                      yaxis=dict(title="accuracy", **SHARE_AXIS))
    fig.update_traces(cliponaxis=False)
    return fit_layout(fig, x_labels=[str(r) for r in rounds], y_labels=SHARE_LABELS)


def training_curve(history: pd.DataFrame, title: str = "End model training") -> go.Figure:
    """Training loss and clean validation scores per epoch, with the kept (best) epoch marked.

    ``history`` is :attr:`workbench.learn.EndModelTrainer.history_`.
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    epochs = history["epoch"].to_numpy()
    fig.add_scatter(x=epochs, y=history["train_loss"], name="train loss (soft labels)", mode="lines+markers")
    fig.add_scatter(x=epochs, y=history["valid_log_loss"], name="valid log loss", mode="lines+markers")
    for col in [c for c in history.columns if c.startswith("valid_") and c != "valid_log_loss"]:
        fig.add_scatter(x=epochs, y=history[col], name=col.replace("_", " "), mode="lines+markers", secondary_y=True)
    best = int(history.loc[history["best"], "epoch"].iloc[0])
    fig.add_vline(x=best, line_dash="dot", line_color="green", annotation_text=f"kept: epoch {best}")
    losses = history[["train_loss", "valid_log_loss"]].to_numpy(float)
    loss = round_axis(float(np.nanmax(losses)) if losses.size else 0.0, integer=False)
    fig.update_layout(title=title, template=TEMPLATE, xaxis=dict(title="epoch", dtick=1 if len(epochs) <= 20 else None))
    fig.update_yaxes(title_text="log loss", secondary_y=False, **loss)
    fig.update_yaxes(title_text="valid score", secondary_y=True, showgrid=False, **SHARE_AXIS)
    fig.update_traces(cliponaxis=False)
    return fit_layout(fig, x_labels=[str(e) for e in epochs], y_labels=axis_labels(loss), y2_labels=SHARE_LABELS)
