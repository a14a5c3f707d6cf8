"""Confidence thresholds: global and per class, the coverage/precision curve, the operating point."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench._internal.validation import check_labels, check_proba
from workbench.curate._funnel import (
    BELOW_THRESHOLD,
    NO_LF_VOTE,
    FilterStep,
    _check_ids,
    _class_names,
    _known_cardinality,
    _per_class,
)

# ----------------------------------------------------------------------------------------
# Confidence thresholds
# ----------------------------------------------------------------------------------------


def effective_thresholds(threshold: float, class_thresholds=None, cardinality: int | None = None,
                         class_names=None) -> np.ndarray:
    """Threshold per class: the larger of the global threshold and the class's own.

    ``class_thresholds`` is a sequence with one value per class or a mapping from class
    index or name to value; classes left out use the global threshold. The number of classes
    is ``cardinality``, else the length of ``class_names``, else that of a ``class_thresholds``
    sequence; a mapping alone cannot tell it (an error asks for one of the others).

    Examples
    --------
    >>> effective_thresholds(0.6, {"spam": 0.8}, class_names=["ham", "spam"]).tolist()
    [0.6, 0.8]
    """
    cardinality = _known_cardinality(cardinality, class_names, class_thresholds)
    if cardinality is None:
        raise ValueError("effective_thresholds needs the number of classes: pass cardinality= or class_names=")
    names = _class_names(class_names, cardinality)
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    out = np.full(cardinality, float(threshold))
    if class_thresholds is not None:
        per_class = _per_class(class_thresholds, cardinality, names, "class_thresholds")
        given = ~np.isnan(per_class)
        if ((per_class[given] < 0) | (per_class[given] > 1)).any():
            raise ValueError(f"class_thresholds must be in [0, 1], got {per_class.tolist()}")
        out[given] = np.maximum(out[given], per_class[given])
    return out


def confidence_filter(proba, threshold: float = 0.5, *, class_thresholds=None, ids=None, abstained=None, class_names=None) -> FilterStep:
    """Keep rows whose top class probability reaches the threshold of that class.

    Parameters
    ----------
    proba : array of shape (n, k)
        Class probabilities from the generator (``label_model.predict_proba(L)``).
    threshold : float
        Global threshold on the top probability.
    class_thresholds : sequence or mapping, optional
        Per-class thresholds (by class index or name); a row predicted as class ``c`` must
        reach ``max(threshold, class_thresholds[c])``.
    ids : array of shape (n,), optional
        Row ids (default: positions).
    abstained : array of bool, optional
        Rows no labeling function voted on (``(L == ABSTAIN).all(axis=1)``); they are removed
        with reason ``"no_lf_vote"`` whatever their probability (a label model gives them
        its class prior, which is no evidence about the row).
    class_names : sequence of str, optional
        Names for mapping keys and the record.

    Returns
    -------
    FilterStep
        Removed rows carry ``"no_lf_vote"`` or ``"below_threshold"``.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8]])
    >>> confidence_filter(P, 0.6, class_thresholds=[0.0, 0.75]).kept.tolist()
    [True, False, True]
    """
    P = check_proba(proba)
    ids = _check_ids(ids, len(P))
    thresholds = effective_thresholds(threshold, class_thresholds, P.shape[1], class_names)
    predicted = P.argmax(axis=1)
    confidence = P.max(axis=1)
    reasons = np.where(confidence >= thresholds[predicted] - 1e-12, "", BELOW_THRESHOLD).astype(object)
    if abstained is not None:
        abstained = np.asarray(abstained, dtype=bool)
        if abstained.shape != (len(P),):
            raise ValueError(f"abstained must be a boolean mask with one entry per row ({len(P)}), got shape {abstained.shape}")
        reasons[abstained] = NO_LF_VOTE
    params = {"threshold": float(threshold), "class_thresholds": thresholds.tolist()}
    if class_names is not None:
        params["class_names"] = list(class_names)
    return FilterStep.from_reasons("confidence", ids, reasons, params=params)


def threshold_curve(proba, *, valid_proba=None, valid_labels=None, thresholds=None, class_names=None) -> pd.DataFrame:
    """What each confidence threshold costs in coverage and buys in precision on the labeled validation set.

    Coverage is measured on ``proba`` (the unlabeled pool); precision on the labeled
    ``valid_proba``/``valid_labels`` (pass the same set twice to measure both on one set).

    Parameters
    ----------
    proba : array of shape (n, k)
        Pool probabilities.
    valid_proba : array of shape (m, k), optional
        Probabilities on a labeled set.
    valid_labels : array of shape (m,), optional
        Its gold labels.
    thresholds : array, optional
        Thresholds to evaluate (default: 51 steps from ``1/k`` to 1).
    class_names : sequence of str, optional

    Returns
    -------
    DataFrame
        Long format, one row per (threshold, class) with class ``"all"`` for the whole set:
        ``threshold, class, n_kept, coverage`` (share of the pool kept with that predicted
        class) and, with a validation set, ``valid_n_kept, valid_coverage, valid_precision`` (share of
        kept valid rows whose gold label is the predicted one; for ``"all"`` it is accuracy;
        NaN where nothing is kept).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    >>> c = threshold_curve(P, valid_proba=P, valid_labels=[0, 1, 1], thresholds=[0.5, 0.7])
    >>> c[c["class"] == "all"][["threshold", "coverage", "valid_precision"]].to_numpy().round(3).tolist()
    [[0.5, 1.0, 0.667], [0.7, 0.667, 1.0]]
    """
    P = check_proba(proba)
    k = P.shape[1]
    names = _class_names(class_names, k)
    grid = np.linspace(1 / k, 1, 51) if thresholds is None else np.asarray(thresholds, dtype=float)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError("thresholds must be a non-empty one-dimensional array")

    def kept_counts(P_, correct=None):
        """(classes + 1, thresholds) counts of rows kept, and of correct ones if labels given."""
        predicted, confidence = P_.argmax(axis=1), P_.max(axis=1)
        counts, hits = [], []
        for members in [np.ones(len(P_), bool)] + [predicted == c for c in range(k)]:
            conf = np.sort(confidence[members])
            counts.append(len(conf) - np.searchsorted(conf, grid - 1e-12, side="left"))
            if correct is not None:
                conf_ok = np.sort(confidence[members & correct])
                hits.append(len(conf_ok) - np.searchsorted(conf_ok, grid - 1e-12, side="left"))
        return np.array(counts), (np.array(hits) if correct is not None else None)

    counts, _ = kept_counts(P)
    labels = ["all"] + names
    frame = pd.DataFrame(
        {
            "threshold": np.tile(grid, k + 1),
            "class": np.repeat(labels, len(grid)),
            "n_kept": counts.ravel(),
            "coverage": counts.ravel() / max(len(P), 1),
        }
    )
    if valid_proba is not None or valid_labels is not None:
        if valid_proba is None or valid_labels is None:
            raise ValueError("pass both valid_proba and valid_labels, or neither")
        D = check_proba(valid_proba, name="valid_proba")
        y = check_labels(valid_labels, k, name="valid_labels")
        if D.shape[1] != k or len(y) != len(D):
            raise ValueError(f"valid_proba {D.shape} and valid_labels ({len(y)},) do not match proba's {k} classes")
        valid_counts, valid_hits = kept_counts(D, D.argmax(axis=1) == y)
        frame["valid_n_kept"] = valid_counts.ravel()
        frame["valid_coverage"] = valid_counts.ravel() / max(len(D), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            frame["valid_precision"] = np.where(valid_counts > 0, valid_hits / valid_counts, np.nan).ravel()
    return frame


def operating_point(proba, threshold: float, *, class_thresholds=None, valid_proba=None, valid_labels=None, class_names=None) -> pd.DataFrame:
    """Where the current thresholds sit on :func:`threshold_curve`: one row for ``all`` and one per class.

    The ``all`` row applies the per-class thresholds together (as :func:`confidence_filter`
    does); class ``c``'s row is the curve of class ``c`` at its effective threshold.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.35, 0.65]])
    >>> op = operating_point(P, 0.6, class_thresholds=[0.0, 0.7], valid_proba=P, valid_labels=[0, 1, 1, 1])
    >>> op[["class", "threshold", "n_kept", "valid_precision"]].to_numpy().tolist()
    [['all', 0.6, 3, 0.6666666666666666], ['0', 0.6, 2, 0.5], ['1', 0.7, 1, 1.0]]
    """
    P = check_proba(proba)
    k = P.shape[1]
    names = _class_names(class_names, k)
    thresholds = effective_thresholds(threshold, class_thresholds, k, names)
    rows = []
    for c, name in enumerate(names):
        curve = threshold_curve(P, valid_proba=valid_proba, valid_labels=valid_labels, thresholds=[thresholds[c]], class_names=names)
        rows.append(curve[curve["class"] == name])
    kept = confidence_filter(P, threshold, class_thresholds=thresholds).kept
    overall = {"threshold": float(threshold), "class": "all", "n_kept": int(kept.sum()), "coverage": kept.mean() if len(P) else np.nan}
    if valid_proba is not None:
        D = check_proba(valid_proba, name="valid_proba")
        y = check_labels(valid_labels, k, name="valid_labels")
        valid_kept = confidence_filter(D, threshold, class_thresholds=thresholds).kept
        overall["valid_n_kept"] = int(valid_kept.sum())
        overall["valid_coverage"] = valid_kept.mean() if len(D) else np.nan
        overall["valid_precision"] = (D.argmax(axis=1) == y)[valid_kept].mean() if valid_kept.any() else np.nan
    return pd.concat([pd.DataFrame([overall]), *rows], ignore_index=True)


def examples_near_threshold(confidence, kept, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the ``n`` least confident kept rows and the ``n`` most confident dropped rows.

    These are the rows a threshold decision hinges on; showing them beside each other tells a
    reviewer whether the threshold sits in the right place.

    Examples
    --------
    >>> import numpy as np
    >>> examples_near_threshold(np.array([0.9, 0.55, 0.7, 0.6]), np.array([True, False, True, False]), n=1)
    (array([2]), array([3]))
    """
    confidence = np.asarray(confidence, dtype=float)
    kept = np.asarray(kept, dtype=bool)
    kept_pos, dropped_pos = np.flatnonzero(kept), np.flatnonzero(~kept)
    kept_pos = kept_pos[np.argsort(confidence[kept_pos], kind="stable")][:n]
    dropped_pos = dropped_pos[np.argsort(-confidence[dropped_pos], kind="stable")][:n]
    return kept_pos, dropped_pos
