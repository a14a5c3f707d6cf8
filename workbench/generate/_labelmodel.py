"""Label models: combine the LF votes in ``L`` into one probabilistic label per example.

Two models sit behind one small interface (``fit(L)``, ``predict_proba(L)``, ``predict(L)``,
``score(L, Y)``, ``lf_accuracies_``):

- :class:`MajorityVote`: each LF's vote counts once (vectorized; Snorkel's
  ``MajorityLabelVoter`` loops in Python).
- :class:`SnorkelLabelModel`: Snorkel's ``LabelModel``, which learns each LF's accuracy
  from agreements and disagreements, without gold labels.

:func:`health_check` says plainly whether the learned model beats majority vote on the dev
set and which LFs look suspicious.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from workbench._internal.registry import Registry
from workbench._internal.validation import ABSTAIN, check_label_matrix, lf_names

TIE_BREAKS = ("abstain", "random", "prior")


def _validate(L: np.ndarray, cardinality: int, m: int | None = None) -> np.ndarray:
    L = check_label_matrix(L)
    if L.size and L.max() >= cardinality:
        raise ValueError(f"L holds label {int(L.max())} but cardinality is {cardinality} (labels 0..{cardinality - 1})")
    if m is not None and L.shape[1] != m:
        raise ValueError(f"L has {L.shape[1]} LF columns; the model was fitted on {m}")
    return L


def _check_balance(class_balance, cardinality: int) -> np.ndarray | None:
    if class_balance is None:
        return None
    p = np.asarray(class_balance, dtype=float)
    if p.shape != (cardinality,) or (p < 0).any() or not np.isclose(p.sum(), 1):
        raise ValueError(f"class_balance must be {cardinality} non-negative numbers summing to 1, got {class_balance!r}")
    return p


def probs_to_preds(probs: np.ndarray, tie_break: str = "abstain", prior: np.ndarray | None = None,
                   seed: int = 0, tol: float = 1e-5) -> np.ndarray:
    """Argmax of ``probs`` with an explicit policy for ties.

    ``abstain`` gives -1 on a tie; ``random`` picks among the tied classes with a seeded
    generator (reproducible); ``prior`` picks the tied class with the largest ``prior``.
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {tie_break!r}")
    probs = np.asarray(probs, dtype=float)
    tied = probs >= probs.max(axis=1, keepdims=True) - tol
    preds = probs.argmax(axis=1)
    is_tie = tied.sum(axis=1) > 1
    if not is_tie.any():
        return preds
    if tie_break == "abstain":
        preds[is_tie] = ABSTAIN
    elif tie_break == "prior":
        weight = np.asarray(prior if prior is not None else np.ones(probs.shape[1]), dtype=float)
        preds[is_tie] = np.where(tied[is_tie], weight, -np.inf).argmax(axis=1)
    else:
        noise = np.random.default_rng(seed).random(probs.shape)
        preds[is_tie] = np.where(tied[is_tie], noise[is_tie], -1).argmax(axis=1)
    return preds


class _LabelModelBase:
    cardinality: int
    tie_break: str
    class_balance: np.ndarray | None

    def predict(self, L: np.ndarray, tie_break: str | None = None) -> np.ndarray:
        """Hard labels; ties (and rows no LF covers, for majority vote) follow ``tie_break``."""
        prior = self.class_balance if self.class_balance is not None else getattr(self, "prior_", None)
        return probs_to_preds(self.predict_proba(L), tie_break or self.tie_break, prior=prior, seed=self.seed)

    def score(self, L: np.ndarray, Y, tie_break: str | None = None) -> dict:
        """Dev/test metrics.

        ``accuracy`` and ``f1_macro`` count abstentions as errors (honest); ``accuracy_covered``
        is over the rows that got a label; ``coverage`` is that fraction.
        """
        Y = np.asarray(Y).reshape(-1)
        preds = self.predict(L, tie_break)
        if len(Y) != len(preds):
            raise ValueError(f"Y has {len(Y)} labels for {len(preds)} rows of L")
        covered = preds != ABSTAIN
        return {
            "accuracy": float(accuracy_score(Y, preds)),
            "f1_macro": float(f1_score(Y, preds, labels=list(range(self.cardinality)), average="macro", zero_division=0)),
            "accuracy_covered": float(accuracy_score(Y[covered], preds[covered])) if covered.any() else float("nan"),
            "coverage": float(covered.mean()),
            "n": int(len(Y)),
        }


