"""Label models: combine the LF votes in ``L`` into one probabilistic label per example.

Every label model is a scikit-learn estimator built on :class:`BaseLabelModel` (a
:class:`~workbench.generate.Generator` reading ``L``): parameters are stored as given by
``__init__`` and validated by ``fit(L)``, which sets the fitted attributes (``classes_``,
``n_lfs_``, ``class_balance_``, ``lf_accuracies_``); ``predict_proba(L)``, ``predict(L)``,
``score(L, y)`` (accuracy) and ``metrics(L, y)`` (a dict) follow. ``clone``, ``get_params`` and
``set_params`` work, and using a model before ``fit`` raises ``NotFittedError``.

- :class:`MajorityVote`: each LF's vote counts once (vectorized; Snorkel's
  ``MajorityLabelVoter`` loops in Python).
- :class:`SnorkelLabelModel`: Snorkel's ``LabelModel``, which learns each LF's accuracy
  from agreements and disagreements, without gold labels.

:data:`LABEL_MODELS` is the one registry of label models: config, pipeline and studio look
models up there by name, so registering a :class:`BaseLabelModel` subclass makes it usable
everywhere. The other models (hyper label model, weighted vote, semi-supervised Dawid-Skene)
live in their own modules, and ``auto`` with :func:`health_check` in ``_select``.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score, f1_score
from sklearn.utils.validation import check_is_fitted

from workbench._internal.registry import Registry
from workbench._internal.validation import (
    ABSTAIN,
    check_label_matrix,
    check_labels,
    check_proba,
    infer_cardinality,
)
from workbench.generate._base import Generator
from workbench.generate._votes import check_partial_labels, check_selected

TIE_BREAKS = ("abstain", "random", "prior")


def proba_to_labels(proba: np.ndarray, tie_break: str = "abstain", prior: np.ndarray | None = None,
                    random_state: int | None = 0, tol: float = 1e-5) -> np.ndarray:
    """Argmax of ``proba`` with an explicit policy for ties.

    ``abstain`` gives ``ABSTAIN`` on a tie; ``random`` picks among the tied classes with a
    generator seeded by ``random_state`` (reproducible); ``prior`` picks the tied class with
    the largest ``prior``.

    Examples
    --------
    >>> proba_to_labels(np.array([[0.5, 0.5], [0.2, 0.8]])).tolist()
    [-1, 1]
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
    proba = np.asarray(proba, dtype=float)
    tied = proba >= proba.max(axis=1, keepdims=True) - tol
    labels = proba.argmax(axis=1)
    is_tie = tied.sum(axis=1) > 1
    if not is_tie.any():
        return labels
    if tie_break == "abstain":
        labels[is_tie] = ABSTAIN
    elif tie_break == "prior":
        weight = np.asarray(prior if prior is not None else np.ones(proba.shape[1]), dtype=float)
        labels[is_tie] = np.where(tied[is_tie], weight, -np.inf).argmax(axis=1)
    else:
        noise = np.random.default_rng(random_state).random(proba.shape)
        labels[is_tie] = np.where(tied[is_tie], noise[is_tie], -1).argmax(axis=1)
    return labels


