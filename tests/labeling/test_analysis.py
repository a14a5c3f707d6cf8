import numpy as np
import pandas as pd
import pytest
from snorkel.labeling import LFAnalysis

from workbench.labeling import (
    conflict_matrix,
    conflict_rate,
    examples,
    lf_summary,
    overlap_matrix,
    total_coverage,
)


@pytest.mark.parametrize("k", [2, 3, 6])
def test_lf_summary_equals_snorkel(k):
    rng = np.random.default_rng(k)
    L = rng.integers(0, k, size=(400, 7))
    L[rng.random(L.shape) < 0.6] = -1
    Y = rng.integers(0, k, 400)
    names = [f"lf{j}" for j in range(7)]
    ours = lf_summary(L.astype(np.int8), names, Y)
    theirs = LFAnalysis(L).lf_summary(Y)
    assert list(ours.columns) == ["j", "Polarity", "Coverage", "Overlaps", "Conflicts", "Correct", "Incorrect", "Emp. Acc."]
    assert list(ours.index) == names
    for col in ["Coverage", "Overlaps", "Conflicts", "Correct", "Incorrect", "Emp. Acc."]:
        np.testing.assert_allclose(ours[col].to_numpy(float), theirs[col].to_numpy(float), err_msg=col)
    assert list(ours["Polarity"]) == list(theirs["Polarity"])


def test_lf_summary_without_gold_and_with_learned_weights():
    L = np.array([[0, -1], [1, 1], [-1, 1]])
    s = lf_summary(L, ["a", "b"], est_weights=[0.9, 0.8])
    assert "Correct" not in s.columns and s.loc["b", "Learned Weight"] == 0.8
    assert s.loc["a", "Polarity"] == [0, 1]


L_SMALL = np.array([
    [0, 0, -1],
    [0, 1, -1],
    [-1, 1, 1],
    [-1, -1, -1],
])


def test_pairwise_matrices_on_known_matrix():
    O = overlap_matrix(L_SMALL, ["a", "b", "c"])
    C = conflict_matrix(L_SMALL, ["a", "b", "c"])
    assert O.loc["a", "b"] == 0.5 and O.loc["b", "c"] == 0.25 and O.loc["a", "c"] == 0
    assert O.loc["b", "b"] == 0.75  # diagonal: coverage
    assert C.loc["a", "b"] == C.loc["b", "a"] == 0.25 and C.loc["b", "c"] == 0 and C.loc["a", "a"] == 0
    assert total_coverage(L_SMALL) == 0.75
    assert conflict_rate(L_SMALL) == 0.25


def test_examples_kinds():
    df = pd.DataFrame({"example_id": list("wxyz"), "text": ["t0", "t1", "t2", "t3"]})
    names = ["a", "b", "c"]
    Y = np.array([0, 1, 1, 0])
    assert examples(df, L_SMALL, names, "fires", lf="c").example_id.tolist() == ["y"]
    assert examples(df, L_SMALL, names, "wrong", lf="a", Y=Y).example_id.tolist() == ["x"]
    assert examples(df, L_SMALL, names, "conflict", lf="a", other="b").example_id.tolist() == ["x"]
    assert examples(df, L_SMALL, names, "conflict").example_id.tolist() == ["x"]
    out = examples(df, L_SMALL, names, "abstain", proba=np.full((4, 2), 0.5), Y=Y)
    assert out.example_id.tolist() == ["z"]
    assert list(out.columns) == ["example_id", "text", "vote_a", "vote_b", "vote_c", "gold", "proba_0", "proba_1"]


def test_examples_and_summary_validate_inputs():
    df = pd.DataFrame({"text": ["a"] * 4})
    with pytest.raises(KeyError, match="no LF named 'nope'"):
        examples(df, L_SMALL, ["a", "b", "c"], "fires", lf="nope")
    with pytest.raises(ValueError, match="needs gold labels"):
        examples(df, L_SMALL, ["a", "b", "c"], "wrong", lf="a")
    with pytest.raises(ValueError, match="2 LF names for a label matrix with 3 columns"):
        lf_summary(L_SMALL, ["a", "b"])
    with pytest.raises(ValueError, match="Y has 3 labels"):
        lf_summary(L_SMALL, None, [0, 1, 0])
    with pytest.raises(ValueError, match="holds -2"):
        lf_summary(np.array([[-2]]))
