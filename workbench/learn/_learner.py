"""The learner: end models trained on synthetic (probabilistic) labels, and the student-teacher loop.

Most scikit-learn classifiers take hard labels only. :func:`expand_soft_labels` turns each
row with a probability vector into one row per class weighted by that class's probability,
so the classifier's (weighted) log loss is exactly the cross-entropy against the soft
targets, and the uncertainty of synthetic labels really reaches the model
(:func:`fit_soft` does it for any estimator or pipeline taking sample weights).

- :func:`train_end_model`: one-shot TF-IDF + logistic regression on soft labels (L-BFGS on the
  whole table; chunk by chunk with SGD when the expanded table would be large).
- :class:`EndModelTrainer`: curated synthetic labels mixed with the small supervised set
  (``supervised_weight``), trained epoch by epoch with early stopping on the clean validation set
  and a checkpoint of every epoch (in memory, and on disk if asked).
- :func:`student_teacher_loop`: student vs teacher side by side on clean data; while the
  student beats the teacher on valid, it becomes the teacher, relabels the pool, and a new
  student is trained (a round limit and a history table).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import get_scorer, log_loss
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, has_fit_parameter
from tqdm.auto import tqdm

from workbench._internal.atomic import atomic_pickle
from workbench._internal.parallel import map_chunks, share_rows, worker_processes
from workbench._internal.progress import PROGRESS_MIN_ROWS, end_early
from workbench._internal.text import text_list
from workbench._internal.validation import check_labels, check_proba
from workbench.learn._calibration import smooth_labels


#: Expanded (row, class) pairs above which :func:`train_end_model` learns chunk by chunk (SGD) instead of
#: all at once (L-BFGS): below it the expanded copy of the features is small next to the features themselves.
IN_MEMORY_MAX_ROWS = 2_000_000
#: Rows per chunk of the chunked learner (expanded chunk by chunk, so memory stays bounded).
CHUNK_ROWS = 50_000
#: Texts above which :func:`train_end_model` hashes its features (:func:`hashed_tfidf_vectorizer`) instead
#: of keeping a vocabulary: building and sorting a vocabulary grows faster than the rows when most word
#: pairs are new, while hashing is linear in the rows and its memory is fixed.
VOCABULARY_MAX_ROWS = 100_000
#: Columns of the hashed features: of a million distinct words and word pairs, about 4 in 10 share
#: their column with another (mostly rare ones, which carry little weight).
HASHED_FEATURES = 2**21


def tfidf_vectorizer(**overrides: Any) -> TfidfVectorizer:
    """An unfitted ``TfidfVectorizer`` that works well on short user comments (word 1-2 grams, sublinear tf).

    Features are sparse float32: half the memory of float64, and both learners here take them as
    they are. ``overrides`` are ``TfidfVectorizer`` parameters replacing these defaults.
    """
    settings = {"ngram_range": (1, 2), "min_df": 1, "sublinear_tf": True, "lowercase": True, "dtype": np.float32}
    settings.update(overrides)
    return TfidfVectorizer(**settings)


def hashed_tfidf_vectorizer(n_features: int = HASHED_FEATURES) -> Pipeline:
    """:func:`tfidf_vectorizer`'s features with words and word pairs hashed into ``n_features`` columns.

    The same tokens, sublinear tf, idf and l2-normalised float32 rows, but no vocabulary
    (``HashingVectorizer`` counts, then ``TfidfTransformer``): fitting is linear in the texts and
    its memory does not grow with the vocabulary; features that share a column are added up. Only
    columns found in two training texts or more are kept (:class:`SeenColumns`).
    """
    defaults = tfidf_vectorizer()
    counts = HashingVectorizer(n_features=n_features, ngram_range=defaults.ngram_range, lowercase=defaults.lowercase,
                               alternate_sign=False, norm=None, dtype=np.float32)
    return Pipeline([("counts", RowWise(counts)), ("seen", SeenColumns(min_rows=2)),
                     ("tfidf", TfidfTransformer(sublinear_tf=defaults.sublinear_tf))])


#: Texts one worker process transforms at once in :class:`RowWise`: bounds what each worker holds.
ROWWISE_CHUNK_ROWS = 100_000


def _transform_rows(data: tuple, first: int, last: int):
    transformer, rows = data
    return transformer.transform(rows[first:last])


class RowWise(TransformerMixin, BaseEstimator):
    """A transformer whose output row depends on its input row alone (``HashingVectorizer``), run on
    ``n_jobs`` forked worker processes, each on a share of the rows (``None``: every core from
    ``PROCESS_MIN_ROWS`` rows); the shares' sparse rows are stacked in order. Tokenizing is Python
    per text, on one core otherwise.
    """

    def __init__(self, transformer: Any, n_jobs: int | None = None):
        self.transformer = transformer
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        self.transformer_ = clone(self.transformer).fit(X, y)
        return self

    def transform(self, X):
        check_is_fitted(self, "transformer_")
        rows = text_list(X)
        jobs = worker_processes(len(rows), self.n_jobs, what="feature hashing runs")
        if jobs < 2:
            return self.transformer_.transform(rows)
        chunk_rows = share_rows(len(rows), jobs, at_most=ROWWISE_CHUNK_ROWS)
        parts = [part for _, _, part in map_chunks(_transform_rows, (self.transformer_, rows), len(rows),
                                                   chunk_rows=chunk_rows, jobs=jobs)]
        return sp.vstack(parts, format="csr")


class SeenColumns(TransformerMixin, BaseEstimator):
    """Keep the columns of a sparse matrix that have a value in at least ``min_rows`` of the rows it
    was fitted on (all the columns seen, if none reaches it).

    After hashing, it plays the vocabulary's part: a word never seen in training is dropped
    (rather than weighing in a text's normalisation with the largest idf), and the model has
    one weight per seen column, not per possible one. :func:`hashed_tfidf_vectorizer` keeps
    words and word pairs found in two rows or more: a column of one training text can only learn
    that text's label by heart, and at a million texts these one-off columns are most of them (on
    ``python -m bench pipeline``'s 1M-row pool, 941k of 1.29M columns; dropping them cut the
    logistic regression's fit 2.7x, at the same test accuracy).

    Parameters
    ----------
    min_rows : int
        Rows a column must have a value in.
    """

    def __init__(self, min_rows: int = 1):
        self.min_rows = min_rows

    def fit(self, X, y=None):
        if isinstance(self.min_rows, bool) or not isinstance(self.min_rows, (int, np.integer)) or self.min_rows < 1:
            raise ValueError(f"min_rows must be an int >= 1, got {self.min_rows!r}")
        X = sp.csr_matrix(X)
        if not X.has_canonical_format:  # a column listed twice in a row would count as two rows
            X = X.copy()
            X.sum_duplicates()
        rows = np.bincount(X.indices[X.data != 0], minlength=X.shape[1])  # linear, where np.unique sorts
        kept = rows >= self.min_rows
        self.columns_ = np.flatnonzero(kept if kept.any() else rows > 0)
        return self

    def transform(self, X):
        check_is_fitted(self, "columns_")
        return sp.csr_matrix(X)[:, self.columns_]


def expand_soft_labels(X: Any, proba: Any, sample_weight: Any = None, min_weight: float = 1e-6):
    """Expand rows with soft labels into weighted hard-label rows.

    Parameters
    ----------
    X : array-like or sparse matrix (n, d), or a list of n texts
    proba : ndarray (n, k)
        Class probabilities per row.
    sample_weight : array-like (n,), optional
        Per-row weights, multiplied into the expanded weights.
    min_weight : float
        Expanded rows with smaller weight are dropped (they carry no signal).

    Returns
    -------
    X_rep, y_rep, w_rep
        ``X`` rows repeated once per class, the class of each repetition, and its weight
        ``proba[i, c] * sample_weight[i]``.

    Examples
    --------
    >>> X_rep, y, w = expand_soft_labels(np.eye(2), np.array([[0.9, 0.1], [0.0, 1.0]]))
    >>> y.tolist(), w.round(2).tolist()
    ([0, 1, 1], [0.9, 0.1, 1.0])
    """
    n = _n_rows(X)
    proba = check_proba(proba, n)
    base = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float).reshape(-1)
    if base.shape[0] != n:
        raise ValueError(f"sample_weight has {base.shape[0]} values for {n} rows")
    k = proba.shape[1]
    rows = np.repeat(np.arange(n), k)
    y = np.tile(np.arange(k), n)
    w = (proba * base[:, None]).reshape(-1)
    keep = w > min_weight
    rows, y, w = rows[keep], y[keep], w[keep]
    if len(rows) == n and (rows == np.arange(n)).all():  # one class per row (hard labels): X as it is, no copy
        return X, y, w
    return take_rows(X, rows), y, w


def train_end_model(texts: Any, proba: Any, sample_weight: Any = None, C: float = 10.0, features: Any = None,
                    max_iter: int = 2000, *, max_rows_in_memory: int = IN_MEMORY_MAX_ROWS,
                    random_state: int = 0) -> Pipeline:
    """Fit TF-IDF + logistic regression on texts with soft labels ``proba`` (n, k).

    Hard labels work too: pass one-hot rows. Mix in a hand-labeled set by concatenating its
    texts and one-hot labels, with a larger ``sample_weight`` if it should count more.

    Features are ``features`` if given, else :func:`tfidf_vectorizer` up to
    :data:`VOCABULARY_MAX_ROWS` texts and :func:`hashed_tfidf_vectorizer` beyond.
    Up to ``max_rows_in_memory`` expanded rows (one per row and class of non-zero weight, see
    :func:`expand_soft_labels`), ``LogisticRegression`` (L-BFGS) fits them all at once. Beyond,
    ``SGDClassifier(loss="log_loss")`` with the same regularisation (``alpha = 1 / (C * rows)``)
    learns from chunks of :data:`CHUNK_ROWS` rows, expanded one chunk at a time, for
    ``min(max_iter, 5)`` epochs in a shuffled order (``random_state``), so memory stays that of
    the features.

    Examples
    --------
    >>> model = train_end_model(train.text, proba)  # doctest: +SKIP
    >>> model.predict_proba(test.text)  # doctest: +SKIP
    """
    texts = list(np.asarray(texts, dtype=object))
    if features is not None:
        vectorizer = features
    else:
        vectorizer = tfidf_vectorizer() if len(texts) <= VOCABULARY_MAX_ROWS else hashed_tfidf_vectorizer()
    X = vectorizer.fit_transform(texts)
    n = _n_rows(X)
    proba = check_proba(proba, n)
    weights = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float).reshape(-1)
    if weights.shape[0] != n:
        raise ValueError(f"sample_weight has {weights.shape[0]} values for {n} rows")
    n_expanded = int(np.count_nonzero(proba * weights[:, None] > 1e-6))
    if n_expanded <= max_rows_in_memory:
        X_rep, y, w = expand_soft_labels(X, proba, weights)
        clf = LogisticRegression(C=C, max_iter=max_iter)
        clf.fit(X_rep, y, sample_weight=w)
    else:
        clf = _sgd_in_chunks(X, proba, weights, alpha=1.0 / (C * n_expanded), epochs=min(int(max_iter), 5),
                             random_state=random_state)
    return Pipeline([("features", vectorizer), ("model", clf)])


def _sgd_in_chunks(X, proba: np.ndarray, weights: np.ndarray, *, alpha: float, epochs: int,
                   random_state: int) -> SGDClassifier:
    """Logistic regression by SGD over shuffled chunks of rows, each expanded on its own (bounded memory)."""
    n, k = proba.shape
    clf = SGDClassifier(loss="log_loss", alpha=alpha, average=True, random_state=random_state)
    rng = np.random.default_rng(random_state)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, CHUNK_ROWS):
            rows = np.sort(order[start:start + CHUNK_ROWS])  # sorted: a cheap slice of the CSR matrix
            X_rep, y, w = expand_soft_labels(X[rows], proba[rows], weights[rows])
            clf.partial_fit(X_rep, y, classes=np.arange(k), sample_weight=w)
    return clf


def one_hot(y: Any, cardinality: int) -> np.ndarray:
    """Hard labels (class ids ``0..cardinality-1``) as probability rows."""
    return np.eye(cardinality)[check_labels(y, cardinality, name="y")]


def take_rows(X, idx):
    """Rows ``idx`` of an array, sparse matrix, DataFrame/Series or list of texts."""
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if isinstance(X, (list, tuple)):
        return [X[i] for i in idx]
    return X[idx]


def fit_weighted(estimator, X, y, sample_weight=None):
    """``estimator.fit(X, y, sample_weight=...)``, routed to a Pipeline's last step.

    Raises
    ------
    TypeError
        Naming the estimator when it (or the pipeline's last step) takes no sample weights.
    """
    if sample_weight is None:
        return estimator.fit(X, y)
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if not has_fit_parameter(final, "sample_weight"):
        raise TypeError(
            f"{type(final).__name__}.fit takes no sample_weight, which soft labels and confidence "
            "weights need; use e.g. LogisticRegression, SGDClassifier or MultinomialNB"
        )
    if isinstance(estimator, Pipeline):
        return estimator.fit(X, y, **{f"{estimator.steps[-1][0]}__sample_weight": sample_weight})
    return estimator.fit(X, y, sample_weight=sample_weight)


def fit_soft(estimator, X, proba, sample_weight=None):
    """Fit ``estimator`` on soft labels ``proba`` (n, k): cross-entropy against them, through sample weights.

    Each row is expanded into one row per class weighted by its probability
    (:func:`expand_soft_labels`). For a Pipeline the transformers are fitted once on
    the distinct rows (so TF-IDF statistics are not skewed by the repetition) and
    only the last step sees the expanded rows.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[-1.0], [1.0]])
    >>> model = fit_soft(LogisticRegression(C=1e6), X, [[0.8, 0.2], [0.2, 0.8]])
    >>> model.predict_proba(X).round(2)
    array([[0.8, 0.2],
           [0.2, 0.8]])
    """
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1:
        Xt = estimator[:-1].fit_transform(X)
        X_rep, y_rep, w_rep = expand_soft_labels(Xt, proba, sample_weight)
        fit_weighted(estimator.steps[-1][1], X_rep, y_rep, w_rep)
        return estimator
    X_rep, y_rep, w_rep = expand_soft_labels(X, proba, sample_weight)
    return fit_weighted(estimator, X_rep, y_rep, w_rep)


def _n_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _concat_rows(a, b):
    """Rows of ``a`` then ``b`` (arrays, sparse matrices, or sequences of texts)."""
    if sp.issparse(a) or sp.issparse(b):
        return sp.vstack([a, b], format="csr")
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim == 2:
        return np.concatenate([a, b])
    return list(a) + list(b)


class EndModelTrainer(ClassifierMixin, BaseEstimator):
    """An end model on synthetic labels plus a weighted supervised set, early-stopped on clean validation data.

    Features (TF-IDF by default) are fitted once on the training texts; a logistic
    model (``SGDClassifier(loss="log_loss")``) then learns epoch by epoch on the soft
    labels, each row expanded into one row per class weighted by its probability,
    with a constant step size and averaged weights (ASGD: steady progress per epoch, little noise).
    After every epoch the model is scored on the clean validation set and checkpointed; the
    epoch with the best valid score is kept (ties broken by the valid log loss).

    Parameters
    ----------
    features : transformer, "passthrough" or None
        ``None``: :func:`tfidf_vectorizer`; ``"passthrough"``: ``X`` is already numeric.
    supervised_weight : float
        Weight of each hand-labeled row relative to a synthetic row of weight 1.
    targets : {"soft", "hard"}
        Train on the synthetic probabilities as they are, or on their arg-max. Soft
        labels pass on the generator's uncertainty *and* its miscalibration; let a
        clean set decide.
    label_smoothing : float in [0, 1)
        Mix every training target with the uniform distribution
        (:func:`workbench.learn.smooth_labels`); counters over-confidence
        learned from hard targets.
    alpha : float
        L2 regularisation of the logistic model.
    eta0 : float
        SGD step size.
    max_epochs, patience, min_delta : early stopping
        Stop after ``patience`` epochs without a valid-score gain above ``min_delta`` (or,
        at an equal score, a lower valid log loss).
    scoring : str
        scikit-learn scorer for the validation set (``"accuracy"``, ``"f1"``, ``"neg_log_loss"``...).
    checkpoint_dir : path, optional
        Also write every epoch's model there (``epoch_NNN.pkl``, written atomically).
    random_state : int
        Seeds the row order of each epoch and the model.
    progress_bar : bool or None
        A bar over epochs; None shows one from 50,000 training rows.

    Attributes
    ----------
    model_ : Pipeline
        Features and the best epoch's classifier.
    history_ : DataFrame
        ``epoch``, ``train_loss`` (weighted cross-entropy against the soft labels),
        ``valid_<scoring>``, ``valid_log_loss``, ``best``.
    checkpoints_ : list of Pipeline
        The model after each epoch (the fitted features are shared).
    best_epoch_ : int
    classes_ : ndarray

    Examples
    --------
    >>> trainer = EndModelTrainer(supervised_weight=3.0, progress_bar=False)  # doctest: +SKIP
    >>> trainer.fit(pool.text[keep], proba[keep], seed.text, seed.label, X_valid=valid.text, y_valid=valid.label)  # doctest: +SKIP
    >>> trainer.history_.tail(3)  # doctest: +SKIP
    """

    def __init__(
        self,
        features=None,
        *,
        supervised_weight: float = 1.0,
        targets: str = "soft",
        label_smoothing: float = 0.0,
        alpha: float = 1e-4,
        eta0: float = 0.5,
        max_epochs: int = 30,
        patience: int = 5,
        min_delta: float = 0.0,
        scoring: str = "accuracy",
        checkpoint_dir: str | os.PathLike | None = None,
        random_state: int = 0,
        progress_bar: bool | None = None,
    ):
        self.features = features
        self.supervised_weight = supervised_weight
        self.targets = targets
        self.label_smoothing = label_smoothing
        self.alpha = alpha
        self.eta0 = eta0
        self.max_epochs = max_epochs
        self.patience = patience
        self.min_delta = min_delta
        self.scoring = scoring
        self.checkpoint_dir = checkpoint_dir
        self.random_state = random_state
        self.progress_bar = progress_bar

    def fit(self, X_synthetic, proba_synthetic, X_supervised=None, y_supervised=None, *, X_valid, y_valid,
            sample_weight=None) -> "EndModelTrainer":
        """Train on ``(X_synthetic, proba_synthetic)`` plus ``(X_supervised, y_supervised)``; stop on the validation set.

        Parameters
        ----------
        X_synthetic : texts or features, n rows
            Rows with synthetic labels (already curated).
        proba_synthetic : array of shape (n, k)
            Their soft labels (one-hot rows for hard labels).
        X_supervised, y_supervised : optional
            The small hand-labeled set, weighted by ``supervised_weight``.
        X_valid, y_valid : clean labeled set for early stopping (never trained on).
        sample_weight : array of shape (n,), optional
            Per-row weights of the synthetic rows (e.g. a curation score).
        """
        if self.supervised_weight < 0 or int(self.max_epochs) < 1 or int(self.patience) < 1:
            raise ValueError(
                f"need supervised_weight >= 0, max_epochs >= 1, patience >= 1; got "
                f"{self.supervised_weight}, {self.max_epochs}, {self.patience}"
            )
        if self.targets not in ("soft", "hard"):
            raise ValueError(f"targets must be 'soft' or 'hard'; got {self.targets!r}")
        n = _n_rows(X_synthetic)
        proba = check_proba(proba_synthetic, n, name="proba_synthetic")
        k = proba.shape[1]
        if self.targets == "hard":
            proba = one_hot(proba.argmax(axis=1), k)
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float).reshape(-1)
        if w.shape != (n,) or (w < 0).any():
            raise ValueError(f"sample_weight must be {n} non-negative numbers; got shape {w.shape}")
        X = X_synthetic
        if (X_supervised is None) != (y_supervised is None):
            raise ValueError("pass both X_supervised and y_supervised, or neither")
        if X_supervised is not None:
            y_sup = np.asarray(y_supervised).reshape(-1)
            if len(y_sup) != _n_rows(X_supervised):
                raise ValueError(f"y_supervised has {len(y_sup)} labels for {_n_rows(X_supervised)} rows of X_supervised")
            X = _concat_rows(X_synthetic, X_supervised)
            proba = np.vstack([proba, one_hot(y_sup, k)])
            w = np.r_[w, np.full(len(y_sup), float(self.supervised_weight))]
        if self.label_smoothing:
            proba = smooth_labels(proba, self.label_smoothing)
        y_valid = np.asarray(y_valid).reshape(-1)
        if len(y_valid) != _n_rows(X_valid):
            raise ValueError(f"y_valid has {len(y_valid)} labels for {_n_rows(X_valid)} rows of X_valid")

        features = tfidf_vectorizer() if self.features is None else self.features
        features = "passthrough" if features == "passthrough" else clone(features)
        Xt = X if features == "passthrough" else features.fit_transform(X)
        X_rep, y_rep, w_rep = expand_soft_labels(Xt, proba, w)
        self.classes_ = np.arange(k)
        clf = SGDClassifier(
            loss="log_loss", alpha=self.alpha, learning_rate="constant", eta0=self.eta0, average=True,
            random_state=self.random_state,
        )
        scorer = get_scorer(self.scoring)
        rng = np.random.default_rng(self.random_state)
        out = None
        if self.checkpoint_dir is not None:
            out = Path(self.checkpoint_dir)
            out.mkdir(parents=True, exist_ok=True)

        history, checkpoints = [], []
        best_score, best_log_loss, best_epoch, stale = -np.inf, np.inf, 0, 0
        show = self.progress_bar if self.progress_bar is not None else n >= PROGRESS_MIN_ROWS
        epochs = tqdm(total=int(self.max_epochs), desc="end model", disable=not show)
        for epoch in range(1, int(self.max_epochs) + 1):
            order = rng.permutation(len(y_rep))
            clf.partial_fit(take_rows(X_rep, order), y_rep[order], classes=self.classes_, sample_weight=w_rep[order])
            model = Pipeline([("features", features), ("model", copy.deepcopy(clf))])
            checkpoints.append(model)
            if out is not None:
                atomic_pickle(model, out / f"epoch_{epoch:03d}.pkl")
            valid_proba = model.predict_proba(X_valid)
            score = float(scorer(model, X_valid, y_valid))
            valid_log_loss = float(log_loss(y_valid, np.clip(valid_proba, 1e-12, 1), labels=self.classes_))
            history.append({
                "epoch": epoch,
                "train_loss": float(log_loss(y_rep, clf.predict_proba(X_rep), sample_weight=w_rep, labels=self.classes_)),
                f"valid_{self.scoring}": score,
                "valid_log_loss": valid_log_loss,
            })
            epochs.set_postfix({f"valid_{self.scoring}": round(score, 4)}, refresh=False)
            epochs.update()
            # A small validation set ties often on accuracy; its log loss breaks ties.
            if score > best_score + self.min_delta or (score == best_score and valid_log_loss < best_log_loss):
                best_score, best_log_loss, best_epoch, stale = score, valid_log_loss, epoch, 0
            else:
                stale += 1
                if stale >= self.patience:
                    end_early(epochs, f"epoch {epoch}")
                    break
        epochs.close()

        self.checkpoints_ = checkpoints
        self.best_epoch_ = best_epoch
        self.model_ = checkpoints[best_epoch - 1]
        self.history_ = pd.DataFrame(history)
        self.history_["best"] = self.history_["epoch"] == best_epoch
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return self.model_.predict(X)


@dataclass
class StudentTeacherResult:
    """What :func:`student_teacher_loop` returns.

    Attributes
    ----------
    history : DataFrame
        One row per round: ``round``, ``teacher``, ``n_curated``, the teacher's and the
        student's valid and test accuracy, ``student_beats_teacher`` (on valid) and
        ``best_epoch`` of the student's training.
    students : list of EndModelTrainer
        The student of each round.
    final_proba : dict of str to ndarray
        Probabilities of the final teacher (the last student that won, else the
        original teacher) on ``pool``, ``valid`` and ``test``.
    """

    history: pd.DataFrame
    students: list = field(default_factory=list)
    final_proba: dict = field(default_factory=dict)


def student_teacher_loop(
    X_pool,
    teacher_proba: dict,
    X_valid,
    y_valid,
    X_test,
    y_test,
    *,
    X_supervised=None,
    y_supervised=None,
    trainer: EndModelTrainer | None = None,
    curate: Callable[[np.ndarray], np.ndarray] | None = None,
    max_rounds: int = 3,
    min_gain: float = 0.0,
    progress_bar: bool | None = None,
) -> StudentTeacherResult:
    """Train a student on the teacher's curated labels; while it beats the teacher, let it relabel.

    Round ``r``: curate the teacher's pool probabilities, train a student
    (``trainer``, early-stopped on valid) on them plus the supervised set, and score
    teacher and student side by side on the clean valid and test sets. If the student's
    valid accuracy beats the teacher's by more than ``min_gain``, it becomes the teacher
    (its probabilities relabel the pool) and the next round starts; otherwise the loop
    ends. The decision is taken on valid, never on test: test stays an unbiased report.

    Parameters
    ----------
    X_pool : the unlabeled pool (texts or features)
    teacher_proba : dict with ``"pool"``, ``"valid"`` and ``"test"`` arrays of shape (n, k)
        The first teacher's probabilities (e.g. the label model's on each split's ``L``).
    X_valid, y_valid, X_test, y_test : clean labeled sets
    X_supervised, y_supervised : the small hand-labeled set mixed into every student
    trainer : EndModelTrainer, default ``EndModelTrainer()``
    curate : callable ``proba -> bool mask`` over the pool rows, optional
        Which of the teacher's pool labels a student trains on, e.g.
        ``lambda proba: confidence_filter(proba, 0.7).kept`` (:func:`workbench.curate.confidence_filter`);
        default: every row.
    max_rounds : int
    progress_bar : bool or None
        A bar over rounds; None shows one from 50,000 pool rows.

    Examples
    --------
    >>> result = student_teacher_loop(pool.text, {"pool": proba, "valid": proba_valid, "test": proba_test},
    ...                               valid.text, valid.label, test.text, test.label)  # doctest: +SKIP
    >>> result.history  # doctest: +SKIP
    """
    for split in ("pool", "valid", "test"):
        if split not in teacher_proba:
            raise ValueError(f"teacher_proba needs a {split!r} array; got keys {sorted(teacher_proba)}")
    lengths = {"pool": _n_rows(X_pool), "valid": _n_rows(X_valid), "test": _n_rows(X_test)}
    current = {}
    for split, n in lengths.items():
        current[split] = check_proba(teacher_proba[split], n)
    y_valid, y_test = np.asarray(y_valid).reshape(-1), np.asarray(y_test).reshape(-1)
    trainer = trainer if trainer is not None else EndModelTrainer(progress_bar=False)

    rows, students = [], []
    teacher_name = "teacher"
    show = progress_bar if progress_bar is not None else lengths["pool"] >= PROGRESS_MIN_ROWS
    bar = tqdm(total=int(max_rounds), desc="student-teacher", disable=not show)
    for round_ in range(1, int(max_rounds) + 1):
        keep = (np.ones(lengths["pool"], dtype=bool) if curate is None
                else np.asarray(curate(current["pool"]), dtype=bool))
        if keep.shape != (lengths["pool"],) or not keep.any():
            raise ValueError(f"round {round_}: curate must return a non-empty boolean mask over the {lengths['pool']} pool rows")
        student = clone(trainer).fit(
            take_rows(X_pool, np.flatnonzero(keep)), current["pool"][keep], X_supervised, y_supervised,
            X_valid=X_valid, y_valid=y_valid,
        )
        students.append(student)
        student_valid, student_test = student.predict_proba(X_valid), student.predict_proba(X_test)
        row = {
            "round": round_,
            "teacher": teacher_name,
            "n_curated": int(keep.sum()),
            "teacher_valid_accuracy": float((current["valid"].argmax(axis=1) == y_valid).mean()),
            "student_valid_accuracy": float((student_valid.argmax(axis=1) == y_valid).mean()),
            "teacher_test_accuracy": float((current["test"].argmax(axis=1) == y_test).mean()),
            "student_test_accuracy": float((student_test.argmax(axis=1) == y_test).mean()),
            "best_epoch": student.best_epoch_,
        }
        row["student_beats_teacher"] = row["student_valid_accuracy"] > row["teacher_valid_accuracy"] + min_gain
        rows.append(row)
        bar.update()
        if not row["student_beats_teacher"]:
            end_early(bar, f"round {round_} (the student did not beat its teacher)")
            break
        current = {"pool": student.predict_proba(X_pool), "valid": student_valid, "test": student_test}
        teacher_name = f"student {round_}"
    bar.close()
    return StudentTeacherResult(history=pd.DataFrame(rows), students=students, final_proba=current)
