"""One model on one clean labeled set: metrics, confusion, calibration error and the cost of errors."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)

from workbench._internal.validation import ABSTAIN
from workbench.data._dataset import (
    LABEL_COLUMN,
    TEXT_COLUMN,
)
from workbench.learn._calibration import expected_calibration_error

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


@dataclass(frozen=True)
class MatrixCost:
    """What a model's mistakes cost under a k x k cost matrix: ``matrix[i][j]`` is the cost of
    predicting class ``j`` for a row of class ``i`` (an abstention costs the row's dearest error)."""

    class_names: list[str]
    matrix: list[list[float]]
    per_class: dict[str, float]
    total: float
    per_example: float

    def to_dict(self) -> dict:
        return asdict(self)


def matrix_cost(y_true: Any, y_pred: Any, cost_matrix: Any, class_names: list[str] | None = None) -> MatrixCost:
    """Cost of errors with one cost per (gold class, predicted class) pair.

    Examples
    --------
    >>> c = matrix_cost([0, 1, 2, 2], [0, 2, 1, -1], [[0, 1, 1], [1, 0, 5], [2, 2, 0]], ["a", "b", "c"])
    >>> c.total, c.per_class
    (9.0, {'a': 0.0, 'b': 5.0, 'c': 4.0})
    """
    C = np.asarray(cost_matrix, dtype=float)
    k = C.shape[0] if C.ndim == 2 else 0
    if C.ndim != 2 or C.shape != (k, k) or k < 2:
        raise ValueError(f"cost_matrix must be k x k (gold class by predicted class), got shape {C.shape}")
    if not np.isfinite(C).all() or (C < 0).any():
        raise ValueError("cost_matrix must hold finite, non-negative costs")
    names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
    if len(names) != k:
        raise ValueError(f"cost_matrix is {k} x {k} but there are {len(names)} classes {names}")
    y, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y.shape != p.shape:
        raise ValueError(f"{len(y)} gold labels but {len(p)} predictions")
    if y.size and (y.max() >= k or p.max() >= k):
        raise ValueError(f"labels reach class {int(max(y.max(), p.max()))} but cost_matrix is {k} x {k}")
    costs = np.where(p == ABSTAIN, C[y].max(axis=1), C[y, np.clip(p, 0, None)])
    per_class = {name: float(costs[y == c].sum()) for c, name in enumerate(names)}
    total = float(costs.sum())
    return MatrixCost(names, C.tolist(), per_class, total, total / len(y) if len(y) else np.nan)


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
    cost: ErrorCost | MatrixCost
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
    cost_matrix: Any = None,
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
        Cost of one false positive and one false negative (one-vs-rest around ``positive_label``).
    cost_matrix : array-like (k, k), optional
        Cost of predicting class ``j`` for a row of class ``i`` (any number of classes); when
        given, ``cost`` is a :class:`MatrixCost` instead of the false-positive/negative costs.
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
        cost=(error_cost(y, preds, fp_cost=fp_cost, fn_cost=fn_cost, positive_label=positive_label)
              if cost_matrix is None else matrix_cost(y, preds, cost_matrix, names)),
        per_class=per_class,
        confusion=confusion,
    )
