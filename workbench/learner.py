"""The learner: end models trained on synthetic labels (soft or hard) mixed with clean ones."""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter


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


def expand_soft_labels(X, P, sample_weight=None, min_weight=1e-6):
    """Rows repeated once per class, weighted by that class's probability (times ``sample_weight``)."""
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    P = np.asarray(P, dtype=float)
    base = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    k = P.shape[1]
    rows = np.repeat(np.arange(n), k)
    y = np.tile(np.arange(k), n)
    w = (P * base[:, None]).reshape(-1)
    keep = w > min_weight
    return take_rows(X, rows[keep]), y[keep], w[keep]


def text_features(**overrides):
    settings = {"ngram_range": (1, 2), "min_df": 1, "sublinear_tf": True, "lowercase": True}
    settings.update(overrides)
    return TfidfVectorizer(**settings)


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
