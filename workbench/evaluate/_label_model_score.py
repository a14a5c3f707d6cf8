"""The one way label-model accuracy is counted and named, in notebooks, README and pipeline report.

A label model cannot label a row no LF votes on, and a tie between classes is no label either.
Counting those rows differently gave one LF set three "label model accuracies" (a random
tie-break, abstentions as errors, the class prior for uncovered rows). The convention here:

- uncovered rows and ties **abstain**, whatever the model would guess from its class prior;
- ``accuracy`` counts an abstention as an **error** (the headline: what the labels are worth
  over the whole set); ``accuracy_covered`` is over the rows the model labels; ``coverage``
  is their share;
- every printed number names its model, its split and this policy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from workbench._internal.validation import ABSTAIN, check_labels, check_label_matrix, covered
from workbench.generate._labelmodel import proba_to_labels

ABSTAIN_POLICY = "rows no LF covers and ties abstain; abstentions count as errors"

_MODEL_NAMES = {"MajorityVote": "majority vote", "SnorkelLabelModel": "Snorkel's label model",
                "HyperLabelModel": "hyper label model", "DawidSkeneLabelModel": "Dawid-Skene label model",
                "WeightedVote": "weighted vote"}


def label_model_name(model: Any) -> str:
    """How a label model is called in print: ``majority vote``, ``Snorkel's label model``, ``hyper label
    model (semi-supervised)`` (a model that learned from labeled rows), ``auto: <its choice>``, else its
    class name."""
    if hasattr(model, "chosen_") and hasattr(model, "model_"):  # AutoLabelModel: name what it chose
        return f"auto: {label_model_name(model.model_)}"
    name = type(model).__name__
    name = _MODEL_NAMES.get(name, name)
    if getattr(model, "use_labels", False) and getattr(model, "n_labeled_", 0):
        name += " (semi-supervised)"
    return name


@dataclass(frozen=True)
class LabelModelScore:
    """A label model's accuracy under the one convention (see the module docstring)."""

    model: str
    split: str
    accuracy: float
    accuracy_covered: float
    coverage: float
    f1_macro: float
    n: int
    policy: str = ABSTAIN_POLICY

    def __str__(self) -> str:
        return (f"{self.model} on {self.split} ({self.n} rows): accuracy {self.accuracy:.3f} with abstentions "
                f"counted as errors; {self.accuracy_covered:.3f} on the {self.coverage:.0%} of rows it labels")

    def to_dict(self) -> dict:
        return asdict(self)


def label_model_labels(model: Any, L: Any) -> np.ndarray:
    """A fitted label model's labels under the convention: ``ABSTAIN`` on rows no LF covers and on ties.

    Give these (not ``predict_proba``) to :func:`workbench.evaluate.compare_models` so a label
    model is compared the same way everywhere.

    Examples
    --------
    >>> from workbench.generate import MajorityVote
    >>> L = np.array([[1, 1], [0, 1], [-1, -1]])
    >>> label_model_labels(MajorityVote().fit(L), L).tolist()
    [1, -1, -1]
    """
    L = check_label_matrix(L, int(model.cardinality_))
    labels = proba_to_labels(model.predict_proba(L), tie_break="abstain")
    labels[~covered(L)] = ABSTAIN
    return labels


def label_model_score(model: Any, L: Any, y: Any, *, split: str = "test", name: str | None = None) -> LabelModelScore:
    """Score a fitted label model on ``(L, y)`` with the one abstain convention.

    Parameters
    ----------
    model : fitted label model
        Anything with ``predict_proba(L)`` and ``cardinality_`` (the fitted ``workbench.generate`` models).
    L : array of shape (n, m)
        The LF votes on a labeled split.
    y : array of shape (n,)
        Its gold labels.
    split : str
        The split's name, for the printed line.
    name : str, optional
        The model's name in print (default :func:`label_model_name`).

    Examples
    --------
    >>> from workbench.generate import MajorityVote
    >>> L = np.array([[1, 1], [0, -1], [0, 1], [-1, -1]])
    >>> score = label_model_score(MajorityVote().fit(L), L, [1, 0, 0, 1], split="dev")
    >>> score.accuracy, score.accuracy_covered, score.coverage
    (0.5, 1.0, 0.5)
    >>> print(score)
    majority vote on dev (4 rows): accuracy 0.500 with abstentions counted as errors; 1.000 on the 50% of rows it labels
    """
    k = int(model.cardinality_)
    labels = label_model_labels(model, L)
    y = check_labels(y, k, n_rows=len(labels), name="y")
    got = labels != ABSTAIN
    return LabelModelScore(
        model=name or label_model_name(model),
        split=split,
        accuracy=float((labels == y).mean()) if len(y) else float("nan"),
        accuracy_covered=float((labels[got] == y[got]).mean()) if got.any() else float("nan"),
        coverage=float(got.mean()) if len(y) else float("nan"),
        f1_macro=float(f1_score(y, labels, labels=list(range(k)), average="macro", zero_division=0)),
        n=int(len(y)),
    )
