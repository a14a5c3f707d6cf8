"""The learner: end models trained on synthetic labels (soft or hard) mixed with clean ones."""

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
