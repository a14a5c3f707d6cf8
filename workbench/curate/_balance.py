"""Class balance: shares against a target, down-sampling or re-weighting."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench._internal.validation import check_labels
from workbench.curate._funnel import (
    DOWNSAMPLED,
    FilterStep,
    _check_ids,
    _class_names,
    _known_cardinality,
    _per_class,
)

# ----------------------------------------------------------------------------------------
# Class balance
# ----------------------------------------------------------------------------------------


def class_shares(labels, cardinality: int) -> np.ndarray:
    """Share of each class among ``labels`` (for a target taken from the dev set)."""
    y = check_labels(labels, cardinality)
    if not len(y):
        raise ValueError("cannot take class shares of an empty label array")
    return np.bincount(y, minlength=cardinality) / len(y)


def _target_shares(target, cardinality: int, names: list[str]) -> np.ndarray:
    if target is None:
        return np.full(cardinality, 1 / cardinality)
    shares = _per_class(target, cardinality, names, "target")
    if np.isnan(shares).any() or (shares < 0).any() or shares.sum() <= 0:
        raise ValueError(f"target must give a non-negative share for every class, got {shares.tolist()}")
    return shares / shares.sum()


def class_balance(labels, cardinality: int, *, target=None, class_names=None, sample_weight=None) -> pd.DataFrame:
    """The class balance of a (kept) label set against a target.

    Parameters
    ----------
    labels : array of int
        Labels of the kept rows.
    cardinality : int
    target : sequence or mapping, optional
        Target share per class (e.g. ``class_shares(valid_labels, k)``); default uniform.
    class_names : sequence of str, optional
    sample_weight : array, optional
        Sample weights; shares are then weighted.

    Returns
    -------
    DataFrame
        Indexed by class name: ``count, share, target_share, difference`` (share minus
        target) and ``weighted_share`` when weights are given.

    Examples
    --------
    >>> class_balance([0, 0, 0, 1], 2, target=[0.5, 0.5])["difference"].tolist()
    [0.25, -0.25]
    """
    names = _class_names(class_names, cardinality)
    y = check_labels(labels, cardinality)
    counts = np.bincount(y, minlength=cardinality)
    shares = counts / max(len(y), 1)
    target_shares = _target_shares(target, cardinality, names)
    frame = pd.DataFrame(
        {"count": counts, "share": shares, "target_share": target_shares, "difference": shares - target_shares},
        index=pd.Index(names, name="class"),
    )
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=float)
        if w.shape != y.shape:
            raise ValueError(f"sample_weight must have one entry per label ({len(y)}), got shape {w.shape}")
        totals = np.bincount(y, weights=w, minlength=cardinality)
        frame["weighted_share"] = totals / max(totals.sum(), 1e-300)
    return frame


def rebalance(
    labels,
    *,
    target=None,
    method: str = "downsample",
    ids=None,
    priority=None,
    cardinality: int | None = None,
    class_names=None,
    random_state: int = 0,
) -> FilterStep:
    """Bring the kept set to a target class balance, by down-sampling or by sample weights.

    Parameters
    ----------
    labels : array of int
        Labels of the kept rows.
    target : sequence or mapping, optional
        Target share per class; default uniform.
    method : {"downsample", "weights"}
        ``"downsample"`` keeps the largest set with exactly the target shares (rounded down)
        and removes the rest with reason ``"downsampled:<class>"``; ``"weights"`` keeps every
        row and gives it the weight ``target_share / share`` of its class (mean weight 1).
    ids : array, optional
    priority : array of float, optional
        Within a class, down-sampling keeps the highest-priority rows (e.g. confidence);
        default: a random sample drawn with ``random_state``.
    cardinality : int, optional
        Number of classes (default: from ``target``/``class_names``, else ``max(labels)+1``).
    class_names : sequence of str, optional
    random_state : int

    Returns
    -------
    FilterStep
        With ``sample_weight`` set for ``method="weights"``.

    Examples
    --------
    >>> step = rebalance([0, 0, 0, 0, 1, 1], target=[0.5, 0.5], priority=[4, 3, 2, 1, 1, 1])
    >>> step.kept.tolist(), step.removed_counts
    ([True, True, False, False, True, True], {'downsampled:0': 2})
    >>> rebalance([0, 0, 0, 1], method="weights").sample_weight.tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    if method not in ("downsample", "weights"):
        raise ValueError(f"method must be 'downsample' or 'weights', got {method!r}")
    y = check_labels(labels)
    cardinality = _known_cardinality(cardinality, class_names, target)
    if cardinality is None:
        cardinality = int(y.max()) + 1 if y.size else 2
    y = check_labels(y, cardinality)
    names = _class_names(class_names, cardinality)
    ids = _check_ids(ids, len(y))
    target_shares = _target_shares(target, cardinality, names)
    counts = np.bincount(y, minlength=cardinality)
    missing = [names[c] for c in range(cardinality) if target_shares[c] > 0 and counts[c] == 0]
    if missing and len(y):
        raise ValueError(f"cannot rebalance: class {missing[0]!r} has no kept rows but a target share of {target_shares[names.index(missing[0])]:.3f}")
    params = {"method": method, "target": target_shares.tolist(), "class_names": names, "random_state": random_state}
    reasons = np.full(len(y), "", dtype=object)
    if method == "weights":
        shares = counts / max(len(y), 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_class = np.where(counts > 0, target_shares / shares, 0.0)
        weights = per_class[y]
        return FilterStep.from_reasons("balance", ids, reasons, params=params, sample_weight=weights)

    # Largest total n with n * target_c <= count_c for every class with a target share.
    wanted = target_shares > 0
    total = np.min(counts[wanted] / target_shares[wanted]) if len(y) else 0
    quota = np.floor(total * target_shares + 1e-9).astype(int)
    if priority is None:
        order_key = np.random.default_rng(random_state).permutation(len(y)).astype(float)
    else:
        priority = np.asarray(priority, dtype=float)
        if priority.shape != y.shape:
            raise ValueError(f"priority must have one entry per label ({len(y)}), got shape {priority.shape}")
        order_key = -priority
    # rank of each row within its class by priority (ties: earlier rows first)
    order = np.lexsort((np.arange(len(y)), order_key, y))
    rank = np.empty(len(y), dtype=int)
    starts = np.searchsorted(y[order], np.arange(cardinality))
    rank[order] = np.arange(len(y)) - starts[y[order]]
    drop = rank >= quota[y]
    reasons[drop] = [f"{DOWNSAMPLED}:{names[c]}" for c in y[drop]]
    params["quota"] = quota.tolist()
    return FilterStep.from_reasons("balance", ids, reasons, params=params)
