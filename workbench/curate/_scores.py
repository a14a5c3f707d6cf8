"""Per-example uncertainty scores (margin, gray zone, generator disagreement) and the queues built on them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import entropy

from workbench._internal.ids import isin_ids
from workbench._internal.validation import ABSTAIN, check_proba
from workbench.curate._funnel import FilterStep, _check_ids, _class_names

# ----------------------------------------------------------------------------------------
# Rows for human audit: the gray zone and generator disagreement
# ----------------------------------------------------------------------------------------


def margin(proba) -> np.ndarray:
    """Gap between each row's two most probable classes, in [0, 1] (0 on the decision boundary).

    Examples
    --------
    >>> margin([[0.5, 0.5], [0.9, 0.1]])
    array([0. , 0.8])
    """
    top_two = -np.sort(-check_proba(proba), axis=1)[:, :2]
    return top_two[:, 0] - top_two[:, 1]


def in_gray_zone(proba, width: float = 0.2) -> np.ndarray:
    """Mask of the rows in the gray zone: margin (see :func:`margin`) at most ``width``.

    For two classes, ``width=0.2`` is a top probability in [0.5, 0.6].

    Examples
    --------
    >>> in_gray_zone([[0.55, 0.45], [0.95, 0.05]], width=0.2).tolist()
    [True, False]
    """
    if not 0.0 <= width <= 1.0:
        raise ValueError(f"the gray-zone width is a margin between the two top classes, in [0, 1]; got {width}")
    return margin(proba) <= width + 1e-12


def gray_zone(proba, *, width: float = 0.2, ids=None, abstained=None, class_names=None) -> pd.DataFrame:
    """Rows near the decision boundary, most uncertain first, for human audit.

    A row is in the gray zone when the margin between its two most probable classes is at
    most ``width`` (for two classes, ``width=0.2`` is a top probability in [0.5, 0.6]).

    Parameters
    ----------
    proba : array of shape (n, k)
    width : float
        Largest margin in the zone.
    ids : array, optional
    abstained : array of bool, optional
        Rows no labeling function voted on are left out (a label model's prior is no
        evidence of a hard case; they belong to a coverage review).
    class_names : sequence of str, optional

    Returns
    -------
    DataFrame
        ``id, predicted, confidence, margin``, sorted by margin then id.

    Examples
    --------
    >>> import numpy as np
    >>> gray_zone(np.array([[0.9, 0.1], [0.52, 0.48], [0.45, 0.55]]), width=0.15)["id"].tolist()
    [1, 2]
    """
    P = check_proba(proba)
    ids = _check_ids(ids, len(P))
    names = _class_names(class_names, P.shape[1])
    gaps = margin(P)
    in_zone = in_gray_zone(P, width)
    if abstained is not None:
        in_zone &= ~np.asarray(abstained, dtype=bool)
    frame = pd.DataFrame(
        {"id": ids, "predicted": np.asarray(names, dtype=object)[P.argmax(axis=1)], "confidence": P.max(axis=1), "margin": gaps}
    )[in_zone]
    return frame.sort_values(["margin", "id"], kind="stable").reset_index(drop=True)


def disagreement_score(predictions: Mapping[str, np.ndarray] | Sequence[np.ndarray], cardinality: int | None = None) -> np.ndarray:
    """How much several generators (label model, pseudo-labeler, teacher...) disagree, per row, in [0, 1].

    Each generator gives either probabilities of shape (n, k) or hard labels of shape
    (n,) with ``ABSTAIN = -1``. The score is the generalised Jensen-Shannon
    divergence of the generators that voted on the row (entropy of their mean
    distribution minus their mean entropy), divided by ``log k``: 0 when they agree,
    vote entropy for hard labels, 0 when fewer than two voted.

    Examples
    --------
    >>> disagreement_score({"lm": np.array([0, 1, 1]), "pl": np.array([0, 0, -1])}).round(2)
    array([0., 1., 0.])
    """
    items = list(predictions.items()) if isinstance(predictions, Mapping) else list(enumerate(predictions))
    if len(items) < 2:
        raise ValueError(f"generator disagreement needs at least two generators, got {len(items)}")
    arrays = [(name, np.asarray(a)) for name, a in items]
    n = len(arrays[0][1])
    if cardinality is None:
        dims = [a.shape[1] for _, a in arrays if a.ndim == 2]
        labels = [a.max(initial=0) + 1 for _, a in arrays if a.ndim == 1]
        cardinality = max(dims + labels + [2])
    dists, voted = [], []
    for name, a in arrays:
        if len(a) != n:
            raise ValueError(f"generator {name!r} has {len(a)} rows, the first has {n}")
        if a.ndim == 2:
            dists.append(check_proba(a, name=f"generator {name!r}"))
            voted.append(np.ones(n, dtype=bool))
        elif a.ndim == 1:
            a = a.astype(int)
            if a.min(initial=0) < ABSTAIN or a.max(initial=0) >= cardinality:
                raise ValueError(f"generator {name!r} has labels outside -1..{cardinality - 1}")
            onehot = np.zeros((n, cardinality))
            onehot[a >= 0, a[a >= 0]] = 1.0
            dists.append(onehot)
            voted.append(a >= 0)
        else:
            raise ValueError(f"generator {name!r} must be labels (n,) or probabilities (n, k), got shape {a.shape}")
    D = np.stack(dists)  # (g, n, k)
    W = np.stack(voted).astype(float)  # (g, n)
    n_voters = W.sum(axis=0)
    mean = np.einsum("gn,gnk->nk", W, D) / np.maximum(n_voters, 1)[:, None]
    mean_entropy = (W * entropy(D, axis=2)).sum(axis=0) / np.maximum(n_voters, 1)
    score = (entropy(mean, axis=1) - mean_entropy) / np.log(cardinality)
    score[n_voters < 2] = 0.0
    return np.clip(score, 0.0, 1.0)


def generator_disagreement(proba_a, proba_b, *, ids=None, names=("a", "b"), class_names=None) -> pd.DataFrame:
    """Rows where two generators (e.g. the label model and a pseudo-labeling model) disagree.

    Ordered so that confident disagreements come first (the smaller of the two
    confidences, descending): there one of the generators is confidently wrong.

    Returns
    -------
    DataFrame
        ``id, label_<a>, confidence_<a>, label_<b>, confidence_<b>``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    >>> B = np.array([[0.8, 0.2], [0.3, 0.7], [0.95, 0.05]])
    >>> generator_disagreement(A, B, names=("lm", "pl"))["id"].tolist()
    [2, 1]
    """
    A, B = check_proba(proba_a, name="proba_a"), check_proba(proba_b, name="proba_b")
    if A.shape != B.shape:
        raise ValueError(f"the two generators' probabilities differ in shape: {A.shape} vs {B.shape}")
    ids = _check_ids(ids, len(A))
    class_labels = np.asarray(_class_names(class_names, A.shape[1]), dtype=object)
    a, b = names
    frame = pd.DataFrame(
        {
            "id": ids,
            f"label_{a}": class_labels[A.argmax(axis=1)],
            f"confidence_{a}": A.max(axis=1),
            f"label_{b}": class_labels[B.argmax(axis=1)],
            f"confidence_{b}": B.max(axis=1),
        }
    )
    frame = frame[A.argmax(axis=1) != B.argmax(axis=1)]
    strength = np.minimum(frame[f"confidence_{a}"], frame[f"confidence_{b}"])
    return frame.assign(_s=-strength).sort_values(["_s", "id"], kind="stable").drop(columns="_s").reset_index(drop=True)


def exclude(ids, remove, reason: str, *, name: str | None = None) -> FilterStep:
    """A step that removes the listed ids (e.g. flagged disagreements) for a stated reason.

    Examples
    --------
    >>> exclude(["a", "b", "c"], ["b"], "generator_disagreement").kept_ids.tolist()
    ['a', 'c']
    """
    ids = np.asarray(ids)
    remove = list(remove)  # any iterable, read once
    return _excluded(ids, isin_ids(ids, remove), reason, name, n_listed=len(remove))


def exclude_rows(ids, drop, reason: str, *, name: str | None = None) -> FilterStep:
    """:func:`exclude` by a mask over the rows (``drop``, one bool per id) rather than a list of ids: no
    lookup of a million ids when the caller knows the rows already.

    Examples
    --------
    >>> exclude_rows(["a", "b", "c"], [False, True, False], "no LF voted").kept_ids.tolist()
    ['a', 'c']
    """
    ids, drop = np.asarray(ids), np.asarray(drop)
    if drop.dtype != bool or drop.shape != ids.shape:
        raise ValueError(f"drop must be one bool per id ({ids.shape}), got {drop.dtype} of shape {drop.shape}")
    return _excluded(ids, drop, reason, name, n_listed=int(drop.sum()))


def _excluded(ids: np.ndarray, drop: np.ndarray, reason: str, name: str | None, *, n_listed: int) -> FilterStep:
    if not reason:
        raise ValueError("exclude needs a non-empty reason")
    reasons = np.where(drop, reason, "").astype(object)
    return FilterStep.from_reasons(name or reason, ids, reasons, params={"reason": reason, "n_listed": n_listed})
