"""Agreement between reviewers: Cohen's kappa and the disagreements."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score

from workbench.review._store import LABEL, ProjectStore

# -- agreement -------------------------------------------------------------------------


@dataclass
class Agreement:
    """Agreement of two reviewers on the examples both labeled."""

    reviewers: tuple[str, str]
    n_common: int
    kappa: float
    observed_agreement: float
    disagreements: pd.DataFrame

    def __repr__(self) -> str:
        a, b = self.reviewers
        return (f"Agreement({a!r} vs {b!r}: {self.n_common} examples in common, kappa={self.kappa:.3f}, "
                f"observed={self.observed_agreement:.3f}, {len(self.disagreements)} disagreements)")


def reviewer_agreement(
    store_or_decisions: ProjectStore | pd.DataFrame,
    reviewer_a: str | None = None,
    reviewer_b: str | None = None,
    *,
    class_names: Sequence[str] | None = None,
) -> Agreement:
    """Cohen's kappa (scikit-learn) between two reviewers, and the examples they disagree on.

    Uses each reviewer's latest standing label on the examples both labeled (skip
    and unsure are not labels). With exactly two reviewers in the store the names
    may be omitted. Kappa is NaN when it is undefined (both gave one same class).

    Examples
    --------
    >>> reviewer_agreement(store, "ana", "bo").kappa  # doctest: +SKIP
    0.81
    """
    if isinstance(store_or_decisions, ProjectStore):
        class_names = class_names or store_or_decisions.class_names
        decisions = store_or_decisions.decisions(latest=True)
    else:
        decisions = store_or_decisions.drop_duplicates(["example_id", "reviewer"], keep="last")
    labels = decisions[decisions["outcome"] == LABEL]
    if reviewer_a is None or reviewer_b is None:
        names = sorted(labels["reviewer"].unique())
        if len(names) != 2:
            raise ValueError(f"name the two reviewers to compare; reviewers with labels: {names}")
        reviewer_a, reviewer_b = names
    by = labels.pivot_table(index="example_id", columns="reviewer", values="label", aggfunc="last")
    for r in (reviewer_a, reviewer_b):
        if r not in by.columns:
            raise ValueError(f"reviewer {r!r} has no labels; reviewers with labels: {sorted(by.columns)}")
    both = by[[reviewer_a, reviewer_b]].dropna().astype(int)
    if both.empty:
        raise ValueError(f"reviewers {reviewer_a!r} and {reviewer_b!r} have labeled no example in common")
    a, b = both[reviewer_a].to_numpy(), both[reviewer_b].to_numpy()
    k = max(int(both.to_numpy().max()) + 1, len(class_names or []))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        kappa = float(cohen_kappa_score(a, b, labels=list(range(k))))
    differ = both[a != b].reset_index()
    if class_names:
        for r in (reviewer_a, reviewer_b):
            differ[r] = [class_names[v] for v in differ[r]]
    differ.columns.name = None
    return Agreement(
        reviewers=(reviewer_a, reviewer_b),
        n_common=len(both),
        kappa=kappa,
        observed_agreement=float((a == b).mean()),
        disagreements=differ,
    )
