"""Shared arithmetic of the label models on a label matrix ``L`` (n rows x m LFs, ``ABSTAIN`` = -1).

- :func:`compress`: the distinct rows of ``L`` and how often each occurs. A label model whose
  answer for a row depends only on that row's votes (all of them here, once fitted) works on
  the distinct rows weighted by their counts: a million rows under 20 LFs are a few thousand
  patterns, which is what keeps the models fast at scale.
- :func:`vote_indicator`: the sparse one-hot matrix of the votes (column ``j * k + c`` is
  "LF j voted class c"), so that per-LF, per-class sums are one sparse product.
- :func:`agreement_accuracies`: each LF's expected accuracy under a model's probabilities,
  the honest "learned accuracy" of models that have no accuracy parameter.
- :func:`check_partial_labels`: the ``y`` of ``fit(L, y)``, one entry per row, ``ABSTAIN`` for
  rows without a label; :func:`check_selected` the ``selected`` of ``fit(L, y, selected=...)``,
  the labeled rows chosen for their uncertainty, and :func:`unselected_labels` ``y`` without them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from workbench._internal.validation import ABSTAIN, check_labels


def compress(L: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(patterns, inverse, counts)``: the distinct rows of ``L``, the pattern of each row
    (``L == patterns[inverse]``) and each pattern's number of rows.

    Examples
    --------
    >>> P, inv, c = compress(np.array([[1, -1], [0, 0], [1, -1]], dtype=np.int8))
    >>> P.tolist(), inv.tolist(), c.tolist()
    ([[0, 0], [1, -1]], [1, 0, 1], [1, 2])
    """
    L = np.ascontiguousarray(L)
    n, m = L.shape
    if m == 0 or n == 0:
        return L[:1] if n else L, np.zeros(n, dtype=np.int64), np.array([n] if n else [], dtype=np.int64)
    base = int(L.max()) + 2  # values -1..max as digits 0..max+1
    if m * np.log2(base) <= 62:
        # One int64 per row (its votes as digits): sorting a million of them takes a tenth of the
        # time of sorting the rows as byte strings.
        key = np.zeros(n, dtype=np.int64)
        for j in range(m):
            key = key * base + (L[:, j].astype(np.int64) + 1)
    else:
        key = L.view(np.dtype((np.void, L.dtype.itemsize * m))).ravel()
    _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    return L[first], inverse.reshape(-1), counts


def vote_indicator(L: np.ndarray, cardinality: int) -> sp.csr_matrix:
    """Sparse ``(n, m * k)`` 0/1 matrix: entry ``(i, j * k + c)`` is 1 when LF ``j`` voted ``c`` on row ``i``."""
    n, m = L.shape
    rows, cols = np.nonzero(L != ABSTAIN)
    data = np.ones(len(rows), dtype=np.float64)
    return sp.csr_matrix((data, (rows, cols * cardinality + L[rows, cols].astype(np.int64))), shape=(n, m * cardinality))


def agreement_accuracies(L: np.ndarray, proba: np.ndarray, weights: np.ndarray | None = None,
                         V: sp.csr_matrix | None = None) -> np.ndarray:
    """Each LF's expected accuracy under ``proba``: the mean, over the rows it votes on, of the
    probability the model gives the class it voted (NaN for an LF that never votes).

    ``weights`` counts each row (e.g. pattern counts from :func:`compress`); ``V`` is
    ``vote_indicator(L, k)`` when already built.
    """
    k = proba.shape[1]
    m = L.shape[1]
    V = vote_indicator(L, k) if V is None else V
    w = np.ones(len(L)) if weights is None else np.asarray(weights, dtype=float)
    mass = np.asarray(V.T @ (proba * w[:, None])).reshape(m, k, k)  # [j, voted c, true class]
    votes = np.asarray(V.T @ w).reshape(m, k).sum(axis=1)
    agree = np.einsum("jcc->j", mass)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(votes > 0, agree / votes, np.nan)


def check_partial_labels(y: Any, n_rows: int, cardinality: int) -> np.ndarray | None:
    """``y`` as int64 with one entry per row of ``L`` (``ABSTAIN`` = no label), or None when
    ``y`` is None or labels no row.

    Raises
    ------
    ValueError
        Naming ``y``: a length other than ``n_rows`` or a class outside ``0..k-1``.
    """
    if y is None:
        return None
    y = check_labels(y, cardinality, n_rows=n_rows, allow_abstain=True, name="y")
    return y if (y != ABSTAIN).any() else None


def check_selected(selected: Any, y: np.ndarray | None, n_rows: int) -> np.ndarray:
    """The labeled rows chosen for their uncertainty (review answers), as a boolean mask over the rows.

    Such rows are the hardest of the pool, where LFs are wrong most often: counted as a sample they
    would make every LF look worse than it is. ``selected`` is None (no row was chosen so) or a
    boolean array with one entry per row of ``L``; unlabeled rows are never selected.

    Raises
    ------
    ValueError
        Naming ``selected``: not booleans, or a length other than ``n_rows``.
    """
    if selected is None:
        return np.zeros(n_rows, dtype=bool)
    mask = np.asarray(selected)
    if mask.dtype != bool or mask.shape != (n_rows,):
        raise ValueError(f"selected must be a boolean array with one entry per row of L ({n_rows} rows), "
                         f"got dtype {mask.dtype} and shape {mask.shape}")
    return mask & (y != ABSTAIN) if y is not None else np.zeros(n_rows, dtype=bool)


def unselected_labels(y: np.ndarray | None, selected: np.ndarray) -> np.ndarray | None:
    """``y`` with the ``selected`` rows unlabeled (None when no label is left): the labels a model that
    estimates LF accuracies by counting on labeled rows can use without bias."""
    if y is None or not selected.any():
        return y
    y = np.where(selected, ABSTAIN, y)
    return y if (y != ABSTAIN).any() else None
