"""Distillation: a teacher's soft probabilities on unlabeled data train a small, fast student.

The teacher is anything that gives class probabilities on the unlabeled pool: a
stronger or larger model (:func:`make_teacher`, a soft-voting ensemble on word and
character TF-IDF), or the label model's ``predict_proba(L)``. The student
(:func:`make_student`, TF-IDF + logistic regression by default) learns to mimic them.

Soft targets really reach the student's loss: each row is expanded into one row per
class weighted by the (temperature-softened) teacher probability, so a scikit-learn
classifier's weighted log loss *is* the cross-entropy against the soft targets.
A temperature ``T > 1`` softens them (``softmax(log p / T)``), passing on more of the
teacher's "dark knowledge" about which wrong class is less wrong; the student then
predicts at temperature 1 again (its logits multiplied back by ``T``).
:func:`compare_targets` puts soft and hard (arg-max) targets side by side on a clean set.
:class:`Distiller` is a :class:`~workbench.generate.Generator` (``source = "distillation"``,
reads ``X``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from workbench._internal.progress import PROGRESS_MIN_ROWS
from workbench._internal.validation import check_labels, check_proba
from workbench.generate._base import Generator
from workbench.learn._calibration import apply_temperature, calibration_report
from workbench.learn._learner import _n_rows, fit_soft, fit_weighted, tfidf_vectorizer

TARGETS = ("soft", "hard")


def make_teacher(random_state: int = 0) -> Pipeline:
    """A stronger text classifier to teach from: word + character TF-IDF into a soft-voting ensemble.

    Logistic regression, a random forest and complement naive Bayes vote with their
    probabilities. Slower and larger than :func:`make_student`; fit it on the clean
    labeled rows you have (or on curated synthetic labels).

    Examples
    --------
    >>> teacher = make_teacher().fit(["buy now", "nice song", "free money", "love it"], [1, 0, 1, 0])
    >>> teacher.predict_proba(["free song"]).shape
    (1, 2)
    """
    features = FeatureUnion(
        [
            ("words", tfidf_vectorizer()),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1)),
        ]
    )
    ensemble = VotingClassifier(
        [
            ("logreg", LogisticRegression(C=10.0, max_iter=2000)),
            ("forest", RandomForestClassifier(n_estimators=200, min_samples_leaf=1, random_state=random_state, n_jobs=1)),
            ("bayes", ComplementNB(alpha=0.3)),
        ],
        voting="soft",
    )
    return Pipeline([("features", features), ("ensemble", ensemble)])


def make_student(C: float = 10.0) -> Pipeline:
    """A small, fast student: word TF-IDF and logistic regression (takes sample weights)."""
    return make_pipeline(tfidf_vectorizer(), LogisticRegression(C=C, max_iter=2000))


def soft_targets(teacher_proba, temperature: float = 1.0) -> np.ndarray:
    """The teacher's probabilities softened (``T > 1``) or sharpened (``T < 1``) by a temperature.

    Examples
    --------
    >>> soft_targets([[0.9, 0.1]], temperature=3.0).round(2)
    array([[0.68, 0.32]])
    """
    return apply_temperature(teacher_proba, temperature)


class Distiller(Generator, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Train a student on a teacher's probabilities, as soft (tempered) or hard targets.

    Parameters
    ----------
    student : classifier taking ``sample_weight``, default :func:`make_student`
        Cloned and fitted. For a Pipeline, the transformers are fitted once on the
        distinct rows and only the last step sees the per-class expanded rows.
    targets : {"soft", "hard"}
        ``"soft"``: cross-entropy against the tempered teacher probabilities;
        ``"hard"``: the teacher's arg-max as ordinary labels (the baseline).
    temperature : float
        Softening of the soft targets; ignored for hard targets (arg-max is unchanged).

    Attributes
    ----------
    student_ : the fitted student.
    classes_ : ndarray, ``0..k-1`` for the k columns of the teacher's probabilities.
    targets_ : ndarray of shape (n, k)
        What the student was trained to match (one-hot rows for hard targets).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.linspace(-3, 3, 200)[:, None]
    >>> teacher = 1 / (1 + np.exp(-2 * X[:, 0]))            # P(class 1) = sigmoid(2x)
    >>> d = Distiller(LogisticRegression(C=1e6), temperature=2.0).fit(X, np.c_[1 - teacher, teacher])
    >>> round(float(d.student_.coef_[0, 0]), 2)              # the student learns 2 / T
    1.0
    """

    source = "distillation"
    reads = "X"

    def __init__(self, student=None, *, targets: str = "soft", temperature: float = 1.0):
        self.student = student
        self.targets = targets
        self.temperature = temperature

    def fit(self, X, teacher_proba, sample_weight=None) -> "Distiller":
        """Fit the student on ``X`` (the transfer set) and the teacher's ``(n, k)`` probabilities."""
        if self.targets not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}; got {self.targets!r}")
        proba = check_proba(teacher_proba, name="teacher_proba")
        n = _n_rows(X)
        if len(proba) != n:
            raise ValueError(f"teacher_proba has {len(proba)} rows but X has {n}")
        student = clone(self.student) if self.student is not None else make_student()
        k = proba.shape[1]
        if self.targets == "soft":
            self.targets_ = soft_targets(proba, self.temperature)
            fit_soft(student, X, self.targets_, sample_weight)
        else:
            y = proba.argmax(axis=1)
            self.targets_ = np.eye(k)[y]
            fit_weighted(student, X, y, sample_weight)
        self.student_ = student
        self.classes_ = np.arange(k)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """The student's probabilities at temperature 1, one column per teacher class.

        A student trained on targets softened by ``T`` learns the teacher's logits
        divided by ``T``; its logits are multiplied back by ``T`` here, as in Hinton
        et al. (2015), where the student is trained at ``T`` and predicts at 1.
        Classes the student never saw get probability 0.
        """
        check_is_fitted(self, "student_")
        raw = self.student_.predict_proba(X)
        if self.targets == "soft" and self.temperature != 1.0:
            raw = apply_temperature(raw, 1.0 / self.temperature)
        out = np.zeros((raw.shape[0], len(self.classes_)))
        out[:, np.asarray(self.student_.classes_, dtype=int)] = raw
        return out

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # first, so an unfitted Distiller raises NotFittedError
        return self.classes_[proba.argmax(axis=1)]