class BaseLabelModel(Generator, ClassifierMixin, BaseEstimator):
    """Base of the label models: a generator reading the LF votes ``L`` (n examples x m LFs).

    A subclass takes ``cardinality``, ``tie_break``, ``class_balance`` and ``random_state``
    (and its own settings) as ``__init__`` keywords stored unchanged, and implements

    - ``fit(L, y=None, *, selected=None)``: call ``L = self._validate_fit(L, y)`` first (it checks the parameters
      and ``L`` and sets ``cardinality_``, ``classes_`` and ``n_lfs_``; fit and predict read the
      number of classes from ``cardinality_``), then set ``class_balance_`` (the class
      proportions the model uses) and ``lf_accuracies_`` (one estimate per LF), return ``self``;
    - ``predict_proba(L)``: call ``L = self._validate_predict(L)`` first.

    ``y`` has one entry per row of ``L``: the gold class of a labeled row (seed labels, review
    answers), ``ABSTAIN`` for the others (the convention of :class:`PseudoLabeler`). A model that
    uses labels validates it with :func:`workbench.generate._votes.check_partial_labels` and says
    so in :meth:`uses_labels`; the others accept and ignore it. ``selected`` (a boolean mask over
    the rows, :func:`workbench.generate._votes.check_selected`) marks the labeled rows a review
    queue chose for their uncertainty: not a sample of the pool but its hardest rows, which a
    model must not count as one when it estimates the LFs' accuracies. ``min_lfs`` is the fewest LFs
    the model can be fitted on. ``predict``, ``score`` and ``metrics`` come from this class.
    """

    source = "label_model"
    reads = "L"
    min_lfs: ClassVar[int] = 1
    #: Fast enough to refit on every studio edit (100,000 rows x 20 LFs well under 0.3 s): the
    #: studio fits it inside each refresh instead of in the background.
    live: ClassVar[bool] = False

    def uses_labels(self) -> bool:
        """Whether ``fit(L, y)`` learns from the labeled rows of ``y`` (choosing a model cross-fits those that do)."""
        return False

    def fit_work(self, L: np.ndarray, y: np.ndarray | None = None) -> int | None:
        """Vote entries ``fit(L, y)`` processes, all passes counted, for models whose fit costs
        seconds; None for those that cost milliseconds (vectorised over distinct vote patterns).
        ``auto`` leaves a candidate out when its comparison fits would exceed ``work_budget``."""
        return None

    def _validate_fit(self, L: Any, y: Any = None, *labeled: Any) -> np.ndarray:
        self.cardinality_ = self._resolve_cardinality(L, y, *labeled)
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {self.tie_break!r}")
        self._check_class_balance()
        L = check_label_matrix(L, self.cardinality_)
        if L.shape[1] < self.min_lfs:
            raise ValueError(f"{type(self).__name__} needs at least {self.min_lfs} LFs; L has {L.shape[1]}")
        self.classes_ = np.arange(self.cardinality_)
        self.n_lfs_ = L.shape[1]
        return L

    def _resolve_cardinality(self, L: Any, y: Any = None, *labeled: Any) -> int:
        """``cardinality`` as given, else the length of ``class_balance``, else inferred from ``L``, ``y`` (and
        other ``labeled`` votes or labels the model is given, such as ``AutoLabelModel``'s ``L_eval``/``y_eval``)."""
        if self.cardinality is None:
            if self.class_balance is not None:
                return len(np.asarray(self.class_balance).reshape(-1))
            return infer_cardinality(L, y, *labeled, what="L (and y)")
        if isinstance(self.cardinality, bool) or not isinstance(self.cardinality, (int, np.integer)) or self.cardinality < 2:
            raise ValueError(f"cardinality must be None (inferred in fit) or an int >= 2 (the number of classes), "
                             f"got {self.cardinality!r}")
        return int(self.cardinality)

    def _check_class_balance(self) -> np.ndarray | None:
        if self.class_balance is None:
            return None
        balance = np.asarray(self.class_balance, dtype=float).reshape(-1)
        if balance.shape != (self.cardinality_,):
            raise ValueError(f"class_balance must have {self.cardinality_} entries (one per class), got {self.class_balance!r}")
        return check_proba(balance[None, :], name="class_balance")[0]

    def _validate_predict(self, L: Any) -> np.ndarray:
        check_is_fitted(self, "n_lfs_")
        L = check_label_matrix(L, self.cardinality_)
        if L.shape[1] != self.n_lfs_:
            raise ValueError(f"L has {L.shape[1]} LF columns; {type(self).__name__} was fitted on {self.n_lfs_}")
        return L

    def predict(self, L: Any, tie_break: str | None = None) -> np.ndarray:
        """Hard labels; ties (and rows no LF covers, for majority vote) follow ``tie_break``
        (default: the ``tie_break`` parameter); ``"prior"`` uses ``class_balance_``."""
        return proba_to_labels(self.predict_proba(L), tie_break or self.tie_break, prior=self.class_balance_,
                               random_state=self.random_state)

    def metrics(self, L: Any, y: Any, tie_break: str | None = None) -> dict:
        """Dev/test metrics as a dict.

        ``accuracy`` and ``f1_macro`` count abstentions as errors (honest); ``accuracy_covered``
        is over the rows that got a label; ``coverage`` is that fraction; ``n`` the rows.
        (``score(L, y)`` is scikit-learn's: the accuracy alone.)
        """
        labels = self.predict(L, tie_break)
        y = check_labels(y, self.cardinality_, n_rows=len(labels), name="y")
        got = labels != ABSTAIN
        return {
            "accuracy": float(accuracy_score(y, labels)),
            "f1_macro": float(f1_score(y, labels, labels=list(range(self.cardinality_)), average="macro", zero_division=0)),
            "accuracy_covered": float(accuracy_score(y[got], labels[got])) if got.any() else float("nan"),
            "coverage": float(got.mean()),
            "n": int(len(y)),
        }


