"""The review loop: each round retrains with the harvested labels and records accuracy."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from workbench._internal.validation import check_proba
from workbench.data._dataset import (
    ID_COLUMN,
    LABEL_COLUMN,
    TEXT_COLUMN,
    Dataset,
)
from workbench.learn._learner import train_end_model
from workbench.review._harvest import TrainingSet, build_training_set, harvest
from workbench.review._queue import _refuse_protected, protected_ids
from workbench.review._store import ProjectStore

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
    proba : array of shape (n, k)
        The generator's (label model's) probabilities on ``pool``.
    protected : Dataset, mapping, iterable or None
        See :func:`protected_ids`; harvested labels on these rows are refused.
    eval_sets : mapping of str to DataFrame
        Named hand-labeled sets (``text``, ``label``), e.g. ``{"dev": ds.dev, "test": ds.test}``.
    learner : callable, optional
        ``learner(texts, proba, sample_weight) -> estimator`` with ``predict_proba(texts)``.
        Defaults to :func:`workbench.learn.train_end_model`.
    covered, seed_weight, conflicts
        As in :func:`build_training_set` and :func:`harvest`.

    Examples
    --------
    >>> loop = ReviewLoop(store, ds.train, proba, protected=ds, eval_sets={"dev": ds.dev, "test": ds.test})  # doctest: +SKIP
    >>> result = loop.run_round(); loop.history()  # doctest: +SKIP
    """

    def __init__(
        self,
        store: ProjectStore,
        pool: pd.DataFrame,
        proba,
        *,
        protected: Dataset | Mapping[str, str] | Iterable[str] | None,
        eval_sets: Mapping[str, pd.DataFrame],
        learner: Callable | None = None,
        covered: np.ndarray | None = None,
        seed_weight: float = 1.0,
        conflicts: str = "drop",
    ):
        self.store, self.pool, self.proba = store, pool.reset_index(drop=True), check_proba(proba)
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
        training = build_training_set(self.pool, self.proba, seeds, covered=self.covered, seed_weight=self.seed_weight)
        model = self.learner(training.frame[TEXT_COLUMN], training.proba, sample_weight=training.frame["sample_weight"].to_numpy())
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
