"""The one home of the label conventions and of input validation shared by every stage.

Every stage validates probability matrices, labels and label matrices here, so that a row
is a probability distribution (or a label is in range) by one definition, with one tolerance.
"""

from typing import Any, Sequence

import numpy as np

#: The vote of a labeling function that does not label the row (Snorkel's convention).
ABSTAIN = -1

def label_dtype(cardinality: int) -> np.dtype:
    """Smallest signed integer type holding ``-1..cardinality-1`` (``L`` and every LF's votes use it)."""
    for dtype in (np.int8, np.int16, np.int32):
        if cardinality - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def infer_cardinality(*labels: Any, what: str = "L") -> int:
    """The number of classes the labels show: the largest class id in any of ``labels`` plus one (at least 2).

    ``labels`` are label matrices or label vectors (``ABSTAIN`` entries ignored, ``None`` skipped).
    A class that no vote and no label names cannot be seen: callers that know the task's classes
    pass ``cardinality`` (``dataset.cardinality``) instead.

    Raises
    ------
    ValueError
        When there is not a single vote or label to infer from (naming ``what``).
    """
    arrays = [a for a in (np.asarray(x) for x in labels if x is not None) if a.size and a.dtype.kind in "iuf"]
    # a label that is not a whole number is left to the caller's own validation to name
    top = max((int(np.nanmax(a)) for a in arrays if np.isfinite(np.nanmax(a))), default=ABSTAIN)
    if top < 0:
        raise ValueError(f"cannot infer cardinality: {what} holds no vote or label (every entry is ABSTAIN); "
                         "pass cardinality= (the number of classes, e.g. dataset.cardinality)")
    return max(2, top + 1)


def check_label_matrix(L: Any, cardinality: int | None = None) -> np.ndarray:
    """``L`` as a 2-D array (n examples x m LFs) whose entries are ``ABSTAIN`` or class ids.

    With ``cardinality``, class ids must also be below it; the error names the first LF column
    and row holding a larger one.
    """
    L = np.asarray(L)
    if L.ndim != 2:
        raise ValueError(f"L must be a 2-D label matrix (n examples, m LFs), got shape {L.shape}")
    if L.size and L.min() < ABSTAIN:
        raise ValueError(f"L holds {int(L.min())}; labels must be ABSTAIN ({ABSTAIN}) or >= 0")
    if cardinality is not None and L.size and L.max() >= cardinality:
        row, column = (int(i[0]) for i in np.nonzero(L >= cardinality))
        raise ValueError(f"L holds label {int(L[row, column])} (LF column {column}, row {row}) but cardinality is "
                         f"{cardinality} (labels 0..{cardinality - 1}); the votes need cardinality={int(L.max()) + 1} "
                         "or more (dataset.cardinality)")
    return L


def check_class_names_distinct(class_names: Sequence[Any], where: str) -> list[str]:
    """``class_names`` as strings, or the error (starting with ``where``) naming a name given twice and its class ids."""
    names = [str(c) for c in class_names]
    for c, name in enumerate(names):
        if names.index(name) != c:
            raise ValueError(f"{where}: class names must be distinct, but {name!r} is class {names.index(name)} and {c} "
                             f"of {names}")
    return names


