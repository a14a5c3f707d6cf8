"""The filter: decide which synthetic labels the learner sees, and record why.

Between the generator (labeling functions and a label model, or a teacher model) and the
learner sits the filter. Every step here is a pure function (arrays and DataFrames in, a
:class:`FilterStep` out) that says which rows it kept and, for each row it removed, the
reason. Steps compose into a :class:`Funnel` from the raw pool to the curated set, whose
:meth:`Funnel.to_dict` is what an export's lineage manifest embeds.

Steps
-----
- :func:`confidence_filter` keeps rows whose top probability reaches a threshold (global and
  per class); :func:`threshold_curve` shows what each threshold costs in coverage and buys in
  dev-set precision.
- :func:`class_balance` reports the kept set's classes against a target; :func:`rebalance`
  down-samples to it or gives sample weights.
- :func:`find_duplicates` finds exact duplicates after normalisation (case, whitespace,
  URLs, HTML, invisible characters) and near clones (MinHash LSH on character shingles,
  with ``datasketch``'s permutations and band choice, computed in bulk with numpy; 100,000
  rows take a few seconds, see ``bench/bench_dedupe.py``); :func:`drop_duplicates` keeps one
  representative per cluster.
- :func:`diversity_sample` picks ``k`` rows that cover the feature space (k-center greedy on
  TF-IDF + SVD features, :func:`text_features`); :func:`diversity_score` says how diverse a
  set is, so it can be compared with taking the ``k`` most confident rows.
- :func:`gray_zone` lists rows near the decision boundary (:func:`margin`,
  :func:`in_gray_zone`) for human audit; :func:`generator_disagreement` lists rows where
  two generators disagree, :func:`disagreement_score` scores how much any number of them do
  (the review queue ranks by both, :mod:`workbench.review`).
- :func:`find_label_errors` flags likely label errors with cleanlab's confident learning on
  out-of-sample probabilities (:func:`out_of_sample_proba`).
- :func:`curate` runs the usual sequence (dedupe, threshold, label errors, balance,
  diversity) and returns the curated DataFrame with its funnel; the threshold explorer
  (:mod:`workbench.ui.explorer`) calls it on every slider move.

Example
-------
>>> import numpy as np
>>> P = np.array([[0.9, 0.1], [0.55, 0.45], [0.2, 0.8]])
>>> step = confidence_filter(P, threshold=0.7, ids=["a", "b", "c"])
>>> step.kept_ids.tolist(), step.removed_counts
(['a', 'c'], {'below_threshold': 1})
>>> Funnel(["a", "b", "c"]).then(step).to_dict()["n_kept"]
2
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import entropy
from tqdm.auto import tqdm

from workbench._internal.validation import ABSTAIN

#: Reasons a step records for the rows it removes.
NO_LF_VOTE = "no_lf_vote"
BELOW_THRESHOLD = "below_threshold"
EXACT_DUPLICATE = "exact_duplicate"
NEAR_DUPLICATE = "near_duplicate"
NOT_SELECTED_FOR_DIVERSITY = "not_selected_for_diversity"
LIKELY_LABEL_ERROR = "likely_label_error"
DOWNSAMPLED = "downsampled"  # written as "downsampled:<class name>"


# ----------------------------------------------------------------------------------------
# What a step kept and why; the funnel of steps
# ----------------------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    """Plain Python values for JSON (numpy scalars and arrays, tuples, nested dicts)."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Series, pd.Index)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True, eq=False)
class FilterStep:
    """What one filter step kept and, for every removed row, why.

    Attributes
    ----------
    name : str
        The step (``"confidence"``, ``"dedupe"``, ``"balance"``, ...).
    ids : ndarray
        Ids of the rows the step looked at, in input order.
    kept : ndarray of bool
        ``kept[i]`` is True when row ``ids[i]`` passed.
    reasons : ndarray of str
        ``""`` for kept rows, the reason for removed ones.
    params : dict
        The step's settings (JSON-safe), for the lineage record.
    weights : ndarray or None
        Sample weights for the rows (aligned with ``ids``), when the step gives weights.
    details : dict
        Tables for inspection (duplicate clusters, the label-error ranking, ...); not part
        of :meth:`to_dict`.
    """

    name: str
    ids: np.ndarray
    kept: np.ndarray
    reasons: np.ndarray
    params: dict = field(default_factory=dict)
    weights: np.ndarray | None = None
    details: dict = field(default_factory=dict)

    @classmethod
    def from_reasons(cls, name: str, ids, reasons, **kwargs) -> FilterStep:
        """Build a step from one reason per row (``""`` meaning kept)."""
        reasons = np.asarray(reasons, dtype=object)
        return cls(name=name, ids=np.asarray(ids), kept=reasons == "", reasons=reasons, **kwargs)

    @property
    def n_in(self) -> int:
        return len(self.ids)

    @property
    def n_kept(self) -> int:
        return int(self.kept.sum())

    @property
    def n_removed(self) -> int:
        return self.n_in - self.n_kept

    @property
    def kept_ids(self) -> np.ndarray:
        return self.ids[self.kept]

    @property
    def removed_ids(self) -> dict[str, np.ndarray]:
        """Reason -> ids removed for it, reasons in order of first appearance."""
        removed = ~self.kept
        reasons = self.reasons[removed]
        ids = self.ids[removed]
        return {r: ids[reasons == r] for r in pd.unique(reasons)}

    @property
    def removed_counts(self) -> dict[str, int]:
        return {r: len(v) for r, v in self.removed_ids.items()}

    def to_dict(self) -> dict:
        """JSON-safe record: settings, counts and the removed ids per reason."""
        record = {
            "step": self.name,
            "params": _json_safe(self.params),
            "n_in": self.n_in,
            "n_kept": self.n_kept,
            "removed": {r: {"count": len(v), "ids": _json_safe(v)} for r, v in self.removed_ids.items()},
        }
        if self.weights is not None and len(self.weights):
            record["weights"] = {"min": float(self.weights.min()), "max": float(self.weights.max())}
        return record

    def __repr__(self) -> str:
        return f"FilterStep({self.name!r}, kept {self.n_kept} of {self.n_in}, removed {self.removed_counts})"


