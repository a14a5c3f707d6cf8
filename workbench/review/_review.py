"""Human review: what to show a reviewer, what they said, and how it becomes new seed labels.

The pieces, from pure to stateful:

- :func:`uncertainty` and :func:`review_order` rank examples for review (least certain
  first, where the generators disagree, or in the gray zone, with the scores of
  :mod:`workbench.curate`), optionally mixed for diversity so a reviewer is not shown
  twenty near-clones in a row.
- :class:`ReviewQueue` walks that order one example at a time and commits every
  decision to a :class:`~workbench.review.ProjectStore` the moment it is made; it never
  shows an example already decided unless asked to revisit, and undoes the last one.
- :func:`harvest` turns standing decisions into seed labels, refusing any protected
  (dev/valid/test/canary) row; :func:`build_training_set` puts them into the next
  training set with its lineage; :class:`ReviewLoop` runs rounds of harvest, retrain,
  evaluate and keeps the history in the store.
- :func:`reviewer_agreement` reports Cohen's kappa between two reviewers and lists
  the examples they disagree on.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import entropy
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score
from sklearn.preprocessing import normalize

from workbench._internal.validation import ABSTAIN
from workbench.curate._filter import (
    check_proba,
    disagreement_score,
    in_gray_zone,
    margin,
)
from workbench.data._dataset import (
    ID_COLUMN,
    LABEL_COLUMN,
    PROTECTED_SPLITS,
    TEXT_COLUMN,
    Dataset,
)
from workbench.learn._learner import text_features, train_end_model
from workbench.review._store import LABEL, SKIP, UNSURE, ProjectStore

UNCERTAINTY_METHODS = ("margin", "entropy", "least_confident")
STRATEGIES = (*UNCERTAINTY_METHODS, "disagreement", "gray_zone")
LABEL_SOURCES = ("label_model", "human_review")
#: How many leading picks the diversity mix chooses when no limit is given (cost grows with it).
DIVERSE_PICKS = 200


class ProtectedExampleError(ValueError):
    """A protected (dev/valid/test/canary) example was about to be reviewed into training."""


# -- ranking ------------------------------------------------------------------------


def uncertainty(P, method: str = "margin") -> np.ndarray:
    """How uncertain each row of a probability matrix is, in [0, 1]; higher is less certain.

    Parameters
    ----------
    P : array of shape (n, k)
        Class probabilities (a label model's or any model's ``predict_proba``).
    method : {"margin", "entropy", "least_confident"}
        ``margin``: 1 minus the gap between the two most probable classes (1 on the
        boundary); ``entropy``: Shannon entropy divided by ``log k``;
        ``least_confident``: 1 minus the top probability.

    Examples
    --------
    >>> uncertainty([[0.5, 0.5], [0.9, 0.1]])
    array([1. , 0.2])
    """
    P = check_proba(P)
    if method == "margin":
        return 1.0 - margin(P)
    if method == "entropy":
        return entropy(P, axis=1) / np.log(P.shape[1])
    if method == "least_confident":
        return 1.0 - P.max(axis=1)
    raise ValueError(f"unknown uncertainty method {method!r}; use one of {UNCERTAINTY_METHODS}")


def diverse_order(scores: np.ndarray, features, k: int, *, diversity: float = 0.5, n_candidates: int | None = None) -> np.ndarray:
    """Pick ``k`` rows by maximal marginal relevance: high score, low similarity to those already picked.

    Greedy: each pick maximises ``(1 - diversity) * score - diversity * max cosine
    similarity to the picks so far``, among the ``n_candidates`` best-scored rows
    (default ``max(5k, 100)``). Returns the picks, then the other rows by score.
    """
    scores = np.asarray(scores, dtype=float)
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity must be in [0, 1], got {diversity}")
    if features.shape[0] != len(scores):
        raise ValueError(f"features have {features.shape[0]} rows but there are {len(scores)} scores")
    by_score = np.argsort(-scores, kind="stable")
    k = min(k, len(scores))
    candidates = by_score[: n_candidates or max(5 * k, 100)]
    X = normalize(features[candidates])
    max_sim = np.zeros(len(candidates))
    open_ = np.ones(len(candidates), dtype=bool)
    picks = []
    for _ in range(min(k, len(candidates))):
        gain = np.where(open_, (1 - diversity) * scores[candidates] - diversity * max_sim, -np.inf)
        j = int(np.argmax(gain))
        picks.append(j)
        open_[j] = False
        sim = X @ X[j].T
        max_sim = np.maximum(max_sim, np.asarray(sim.todense() if hasattr(sim, "todense") else sim).ravel())
    chosen = candidates[picks]
    rest = by_score[~np.isin(by_score, chosen)]
    return np.concatenate([chosen, rest]).astype(int)


def review_order(
    P,
    *,
    strategy: str = "margin",
    predictions: Mapping[str, np.ndarray] | None = None,
    width: float = 0.2,
    features=None,
    diversity: float = 0.0,
    limit: int | None = None,
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """Row positions in the order a reviewer should see them.

    Parameters
    ----------
    P : array of shape (n, k)
        The current generator's probabilities.
    strategy : {"margin", "entropy", "least_confident", "disagreement", "gray_zone"}
        Uncertainty of ``P`` (most uncertain first); disagreement among
        ``predictions`` (:func:`workbench.curate.disagreement_score`, ties broken by
        margin uncertainty); or only the gray zone (:func:`workbench.curate.in_gray_zone`),
        least certain first.
    predictions : mapping of str to array, optional
        Other generators' labels or probabilities, for ``"disagreement"``.
    width : float, default 0.2
        The gray zone's largest margin between the two top classes, for ``"gray_zone"``.
    features : array or sparse matrix of shape (n, d), optional
        Row features (e.g. TF-IDF), needed when ``diversity > 0``.
    diversity : float in [0, 1]
        0 ranks by score alone; larger values trade score for novelty (see
        :func:`diverse_order`) over the first ``limit`` picks (``DIVERSE_PICKS``
        without a limit); the rest follow by score.
    limit : int, optional
        Return at most this many rows.
    exclude : bool array of shape (n,), optional
        Rows never to return (already decided).

    Examples
    --------
    >>> review_order([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7]])
    array([1, 2, 0])
    """
    P = check_proba(P)
    n = len(P)
    least_margin = uncertainty(P, "margin")
    if strategy in UNCERTAINTY_METHODS:
        score = uncertainty(P, strategy)
    elif strategy == "disagreement":
        if not predictions:
            raise ValueError("strategy='disagreement' needs predictions={name: labels or probabilities} of other generators")
        # The current generator counts as one of the voters; margin breaks ties.
        score = disagreement_score({"current": P, **predictions}, cardinality=P.shape[1]) + 1e-6 * least_margin
    elif strategy == "gray_zone":
        score = np.where(in_gray_zone(P, width), least_margin, -np.inf)
    else:
        raise ValueError(f"unknown review strategy {strategy!r}; use one of {STRATEGIES}")
    keep = np.isfinite(score)
    if exclude is not None:
        exclude = np.asarray(exclude, dtype=bool)
        if exclude.shape != (n,):
            raise ValueError(f"exclude must be a boolean mask of {n} rows, got shape {exclude.shape}")
        keep &= ~exclude
    rows = np.flatnonzero(keep)
    if diversity > 0:
        if features is None:
            raise ValueError("diversity > 0 needs features (e.g. TF-IDF rows) to measure how alike examples are")
        picks = limit if limit is not None else DIVERSE_PICKS
        order = rows[diverse_order(score[rows], features[rows], picks, diversity=diversity)]
    else:
        order = rows[np.argsort(-score[rows], kind="stable")]
    return order[:limit] if limit is not None else order


# -- protected rows -----------------------------------------------------------------


def protected_ids(protected: Dataset | Mapping[str, str] | Iterable[str] | None) -> dict[str, str]:
    """Map each protected example id to its split.

    ``protected`` is a :class:`~workbench.data.Dataset` (its ``dev``, ``valid``,
    ``test`` and ``canary`` splits), a mapping of id to split name, an iterable of
    ids, or ``None`` (nothing protected, an explicit choice).
    """
    if protected is None:
        return {}
    if isinstance(protected, Dataset):
        return {
            str(i): split
            for split in PROTECTED_SPLITS
            if split in protected.splits
            for i in protected.splits[split][protected.id_column]
        }
    if isinstance(protected, Mapping):
        return {str(k): str(v) for k, v in protected.items()}
    if isinstance(protected, str):
        raise TypeError("protected must be a Dataset, a mapping of id to split, or a collection of ids, not a string")
    return {str(i): "protected" for i in protected}


def _refuse_protected(ids: Iterable[str], protected: dict[str, str], what: str) -> None:
    hits = [i for i in ids if i in protected]
    if not hits:
        return
    by_split: dict[str, list[str]] = {}
    for i in hits:
        by_split.setdefault(protected[i], []).append(i)
    listing = "; ".join(f"{split}: {', '.join(sorted(v)[:5])}{' ...' if len(v) > 5 else ''}" for split, v in sorted(by_split.items()))
    raise ProtectedExampleError(
        f"{len(hits)} {what} belong to protected splits ({listing}); protected rows are never "
        "reviewed into training. Review the unlabeled pool only (and audit protected labels in a separate store)."
    )


# -- the queue -----------------------------------------------------------------------


@dataclass
class ReviewItem:
    """One example as the reviewer sees it."""

    position: int
    example_id: str
    text: str
    proba: np.ndarray
    predicted: int
    score: float
    lf_votes: dict[str, int] = field(default_factory=dict)


class ReviewQueue:
    """Shows one example at a time and commits each decision to the store at once.

    Parameters
    ----------
    pool : DataFrame
        The examples to review, with ``example_id`` and ``text``. Must contain no
        protected row.
    P : array of shape (n, k)
        The current generator's probabilities for ``pool`` (shown, and used to rank).
    store : ProjectStore
    reviewer : str
    protected : Dataset, mapping, iterable or None
        Rows that must never be reviewed into training (see :func:`protected_ids`);
        required, pass ``None`` only when nothing is protected.
    class_names : sequence of str, optional
        Defaults to the store's, else ``"0", "1", ...``.
    L : int array of shape (n, m), optional
        The label matrix, so the reviewer sees each LF's vote; ``lf_names`` names its columns.
    labeled : DataFrame, optional
        Hand-labeled examples (``example_id``, ``text``, ``label``, e.g. the dev set)
        offered as near neighbours, alongside pool rows already labeled in review.
    strategy, predictions, band, diversity
        How to rank, as in :func:`review_order`. ``diversity`` uses TF-IDF features.
    size : int
        Decisions in this session (the progress bar's length).
    revisit : bool
        Also show examples already decided (the new decision supersedes the old).
    second_opinion : bool
        Hide only this reviewer's decided examples, so a second reviewer can label
        the same examples (for :func:`reviewer_agreement`).
    round : int, optional
        The loop round recorded with each decision.

    Examples
    --------
    >>> queue = ReviewQueue(ds.train, P, store=store, reviewer="ana", protected=ds)  # doctest: +SKIP
    >>> item = queue.current; queue.decide(1); queue.undo()  # doctest: +SKIP
    """

    def __init__(
        self,
        pool: pd.DataFrame,
        P,
        *,
        store: ProjectStore,
        reviewer: str,
        protected: Dataset | Mapping[str, str] | Iterable[str] | None,
        class_names: Sequence[str] | None = None,
        L: np.ndarray | None = None,
        lf_names: Sequence[str] | None = None,
        labeled: pd.DataFrame | None = None,
        strategy: str = "margin",
        predictions: Mapping[str, np.ndarray] | None = None,
        width: float = 0.2,
        diversity: float = 0.0,
        size: int = 20,
        revisit: bool = False,
        second_opinion: bool = False,
        round: int | None = None,
    ):
        for col in (ID_COLUMN, TEXT_COLUMN):
            if col not in pool.columns:
                raise ValueError(f"the review pool needs a {col!r} column; it has {list(pool.columns)}")
        self.pool = pool.reset_index(drop=True)
        self.ids = self.pool[ID_COLUMN].astype(str).to_numpy()
        if len(set(self.ids)) != len(self.ids):
            dup = pd.Series(self.ids)[pd.Series(self.ids).duplicated()].unique()[:5].tolist()
            raise ValueError(f"the review pool has duplicate example ids: {dup}")
        self.protected = protected_ids(protected)
        _refuse_protected(self.ids, self.protected, "rows of the review pool")
        self.P = check_proba(P)
        if len(self.P) != len(self.pool):
            raise ValueError(f"P has {len(self.P)} rows but the pool has {len(self.pool)}")
        self.class_names = list(class_names or store.class_names or [str(c) for c in range(self.P.shape[1])])
        if len(self.class_names) != self.P.shape[1]:
            raise ValueError(f"P has {self.P.shape[1]} columns but there are {len(self.class_names)} classes {self.class_names}")
        if L is not None:
            L = np.asarray(L)
            if L.shape[0] != len(self.pool):
                raise ValueError(f"L has {L.shape[0]} rows but the pool has {len(self.pool)}")
            lf_names = list(lf_names) if lf_names is not None else [f"lf_{j}" for j in range(L.shape[1])]
            if len(lf_names) != L.shape[1]:
                raise ValueError(f"L has {L.shape[1]} columns but {len(lf_names)} lf_names were given")
        self.L, self.lf_names = L, lf_names
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.store, self.reviewer, self.size, self.round = store, reviewer, int(size), round
        self.revisit, self.second_opinion = revisit, second_opinion
        self.session = uuid.uuid4().hex
        self.labeled = self._check_labeled(labeled)

        texts = pd.concat([self.pool[TEXT_COLUMN], self.labeled[TEXT_COLUMN]]).astype(str)
        X = text_features().fit_transform(texts)  # l2-normalised rows: dot products are cosines
        self.features, self._labeled_features = X[: len(self.pool)], X[len(self.pool) :]

        hidden = np.isin(self.ids, list(self._hidden_ids()))
        order = review_order(
            self.P, strategy=strategy, predictions=predictions, width=width,
            features=self.features, diversity=diversity, exclude=hidden,
        )
        self._scores = uncertainty(self.P, "margin")
        self._queue: deque[int] = deque(order.tolist())
        self._history: list[int] = []  # positions decided in this session, for undo

    def _check_labeled(self, labeled: pd.DataFrame | None) -> pd.DataFrame:
        if labeled is None:
            return pd.DataFrame({ID_COLUMN: [], TEXT_COLUMN: [], LABEL_COLUMN: []})
        missing = [c for c in (ID_COLUMN, TEXT_COLUMN, LABEL_COLUMN) if c not in labeled.columns]
        if missing:
            raise ValueError(f"labeled examples need columns {missing}; they have {list(labeled.columns)}")
        return labeled[[ID_COLUMN, TEXT_COLUMN, LABEL_COLUMN]].reset_index(drop=True)

    def _hidden_ids(self) -> set[str]:
        if self.revisit:
            return set()
        return self.store.decided_ids(reviewer=self.reviewer if self.second_opinion else None)

    # -- walking the queue ------------------------------------------------------------

    @property
    def done(self) -> int:
        """Decisions made in this session (undone ones excluded)."""
        return len(self._history)

    @property
    def finished(self) -> bool:
        return self.done >= self.size or self.current is None

    @property
    def current(self) -> ReviewItem | None:
        """The example to show now, or ``None`` when the queue is empty or the session is done."""
        if self.done >= self.size:
            return None
        # Another notebook or reviewer may have decided queued examples meanwhile.
        hidden = self._hidden_ids()
        while self._queue and self.ids[self._queue[0]] in hidden:
            self._queue.popleft()
        return self._item(self._queue[0]) if self._queue else None

    def _item(self, pos: int) -> ReviewItem:
        votes = {}
        if self.L is not None:
            votes = {name: int(v) for name, v in zip(self.lf_names, self.L[pos]) if v != ABSTAIN}
        return ReviewItem(
            position=pos,
            example_id=str(self.ids[pos]),
            text=str(self.pool.at[pos, TEXT_COLUMN]),
            proba=self.P[pos],
            predicted=int(np.argmax(self.P[pos])),
            score=float(self._scores[pos]),
            lf_votes=votes,
        )

    def decide(self, label: int | str, *, example_id: str | None = None) -> int:
        """Record a decision and move on; return the decision id.

        ``label`` is a class id, a class name, ``"skip"`` or ``"unsure"``. The
        decision is on the current example, or on ``example_id`` when given (a widget
        passes the example it shows, in case another notebook decided the current
        one meanwhile).
        """
        if self.done >= self.size:
            raise RuntimeError("nothing to decide: the session is complete")
        if example_id is None:
            item = self.current
            if item is None:
                raise RuntimeError("nothing to decide: the queue is empty")
        else:
            positions = np.flatnonzero(self.ids == str(example_id))
            if not positions.size:
                raise ValueError(f"example {example_id!r} is not in the review pool")
            item = self._item(int(positions[0]))
        if isinstance(label, str) and label not in (SKIP, UNSURE):
            if label not in self.class_names:
                raise ValueError(f"unknown class {label!r}; classes are {self.class_names}, or use 'skip'/'unsure'")
            label = self.class_names.index(label)
        decision_id = self.store.record_decision(
            item.example_id, label, reviewer=self.reviewer, proba=item.proba,
            lf_votes=item.lf_votes, session=self.session, round=self.round,
        )
        if item.position in self._queue:
            self._queue.remove(item.position)
        self._history.append(item.position)
        return decision_id

    def skip(self) -> int:
        return self.decide(SKIP)

    def unsure(self) -> int:
        return self.decide(UNSURE)

    def undo(self) -> ReviewItem | None:
        """Withdraw this session's last decision and show that example again; ``None`` if there is none."""
        if not self._history:
            return None
        undone = self.store.undo_last(reviewer=self.reviewer, session=self.session)
        pos = self._history.pop()
        if undone is None or undone["example_id"] != self.ids[pos]:
            raise RuntimeError(f"the store's last decision in this session is not {self.ids[pos]!r}: {undone}")
        self._queue.appendleft(pos)
        return self._item(pos)

    def upcoming(self, n: int = 5) -> pd.DataFrame:
        """The next ``n`` queued examples (id, text, predicted class, confidence, uncertainty)."""
        hidden = self._hidden_ids()
        rows = [p for p in self._queue if self.ids[p] not in hidden][:n]
        return pd.DataFrame(
            {
                ID_COLUMN: self.ids[rows],
                TEXT_COLUMN: self.pool[TEXT_COLUMN].to_numpy()[rows],
                "predicted": [self.class_names[int(np.argmax(self.P[p]))] for p in rows],
                "confidence": self.P[rows].max(axis=1) if rows else [],
                "uncertainty": self._scores[rows],
            }
        )

    def neighbours(self, item: ReviewItem, k: int = 3) -> pd.DataFrame:
        """The ``k`` most similar already-labeled examples (hand-labeled set and this store's labels).

        Columns ``example_id, text, label (class name), similarity (cosine, TF-IDF), source``.
        """
        reviewed = self.store.decisions(latest=True)
        reviewed = reviewed[(reviewed["outcome"] == LABEL) & reviewed["example_id"].isin(self.ids)]
        reviewed = reviewed[reviewed["example_id"] != item.example_id].drop_duplicates("example_id", keep="last")
        pos_of = {e: i for i, e in enumerate(self.ids)}
        reviewed_pos = [pos_of[e] for e in reviewed["example_id"]]
        x = self.features[item.position]
        sims = np.concatenate([
            (self._labeled_features @ x.T).toarray().ravel(),
            (self.features[reviewed_pos] @ x.T).toarray().ravel(),
        ])
        table = pd.DataFrame({
            ID_COLUMN: [*self.labeled[ID_COLUMN].astype(str), *reviewed["example_id"]],
            TEXT_COLUMN: [*self.labeled[TEXT_COLUMN].astype(str), *self.pool[TEXT_COLUMN].to_numpy()[reviewed_pos]],
            "label": [self.class_names[int(v)] for v in [*self.labeled[LABEL_COLUMN], *reviewed["label"]]],
            "similarity": sims,
            "source": ["labeled"] * len(self.labeled) + ["review"] * len(reviewed),
        })
        return table.sort_values("similarity", ascending=False, kind="stable").head(k).reset_index(drop=True)

    def __repr__(self) -> str:
        return f"ReviewQueue(reviewer={self.reviewer!r}, {self.done}/{self.size} decided, {len(self._queue)} queued)"


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
        ``example_id, text, label, label_source ("label_model" or "human_review"), weight``.
    P : array of shape (n, k)
        Soft targets: the generator's probabilities, one-hot for human labels.
    lineage : dict
        Row counts by source and the seed labels' lineage.
    """

    frame: pd.DataFrame
    P: np.ndarray
    lineage: dict

    def __len__(self) -> int:
        return len(self.frame)


def build_training_set(
    pool: pd.DataFrame,
    P,
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
    P : array of shape (n, k)
        The generator's probabilities on ``pool``.
    seeds : SeedLabels or None
        From :func:`harvest`; ``None`` for a round without human labels.
    covered : bool array of shape (n,), optional
        Rows the generator really labeled (e.g. at least one LF voted); the others are
        left out unless a human labeled them. Default: all rows.
    seed_weight : float
        Sample weight of a human label relative to a generated one.
    """
    P = check_proba(P)
    if len(P) != len(pool):
        raise ValueError(f"P has {len(P)} rows but the pool has {len(pool)}")
    ids = pool[ID_COLUMN].astype(str).to_numpy()
    covered = np.ones(len(pool), dtype=bool) if covered is None else np.asarray(covered, dtype=bool)
    if covered.shape != (len(pool),):
        raise ValueError(f"covered must be a boolean mask of {len(pool)} rows, got shape {covered.shape}")
    if seed_weight <= 0:
        raise ValueError(f"seed_weight must be positive, got {seed_weight}")

    targets = P.copy()
    source = np.full(len(pool), LABEL_SOURCES[0], dtype=object)
    weight = np.ones(len(pool))
    seed_labels = seeds.labels if seeds is not None else pd.DataFrame({"example_id": [], "label": []})
    pos_of = pd.Series(np.arange(len(pool)), index=ids)
    unknown = sorted(set(seed_labels["example_id"]) - set(ids))
    if unknown:
        raise ValueError(f"{len(unknown)} seed labels are for examples not in the pool: {unknown[:5]}")
    if len(seed_labels):
        rows = pos_of.loc[seed_labels["example_id"]].to_numpy()
        labels = seed_labels["label"].to_numpy(dtype=int)
        if labels.max() >= P.shape[1]:
            raise ValueError(f"seed label {labels.max()} is out of range for {P.shape[1]} classes")
        targets[rows] = np.eye(P.shape[1])[labels]
        source[rows] = LABEL_SOURCES[1]
        weight[rows] = seed_weight
    keep = covered | (source == LABEL_SOURCES[1])
    frame = pd.DataFrame({
        ID_COLUMN: ids[keep],
        TEXT_COLUMN: pool[TEXT_COLUMN].astype(str).to_numpy()[keep],
        LABEL_COLUMN: targets[keep].argmax(axis=1),
        "label_source": source[keep],
        "weight": weight[keep],
    })
    lineage = {
        "n_rows": int(keep.sum()),
        "n_label_model": int((frame["label_source"] == LABEL_SOURCES[0]).sum()),
        "n_human_review": int((frame["label_source"] == LABEL_SOURCES[1]).sum()),
        "n_pool": len(pool),
        "n_uncovered_dropped": int((~keep).sum()),
        "seed_weight": seed_weight,
        "seed_labels": seeds.lineage if seeds is not None else None,
        "rows_sha256": hashlib.sha256(json.dumps(frame[[ID_COLUMN, LABEL_COLUMN, "label_source"]].values.tolist(), default=str).encode()).hexdigest(),
    }
    return TrainingSet(frame=frame, P=targets[keep], lineage=lineage)


# -- the loop ----------------------------------------------------------------------


@dataclass
class RoundResult:
    """One round of the loop: what was trained on, the model, its scores, its new labels for the pool."""

    round: int
    training_set: TrainingSet
    model: object
    metrics: dict[str, float]
    pool_proba: np.ndarray


class ReviewLoop:
    """Rounds of harvest, retrain and evaluate; the history lives in the store.

    Each :meth:`run_round` harvests the store's seed labels, builds the training set
    (the generator's labels with human labels on top), trains ``learner`` on it,
    scores accuracy and macro-F1 on each evaluation set, records the round with its
    lineage, and returns the model's probabilities on the pool: the regenerated
    labels that rank the next review session.

    Parameters
    ----------
    store : ProjectStore
    pool : DataFrame
        The unlabeled pool (``example_id``, ``text``).
    P : array of shape (n, k)
        The generator's (label model's) probabilities on ``pool``.
    protected : Dataset, mapping, iterable or None
        See :func:`protected_ids`; harvested labels on these rows are refused.
    eval_sets : mapping of str to DataFrame
        Named hand-labeled sets (``text``, ``label``), e.g. ``{"dev": ds.dev, "test": ds.test}``.
    learner : callable, optional
        ``learner(texts, P, sample_weight) -> estimator`` with ``predict_proba(texts)``.
        Defaults to :func:`workbench.learn.train_end_model`.
    covered, seed_weight, conflicts
        As in :func:`build_training_set` and :func:`harvest`.

    Examples
    --------
    >>> loop = ReviewLoop(store, ds.train, P, protected=ds, eval_sets={"dev": ds.dev, "test": ds.test})  # doctest: +SKIP
    >>> result = loop.run_round(); loop.history()  # doctest: +SKIP
    """

    def __init__(
        self,
        store: ProjectStore,
        pool: pd.DataFrame,
        P,
        *,
        protected: Dataset | Mapping[str, str] | Iterable[str] | None,
        eval_sets: Mapping[str, pd.DataFrame],
        learner: Callable | None = None,
        covered: np.ndarray | None = None,
        seed_weight: float = 1.0,
        conflicts: str = "drop",
    ):
        self.store, self.pool, self.P = store, pool.reset_index(drop=True), check_proba(P)
        self.protected = protected_ids(protected)
        _refuse_protected(self.pool[ID_COLUMN].astype(str), self.protected, "rows of the pool")
        for name, df in eval_sets.items():
            missing = [c for c in (TEXT_COLUMN, LABEL_COLUMN) if c not in df.columns]
            if missing:
                raise ValueError(f"evaluation set {name!r} lacks columns {missing}")
        self.eval_sets = dict(eval_sets)
        self.learner = learner if learner is not None else train_end_model
        self.covered, self.seed_weight, self.conflicts = covered, seed_weight, conflicts

    def run_round(self) -> RoundResult:
        seeds = harvest(self.store, protected=self.protected, conflicts=self.conflicts)
        training = build_training_set(self.pool, self.P, seeds, covered=self.covered, seed_weight=self.seed_weight)
        model = self.learner(training.frame[TEXT_COLUMN], training.P, sample_weight=training.frame["weight"].to_numpy())
        metrics = {}
        for name, df in self.eval_sets.items():
            y, pred = df[LABEL_COLUMN].to_numpy(dtype=int), model.predict_proba(df[TEXT_COLUMN].astype(str)).argmax(axis=1)
            metrics[f"{name}_accuracy"] = float(accuracy_score(y, pred))
            metrics[f"{name}_macro_f1"] = float(f1_score(y, pred, average="macro"))
        number = self.store.record_round(n_seed_labels=len(seeds), metrics=metrics, lineage=training.lineage)
        pool_proba = model.predict_proba(self.pool[TEXT_COLUMN].astype(str))
        return RoundResult(round=number, training_set=training, model=model, metrics=metrics, pool_proba=pool_proba)

    def history(self) -> pd.DataFrame:
        """One row per round: ``round, n_seed_labels``, the metrics and when it ran."""
        return self.store.rounds().drop(columns=["lineage"])


# -- agreement -------------------------------------------------------------------------


@dataclass
class Agreement:
    """Agreement of two reviewers on the examples both labeled."""

    reviewers: tuple[str, str]
    n_common: int
    kappa: float
    observed_agreement: float
    disagreements: pd.DataFrame

    def __repr__(self) -> str:
        a, b = self.reviewers
        return (f"Agreement({a!r} vs {b!r}: {self.n_common} examples in common, kappa={self.kappa:.3f}, "
                f"observed={self.observed_agreement:.3f}, {len(self.disagreements)} disagreements)")


def reviewer_agreement(
    store_or_decisions: ProjectStore | pd.DataFrame,
    reviewer_a: str | None = None,
    reviewer_b: str | None = None,
    *,
    class_names: Sequence[str] | None = None,
) -> Agreement:
    """Cohen's kappa (scikit-learn) between two reviewers, and the examples they disagree on.

    Uses each reviewer's latest standing label on the examples both labeled (skip
    and unsure are not labels). With exactly two reviewers in the store the names
    may be omitted. Kappa is NaN when it is undefined (both gave one same class).

    Examples
    --------
    >>> reviewer_agreement(store, "ana", "bo").kappa  # doctest: +SKIP
    0.81
    """
    if isinstance(store_or_decisions, ProjectStore):
        class_names = class_names or store_or_decisions.class_names
        decisions = store_or_decisions.decisions(latest=True)
    else:
        decisions = store_or_decisions.drop_duplicates(["example_id", "reviewer"], keep="last")
    labels = decisions[decisions["outcome"] == LABEL]
    if reviewer_a is None or reviewer_b is None:
        names = sorted(labels["reviewer"].unique())
        if len(names) != 2:
            raise ValueError(f"name the two reviewers to compare; reviewers with labels: {names}")
        reviewer_a, reviewer_b = names
    by = labels.pivot_table(index="example_id", columns="reviewer", values="label", aggfunc="last")
    for r in (reviewer_a, reviewer_b):
        if r not in by.columns:
            raise ValueError(f"reviewer {r!r} has no labels; reviewers with labels: {sorted(by.columns)}")
    both = by[[reviewer_a, reviewer_b]].dropna().astype(int)
    if both.empty:
        raise ValueError(f"reviewers {reviewer_a!r} and {reviewer_b!r} have labeled no example in common")
    a, b = both[reviewer_a].to_numpy(), both[reviewer_b].to_numpy()
    k = max(int(both.to_numpy().max()) + 1, len(class_names or []))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        kappa = float(cohen_kappa_score(a, b, labels=list(range(k))))
    differ = both[a != b].reset_index()
    if class_names:
        for r in (reviewer_a, reviewer_b):
            differ[r] = [class_names[v] for v in differ[r]]
    differ.columns.name = None
    return Agreement(
        reviewers=(reviewer_a, reviewer_b),
        n_common=len(both),
        kappa=kappa,
        observed_agreement=float((a == b).mean()),
        disagreements=differ,
    )