def compare_targets(
    X_transfer,
    teacher_proba,
    X_test,
    y_test,
    *,
    student=None,
    temperatures=(1.0, 2.0, 4.0),
    teacher_test_proba=None,
    sample_weight=None,
    n_bins: int = 10,
    progress_bar: bool | None = None,
) -> pd.DataFrame:
    """Hard vs soft (at several temperatures) distillation, scored on a clean labeled set.

    Parameters
    ----------
    X_transfer : rows the teacher labeled (the unlabeled pool)
    teacher_proba : array of shape (n, k), the teacher's probabilities on ``X_transfer``
    X_test, y_test : clean labeled set to score on
    teacher_test_proba : array, optional
        The teacher's probabilities on ``X_test``, for a ``teacher`` row and the
        students' ``agreement_with_teacher``.
    progress_bar : bool or None
        A bar over the runs; None shows one from 50,000 transfer rows.

    Returns
    -------
    DataFrame indexed by ``teacher``, ``hard``, ``soft T=...`` with ``targets``,
    ``temperature`` and the columns of :func:`workbench.learn.calibration_report`
    (``accuracy``, ``log_loss``, ``brier``, ``ece_uniform``, ``ece_quantile``,
    ``mean_confidence``), plus ``agreement_with_teacher`` when the teacher's test
    probabilities are given.

    Examples
    --------
    >>> table = compare_targets(pool.text, teacher_pool_proba, ds.test.text, ds.test.label)  # doctest: +SKIP
    """
    proba = check_proba(teacher_proba, name="teacher_proba")
    y_test = check_labels(y_test, proba.shape[1], n_rows=len(y_test), name="y_test")
    runs = [("hard", "hard", np.nan)] + [(f"soft T={t:g}", "soft", float(t)) for t in temperatures]
    proba_by_name, meta = {}, {}
    if teacher_test_proba is not None:
        proba_by_name["teacher"] = check_proba(teacher_test_proba, name="teacher_test_proba")
        meta["teacher"] = ("teacher", np.nan)
    show = progress_bar if progress_bar is not None else len(proba) >= PROGRESS_MIN_ROWS
    for name, targets, t in tqdm(runs, desc="distilling", disable=not show):
        model = Distiller(student, targets=targets, temperature=1.0 if np.isnan(t) else t)
        proba_by_name[name] = model.fit(X_transfer, proba, sample_weight).predict_proba(X_test)
        meta[name] = (targets, t)
    table = calibration_report(y_test, proba_by_name, n_bins=n_bins)
    table.insert(0, "targets", [meta[name][0] for name in table.index])
    table.insert(1, "temperature", [meta[name][1] for name in table.index])
    if "teacher" in proba_by_name:
        teacher_pred = proba_by_name["teacher"].argmax(axis=1)
        table["agreement_with_teacher"] = [float((p.argmax(axis=1) == teacher_pred).mean()) for p in proba_by_name.values()]
    return table


def best_student(table: pd.DataFrame, metric: str = "log_loss") -> dict:
    """The student with the lowest ``metric`` in a :func:`compare_targets` table, as :class:`Distiller` settings.

    Hard and soft students compete (the teacher row does not); pass a table scored on a split kept
    for choices (``valid``): chosen on ``test``, the test score of the choice is no longer a verdict.

    Examples
    --------
    >>> t = pd.DataFrame({"targets": ["teacher", "hard", "soft", "soft"], "temperature": [np.nan, np.nan, 1.0, 2.0],
    ...                   "log_loss": [0.20, 0.30, 0.28, 0.25]}, index=["teacher", "hard", "soft T=1", "soft T=2"])
    >>> best_student(t)
    {'targets': 'soft', 'temperature': 2.0}
    """
    if metric not in table:
        raise ValueError(f"no column {metric!r} in the table; columns are {list(table.columns)}")
    students = table[table["targets"].isin(TARGETS)]
    if students.empty:
        raise ValueError(f"the table has no student rows (targets in {TARGETS})")
    row = students.loc[students[metric].idxmin()]
    return {"targets": str(row["targets"]), "temperature": 1.0 if row["targets"] == "hard" else float(row["temperature"])}