@dataclass(frozen=True, eq=False)
class Funnel:
    """The sequence of filter steps from the raw pool to the curated set.

    Each step must look at exactly the rows the previous steps kept, in the same order,
    so counts always add up. ``then`` returns a new funnel; the old one is unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.9, 0.1], [0.6, 0.4], [0.1, 0.9], [0.95, 0.05]])
    >>> funnel = Funnel([0, 1, 2, 3]).then(confidence_filter(P, 0.8))
    >>> kept = funnel.kept_mask
    >>> step = rebalance(P[kept].argmax(1), ids=funnel.kept_ids, priority=P[kept].max(1))
    >>> funnel.then(step).kept_ids.tolist()
    [2, 3]
    """

    pool_ids: np.ndarray
    steps: tuple[FilterStep, ...] = ()

    def __post_init__(self):
        ids = np.asarray(self.pool_ids)
        if ids.ndim != 1:
            raise ValueError(f"pool ids must be one-dimensional, got shape {ids.shape}")
        duplicated = pd.Index(ids).duplicated()
        if duplicated.any():
            raise ValueError(f"pool ids must be unique; repeated: {ids[duplicated][:5].tolist()}")
        object.__setattr__(self, "pool_ids", ids)

    @property
    def kept_ids(self) -> np.ndarray:
        return self.steps[-1].kept_ids if self.steps else self.pool_ids

    @property
    def kept_mask(self) -> np.ndarray:
        """Boolean mask over the pool: rows that every step kept."""
        return np.isin(self.pool_ids, self.kept_ids)

    def then(self, step: FilterStep) -> Funnel:
        """Append a step that was run on this funnel's kept rows."""
        current = self.kept_ids
        if len(step.ids) != len(current) or not np.array_equal(step.ids, current):
            raise ValueError(
                f"step {step.name!r} looked at {len(step.ids)} rows, but the funnel has {len(current)} kept rows "
                "(in this order); run each step on `funnel.kept_ids`"
            )
        return Funnel(self.pool_ids, self.steps + (step,))

    @property
    def weights(self) -> np.ndarray:
        """Sample weights for the kept rows: the product of the weights steps gave (1 if none)."""
        weights = pd.Series(1.0, index=self.kept_ids)
        for step in self.steps:
            if step.weights is not None:
                given = pd.Series(step.weights, index=step.ids)
                weights *= given.reindex(weights.index).to_numpy()
        return weights.to_numpy()

    def reasons(self) -> pd.DataFrame:
        """One row per pool row: the step that removed it and why (empty strings if kept)."""
        out = pd.DataFrame({"id": self.pool_ids, "step": "", "reason": ""})
        position = pd.Series(np.arange(len(self.pool_ids)), index=self.pool_ids)
        for step in self.steps:
            rows = position.loc[step.ids[~step.kept]].to_numpy()
            out.loc[rows, "step"] = step.name
            out.loc[rows, "reason"] = step.reasons[~step.kept]
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per stage (the pool, then each step): rows remaining and removed counts."""
        rows = [{"stage": "pool", "n_rows": len(self.pool_ids), "n_removed": 0, "removed": {}}]
        for step in self.steps:
            rows.append({"stage": step.name, "n_rows": step.n_kept, "n_removed": step.n_removed, "removed": step.removed_counts})
        return pd.DataFrame(rows)

    def to_dict(self) -> dict:
        """JSON-safe lineage record: pool size, each step's settings, counts and removed ids."""
        return {
            "n_pool": len(self.pool_ids),
            "n_kept": len(self.kept_ids),
            "steps": [step.to_dict() for step in self.steps],
        }

    def __repr__(self) -> str:
        stages = " -> ".join(f"{r.stage} {r.n_rows}" for r in self.to_frame().itertuples())
        return f"Funnel({stages})"


# ----------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------


def check_proba(proba, name: str = "proba") -> np.ndarray:
    """``proba`` as a float array of shape (n, k >= 2) whose rows are probabilities; a clear error otherwise."""
    P = np.asarray(proba, dtype=float)
    if P.ndim != 2 or P.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n_rows, n_classes >= 2), got {P.shape}")
    if not np.isfinite(P).all():
        row = int(np.flatnonzero(~np.isfinite(P).all(axis=1))[0])
        raise ValueError(f"{name} has a non-finite value on row {row}: {P[row].tolist()}")
    bad = (P < -1e-9).any(axis=1) | (np.abs(P.sum(axis=1) - 1) > 1e-6)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} rows must be probabilities summing to 1; row {row} is {P[row].tolist()}")
    return P


def _check_ids(ids, n: int, what: str = "rows") -> np.ndarray:
    if ids is None:
        return np.arange(n)
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise ValueError(f"ids must have one entry per row ({n} {what}), got shape {ids.shape}")
    return ids


def _check_labels(labels, cardinality: int | None = None, name: str = "labels") -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.mod(y, 1) == 0):
            raise ValueError(f"{name} must be integer class indices, got {y[:5].tolist()}")
        y = y.astype(np.int64)
    if cardinality is not None and y.size:
        bad = (y < 0) | (y >= cardinality)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}[{row}] = {y[row]} is out of range for {cardinality} classes (0..{cardinality - 1})")
    return y


def _class_names(class_names, cardinality: int) -> list[str]:
    if class_names is None:
        return [str(c) for c in range(cardinality)]
    names = [str(c) for c in class_names]
    if len(names) != cardinality:
        raise ValueError(f"class_names has {len(names)} names for {cardinality} classes")
    return names


def _per_class(values, cardinality: int, class_names: list[str], what: str) -> np.ndarray:
    """A per-class array from a sequence or a mapping keyed by class index or name."""
    if isinstance(values, Mapping):
        out = np.full(cardinality, np.nan)
        for key, value in values.items():
            if isinstance(key, (int, np.integer)) and 0 <= key < cardinality:
                out[key] = value
            elif isinstance(key, str) and key in class_names:
                out[class_names.index(key)] = value
            else:
                raise ValueError(f"{what}: unknown class {key!r}; classes are {class_names}")
        return out
    out = np.asarray(values, dtype=float)
    if out.shape != (cardinality,):
        raise ValueError(f"{what} must give one value per class ({cardinality}), got {out.tolist()}")
    return out


