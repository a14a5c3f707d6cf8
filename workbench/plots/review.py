"""Figures of the review loop."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.plots import SHARE_AXIS, SHARE_LABELS, TEMPLATE
from workbench.plots._layout import axis_labels, fit_layout, round_axis


def round_history_chart(history: pd.DataFrame, metrics: Sequence[str] | None = None,
                        title: str = "Review loop: scores per round") -> go.Figure:
    """Lines of each metric per round over bars of the seed labels harvested so far.

    Parameters
    ----------
    history : DataFrame
        :meth:`workbench.review.ReviewLoop.history` (``round``, ``n_seed_labels`` and
        metric columns).
    metrics : sequence of str, optional
        Metric columns to draw; default every ``*_accuracy`` column.

    Examples
    --------
    >>> round_history_chart(loop.history()).show()  # doctest: +SKIP
    """
    for col in ("round", "n_seed_labels"):
        if col not in history.columns:
            raise ValueError(f"round history needs a {col!r} column; it has {list(history.columns)}")
    metrics = list(metrics) if metrics is not None else [c for c in history.columns if c.endswith("_accuracy")]
    missing = [m for m in metrics if m not in history.columns]
    if missing:
        raise ValueError(f"metrics {missing} are not in the history; columns are {list(history.columns)}")
    rounds = history["round"].astype(int).tolist()
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=rounds, y=history["n_seed_labels"].tolist(), name="seed labels", opacity=0.3,
                marker_color="gray", hovertemplate="round %{x}: %{y:,d} seed labels<extra></extra>", secondary_y=True)
    for metric in metrics:
        fig.add_scatter(x=rounds, y=history[metric].astype(float).tolist(), mode="lines+markers",
                        name=metric.replace("_", " "), hovertemplate=f"round %{{x}}: {metric} %{{y:.3f}}<extra></extra>",
                        secondary_y=False)
    seeds = round_axis(max(history["n_seed_labels"].max(), 0) if len(history) else 0)
    fig.update_layout(title=title, template=TEMPLATE, hovermode="x unified")
    fig.update_xaxes(title_text="round", tickmode="array", tickvals=rounds)
    fig.update_yaxes(title_text="score", secondary_y=False, **SHARE_AXIS)
    fig.update_yaxes(title_text="seed labels", secondary_y=True, showgrid=False, **seeds)
    fig.update_traces(cliponaxis=False, selector=dict(type="scatter"))
    return fit_layout(fig, x_labels=[str(r) for r in rounds], y_labels=SHARE_LABELS, y2_labels=axis_labels(seeds))
