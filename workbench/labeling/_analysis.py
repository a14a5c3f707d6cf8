"""Statistics of a label matrix: per-LF summary, pairwise overlap/conflict, and example finders.

Column names and values follow Snorkel's ``LFAnalysis.lf_summary`` (``j``, ``Polarity``,
``Coverage``, ``Overlaps``, ``Conflicts``, ``Correct``, ``Incorrect``, ``Emp. Acc.``), computed
with dense numpy so the studio can refresh them on 100,000 rows in milliseconds.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbench._internal.columns import proba_column, vote_column
from workbench._internal.validation import (
    ABSTAIN,
    check_label_matrix,
    check_proba,
    conflict_rows,
    disagreeing_votes,
    lf_names,
)

KINDS = ("fires", "wrong", "conflict", "abstain")


def _check_Y(Y: Any, n: int) -> np.ndarray:
    Y = np.asarray(Y).reshape(-1)
    if Y.shape[0] != n:
        raise ValueError(f"Y has {Y.shape[0]} labels for a label matrix with {n} rows")
    return Y


def _others_vote(voted: np.ndarray) -> np.ndarray:
    """(n, m) bool: some LF other than j voted on the row."""
    return (voted.sum(axis=1, keepdims=True) - voted) > 0


def lf_summary(L: np.ndarray, lfs: Sequence[Any] | None = None, Y: Any = None,
               est_weights: Any = None) -> pd.DataFrame:
    """Per-LF statistics, equal to Snorkel's ``LFAnalysis(L, lfs).lf_summary(Y)``.

    Parameters
    ----------
    L : ndarray (n, m)
    lfs : sequence of LFs or names, optional
    Y : array-like (n,), optional
        Gold labels; adds ``Correct``, ``Incorrect`` and ``Emp. Acc.``.
    est_weights : array-like (m,), optional
        Adds ``Learned Weight`` (e.g. a label model's LF accuracies).

    Examples
    --------
    >>> L = np.array([[0, -1], [1, 1], [-1, 1]])
    >>> lf_summary(L, ["a", "b"])[["Coverage", "Overlaps", "Conflicts"]].round(2).values.tolist()
    [[0.67, 0.33, 0.0], [0.67, 0.33, 0.0]]
    """
    L = check_label_matrix(L)
    n, m = L.shape
    names = lf_names(lfs, m)
    voted = L != ABSTAIN
    denom = max(n, 1)
    d: dict[str, Any] = {}
    if lfs is not None:
        d["j"] = list(range(m))
    d["Polarity"] = [sorted(int(v) for v in np.unique(L[voted[:, j], j])) for j in range(m)]
    d["Coverage"] = voted.sum(axis=0) / denom
    d["Overlaps"] = (voted & _others_vote(voted)).sum(axis=0) / denom
    d["Conflicts"] = disagreeing_votes(L).sum(axis=0) / denom
    if Y is not None:
        Y = _check_Y(Y, n)
        correct = (voted & (L == Y[:, None])).sum(axis=0)
        incorrect = voted.sum(axis=0) - correct
        d["Correct"] = correct
        d["Incorrect"] = incorrect
        with np.errstate(divide="ignore", invalid="ignore"):
            d["Emp. Acc."] = np.nan_to_num(correct / (correct + incorrect))
    if est_weights is not None:
        d["Learned Weight"] = np.asarray(est_weights, dtype=float)
    return pd.DataFrame(d, index=names)


def overlap_matrix(L: np.ndarray, lfs: Sequence[Any] | None = None) -> pd.DataFrame:
    """Fraction of rows on which both LF i and LF j vote (diagonal: each LF's coverage)."""
    L = check_label_matrix(L)
    names = lf_names(lfs, L.shape[1])
    voted = (L != ABSTAIN).astype(np.float32)
    return pd.DataFrame((voted.T @ voted) / max(len(L), 1), index=names, columns=names, dtype=float)


def conflict_matrix(L: np.ndarray, lfs: Sequence[Any] | None = None) -> pd.DataFrame:
    """Fraction of rows on which LF i and LF j both vote and disagree (diagonal 0)."""
    L = check_label_matrix(L)
    names = lf_names(lfs, L.shape[1])
    voted = (L != ABSTAIN).astype(np.float32)
    agree = np.zeros((L.shape[1], L.shape[1]), dtype=np.float32)
    for label in np.unique(L[L != ABSTAIN]):
        same = (L == label).astype(np.float32)
        agree += same.T @ same
    both = voted.T @ voted
    return pd.DataFrame((both - agree) / max(len(L), 1), index=names, columns=names, dtype=float)


def total_coverage(L: np.ndarray) -> float:
    """Fraction of rows on which at least one LF votes."""
    L = check_label_matrix(L)
    return float((L != ABSTAIN).any(axis=1).mean()) if len(L) else 0.0


def conflict_rate(L: np.ndarray) -> float:
    """Fraction of rows with at least one conflict."""
    return float(conflict_rows(L).mean()) if len(L) else 0.0


def examples(df: pd.DataFrame, L: np.ndarray, lfs: Sequence[Any], kind: str = "fires", lf: str | None = None,
             other: str | None = None, Y: Any = None, proba: np.ndarray | None = None,
             class_names: Sequence[str] | None = None,
             columns: Sequence[str] = ("example_id", "text")) -> pd.DataFrame:
    """Rows of ``df`` selected by what the LFs did, with their votes beside them.

    Parameters
    ----------
    kind : {"fires", "wrong", "conflict", "abstain"}
        ``fires``: rows where ``lf`` votes. ``wrong``: rows where ``lf`` votes and
        disagrees with ``Y``. ``conflict``: rows where ``lf`` and ``other`` both vote and
        disagree (without ``other``: where ``lf`` conflicts with any LF; without ``lf``:
        every row with a conflict). ``abstain``: rows where every LF abstains.
    Y : array-like, optional
        Gold labels (required for ``wrong``); shown as a ``gold`` column.
    proba : ndarray (n, k), optional
        Label-model probabilities; shown as ``proba_<class>`` columns (class names from
        ``class_names``, else class ids).

    Returns
    -------
    DataFrame
        The selected rows' ``columns``, one ``vote_<lf>`` column per LF, and ``gold`` /
        probabilities when given; the original index is kept.

    Examples
    --------
    >>> examples(df, L, lfs, "wrong", lf="kw_my", Y=dev.label)  # doctest: +SKIP
    """
    L = check_label_matrix(L)
    names = lf_names(lfs, L.shape[1])
    if len(df) != len(L):
        raise ValueError(f"df has {len(df)} rows but L has {len(L)}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    def index(name: str) -> int:
        if name not in names:
            raise KeyError(f"no LF named {name!r}; LFs are {names}")
        return names.index(name)

    def col(name: str) -> np.ndarray:
        return L[:, index(name)]

    if kind in ("fires", "wrong") and lf is None:
        raise ValueError(f"kind={kind!r} needs lf=<name>")
    if kind == "fires":
        mask = col(lf) != ABSTAIN
    elif kind == "wrong":
        if Y is None:
            raise ValueError("kind='wrong' needs gold labels Y")
        Y = _check_Y(Y, len(L))
        mask = (col(lf) != ABSTAIN) & (col(lf) != Y)
    elif kind == "conflict":
        if lf is not None and other is not None:
            a, b = col(lf), col(other)
            mask = (a != ABSTAIN) & (b != ABSTAIN) & (a != b)
        elif lf is not None:
            mask = disagreeing_votes(L)[:, index(lf)]
        else:
            mask = conflict_rows(L)
    else:
        mask = (L == ABSTAIN).all(axis=1)

    keep = [c for c in columns if c in df.columns]
    out = df.loc[mask, keep].copy()
    votes = pd.DataFrame(L[mask], index=out.index, columns=[vote_column(n) for n in names])
    out = pd.concat([out, votes], axis=1)
    if Y is not None:
        out["gold"] = _check_Y(Y, len(L))[mask]
    if proba is not None:
        proba = check_proba(proba, len(L))
        names_of_classes = list(class_names) if class_names is not None else list(range(proba.shape[1]))
        for c, class_name in enumerate(names_of_classes):
            out[proba_column(class_name)] = proba[mask, c]
    return out