# ----------------------------------------------------------------------------------------
# Confidence thresholds
# ----------------------------------------------------------------------------------------


def effective_thresholds(threshold: float, class_thresholds=None, cardinality: int = 2, class_names=None) -> np.ndarray:
    """Threshold per class: the larger of the global threshold and the class's own.

    ``class_thresholds`` is a sequence with one value per class or a mapping from class
    index or name to value; classes left out use the global threshold.

    Examples
    --------
    >>> effective_thresholds(0.6, {"spam": 0.8}, 2, ["ham", "spam"]).tolist()
    [0.6, 0.8]
    """
    names = _class_names(class_names, cardinality)
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    out = np.full(cardinality, float(threshold))
    if class_thresholds is not None:
        per_class = _per_class(class_thresholds, cardinality, names, "class_thresholds")
        given = ~np.isnan(per_class)
        if ((per_class[given] < 0) | (per_class[given] > 1)).any():
            raise ValueError(f"class_thresholds must be in [0, 1], got {per_class.tolist()}")
        out[given] = np.maximum(out[given], per_class[given])
    return out


def confidence_filter(proba, threshold: float = 0.5, *, class_thresholds=None, ids=None, abstained=None, class_names=None) -> FilterStep:
    """Keep rows whose top class probability reaches the threshold of that class.

    Parameters
    ----------
    proba : array of shape (n, k)
        Class probabilities from the generator (``label_model.predict_proba(L)``).
    threshold : float
        Global threshold on the top probability.
    class_thresholds : sequence or mapping, optional
        Per-class thresholds (by class index or name); a row predicted as class ``c`` must
        reach ``max(threshold, class_thresholds[c])``.
    ids : array of shape (n,), optional
        Row ids (default: positions).
    abstained : array of bool, optional
        Rows no labeling function voted on (``(L == ABSTAIN).all(axis=1)``); they are removed
        with reason ``"no_lf_vote"`` whatever their probability (a label model gives them
        its class prior, which is no evidence about the row).
    class_names : sequence of str, optional
        Names for mapping keys and the record.

    Returns
    -------
    FilterStep
        Removed rows carry ``"no_lf_vote"`` or ``"below_threshold"``.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8]])
    >>> confidence_filter(P, 0.6, class_thresholds=[0.0, 0.75]).kept.tolist()
    [True, False, True]
    """
    P = check_proba(proba)
    ids = _check_ids(ids, len(P))
    thresholds = effective_thresholds(threshold, class_thresholds, P.shape[1], class_names)
    predicted = P.argmax(axis=1)
    confidence = P.max(axis=1)
    reasons = np.where(confidence >= thresholds[predicted] - 1e-12, "", BELOW_THRESHOLD).astype(object)
    if abstained is not None:
        abstained = np.asarray(abstained, dtype=bool)
        if abstained.shape != (len(P),):
            raise ValueError(f"abstained must be a boolean mask with one entry per row ({len(P)}), got shape {abstained.shape}")
        reasons[abstained] = NO_LF_VOTE
    params = {"threshold": float(threshold), "class_thresholds": thresholds.tolist()}
    if class_names is not None:
        params["class_names"] = list(class_names)
    return FilterStep.from_reasons("confidence", ids, reasons, params=params)


