"""From review decisions to labeled rows: harvest and the training set."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench._internal.validation import check_proba
from workbench.data._dataset import (
    ID_COLUMN,
    LABEL_COLUMN,
    PROTECTED_SPLITS,
    TEXT_COLUMN,
    Dataset,
)
from workbench.evaluate._leakage import check_leakage
from workbench.review._queue import _refuse_protected, protected_ids
from workbench.review._store import LABEL, SKIP, UNSURE, ProjectStore

# -- from decisions to seed labels ---------------------------------------------------

#: What :func:`harvest` does where reviewers disagree.
CONFLICT_POLICIES = ("drop", "majority", "latest")


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
    leaked : DataFrame
        Answered examples left out because their text is (nearly) a protected row's: the
        matches of :func:`workbench.evaluate.check_leakage` (``train_id``, ``protected_split``,
        ``protected_id``, ``kind``, ``similarity``).
    """

    labels: pd.DataFrame
    conflicts: pd.DataFrame
    lineage: dict
    leaked: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LEAK_COLUMNS))

    def __len__(self) -> int:
        return len(self.labels)


LEAK_COLUMNS = ["train_id", "protected_split", "protected_id", "kind", "similarity"]


def _protected_frames(protected) -> dict[str, pd.DataFrame]:
    """The protected splits as frames, when ``protected`` carries texts (a Dataset or split -> DataFrame)."""
    if isinstance(protected, Dataset):
        return {s: protected[s] for s in PROTECTED_SPLITS if s in protected.splits}
    if isinstance(protected, Mapping) and protected and all(isinstance(v, pd.DataFrame) for v in protected.values()):
        return dict(protected)
    return {}


def _protected_id_map(protected) -> dict[str, str]:
    frames = _protected_frames(protected)
    if frames:
        return {str(i): split for split, df in frames.items() for i in df[ID_COLUMN]}
    return protected_ids(protected)


def _texts_of(ids: Sequence[str], protected, pool: pd.DataFrame | None) -> pd.DataFrame:
    """``example_id, text`` of the answered examples, from ``pool`` or the Dataset's unprotected splits."""
    if pool is not None:
        source = pool
    elif isinstance(protected, Dataset):
        source = pd.concat([protected[s][[ID_COLUMN, TEXT_COLUMN]] for s in protected.splits if s not in PROTECTED_SPLITS],
                           ignore_index=True)
    else:
        raise ValueError("harvest needs the answered examples' texts to check them against the protected rows: "
                         "pass pool=<the reviewed pool> (or protected=<the Dataset>)")
    known = source[[ID_COLUMN, TEXT_COLUMN]].astype({ID_COLUMN: str}).drop_duplicates(ID_COLUMN).set_index(ID_COLUMN)
    missing = [i for i in ids if i not in known.index]
    if missing:
        raise ValueError(f"{len(missing)} answered example(s) are not in the pool, so their texts cannot be checked "
                         f"against the protected rows: {sorted(missing)[:5]}")
    return known.loc[list(ids)].reset_index()


def standing_decisions(store: ProjectStore, *, through: int | None = None, as_of: str | None = None) -> pd.DataFrame:
    """Each reviewer's latest standing decision per example, as the store stood at a point of a run.

    ``through`` (a decision id) leaves out later decisions; ``as_of`` (a UTC ISO time, as the
    store writes them) counts a decision undone after it as still standing. Both None: the
    store as it is now. This is how a run is re-read exactly (``workbench.pipeline.reproduce``).
    """
    decisions = store.decisions(include_undone=True)
    if through is not None:
        decisions = decisions[decisions["id"] <= int(through)]
    if as_of is None:
        decisions = decisions[decisions["undone_at"].isna()]
    else:
        cut = pd.Timestamp(as_of)
        decisions = decisions[decisions["undone_at"].isna() | (decisions["undone_at"] > cut)]
    return decisions.drop_duplicates(["example_id", "reviewer"], keep="last").reset_index(drop=True)


