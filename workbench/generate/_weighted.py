"""Weighted vote: each LF's vote counts by the log-odds of its accuracy, measured on labeled rows.

With the accuracy ``a_j`` of LF ``j`` (symmetric noise over ``k`` classes), the naive-Bayes
posterior of class ``c`` is ``log P(c) + sum_j w_j [LF j voted c]`` with
``w_j = log(a_j (k - 1) / (1 - a_j))``: a reliable LF outweighs several weak ones, and an LF
below chance counts against the class it votes. ``a_j`` is estimated from the labeled rows it
votes on, smoothed toward a label-free estimate (the unsupervised Dawid-Skene model's, which
learns from agreements and from when each LF fires) by ``prior_strength`` pseudo-votes, so that an
LF with two labeled votes is not trusted blindly and with no labeled rows at all the weights are
the label-free ones.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np

from workbench._internal.validation import ABSTAIN
from workbench.generate._labelmodel import BaseLabelModel
from workbench.generate._semisup import DawidSkeneLabelModel
from workbench.generate._votes import check_partial_labels, check_selected, compress, unselected_labels, vote_indicator

#: Accuracies are kept inside this range so that no single LF's weight is unbounded.
_ACCURACY_RANGE = (0.02, 0.98)

#: The label-free estimates of the last few matrices: choosing a model cross-fits the weighted
#: vote several times on one matrix with different labels hidden, and the estimate ignores labels.
_LABEL_FREE: OrderedDict = OrderedDict()


def label_free_accuracies(L: np.ndarray, cardinality: int) -> np.ndarray:
    """The unsupervised Dawid-Skene model's LF accuracies on ``L`` (remembered for the last 4 matrices)."""
    key = (hashlib.blake2b(np.ascontiguousarray(L).data, digest_size=16).digest(), L.shape, L.dtype.str, cardinality)
    if key not in _LABEL_FREE:
        _LABEL_FREE[key] = DawidSkeneLabelModel(cardinality, use_labels=False).fit(L).lf_accuracies_
        while len(_LABEL_FREE) > 4:
            _LABEL_FREE.popitem(last=False)
    return _LABEL_FREE[key].copy()


class WeightedVote(BaseLabelModel):
    """Vote weighted by each LF's log-odds accuracy, from labeled rows smoothed toward a label-free estimate.

    Parameters
    ----------
    cardinality : int or None, default None
        Number of classes; None infers it in ``fit`` from ``L`` and ``y`` (as :class:`MajorityVote`).
    use_labels : bool, default True
        Use the labeled rows of ``y`` in ``fit(L, y)``; False relies on the label-free estimate alone.
    prior_strength : float, default 10.0
        Pseudo-votes of the label-free estimate added to each LF's labeled votes: with fewer
        labeled votes than this, the estimate leans toward the label-free one.
    class_balance : array-like, optional
        Known class proportions; else the labeled rows' shares smoothed toward the vote shares.
    tie_break : {"abstain", "random", "prior"}
    random_state : int

    Attributes
    ----------
    cardinality_, classes_, n_lfs_ : as :class:`MajorityVote`
    lf_accuracies_ : ndarray of shape (m,), the smoothed accuracy estimates behind the weights
    weights_ : ndarray of shape (m,), each LF's vote weight
    class_balance_ : ndarray of shape (k,)
    n_labeled_ : int

    Examples
    --------
    >>> L = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 1], [1, 1, 1]])
    >>> WeightedVote(prior_strength=0).fit(L, y=[1, 1, 0, 1]).predict(L).tolist()  # LF 0 is right, 1 and 2 wrong
    [1, 1, 0, 1]
    """

    live = True

    def __init__(self, cardinality: int | None = None, *, use_labels: bool = True, prior_strength: float = 10.0,
                 class_balance: Any = None, tie_break: str = "abstain", random_state: int | None = 0):
        self.cardinality = cardinality
        self.use_labels = use_labels
        self.prior_strength = prior_strength
        self.class_balance = class_balance
        self.tie_break = tie_break
        self.random_state = random_state

    def uses_labels(self) -> bool:
        return bool(self.use_labels)

    def fit(self, L: Any, y: Any = None, *, selected: Any = None) -> "WeightedVote":
        """Weights from the labeled rows of ``y`` (``ABSTAIN`` = unlabeled) and the votes' agreement. Rows
        ``selected`` for their uncertainty are left out: counted, they would make every LF look worse."""
        L = self._validate_fit(L, y)
        s = self.prior_strength
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not np.isfinite(s) or s < 0:
            raise ValueError(f"prior_strength must be a number >= 0, got {s!r}")
        y = check_partial_labels(y, len(L), self.cardinality_)  # checked even when not used
        y = unselected_labels(y, check_selected(selected, y, len(L))) if self.use_labels else None
        given = self._check_class_balance()
        k = self.cardinality_
        patterns, _, counts = compress(L)
        free = label_free_accuracies(L, k)
        free = np.where(np.isfinite(free), free, 1 / k)  # an LF that never votes gets no weight
        correct = np.zeros(L.shape[1])
        voted = np.zeros(L.shape[1])
        if y is not None:
            lab = y != ABSTAIN
            fires = L[lab] != ABSTAIN
            voted = fires.sum(axis=0).astype(float)
            correct = (fires & (L[lab] == y[lab][:, None])).sum(axis=0).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = (correct + s * free) / (voted + s)
        accuracy = np.where(np.isfinite(accuracy), accuracy, free)  # s == 0 and no labeled vote
        self.lf_accuracies_ = accuracy
        a = np.clip(accuracy, *_ACCURACY_RANGE)
        self.weights_ = np.log(a * (k - 1) / (1 - a))
        if given is not None:
            self.class_balance_ = given
        else:
            shares = np.asarray(vote_indicator(patterns, k).T @ counts).reshape(-1, k).sum(axis=0) + 1.0
            shares /= shares.sum()
            if y is not None:
                n_c = np.bincount(y[y != ABSTAIN], minlength=k).astype(float)
                shares = (n_c + s * shares) / (n_c.sum() + s)
            self.class_balance_ = shares
        self.n_labeled_ = 0 if y is None else int((y != ABSTAIN).sum())
        return self

    def predict_proba(self, L: Any) -> np.ndarray:
        """Softmax of the class prior's log plus the weighted votes; rows no LF covers get the prior."""
        L = self._validate_predict(L)
        k = self.cardinality_
        patterns, inverse, _ = compress(L)
        table = np.kron(self.weights_[:, None], np.eye(k))  # row j * k + v -> weight_j at class v
        logits = np.asarray(vote_indicator(patterns, k) @ table) + np.log(self.class_balance_)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True))[inverse]
