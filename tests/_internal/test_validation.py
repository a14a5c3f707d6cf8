"""One validator set: probabilities, labels and label matrices, with one tolerance."""

import numpy as np
import pytest

from workbench._internal.validation import (
    ABSTAIN,
    PROBA_TOLERANCE,
    check_label_matrix,
    check_labels,
    check_proba,
    covered,
    label_dtype,
    lf_names,
)


def test_check_proba_accepts_rows_within_the_one_tolerance_and_clips_them():
    off = PROBA_TOLERANCE / 2
    P = check_proba([[0.5 + off, 0.5], [1.0, -off / 10]])
    assert P.min() >= 0 and P.max() <= 1


@pytest.mark.parametrize("proba, message", [
    ([[0.5, 0.5 + 3 * PROBA_TOLERANCE]], "row 0 is not a probability distribution"),
    ([[0.2, 0.8], [1.2, -0.2]], "row 1 is not a probability distribution"),
    ([[np.nan, 1.0]], "non-finite value on row 0"),
    ([[1.0]], "shape"),
])
def test_check_proba_names_the_first_bad_row(proba, message):
    with pytest.raises(ValueError, match=message):
        check_proba(proba, name="proba")


def test_check_proba_reads_a_vector_as_binary_and_checks_the_row_count():
    assert check_proba([0.25, 1.0]).tolist() == [[0.75, 0.25], [0.0, 1.0]]
    with pytest.raises(ValueError, match="teacher has 2 rows; expected 3"):
        check_proba([0.25, 1.0], 3, name="teacher")


def test_check_labels_range_abstain_and_whole_floats():
    assert check_labels([0.0, 2.0], 3).dtype == np.int64
    assert check_labels([ABSTAIN, 1], 2, allow_abstain=True).tolist() == [-1, 1]
    with pytest.raises(ValueError, match=r"labels\[0\] = -1 is outside 0..1"):
        check_labels([ABSTAIN, 1], 2)
    with pytest.raises(ValueError, match="class_names="):
        check_labels(["ham", "spam"], 2)
    with pytest.raises(ValueError, match="y has 1 labels; expected 2"):
        check_labels([1], 2, n_rows=2, name="y")


def test_check_labels_names_the_first_label_that_is_not_a_class_id():
    with pytest.raises(ValueError, match=r"y\[2\] = 1.5 is not a class id: .* \(2 such labels;"):
        check_labels([0, 1, 1.5, np.nan], 2, name="y")
    with pytest.raises(ValueError, match=r"y\[1\] = 'spam' is not a class id: .*class_names="):
        check_labels(np.array([0, "spam"], dtype=object), name="y")


def test_label_matrix_helpers():
    L = np.array([[ABSTAIN, 1], [ABSTAIN, ABSTAIN]])
    assert covered(L).tolist() == [True, False]
    with pytest.raises(ValueError, match="2-D"):
        check_label_matrix(L[0])
    assert check_label_matrix(L, cardinality=2) is not None
    with pytest.raises(ValueError, match=r"label 1 \(LF column 1, row 0\) but cardinality is 1"):
        check_label_matrix(L, cardinality=1)
    assert lf_names(None, 2) == ["lf_0", "lf_1"]
    with pytest.raises(ValueError, match="1 LF names for a label matrix with 2 columns"):
        lf_names(["a"], 2)


def test_label_dtype_is_the_smallest_that_holds_every_class():
    assert label_dtype(2) == np.int8 and label_dtype(128) == np.int8 and label_dtype(129) == np.int16
