"""Calibration: how far predicted probabilities are from observed frequencies, and fixing it.

Synthetic labels come with probabilities (a label model's posterior, a teacher's soft
output, a pseudo-labeler's confidence), and every filter threshold downstream reads
them as if they were honest. This module measures that honesty and repairs it:

- :func:`reliability_table`, :func:`expected_calibration_error` (equal-width and
  equal-mass bins), :func:`brier_score`, :func:`calibration_report`;
- :class:`TemperatureScaling`: one scalar ``T`` fitted on clean labeled data by
  minimising log loss (``scipy.optimize``), for probability arrays or logits;
- :func:`apply_temperature` (also used to soften distillation targets) and
  :func:`smooth_labels` (label smoothing for training targets);
- :func:`calibrate_classifier`: scikit-learn's ``CalibratedClassifierCV`` around a
  model that is already fitted, when a model rather than an array is at hand.

The calibration metrics are *top-label*: the confidence of a row is its largest
probability and it counts as correct when the arg-max is the gold class (Guo et al.,
2017). A 1-D array is read as the probability of class 1 of a binary task.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.utils.validation import check_is_fitted

from workbench._internal.validation import check_labels, check_proba

STRATEGIES = ("uniform", "quantile")
_EPS = 1e-12


def reliability_table(y_true, proba, n_bins: int = 10, strategy: str = "uniform") -> pd.DataFrame:
    """Per-bin confidence and accuracy: the numbers behind a reliability diagram.

    Parameters
    ----------
    y_true : array of shape (n,)
        Gold labels.
    proba : array of shape (n, k) or (n,)
        Predicted probabilities.
    n_bins : int
        Number of bins over the top-label confidence.
    strategy : {"uniform", "quantile"}
        ``"uniform"``: equal-width bins on [0, 1]; ``"quantile"``: equal-mass bins
        (the rows sorted by confidence and cut into ``n_bins`` groups of equal size).

    Returns
    -------
    DataFrame
        One row per non-empty bin: ``bin``, ``lower``, ``upper`` (bin edges; for
        quantile bins the extreme confidences inside), ``count``, ``confidence``
        (mean top-label probability), ``accuracy`` (share whose arg-max is right),
        ``gap`` (``accuracy - confidence``; negative means over-confident).

    Examples
    --------
    >>> reliability_table([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]], n_bins=2)
    ... # doctest: +NORMALIZE_WHITESPACE
       bin  lower  upper  count  confidence  accuracy  gap
    0    1    0.5    1.0      4        0.75       0.75  0.0
    """
    proba = check_proba(proba)
    y = check_labels(y_true, proba.shape[1], n_rows=len(proba), name="y_true")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}; got {strategy!r}")
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be >= 1; got {n_bins}")
    if len(proba) == 0:
        raise ValueError("reliability_table needs at least one row")
    n_bins = int(n_bins)
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y).astype(float)

    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
        # Right-closed bins so a confidence of exactly 1.0 falls in the last one.
        bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
        groups = [np.flatnonzero(bins == b) for b in range(n_bins)]
        bounds = [(edges[b], edges[b + 1]) for b in range(n_bins)]
    else:
        order = np.argsort(confidence, kind="stable")
        groups = np.array_split(order, min(n_bins, len(order)))
        bounds = [(confidence[g].min(), confidence[g].max()) for g in groups]

    rows = [
        {
            "bin": b,
            "lower": float(lo),
            "upper": float(hi),
            "count": len(g),
            "confidence": float(confidence[g].mean()),
            "accuracy": float(correct[g].mean()),
        }
        for b, (g, (lo, hi)) in enumerate(zip(groups, bounds))
        if len(g)
    ]
    table = pd.DataFrame(rows, columns=["bin", "lower", "upper", "count", "confidence", "accuracy"])
    table["gap"] = table["accuracy"] - table["confidence"]
    return table


def expected_calibration_error(y_true, proba, n_bins: int = 10, strategy: str = "uniform") -> float:
    """Expected calibration error: the count-weighted mean ``|accuracy - confidence|`` over bins.

    0 for a perfectly calibrated predictor (up to binning noise); up to 1 for one
    that is sure and always wrong. See :func:`reliability_table` for the bins.

    Examples
    --------
    >>> expected_calibration_error([1, 1, 1, 1], [0.99, 0.99, 0.99, 0.99], n_bins=5)
    0.01
    """
    table = reliability_table(y_true, proba, n_bins=n_bins, strategy=strategy)
    return round(float((table["count"] * table["gap"].abs()).sum() / table["count"].sum()), 12)


def _rows_summing_to_one(proba: np.ndarray) -> np.ndarray:
    """``proba`` with each row divided by its sum: scikit-learn's log loss and Brier score warn on rows
    further than ~1.5e-8 from 1, which a float32 model's are (~3e-8), though within ``check_proba``'s tolerance."""
    return proba / proba.sum(axis=1, keepdims=True)


def brier_score(y_true, proba) -> float:
    """Brier score (scikit-learn's): mean squared distance to the one-hot gold label.

    For a binary task this is the classic ``mean((p1 - y)^2)``; for more classes the
    sum over classes. Lower is better.

    Examples
    --------
    >>> brier_score([0, 1], [[1.0, 0.0], [0.5, 0.5]])
    0.125
    """
    proba = check_proba(proba)
    y = check_labels(y_true, proba.shape[1], n_rows=len(proba), name="y_true")
    return float(brier_score_loss(y, _rows_summing_to_one(proba), labels=np.arange(proba.shape[1])))


def calibration_report(y_true, proba_by_name: dict, n_bins: int = 10) -> pd.DataFrame:
    """Accuracy, log loss, Brier score and ECE (both binnings) of several probability arrays.

    Parameters
    ----------
    y_true : array of shape (n,)
        Gold labels of the clean set the arrays predict.
    proba_by_name : dict of str to array
        Name (e.g. ``"label model"``, ``"label model + T"``) to ``(n, k)`` probabilities.

    Returns
    -------
    DataFrame indexed by name with ``accuracy``, ``log_loss``, ``brier``,
    ``ece_uniform``, ``ece_quantile`` and ``mean_confidence``.

    Examples
    --------
    >>> calibration_report([0, 1], {"sure": [[1, 0], [0, 1]]})["accuracy"].item()
    1.0
    """
    rows = {}
    for name, proba in proba_by_name.items():
        proba = check_proba(proba, name=f"proba_by_name[{name!r}]")
        y = check_labels(y_true, proba.shape[1], n_rows=len(proba), name="y_true")
        rows[name] = {
            "accuracy": float((proba.argmax(axis=1) == y).mean()),
            "log_loss": float(log_loss(y, _rows_summing_to_one(np.clip(proba, _EPS, 1.0)), labels=np.arange(proba.shape[1]))),
            "brier": brier_score(y, proba),
            "ece_uniform": expected_calibration_error(y, proba, n_bins, "uniform"),
            "ece_quantile": expected_calibration_error(y, proba, n_bins, "quantile"),
            "mean_confidence": float(proba.max(axis=1).mean()),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def apply_temperature(scores, temperature: float, input: str = "proba") -> np.ndarray:
    """Rescale probabilities (or logits) by a temperature: ``softmax(logits / T)``.

    ``T > 1`` softens (towards uniform), ``T < 1`` sharpens, ``T = 1`` changes nothing.
    For probabilities the logits are ``log P``, so the result is ``P**(1/T)`` renormalised.

    Examples
    --------
    >>> apply_temperature([[0.8, 0.2]], 2.0).round(3)
    array([[0.667, 0.333]])
    """
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number; got {temperature}")
    logits = _logits(scores, input)
    return softmax(logits / temperature, axis=1)


def _logits(scores, input: str) -> np.ndarray:
    if input == "proba":
        return np.log(np.clip(check_proba(scores, name="scores"), _EPS, 1.0))
    if input == "logits":
        Z = np.asarray(scores, dtype=float)
        if Z.ndim == 1:  # binary decision function: logit of class 1
            Z = np.column_stack([np.zeros_like(Z), Z])
        if Z.ndim != 2 or not np.isfinite(Z).all():
            raise ValueError(f"logits must be a finite (n, k) or (n,) array; got shape {Z.shape}")
        return Z
    raise ValueError(f"input must be 'proba' or 'logits'; got {input!r}")


class TemperatureScaling(BaseEstimator):
    """Temperature scaling: one scalar ``T`` fitted on clean labeled data by minimising log loss.

    It changes confidence but never the arg-max, so accuracy is untouched. Fit it on
    a clean split the model was not trained on (dev or valid), then apply it anywhere.

    Parameters
    ----------
    input : {"proba", "logits"}
        What ``fit`` and ``transform`` receive: probabilities (their logs are used as
        logits) or raw scores such as ``decision_function`` output.
    bounds : tuple of float
        Search range for ``T`` (bounded scalar minimisation over ``log T``).

    Attributes
    ----------
    temperature_ : float
        The fitted ``T``; above 1 means the scores were over-confident.
    log_loss_before_, log_loss_after_ : float
        Log loss on the fitting data at ``T = 1`` and at ``temperature_``.

    Examples
    --------
    >>> # sure of every row but right on two of three: T shrinks 0.99 to 2/3
    >>> ts = TemperatureScaling().fit([[0.99, 0.01], [0.01, 0.99], [0.99, 0.01]], [0, 1, 1])
    >>> round(ts.temperature_, 2)
    6.63
    >>> ts.transform([[0.99, 0.01]]).round(2)
    array([[0.67, 0.33]])
    """

    def __init__(self, input: str = "proba", bounds: tuple[float, float] = (0.05, 50.0)):
        self.input = input
        self.bounds = bounds

    def fit(self, scores, y) -> "TemperatureScaling":
        logits = _logits(scores, self.input)
        y = check_labels(y, logits.shape[1], n_rows=len(logits), name="y")
        if len(y) == 0:
            raise ValueError("TemperatureScaling.fit needs at least one labeled row")
        lo, hi = self.bounds
        if not 0 < lo < hi:
            raise ValueError(f"bounds must satisfy 0 < low < high; got {self.bounds}")
        rows = np.arange(len(y))

        def nll(log_t: float) -> float:
            return float(-log_softmax(logits / np.exp(log_t), axis=1)[rows, y].mean())

        result = minimize_scalar(nll, bounds=(np.log(lo), np.log(hi)), method="bounded", options={"xatol": 1e-6})
        self.temperature_ = float(np.exp(result.x))
        self.log_loss_before_ = nll(0.0)
        self.log_loss_after_ = float(result.fun)
        self.n_classes_ = logits.shape[1]
        return self

    def transform(self, scores) -> np.ndarray:
        """Calibrated probabilities ``softmax(logits / temperature_)``."""
        check_is_fitted(self, "temperature_")
        logits = _logits(scores, self.input)
        if logits.shape[1] != self.n_classes_:
            raise ValueError(f"fitted on {self.n_classes_} classes, got scores with {logits.shape[1]} columns")
        return softmax(logits / self.temperature_, axis=1)

    def fit_transform(self, scores, y) -> np.ndarray:
        return self.fit(scores, y).transform(scores)


def smooth_labels(targets, epsilon: float, cardinality: int | None = None) -> np.ndarray:
    """Label smoothing for training targets: ``(1 - epsilon) * T + epsilon / k``.

    Parameters
    ----------
    targets : array of shape (n,) of int, or (n, k) of probabilities
        Hard labels (``cardinality`` then needed, or inferred as ``max + 1``) or soft targets.
    epsilon : float in [0, 1)
        Probability mass spread evenly over the ``k`` classes.

    Examples
    --------
    >>> smooth_labels([0, 1], 0.1, cardinality=2)
    array([[0.95, 0.05],
           [0.05, 0.95]])
    """
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"epsilon must be in [0, 1); got {epsilon}")
    arr = np.asarray(targets)
    if arr.ndim == 1:
        k = int(cardinality) if cardinality is not None else int(arr.max()) + 1
        y = check_labels(arr, k, n_rows=len(arr), name="targets")
        T = np.eye(k)[y]
    else:
        T = check_proba(arr, name="targets")
        if cardinality is not None and T.shape[1] != cardinality:
            raise ValueError(f"targets have {T.shape[1]} columns but cardinality={cardinality}")
    return (1.0 - epsilon) * T + epsilon / T.shape[1]


def calibrate_classifier(estimator, X_cal, y_cal, method: str = "sigmoid") -> CalibratedClassifierCV:
    """Calibrate an already fitted scikit-learn classifier on held-out clean data.

    Wraps scikit-learn's ``CalibratedClassifierCV`` around a ``FrozenEstimator`` so the
    model is not refitted: only the calibrator learns, from ``(X_cal, y_cal)``, which
    must not overlap the model's training data.

    Parameters
    ----------
    method : {"sigmoid", "isotonic", "temperature"}
        Platt scaling, isotonic regression (needs a few hundred rows) or temperature.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = [[i] for i in range(20)], [0] * 10 + [1] * 10
    >>> model = LogisticRegression().fit(X[::2], y[::2])
    >>> calibrate_classifier(model, X[1::2], y[1::2]).predict([[3], [17]])
    array([0, 1])
    """
    check_is_fitted(estimator)
    if method not in ("sigmoid", "isotonic", "temperature"):
        raise ValueError(f"method must be 'sigmoid', 'isotonic' or 'temperature'; got {method!r}")
    return CalibratedClassifierCV(FrozenEstimator(estimator), method=method).fit(X_cal, y_cal)