def decisions_sha256(labels: pd.DataFrame) -> str:
    """Content hash of exactly the decisions behind harvested labels (ids, examples, reviewers, labels)."""
    rows = sorted((int(d), str(e), str(r), int(y)) for d, e, r, y in labels[["decision_id", "example_id", "reviewer", "label"]]
                  .itertuples(index=False, name=None))
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def harvest(
    store: ProjectStore,
    *,
    protected: Dataset | Mapping[str, pd.DataFrame] | Mapping[str, str] | Iterable[str] | None,
    pool: pd.DataFrame | None = None,
    reviewers: Sequence[str] | None = None,
    conflicts: str = "drop",
    cardinality: int | None = None,
    through: int | None = None,
    as_of: str | None = None,
    near: bool = True,
    threshold: float = 0.8,
) -> SeedLabels:
    """Turn the store's standing label decisions into seed labels.

    Each reviewer's latest decision per example counts; skip and unsure are not
    labels. Where reviewers disagree, ``conflicts`` decides: ``"drop"`` leaves the
    example out, ``"majority"`` takes the most common label (ties dropped),
    ``"latest"`` takes the most recent decision.

    An answer never becomes a seed label for a protected row: by id (refused), and, when
    texts are known (``protected`` is a Dataset or maps split names to DataFrames), by text:
    answered examples whose text is the same as, or a near copy of, a protected row's (the
    one leakage check, :func:`workbench.evaluate.check_leakage`, with ``near`` and
    ``threshold``) are left out and listed in ``leaked``.

    Parameters
    ----------
    pool : DataFrame, optional
        The reviewed pool (``example_id``, ``text``); default the Dataset's unprotected splits.
    cardinality : int, optional
        Number of classes; an answer outside ``0..cardinality-1`` is an error naming it
        (default: the store's class names, when it has them).
    through, as_of
        Read the store as it stood at a run (see :func:`standing_decisions`).

    Raises
    ------
    ProtectedExampleError
        If any labeled example is a protected row (by id): it must never become training data.
    ValueError
        An answer outside the classes, or answered examples not in ``pool``.

    Examples
    --------
    >>> seeds = harvest(store, protected=ds)  # doctest: +SKIP
    >>> seeds.labels[["example_id", "label"]].head()  # doctest: +SKIP
    """
    if conflicts not in CONFLICT_POLICIES:
        raise ValueError(f"conflicts must be 'drop', 'majority' or 'latest', got {conflicts!r}")
    decisions = standing_decisions(store, through=through, as_of=as_of)
    if reviewers is not None:
        decisions = decisions[decisions["reviewer"].isin(list(reviewers))]
    labeled = decisions[decisions["outcome"] == LABEL]
    k = cardinality if cardinality is not None else (len(store.class_names) if store.class_names else None)
    if k is not None and len(labeled):
        bad = labeled[(labeled["label"] < 0) | (labeled["label"] >= k)]
        if len(bad):
            first = bad.iloc[0]
            raise ValueError(f"{len(bad)} review answer(s) are outside the classes 0..{k - 1}: decision {int(first['id'])} "
                             f"by {first['reviewer']!r} labels example {first['example_id']!r} as {int(first['label'])}")
    _refuse_protected(labeled["example_id"].unique(), _protected_id_map(protected), "reviewed examples")
    leaked = pd.DataFrame(columns=LEAK_COLUMNS)
    frames = _protected_frames(protected)
    if frames and len(labeled):
        answered = _texts_of(sorted(labeled["example_id"].unique()), protected, pool)
        report = check_leakage(answered, frames, near=near, threshold=threshold)
        leaked = report.matches[LEAK_COLUMNS].astype({"train_id": str, "protected_id": str}).reset_index(drop=True)
        labeled = labeled[~labeled["example_id"].isin(set(leaked["train_id"]))]

    rows, conflicted = [], []
    for example_id, group in labeled.groupby("example_id", sort=True):
        counts = group["label"].value_counts()
        if len(counts) == 1:
            chosen = group
        else:
            conflicted.append({
                "example_id": example_id,
                "labels": dict(zip(group["reviewer"], group["label"].astype(int))),
            })
            if conflicts == "drop" or (conflicts == "majority" and counts.iloc[0] == counts.iloc[1]):
                continue
            chosen = group[group["label"] == counts.index[0]] if conflicts == "majority" else group.iloc[[-1]]
        rows.append({
            "example_id": example_id,
            "label": int(chosen["label"].iloc[0]),
            "n_reviewers": len(group),
            "reviewers": sorted(group["reviewer"]),
            "decision_ids": group["id"].astype(int).tolist(),
        })
    labels = pd.DataFrame(rows, columns=["example_id", "label", "n_reviewers", "reviewers", "decision_ids"])
    labels["label"] = labels["label"].astype(np.int64)
    used = labeled[labeled["example_id"].isin(set(labels["example_id"]))].rename(columns={"id": "decision_id"})
    digest = hashlib.sha256(json.dumps(labels[["example_id", "label"]].values.tolist()).encode()).hexdigest()
    lineage = {
        "store": str(store.path),
        "n_labels": len(labels),
        "labels_sha256": digest,
        "decisions_sha256": decisions_sha256(used.astype({"label": int})),
        "decision_ids": sorted(i for ids in labels["decision_ids"] for i in ids),
        "reviewers": sorted(decisions["reviewer"].unique().tolist()),
        "conflict_policy": conflicts,
        "n_conflicts": len(conflicted),
        "n_leaked": int(leaked["train_id"].nunique()),
        "n_skipped": int((decisions["outcome"] == SKIP).sum()),
        "n_unsure": int((decisions["outcome"] == UNSURE).sum()),
    }
    return SeedLabels(labels=labels, conflicts=pd.DataFrame(conflicted, columns=["example_id", "labels"]), lineage=lineage,
                      leaked=leaked)


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
