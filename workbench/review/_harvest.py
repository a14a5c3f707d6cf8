"""From review decisions to labeled rows: harvest and the training set."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench._internal.validation import check_proba
from workbench.data._dataset import (
    ID_COLUMN,
    LABEL_COLUMN,
    TEXT_COLUMN,
    Dataset,
)
from workbench.review._queue import _refuse_protected, protected_ids
from workbench.review._store import LABEL, SKIP, UNSURE, ProjectStore

# -- from decisions to seed labels ---------------------------------------------------


@dataclass
class SeedLabels:
    """Labels harvested from review decisions.

    Attributes
    ----------
    labels : DataFrame
        ``example_id, label, n_reviewers, reviewers, decision_ids``.
    conflicts : DataFrame
        Examples whose reviewers disagreed and that the policy left out (or resolved).
    lineage : dict
        Where the labels came from: store path, decision ids, policy, a content hash.
    """

    labels: pd.DataFrame
    conflicts: pd.DataFrame
    lineage: dict

    def __len__(self) -> int:
        return len(self.labels)


def harvest(
    store: ProjectStore,
    *,
    protected: Dataset | Mapping[str, str] | Iterable[str] | None,
    reviewers: Sequence[str] | None = None,
    conflicts: str = "drop",
) -> SeedLabels:
    """Turn the store's standing label decisions into seed labels.

    Each reviewer's latest decision per example counts; skip and unsure are not
    labels. Where reviewers disagree, ``conflicts`` decides: ``"drop"`` leaves the
    example out, ``"majority"`` takes the most common label (ties dropped),
    ``"latest"`` takes the most recent decision.

    Raises
    ------
    ProtectedExampleError
        If any labeled example belongs to a protected split: it must never become
        training data.

    Examples
    --------
    >>> seeds = harvest(store, protected=ds)  # doctest: +SKIP
    >>> seeds.labels[["example_id", "label"]].head()  # doctest: +SKIP
    """
    if conflicts not in ("drop", "majority", "latest"):
        raise ValueError(f"conflicts must be 'drop', 'majority' or 'latest', got {conflicts!r}")
    decisions = store.decisions(latest=True)
    if reviewers is not None:
        decisions = decisions[decisions["reviewer"].isin(list(reviewers))]
    labeled = decisions[decisions["outcome"] == LABEL]
    _refuse_protected(labeled["example_id"].unique(), protected_ids(protected), "reviewed examples")

    rows, conflicted = [], []
    for example_id, group in labeled.groupby("example_id", sort=True):
        counts = group["label"].value_counts()
        if len(counts) == 1:
            label = int(counts.index[0])
        else:
            conflicted.append({
                "example_id": example_id,
                "labels": dict(zip(group["reviewer"], group["label"].astype(int))),
            })
            if conflicts == "drop" or (conflicts == "majority" and counts.iloc[0] == counts.iloc[1]):
                continue
            label = int(counts.index[0]) if conflicts == "majority" else int(group["label"].iloc[-1])
        rows.append({
            "example_id": example_id,
            "label": label,
            "n_reviewers": len(group),
            "reviewers": sorted(group["reviewer"]),
            "decision_ids": group["id"].astype(int).tolist(),
        })
    labels = pd.DataFrame(rows, columns=["example_id", "label", "n_reviewers", "reviewers", "decision_ids"])
    labels["label"] = labels["label"].astype(np.int64)
    digest = hashlib.sha256(json.dumps(labels[["example_id", "label"]].values.tolist()).encode()).hexdigest()
    lineage = {
        "store": str(store.path),
        "n_labels": len(labels),
        "labels_sha256": digest,
        "decision_ids": sorted(i for ids in labels["decision_ids"] for i in ids),
        "reviewers": sorted(decisions["reviewer"].unique().tolist()),
        "conflict_policy": conflicts,
        "n_conflicts": len(conflicted),
        "n_skipped": int((decisions["outcome"] == SKIP).sum()),
        "n_unsure": int((decisions["outcome"] == UNSURE).sum()),
    }
    return SeedLabels(labels=labels, conflicts=pd.DataFrame(conflicted, columns=["example_id", "labels"]), lineage=lineage)


@dataclass
class TrainingSet:
    """A training set of weak and human labels.

    Attributes
    ----------
    frame : DataFrame
        ``example_id, text, label, label_source, weight``; ``label_source`` (from
        :data:`workbench.generate.LABEL_SOURCES`) is ``"label_model"`` or ``"human_review"``.
    proba : array of shape (n, k)
        Soft targets: the generator's probabilities, one-hot for human labels.
    lineage : dict
        Row counts by source and the seed labels' lineage.
    """

    frame: pd.DataFrame
    proba: np.ndarray
    lineage: dict

    def __len__(self) -> int:
        return len(self.frame)


def build_training_set(
    pool: pd.DataFrame,
    proba,
    seeds: SeedLabels | None,
    *,
    covered: np.ndarray | None = None,
    seed_weight: float = 1.0,
) -> TrainingSet:
    """Combine the generator's labels on the pool with human seed labels.

    A seed label replaces the generator's label on its row (one-hot target, weight
    ``seed_weight``, source ``"human_review"``) and brings in rows no LF covered.

    Parameters
    ----------
    pool : DataFrame
        The unlabeled pool (``example_id``, ``text``).
    proba : array of shape (n, k)
        The generator's probabilities on ``pool``.
    seeds : SeedLabels or None
        From :func:`harvest`; ``None`` for a round without human labels.
    covered : bool array of shape (n,), optional
        Rows the generator really labeled (e.g. at least one LF voted); the others are
        left out unless a human labeled them. Default: all rows.
    seed_weight : float
        Sample weight of a human label relative to a generated one.
    """
    proba = check_proba(proba)
    if len(proba) != len(pool):
        raise ValueError(f"proba has {len(proba)} rows but the pool has {len(pool)}")
    ids = pool[ID_COLUMN].astype(str).to_numpy()
    covered = np.ones(len(pool), dtype=bool) if covered is None else np.asarray(covered, dtype=bool)
    if covered.shape != (len(pool),):
        raise ValueError(f"covered must be a boolean mask of {len(pool)} rows, got shape {covered.shape}")
    if seed_weight <= 0:
        raise ValueError(f"seed_weight must be positive, got {seed_weight}")

    targets = proba.copy()
    source = np.full(len(pool), "label_model", dtype=object)
    weight = np.ones(len(pool))
    seed_labels = seeds.labels if seeds is not None else pd.DataFrame({"example_id": [], "label": []})
    pos_of = pd.Series(np.arange(len(pool)), index=ids)
    unknown = sorted(set(seed_labels["example_id"]) - set(ids))
    if unknown:
        raise ValueError(f"{len(unknown)} seed labels are for examples not in the pool: {unknown[:5]}")
    if len(seed_labels):
        rows = pos_of.loc[seed_labels["example_id"]].to_numpy()
        labels = seed_labels["label"].to_numpy(dtype=int)
        if labels.max() >= proba.shape[1]:
            raise ValueError(f"seed label {labels.max()} is out of range for {proba.shape[1]} classes")
        targets[rows] = np.eye(proba.shape[1])[labels]
        source[rows] = "human_review"
        weight[rows] = seed_weight
    keep = covered | (source == "human_review")
    frame = pd.DataFrame({
        ID_COLUMN: ids[keep],
        TEXT_COLUMN: pool[TEXT_COLUMN].astype(str).to_numpy()[keep],
        LABEL_COLUMN: targets[keep].argmax(axis=1),
        "label_source": source[keep],
        "sample_weight": weight[keep],
    })
    lineage = {
        "n_rows": int(keep.sum()),
        "n_label_model": int((frame["label_source"] == "label_model").sum()),
        "n_human_review": int((frame["label_source"] == "human_review").sum()),
        "n_pool": len(pool),
        "n_uncovered_dropped": int((~keep).sum()),
        "seed_weight": seed_weight,
        "seed_labels": seeds.lineage if seeds is not None else None,
        "rows_sha256": hashlib.sha256(json.dumps(frame[[ID_COLUMN, LABEL_COLUMN, "label_source"]].values.tolist(), default=str).encode()).hexdigest(),
    }
    return TrainingSet(frame=frame, proba=targets[keep], lineage=lineage)
