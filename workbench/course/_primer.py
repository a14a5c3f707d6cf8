"""The primer's tiny worked example: how agreement between LFs reveals their accuracy without labels."""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from workbench._internal.validation import ABSTAIN, check_label_matrix


def simulate_votes(accuracies: Sequence[float], n: int = 2000, *, coverage: float = 1.0,
                   random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Binary gold labels and the votes of independent LFs with the given accuracies.

    Each LF votes on a ``coverage`` share of the rows (abstaining elsewhere) and is right with
    probability equal to its accuracy, independently of the others: the assumption a label model makes.
    """
    acc = np.asarray(accuracies, dtype=float)
    if acc.ndim != 1 or ((acc < 0) | (acc > 1)).any():
        raise ValueError(f"accuracies must be probabilities, got {list(accuracies)}")
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must be in (0, 1], got {coverage}")
    rng = np.random.default_rng(random_state)
    y = rng.integers(0, 2, n)
    right = rng.random((n, len(acc))) < acc
    L = np.where(right, y[:, None], 1 - y[:, None])
    L[rng.random((n, len(acc))) >= coverage] = ABSTAIN
    return L.astype(np.int8), y


def accuracies_from_agreement(L) -> np.ndarray:
    """Each LF's accuracy estimated from agreement alone (binary labels, three or more LFs).

    With votes as +1/-1 and independent errors, the average product of LFs i and j where both
    vote is ``(2a_i - 1)(2a_j - 1)``. For three LFs i, j, k this gives
    ``(2a_i - 1)^2 = m_ij * m_ik / m_jk``: the accuracy of i follows from how often the three agree,
    with no label in sight. Averaged over every pair (j, k); LFs are assumed better than chance.

    Examples
    --------
    >>> L, y = simulate_votes([0.9, 0.8, 0.7], n=20000)
    >>> accuracies_from_agreement(L).round(1).tolist()
    [0.9, 0.8, 0.7]
    """
    L = check_label_matrix(L, 2)
    m = L.shape[1]
    if m < 3:
        raise ValueError(f"need at least three LFs to read accuracies from agreement, got {m}")
    signed = np.where(L == ABSTAIN, 0, 2 * L.astype(float) - 1)
    voted = (L != ABSTAIN).astype(float)
    both = voted.T @ voted
    with np.errstate(invalid="ignore", divide="ignore"):
        moment = (signed.T @ signed) / both
    estimates = []
    for i in range(m):
        others = [j for j in range(m) if j != i]
        values = [moment[i, j] * moment[i, k] / moment[j, k] for j, k in combinations(others, 2)]
        strength = np.sqrt(np.clip(np.nanmean(values), 0, 1))
        estimates.append((1 + strength) / 2)
    return np.array(estimates)


def accuracy_figure(truth: Sequence[float], estimates: dict[str, Sequence[float]], names: Sequence[str] | None = None,
                    title: str = "LF accuracy: the truth and what agreement reveals") -> go.Figure:
    """Grouped bars: each LF's true accuracy beside each estimate."""
    names = list(names) if names is not None else [f"LF {i + 1}" for i in range(len(truth))]
    fig = go.Figure()
    for label, values in {"true accuracy": truth, **estimates}.items():
        fig.add_bar(x=names, y=list(values), name=label, text=[f"{v:.0%}" for v in values], textposition="outside")
    fig.update_layout(title=title, barmode="group", yaxis=dict(title="accuracy", range=[0, 1.1], tickformat=".0%"),
                      xaxis_title="labeling function", legend=dict(orientation="h", y=-0.25), margin=dict(t=60, b=90))
    return fig


def split_roles(dataset) -> pd.DataFrame:
    """One row per split of ``dataset``: its size, whether its labels are visible, and what it is for."""
    roles = {
        "train": ("no (hidden)", "the unlabeled pool: LFs and generators label it; the end model trains on the result"),
        "seed": ("yes", "a few human labels that may be trained on: an anchor, and the seeds of pseudo-labeling"),
        "dev": ("yes", "read while writing LFs, and where auto compares the label models; because you looked, its "
                       "numbers flatter your LFs"),
        "valid": ("yes", "every choice: thresholds, generator, targets, temperature, early stopping"),
        "test": ("yes", "the verdict, reported after the choices are made; never trained or tuned on"),
        "canary": ("yes", "looked at once, as the gate before export; never trained, tuned or read while developing"),
    }
    rows = [{"split": s, "rows": len(dataset[s]), "labels visible": roles.get(s, ("?", ""))[0],
             "what it is for": roles.get(s, ("", "(your own split)"))[1]} for s in dataset.splits]
    return pd.DataFrame(rows).set_index("split")