@dataclass
class MajorityVote(_LabelModelBase):
    """Majority vote over the non-abstaining LFs.

    ``predict_proba`` gives each class its share of the votes; rows that no LF covers get
    ``class_balance`` (uniform when not given). ``lf_accuracies_`` after ``fit`` is each
    LF's agreement with the majority on the rows it votes on: a rough, label-free guide.

    Examples
    --------
    >>> L = np.array([[1, 1, -1], [0, 1, -1], [-1, -1, -1]])
    >>> MajorityVote().fit(L).predict(L).tolist()
    [1, -1, -1]
    """

    cardinality: int = 2
    tie_break: str = "abstain"
    class_balance: np.ndarray | None = None
    seed: int = 0
    lf_accuracies_: np.ndarray | None = field(default=None, repr=False)
    prior_: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        self.class_balance = _check_balance(self.class_balance, self.cardinality)
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {self.tie_break!r}")

    def _counts(self, L: np.ndarray) -> np.ndarray:
        return np.stack([(L == c).sum(axis=1) for c in range(self.cardinality)], axis=1).astype(float)

    def fit(self, L: np.ndarray) -> "MajorityVote":
        L = _validate(L, self.cardinality)
        self.n_lfs_ = L.shape[1]
        counts = self._counts(L)
        self.prior_ = (counts.sum(axis=0) + 1) / (counts.sum() + self.cardinality)
        preds = probs_to_preds(self._proba(counts), "abstain")
        voted = (L != ABSTAIN) & (preds[:, None] != ABSTAIN)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.lf_accuracies_ = ((L == preds[:, None]) & voted).sum(axis=0) / voted.sum(axis=0)
        return self

    def _proba(self, counts: np.ndarray) -> np.ndarray:
        total = counts.sum(axis=1, keepdims=True)
        base = self.class_balance if self.class_balance is not None else np.full(self.cardinality, 1 / self.cardinality)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, counts / total, base)

    def predict_proba(self, L: np.ndarray) -> np.ndarray:
        L = _validate(L, self.cardinality, getattr(self, "n_lfs_", None))
        return self._proba(self._counts(L))


@dataclass
class SnorkelLabelModel(_LabelModelBase):
    """Snorkel's ``LabelModel`` behind the workbench interface, with no stray progress bars.

    Parameters
    ----------
    cardinality : int
    n_epochs, lr, l2 : training settings passed to ``LabelModel.fit``
    seed : int
        Snorkel's seed (results are reproducible for a fixed seed).
    class_balance : array-like, optional
        Known class proportions (e.g. the dev set's); else Snorkel estimates them.
    tie_break : {"abstain", "random", "prior"}

    Examples
    --------
    >>> lm = SnorkelLabelModel(cardinality=2).fit(L_train)  # doctest: +SKIP
    >>> lm.score(L_dev, Y_dev)["accuracy"]  # doctest: +SKIP
    """

    cardinality: int = 2
    n_epochs: int = 500
    lr: float = 0.01
    l2: float = 0.0
    seed: int = 123
    class_balance: np.ndarray | None = None
    tie_break: str = "abstain"
    model_: object = field(default=None, repr=False)

    def __post_init__(self):
        self.class_balance = _check_balance(self.class_balance, self.cardinality)
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"tie_break must be one of {TIE_BREAKS}, got {self.tie_break!r}")

    def fit(self, L: np.ndarray) -> "SnorkelLabelModel":
        from snorkel.labeling.model import LabelModel

        L = _validate(L, self.cardinality)
        if L.shape[1] < 3:
            raise ValueError(f"Snorkel's LabelModel needs at least 3 LFs to estimate accuracies; L has {L.shape[1]}")
        self.n_lfs_ = L.shape[1]
        self.model_ = LabelModel(cardinality=self.cardinality, verbose=False)
        self.model_.fit(
            L.astype(np.int64), class_balance=None if self.class_balance is None else list(self.class_balance),
            progress_bar=False, n_epochs=self.n_epochs, lr=self.lr, l2=self.l2, seed=self.seed, log_freq=self.n_epochs + 1,
        )
        return self

    @property
    def lf_accuracies_(self) -> np.ndarray:
        """Learned accuracy of each LF (Snorkel's ``get_weights``)."""
        if self.model_ is None:
            raise RuntimeError("fit the label model first")
        return np.asarray(self.model_.get_weights(), dtype=float)

    @property
    def prior_(self) -> np.ndarray:
        return np.asarray(self.model_.p if hasattr(self.model_, "p") else np.full(self.cardinality, 1 / self.cardinality)).reshape(-1)

    def predict_proba(self, L: np.ndarray) -> np.ndarray:
        if self.model_ is None:
            raise RuntimeError("fit the label model first")
        L = _validate(L, self.cardinality, self.n_lfs_)
        return self.model_.predict_proba(L.astype(np.int64))


#: The label models by name: config (``label_model.kind``), pipeline and studio read this one
#: registry, so registering a class here makes it usable everywhere.
LABEL_MODELS: Registry[type] = Registry("label model")
LABEL_MODELS.register("majority", MajorityVote)
LABEL_MODELS.register("snorkel", SnorkelLabelModel)


def fit_label_model(kind: str, L_train: np.ndarray, cardinality: int = 2, **settings) -> _LabelModelBase:
    """Build the registered label model ``kind`` and fit it on ``L_train``."""
    try:
        model = LABEL_MODELS[kind]
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    return model(cardinality=cardinality, **settings).fit(L_train)


