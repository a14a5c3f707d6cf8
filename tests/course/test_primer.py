"""The primer's worked example: agreement alone gives back the accuracies of independent LFs."""

import numpy as np
import pytest

from workbench import load_youtube_spam
from workbench.course import accuracies_from_agreement, accuracy_figure, simulate_votes, split_roles


def test_simulated_lfs_have_the_accuracies_and_coverage_asked_for():
    L, y = simulate_votes([0.9, 0.6], n=20000, coverage=0.5, random_state=1)
    voted = L != -1
    assert voted.mean(axis=0) == pytest.approx([0.5, 0.5], abs=0.02)
    assert ((L == y[:, None]) & voted).sum(axis=0) / voted.sum(axis=0) == pytest.approx([0.9, 0.6], abs=0.02)


def test_accuracies_are_read_from_agreement_without_labels():
    truth = [0.95, 0.85, 0.75, 0.65]
    L, _ = simulate_votes(truth, n=40000, coverage=0.8, random_state=2)
    assert accuracies_from_agreement(L) == pytest.approx(truth, abs=0.02)


def test_bad_input():
    with pytest.raises(ValueError, match="at least three LFs"):
        accuracies_from_agreement(np.array([[0, 1], [1, 1]]))
    with pytest.raises(ValueError, match="probabilities"):
        simulate_votes([1.2])


def test_figure_and_split_table():
    fig = accuracy_figure([0.9, 0.8], {"estimate": [0.88, 0.81]})
    assert [t.name for t in fig.data] == ["true accuracy", "estimate"]
    assert fig.layout.yaxis.title.text == "accuracy" and fig.layout.xaxis.title.text == "labeling function"
    ds = load_youtube_spam()
    table = split_roles(ds)
    assert list(table.index) == list(ds.splits)
    assert table.loc["train", "rows"] == len(ds.train) and table.loc["train", "labels visible"] == "no (hidden)"
