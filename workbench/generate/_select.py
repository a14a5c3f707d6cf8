"""Choosing a label model honestly: :class:`AutoLabelModel` and :func:`health_check`.

``auto`` compares the candidates on labeled rows that none of them was fitted on:

- rows of an evaluation set (``L_eval``, ``y_eval``: the dev set in the pipeline), which no
  candidate sees at all;
- the labeled rows of ``y`` by **cross-fitting**: a candidate that learns from labels is
  fitted ``n_folds`` times, each time with one fold's labels hidden, and scored on that fold;
  one that ignores labels is fitted once.

Every candidate is fitted on the labeled rows plus a bounded uniform sample (``max_rows``) of
the unlabeled ones, so the comparison costs the same at a million rows as at twenty thousand;
only the chosen model is then fitted on all of ``L`` (when nothing was sampled, its comparison
fit already is that model and is kept).

The score is accuracy on the covered scored rows (a tie counts as the share of the tied
classes that is right: the expected accuracy of a random tie-break). A **paired bootstrap**
over the rows gives an interval on the difference between the best candidate and the
benchmark's preferred one (:data:`PREFERENCE`). The best replaces the preferred model only if
the whole interval is above zero; within noise the workbench keeps the model with the better
record on ``python -m bench labelmodel`` instead of flipping to whichever won on a hundred rows.

Two rules keep the comparison cheap and its default sound, and the reason names them:

- **a work budget**: a candidate whose comparison fits would process more than ``work_budget``
  vote entries (:meth:`BaseLabelModel.fit_work`: the hyper model fine-tuned per class, cross-fitted)
  is left out; the others cost milliseconds. At 2,000 rows x 164 LFs x 9 classes fine-tuning
  ``hyper_semi`` four times took 7 s of ``auto``'s 7.1 s.
- **low conflict prefers majority vote**: a label model can only beat majority vote where votes
  conflict, and learns LF accuracies from where they overlap. When fewer than ``low_conflict``
  of the covered rows have conflicting votes (the low label density regime of Ratner et al.,
  "Snorkel: rapid training data creation with weak supervision", VLDB 2017, where majority
  vote is near optimal), majority vote is kept within noise: the learned accuracies rest on
  too few overlaps to be trusted over it without evidence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from workbench._internal.validation import (ABSTAIN, check_label_matrix, check_labels, conflict_rows, covered,
                                            infer_cardinality, lf_names)
from workbench.generate._hyper import HyperLabelModel
from workbench.generate._labelmodel import LABEL_MODELS, BaseLabelModel, MajorityVote, SnorkelLabelModel, fit_with_selected
from workbench.generate._semisup import DawidSkeneLabelModel
from workbench.generate._votes import check_partial_labels, check_selected
from workbench.generate._weighted import WeightedVote

#: The candidates ``auto`` compares by default, by name (``hyper_semi`` only when there are labels).
#: Snorkel's model is not among them: on ``python -m bench labelmodel`` it is best on no case by
#: more than noise, and fitting it costs seconds (minutes at 164 LFs x 9 classes) where the others
#: take milliseconds; pass it in ``candidates`` to compare it too.
DEFAULT_CANDIDATES: dict[str, BaseLabelModel] = {
    "hyper_semi": HyperLabelModel(use_labels=True),
    "hyper": HyperLabelModel(use_labels=False),
    "dawid_skene": DawidSkeneLabelModel(),
    "weighted": WeightedVote(),
    "majority": MajorityVote(),
}

#: Which candidate ``auto`` keeps when the comparison cannot tell them apart: the order of their
#: mean accuracy over the synthetic suite and the bundled data of ``python -m bench labelmodel``
#: (see the README's label-model section for the numbers).
PREFERENCE = ("dawid_skene", "hyper_semi", "hyper", "weighted", "snorkel", "majority")

#: Snorkel's model costs about (LFs x classes)^2 per epoch: above this many it is left out of
#: ``auto``'s comparison (22-100 s at 164 LFs x 9 classes), though it can still be chosen by name.
SNORKEL_MAX_LF_CLASSES = 200


def expected_correct(proba: np.ndarray, y: np.ndarray, tol: float = 1e-5) -> np.ndarray:
    """Per row: 1 if the top class is ``y``, ``1/t`` if ``y`` is among ``t`` tied top classes, else 0."""
    top = proba >= proba.max(axis=1, keepdims=True) - tol
    return top[np.arange(len(y)), y] / top.sum(axis=1)


def conflict_share(L: np.ndarray) -> float:
    """Share of the covered rows of ``L`` whose votes name more than one class (0 if none is covered).

    Examples
    --------
    >>> conflict_share(np.array([[0, 1], [1, 1], [1, -1], [-1, -1]]))
    0.3333333333333333
    """
    voted = covered(L)
    return float(conflict_rows(L)[voted].mean()) if voted.any() else 0.0


def paired_bootstrap(a: np.ndarray, b: np.ndarray, n_bootstrap: int = 2000, confidence: float = 0.95,
                     random_state: int | None = 0) -> tuple[float, float, float]:
    """Mean of ``a - b`` over paired rows and its percentile bootstrap interval ``(difference, low, high)``.

    Examples
    --------
    >>> d, lo, hi = paired_bootstrap(np.ones(50), np.zeros(50))
    >>> d, lo, hi
    (1.0, 1.0, 1.0)
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(diff) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(random_state)
    means = np.empty(n_bootstrap)
    chunk = max(1, 2_000_000 // len(diff))  # bounded memory for large row counts
    for start in range(0, n_bootstrap, chunk):
        stop = min(n_bootstrap, start + chunk)
        means[start:stop] = diff[rng.integers(0, len(diff), (stop - start, len(diff)))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(diff.mean()), float(low), float(high)


@dataclass
class Choice:
    """What a comparison decided: the chosen name, the interval and the one-sentence reason."""

    chosen: str
    preferred: str
    best: str
    difference: float
    interval: tuple[float, float]
    reason: str
    scores: pd.DataFrame = field(repr=False)


def choose(row_scores: dict[str, np.ndarray], preference: tuple[str, ...], *, n_bootstrap: int = 2000,
           confidence: float = 0.95, random_state: int | None = 0, what: str = "labeled rows",
           notes: dict[str, str] | None = None, seconds: dict[str, float] | None = None, who: str = "auto",
           preferred_is: str = "the benchmark's first choice") -> Choice:
    """Pick among candidates scored on the same rows (``row_scores[name]``: per-row correctness).

    The best mean replaces the first of ``preference`` present only if the paired bootstrap
    interval of their difference lies above zero. ``who`` and ``preferred_is`` word the reason.
    """
    names = list(row_scores)
    ranked = [n for n in preference if n in row_scores] + [n for n in names if n not in preference]
    preferred = ranked[0]
    n = len(next(iter(row_scores.values()))) if row_scores else 0
    means = {name: float(np.mean(s)) if n else float("nan") for name, s in row_scores.items()}
    table = pd.DataFrame({"accuracy": means, "n_rows": n, "fit_seconds": seconds or {},
                          "status": {name: "ok" for name in names}})
    for name, note in (notes or {}).items():
        table.loc[name, "status"] = note
    table = table.reindex(ranked + [name for name in table.index if name not in ranked])
    if n == 0:
        reason = f"{who} chose {preferred}: no labeled rows to compare the candidates on, so it keeps {preferred_is}"
        return Choice(preferred, preferred, preferred, float("nan"), (float("nan"), float("nan")), reason, table)
    best = max(ranked, key=lambda name: (means[name], -ranked.index(name)))  # ties go to the preferred
    pct = f"{confidence:.0%}"
    if best == preferred:
        runner = max((name for name in ranked if name != best), key=lambda name: means[name], default=None)
        if runner is None:
            reason = f"{who} chose {best} ({means[best]:.3f} on {n} {what}), the only candidate"
            return Choice(best, preferred, best, float("nan"), (float("nan"), float("nan")), reason, table)
        diff, low, high = paired_bootstrap(row_scores[best], row_scores[runner], n_bootstrap, confidence, random_state)
        reason = (f"{who} chose {best}: best on {n} {what} ({means[best]:.3f}), "
                  f"ahead of {runner} by {diff:+.3f} ({pct} interval {low:+.3f} to {high:+.3f}), and {preferred_is}")
        return Choice(best, preferred, best, diff, (low, high), reason, table)
    diff, low, high = paired_bootstrap(row_scores[best], row_scores[preferred], n_bootstrap, confidence, random_state)
    if low > 0:
        chosen = best
        reason = (f"{who} chose {best}: on {n} {what} it beats {preferred_is} {preferred} by {diff:+.3f} ({pct} interval {low:+.3f} to {high:+.3f}, above zero)")
    else:
        chosen = preferred
        reason = (f"{who} chose {preferred}: {best} scored {diff:+.3f} better on {n} {what}, but the {pct} interval "
                  f"{low:+.3f} to {high:+.3f} includes zero, so it keeps {preferred_is}")
    return Choice(chosen, preferred, best, diff, (low, high), reason, table)


class AutoLabelModel(BaseLabelModel):
    """The label model chosen on held-out labeled rows, then fitted on all of ``L``.

    Parameters
    ----------
    cardinality : int or None, default None
        Number of classes; None infers it in ``fit`` from ``L``, ``y``, ``L_eval`` and ``y_eval``
        (the largest class id plus one, as :class:`MajorityVote`).
    candidates : dict of str to BaseLabelModel, optional
        Unfitted models by name (cloned, with this ``cardinality``); :data:`DEFAULT_CANDIDATES` by default.
    preference : sequence of str, optional
        Which candidate to keep within noise, first first; :data:`PREFERENCE` by default.
    n_folds : int, default 3
        Folds over the labeled rows of ``y`` for the candidates that learn from labels (each
        such candidate is fitted ``n_folds + 1`` times for the comparison).
    max_rows : int, default 5,000
        Unlabeled rows (a uniform sample) the candidates are fitted on for the comparison: it
        keeps the comparison's cost flat in the pool size.
    n_bootstrap : int, default 2000
    confidence : float, default 0.95
    work_budget : int, default 2,000,000
        Most vote entries a candidate's comparison fits may process together
        (:meth:`BaseLabelModel.fit_work`, about 1.5 s on one core); a candidate above it is
        left out, and the reason says so.
    low_conflict : float, default 0.1
        Below this share of covered rows with conflicting votes, majority vote comes first in
        the default preference (kept unless another candidate beats it beyond noise).
    class_balance, tie_break : passed to every candidate that takes them
    random_state : int
        Seeds the row sample, the folds and the bootstrap.

    Attributes
    ----------
    chosen_ : str, the chosen candidate's name
    model_ : BaseLabelModel, the chosen candidate fitted on all of ``L`` (and ``y``)
    comparison_ : DataFrame, per candidate ``accuracy`` on the scored rows, ``n_rows``,
        ``fit_seconds`` (one comparison fit) and ``status`` (ok, or why it was left out)
    difference_, interval_ : the compared difference and its bootstrap interval
    reason_ : str, the choice, the interval and the reason in one sentence
    lf_accuracies_, class_balance_ : the chosen model's
    cardinality_, classes_, n_lfs_

    Examples
    --------
    >>> auto = AutoLabelModel().fit(L_train, y_train, L_eval=L_dev, y_eval=y_dev)  # doctest: +SKIP
    >>> print(auto.reason_)  # doctest: +SKIP
    """

    def __init__(self, cardinality: int | None = None, *, candidates: dict | None = None, preference: Any = None,
                 n_folds: int = 3, max_rows: int = 5_000, n_bootstrap: int = 2000, confidence: float = 0.95,
                 work_budget: int = 2_000_000, low_conflict: float = 0.1, class_balance: Any = None,
                 tie_break: str = "abstain", random_state: int | None = 0):
        self.cardinality = cardinality
        self.candidates = candidates
        self.preference = preference
        self.n_folds = n_folds
        self.max_rows = max_rows
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.work_budget = work_budget
        self.low_conflict = low_conflict
        self.class_balance = class_balance
        self.tie_break = tie_break
        self.random_state = random_state

    def uses_labels(self) -> bool:
        return True

    def _candidates(self, L_fit: np.ndarray, y_fit: np.ndarray, n_folds: int) -> tuple[dict[str, BaseLabelModel], dict[str, str]]:
        given = DEFAULT_CANDIDATES if self.candidates is None else self.candidates
        if not isinstance(given, dict) or not given:
            raise ValueError(f"candidates must be a non-empty dict of name -> label model, got {given!r}")
        m, has_labels = L_fit.shape[1], bool((y_fit != ABSTAIN).any())
        models, notes = {}, {}
        for name, model in given.items():
            if not isinstance(model, BaseLabelModel):
                raise ValueError(f"candidate {name!r} is not a label model (a BaseLabelModel), got {type(model).__name__}")
            params = {"cardinality": self.cardinality_}
            own = model.get_params()
            for shared in ("class_balance", "tie_break"):
                if shared in own:
                    params[shared] = getattr(self, shared)
            model = clone(model).set_params(**params)
            if m < model.min_lfs:
                notes[name] = f"skipped: needs at least {model.min_lfs} LFs"
            elif isinstance(model, SnorkelLabelModel) and m * self.cardinality_ > SNORKEL_MAX_LF_CLASSES:
                notes[name] = f"skipped: {m} LFs x {self.cardinality_} classes is too slow for Snorkel's model"
            elif model.uses_labels() and not has_labels and self.candidates is None and name.endswith("_semi"):
                continue  # without labels the semi-supervised default is its unsupervised twin
            else:
                uses = model.uses_labels() and has_labels
                work = model.fit_work(L_fit, y_fit if uses else None)
                n_fits = 1 + (n_folds if uses else 0)
                if work is not None and work * n_fits > self.work_budget:
                    notes[name] = (f"left out: its {n_fits} comparison fits would process {work * n_fits / 1e6:.1f}M "
                                   f"vote entries, over work_budget ({self.work_budget / 1e6:g}M)")
                else:
                    models[name] = model
        if not models:
            raise ValueError(f"no candidate label model can be fitted on {m} LFs: {notes}")
        return models, notes

    def fit(self, L: Any, y: Any = None, *, selected: Any = None, L_eval: Any = None,
            y_eval: Any = None) -> "AutoLabelModel":
        """Compare the candidates on held-out labeled rows, then fit the chosen one on ``L`` (and ``y``).

        ``y``: one entry per row of ``L``, ``ABSTAIN`` for unlabeled rows; the labeled rows are
        scored by cross-fitting, except those ``selected`` for their uncertainty (a boolean mask:
        the pool's hardest rows would judge the candidates on what no label model gets right),
        which every candidate is fitted with. ``L_eval``/``y_eval``: labeled rows no candidate is
        fitted on.
        """
        L = self._validate_fit(L, y, L_eval, y_eval)
        y = check_partial_labels(y, len(L), self.cardinality_)
        selected = check_selected(selected, y, len(L))
        for name in ("n_folds", "max_rows", "n_bootstrap", "work_budget"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (2 if name == "n_folds" else 1):
                raise ValueError(f"{name} must be an int >= {2 if name == 'n_folds' else 1}, got {value!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be strictly between 0 and 1, got {self.confidence!r}")
        if isinstance(self.low_conflict, bool) or not isinstance(self.low_conflict, (int, float)) \
                or not 0 <= self.low_conflict <= 1:
            raise ValueError(f"low_conflict must be a share between 0 and 1, got {self.low_conflict!r}")
        if (L_eval is None) != (y_eval is None):
            raise ValueError("give L_eval and y_eval together (the labeled rows to compare the candidates on)")
        if L_eval is not None:
            L_eval = check_label_matrix(L_eval, self.cardinality_)
            if L_eval.shape[1] != L.shape[1]:
                raise ValueError(f"L_eval has {L_eval.shape[1]} LF columns but L has {L.shape[1]}")
            y_eval = check_labels(y_eval, self.cardinality_, n_rows=len(L_eval), name="y_eval")
            keep = (L_eval != ABSTAIN).any(axis=1)  # where the models can differ
            L_eval, y_eval = L_eval[keep], y_eval[keep]
        else:
            L_eval, y_eval = L[:0], np.zeros(0, dtype=np.int64)
        rng = np.random.default_rng(self.random_state)
        labeled = np.flatnonzero(y != ABSTAIN) if y is not None else np.zeros(0, dtype=np.int64)
        unlabeled = np.flatnonzero(y == ABSTAIN) if y is not None else np.arange(len(L))
        sampled = len(unlabeled) > self.max_rows
        if sampled:
            unlabeled = np.sort(rng.choice(unlabeled, self.max_rows, replace=False))
        fit_rows = np.concatenate([unlabeled, labeled])
        L_fit, selected_fit = L[fit_rows], selected[fit_rows]
        lab_pos = np.arange(len(unlabeled), len(fit_rows))  # the labeled rows inside L_fit
        scored = (L[labeled] != ABSTAIN).any(axis=1) & ~selected[labeled]
        scored_lab = lab_pos[scored]
        y_scored_lab = y[labeled][scored] if y is not None else np.zeros(0, dtype=np.int64)
        folds = np.array_split(rng.permutation(len(scored_lab)), min(self.n_folds, len(scored_lab))) \
            if len(scored_lab) >= 2 else []
        y_fit = np.full(len(L_fit), ABSTAIN, dtype=np.int64)
        if y is not None:
            y_fit[lab_pos] = y[labeled]
        models, notes = self._candidates(L_fit, y_fit, len(folds))
        preference, preferred_is = tuple(self.preference or PREFERENCE), "the benchmark's first choice"
        conflict = conflict_share(L_fit)
        if self.preference is None and conflict < self.low_conflict and "majority" in models:
            preference = ("majority", *(name for name in preference if name != "majority"))
            preferred_is = (f"the first choice when votes rarely conflict ({conflict:.1%} of the covered rows, "
                            f"under low_conflict {self.low_conflict:.0%})")
        row_scores, seconds, fitted = {}, {}, {}
        for name, model in models.items():
            try:
                row_scores[name], seconds[name], fitted[name] = self._score(model, L_fit, y_fit, selected_fit, scored_lab,
                                                                            y_scored_lab, folds, L_eval, y_eval)
            except Exception as exc:  # one broken candidate must not stop the choice; it is reported
                notes[name] = f"failed: {type(exc).__name__}: {exc}"
        if not row_scores:
            raise ValueError(f"every candidate label model failed: {notes}")
        n_cross = len(scored_lab) if folds else 0
        what = " and ".join(part for part, count in ((f"{n_cross} cross-fitted labeled rows", n_cross),
                                                      (f"{len(y_eval)} evaluation rows", len(y_eval))) if count)
        choice = choose(row_scores, preference, n_bootstrap=self.n_bootstrap,
                        confidence=self.confidence, random_state=self.random_state,
                        what=f"held-out rows ({what})" if what else "labeled rows", notes=notes, seconds=seconds,
                        preferred_is=preferred_is)
        self.chosen_ = choice.chosen
        self.comparison_ = choice.scores
        self.difference_, self.interval_ = choice.difference, choice.interval
        self.reason_ = choice.reason + "".join(f"; {name} {note}" for name, note in notes.items())
        chosen = models[choice.chosen]
        # Without a sample the comparison's fit already saw every row of L and every label (the
        # labeled rows last, which no candidate's fit depends on): it is the model, not refitted.
        uses = chosen.uses_labels()
        self.model_ = fit_with_selected(clone(chosen), L, y if uses else None, selected) if sampled \
            else fitted[choice.chosen]
        self.lf_accuracies_ = self.model_.lf_accuracies_
        self.class_balance_ = self.model_.class_balance_
        return self

    def _score(self, model, L_fit, y_fit, selected_fit, scored_lab, y_scored_lab, folds, L_eval, y_eval):
        """Per-row correctness of ``model`` on the cross-fitted labeled rows then the evaluation rows,
        the seconds of one fit, and the model fitted on all of ``L_fit``."""
        start = time.perf_counter()
        uses = model.uses_labels() and bool((y_fit != ABSTAIN).any())
        full = fit_with_selected(clone(model), L_fit, y_fit if uses else None, selected_fit)
        fit_seconds = time.perf_counter() - start
        parts = []
        if folds:  # the labeled rows, in the order of scored_lab for every candidate
            if uses:
                correct = np.empty(len(scored_lab))
                for fold in folds:
                    hidden = y_fit.copy()
                    hidden[scored_lab[fold]] = ABSTAIN
                    fitted = fit_with_selected(clone(model), L_fit, hidden, selected_fit)
                    correct[fold] = expected_correct(fitted.predict_proba(L_fit[scored_lab[fold]]), y_scored_lab[fold])
                parts.append(correct)
            else:
                parts.append(expected_correct(full.predict_proba(L_fit[scored_lab]), y_scored_lab))
        if len(y_eval):
            parts.append(expected_correct(full.predict_proba(L_eval), y_eval))
        return (np.concatenate(parts) if parts else np.zeros(0)), fit_seconds, full

    def predict_proba(self, L: Any) -> np.ndarray:
        """The chosen model's probabilities."""
        check_is_fitted(self, "model_")
        L = self._validate_predict(L)
        return self.model_.predict_proba(L)


LABEL_MODELS.register("hyper", HyperLabelModel)
LABEL_MODELS.register("dawid_skene", DawidSkeneLabelModel)
LABEL_MODELS.register("weighted", WeightedVote)
LABEL_MODELS.register("auto", AutoLabelModel)


@dataclass
class HealthReport:
    """What :func:`health_check` found.

    ``chosen`` names the model the workbench uses and ``model`` is it, fitted; ``scores`` has
    one row per compared model; ``interval`` bounds the compared difference; ``messages[0]`` is
    the choice, its interval and its reason in one sentence, the rest the LF flags; ``lfs``
    has one row per LF (coverage, dev and learned accuracy, flags).
    """

    scores: pd.DataFrame
    lfs: pd.DataFrame
    chosen: str
    model: BaseLabelModel
    interval: tuple[float, float]
    messages: list[str]

    def __str__(self) -> str:
        return "\n".join(self.messages)

    def _repr_markdown_(self) -> str:
        return "\n".join(f"- {m}" for m in self.messages)


def _kind(model: BaseLabelModel) -> str:
    """The registry name of ``model``'s class, else the class name."""
    return next((name for name, cls in LABEL_MODELS.items() if cls is type(model)), type(model).__name__)


def health_check(L_train: Any, L_dev: Any, y_dev: Any, lfs=None, label_model: BaseLabelModel | None = None,
                 cardinality: int | None = None, *, y_train: Any = None, accuracy_gap: float = 0.25, min_dev_votes: int = 10,
                 broad_coverage: float = 0.5, random_state: int | None = 0) -> HealthReport:
    """Choose (or check) the label model on the dev set and flag suspicious LFs.

    - Without ``label_model``: fits :class:`AutoLabelModel` on ``L_train`` (and the labeled rows
      of ``y_train``), comparing the candidates on the dev rows and the cross-fitted labeled rows;
      the report's first message is its choice, interval and reason.
    - With a fitted :class:`AutoLabelModel`: reports its choice.
    - With another fitted model: compares it with majority vote on the covered dev rows
      (paired bootstrap); it stays ``chosen`` unless majority vote is better beyond noise.
    - Flags LFs whose learned accuracy is below chance (``1/k``: probably inverted), or differs
      from their dev accuracy by more than ``accuracy_gap`` (with at least ``min_dev_votes``
      dev votes), and broad LFs (coverage above ``broad_coverage``) that dominate the vote:
      they vote alone on at least half of their rows, or the model follows them on at least
      95% of their rows.

    ``cardinality`` is the number of classes: the fitted ``label_model``'s when None and one is
    given, else the largest class id in ``L_train``, ``L_dev``, ``y_dev`` and ``y_train`` plus one.

    Examples
    --------
    >>> report = health_check(L_train, L_dev, y_dev, lfs)  # doctest: +SKIP
    >>> print(report)  # doctest: +SKIP
    """
    if cardinality is None:
        cardinality = (int(label_model.cardinality_) if hasattr(label_model, "cardinality_")
                       else infer_cardinality(L_train, L_dev, y_dev, y_train, what="L_train, L_dev, y_dev and y_train"))
    L_train = check_label_matrix(L_train, cardinality)
    names = lf_names(lfs, L_train.shape[1])
    L_dev = check_label_matrix(L_dev, cardinality)
    if L_dev.shape[1] != L_train.shape[1]:
        raise ValueError(f"L_dev has {L_dev.shape[1]} LF columns but L_train has {L_train.shape[1]}")
    y_dev = check_labels(y_dev, cardinality, n_rows=len(L_dev), name="y_dev")
    if not (L_dev != ABSTAIN).any():
        raise ValueError(f"no LF votes on any of the {len(L_dev)} dev rows ({len(names)} LFs: "
                         f"{', '.join(names[:5])}{', ...' if len(names) > 5 else ''}), so the label model cannot be "
                         "checked against majority vote; write LFs that cover some dev examples (compare their "
                         "keywords or patterns with the dev texts, and check the text column they read)")
    if label_model is None:
        label_model = AutoLabelModel(cardinality, random_state=random_state).fit(L_train, y_train, L_eval=L_dev, y_eval=y_dev)
    check_is_fitted(label_model, "n_lfs_")
    if isinstance(label_model, AutoLabelModel):
        chosen, model, scores = label_model.chosen_, label_model.model_, label_model.comparison_
        interval, first = label_model.interval_, label_model.reason_
    else:
        given = _kind(label_model)
        given = "majority (given)" if given == "majority" else given
        mv = MajorityVote(cardinality=cardinality).fit(L_train)
        covered = (L_dev != ABSTAIN).any(axis=1)
        row_scores = {given: expected_correct(label_model.predict_proba(L_dev[covered]), y_dev[covered]),
                      "majority": expected_correct(mv.predict_proba(L_dev[covered]), y_dev[covered])}
        choice = choose(row_scores, (given, "majority"), random_state=random_state, what="covered dev rows",
                        who="the health check", preferred_is="the model given")
        chosen, scores, interval = choice.chosen, choice.scores, choice.interval
        model = label_model if chosen == given else mv
        first = choice.reason + (f"; {given} does NOT beat majority vote" if chosen != given else "")
    messages = [first[0].upper() + first[1:] + "."]

    dev_votes = (L_dev != ABSTAIN).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        dev_acc = ((L_dev == y_dev[:, None]) & (L_dev != ABSTAIN)).sum(axis=0) / dev_votes
    learned = np.asarray(model.lf_accuracies_, dtype=float)
    coverage = (L_train != ABSTAIN).mean(axis=0)
    lm_pred = model.predict(L_train, "random")
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
    return HealthReport(scores=scores, lfs=table, chosen=chosen, model=model, interval=interval, messages=messages)