class MajorityVote(BaseLabelModel):
    """Majority vote over the non-abstaining LFs.

    Parameters
    ----------
    cardinality : int or None, default None
        Number of classes. None infers it in ``fit``: the length of ``class_balance`` when
        given, else the largest class id in ``L`` and ``y`` plus one (at least 2); an error
        when ``L`` and ``y`` hold no vote. Pass ``dataset.cardinality`` when a class may have
        no vote and no label (the inference cannot see it).
    tie_break : {"abstain", "random", "prior"}
        How :meth:`predict` settles ties (and rows no LF covers).
    class_balance : array-like of shape (cardinality,), optional
        Known class proportions: the probabilities of rows no LF covers (uniform when not
        given) and the ``"prior"`` tie-break (vote shares when not given).
    random_state : int
        Seeds the ``"random"`` tie-break.

    Attributes
    ----------
    cardinality_ : int
        The number of classes fitted (``cardinality``, or what was inferred).
    classes_ : ndarray, ``0..cardinality_-1``
    n_lfs_ : int
    class_balance_ : ndarray of shape (cardinality,)
        ``class_balance``, or the smoothed share of each class among the votes.
    lf_accuracies_ : ndarray of shape (n_lfs_,)
        Each LF's agreement with the majority on the rows it votes on: a rough, label-free
        guide (NaN for an LF that never votes where the majority is decided).

    Examples
    --------
    >>> L = np.array([[1, 1, -1], [0, 1, -1], [-1, -1, -1]])
    >>> MajorityVote().fit(L).predict(L).tolist()
    [1, -1, -1]
    """

    live = True

    def __init__(self, cardinality: int | None = None, *, tie_break: str = "abstain", class_balance: Any = None,
                 random_state: int | None = 0):
        self.cardinality = cardinality
        self.tie_break = tie_break
        self.class_balance = class_balance
        self.random_state = random_state

    def _counts(self, L: np.ndarray) -> np.ndarray:
        return np.stack([(L == c).sum(axis=1) for c in range(self.cardinality_)], axis=1).astype(float)

    def fit(self, L: Any, y: Any = None, *, selected: Any = None) -> "MajorityVote":
        """Estimate the class balance and each LF's agreement with the majority. ``y`` and ``selected`` are
        checked, then ignored."""
        L = self._validate_fit(L, y)
        check_selected(selected, check_partial_labels(y, len(L), self.cardinality_), len(L))
        given = self._check_class_balance()
        counts = self._counts(L)
        self.class_balance_ = given if given is not None else (counts.sum(axis=0) + 1) / (counts.sum() + self.cardinality_)
        labels = proba_to_labels(self._proba(counts, given), "abstain")
        voted = (L != ABSTAIN) & (labels[:, None] != ABSTAIN)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.lf_accuracies_ = ((L == labels[:, None]) & voted).sum(axis=0) / voted.sum(axis=0)
        return self

    def _proba(self, counts: np.ndarray, balance: np.ndarray | None) -> np.ndarray:
        total = counts.sum(axis=1, keepdims=True)
        base = balance if balance is not None else np.full(self.cardinality_, 1 / self.cardinality_)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, counts / total, base)

    def predict_proba(self, L: Any) -> np.ndarray:
        """Each class's share of the votes; rows no LF covers get ``class_balance`` (uniform when not given)."""
        L = self._validate_predict(L)
        return self._proba(self._counts(L), self._check_class_balance())


