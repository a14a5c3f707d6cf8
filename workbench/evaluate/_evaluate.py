"""Evaluation that does not fool you: reports, slices, time, costs, the canary gate, the sacred set.

Synthetic labels can produce confident models that are wrong in systematic ways.
This module measures a model on a clean, human-labeled set and looks for where it
fails:

- :func:`evaluate` -- accuracy, precision/recall/F1 per class, confusion matrix,
  expected calibration error and the cost of errors (an :class:`EvaluationReport`);
- :func:`slice_report` -- every metric per slice (Snorkel slicing functions, a
  column, or boolean masks) computed with fairlearn's ``MetricFrame``, the gap to
  the whole set, and a flag for slices whose error rate is worse than the whole by
  more than a margin, with the slice size and a confidence interval so tiny slices
  are not over-read;
- :func:`metrics_over_time` -- the same metrics per month of a date column, rows
  without a date in their own bucket, so drift shows;
- :func:`canary_gate` -- a pass/fail :class:`CanaryVerdict` on the canary set that
  the export step records; a failing verdict refuses export
  (:class:`CanaryGateError`) unless an explicit, recorded :class:`Override` is given;
- :func:`check_leakage` -- the sacred set: protected rows (dev, valid, test,
  canary) found in a training set by a hash of normalised text (exact) or by
  MinHash near-duplicate match; :meth:`LeakageReport.enforce` raises
  :class:`LeakageError` naming the rows;
- :func:`compare_models` -- several models on the same clean set and slices, as a
  DataFrame.

Every function takes ``model_or_probs`` first: a fitted model with
``predict_proba`` (or ``predict``) that is applied to ``data[text_column]``, an
``(n, k)`` array of class probabilities, or an ``(n,)`` array of predicted labels
where ``-1`` (``ABSTAIN``) means the model gave no label. An abstention is never a
correct answer: it counts as an error and lowers ``coverage``. Gold labels come
from ``data[label_column]`` when ``data`` is a DataFrame, or ``data`` itself when it
is an array of labels.
"""

from __future__ import annotations

import getpass
import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from scipy.stats import binomtest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)

from workbench._internal.progress import PROGRESS_MIN_ROWS
from workbench._internal.validation import ABSTAIN
from workbench.data._dataset import (
    ID_COLUMN,
    LABEL_COLUMN,
    PROTECTED_SPLITS,
    TEXT_COLUMN,
    Dataset,
)
from workbench.learn._calibration import expected_calibration_error

NO_DATE = "no date"

__all__ = [
    "CanaryGateError",
    "CanaryVerdict",
    "ErrorCost",
    "EvaluationReport",
    "LeakageError",
    "LeakageReport",
    "Override",
    "canary_gate",
    "check_leakage",
    "compare_models",
    "content_hash",
    "error_cost",
    "evaluate",
    "metrics_over_time",
    "normalize_text",
    "slice_masks",
    "slice_report",
]


# --------------------------------------------------------------------------- inputs


