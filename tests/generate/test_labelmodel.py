import numpy as np
import pytest

from workbench.generate import (
    MajorityVote,
    SnorkelLabelModel,
    fit_label_model,
    health_check,
    probs_to_preds,
)


def synthetic_L(n=3000, k=2, accuracies=(0.9, 0.85, 0.8, 0.75, 0.7), coverage=0.6, seed=0, invert=None):
    """LFs with known accuracies voting on known gold labels."""
    rng = np.random.default_rng(seed)
    Y = rng.integers(0, k, n)
    L = np.full((n, len(accuracies)), -1, dtype=np.int8)
    for j, acc in enumerate(accuracies):
        fires = rng.random(n) < coverage
        right = rng.random(n) < acc
        wrong = (Y + rng.integers(1, k, n)) % k
        votes = np.where(right, Y, wrong)
        if invert == j:
            votes = np.where(right, wrong, Y)
        L[fires, j] = votes[fires]
    return L, Y


def test_majority_vote_probabilities_and_ties():
    L = np.array([[1, 1, 0], [0, 1, -1], [-1, -1, -1]])
    mv = MajorityVote().fit(L)
    np.testing.assert_allclose(mv.predict_proba(L), [[1 / 3, 2 / 3], [0.5, 0.5], [0.5, 0.5]])
    assert mv.predict(L).tolist() == [1, -1, -1]
    assert mv.predict(L, tie_break="prior").tolist()[0] == 1
    balanced = MajorityVote(class_balance=[0.8, 0.2]).fit(L)
    assert balanced.predict(L).tolist() == [1, -1, 0]  # uncovered row takes the known balance


def test_tie_break_policies():
    P = np.array([[0.5, 0.5, 0.0], [0.2, 0.4, 0.4], [0.1, 0.8, 0.1]])
    assert probs_to_preds(P, "abstain").tolist() == [-1, -1, 1]
    assert probs_to_preds(P, "prior", prior=np.array([0.1, 0.2, 0.7])).tolist() == [1, 2, 1]
    random_preds = probs_to_preds(P, "random", seed=3)
    assert random_preds[0] in (0, 1) and random_preds[1] in (1, 2)
    assert probs_to_preds(P, "random", seed=3).tolist() == random_preds.tolist()
    with pytest.raises(ValueError, match="tie_break must be one of"):
        probs_to_preds(P, "coin")


@pytest.mark.parametrize("k", [2, 3])
def test_label_model_recovers_accuracies_and_beats_chance(k):
    L, Y = synthetic_L(k=k)
    lm = SnorkelLabelModel(cardinality=k).fit(L)
    P = lm.predict_proba(L)
    assert P.shape == (len(L), k) and np.allclose(P.sum(axis=1), 1)
    covered = (L != -1).any(axis=1)
    assert (lm.predict(L[covered], "random") == Y[covered]).mean() > 0.85
    learned = lm.lf_accuracies_
    assert learned[0] > learned[-1]  # ordering of the planted accuracies survives


def test_score_counts_abstentions_as_errors():
    L = np.array([[1, 1, -1], [0, -1, -1], [-1, -1, -1], [0, 1, -1]])
    mv = MajorityVote().fit(L)
    s = mv.score(L, [1, 0, 0, 0])
    assert s["coverage"] == 0.5 and s["accuracy"] == 0.5 and s["accuracy_covered"] == 1.0


def test_inputs_are_validated():
    with pytest.raises(ValueError, match="label 2 but cardinality is 2"):
        MajorityVote().fit(np.array([[2, 0, 1]]))
    with pytest.raises(ValueError, match="at least 3 LFs"):
        SnorkelLabelModel().fit(np.array([[0, 1], [1, 1]]))
    with pytest.raises(ValueError, match="class_balance"):
        MajorityVote(class_balance=[0.5, 0.6])
    with pytest.raises(ValueError, match="unknown label model 'dawid'"):
        fit_label_model("dawid", np.zeros((2, 3), int))
    mv = MajorityVote().fit(np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="fitted on 3"):
        mv.predict_proba(np.zeros((2, 4), int))


def test_health_check_flags_inverted_lf_and_picks_a_model():
    L, Y = synthetic_L(n=4000, invert=2, coverage=0.7)
    dev = slice(0, 500)
    report = health_check(L, L[dev], Y[dev], [f"lf{j}" for j in range(5)])
    assert report.chosen in ("label_model", "majority_vote")
    assert set(report.scores.index) == {"majority_vote", "label_model"}
    assert report.lfs.loc["lf2", "inverted"] and report.lfs.loc["lf2", "dev_accuracy"] < 0.5
    assert not report.lfs.loc["lf0", "inverted"]
    assert any("'lf2'" in m and "below chance" in m for m in report.messages)


def test_health_check_says_when_label_model_does_not_beat_majority_vote():
    L, Y = synthetic_L(n=3000)
    dev = slice(0, 400)

    class Worse(SnorkelLabelModel):
        def predict_proba(self, L):  # a label model that always says class 0
            return np.tile([1.0, 0.0], (len(L), 1))

    report = health_check(L, L[dev], Y[dev], None, label_model=Worse().fit(L))
    assert report.chosen == "majority_vote"
    assert "does NOT beat majority vote" in str(report)


def test_health_check_flags_dominant_broad_lf():
    rng = np.random.default_rng(1)
    Y = rng.integers(0, 2, 3000)
    broad = np.where(rng.random(3000) < 0.9, Y, 1 - Y)
    small = [np.where(rng.random(3000) < 0.1, np.where(rng.random(3000) < 0.7, Y, 1 - Y), -1) for _ in range(3)]
    L = np.column_stack([broad, *small])
    report = health_check(L, L[:300], Y[:300], ["broad", "a", "b", "c"])
    assert report.lfs.loc["broad", "dominant"] and not report.lfs.loc["a", "dominant"]
