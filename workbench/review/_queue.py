"""What to show a reviewer: uncertainty ranking, protected rows kept out, the review queue."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import entropy
from sklearn.preprocessing import normalize

from workbench._internal.validation import ABSTAIN, check_proba
from workbench.curate._scores import disagreement_score, in_gray_zone, margin
from workbench.data._dataset import (
    ID_COLUMN,
    LABEL_COLUMN,
    PROTECTED_SPLITS,
    TEXT_COLUMN,
    Dataset,
)
from workbench.learn._learner import tfidf_vectorizer
from workbench.review._store import LABEL, SKIP, UNSURE, ProjectStore

UNCERTAINTY_METHODS = ("margin", "entropy", "least_confident")
STRATEGIES = (*UNCERTAINTY_METHODS, "disagreement", "gray_zone")
#: How many leading picks the diversity mix chooses when no limit is given (cost grows with it).
DIVERSE_PICKS = 200


class ProtectedExampleError(ValueError):
    """A protected (dev/valid/test/canary) example was about to be reviewed into training."""


# -- ranking ------------------------------------------------------------------------


def uncertainty(proba, method: str = "margin") -> np.ndarray:
    """How uncertain each row of a probability matrix is, in [0, 1]; higher is less certain.

    Parameters
    ----------
    proba : array of shape (n, k)
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
    proba = check_proba(proba)
    if method == "margin":
        return 1.0 - margin(proba)
    if method == "entropy":
        return entropy(proba, axis=1) / np.log(proba.shape[1])
    if method == "least_confident":
        return 1.0 - proba.max(axis=1)
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
    proba,
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
    proba : array of shape (n, k)
        The current generator's probabilities.
    strategy : {"margin", "entropy", "least_confident", "disagreement", "gray_zone"}
        Uncertainty of ``proba`` (most uncertain first); disagreement among
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
    proba = check_proba(proba)
    n = len(proba)
    least_margin = uncertainty(proba, "margin")
    if strategy in UNCERTAINTY_METHODS:
        score = uncertainty(proba, strategy)
    elif strategy == "disagreement":
        if not predictions:
            raise ValueError("strategy='disagreement' needs predictions={name: labels or probabilities} of other generators")
        # The current generator counts as one of the voters; margin breaks ties.
        score = disagreement_score({"current": proba, **predictions}, cardinality=proba.shape[1]) + 1e-6 * least_margin
    elif strategy == "gray_zone":
        score = np.where(in_gray_zone(proba, width), least_margin, -np.inf)
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
    proba : array of shape (n, k)
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
    requested : bool, default True
        Show first the pool rows the store holds review requests for
        (:meth:`ProjectStore.request_review`, e.g. the pipeline's ``disagreement`` step with
        ``route: review``) and no decision yet, highest request score first; then the ranking.

    Examples
    --------
    >>> queue = ReviewQueue(ds.train, proba, store=store, reviewer="ana", protected=ds)  # doctest: +SKIP
    >>> item = queue.current; queue.decide(1); queue.undo()  # doctest: +SKIP
    """

    def __init__(
        self,
        pool: pd.DataFrame,
        proba,
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
        requested: bool = True,
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
        self.proba = check_proba(proba)
        if len(self.proba) != len(self.pool):
            raise ValueError(f"proba has {len(self.proba)} rows but the pool has {len(self.pool)}")
        self.class_names = list(class_names or store.class_names or [str(c) for c in range(self.proba.shape[1])])
        if len(self.class_names) != self.proba.shape[1]:
            raise ValueError(f"proba has {self.proba.shape[1]} columns but there are {len(self.class_names)} classes {self.class_names}")
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
        X = tfidf_vectorizer().fit_transform(texts)  # l2-normalised rows: dot products are cosines
        self.features, self._labeled_features = X[: len(self.pool)], X[len(self.pool) :]

        hidden = np.isin(self.ids, list(self._hidden_ids()))
        order = review_order(
            self.proba, strategy=strategy, predictions=predictions, width=width,
            features=self.features, diversity=diversity, exclude=hidden,
        )
        if requested:
            position = pd.Series(np.arange(len(self.ids)), index=self.ids)
            asked = store.review_requests()["example_id"].drop_duplicates()
            asked = position.reindex(asked).dropna().astype(int).to_numpy()  # requests for rows of this pool
            asked = asked[~hidden[asked]]
            order = np.concatenate([asked, order[~np.isin(order, asked)]])
        self.n_requested = len(asked) if requested else 0
        self._scores = uncertainty(self.proba, "margin")
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
            proba=self.proba[pos],
            predicted=int(np.argmax(self.proba[pos])),
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
                "predicted": [self.class_names[int(np.argmax(self.proba[p]))] for p in rows],
                "confidence": self.proba[rows].max(axis=1) if rows else [],
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
