"""Several models on the same clean set and slices."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from workbench.data._dataset import (
    LABEL_COLUMN,
    TEXT_COLUMN,
)
from workbench.evaluate._report import evaluate
from workbench.evaluate._slices import slice_masks, slice_report

# --------------------------------------------------------------------------- model comparison


def compare_models(
    models: Mapping[str, Any],
    data: pd.DataFrame,
    *,
    slices: Any = None,
    slice_metric: str = "accuracy",
    margin: float = 0.05,
    min_size: int = 30,
    positive_label: int = 1,
    fp_cost: float = 1.0,
    fn_cost: float = 1.0,
    label_column: str = LABEL_COLUMN,
    text_column: str | None = TEXT_COLUMN,
) -> pd.DataFrame:
    """Several models on the same clean set and the same slices, one row per model.

    Parameters
    ----------
    models : dict of name to model_or_probs
        E.g. ``{"majority vote": ..., "label model": ..., "end model": ...}``.
    slices : optional, see :func:`slice_masks`
        Adds a column ``"<slice_metric>[<slice>]"`` per slice, plus
        ``flagged_slices`` (how many slices :func:`slice_report` flags),
        ``worst_slice`` and ``worst_error_gap`` (among slices of at least
        ``min_size`` rows).

    Returns
    -------
    DataFrame
        Indexed by model: ``n, coverage, accuracy, error_rate, precision,
        recall, f1, ece, cost, cost_per_example`` and the slice columns.

    Examples
    --------
    >>> y = np.array([0, 1, 1, 0])
    >>> compare_models({"good": y, "bad": 1 - y}, y)["accuracy"].tolist()
    [1.0, 0.0]
    """
    if not models:
        raise ValueError("no models to compare")
    masks = slice_masks(data, slices) if slices is not None else None  # once, shared by every model
    rows = {}
    for name, model in models.items():
        try:
            row = evaluate(model, data, positive_label=positive_label, fp_cost=fp_cost, fn_cost=fn_cost,
                           label_column=label_column, text_column=text_column).summary()
            if masks is not None:
                rep = slice_report(model, data, masks, margin=margin, min_size=min_size,
                                   positive_label=positive_label, label_column=label_column,
                                   text_column=text_column)
                parts = rep[rep["slice"] != "all"]
                big = parts[parts["n"] >= min_size]
                row["flagged_slices"] = int(parts["flagged"].sum())
                row["worst_slice"] = big["slice"].iloc[0] if len(big) else None
                row["worst_error_gap"] = float(big["error_gap"].iloc[0]) if len(big) else np.nan
                by_slice = parts.set_index("slice")[slice_metric]
                row.update({f"{slice_metric}[{name}]": by_slice[name] for name in masks})
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"model {name!r}: {exc}") from exc
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
