"""The one home of the label conventions and of input validation shared by every stage."""

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


def check_label_matrix(L: Any) -> np.ndarray:
    """``L`` as a 2-D array (n examples x m LFs) whose entries are ``ABSTAIN`` or class ids."""
    L = np.asarray(L)
    if L.ndim != 2:
        raise ValueError(f"L must be a 2-D label matrix (n examples, m LFs), got shape {L.shape}")
    if L.size and L.min() < ABSTAIN:
        raise ValueError(f"L holds {int(L.min())}; labels must be ABSTAIN ({ABSTAIN}) or >= 0")
    return L


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
