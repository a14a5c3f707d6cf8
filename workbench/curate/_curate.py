"""The usual sequence of filter steps in one call: :func:`curate`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench._internal.columns import SAMPLE_WEIGHT, proba_column
from workbench._internal.validation import check_proba
from workbench.curate._balance import rebalance
from workbench.curate._confidence import confidence_filter
from workbench.curate._dedupe import DuplicateClusters, drop_duplicates
from workbench.curate._diversity import _check_features, diversity_sample
from workbench.curate._funnel import Funnel, _class_names
from workbench.curate._label_errors import find_label_errors

# ----------------------------------------------------------------------------------------
# The usual sequence
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CuratedSet:
    """The curated training set and the funnel that produced it.

    ``frame`` holds the kept pool rows plus ``label`` (the synthetic label), ``confidence``,
    ``proba_<class>`` columns and ``weight`` (sample weight; 1 unless balanced by weights).
    """

    frame: pd.DataFrame
    funnel: Funnel

    def to_dict(self) -> dict:
        return self.funnel.to_dict()

    def __repr__(self) -> str:
        return f"CuratedSet({len(self.frame)} rows; {self.funnel!r})"


def curate(
    pool: pd.DataFrame,
    proba,
    *,
    threshold: float = 0.5,
    class_thresholds=None,
    abstained=None,
    duplicates: DuplicateClusters | None = None,
    label_errors: bool = False,
    balance: str | None = None,
    target=None,
    diversity_k: int | None = None,
    features=None,
    class_names=None,
    id_column: str = "example_id",
    text_column: str = "text",
    random_state: int = 0,
) -> CuratedSet:
    """Run the filter in its usual order and return the curated set with its funnel.

    Order: drop duplicates (``duplicates`` from :func:`find_duplicates` on ``pool``; the most
    confident row represents each cluster) -> confidence threshold -> likely label errors
    (``label_errors=True``: :func:`find_label_errors` on the kept rows' texts) -> rebalance
    (``balance="downsample"`` or ``"weights"`` to ``target``) -> diversity sampling
    (``diversity_k`` rows by k-center greedy on ``features``, aligned with ``pool``).

    Parameters
    ----------
    pool : DataFrame
        The unlabeled rows, with an ``id_column``.
    proba : array of shape (len(pool), k)
        The generator's class probabilities for the pool.
    threshold, class_thresholds, abstained :
        As in :func:`confidence_filter`.
    duplicates : DuplicateClusters, optional
    label_errors : bool
        Drop rows cleanlab flags as likely label errors (cross-validated text model on
        ``text_column``; takes a few seconds).
    balance : {None, "downsample", "weights"}
    target : sequence or mapping, optional
        Target class shares for ``balance`` (default uniform).
    diversity_k : int, optional
    features : array of shape (len(pool), d), optional
        Required with ``diversity_k`` (see :func:`text_embedding`).
    class_names : sequence of str, optional
    id_column, text_column : str
    random_state : int

    Returns
    -------
    CuratedSet

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> pool = pd.DataFrame({"example_id": ["a", "b", "c"], "text": ["x", "y", "z"]})
    >>> cur = curate(pool, np.array([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]]), threshold=0.8)
    >>> cur.frame["label"].tolist(), cur.funnel.to_frame()["n_rows"].tolist()
    ([0, 1], [3, 2])
    """
    if id_column not in pool.columns:
        raise ValueError(f"pool has no id column {id_column!r}; columns are {list(pool.columns)}")
    P = check_proba(proba)
    if len(P) != len(pool):
        raise ValueError(f"proba has {len(P)} rows but the pool has {len(pool)}")
    k = P.shape[1]
    names = _class_names(class_names, k)
    clash = {"label", "confidence", SAMPLE_WEIGHT, *(proba_column(c) for c in names)} & set(pool.columns)
    if clash:
        raise ValueError(f"pool already has column(s) {sorted(clash)} that curate() writes; rename them first")
    if diversity_k is not None and features is None:
        raise ValueError("diversity_k needs features aligned with the pool (see text_embedding)")
    ids = pool[id_column].to_numpy()
    position = pd.Series(np.arange(len(pool)), index=ids)
    confidence = P.max(axis=1)
    funnel = Funnel(ids)

    def current():
        return position.loc[funnel.kept_ids].to_numpy()

    if duplicates is not None:
        funnel = funnel.then(drop_duplicates(duplicates, ids=funnel.kept_ids, priority=confidence))
    rows = current()
    step = confidence_filter(
        P[rows], threshold, class_thresholds=class_thresholds, ids=ids[rows],
        abstained=None if abstained is None else np.asarray(abstained, dtype=bool)[rows], class_names=names,
    )
    funnel = funnel.then(step)
    if label_errors:
        if text_column not in pool.columns:
            raise ValueError(f"label_errors needs the text column {text_column!r}; columns are {list(pool.columns)}")
        rows = current()
        funnel = funnel.then(find_label_errors(pool[text_column].iloc[rows], P[rows].argmax(axis=1), ids=ids[rows], random_state=random_state))
    if balance is not None:
        rows = current()
        funnel = funnel.then(
            rebalance(P[rows].argmax(axis=1), target=target, method=balance, ids=ids[rows], priority=confidence[rows], cardinality=k, class_names=names, random_state=random_state)
        )
    if diversity_k is not None:
        rows = current()
        X = _check_features(features, len(pool))
        funnel = funnel.then(diversity_sample(X[rows], diversity_k, ids=ids[rows], priority=confidence[rows]))

    rows = current()
    frame = pool.iloc[rows].copy()
    frame["label"] = P[rows].argmax(axis=1)
    frame["confidence"] = confidence[rows]
    for c, name in enumerate(names):
        frame[f"proba_{name}"] = P[rows, c]
    frame[SAMPLE_WEIGHT] = funnel.sample_weight
    return CuratedSet(frame.reset_index(drop=True), funnel)
