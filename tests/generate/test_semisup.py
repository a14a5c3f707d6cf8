import numpy as np
import pytest

from tests._helpers import synthetic_votes
from workbench.generate import DawidSkeneLabelModel, MajorityVote
from workbench.labeling import ABSTAIN


def unipolar_votes(n=4000, seed=0, rates=((0.5, 0.05), (0.4, 0.1), (0.05, 0.5), (0.1, 0.3))):
    """Keyword-like LFs: LF j votes one class, firing at rate (on class 1, on class 0)."""
    rng = np.random.default_rng(seed)
    Y = rng.integers(0, 2, n)
    targets = [1, 1, 0, 0]
    L = np.full((n, len(rates)), ABSTAIN, dtype=np.int8)
    for j, (on_one, on_zero) in enumerate(rates):
        fires = rng.random(n) < np.where(Y == 1, on_one, on_zero)
        L[fires, j] = targets[j]
    return L, Y


def test_silence_is_evidence_for_one_class_lfs():
    """Every LF votes one class: majority vote only counts votes, the model also learns when each LF fires."""
    L, Y = unipolar_votes()
    covered = (L != ABSTAIN).any(axis=1)
    ds = DawidSkeneLabelModel(use_labels=False).fit(L)
    mv = MajorityVote().fit(L)
    assert ds.score(L[covered], Y[covered]) > mv.metrics(L[covered], Y[covered], tie_break="random")["accuracy"]
    assert ds.confusion_.shape == (4, 2, 3)
    # LF 0 fires on class 1 ten times as often as on class 0: the fitted rates say so.
    fire_rate = 1 - ds.confusion_[:, :, 2]
    assert fire_rate[0, 1] > 5 * fire_rate[0, 0]


def test_labeled_rows_anchor_the_classes_when_the_votes_mislead():
    """Every LF is right only a fifth of the time: unsupervised EM follows the votes, labels turn it round."""
    rng = np.random.default_rng(3)
    Y = rng.integers(0, 2, 3000)
    L = np.where(rng.random((3000, 5)) < 0.8, 1 - Y[:, None], Y[:, None]).astype(np.int8)
    y = np.where(np.arange(len(Y)) < 100, Y, ABSTAIN)
    free = DawidSkeneLabelModel(use_labels=False).fit(L)
    anchored = DawidSkeneLabelModel().fit(L, y)
    assert free.score(L, Y) < 0.2 and anchored.score(L, Y) > 0.8
    assert (anchored.lf_accuracies_ < 0.3).all() and anchored.n_labeled_ == 100
    ignoring = DawidSkeneLabelModel(use_labels=False).fit(L, y)
    np.testing.assert_allclose(ignoring.predict_proba(L), free.predict_proba(L))


def test_fit_is_the_same_on_shuffled_rows(rng):
    L, _ = synthetic_votes(n=1000, k=3, seed=5)
    order = rng.permutation(len(L))
    a = DawidSkeneLabelModel(3, use_labels=False).fit(L)
    b = DawidSkeneLabelModel(3, use_labels=False).fit(L[order])
    np.testing.assert_allclose(a.predict_proba(L), b.predict_proba(L), atol=1e-10)


@pytest.mark.parametrize("params, message", [
    ({"label_weight": -1}, "label_weight must be a number >= 0"),
    ({"prior_accuracy": 1.0}, "prior_accuracy must be strictly between 0 and 1"),
    ({"n_iter": 0}, "n_iter must be an int >= 1"),
])
def test_bad_settings_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        DawidSkeneLabelModel(**params).fit(np.array([[0, 1], [1, 1]]))


def test_the_accuracy_prior_is_counted_in_votes_whatever_the_coverage():
    """A strong prior holds a rare LF's accuracy near prior_accuracy: its pseudo-votes are not
    scaled down by its coverage (they were, and a rare LF's accuracy was then set by a handful of votes)."""
    rng = np.random.default_rng(4)
    n = 20_000
    Y = rng.integers(0, 2, n)

    def lf(coverage, accuracy):
        return np.where(rng.random(n) < coverage, np.where(rng.random(n) < accuracy, Y, 1 - Y), ABSTAIN)

    L = np.column_stack([lf(0.3, 0.75), lf(0.3, 0.75), lf(0.3, 0.75), lf(0.005, 0.95)]).astype(np.int8)
    free = DawidSkeneLabelModel(use_labels=False, prior_strength=0).fit(L)
    held = DawidSkeneLabelModel(use_labels=False, prior_strength=1000, prior_accuracy=0.6).fit(L)
    assert free.lf_accuracies_[3] > 0.85
    assert abs(held.lf_accuracies_[3] - 0.6) < 0.05


@pytest.mark.parametrize("seed", [0, 2])
def test_selected_rows_are_clamped_but_not_counted_as_a_sample(seed):
    """Answers on the rows the model is least sure of, fitted as a sample, make some LFs look much worse than they
    are; clamped at one row's weight and kept out of the start, they leave the estimates near the truth."""
    L, Y = unipolar_votes(seed=seed)
    fires = L != ABSTAIN
    truth = np.array([(L[fires[:, j], j] == Y[fires[:, j]]).mean() for j in range(L.shape[1])])
    P = DawidSkeneLabelModel(use_labels=False).fit(L).predict_proba(L)
    hardest = np.argsort(np.abs(P[:, 1] - P[:, 0]), kind="stable")[:40]
    y = np.full(len(Y), ABSTAIN)
    y[hardest] = Y[hardest]
    as_sample = DawidSkeneLabelModel().fit(L, y)
    selected = DawidSkeneLabelModel().fit(L, y, selected=y != ABSTAIN)
    assert np.abs(as_sample.lf_accuracies_ - truth).max() > 0.06
    assert np.abs(selected.lf_accuracies_ - truth).max() < 0.03
    assert selected.n_labeled_ == 40
