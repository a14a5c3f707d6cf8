import numpy as np
import pytest

from tests._helpers import synthetic_votes
from workbench.generate import DawidSkeneLabelModel, WeightedVote
from workbench.labeling import ABSTAIN


def test_weights_follow_the_accuracy_labeled_rows_show():
    L, Y = synthetic_votes(n=3000, accuracies=(0.95, 0.6, 0.75), coverage=0.7, seed=1)
    y = np.where(np.arange(len(Y)) < 1000, Y, ABSTAIN)
    model = WeightedVote(prior_strength=1.0).fit(L, y)
    assert model.weights_[0] > model.weights_[2] > model.weights_[1] > 0
    np.testing.assert_allclose(model.lf_accuracies_, [0.95, 0.6, 0.75], atol=0.04)
    assert model.n_labeled_ == 1000


def test_few_labeled_rows_lean_on_the_label_free_estimate():
    L, Y = synthetic_votes(n=2000, accuracies=(0.9, 0.7, 0.8), seed=2)
    free = DawidSkeneLabelModel(use_labels=False).fit(L).lf_accuracies_
    unlabeled = WeightedVote().fit(L)
    np.testing.assert_allclose(unlabeled.lf_accuracies_, free)
    # Two labeled rows where LF 0 is wrong: with 10 pseudo-votes its estimate moves a little, without them all the way.
    y = np.full(len(Y), ABSTAIN)
    rows = np.flatnonzero((L[:, 0] != ABSTAIN) & (L[:, 0] != Y))[:2]
    y[rows] = Y[rows]
    smoothed = WeightedVote(prior_strength=10).fit(L, y).lf_accuracies_[0]
    raw = WeightedVote(prior_strength=0).fit(L, y).lf_accuracies_[0]
    assert raw == 0.0 and free[0] - 0.2 < smoothed < free[0]


def test_an_lf_below_chance_counts_against_the_class_it_votes():
    L, Y = synthetic_votes(n=3000, accuracies=(0.8, 0.75, 0.85), seed=4, invert=2)
    y = np.where(np.arange(len(Y)) < 500, Y, ABSTAIN)
    model = WeightedVote().fit(L, y)
    assert model.weights_[2] < 0
    only_inverted = np.array([[ABSTAIN, ABSTAIN, 1]])
    assert model.predict(only_inverted).tolist() == [0]


def test_prior_strength_is_checked():
    with pytest.raises(ValueError, match="prior_strength must be a number >= 0"):
        WeightedVote(prior_strength=-2).fit(np.array([[0, 1], [1, 1]]))


def test_the_label_free_estimate_is_remembered_per_matrix_and_never_shared():
    """Cross-fitting refits the weighted vote on one matrix with other labels hidden: the label-free
    estimate is computed once per matrix, and a caller changing what it got changes nothing."""
    from workbench.generate._weighted import label_free_accuracies

    L, _ = synthetic_votes(n=1500, seed=11)
    first = label_free_accuracies(L, 2)
    first[:] = 0.0
    again = label_free_accuracies(L, 2)
    np.testing.assert_allclose(again, DawidSkeneLabelModel(use_labels=False).fit(L).lf_accuracies_)
    other = label_free_accuracies(L[::-1].copy(), 2)  # another matrix: its own estimate
    assert other is not again and not np.all(again == 0)


def test_selected_labels_are_left_out_of_the_counts():
    """Answers on the hardest rows, counted, would make every LF look worse: the weights ignore them."""
    L, Y = synthetic_votes(n=2000, seed=4)
    y = np.where(np.arange(len(Y)) < 200, Y, ABSTAIN)
    selected = np.arange(len(Y)) < 100
    with_selected = WeightedVote().fit(L, y, selected=selected)
    without = WeightedVote().fit(L, np.where(selected, ABSTAIN, y))
    np.testing.assert_allclose(with_selected.lf_accuracies_, without.lf_accuracies_)
    np.testing.assert_allclose(with_selected.class_balance_, without.class_balance_)
    assert with_selected.n_labeled_ == 100
    assert not np.allclose(WeightedVote().fit(L, y).lf_accuracies_, without.lf_accuracies_)