def threshold_curve(proba, *, dev_proba=None, dev_labels=None, thresholds=None, class_names=None) -> pd.DataFrame:
    """What each confidence threshold costs in coverage and buys in dev-set precision.

    Coverage is measured on ``proba`` (the unlabeled pool); precision on the labeled
    ``dev_proba``/``dev_labels`` (pass the same set twice to measure both on one set).

    Parameters
    ----------
    proba : array of shape (n, k)
        Pool probabilities.
    dev_proba : array of shape (m, k), optional
        Probabilities on a labeled set.
    dev_labels : array of shape (m,), optional
        Its gold labels.
    thresholds : array, optional
        Thresholds to evaluate (default: 51 steps from ``1/k`` to 1).
    class_names : sequence of str, optional

    Returns
    -------
    DataFrame
        Long format, one row per (threshold, class) with class ``"all"`` for the whole set:
        ``threshold, class, n_kept, coverage`` (share of the pool kept with that predicted
        class) and, with a dev set, ``dev_n_kept, dev_coverage, dev_precision`` (share of
        kept dev rows whose gold label is the predicted one; for ``"all"`` it is accuracy;
        NaN where nothing is kept).

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    >>> c = threshold_curve(P, dev_proba=P, dev_labels=[0, 1, 1], thresholds=[0.5, 0.7])
    >>> c[c["class"] == "all"][["threshold", "coverage", "dev_precision"]].to_numpy().round(3).tolist()
    [[0.5, 1.0, 0.667], [0.7, 0.667, 1.0]]
    """
    P = check_proba(proba)
    k = P.shape[1]
    names = _class_names(class_names, k)
    grid = np.linspace(1 / k, 1, 51) if thresholds is None else np.asarray(thresholds, dtype=float)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError("thresholds must be a non-empty one-dimensional array")

    def kept_counts(P_, correct=None):
        """(classes + 1, thresholds) counts of rows kept, and of correct ones if labels given."""
        predicted, confidence = P_.argmax(axis=1), P_.max(axis=1)
        counts, hits = [], []
        for members in [np.ones(len(P_), bool)] + [predicted == c for c in range(k)]:
            conf = np.sort(confidence[members])
            counts.append(len(conf) - np.searchsorted(conf, grid - 1e-12, side="left"))
            if correct is not None:
                conf_ok = np.sort(confidence[members & correct])
                hits.append(len(conf_ok) - np.searchsorted(conf_ok, grid - 1e-12, side="left"))
        return np.array(counts), (np.array(hits) if correct is not None else None)

    counts, _ = kept_counts(P)
    labels = ["all"] + names
    frame = pd.DataFrame(
        {
            "threshold": np.tile(grid, k + 1),
            "class": np.repeat(labels, len(grid)),
            "n_kept": counts.ravel(),
            "coverage": counts.ravel() / max(len(P), 1),
        }
    )
    if dev_proba is not None or dev_labels is not None:
        if dev_proba is None or dev_labels is None:
            raise ValueError("pass both dev_proba and dev_labels, or neither")
        D = check_proba(dev_proba, "dev_proba")
        y = _check_labels(dev_labels, k, "dev_labels")
        if D.shape[1] != k or len(y) != len(D):
            raise ValueError(f"dev_proba {D.shape} and dev_labels ({len(y)},) do not match proba's {k} classes")
        dev_counts, dev_hits = kept_counts(D, D.argmax(axis=1) == y)
        frame["dev_n_kept"] = dev_counts.ravel()
        frame["dev_coverage"] = dev_counts.ravel() / max(len(D), 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            frame["dev_precision"] = np.where(dev_counts > 0, dev_hits / dev_counts, np.nan).ravel()
    return frame


def operating_point(proba, threshold: float, *, class_thresholds=None, dev_proba=None, dev_labels=None, class_names=None) -> pd.DataFrame:
    """Where the current thresholds sit on :func:`threshold_curve`: one row for ``all`` and one per class.

    The ``all`` row applies the per-class thresholds together (as :func:`confidence_filter`
    does); class ``c``'s row is the curve of class ``c`` at its effective threshold.

    Examples
    --------
    >>> import numpy as np
    >>> P = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.35, 0.65]])
    >>> op = operating_point(P, 0.6, class_thresholds=[0.0, 0.7], dev_proba=P, dev_labels=[0, 1, 1, 1])
    >>> op[["class", "threshold", "n_kept", "dev_precision"]].to_numpy().tolist()
    [['all', 0.6, 3, 0.6666666666666666], ['0', 0.6, 2, 0.5], ['1', 0.7, 1, 1.0]]
    """
    P = check_proba(proba)
    k = P.shape[1]
    names = _class_names(class_names, k)
    thresholds = effective_thresholds(threshold, class_thresholds, k, names)
    rows = []
    for c, name in enumerate(names):
        curve = threshold_curve(P, dev_proba=dev_proba, dev_labels=dev_labels, thresholds=[thresholds[c]], class_names=names)
        rows.append(curve[curve["class"] == name])
    kept = confidence_filter(P, threshold, class_thresholds=thresholds).kept
    overall = {"threshold": float(threshold), "class": "all", "n_kept": int(kept.sum()), "coverage": kept.mean() if len(P) else np.nan}
    if dev_proba is not None:
        D = check_proba(dev_proba, "dev_proba")
        y = _check_labels(dev_labels, k, "dev_labels")
        dev_kept = confidence_filter(D, threshold, class_thresholds=thresholds).kept
        overall["dev_n_kept"] = int(dev_kept.sum())
        overall["dev_coverage"] = dev_kept.mean() if len(D) else np.nan
        overall["dev_precision"] = (D.argmax(axis=1) == y)[dev_kept].mean() if dev_kept.any() else np.nan
    return pd.concat([pd.DataFrame([overall]), *rows], ignore_index=True)


def examples_near_threshold(confidence, kept, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the ``n`` least confident kept rows and the ``n`` most confident dropped rows.

    These are the rows a threshold decision hinges on; showing them beside each other tells a
    reviewer whether the threshold sits in the right place.

    Examples
    --------
    >>> import numpy as np
    >>> examples_near_threshold(np.array([0.9, 0.55, 0.7, 0.6]), np.array([True, False, True, False]), n=1)
    (array([2]), array([3]))
    """
    confidence = np.asarray(confidence, dtype=float)
    kept = np.asarray(kept, dtype=bool)
    kept_pos, dropped_pos = np.flatnonzero(kept), np.flatnonzero(~kept)
    kept_pos = kept_pos[np.argsort(confidence[kept_pos], kind="stable")][:n]
    dropped_pos = dropped_pos[np.argsort(-confidence[dropped_pos], kind="stable")][:n]
    return kept_pos, dropped_pos


# ----------------------------------------------------------------------------------------
# Class balance
# ----------------------------------------------------------------------------------------


def class_shares(labels, cardinality: int) -> np.ndarray:
    """Share of each class among ``labels`` (for a target taken from the dev set)."""
    y = _check_labels(labels, cardinality)
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


def class_balance(labels, cardinality: int, *, target=None, class_names=None, weights=None) -> pd.DataFrame:
    """The class balance of a (kept) label set against a target.

    Parameters
    ----------
    labels : array of int
        Labels of the kept rows.
    cardinality : int
    target : sequence or mapping, optional
        Target share per class (e.g. ``class_shares(dev_labels, k)``); default uniform.
    class_names : sequence of str, optional
    weights : array, optional
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
    y = _check_labels(labels, cardinality)
    counts = np.bincount(y, minlength=cardinality)
    shares = counts / max(len(y), 1)
    target_shares = _target_shares(target, cardinality, names)
    frame = pd.DataFrame(
        {"count": counts, "share": shares, "target_share": target_shares, "difference": shares - target_shares},
        index=pd.Index(names, name="class"),
    )
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != y.shape:
            raise ValueError(f"weights must have one entry per label ({len(y)}), got shape {w.shape}")
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
    seed: int = 0,
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
        default: a random sample drawn with ``seed``.
    cardinality : int, optional
        Number of classes (default: from ``target``/``class_names``, else ``max(labels)+1``).
    class_names : sequence of str, optional
    seed : int

    Returns
    -------
    FilterStep
        With ``weights`` set for ``method="weights"``.

    Examples
    --------
    >>> step = rebalance([0, 0, 0, 0, 1, 1], target=[0.5, 0.5], priority=[4, 3, 2, 1, 1, 1])
    >>> step.kept.tolist(), step.removed_counts
    ([True, True, False, False, True, True], {'downsampled:0': 2})
    >>> rebalance([0, 0, 0, 1], method="weights").weights.tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    if method not in ("downsample", "weights"):
        raise ValueError(f"method must be 'downsample' or 'weights', got {method!r}")
    y = _check_labels(labels)
    if cardinality is None:
        if class_names is not None:
            cardinality = len(class_names)
        elif target is not None and not isinstance(target, Mapping):
            cardinality = len(target)
        else:
            cardinality = int(y.max()) + 1 if y.size else 2
    y = _check_labels(y, cardinality)
    names = _class_names(class_names, cardinality)
    ids = _check_ids(ids, len(y))
    target_shares = _target_shares(target, cardinality, names)
    counts = np.bincount(y, minlength=cardinality)
    missing = [names[c] for c in range(cardinality) if target_shares[c] > 0 and counts[c] == 0]
    if missing and len(y):
        raise ValueError(f"cannot rebalance: class {missing[0]!r} has no kept rows but a target share of {target_shares[names.index(missing[0])]:.3f}")
    params = {"method": method, "target": target_shares.tolist(), "class_names": names, "seed": seed}
    reasons = np.full(len(y), "", dtype=object)
    if method == "weights":
        shares = counts / max(len(y), 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_class = np.where(counts > 0, target_shares / shares, 0.0)
        weights = per_class[y]
        return FilterStep.from_reasons("balance", ids, reasons, params=params, weights=weights)

    # Largest total n with n * target_c <= count_c for every class with a target share.
    wanted = target_shares > 0
    total = np.min(counts[wanted] / target_shares[wanted]) if len(y) else 0
    quota = np.floor(total * target_shares + 1e-9).astype(int)
    if priority is None:
        order_key = np.random.default_rng(seed).permutation(len(y)).astype(float)
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


# ----------------------------------------------------------------------------------------
# Exact and near duplicates
# ----------------------------------------------------------------------------------------

_INVISIBLE = r"[\u00ad\u200b-\u200f\u2060\ufeff]"
_HTML_TAG = r"(?i)</?[a-z][^>]*>"
# A URL with a scheme or "www.", or a bare domain with a common top-level domain; group 1 or 2
# is the host, which is all normalisation keeps (paths and query strings carry referral codes).
_URL = (
    r"(?:https?://(?:www\.)?|www\.)([^\s/?#]+)\S*"
    r"|\b((?:[\w-]+\.)+(?:com|net|org|io|ly|co|tv|me|info|biz|us|uk|de|ru|be))\b(?:[/?#]\S*)?"
)
_SHINGLE_BASE = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime, as a polynomial base
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


def normalize_text(texts) -> pd.Series:
    """Text as duplicate detection sees it: HTML entities decoded and tags (``<br />``) made
    spaces, NFKC, no invisible characters, lower case, every URL reduced to its host in angle
    brackets (``https://www.x.io/ref?id=7`` -> ``<x.io>``), runs of whitespace collapsed.

    Keeping the host but not the path makes the same link with different referral codes a
    duplicate, while comments linking to different sites stay apart.

    Examples
    --------
    >>> normalize_text(["Check  https://x.io/a?ref=1\\ufeff NOW<br />", "check x.io/b &nbsp;now"]).tolist()
    ['check <x.io> now', 'check <x.io> now']
    """
    # pandas' "str" dtype runs these regular expressions in pyarrow (RE2), not row by row
    s = pd.Series(list(texts) if not isinstance(texts, pd.Series) else texts.to_numpy(), dtype=object).astype(str).astype("str")
    s = s.str.replace(_HTML_TAG, " ", regex=True)
    entities = s.str.contains("&", regex=False)
    if entities.any():
        s[entities] = s[entities].map(html.unescape)
    s = s.str.normalize("NFKC").str.replace(_INVISIBLE, "", regex=True).str.lower()
    s = s.str.replace(_URL, r" <\1\2> ", regex=True)  # one of the two host groups is empty
    return s.str.replace(r"\s+", " ", regex=True).str.strip()


def shingle_hash(shingle: str) -> int:
    """The 32-bit hash of one character shingle used for MinHash signatures.

    A polynomial hash of the code points (64-bit, wrapping), folded to 32 bits.
    ``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)`` fed the same shingles
    gives exactly the signatures :func:`minhash_signatures` computes in bulk.
    """
    h = 0
    for ch in shingle:
        h = (h * int(_SHINGLE_BASE) + ord(ch)) & 0xFFFFFFFFFFFFFFFF
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def shingles(text: str, size: int = 5) -> list[str]:
    """Character shingles of ``text``; a text shorter than ``size`` is padded with NULs."""
    text = text.ljust(size, "\0")
    return [text[i : i + size] for i in range(len(text) - size + 1)]


def minhash_signatures(texts: Sequence[str], *, shingle_size: int = 5, num_perm: int = 128, seed: int = 1, chunk_rows: int = 256,
                       progress: bool = True) -> np.ndarray:
    """MinHash signatures of character shingles, computed in bulk with numpy.

    Uses datasketch's ``affine32`` scheme (its permutations for ``num_perm`` and ``seed``,
    and its MurmurHash3 pre-mix) with :func:`shingle_hash` as the hash function, so every
    row equals ``datasketch.MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash)``
    updated with the text's shingles, only much faster: the shingles of all texts are hashed
    as one array and the permutations are applied a few hundred texts at a time.

    Returns
    -------
    ndarray of uint32, shape (n, num_perm)
    """
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    texts = [t.ljust(shingle_size, "\0") for t in texts]
    n = len(texts)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    text_start = np.cumsum(lengths) - lengths
    n_shingles = lengths - shingle_size + 1
    shingle_start = np.cumsum(n_shingles) - n_shingles
    positions = np.repeat(text_start - shingle_start, n_shingles) + np.arange(n_shingles.sum())
    h = np.zeros(len(positions), dtype=np.uint64)
    for offset in range(shingle_size):
        h = h * _SHINGLE_BASE + codes[positions + offset]
    hv = (h ^ (h >> np.uint64(32))).astype(np.uint32)
    s1, m1, s2, m2, s3 = _FMIX32
    hv ^= hv >> s1
    hv *= m1
    hv ^= hv >> s2
    hv *= m2
    hv ^= hv >> s3
    del h, positions, codes

    signatures = np.empty((n, num_perm), dtype=np.uint32)
    buffer = np.empty((0, num_perm), dtype=np.uint32)
    for first in tqdm(range(0, n, chunk_rows), desc="MinHash signatures", unit="chunk", leave=False, disable=not progress):
        last = min(first + chunk_rows, n)
        lo = shingle_start[first]
        hi = shingle_start[last] if last < n else len(hv)
        if len(buffer) < hi - lo:
            buffer = np.empty((hi - lo, num_perm), dtype=np.uint32)
        permuted = buffer[: hi - lo]
        np.multiply(hv[lo:hi, None], a[None, :], out=permuted)  # wraps mod 2**32, as datasketch's
        np.add(permuted, b[None, :], out=permuted)
        signatures[first:last] = np.minimum.reduceat(permuted, shingle_start[first:last] - lo, axis=0)
    return signatures


@dataclass(frozen=True, eq=False)
class DuplicateClusters:
    """Exact and near-duplicate clusters of a set of texts.

    Attributes
    ----------
    ids : ndarray
        Row ids.
    cluster : ndarray of int
        Cluster of each row, named by its first row's position (a row alone is its own
        cluster).
    exact_group : ndarray of int
        Group of rows with identical normalised text, named the same way.
    normalized : Series
        The normalised texts.
    params : dict
    """

    ids: np.ndarray
    cluster: np.ndarray
    exact_group: np.ndarray
    normalized: pd.Series
    params: dict

    @property
    def n_clusters(self) -> int:
        """Clusters with more than one row."""
        sizes = np.bincount(self.cluster)
        return int((sizes > 1).sum())

    @property
    def n_redundant(self) -> int:
        """Rows that deduplication would remove (all but one per cluster)."""
        return len(self.cluster) - len(np.unique(self.cluster))

    def frame(self, texts=None) -> pd.DataFrame:
        """Rows in clusters of two or more, largest clusters first, for inspection.

        Columns ``cluster, cluster_size, id, exact_group`` and ``text`` (the given texts, else
        the normalised ones).
        """
        sizes = np.bincount(self.cluster)[self.cluster]
        out = pd.DataFrame(
            {
                "cluster": self.cluster,
                "cluster_size": sizes,
                "id": self.ids,
                "exact_group": self.exact_group,
                "text": self.normalized.to_numpy() if texts is None else np.asarray(texts, dtype=object),
            }
        )
        out = out[out["cluster_size"] > 1]
        return out.sort_values(["cluster_size", "cluster", "exact_group"], ascending=[False, True, True], kind="stable").reset_index(drop=True)

    def summary(self, texts=None, examples: int = 3) -> pd.DataFrame:
        """One row per cluster of two or more, largest first: ``cluster, size, distinct``
        (distinct normalised texts) and up to ``examples`` distinct example texts."""
        frame = self.frame(texts)
        frame["normalized"] = self.normalized.to_numpy()[pd.Index(self.ids).get_indexer(frame["id"])]
        firsts = frame.drop_duplicates(["cluster", "normalized"])
        out = frame.groupby("cluster", sort=False).agg(size=("id", "size"))
        out["distinct"] = firsts.groupby("cluster", sort=False).size()
        out["examples"] = firsts.groupby("cluster", sort=False)["text"].agg(lambda t: list(t)[:examples])
        return out.reset_index()

    def __repr__(self) -> str:
        return f"DuplicateClusters({len(self.ids)} rows, {self.n_clusters} clusters, {self.n_redundant} redundant rows)"


def _first_position(labels: np.ndarray) -> np.ndarray:
    """Rename group labels to the position of each group's first member."""
    first = pd.Series(np.arange(len(labels))).groupby(labels).transform("min")
    return first.to_numpy()


def find_duplicates(
    texts,
    *,
    ids=None,
    threshold: float = 0.7,
    shingle_size: int = 5,
    num_perm: int = 128,
    seed: int = 1,
    lsh_weights: tuple[float, float] = (0.1, 0.9),
) -> DuplicateClusters:
    """Cluster exact duplicates (after :func:`normalize_text`) and near clones.

    1. Exact pass: rows with the same normalised text form a group.
    2. Near pass, on one text per group: MinHash signatures of character shingles
       (:func:`minhash_signatures`) are banded as in datasketch's ``MinHashLSH`` tuned for
       ``threshold`` (:func:`lsh_buckets`); within each bucket every member is compared with
       the bucket's first three members, and pairs whose estimated Jaccard similarity
       reaches ``threshold`` are linked. Clusters are the connected components of these links.

    The LSH bands are chosen by datasketch for ``threshold`` with ``lsh_weights``
    (false-positive weight, false-negative weight). The default favours recall: with 128
    permutations it gives 20 bands of 6 rows, which misses a pair at Jaccard 0.7 with
    probability 0.08 and at 0.8 with 0.002 (datasketch's even weights miss 0.56 and 0.13);
    the extra candidates cost little because every candidate pair is checked on its
    signatures.

    Comparing bucket members with a few leaders (not all pairs) keeps the work linear in the
    number of rows when thousands of clones share a bucket; a clone that none of them
    matches is usually linked through another band.

    Parameters
    ----------
    texts : sequence of str
    ids : array, optional
    threshold : float
        Jaccard similarity of shingle sets from which two texts count as near duplicates.
    shingle_size : int
        Characters per shingle.
    num_perm : int
        MinHash permutations.
    seed : int
        MinHash seed.
    lsh_weights : (float, float)
        datasketch's weights of false positives and false negatives when it picks the bands.

    Examples
    --------
    >>> clusters = find_duplicates(["Check my channel please!", "check my  CHANNEL please!",
    ...                             "Check my channel please!!", "Nice song"])
    >>> clusters.cluster.tolist(), clusters.exact_group.tolist()
    ([0, 0, 0, 3], [0, 0, 2, 3])
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if shingle_size < 1 or num_perm < 2:
        raise ValueError(f"need shingle_size >= 1 and num_perm >= 2, got {shingle_size} and {num_perm}")
    normalized = normalize_text(texts)
    n = len(normalized)
    ids = _check_ids(ids, n, "texts")
    exact_codes, unique_texts = pd.factorize(normalized)
    exact_group = _first_position(exact_codes)
    params = {"threshold": threshold, "shingle_size": shingle_size, "num_perm": num_perm, "seed": seed, "lsh_weights": list(lsh_weights)}
    if len(unique_texts) < 2:
        return DuplicateClusters(ids, exact_group.copy(), exact_group, normalized, params)

    from datasketch import MinHashLSH

    signatures = minhash_signatures(list(unique_texts), shingle_size=shingle_size, num_perm=num_perm, seed=seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=lsh_weights)  # for its choice of bands
    keys, sizes = lsh_buckets(signatures, lsh.b, lsh.r)
    leaders, members = _bucket_pairs(keys, sizes, n_leaders=3)
    similar = np.zeros(len(leaders), dtype=bool)
    for lo in range(0, len(leaders), 65536):
        hi = lo + 65536
        agreement = (signatures[leaders[lo:hi]] == signatures[members[lo:hi]]).mean(axis=1)
        similar[lo:hi] = agreement >= threshold - 1e-12
    m = len(unique_texts)
    graph = coo_matrix((np.ones(similar.sum()), (leaders[similar], members[similar])), shape=(m, m))
    _, component = connected_components(graph, directed=False)
    cluster = _first_position(component[exact_codes])
    params["lsh_bands"], params["lsh_rows"] = int(lsh.b), int(lsh.r)
    return DuplicateClusters(ids, cluster, exact_group, normalized, params)


def lsh_buckets(signatures: np.ndarray, bands: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The buckets of a MinHash LSH index with ``bands`` bands of ``rows`` rows, in bulk.

    Two signatures share a bucket when they agree on every value of a band, exactly as
    in datasketch's ``MinHashLSH`` (whose buckets are keyed by the band's bytes); here each
    band is grouped with one ``np.unique`` over its bytes instead of a dictionary insert
    per row and band.

    Returns
    -------
    keys, sizes : ndarray of int
        The row positions of every bucket with two or more members, bucket after bucket
        (ascending within a bucket), and each bucket's size.
    """
    keys, sizes = [], []
    for band in range(bands):
        block = np.ascontiguousarray(signatures[:, band * rows : (band + 1) * rows])
        band_bytes = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
        _, bucket, counts = np.unique(band_bytes, return_inverse=True, return_counts=True)
        shared = counts[bucket] > 1
        order = np.argsort(bucket[shared], kind="stable")  # stable: members stay in row order
        keys.append(np.flatnonzero(shared)[order])
        sizes.append(counts[counts > 1])
    return np.concatenate(keys), np.concatenate(sizes)


def _bucket_pairs(keys: np.ndarray, sizes: np.ndarray, n_leaders: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs: each bucket member with the bucket's first ``n_leaders`` members."""
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    position = np.arange(len(keys)) - starts
    leaders, members = [], []
    for q in range(n_leaders):
        later = position > q
        leaders.append(keys[starts[later] + q])
        members.append(keys[later])
    return np.concatenate(leaders), np.concatenate(members)


def drop_duplicates(clusters: DuplicateClusters, *, ids=None, priority=None) -> FilterStep:
    """Keep one representative per duplicate cluster among the given rows.

    Parameters
    ----------
    clusters : DuplicateClusters
        From :func:`find_duplicates` on the whole pool (compute it once).
    ids : array, optional
        The rows to deduplicate (e.g. ``funnel.kept_ids``), a subset of ``clusters.ids``;
        default all of them.
    priority : array of float, optional
        Aligned with ``ids``: the representative is the row with the highest priority
        (e.g. label confidence), ties going to the earlier row; default the first row.

    Returns
    -------
    FilterStep
        Removed rows carry ``"exact_duplicate"`` (same normalised text as the representative)
        or ``"near_duplicate"``; ``details["representative"]`` maps each row to its
        representative's id.

    Examples
    --------
    >>> c = find_duplicates(["Buy now!", "buy now", "Hello there"])
    >>> drop_duplicates(c, priority=[0.6, 0.9, 0.7]).kept.tolist()
    [False, True, True]
    """
    position_of = pd.Series(np.arange(len(clusters.ids)), index=clusters.ids)
    if ids is None:
        ids = clusters.ids
    ids = np.asarray(ids)
    missing = ~pd.Index(ids).isin(position_of.index)
    if missing.any():
        raise ValueError(f"ids not in the duplicate clusters: {ids[missing][:5].tolist()}")
    positions = position_of.loc[ids].to_numpy()
    if priority is None:
        priority = np.zeros(len(ids))
    priority = np.asarray(priority, dtype=float)
    if priority.shape != (len(ids),):
        raise ValueError(f"priority must have one entry per row ({len(ids)}), got shape {priority.shape}")
    cluster = clusters.cluster[positions]
    order = np.lexsort((np.arange(len(ids)), -priority, cluster))
    first_of_cluster = np.ones(len(ids), dtype=bool)
    first_of_cluster[1:] = cluster[order][1:] != cluster[order][:-1]
    representative = np.empty(len(ids), dtype=np.int64)
    group_start = np.maximum.accumulate(np.where(first_of_cluster, np.arange(len(ids)), 0))
    representative[order] = order[group_start]
    is_rep = representative == np.arange(len(ids))
    same_text = clusters.exact_group[positions] == clusters.exact_group[positions[representative]]
    reasons = np.where(is_rep, "", np.where(same_text, EXACT_DUPLICATE, NEAR_DUPLICATE)).astype(object)
    return FilterStep.from_reasons(
        "dedupe",
        ids,
        reasons,
        params=dict(clusters.params),
        details={"representative": pd.Series(ids[representative], index=ids, name="representative")},
    )


# ----------------------------------------------------------------------------------------
# Diversity
# ----------------------------------------------------------------------------------------


def text_features(texts, *, n_components: int = 64, seed: int = 0) -> np.ndarray:
    """Dense, L2-normalised features for diversity: the workbench's TF-IDF reduced by truncated SVD.

    Euclidean distance between rows is then a monotone function of cosine distance.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    from workbench.learn._learner import text_features as tfidf_vectorizer

    tfidf = tfidf_vectorizer().fit_transform(list(texts))
    n_components = max(1, min(n_components, tfidf.shape[1] - 1, tfidf.shape[0] - 1))
    reduced = TruncatedSVD(n_components=n_components, random_state=seed).fit_transform(tfidf)
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
    for i in range(1, k):
        chosen[i] = int(np.argmax(nearest))
        np.minimum(nearest, ((X - X[chosen[i]]) ** 2).sum(axis=1), out=nearest)
    return chosen


def diversity_sample(X, k: int, *, ids=None, priority=None) -> FilterStep:
    """Keep ``k`` rows that cover the feature space (greedy k-center), remove the rest.

    Parameters
    ----------
    X : array of shape (n, d)
        Features of the rows (e.g. :func:`text_features`), aligned with ``ids``.
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
        Features (e.g. :func:`text_features`).
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
            dists.append(check_proba(a, f"generator {name!r}"))
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
    A, B = check_proba(proba_a, "proba_a"), check_proba(proba_b, "proba_b")
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
    if not reason:
        raise ValueError("exclude needs a non-empty reason")
    drop = pd.Index(ids).isin(list(remove))
    reasons = np.where(drop, reason, "").astype(object)
    return FilterStep.from_reasons(name or reason, ids, reasons, params={"reason": reason, "n_listed": len(list(remove))})


# ----------------------------------------------------------------------------------------
# Likely label errors
# ----------------------------------------------------------------------------------------


def out_of_sample_proba(X, labels, *, cv: int = 5, seed: int = 0) -> np.ndarray:
    """Class probabilities for every row from a model that never saw that row.

    A logistic regression is trained with stratified ``cv``-fold cross-validation
    (``cross_val_predict``); ``X`` is a feature matrix, or texts (then the workbench's TF-IDF,
    ``workbench.learn.text_features``, fitted inside each fold).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    from workbench.learn._learner import text_features as tfidf_vectorizer

    y = _check_labels(labels)
    counts = np.bincount(y)
    present = counts[counts > 0]
    if len(present) < 2:
        raise ValueError("out-of-sample probabilities need at least two classes among the labels")
    n_splits = min(cv, int(present.min()))
    if n_splits < 2:
        raise ValueError(f"class {int(np.flatnonzero(counts == present.min())[0])} has a single row; cross-validation needs two per class")
    model = LogisticRegression(max_iter=1000)
    is_text = isinstance(X, pd.Series) or (isinstance(X, (list, tuple, np.ndarray)) and np.asarray(X, dtype=object).ndim == 1)
    if is_text:
        X = list(X)
        model = make_pipeline(tfidf_vectorizer(), model)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but labels has {len(y)}")
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    P = cross_val_predict(model, X, y, cv=folds, method="predict_proba")
    full = np.zeros((len(y), len(counts)))
    full[:, np.flatnonzero(counts > 0)] = P
    return full


def find_label_errors(X, labels, *, ids=None, pred_probs=None, cv: int = 5, seed: int = 0, filter_by: str = "prune_by_noise_rate") -> FilterStep:
    """Flag rows whose (synthetic) label is likely wrong, with cleanlab's confident learning.

    Parameters
    ----------
    X : features or texts
        Used to fit the quick model behind :func:`out_of_sample_proba` (ignored when
        ``pred_probs`` is given).
    labels : array of int
        The labels to check (e.g. the label model's predictions on the kept rows).
    ids : array, optional
    pred_probs : array of shape (n, k), optional
        Out-of-sample probabilities from your own model.
    cv, seed : int
    filter_by : str
        cleanlab's ``find_label_issues`` method.

    Returns
    -------
    FilterStep
        Removed rows carry ``"likely_label_error"``; ``details["ranking"]`` lists them, most
        severe first, with ``id, label, suggested, self_confidence``.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_self_confidence_for_each_label

    y = _check_labels(labels)
    ids = _check_ids(ids, len(y))
    P = out_of_sample_proba(X, y, cv=cv, seed=seed) if pred_probs is None else check_proba(pred_probs, "pred_probs")
    if len(P) != len(y):
        raise ValueError(f"pred_probs has {len(P)} rows but labels has {len(y)}")
    ranked = find_label_issues(y, P, filter_by=filter_by, return_indices_ranked_by="self_confidence", n_jobs=1)
    reasons = np.full(len(y), "", dtype=object)
    reasons[ranked] = LIKELY_LABEL_ERROR
    ranking = pd.DataFrame(
        {
            "id": ids[ranked],
            "label": y[ranked],
            "suggested": P[ranked].argmax(axis=1),
            "self_confidence": get_self_confidence_for_each_label(y, P)[ranked],
        }
    )
    params = {"method": "cleanlab.find_label_issues", "filter_by": filter_by, "cv": cv, "seed": seed, "own_pred_probs": pred_probs is not None}
    return FilterStep.from_reasons("label_errors", ids, reasons, params=params, details={"ranking": ranking, "pred_probs": P})


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
    seed: int = 0,
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
        Required with ``diversity_k`` (see :func:`text_features`).
    class_names : sequence of str, optional
    id_column, text_column : str
    seed : int

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
    clash = {"label", "confidence", "weight", *(f"proba_{c}" for c in names)} & set(pool.columns)
    if clash:
        raise ValueError(f"pool already has column(s) {sorted(clash)} that curate() writes; rename them first")
    if diversity_k is not None and features is None:
        raise ValueError("diversity_k needs features aligned with the pool (see text_features)")
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
        funnel = funnel.then(find_label_errors(pool[text_column].iloc[rows], P[rows].argmax(axis=1), ids=ids[rows], seed=seed))
    if balance is not None:
        rows = current()
        funnel = funnel.then(
            rebalance(P[rows].argmax(axis=1), target=target, method=balance, ids=ids[rows], priority=confidence[rows], cardinality=k, class_names=names, seed=seed)
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
    frame["weight"] = funnel.weights
    return CuratedSet(frame.reset_index(drop=True), funnel)
