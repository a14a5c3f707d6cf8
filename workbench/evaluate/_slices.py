"""Metrics per slice (Snorkel slicing functions, a column or masks) with the gap to the whole and an interval."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from workbench._internal.stats import wilson_interval
from workbench.data._dataset import (
    LABEL_COLUMN,
    TEXT_COLUMN,
)
from workbench.evaluate._report import _metric_functions, _prepare

# --------------------------------------------------------------------------- slices


def slice_masks(data: pd.DataFrame, slices: Any) -> dict[str, np.ndarray]:
    """Boolean row masks, one per slice.

    ``slices`` is a list whose items are Snorkel slicing functions
    (``@slicing_function()``; applied together with ``PandasSFApplier``), column
    names (one slice per value, named ``"column=value"``; missing values get
    ``"column=<missing>"``), or ``(name, mask)`` pairs; a dict of name to mask is
    accepted too.

    Examples
    --------
    >>> df = pd.DataFrame({"text": ["a", "bb", "ccc"], "video": [1, 1, 2]})
    >>> sorted(slice_masks(df, ["video", ("long", df.text.str.len() > 1)]))
    ['long', 'video=1', 'video=2']
    """
    from snorkel.slicing import PandasSFApplier, SlicingFunction

    if not isinstance(data, pd.DataFrame):
        raise TypeError("slices are defined on rows: pass data as a DataFrame")
    items = list(slices.items()) if isinstance(slices, Mapping) else list(slices)
    masks: dict[str, np.ndarray] = {}

    def add(name: str, mask: Any) -> None:
        if name in masks:
            raise ValueError(f"two slices are named {name!r}")
        mask = np.asarray(mask)
        if mask.shape != (len(data),):
            raise ValueError(f"slice {name!r}: mask has shape {mask.shape}, expected ({len(data)},)")
        masks[name] = mask.astype(bool)

    sfs = [s for s in items if isinstance(s, SlicingFunction)]
    sf_names = [sf.name for sf in sfs]
    repeated = next((name for name in sf_names if sf_names.count(name) > 1), None)
    if repeated is not None:  # PandasSFApplier would refuse with a less helpful message
        raise ValueError(f"two slices are named {repeated!r}")
    S = PandasSFApplier(sfs).apply(data, progress_bar=False) if sfs else None
    for item in items:
        if isinstance(item, SlicingFunction):
            add(item.name, S[item.name])
        elif isinstance(item, str):
            if item not in data.columns:
                raise ValueError(f"slice column {item!r} is not in data; columns are {list(data.columns)}")
            col = data[item]
            for value in col.dropna().unique():
                add(f"{item}={value}", (col == value).to_numpy())
            if col.isna().any():
                add(f"{item}=<missing>", col.isna().to_numpy())
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            add(*item)
        else:
            raise TypeError(
                f"cannot make a slice from {item!r}: use a @slicing_function, a column name or a (name, mask) pair"
            )
    return masks


def slice_report(
    model_or_probs: Any,
    data: pd.DataFrame,
    slices: Any,
    *,
    margin: float = 0.05,
    min_size: int = 30,
    confidence: float = 0.95,
    positive_label: int = 1,
    label_column: str = LABEL_COLUMN,
    text_column: str | None = TEXT_COLUMN,
) -> pd.DataFrame:
    """Every metric per slice, its gap to the whole set, and which slices are worse.

    Metrics are computed with ``fairlearn.metrics.MetricFrame`` with slice
    membership as the grouping feature (slices may overlap). A slice is
    ``"flagged"`` when its error rate exceeds the whole set's by more than
    ``margin`` and it has at least ``min_size`` rows; a smaller slice is reported
    with status ``"too small"`` and never flagged, whatever its gap. The Wilson
    interval of each error rate (``error_low``, ``error_high``) shows how much a
    slice's number can be trusted.

    Parameters
    ----------
    slices : see :func:`slice_masks`
    margin : float
        How much worse than the whole (in error rate, absolute) a slice may be.
    min_size : int
        Slices with fewer rows are reported but not flagged.

    Returns
    -------
    DataFrame
        One row per slice, the whole set first (``slice == "all"``), then slices by
        decreasing ``error_gap``. Columns: ``slice, n, share, accuracy, error_rate,
        coverage, precision, recall, f1, error_gap, accuracy_gap, f1_gap,
        error_low, error_high, status, flagged``.

    Examples
    --------
    >>> df = pd.DataFrame({"label": [0, 1] * 50, "group": ["a"] * 40 + ["b"] * 60})
    >>> preds = df.label.where(df.group == "b", 1 - df.label)  # group a all wrong
    >>> rep = slice_report(preds.to_numpy(), df, ["group"], min_size=10)
    >>> row = rep.set_index("slice").loc["group=a"]
    >>> round(float(row.error_gap), 3), row.status
    (0.6, 'flagged')
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    y, preds, _, k = _prepare(model_or_probs, data, label_column=label_column, text_column=text_column)
    masks = slice_masks(data, slices)
    functions = _metric_functions(k, positive_label)
    overall = {name: f(y, preds) for name, f in functions.items()}

    rows = []
    for name, mask in masks.items():
        n = int(mask.sum())
        row = {"slice": name, "n": n}
        if n:
            frame = MetricFrame(metrics=functions, y_true=y, y_pred=preds, sensitive_features=pd.Series(mask, name=name))
            row.update(frame.by_group.loc[True].to_dict())
        rows.append(row)
    table = pd.DataFrame(rows, columns=["slice", "n", *functions])
    errors = np.rint(table["error_rate"].fillna(0) * table["n"]).astype(int)
    table["share"] = table["n"] / len(y)
    for metric in ("error_rate", "accuracy", "f1"):
        table[f"{metric.split('_')[0]}_gap"] = table[metric] - overall[metric]
    ci = [wilson_interval(e, n, confidence) for e, n in zip(errors, table["n"])]
    table["error_low"] = [c[0] for c in ci]
    table["error_high"] = [c[1] for c in ci]
    table["status"] = np.select(
        [table["n"] == 0, table["n"] < min_size, table["error_gap"] > margin],
        ["empty", "too small", "flagged"],
        default="ok",
    )
    table["flagged"] = table["status"] == "flagged"
    table = table.sort_values("error_gap", ascending=False, na_position="last", kind="stable")

    whole_low, whole_high = wilson_interval(int(np.sum(y != preds)), len(y), confidence)
    whole = {"slice": "all", "n": len(y), "share": 1.0, **overall, "error_gap": 0.0, "accuracy_gap": 0.0,
             "f1_gap": 0.0, "error_low": whole_low, "error_high": whole_high, "status": "all", "flagged": False}
    columns = ["slice", "n", "share", "accuracy", "error_rate", "coverage", "precision", "recall", "f1",
               "error_gap", "accuracy_gap", "f1_gap", "error_low", "error_high", "status", "flagged"]
    out = pd.concat([pd.DataFrame([whole]), table], ignore_index=True)[columns]
    out.attrs.update(margin=margin, min_size=min_size, confidence=confidence)
    return out