def lf_name(lf: Any) -> str:
    """The name of a labeling function (builder, vectorized or Snorkel LF)."""
    name = getattr(lf, "name", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{lf!r} is not a labeling function: it has no name (use @labeling_function or a builder)")
    return name


def lf_names(lfs: Sequence[Any] | None, m: int) -> list[str]:
    """Names for the ``m`` columns of ``L``: from ``lfs`` (LFs or names), else ``lf_0..lf_{m-1}``."""
    if lfs is None:
        return [f"lf_{j}" for j in range(m)]
    names = [lf if isinstance(lf, str) else lf_name(lf) for lf in lfs]
    if len(names) != m:
        raise ValueError(f"{len(names)} LF names for a label matrix with {m} columns")
    return names


#: How far a row of probabilities may sum from 1 (float32 softmax output sums within ~1e-6;
#: rounded exports to 10 decimals within 1e-9 per entry).
PROBA_TOLERANCE = 1e-4


def check_proba(proba: Any, n_rows: int | None = None, *, name: str = "proba") -> np.ndarray:
    """``proba`` as an ``(n, k >= 2)`` float array whose rows are probability distributions.

    A 1-D array is read as ``P(class 1)`` of a binary task and becomes two columns. Values
    within :data:`PROBA_TOLERANCE` of the bounds are clipped into ``[0, 1]``.

    Raises
    ------
    ValueError
        Naming ``name`` and the first offending row (and how many rows are bad): wrong shape,
        a row count other than ``n_rows``, non-finite values, values outside ``[0, 1]``, or
        rows that do not sum to 1.
    """
    P = np.asarray(proba, dtype=float)
    if P.ndim == 1:
        P = np.column_stack([1.0 - P, P])
    if P.ndim != 2 or P.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n_rows, n_classes >= 2) or be a 1-D P(class 1); got {P.shape}")
    if n_rows is not None and P.shape[0] != n_rows:
        raise ValueError(f"{name} has {P.shape[0]} rows; expected {n_rows} (one per example)")
    finite = np.isfinite(P).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{name} has a non-finite value on row {row}: {P[row].tolist()} ({int((~finite).sum())} such rows)")
    bad = ((P < -PROBA_TOLERANCE).any(axis=1) | (P > 1 + PROBA_TOLERANCE).any(axis=1)
           | (np.abs(P.sum(axis=1) - 1.0) > PROBA_TOLERANCE))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}: row {row} is not a probability distribution ({P[row].tolist()}); "
                         f"{int(bad.sum())} such rows. Rows must be probabilities in [0, 1] that sum to 1")
    return np.clip(P, 0.0, 1.0)


def _is_whole(value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(number)) and number.is_integer()


def check_labels(labels: Any, cardinality: int | None = None, *, n_rows: int | None = None,
                 allow_abstain: bool = False, name: str = "labels") -> np.ndarray:
    """``labels`` as a 1-D int64 array of class ids in ``0..cardinality-1``.

    ``allow_abstain`` also admits ``ABSTAIN`` (-1). Float labels are accepted when they are
    whole numbers (pandas turns an int column with missing values into floats).

    Raises
    ------
    ValueError
        Naming ``name``: not 1-D, a row count other than ``n_rows``, the first value that is not a whole number, or
        the first label out of range with its position and the number of such labels.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {y.shape}")
    if n_rows is not None and len(y) != n_rows:
        raise ValueError(f"{name} has {len(y)} labels; expected {n_rows} (one per example)")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        not_whole = (~np.isfinite(y) | (np.mod(y, 1) != 0) if y.dtype.kind == "f"
                     else np.array([not _is_whole(v) for v in y.tolist()]))
        if not_whole.any():
            row = int(np.flatnonzero(not_whole)[0])
            raise ValueError(f"{name}[{row}] = {y.tolist()[row]!r} is not a class id: labels must be integer class ids "
                             f"0..k-1 ({int(not_whole.sum())} such labels; map class names to ids first, e.g. with "
                             "class_names=)")
    y = y.astype(np.int64)
    if cardinality is not None and y.size:
        low = ABSTAIN if allow_abstain else 0
        bad = (y < low) | (y >= cardinality)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            allowed = f"{low}..{cardinality - 1}"
            hint = (f"; the labels need cardinality={int(y.max()) + 1} or more (dataset.cardinality)"
                    if y.max() >= cardinality else "")
            raise ValueError(f"{name}[{row}] = {y[row]} is outside {allowed}: out of range for {cardinality} classes "
                             f"({int(bad.sum())} such labels){hint}")
    return y


def covered(L: Any) -> np.ndarray:
    """Rows of the label matrix ``L`` on which at least one LF voted."""
    return (check_label_matrix(L) != ABSTAIN).any(axis=1)


def disagreeing_votes(L: np.ndarray) -> np.ndarray:
    """(n, m) bool: LF j voted on the row and some other LF voted a different label there."""
    L = check_label_matrix(L)
    voted = L != ABSTAIN
    big = np.iinfo(L.dtype).max  # a Python int wider than L's dtype would overflow under NumPy 2 promotion
    hi = np.where(voted, L, -1).max(axis=1, keepdims=True)
    lo = np.where(voted, L, big).min(axis=1, keepdims=True)
    return voted & ((hi != L) | (lo != L)) & (hi >= 0)


def conflict_rows(L: Any) -> np.ndarray:
    """Bool mask of rows on which two LFs vote different labels.

    >>> conflict_rows(np.array([[0, 1], [1, 1], [1, -1], [-1, -1]])).tolist()
    [True, False, False, False]
    """
    return disagreeing_votes(L).any(axis=1)
