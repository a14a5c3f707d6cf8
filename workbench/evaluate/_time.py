"""Metrics per period, for drift."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from workbench.data._dataset import (
    LABEL_COLUMN,
    TEXT_COLUMN,
)
from workbench.evaluate._report import _metric_functions, _prepare

NO_DATE = "no date"


# --------------------------------------------------------------------------- time


def metrics_over_time(
    model_or_probs: Any,
    data: pd.DataFrame,
    *,
    date_column: str = "DATE",
    freq: str = "M",
    fill_gaps: bool = True,
    positive_label: int = 1,
    label_column: str = LABEL_COLUMN,
    text_column: str | None = TEXT_COLUMN,
) -> pd.DataFrame:
    """Metrics per calendar period (month by default) of ``date_column``, so drift shows.

    Dates are parsed leniently (any format pandas reads; time zones converted to
    UTC). Rows whose date is missing or unreadable form their own bucket,
    ``"no date"``, last. With ``fill_gaps``, periods between the first and last
    date that have no rows are kept with ``n == 0`` so gaps are visible, not hidden.

    Returns
    -------
    DataFrame
        Columns ``period`` (e.g. ``"2015-05"`` or ``"no date"``), ``start``
        (Timestamp, NaT for the undated bucket), ``n``, ``accuracy``,
        ``error_rate``, ``coverage``, ``precision``, ``recall``, ``f1``,
        ``gold_positive_rate`` and ``predicted_positive_rate`` (share of
        ``positive_label`` among gold labels and predictions: a change in the
        first is drift in the data, in the second drift in the model).

    Examples
    --------
    >>> df = pd.DataFrame({"label": [1, 0, 1], "DATE": ["2015-01-03", "2015-03-09", None]})
    >>> metrics_over_time(np.array([1, 1, 1]), df)[["period", "n", "accuracy"]].values.tolist()
    [['2015-01', 1, 1.0], ['2015-02', 0, nan], ['2015-03', 1, 0.0], ['no date', 1, 1.0]]
    """
    if not isinstance(data, pd.DataFrame) or date_column not in data.columns:
        cols = list(data.columns) if isinstance(data, pd.DataFrame) else "none (not a DataFrame)"
        raise ValueError(f"data has no date column {date_column!r}; columns are {cols}")
    y, preds, _, k = _prepare(model_or_probs, data, label_column=label_column, text_column=text_column)
    dates = pd.to_datetime(data[date_column], errors="coerce", utc=True, format="mixed")
    periods = dates.dt.tz_convert(None).dt.to_period(freq)
    groups = periods.astype(str).where(periods.notna(), NO_DATE).to_numpy()

    functions = _metric_functions(k, positive_label)
    functions["gold_positive_rate"] = lambda yt, yp: float(np.mean(np.asarray(yt) == positive_label))
    functions["predicted_positive_rate"] = lambda yt, yp: float(np.mean(np.asarray(yp) == positive_label))
    frame = MetricFrame(metrics=functions, y_true=y, y_pred=preds, sensitive_features=pd.Series(groups, name="period"))
    by_period = frame.by_group
    counts = pd.Series(groups).value_counts()

    dated = periods.dropna()
    if fill_gaps and len(dated):
        spans = list(pd.period_range(dated.min(), dated.max(), freq=freq))
    else:
        spans = sorted(dated.unique())
    order = [str(p) for p in spans] + ([NO_DATE] if NO_DATE in counts.index else [])
    out = by_period.reindex(order)
    out.insert(0, "n", counts.reindex(order).fillna(0).astype(int).to_numpy())
    out.insert(0, "start", [p.start_time for p in spans] + [pd.NaT] * (len(order) - len(spans)))
    return out.rename_axis("period").reset_index()
