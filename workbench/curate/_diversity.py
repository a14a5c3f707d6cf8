"""Diversity: greedy k-center selection on text features, and how spread a selection is."""

from __future__ import annotations

import numpy as np

from workbench.curate._funnel import NOT_SELECTED_FOR_DIVERSITY, FilterStep, _check_ids

# ----------------------------------------------------------------------------------------
# Diversity
# ----------------------------------------------------------------------------------------


def text_embedding(texts, *, n_components: int = 64, random_state: int = 0) -> np.ndarray:
    """Dense, L2-normalised features for diversity: the workbench's TF-IDF reduced by truncated SVD.

    Euclidean distance between rows is then a monotone function of cosine distance.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    from workbench.learn._learner import tfidf_vectorizer

    tfidf = tfidf_vectorizer().fit_transform(list(texts))
    n_components = max(1, min(n_components, tfidf.shape[1] - 1, tfidf.shape[0] - 1))
    reduced = TruncatedSVD(n_components=n_components, random_state=random_state).fit_transform(tfidf)
    return normalize(reduced)


def _check_features(X, n: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"features must have shape (n_rows, n_features), got {X.shape}")
    if n is not None and len(X) != n:
        raise ValueError(f"features have {len(X)} rows, expected {n}")
    return X


def k_center_greedy(X, k: int, *, first: int | None = None) -> np.ndarray:
    """Greedy k-center: repeatedly add the row farthest from everything chosen so far.

    The result is a 2-approximation of the set of ``k`` rows minimising the largest
    distance from any row to its nearest chosen row.

    Parameters
    ----------
    X : array of shape (n, d)
    k : int
    first : int, optional
        Position of the first center (default: the row nearest the mean).

    Returns
    -------
    ndarray of int
        Positions in the order they were chosen.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0], [0.1, 0], [5, 5], [5.1, 5], [10, 0]])
    >>> sorted(k_center_greedy(X, 3, first=0).tolist())
    [0, 2, 4]
    """
    X = _check_features(X)
    n = len(X)
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and the number of rows ({n}), got {k}")
    if k == 0:
        return np.empty(0, dtype=np.int64)
    if first is None:
        first = int(np.argmin(((X - X.mean(axis=0)) ** 2).sum(axis=1)))
    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = first
    nearest = ((X - X[first]) ** 2).sum(axis=1)
    nearest[first] = -1.0
    for i in range(1, k):
        chosen[i] = int(np.argmax(nearest))
        np.minimum(nearest, ((X - X[chosen[i]]) ** 2).sum(axis=1), out=nearest)
        # Chosen rows rank below every other row, even exact duplicates at distance 0:
        # once the rest are all covered, argmax would otherwise pick a chosen row again.
        nearest[chosen[: i + 1]] = -1.0
    return chosen


def diversity_sample(X, k: int, *, ids=None, priority=None) -> FilterStep:
    """Keep ``k`` rows that cover the feature space (greedy k-center), remove the rest.

    Parameters
    ----------
    X : array of shape (n, d)
        Features of the rows (e.g. :func:`text_embedding`), aligned with ``ids``.
    k : int
        Rows to keep; when ``k >= n`` every row is kept.
    ids : array, optional
    priority : array, optional
        The first center is the highest-priority row (e.g. the most confident).

    Returns
    -------
    FilterStep
        Removed rows carry ``"not_selected_for_diversity"``; ``details["order"]`` lists the
        kept ids in the order they were chosen.
    """
    X = _check_features(X)
    ids = _check_ids(ids, len(X))
    if k < 0:
        raise ValueError(f"k must be non-negative, got {k}")
    first = None
    if priority is not None:
        priority = np.asarray(priority, dtype=float)
        if priority.shape != (len(X),):
            raise ValueError(f"priority must have one entry per row ({len(X)}), got shape {priority.shape}")
        first = int(np.argmax(priority)) if len(X) else None
    chosen = k_center_greedy(X, min(k, len(X)), first=first)
    reasons = np.full(len(X), NOT_SELECTED_FOR_DIVERSITY, dtype=object)
    reasons[chosen] = ""
    return FilterStep.from_reasons("diversity", ids, reasons, params={"k": int(k), "method": "k_center_greedy"}, details={"order": ids[chosen]})


def diversity_score(X, selected=None, *, reference=None) -> dict[str, float]:
    """How diverse a set of rows is, to compare selections of the same size.

    Parameters
    ----------
    X : array of shape (n, d)
        Features (e.g. :func:`text_embedding`).
    selected : array of int or bool, optional
        The chosen rows of ``X`` (default all).
    reference : array of shape (m, d), optional
        The rows the selection should represent (default ``X``).

    Returns
    -------
    dict
        ``mean_pairwise_distance`` (higher: more spread out), ``mean_distance_to_selection``
        and ``max_distance_to_selection`` (from each reference row to its nearest selected
        row; lower: the selection covers the reference better), and ``n_selected``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0], [0, 0.1], [10, 0]])
    >>> diversity_score(X, [0, 2])["mean_pairwise_distance"] > diversity_score(X, [0, 1])["mean_pairwise_distance"]
    True
    """
    from scipy.spatial.distance import pdist
    from sklearn.metrics import pairwise_distances_argmin_min

    X = _check_features(X)
    rows = np.arange(len(X)) if selected is None else np.asarray(selected)
    if rows.dtype == bool:
        rows = np.flatnonzero(rows)
    if len(rows) == 0:
        raise ValueError("diversity_score needs at least one selected row")
    chosen = X[rows]
    reference = X if reference is None else _check_features(reference)
    _, nearest = pairwise_distances_argmin_min(reference, chosen)
    return {
        "n_selected": len(rows),
        "mean_pairwise_distance": float(pdist(chosen).mean()) if len(rows) > 1 else 0.0,
        "mean_distance_to_selection": float(nearest.mean()),
        "max_distance_to_selection": float(nearest.max()),
    }