@dataclass
class HealthReport:
    """What :func:`health_check` found. ``chosen`` is the model the workbench will use."""

    scores: pd.DataFrame
    lfs: pd.DataFrame
    chosen: str
    messages: list[str]

    def __str__(self) -> str:
        return "\n".join(self.messages)

    def _repr_markdown_(self) -> str:
        return "\n".join(f"- {m}" for m in self.messages)


def health_check(L_train: np.ndarray, L_dev: np.ndarray, Y_dev, lfs=None, label_model: SnorkelLabelModel | None = None,
                 cardinality: int = 2, margin: float = 0.0, accuracy_gap: float = 0.25, min_dev_votes: int = 10,
                 broad_coverage: float = 0.5) -> HealthReport:
    """Check a label model against majority vote and flag suspicious LFs.

    - Compares majority vote and the label model on the dev rows that some LF covers (ties
      broken at random, the same way for both); the label model is ``chosen`` only if it
      beats majority vote's accuracy by more than ``margin``.
    - Flags LFs whose learned accuracy is below chance (``1/k``: probably inverted), or differs
      from their dev accuracy by more than ``accuracy_gap`` (with at least ``min_dev_votes``
      dev votes), and broad LFs (coverage above ``broad_coverage``) that dominate the vote:
      they vote alone on at least half of their rows, or the label model follows them on at
      least 95% of their rows.

    Examples
    --------
    >>> report = health_check(L_train, L_dev, Y_dev, lfs)  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
    """
    L_train = _validate(L_train, cardinality)
    names = lf_names(lfs, L_train.shape[1])
    Y_dev = np.asarray(Y_dev).reshape(-1)
    mv = MajorityVote(cardinality=cardinality).fit(L_train)
    lm = label_model if label_model is not None else SnorkelLabelModel(cardinality=cardinality).fit(L_train)
    L_dev = _validate(L_dev, cardinality, L_train.shape[1])
    # Compare where the two can differ: dev rows some LF covers, ties broken the same way.
    covered = (L_dev != ABSTAIN).any(axis=1)
    scores = pd.DataFrame({name: model.score(L_dev[covered], Y_dev[covered], tie_break="random")
                           for name, model in (("majority_vote", mv), ("label_model", lm))}).T
    mv_acc, lm_acc = scores.loc["majority_vote", "accuracy"], scores.loc["label_model", "accuracy"]
    chosen = "label_model" if lm_acc > mv_acc + margin else "majority_vote"
    messages = [
        f"Dev accuracy on the {int(covered.sum())} dev rows some LF covers: label model {lm_acc:.3f}, "
        f"majority vote {mv_acc:.3f}. "
        + ("The label model beats majority vote; the workbench uses the label model."
           if chosen == "label_model" else
           "The label model does NOT beat majority vote on the dev set; the workbench uses majority vote.")
    ]

    dev_votes = (L_dev != ABSTAIN).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dev_acc = ((L_dev == Y_dev[:, None]) & (L_dev != ABSTAIN)).sum(axis=0) / dev_votes
    learned = lm.lf_accuracies_
    coverage = (L_train != ABSTAIN).mean(axis=0)
    lm_pred = lm.predict(L_train, "random")
    fires = L_train != ABSTAIN
    with np.errstate(invalid="ignore", divide="ignore"):
        agreement = ((L_train == lm_pred[:, None]) & fires).sum(axis=0) / fires.sum(axis=0)
    only_voter = fires & (fires.sum(axis=1, keepdims=True) == 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sole_share = only_voter.sum(axis=0) / fires.sum(axis=0)
    chance = 1 / cardinality
    table = pd.DataFrame({"coverage": coverage, "dev_votes": dev_votes, "dev_accuracy": dev_acc,
                          "learned_accuracy": learned, "agreement_with_model": agreement, "sole_vote_share": sole_share}, index=names)
    table["inverted"] = table.learned_accuracy < chance
    table["accuracy_mismatch"] = (table.dev_votes >= min_dev_votes) & ((table.learned_accuracy - table.dev_accuracy).abs() > accuracy_gap)
    table["dominant"] = (table.coverage > broad_coverage) & ((table.agreement_with_model >= 0.95) | (table.sole_vote_share >= 0.5))
    for name, row in table.iterrows():
        if row.inverted:
            messages.append(f"LF {name!r}: learned accuracy {row.learned_accuracy:.2f} is below chance ({chance:.2f}); is its label inverted?")
        if row.accuracy_mismatch:
            messages.append(f"LF {name!r}: learned accuracy {row.learned_accuracy:.2f} is far from its dev accuracy "
                            f"{row.dev_accuracy:.2f} ({int(row.dev_votes)} dev votes).")
        if row.dominant:
            messages.append(f"LF {name!r} covers {row.coverage:.0%} of the pool, votes alone on {row.sole_vote_share:.0%} "
                            f"of its rows and the model follows it on {row.agreement_with_model:.0%}: it dominates the vote.")
    if len(messages) == 1:
        messages.append("No LF looks inverted, mis-estimated or dominant.")
    return HealthReport(scores=scores, lfs=table, chosen=chosen, messages=messages)