def _gold(data: Any, label_column: str) -> np.ndarray:
    """Gold labels from a labeled DataFrame or an array of labels, validated."""
    if isinstance(data, pd.DataFrame):
        if label_column not in data.columns:
            raise ValueError(
                f"data has no gold label column {label_column!r}; columns are {list(data.columns)}. "
                "Evaluate on a human-labeled split (dev, valid, test, canary)."
            )
        values = data[label_column]
    else:
        values = pd.Series(np.asarray(data).ravel())
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise ValueError(f"gold label missing at row {row}; evaluate only on labeled rows")
    y = values.to_numpy()
    if y.size and (not np.issubdtype(y.dtype, np.number) or np.any(y != np.round(y))):
        raise ValueError(f"gold labels must be integer class ids, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        row = int(np.argmin(y))
        raise ValueError(f"gold label {int(y[row])} at row {row} is negative; unlabeled rows cannot be evaluated on")
    return y


def _model_input(data: Any, text_column: str | None) -> Any:
    if not isinstance(data, pd.DataFrame):
        raise TypeError("a model needs the rows to predict on: pass data as a DataFrame, not an array of labels")
    if text_column is None:
        return data
    if text_column not in data.columns:
        raise ValueError(f"data has no text column {text_column!r}; columns are {list(data.columns)}")
    return data[text_column]


def _predictions(model_or_probs: Any, data: Any, text_column: str | None, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Resolve ``model_or_probs`` into (predicted labels with -1 = abstain, probabilities or None)."""
    if hasattr(model_or_probs, "predict_proba"):
        proba = np.asarray(model_or_probs.predict_proba(_model_input(data, text_column)), dtype=float)
        name = f"{type(model_or_probs).__name__}: "
    elif hasattr(model_or_probs, "predict"):
        preds = np.asarray(model_or_probs.predict(_model_input(data, text_column)))
        proba, name = None, f"{type(model_or_probs).__name__}: "
    else:
        arr = np.asarray(model_or_probs)
        name = ""
        if arr.ndim == 2:
            proba = arr.astype(float)
        elif arr.ndim == 1:
            preds, proba = arr, None
        else:
            raise ValueError(f"model_or_probs must be a model, an (n, k) probability array or (n,) labels; got shape {arr.shape}")

    if proba is not None:
        if proba.ndim != 2 or proba.shape[0] != n:
            raise ValueError(f"{name}probabilities have shape {proba.shape}, expected ({n}, k) for {n} gold rows")
        bad = ~np.isfinite(proba).all(axis=1) | (proba < -1e-9).any(axis=1) | (np.abs(proba.sum(axis=1) - 1) > 1e-4)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}row {row} is not a probability distribution: {proba[row].tolist()}")
        return proba.argmax(axis=1).astype(np.int64), proba

    if preds.shape != (n,):
        raise ValueError(f"{name}{preds.shape[0] if preds.ndim else 0} predictions for {n} gold rows")
    if preds.size and (not np.issubdtype(preds.dtype, np.number) or np.any(preds != np.round(preds))):
        raise ValueError(f"{name}predicted labels must be integer class ids or -1 (abstain), got dtype {preds.dtype}")
    preds = preds.astype(np.int64)
    if preds.size and preds.min() < ABSTAIN:
        row = int(np.argmin(preds))
        raise ValueError(f"{name}predicted label {int(preds[row])} at row {row}; use -1 for abstain")
    return preds, None


def _cardinality(y: np.ndarray, preds: np.ndarray, proba: np.ndarray | None, class_names: list[str] | None) -> int:
    k = max(2, int(y.max(initial=0)) + 1, int(preds.max(initial=0)) + 1)
    if proba is not None:
        k = max(k, proba.shape[1])
    if class_names is not None:
        if len(class_names) < k:
            raise ValueError(f"class_names has {len(class_names)} names but labels reach class {k - 1}")
        k = len(class_names)
    return k


def _prepare(model_or_probs, data, *, label_column, text_column, class_names=None):
    y = _gold(data, label_column)
    preds, proba = _predictions(model_or_probs, data, text_column, len(y))
    k = _cardinality(y, preds, proba, class_names)
    return y, preds, proba, k


# --------------------------------------------------------------------------- metrics


def _average(k: int) -> str:
    # With two classes the positive class (spam, fraud, ...) is what people quote.
    return "binary" if k == 2 else "macro"


def _metric_functions(k: int, positive_label: int) -> dict[str, Callable]:
    """Metric callables ``f(y_true, y_pred)``; undefined values (no positives) are NaN, not 0."""
    # One label with micro averaging is that class's score; unlike average="binary"
    # it accepts abstentions (-1) among the predictions.
    if _average(k) == "binary":
        avg, extra = "micro", {"labels": [positive_label]}
    else:
        avg, extra = "macro", {"labels": list(range(k))}
    return {
        "accuracy": accuracy_score,
        "error_rate": lambda y, p: 1.0 - accuracy_score(y, p),
        "coverage": lambda y, p: float(np.mean(np.asarray(p) != ABSTAIN)) if len(p) else np.nan,
        "precision": partial(precision_score, average=avg, zero_division=np.nan, **extra),
        "recall": partial(recall_score, average=avg, zero_division=np.nan, **extra),
        "f1": partial(f1_score, average=avg, zero_division=np.nan, **extra),
    }


GATE_METRICS: dict[str, Callable[[int, int], Callable]] = {
    "accuracy": lambda k, pos: accuracy_score,
    "balanced_accuracy": lambda k, pos: balanced_accuracy_score,
    "precision": lambda k, pos: _metric_functions(k, pos)["precision"],
    "recall": lambda k, pos: _metric_functions(k, pos)["recall"],
    "f1": lambda k, pos: _metric_functions(k, pos)["f1"],
    "f1_macro": lambda k, pos: partial(f1_score, average="macro", labels=list(range(k)), zero_division=np.nan),
}


@dataclass(frozen=True)
class ErrorCost:
    """What a model's mistakes cost, one-vs-rest around ``positive_label``.

    A false positive is a row predicted ``positive_label`` whose gold label is
    another class; a false negative is a gold ``positive_label`` row predicted as
    anything else (an abstention included: the positive went uncaught).
    """

    positive_label: int
    false_positives: int
    false_negatives: int
    fp_cost: float
    fn_cost: float
    total: float
    per_example: float

    def to_dict(self) -> dict:
        return asdict(self)


def error_cost(
    y_true: Any, y_pred: Any, *, fp_cost: float = 1.0, fn_cost: float = 1.0, positive_label: int = 1
) -> ErrorCost:
    """Cost of errors given the user's false-positive and false-negative costs.

    Examples
    --------
    >>> c = error_cost([0, 1, 1, 0], [1, 0, 1, 0], fp_cost=1.0, fn_cost=5.0)
    >>> c.false_positives, c.false_negatives, c.total
    (1, 1, 6.0)
    """
    if fp_cost < 0 or fn_cost < 0:
        raise ValueError(f"costs must be non-negative, got fp_cost={fp_cost}, fn_cost={fn_cost}")
    y = np.asarray(y_true)
    p = np.asarray(y_pred)
    if y.shape != p.shape:
        raise ValueError(f"{len(y)} gold labels but {len(p)} predictions")
    fp = int(np.sum((p == positive_label) & (y != positive_label)))
    fn = int(np.sum((p != positive_label) & (y == positive_label)))
    total = float(fp * fp_cost + fn * fn_cost)
    return ErrorCost(positive_label, fp, fn, float(fp_cost), float(fn_cost), total, total / len(y) if len(y) else np.nan)


@dataclass
class EvaluationReport:
    """Metrics of one model on one clean, human-labeled set (see :func:`evaluate`).

    ``precision``, ``recall`` and ``f1`` are for ``positive_label`` with two
    classes and macro-averaged otherwise (``average`` says which). ``ece`` is
    None when the model gave labels, not probabilities.
    """

    n: int
    coverage: float
    accuracy: float
    error_rate: float
    precision: float
    recall: float
    f1: float
    average: str
    ece: float | None
    cost: ErrorCost
    per_class: pd.DataFrame
    confusion: pd.DataFrame

    def summary(self) -> dict[str, float]:
        """The headline numbers, flat (one row of :func:`compare_models`)."""
        return {
            "n": self.n,
            "coverage": self.coverage,
            "accuracy": self.accuracy,
            "error_rate": self.error_rate,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "ece": np.nan if self.ece is None else self.ece,
            "cost": self.cost.total,
            "cost_per_example": self.cost.per_example,
        }

    def to_dict(self) -> dict:
        out = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in self.summary().items()}
        out.update(
            average=self.average,
            cost=self.cost.to_dict(),
            per_class=self.per_class.reset_index(names="class").to_dict(orient="records"),
            confusion={"labels": list(self.confusion.index), "columns": list(self.confusion.columns),
                       "counts": self.confusion.to_numpy().tolist()},
        )
        return out


def evaluate(
    model_or_probs: Any,
    data: Any,
    *,
    class_names: list[str] | None = None,
    positive_label: int = 1,
    fp_cost: float = 1.0,
    fn_cost: float = 1.0,
    n_bins: int = 10,
    label_column: str = LABEL_COLUMN,
    text_column: str | None = TEXT_COLUMN,
) -> EvaluationReport:
    """Report a model on a clean, human-labeled set.

    Parameters
    ----------
    model_or_probs : model, (n, k) array or (n,) array
        A fitted model with ``predict_proba``/``predict`` (applied to
        ``data[text_column]``, or to ``data`` when ``text_column`` is None),
        class probabilities, or predicted labels (-1 = abstain).
    data : DataFrame or array-like
        The labeled rows (gold in ``label_column``) or the gold labels themselves.
    class_names : list of str, optional
        Names for the rows of ``per_class`` and ``confusion``.
    positive_label : int
        The class whose precision/recall/F1 is quoted with two classes, and the
        "positive" of the false-positive / false-negative costs.
    fp_cost, fn_cost : float
        Cost of one false positive and one false negative.
    n_bins : int
        Equal-width confidence bins for the expected calibration error.

    Returns
    -------
    EvaluationReport

    Examples
    --------
    >>> r = evaluate(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), [0, 1, 1], fn_cost=5)
    >>> r.accuracy, r.cost.false_negatives, r.cost.total
    (0.6666666666666666, 1, 5.0)
    """
    y, preds, proba, k = _prepare(model_or_probs, data, label_column=label_column, text_column=text_column,
                                  class_names=class_names)
    if len(y) == 0:
        raise ValueError("data has no rows to evaluate on")
    if not 0 <= positive_label < k:
        raise ValueError(f"positive_label={positive_label} is not a class id in 0..{k - 1}")
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    metrics = {name: f(y, preds) for name, f in _metric_functions(k, positive_label).items()}

    p, r, f, s = precision_recall_fscore_support(y, preds, labels=list(range(k)), zero_division=np.nan)
    per_class = pd.DataFrame({"precision": p, "recall": r, "f1": f, "support": s}, index=pd.Index(names, name="class"))

    pred_labels = list(range(k)) + ([ABSTAIN] if (preds == ABSTAIN).any() else [])
    cm = confusion_matrix(y, preds, labels=pred_labels)[:k]
    confusion = pd.DataFrame(
        cm,
        index=pd.Index([f"true {n}" for n in names], name="gold"),
        columns=pd.Index([f"pred {n}" for n in names] + (["abstain"] if len(pred_labels) > k else []), name="predicted"),
    )
    return EvaluationReport(
        n=len(y),
        coverage=float(metrics["coverage"]),
        accuracy=float(metrics["accuracy"]),
        error_rate=float(metrics["error_rate"]),
        precision=float(metrics["precision"]),
        recall=float(metrics["recall"]),
        f1=float(metrics["f1"]),
        average=_average(k) if k > 2 else f"binary (positive = {names[positive_label]})",
        ece=expected_calibration_error(y, proba, n_bins=n_bins) if proba is not None else None,
        cost=error_cost(y, preds, fp_cost=fp_cost, fn_cost=fn_cost, positive_label=positive_label),
        per_class=per_class,
        confusion=confusion,
    )


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


def _wilson(errors: int, n: int, confidence: float) -> tuple[float, float]:
    if n == 0:
        return np.nan, np.nan
    ci = binomtest(errors, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


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
    ci = [_wilson(e, n, confidence) for e, n in zip(errors, table["n"])]
    table["error_low"] = [c[0] for c in ci]
    table["error_high"] = [c[1] for c in ci]
    table["status"] = np.select(
        [table["n"] == 0, table["n"] < min_size, table["error_gap"] > margin],
        ["empty", "too small", "flagged"],
        default="ok",
    )
    table["flagged"] = table["status"] == "flagged"
    table = table.sort_values("error_gap", ascending=False, na_position="last", kind="stable")

    whole_low, whole_high = _wilson(int(np.sum(y != preds)), len(y), confidence)
    whole = {"slice": "all", "n": len(y), "share": 1.0, **overall, "error_gap": 0.0, "accuracy_gap": 0.0,
             "f1_gap": 0.0, "error_low": whole_low, "error_high": whole_high, "status": "all", "flagged": False}
    columns = ["slice", "n", "share", "accuracy", "error_rate", "coverage", "precision", "recall", "f1",
               "error_gap", "accuracy_gap", "f1_gap", "error_low", "error_high", "status", "flagged"]
    out = pd.concat([pd.DataFrame([whole]), table], ignore_index=True)[columns]
    out.attrs.update(margin=margin, min_size=min_size, confidence=confidence)
    return out


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


# --------------------------------------------------------------------------- canary gate


class CanaryGateError(RuntimeError):
    """Export refused: the canary verdict failed and no override was given."""

    def __init__(self, verdict: "CanaryVerdict"):
        self.verdict = verdict
        super().__init__(
            f"canary gate failed: {verdict.metric} = {verdict.value:.4f} < minimum {verdict.minimum:.4f} "
            f"on {verdict.n} canary rows ({verdict.n_errors} errors). Export refused; to export anyway "
            "pass an explicit override reason (it is recorded in the lineage manifest)."
        )


@dataclass(frozen=True)
class Override:
    """An explicit decision to export despite a failed check; recorded, never silent."""

    reason: str
    by: str = field(default_factory=getpass.getuser)
    at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def __post_init__(self):
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError("an override needs a non-empty reason saying why the failed gate is acceptable")


@dataclass(frozen=True)
class CanaryVerdict:
    """The canary gate's verdict: pass/fail with the numbers, and any override.

    ``allowed`` is True when the gate passed, or failed with a recorded override.
    :meth:`enforce` raises :class:`CanaryGateError` otherwise; :meth:`to_dict` is
    what the export's lineage manifest stores.
    """

    metric: str
    value: float
    minimum: float
    passed: bool
    n: int
    n_errors: int
    metrics: dict[str, float]
    canary_fingerprint: str
    checked_at: str
    override: Override | None = None

    @property
    def allowed(self) -> bool:
        return self.passed or self.override is not None

    def with_override(self, reason: str, by: str | None = None) -> "CanaryVerdict":
        """A copy of this verdict with an override recorded (only meaningful when it failed)."""
        if self.passed:
            raise ValueError("the canary gate passed; there is nothing to override")
        return replace(self, override=Override(reason) if by is None else Override(reason, by))

    def enforce(self) -> "CanaryVerdict":
        """Return self if export may go ahead, else raise :class:`CanaryGateError`."""
        if not self.allowed:
            raise CanaryGateError(self)
        return self

    def to_dict(self) -> dict:
        out = asdict(self)
        out["metrics"] = {k: (None if v is None or np.isnan(v) else float(v)) for k, v in self.metrics.items()}
        out["allowed"] = self.allowed
        return out


def _fingerprint(data: Any, y: np.ndarray, id_column: str) -> str:
    """SHA-256 of the canary's ids and gold labels: the manifest records which canary judged."""
    ids = data[id_column].astype(str).tolist() if isinstance(data, pd.DataFrame) and id_column in data else range(len(y))
    h = hashlib.sha256()
    for i, label in sorted(zip(map(str, ids), y.tolist())):
        h.update(f"{i}\t{label}\n".encode())
    return h.hexdigest()


def canary_gate(
    model_or_probs: Any,
    canary_set: Any,
    metric: str | Callable = "f1",
    minimum: float = 0.8,
    *,
    override: str | None = None,
    positive_label: int = 1,
    label_column: str = LABEL_COLUMN,
    text_column: str | None = TEXT_COLUMN,
    id_column: str = ID_COLUMN,
) -> CanaryVerdict:
    """Judge a model on the canary set: pass when ``metric >= minimum``.

    The canary set is never trained or tuned on; it is the last check before
    export. The verdict records the numbers; export must call
    :meth:`CanaryVerdict.enforce`, which refuses a failed verdict unless an
    override was recorded (``override="why"`` here, or
    :meth:`CanaryVerdict.with_override` later).

    Parameters
    ----------
    metric : str or callable
        One of ``accuracy, balanced_accuracy, precision, recall, f1`` (of
        ``positive_label`` with two classes, macro otherwise) or ``f1_macro``; or a
        callable ``f(y_true, y_pred) -> float`` where higher is better.
    minimum : float
        The lowest acceptable value of ``metric``.
    override : str, optional
        Why to export even if the gate fails. Recorded (with user and time) only
        when the gate fails.

    Examples
    --------
    >>> canary = pd.DataFrame({"example_id": ["a", "b", "c", "d"], "label": [0, 1, 1, 0]})
    >>> v = canary_gate(np.array([0, 1, 0, 0]), canary, "accuracy", 0.9)
    >>> v.passed, v.value, v.allowed
    (False, 0.75, False)
    >>> v.with_override("known-hard canary rows, reviewed by hand").allowed
    True
    """
    y, preds, proba, k = _prepare(model_or_probs, canary_set, label_column=label_column, text_column=text_column)
    if len(y) == 0:
        raise ValueError("the canary set is empty")
    if callable(metric):
        score_fn, metric_name = metric, getattr(metric, "__name__", "custom")
    elif metric in GATE_METRICS:
        score_fn, metric_name = GATE_METRICS[metric](k, positive_label), metric
    else:
        raise ValueError(f"unknown canary metric {metric!r}; use one of {sorted(GATE_METRICS)} or a callable")
    value = float(score_fn(y, preds))
    summary = {name: float(f(y, preds)) for name, f in _metric_functions(k, positive_label).items()}
    if proba is not None:
        summary["ece"] = expected_calibration_error(y, proba)
    verdict = CanaryVerdict(
        metric=metric_name,
        value=value,
        minimum=float(minimum),
        passed=bool(value >= minimum),  # NaN (undefined metric) fails
        n=len(y),
        n_errors=int(np.sum(y != preds)),
        metrics=summary,
        canary_fingerprint=_fingerprint(canary_set, y, id_column),
        checked_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return verdict.with_override(override) if override is not None and not verdict.passed else verdict


# --------------------------------------------------------------------------- the sacred set

# Zero-width and direction marks (the YouTube data ends most comments with U+FEFF):
# invisible, so two texts that differ only by them are the same text.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"\s+")


def normalize_text(text: Any) -> str:
    """Text as compared by the leakage check: NFKC, invisible marks removed, lowercased, whitespace collapsed, stripped.

    Examples
    --------
    >>> normalize_text("  Check  OUT\\tmy channel\\ufeff ")
    'check out my channel'
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    text = unicodedata.normalize("NFKC", str(text))
    return _SPACES.sub(" ", _INVISIBLE.sub("", text).lower()).strip()


def content_hash(texts: Iterable[Any]) -> np.ndarray:
    """SHA-256 (hex) of each normalised text; equal hashes mean the same text up to case and spacing.

    Examples
    --------
    >>> a, b = content_hash(["Hello  World", "hello world"])
    >>> a == b
    True
    """
    return np.array([hashlib.sha256(normalize_text(t).encode("utf-8")).hexdigest() for t in texts], dtype=object)


class LeakageError(RuntimeError):
    """A training set contains protected rows; the message names them."""

    def __init__(self, report: "LeakageReport", limit: int = 10):
        self.report = report
        m = report.matches
        lines = []
        for train_id, rows in list(m.groupby("train_id", sort=False))[:limit]:
            found = [f"{r.protected_split} {r.protected_id!r}" + ("" if r.kind == "exact" else f" (near, {r.similarity:.2f})")
                     for r in rows.itertuples()]
            shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
            lines.append(f"  train row {train_id!r} {rows['train_text'].iloc[0][:50]!r} matches {shown}")
        n_rows = m["train_id"].nunique()
        more = f"\n  ... and {n_rows - limit} more training rows" if n_rows > limit else ""
        super().__init__(
            f"training set contains {n_rows} rows matching protected rows "
            f"({int((m['kind'] == 'exact').sum())} exact and {int((m['kind'] == 'near').sum())} near-duplicate "
            "matches); remove them (LeakageReport.remove_leaked) before training or export:\n"
            + "\n".join(lines) + more
        )


@dataclass
class LeakageReport:
    """Protected rows found in a training set (see :func:`check_leakage`).

    ``matches`` has one row per (training row, protected row) pair: ``train_row``
    (the training DataFrame's index label), ``train_position`` (its position),
    ``train_id``, ``train_text``,
    ``protected_split``, ``protected_id``, ``protected_text``, ``kind``
    (``"exact"`` or ``"near"``) and ``similarity`` (estimated Jaccard of character
    shingles, 1.0 for exact matches).
    """

    matches: pd.DataFrame
    n_train: int
    protected_sizes: dict[str, int]
    near_duplicates: bool
    threshold: float
    checked_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def clean(self) -> bool:
        return self.matches.empty

    @property
    def leaked_ids(self) -> list[str]:
        """Ids of the training rows that match a protected row, in training order."""
        return list(dict.fromkeys(self.matches["train_id"]))

    def remove_leaked(self, train: pd.DataFrame) -> pd.DataFrame:
        """``train`` (the frame that was checked) without the leaked rows."""
        if len(train) != self.n_train:
            raise ValueError(f"this report checked {self.n_train} training rows; got a frame of {len(train)}")
        keep = np.ones(len(train), dtype=bool)
        keep[self.matches["train_position"].to_numpy()] = False
        return train[keep]

    def enforce(self) -> "LeakageReport":
        """Return self if no protected row leaked, else raise :class:`LeakageError` naming the rows."""
        if not self.clean:
            raise LeakageError(self)
        return self

    def to_dict(self) -> dict:
        return {
            "clean": self.clean,
            "n_train": self.n_train,
            "protected_sizes": dict(self.protected_sizes),
            "method": {
                "exact": "sha256 of NFKC text, invisible marks removed, lowercased, whitespace collapsed",
                "near": f"MinHash LSH on character {_SHINGLE}-grams, Jaccard >= {self.threshold}"
                if self.near_duplicates else None,
            },
            "n_leaked_train_rows": len(self.leaked_ids),
            "matches": self.matches[["train_id", "protected_split", "protected_id", "kind", "similarity"]]
            .astype({"train_id": str, "protected_id": str, "similarity": float})
            .to_dict(orient="records"),
            "checked_at": self.checked_at,
        }


_SHINGLE = 5


def _shingles(text: str) -> set[bytes]:
    if len(text) <= _SHINGLE:
        return {text.encode("utf-8")}
    return {text[i : i + _SHINGLE].encode("utf-8") for i in range(len(text) - _SHINGLE + 1)}


def _near_duplicate_pairs(train_texts: list[str], protected_texts: list[str], threshold: float, num_perm: int,
                          progress: bool):
    """(train position, protected position, Jaccard) pairs with shingle Jaccard >= threshold.

    MinHash LSH proposes candidates: :func:`workbench.curate.minhash_signatures` and
    :func:`workbench.curate.lsh_buckets` with the bands datasketch's ``MinHashLSH`` picks for
    ``threshold``, over the distinct non-empty texts of each side; the exact Jaccard of the
    shingle sets confirms them, so the LSH's false positives never reach the report.
    """
    from datasketch import MinHashLSH

    from workbench.curate._filter import lsh_buckets, minhash_signatures

    train_codes, train_unique = pd.factorize(pd.Series(train_texts, dtype=object))
    prot_codes, prot_unique = pd.factorize(pd.Series(protected_texts, dtype=object))
    texts = [*prot_unique, *train_unique]
    if not len(prot_unique) or not len(train_unique):
        return
    signatures = minhash_signatures(texts, shingle_size=_SHINGLE, num_perm=num_perm, progress=progress)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)  # for its choice of bands
    keys, sizes = lsh_buckets(signatures, lsh.b, lsh.r)
    members = pd.DataFrame({"bucket": np.repeat(np.arange(len(sizes)), sizes), "text": keys})
    is_prot = members["text"] < len(prot_unique)
    candidates = members[is_prot].merge(members[~is_prot], on="bucket", suffixes=("_p", "_t"))
    candidates = candidates[["text_p", "text_t"]].drop_duplicates()
    shingle_sets: dict[int, set[bytes]] = {}
    confirmed = []
    for j, t in zip(candidates["text_p"].to_numpy(), candidates["text_t"].to_numpy()):
        if texts[j] == "" or texts[t] == "":
            continue
        a = shingle_sets.setdefault(j, _shingles(texts[j]))
        b = shingle_sets.setdefault(t, _shingles(texts[t]))
        jac = len(a & b) / len(a | b)
        if jac >= threshold:
            confirmed.append((t - len(prot_unique), j, jac))
    if not confirmed:
        return
    found = pd.DataFrame(confirmed, columns=["train_text", "prot_text", "jaccard"])
    train_rows = pd.DataFrame({"i": np.arange(len(train_codes)), "train_text": train_codes})
    prot_rows = pd.DataFrame({"j": np.arange(len(prot_codes)), "prot_text": prot_codes})
    rows = found.merge(train_rows, on="train_text").merge(prot_rows, on="prot_text")
    yield from zip(rows["i"].tolist(), rows["j"].tolist(), rows["jaccard"].tolist())


def check_leakage(
    train: pd.DataFrame,
    protected: Mapping[str, pd.DataFrame] | Dataset,
    *,
    near_duplicates: bool = True,
    threshold: float = 0.8,
    num_perm: int = 128,
    text_column: str = TEXT_COLUMN,
    id_column: str = ID_COLUMN,
    progress: bool | None = None,
) -> LeakageReport:
    """Find protected rows (dev, valid, test, canary) in a training set.

    A training row leaks when its normalised text (:func:`normalize_text`) hashes
    the same as a protected row's, or, with ``near_duplicates``, when the Jaccard
    similarity of their character 5-gram sets is at least ``threshold`` (MinHash
    LSH from ``datasketch`` finds candidates, exact Jaccard confirms them). Empty
    texts are ignored.

    Parameters
    ----------
    train : DataFrame
        Anything that will be trained on (pool, curated set, pseudo-labels).
    protected : dict of split name to DataFrame, or a Dataset
        The sacred rows. A :class:`~workbench.data.Dataset` contributes its
        ``PROTECTED_SPLITS`` (dev, valid, test, canary).
    progress : bool or None
        Show a progress bar for the near-duplicate pass; ``None`` shows one from
        50,000 training rows.

    Returns
    -------
    LeakageReport
        Call ``.enforce()`` to refuse a leaking set (raises :class:`LeakageError`
        naming the rows); ``.remove_leaked(train)`` drops them.

    Examples
    --------
    >>> train = pd.DataFrame({"example_id": ["t1", "t2"], "text": ["Nice  SONG", "buy now"]})
    >>> test = pd.DataFrame({"example_id": ["x9"], "text": ["nice song"]})
    >>> check_leakage(train, {"test": test}).leaked_ids
    ['t1']
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if isinstance(protected, Dataset):
        protected = {s: protected[s] for s in PROTECTED_SPLITS if s in protected.splits}
    if not protected:
        raise ValueError("no protected sets given")
    frames = {"train": train, **{f"protected split {name!r}": df for name, df in protected.items()}}
    for what, df in frames.items():
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"{what} must be a DataFrame, got {type(df).__name__}")
        if text_column not in df.columns:
            raise ValueError(f"{what} has no text column {text_column!r}; columns are {list(df.columns)}")

    def ids(df: pd.DataFrame) -> list:
        return df[id_column].tolist() if id_column in df.columns else df.index.tolist()

    prot = pd.concat(
        [pd.DataFrame({"split": name, "id": ids(df), "text": df[text_column].to_numpy()}) for name, df in protected.items()],
        ignore_index=True,
    )
    prot["norm"] = [normalize_text(t) for t in prot["text"]]
    prot["hash"] = content_hash(prot["text"])
    tr = pd.DataFrame({"row": train.index, "id": ids(train), "text": train[text_column].to_numpy()})
    tr["norm"] = [normalize_text(t) for t in tr["text"]]
    tr["hash"] = content_hash(tr["text"])

    exact = tr[tr["norm"] != ""].reset_index(names="i").merge(
        prot[prot["norm"] != ""].reset_index(names="j"), on="hash", suffixes=("_t", "_p"))
    pairs = [(i, j, "exact", 1.0) for i, j in zip(exact["i"], exact["j"])]
    if near_duplicates:
        seen = set(zip(exact["i"], exact["j"]))
        pairs += [(i, j, "near", s) for i, j, s in
                  _near_duplicate_pairs(tr["norm"].tolist(), prot["norm"].tolist(), threshold, num_perm,
                                        progress if progress is not None else len(tr) >= PROGRESS_MIN_ROWS)
                  if (i, j) not in seen]
    pairs.sort(key=lambda p: (p[0], p[1]))
    t, p = tr.iloc[[q[0] for q in pairs]], prot.iloc[[q[1] for q in pairs]]
    matches = pd.DataFrame({
        "train_row": t["row"].to_numpy(),
        "train_position": np.array([q[0] for q in pairs], dtype=np.int64),
        "train_id": t["id"].to_numpy(),
        "train_text": t["text"].to_numpy(),
        "protected_split": p["split"].to_numpy(),
        "protected_id": p["id"].to_numpy(),
        "protected_text": p["text"].to_numpy(),
        "kind": [q[2] for q in pairs],
        "similarity": np.array([q[3] for q in pairs], dtype=float),
    })
    return LeakageReport(
        matches=matches,
        n_train=len(train),
        protected_sizes={name: len(df) for name, df in protected.items()},
        near_duplicates=near_duplicates,
        threshold=threshold,
    )


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
