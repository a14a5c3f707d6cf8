"""Likely label errors: cleanlab on out-of-fold probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench._internal.validation import check_labels, check_proba
from workbench.curate._funnel import LIKELY_LABEL_ERROR, FilterStep, _check_ids

# ----------------------------------------------------------------------------------------
# Likely label errors
# ----------------------------------------------------------------------------------------


def out_of_sample_proba(X, labels, *, cv: int = 5, random_state: int = 0) -> np.ndarray:
    """Class probabilities for every row from a model that never saw that row.

    A logistic regression is trained with stratified ``cv``-fold cross-validation
    (``cross_val_predict``); ``X`` is a feature matrix, or texts (then the workbench's TF-IDF,
    ``workbench.learn.tfidf_vectorizer``, fitted inside each fold).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    from workbench.learn._learner import tfidf_vectorizer

    y = check_labels(labels)
    counts = np.bincount(y)
    present = counts[counts > 0]
    if len(present) < 2:
        raise ValueError("out-of-sample probabilities need at least two classes among the labels")
    n_splits = min(cv, int(present.min()))
    if n_splits < 2:
        raise ValueError(f"class {int(np.flatnonzero(counts == present.min())[0])} has a single row; cross-validation needs two per class")
    model = LogisticRegression(max_iter=1000)
    is_text = isinstance(X, pd.Series) or (isinstance(X, (list, tuple, np.ndarray)) and np.asarray(X, dtype=object).ndim == 1)
    if is_text:
        X = list(X)
        model = make_pipeline(tfidf_vectorizer(), model)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but labels has {len(y)}")
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    P = cross_val_predict(model, X, y, cv=folds, method="predict_proba")
    full = np.zeros((len(y), len(counts)))
    full[:, np.flatnonzero(counts > 0)] = P
    return full


def find_label_errors(X, labels, *, ids=None, pred_probs=None, cv: int = 5, random_state: int = 0, filter_by: str = "prune_by_noise_rate") -> FilterStep:
    """Flag rows whose (synthetic) label is likely wrong, with cleanlab's confident learning.

    Parameters
    ----------
    X : features or texts
        Used to fit the quick model behind :func:`out_of_sample_proba` (ignored when
        ``pred_probs`` is given).
    labels : array of int
        The labels to check (e.g. the label model's predictions on the kept rows).
    ids : array, optional
    pred_probs : array of shape (n, k), optional
        Out-of-sample probabilities from your own model.
    cv, random_state : int
    filter_by : str
        cleanlab's ``find_label_issues`` method.

    Returns
    -------
    FilterStep
        Removed rows carry ``"likely_label_error"``; ``details["ranking"]`` lists them, most
        severe first, with ``id, label, suggested, self_confidence``.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_self_confidence_for_each_label

    y = check_labels(labels)
    ids = _check_ids(ids, len(y))
    P = out_of_sample_proba(X, y, cv=cv, random_state=random_state) if pred_probs is None else check_proba(pred_probs, name="pred_probs")
    if len(P) != len(y):
        raise ValueError(f"pred_probs has {len(P)} rows but labels has {len(y)}")
    ranked = find_label_issues(y, P, filter_by=filter_by, return_indices_ranked_by="self_confidence", n_jobs=1)
    reasons = np.full(len(y), "", dtype=object)
    reasons[ranked] = LIKELY_LABEL_ERROR
    ranking = pd.DataFrame(
        {
            "id": ids[ranked],
            "label": y[ranked],
            "suggested": P[ranked].argmax(axis=1),
            "self_confidence": get_self_confidence_for_each_label(y, P)[ranked],
        }
    )
    params = {"method": "cleanlab.find_label_issues", "filter_by": filter_by, "cv": cv, "random_state": random_state, "own_pred_probs": pred_probs is not None}
    return FilterStep.from_reasons("label_errors", ids, reasons, params=params, details={"ranking": ranking, "pred_probs": P})
