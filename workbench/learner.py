"""The end model: a scikit-learn text classifier trained on probabilistic (synthetic) labels.

Most scikit-learn classifiers take hard labels only. :func:`expand_soft_labels` turns each
row with a probability vector into one row per class weighted by that class's probability,
so the classifier's (weighted) log loss is exactly the cross-entropy against the soft
targets, and the uncertainty of synthetic labels really reaches the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter


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
    return take_rows(X, rows), y, w


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


def take_rows(X, idx):
    """Rows ``idx`` of an array, sparse matrix, DataFrame/Series or list of texts."""
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if isinstance(X, (list, tuple)):
        return [X[i] for i in idx]
    return X[idx]


def fit_weighted(estimator, X, y, sample_weight=None):
    """``estimator.fit(X, y, sample_weight=...)``, routed to a Pipeline's last step.

    Raises
    ------
    TypeError
        Naming the estimator when it (or the pipeline's last step) takes no sample weights.
    """
    if sample_weight is None:
        return estimator.fit(X, y)
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if not has_fit_parameter(final, "sample_weight"):
        raise TypeError(
            f"{type(final).__name__}.fit takes no sample_weight, which soft labels and confidence "
            "weights need; use e.g. LogisticRegression, SGDClassifier or MultinomialNB"
        )
    if isinstance(estimator, Pipeline):
        return estimator.fit(X, y, **{f"{estimator.steps[-1][0]}__sample_weight": sample_weight})
    return estimator.fit(X, y, sample_weight=sample_weight)


def fit_soft(estimator, X, P, sample_weight=None):
    """Fit ``estimator`` on soft labels ``P`` (n, k): cross-entropy against them, through sample weights.

    Each row is expanded into one row per class weighted by its probability
    (:func:`expand_soft_labels`). For a Pipeline the transformers are fitted once on
    the distinct rows (so TF-IDF statistics are not skewed by the repetition) and
    only the last step sees the expanded rows.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[-1.0], [1.0]])
    >>> model = fit_soft(LogisticRegression(C=1e6), X, [[0.8, 0.2], [0.2, 0.8]])
    >>> model.predict_proba(X).round(2)
    array([[0.8, 0.2],
           [0.2, 0.8]])
    """
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        Xt = estimator[:-1].fit_transform(X)
        X_rep, y_rep, w_rep = expand_soft_labels(Xt, P, sample_weight)
        fit_weighted(estimator.steps[-1][1], X_rep, y_rep, w_rep)
        return estimator
    X_rep, y_rep, w_rep = expand_soft_labels(X, P, sample_weight)
    return fit_weighted(estimator, X_rep, y_rep, w_rep)
