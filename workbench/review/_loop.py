"""The review loop: each round harvests the answers, regenerates the labels, retrains and records accuracy."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score

from workbench._internal.validation import ABSTAIN, check_label_matrix, check_proba
from workbench.data._dataset import (
    ID_COLUMN,
    LABEL_COLUMN,
    TEXT_COLUMN,
    Dataset,
)
from workbench.generate import fit_with_selected
from workbench.learn._learner import train_end_model
from workbench.review._harvest import TrainingSet, build_training_set, harvest
from workbench.review._queue import _refuse_protected, protected_ids
from workbench.review._store import ProjectStore

# -- the loop ----------------------------------------------------------------------


@dataclass
class RoundResult:
    """One round of the loop: what was trained on, the model, its scores, its new labels for the pool.

    ``round`` is the round's number in the store (it goes on across runs on one store);
    ``index`` counts the rounds of this loop from 0, so code that stops after a number of
    rounds behaves the same on a fresh store and on one that already holds rounds.
    ``generated_proba`` is what the label model (regenerated with the answers, when the loop
    has one) gave the pool this round, ``pool_proba`` the end model's new probabilities.
    """

    round: int
    index: int
    training_set: TrainingSet
    model: object
    metrics: dict[str, float]
    pool_proba: np.ndarray
    generated_proba: np.ndarray


class ReviewLoop:
    """Rounds of harvest, regenerate, retrain and evaluate; the history lives in the store.

    Each :meth:`run_round` harvests the store's seed labels; with a ``label_model``, refits
    it on the pool's LF votes with those labels (``fit(L, y)``, ``y`` the human label of
    each answered row and ``ABSTAIN`` elsewhere) and takes its new probabilities as the
    generated labels; builds the training set (generated labels with human labels on top),
    trains ``learner`` on it, scores accuracy and macro-F1 on each evaluation set (the
    label model's too, when it has the sets' LF votes), records the round with its lineage,
    and returns the end model's probabilities on the pool, which rank the next review session.

    Parameters
    ----------
    store : ProjectStore
    pool : DataFrame
        The unlabeled pool (``example_id``, ``text``).
    proba : array of shape (n, k)
        The generator's (label model's) probabilities on ``pool``: the labels of a loop
        without ``label_model``, and of rounds before any answer.
    protected : Dataset, mapping, iterable or None
        See :func:`protected_ids`; harvested labels on these rows are refused, and with a
        Dataset (or split name -> DataFrame) answers whose text copies a protected row's
        are left out (:func:`harvest`).
    eval_sets : mapping of str to DataFrame
        Named hand-labeled sets (``text``, ``label``), e.g. ``{"dev": ds.dev, "test": ds.test}``.
    learner : callable, optional
        ``learner(texts, proba, sample_weight) -> estimator`` with ``predict_proba(texts)``.
        Defaults to :func:`workbench.learn.train_end_model`.
    covered, seed_weight, conflicts
        As in :func:`build_training_set` and :func:`harvest`.
    label_model : label model, optional
        An unfitted (or fitted: it is cloned) label model taking ``fit(L, y)``; refitted
        every round with the answers so far.
    L : int array of shape (n, m), optional
        The pool's LF votes, required with ``label_model``.
    eval_L : mapping of str to int array, optional
        The LF votes of the evaluation sets, for the label model's scores on them.

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
        label_model=None,
        L: np.ndarray | None = None,
        eval_L: Mapping[str, np.ndarray] | None = None,
    ):
        self.store, self.pool, self.proba = store, pool.reset_index(drop=True), check_proba(proba, len(pool))
        self.protected = protected
        _refuse_protected(self.pool[ID_COLUMN].astype(str), protected_ids(protected), "rows of the pool")
        if label_model is not None:
            if L is None:
                raise ValueError("a ReviewLoop with a label_model needs the pool's LF votes L")
            L = check_label_matrix(L)
            if len(L) != len(self.pool):
                raise ValueError(f"L has {len(L)} rows but the pool has {len(self.pool)}")
        self.label_model, self.L = label_model, L
        self.eval_L = dict(eval_L or {})
        unknown = sorted(set(self.eval_L) - set(eval_sets))
        if unknown:
            raise ValueError(f"eval_L names sets {unknown} that are not in eval_sets {sorted(eval_sets)}")
        for name, df in eval_sets.items():
            missing = [c for c in (TEXT_COLUMN, LABEL_COLUMN) if c not in df.columns]
            if missing:
                raise ValueError(f"evaluation set {name!r} lacks columns {missing}")
        self.eval_sets = dict(eval_sets)
        self.learner = learner if learner is not None else train_end_model
        self.covered, self.seed_weight, self.conflicts = covered, seed_weight, conflicts
        self.rounds_: list[int] = []

    def _regenerate(self, seeds) -> tuple[np.ndarray, object | None]:
        """The label model refitted with the answers as labeled rows, and its probabilities on the pool."""
        if self.label_model is None:
            return self.proba, None
        y = np.full(len(self.pool), ABSTAIN, dtype=np.int64)
        rows = pd.Series(np.arange(len(self.pool)), index=self.pool[ID_COLUMN].astype(str))
        y[rows.loc[seeds.labels["example_id"].astype(str)].to_numpy()] = seeds.labels["label"].to_numpy()
        # every answer is on a row a queue chose for its uncertainty: the model may not count them as a sample
        model = fit_with_selected(clone(self.label_model), self.L, y, selected=y != ABSTAIN)
        return check_proba(model.predict_proba(self.L), len(self.pool)), model

    def run_round(self) -> RoundResult:
        seeds = harvest(self.store, protected=self.protected, pool=self.pool, conflicts=self.conflicts)
        generated, label_model = self._regenerate(seeds)
        training = build_training_set(self.pool, generated, seeds, covered=self.covered, seed_weight=self.seed_weight)
        model = self.learner(training.frame[TEXT_COLUMN], training.proba, sample_weight=training.frame["sample_weight"].to_numpy())
        metrics = {}
        for name, df in self.eval_sets.items():
            y, pred = df[LABEL_COLUMN].to_numpy(dtype=int), model.predict_proba(df[TEXT_COLUMN].astype(str)).argmax(axis=1)
            metrics[f"{name}_accuracy"] = float(accuracy_score(y, pred))
            metrics[f"{name}_macro_f1"] = float(f1_score(y, pred, average="macro"))
            if label_model is not None and name in self.eval_L:
                # abstains count as errors: the label model's accuracy on the whole set, as the end model's
                metrics[f"label_model_{name}_accuracy"] = float(accuracy_score(y, label_model.predict(self.eval_L[name])))
        number = self.store.record_round(n_seed_labels=len(seeds), metrics=metrics, lineage=training.lineage)
        self.rounds_.append(number)
        pool_proba = model.predict_proba(self.pool[TEXT_COLUMN].astype(str))
        return RoundResult(round=number, index=len(self.rounds_) - 1, training_set=training, model=model, metrics=metrics,
                           pool_proba=pool_proba, generated_proba=generated)

    def history(self, *, all_runs: bool = False) -> pd.DataFrame:
        """One row per round of this loop (``all_runs``: every round in the store): ``round,
        n_seed_labels``, the metrics and when it ran."""
        rounds = self.store.rounds().drop(columns=["lineage"])
        return rounds if all_runs else rounds[rounds["round"].isin(self.rounds_)].reset_index(drop=True)
