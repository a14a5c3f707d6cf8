"""One convention for a label model's accuracy: uncovered rows and ties abstain, abstentions are errors."""

import numpy as np
import pytest

from workbench.evaluate import ABSTAIN_POLICY, label_model_labels, label_model_name, label_model_score
from workbench.generate import MajorityVote, SnorkelLabelModel

# rows: two agreeing votes, a tie, no vote, one vote, a 2-1 split
L = np.array([[1, 1, -1], [0, 1, -1], [-1, -1, -1], [0, -1, -1], [1, 1, 0]])
Y = np.array([1, 1, 0, 0, 0])


def test_majority_vote_abstains_on_ties_and_uncovered_rows_and_counts_them_as_errors():
    model = MajorityVote().fit(L)
    assert label_model_labels(model, L).tolist() == [1, -1, -1, 0, 1]
    score = label_model_score(model, L, Y, split="dev")
    assert score.accuracy == pytest.approx(2 / 5)          # rows 0 and 3 right; 1 and 2 abstain; 4 wrong
    assert score.accuracy_covered == pytest.approx(2 / 3)
    assert score.coverage == pytest.approx(3 / 5)
    assert (score.model, score.split, score.n, score.policy) == ("majority vote", "dev", 5, ABSTAIN_POLICY)
    assert str(score) == ("majority vote on dev (5 rows): accuracy 0.400 with abstentions counted as errors; "
                          "0.667 on the 60% of rows it labels")


def test_a_label_model_guessing_from_its_prior_still_abstains_where_no_lf_votes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    L_big = np.where(rng.random((400, 3)) < 0.8, y[:, None], 1 - y[:, None])
    L_big[rng.random((400, 3)) < 0.5] = -1
    model = SnorkelLabelModel(cardinality=2, random_state=0).fit(L_big)
    uncovered = (L_big == -1).all(axis=1)
    assert uncovered.any()
    assert (model.predict(L_big, tie_break="prior")[uncovered] != -1).all()  # what the old numbers counted
    assert (label_model_labels(model, L_big)[uncovered] == -1).all()
    score = label_model_score(model, L_big, y)
    assert score.coverage <= 1 - uncovered.mean()
    assert label_model_name(model) == "Snorkel's label model"


def test_bad_input_is_named():
    model = MajorityVote().fit(L)
    with pytest.raises(ValueError, match="y"):
        label_model_score(model, L, Y[:3])
