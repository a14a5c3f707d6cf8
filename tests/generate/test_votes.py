import numpy as np
import pytest

from workbench.generate._votes import (
    agreement_accuracies,
    check_partial_labels,
    check_selected,
    compress,
    unselected_labels,
    vote_indicator,
)
from workbench.labeling import ABSTAIN


def test_compress_gives_the_distinct_rows_their_counts_and_the_way_back(rng):
    L = rng.integers(-1, 3, size=(500, 4)).astype(np.int8)
    patterns, inverse, counts = compress(L)
    np.testing.assert_array_equal(patterns[inverse], L)
    assert counts.sum() == 500 and len(np.unique(patterns, axis=0)) == len(patterns)
    np.testing.assert_array_equal(counts, np.bincount(inverse))


def test_vote_indicator_marks_each_vote_once():
    L = np.array([[1, -1], [0, 1]])
    V = vote_indicator(L, 2).toarray()
    np.testing.assert_array_equal(V, [[0, 1, 0, 0], [1, 0, 0, 1]])


def test_agreement_accuracies_are_the_probability_given_to_each_vote():
    L = np.array([[1, 0], [1, -1], [-1, -1]])
    proba = np.array([[0.2, 0.8], [0.4, 0.6], [0.5, 0.5]])
    np.testing.assert_allclose(agreement_accuracies(L, proba)[0], (0.8 + 0.6) / 2)
    np.testing.assert_allclose(agreement_accuracies(L, proba)[1], 0.2)
    # Pattern counts weigh rows as if repeated.
    np.testing.assert_allclose(agreement_accuracies(L, proba, weights=[3, 1, 1])[0], (3 * 0.8 + 0.6) / 4)
    assert np.isnan(agreement_accuracies(np.array([[-1], [-1]]), proba[:2]))[0]


def test_partial_labels_are_checked_against_the_rows_and_classes():
    assert check_partial_labels(None, 3, 2) is None
    assert check_partial_labels([ABSTAIN] * 3, 3, 2) is None  # no labeled row: nothing to learn from
    assert check_partial_labels([1, ABSTAIN, 0], 3, 2).tolist() == [1, -1, 0]
    with pytest.raises(ValueError, match=r"y has 2 labels; expected 3"):
        check_partial_labels([1, 0], 3, 2)
    with pytest.raises(ValueError, match=r"y\[2\] = 2 is outside -1..1"):
        check_partial_labels([1, 0, 2], 3, 2)


def test_selected_marks_labeled_rows_only_and_bad_masks_are_named():
    y = np.array([1, ABSTAIN, 0, ABSTAIN])
    assert check_selected(np.array([True, True, False, False]), y, 4).tolist() == [True, False, False, False]
    assert check_selected(None, y, 4).tolist() == [False] * 4
    assert check_selected(np.ones(4, bool), None, 4).tolist() == [False] * 4
    with pytest.raises(ValueError, match=r"selected must be a boolean array with one entry per row of L \(4 rows\)"):
        check_selected(np.array([1, 0, 1, 0]), y, 4)
    with pytest.raises(ValueError, match="shape \\(3,\\)"):
        check_selected(np.ones(3, bool), y, 4)
    assert unselected_labels(y, np.array([True, False, False, False])).tolist() == [ABSTAIN, ABSTAIN, 0, ABSTAIN]
    assert unselected_labels(y, np.array([True, False, True, False])) is None