class SnorkelLabelModel(BaseLabelModel):
    """Snorkel's ``LabelModel`` behind the workbench interface, with no stray progress bars.

    Parameters
    ----------
    cardinality : int or None, default None
        Number of classes; None infers it in ``fit`` (as :class:`MajorityVote`).
    n_epochs, lr, l2 : training settings passed to Snorkel's ``LabelModel.fit``
    random_state : int
        Snorkel's seed (results are reproducible for a fixed value); also seeds the
        ``"random"`` tie-break.
    class_balance : array-like, optional
        Known class proportions (e.g. the dev set's); else Snorkel assumes uniform.
    tie_break : {"abstain", "random", "prior"}

    Attributes
    ----------
    cardinality_, classes_, n_lfs_ : as :class:`MajorityVote`
    class_balance_ : ndarray, Snorkel's class prior (``class_balance`` or uniform)
    lf_accuracies_ : ndarray, each LF's learned accuracy (Snorkel's ``get_weights``)
    model_ : the fitted ``snorkel.labeling.model.LabelModel``

    Examples
    --------
    >>> lm = SnorkelLabelModel(cardinality=2).fit(L_train)  # doctest: +SKIP
    >>> lm.metrics(L_dev, y_dev)["accuracy"]  # doctest: +SKIP
    """

    min_lfs = 3  # Snorkel estimates each LF's accuracy from its agreements with two others

    def __init__(self, cardinality: int | None = None, *, n_epochs: int = 500, lr: float = 0.01, l2: float = 0.0,
                 random_state: int = 123, class_balance: Any = None, tie_break: str = "abstain"):
        self.cardinality = cardinality
        self.n_epochs = n_epochs
        self.lr = lr
        self.l2 = l2
        self.random_state = random_state
        self.class_balance = class_balance
        self.tie_break = tie_break

    def fit(self, L: Any, y: Any = None, *, selected: Any = None) -> "SnorkelLabelModel":
        """Fit Snorkel's model on the agreements between LFs. ``y`` and ``selected`` are checked, then ignored
        (Snorkel takes no gold labels)."""
        import torch
        from snorkel.labeling.model import LabelModel

        L = self._validate_fit(L, y)
        check_selected(selected, check_partial_labels(y, len(L), self.cardinality_), len(L))
        given = self._check_class_balance()
        self.model_ = LabelModel(cardinality=self.cardinality_, verbose=False)
        # The model has a few dozen parameters: torch's thread pool only adds overhead, and on a
        # busy machine its spinning threads make a sub-second fit take tens of seconds.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self.model_.fit(
                L.astype(np.int64), class_balance=None if given is None else list(given),
                progress_bar=False, n_epochs=self.n_epochs, lr=self.lr, l2=self.l2, seed=self.random_state,
                log_freq=self.n_epochs + 1,
            )
        finally:
            torch.set_num_threads(threads)
        self.class_balance_ = np.asarray(self.model_.p, dtype=float).reshape(-1)
        self.lf_accuracies_ = np.asarray(self.model_.get_weights(), dtype=float)
        return self

    def predict_proba(self, L: Any) -> np.ndarray:
        L = self._validate_predict(L)
        return self.model_.predict_proba(L.astype(np.int64))


#: The label models by name: config (``label_model.kind``), pipeline and studio read this one
#: registry, so registering a :class:`BaseLabelModel` subclass here makes it usable everywhere.
LABEL_MODELS: Registry[type] = Registry("label model")
LABEL_MODELS.register("majority", MajorityVote)
LABEL_MODELS.register("snorkel", SnorkelLabelModel)


def fit_with_selected(model: BaseLabelModel, L: Any, y: Any = None, selected: Any = None) -> BaseLabelModel:
    """``model.fit(L, y, selected=selected)`` for the label models whose ``fit`` takes ``selected``, and
    ``model.fit(L, y)`` for the others (a user's, written without it): they get ``y`` as they always did.

    Examples
    --------
    >>> L, y = np.array([[1, 1], [0, 0], [1, 0]]), np.array([1, -1, 0])
    >>> fit_with_selected(MajorityVote(), L, y, selected=np.array([False, False, True])).n_lfs_
    2
    """
    if selected is not None and "selected" in inspect.signature(model.fit).parameters:
        return model.fit(L, y, selected=selected)
    return model.fit(L, y)


def fit_label_model(kind: str, L_train: Any, cardinality: int | None = None, y: Any = None, **params: Any) -> BaseLabelModel:
    """Build the registered label model ``kind`` with ``params`` and fit it on ``L_train`` (and ``y``:
    one entry per row, ``ABSTAIN`` for unlabeled rows; models that use no labels ignore it).
    ``cardinality=None`` infers the number of classes from ``L_train`` and ``y``."""
    try:
        model = LABEL_MODELS[kind]
    except KeyError as exc:
        raise ValueError(f"label model kind: {exc.args[0]}") from None
    return model(cardinality=cardinality, **params).fit(L_train, y)
