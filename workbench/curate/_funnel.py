"""What a filter step kept and why (:class:`FilterStep`), the chain of steps (:class:`Funnel`), the reasons, input checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench._internal.ids import id_index, isin_ids
from workbench._internal.jsonsafe import json_safe

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
    sample_weight : ndarray or None
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
    sample_weight: np.ndarray | None = None
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
            "params": json_safe(self.params),
            "n_in": self.n_in,
            "n_kept": self.n_kept,
            "removed": {r: {"count": len(v), "ids": json_safe(v)} for r, v in self.removed_ids.items()},
        }
        if self.sample_weight is not None and len(self.sample_weight):
            record["sample_weight"] = {"min": float(self.sample_weight.min()), "max": float(self.sample_weight.max())}
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
    >>> from workbench.curate import confidence_filter, rebalance
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
        duplicated = id_index(ids).duplicated()
        if duplicated.any():
            raise ValueError(f"pool ids must be unique; repeated: {ids[duplicated][:5].tolist()}")
        object.__setattr__(self, "pool_ids", ids)

    @property
    def kept_ids(self) -> np.ndarray:
        return self.steps[-1].kept_ids if self.steps else self.pool_ids

    @property
    def kept_mask(self) -> np.ndarray:
        """Boolean mask over the pool: rows that every step kept."""
        return isin_ids(self.pool_ids, self.kept_ids)

    def then(self, step: FilterStep) -> Funnel:
        """Append a step that was run on this funnel's kept rows."""
        current = self.kept_ids
        if len(step.ids) != len(current) or not np.array_equal(step.ids, current):
            raise ValueError(
                f"step {step.name!r} looked at {len(step.ids)} rows, but the funnel has {len(current)} kept rows "
                "(in this order); run each step on `funnel.kept_ids`"
            )
        # the same pool ids, checked unique when this funnel was made: not hashed again for every step
        funnel = object.__new__(Funnel)
        object.__setattr__(funnel, "pool_ids", self.pool_ids)
        object.__setattr__(funnel, "steps", self.steps + (step,))
        return funnel

    @property
    def sample_weight(self) -> np.ndarray:
        """Sample weights for the kept rows: the product of the weights steps gave (1 if none)."""
        weights = pd.Series(1.0, index=self.kept_ids)
        for step in self.steps:
            if step.sample_weight is not None:
                given = pd.Series(step.sample_weight, index=step.ids)
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




def _check_ids(ids, n: int, what: str = "rows") -> np.ndarray:
    if ids is None:
        return np.arange(n)
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise ValueError(f"ids must have one entry per row ({n} {what}), got shape {ids.shape}")
    return ids




def _known_cardinality(cardinality: int | None, class_names=None, per_class=None) -> int | None:
    """The number of classes as given, else told by ``class_names`` or a per-class sequence (a
    mapping cannot tell it); None when nothing tells it, for the caller to decide."""
    if cardinality is not None:
        return cardinality
    if class_names is not None:
        return len(class_names)
    if per_class is not None and not isinstance(per_class, Mapping):
        return len(per_class)
    return None


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
