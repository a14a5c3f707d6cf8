"""Pseudo-labeling (self-training): grow a labeled set from a few hand-labeled seeds.

Train on the seeds, label the unlabeled pool, keep only confident predictions,
retrain, repeat. :class:`PseudoLabeler` follows scikit-learn's
``SelfTrainingClassifier`` (same ``y = -1`` convention for unlabeled rows, same
``threshold`` / ``k_best`` criteria, same ``transduction_`` and ``labeled_iter_``
attributes) and adds what a practitioner needs from it:

- a per-round ``history_`` (rows added per class, threshold, confidence of what was
  added, accuracy of the pseudo-labels against audit labels if given, score on the
  clean validation set and any other clean sets);
- class-balanced selection (``balance="prior"`` keeps the seed set's class shares,
  ``"equal"`` adds as many rows of each class), so a majority class cannot swamp
  the pool round after round;
- confidence-weighted samples (a pseudo-label counts as much as the model was sure of it);
- early stopping when the clean validation score stops improving, rolling back to the best round.

It is a :class:`~workbench.generate.Generator` (``source = "pseudo_label"``, reads ``X``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from workbench._internal.progress import PROGRESS_MIN_ROWS, end_early
from workbench._internal.validation import ABSTAIN, check_labels
from workbench.generate._base import Generator
from workbench.learn._learner import _n_rows, fit_weighted, take_rows

BALANCE = ("none", "prior", "equal")
CRITERIA = ("threshold", "k_best")
WEIGHTING = ("confidence", "uniform")


class PseudoLabeler(Generator, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Self-training with a history, class balance, confidence weights and early stopping.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``, default LogisticRegression
        Refitted from scratch (a clone) every round. Pipelines work; sample weights
        are routed to their last step.
    threshold : float
        With ``criterion="threshold"``, unlabeled rows whose top probability is at
        least this are pseudo-labeled.
    criterion : {"threshold", "k_best"}
        ``"k_best"`` adds the ``k_best`` most confident rows per round instead
        (those below ``threshold`` too).
    k_best : int
        Rows added per round with ``criterion="k_best"``.
    max_rounds : int
        Rounds of pseudo-labeling after the seed-only round 0.
    balance : {"none", "prior", "equal"}
        ``"prior"``: each round's additions keep the class shares of the seed set
        (capped by the scarcest class); ``"equal"``: as many rows of each class.
    weighting : {"confidence", "uniform"}
        Sample weight of a pseudo-labeled row: its confidence when it was added, or 1.
        Seed rows always weigh ``seed_weight``.
    seed_weight : float
        Sample weight of the hand-labeled seed rows.
    scoring : str
        scikit-learn scorer name for the clean sets (``"accuracy"``, ``"f1"``, ...).
    patience : int
        With a validation set, stop after this many rounds without a valid-score gain larger
        than ``min_delta``, and roll back to the best round.
    min_delta : float
        Smallest valid-score gain that counts as an improvement.
    cardinality : int, optional
        Number of classes. When given, seed labels must lie in ``0..cardinality-1`` and
        ``predict_proba`` has one column per class (0 for a class no seed has); else the
        classes are those of the seeds.
    progress_bar : bool or None
        Show a ``tqdm`` bar over rounds; None shows one from 50,000 rows.

    Attributes
    ----------
    estimator_ : the fitted estimator of the kept round (the best on valid, if given).
    classes_ : ndarray
        ``0..cardinality-1``, or the classes of the seeds without ``cardinality``.
    transduction_ : ndarray of shape (n,)
        Labels used for the final fit: seeds, kept pseudo-labels, ``-1`` for the rest.
    labeled_iter_ : ndarray of shape (n,)
        Round in which each row was labeled (0 for seeds, ``-1`` never).
    confidence_ : ndarray of shape (n,)
        Top probability when the row was pseudo-labeled (1 for seeds, NaN never).
    sample_weight_ : ndarray of shape (n,)
        Weights of the final fit (0 for unlabeled rows).
    history_ : DataFrame
        One row per round, see :meth:`fit`.
    best_round_ : int
        The round whose model and pseudo-labels were kept.
    n_iter_ : int
        Rounds run (excluding round 0).
    termination_condition_ : str
        ``"max_rounds"``, ``"all_labeled"``, ``"no_change"`` (nothing passed the
        criterion) or ``"valid_plateau"`` (early stop).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-3, 1, (50, 2)), rng.normal(3, 1, (50, 2))]
    >>> y = np.full(100, -1); y[[0, 1, 50, 51]] = [0, 0, 1, 1]  # four seeds
    >>> model = PseudoLabeler(threshold=0.8).fit(X, y)
    >>> model.history_[["round", "n_added", "n_labeled"]]
       round  n_added  n_labeled
    0      0        0          4
    1      1       95         99
    2      2        1        100
    """

    source = "pseudo_label"
    reads = "X"

    def __init__(
        self,
        estimator=None,
        *,
        threshold: float = 0.9,
        criterion: str = "threshold",
        k_best: int = 50,
        max_rounds: int = 10,
        balance: str = "none",
        weighting: str = "confidence",
        seed_weight: float = 1.0,
        scoring: str = "accuracy",
        patience: int = 1,
        min_delta: float = 0.0,
        cardinality: int | None = None,
        progress_bar: bool | None = None,
    ):
        self.estimator = estimator
        self.threshold = threshold
        self.criterion = criterion
        self.k_best = k_best
        self.max_rounds = max_rounds
        self.balance = balance
        self.weighting = weighting
        self.seed_weight = seed_weight
        self.scoring = scoring
        self.patience = patience
        self.min_delta = min_delta
        self.cardinality = cardinality
        self.progress_bar = progress_bar

    def _check_params(self) -> None:
        for name, value, allowed in (
            ("criterion", self.criterion, CRITERIA),
            ("balance", self.balance, BALANCE),
            ("weighting", self.weighting, WEIGHTING),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1]; got {self.threshold}")
        if self.criterion == "k_best" and int(self.k_best) < 1:
            raise ValueError(f"k_best must be >= 1; got {self.k_best}")
        if int(self.max_rounds) < 0 or int(self.patience) < 1:
            raise ValueError(f"need max_rounds >= 0 and patience >= 1; got {self.max_rounds}, {self.patience}")
        if self.seed_weight <= 0:
            raise ValueError(f"seed_weight must be positive; got {self.seed_weight}")

    def fit(self, X, y, *, X_valid=None, y_valid=None, eval_sets=None, audit_labels=None) -> "PseudoLabeler":
        """Run the self-training rounds.

        Parameters
        ----------
        X : array-like, sparse matrix or list of texts, n rows
            Seeds and the unlabeled pool together.
        y : array of shape (n,)
            Seed labels, ``-1`` (``ABSTAIN``) for unlabeled rows.
        X_valid, y_valid : clean labeled set, optional
            Scored every round (``valid_<scoring>`` column); enables early stopping.
        eval_sets : dict of str to (X, y), optional
            More clean sets to score every round (``<name>_<scoring>`` columns); for
            reporting only, never used to choose anything.
        audit_labels : array of shape (n,), optional
            Gold labels of the pool, known only for measuring (e.g. the YouTube
            pool's hidden labels). Never trained on; fills the
            ``pseudo_label_accuracy`` column (of the rows added that round).

        The history has one row per round: ``round``, ``threshold``, ``n_added``,
        ``added_<class>`` per class, ``n_labeled`` (seeds included),
        ``mean_confidence_added``, optionally ``pseudo_label_accuracy``, then the
        clean-set scores.
        """
        self._check_params()
        y = np.asarray(y)
        n = len(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (seed labels, -1 for unlabeled); got shape {y.shape}")
        if _n_rows(X) != n:
            raise ValueError(f"X has {_n_rows(X)} rows but y has {n} labels")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must hold integer class ids and -1 for unlabeled; got dtype {y.dtype}")
        if (y < ABSTAIN).any():
            i = int(np.flatnonzero(y < ABSTAIN)[0])
            raise ValueError(f"y[{i}] = {y[i]}: labels must be class ids >= 0, or -1 for unlabeled")
        if self.cardinality is not None:
            check_labels(y, self.cardinality, allow_abstain=True, name="y")
        seeds = y != ABSTAIN
        seen = np.unique(y[seeds])  # the classes the rounds can add: a model only predicts what it saw
        if len(seen) < 2:
            raise ValueError(
                f"the seed set needs at least two classes to train on; found {seen.tolist()} "
                f"among {int(seeds.sum())} labeled rows"
            )
        self.classes_ = seen if self.cardinality is None else np.arange(self.cardinality)
        if (X_valid is None) != (y_valid is None):
            raise ValueError("pass both X_valid and y_valid, or neither")
        if audit_labels is not None:
            audit_labels = np.asarray(audit_labels)
            if audit_labels.shape != (n,):
                raise ValueError(f"audit_labels must have one label per row of X ({n}); got shape {audit_labels.shape}")
        clean_sets = {} if X_valid is None else {"valid": (X_valid, np.asarray(y_valid))}
        for name, pair in (eval_sets or {}).items():
            if name == "valid":
                raise ValueError("eval_sets cannot be named 'valid'; pass the validation set as X_valid, y_valid")
            clean_sets[name] = (pair[0], np.asarray(pair[1]))
        scorer = get_scorer(self.scoring)
        base = self.estimator if self.estimator is not None else LogisticRegression(max_iter=1000)
        prior = np.array([(y[seeds] == c).mean() for c in seen])

        labels = np.where(seeds, y, ABSTAIN)
        weights = np.where(seeds, float(self.seed_weight), 0.0)
        labeled_iter = np.where(seeds, 0, -1)
        confidence = np.where(seeds, 1.0, np.nan)

        def fit_round():
            idx = np.flatnonzero(labels != ABSTAIN)
            # All-equal weights carry nothing: leave them out so any classifier works.
            w = None if np.all(weights[idx] == 1.0) else weights[idx]
            return fit_weighted(clone(base), take_rows(X, idx), labels[idx], w)

        def record(round_, model, added):
            row = {"round": round_, "threshold": self.threshold if self.criterion == "threshold" else np.nan}
            row["n_added"] = int(added.size)
            for c in seen:
                row[f"added_{c}"] = int((labels[added] == c).sum())
            row["n_labeled"] = int((labels != ABSTAIN).sum())
            row["mean_confidence_added"] = float(confidence[added].mean()) if added.size else np.nan
            if audit_labels is not None:
                row["pseudo_label_accuracy"] = float((labels[added] == audit_labels[added]).mean()) if added.size else np.nan
            for name, (Xc, yc) in clean_sets.items():
                row[f"{name}_{self.scoring}"] = float(scorer(model, Xc, yc))
            return row

        model = fit_round()
        history = [record(0, model, np.flatnonzero(np.zeros(n, bool)))]
        valid_key = f"valid_{self.scoring}"
        best = {"round": 0, "model": model, "score": history[0].get(valid_key, -np.inf)}
        stale = 0
        self.termination_condition_ = "max_rounds"
        show = self.progress_bar if self.progress_bar is not None else n >= PROGRESS_MIN_ROWS
        rounds = tqdm(total=int(self.max_rounds), desc="pseudo-labeling", disable=not show)
        for round_ in range(1, int(self.max_rounds) + 1):
            pool = np.flatnonzero(labels == ABSTAIN)
            if pool.size == 0:
                self.termination_condition_ = "all_labeled"
                end_early(rounds, f"round {round_} (every row is labeled)")
                break
            proba = model.predict_proba(take_rows(X, pool))
            conf = proba.max(axis=1)
            pred = model.classes_[proba.argmax(axis=1)]
            chosen = self._select(conf, pred, seen, prior)
            if chosen.size == 0:
                self.termination_condition_ = "no_change"
                end_early(rounds, f"round {round_} (no row reaches the criterion)")
                break
            added = pool[chosen]
            labels[added] = pred[chosen]
            confidence[added] = conf[chosen]
            weights[added] = conf[chosen] if self.weighting == "confidence" else 1.0
            labeled_iter[added] = round_
            model = fit_round()
            history.append(record(round_, model, added))
            rounds.set_postfix(labeled=history[-1]["n_labeled"], refresh=False)
            rounds.update()
            if clean_sets.get("valid") is not None:
                score = history[-1][valid_key]
                if score > best["score"] + self.min_delta:
                    best, stale = {"round": round_, "model": model, "score": score}, 0
                else:
                    stale += 1
                    if stale >= self.patience:
                        self.termination_condition_ = "valid_plateau"
                        end_early(rounds, f"round {round_} (valid score stopped improving)")
                        break
        rounds.close()

        self.n_iter_ = len(history) - 1
        self.best_round_ = best["round"] if "valid" in clean_sets else self.n_iter_
        keep = self.best_round_
        self.estimator_ = best["model"] if "valid" in clean_sets else model
        rolled_back = labeled_iter > keep
        labels[rolled_back], weights[rolled_back] = ABSTAIN, 0.0
        confidence[rolled_back], labeled_iter[rolled_back] = np.nan, -1
        self.transduction_, self.labeled_iter_ = labels, labeled_iter
        self.confidence_, self.sample_weight_ = confidence, weights
        self.history_ = pd.DataFrame(history)
        self.history_["kept"] = self.history_["round"] <= keep
        return self

    def _select(self, conf: np.ndarray, pred: np.ndarray, seen: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """Positions (into the pool) to pseudo-label this round, most confident first per class."""
        if self.criterion == "threshold":
            eligible = conf >= self.threshold
        else:
            eligible = np.ones(len(conf), bool)
        by_class = [np.flatnonzero(eligible & (pred == c)) for c in seen]
        by_class = [idx[np.argsort(-conf[idx], kind="stable")] for idx in by_class]
        available = np.array([len(idx) for idx in by_class])

        if self.balance == "none":
            if self.criterion == "threshold":
                return np.flatnonzero(eligible)
            return np.argsort(-conf, kind="stable")[: int(self.k_best)]

        shares = prior if self.balance == "prior" else np.full(len(seen), 1.0 / len(seen))
        # The largest total whose class shares all fit in what is available (at most k_best).
        total = min(available[shares > 0] / shares[shares > 0])
        if self.criterion == "k_best":
            total = min(total, int(self.k_best))
        quotas = np.floor(shares * total + 1e-9).astype(int)
        return np.concatenate([idx[:q] for idx, q in zip(by_class, quotas)]).astype(int)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the kept round's model, one column per ``classes_``."""
        check_is_fitted(self, "estimator_")
        proba = self.estimator_.predict_proba(X)
        if self.cardinality is None:
            return proba
        out = np.zeros((proba.shape[0], len(self.classes_)))
        out[:, np.asarray(self.estimator_.classes_, dtype=int)] = proba
        return out

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    def pseudo_labels(self) -> pd.DataFrame:
        """The kept pseudo-labels (seeds excluded): row position, label, confidence, round."""
        check_is_fitted(self, "transduction_")
        idx = np.flatnonzero(self.labeled_iter_ > 0)
        return pd.DataFrame(
            {
                "row": idx,
                "label": self.transduction_[idx],
                "confidence": self.confidence_[idx],
                "round": self.labeled_iter_[idx],
            }
        )
