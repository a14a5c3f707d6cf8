"""The end model: a scikit-learn text classifier trained on probabilistic (synthetic) labels.

Most scikit-learn classifiers take hard labels only. :func:`expand_soft_labels` turns each
row with a probability vector into one row per class weighted by that class's probability,
so the classifier's (weighted) log loss is exactly the cross-entropy against the soft
targets, and the uncertainty of synthetic labels really reaches the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


def text_features(**overrides: Any) -> TfidfVectorizer:
    """TF-IDF features that work well on short user comments (word 1-2 grams, sublinear tf)."""
    settings = {"ngram_range": (1, 2), "min_df": 1, "sublinear_tf": True, "lowercase": True}
    settings.update(overrides)
    return TfidfVectorizer(**settings)


def _check_probs(P: Any, n: int) -> np.ndarray:
    P = np.asarray(P, dtype=float)
    if P.ndim != 2 or P.shape[0] != n:
        raise ValueError(f"P must be an (n, k) array of class probabilities with n={n}, got shape {P.shape}")
    if (P < 0).any() or not np.allclose(P.sum(axis=1), 1, atol=1e-4):
        raise ValueError("every row of P must be non-negative and sum to 1")
    return P


def expand_soft_labels(X: Any, P: Any, sample_weight: Any = None, min_weight: float = 1e-6):
    """Expand rows with soft labels into weighted hard-label rows.

    Parameters
    ----------
    X : array-like or sparse matrix (n, d), or a list of n texts
    P : ndarray (n, k)
        Class probabilities per row.
    sample_weight : array-like (n,), optional
        Per-row weights, multiplied into the expanded weights.
    min_weight : float
        Expanded rows with smaller weight are dropped (they carry no signal).

    Returns
    -------
    X_rep, y_rep, w_rep
        ``X`` rows repeated once per class, the class of each repetition, and its weight
        ``P[i, c] * sample_weight[i]``.

    Examples
    --------
    >>> X_rep, y, w = expand_soft_labels(np.eye(2), np.array([[0.9, 0.1], [0.0, 1.0]]))
    >>> y.tolist(), w.round(2).tolist()
    ([0, 1, 1], [0.9, 0.1, 1.0])
    """
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    P = _check_probs(P, n)
    base = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float).reshape(-1)
    if base.shape[0] != n:
        raise ValueError(f"sample_weight has {base.shape[0]} values for {n} rows")
    k = P.shape[1]
    rows = np.repeat(np.arange(n), k)
    y = np.tile(np.arange(k), n)
    w = (P * base[:, None]).reshape(-1)
    keep = w > min_weight
    rows, y, w = rows[keep], y[keep], w[keep]
    if sp.issparse(X) or isinstance(X, np.ndarray):
        X_rep = X[rows]
    else:
        X_rep = [X[i] for i in rows]
    return X_rep, y, w


def train_end_model(texts: Any, P: Any, sample_weight: Any = None, C: float = 10.0, features: Any = None,
                    max_iter: int = 2000) -> Pipeline:
    """Fit TF-IDF + logistic regression on texts with soft labels ``P`` (n, k).

    Hard labels work too: pass one-hot rows. Mix in a hand-labeled set by concatenating its
    texts and one-hot labels, with a larger ``sample_weight`` if it should count more.

    Examples
    --------
    >>> model = train_end_model(train.text, probs)  # doctest: +SKIP
    >>> model.predict_proba(test.text)  # doctest: +SKIP
    """
    texts = list(np.asarray(texts, dtype=object))
    vectorizer = features if features is not None else text_features()
    X = vectorizer.fit_transform(texts)
    X_rep, y, w = expand_soft_labels(X, P, sample_weight)
    clf = LogisticRegression(C=C, max_iter=max_iter)
    clf.fit(X_rep, y, sample_weight=w)
    return Pipeline([("features", vectorizer), ("model", clf)])


def one_hot(y: Any, cardinality: int) -> np.ndarray:
    """Hard labels as probability rows."""
    y = np.asarray(y, dtype=int).reshape(-1)
    if y.size and (y.min() < 0 or y.max() >= cardinality):
        raise ValueError(f"labels must lie in 0..{cardinality - 1}, got {y.min()}..{y.max()}")
    return np.eye(cardinality)[y]
