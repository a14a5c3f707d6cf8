"""Agreement between reviewers (workbench.review._agreement)."""

import pytest

from workbench.review import (
    reviewer_agreement,
)

# -- agreement --------------------------------------------------------------------------


def test_reviewer_agreement_kappa_and_disagreements(store):
    a = [0, 0, 1, 1, 1, 0]
    b = [0, 1, 1, 1, 0, 0]
    for i, (x, y) in enumerate(zip(a, b)):
        store.record_decision(f"e{i}", x, reviewer="ana")
        store.record_decision(f"e{i}", y, reviewer="bo")
    store.record_decision("only-ana", 1, reviewer="ana")
    store.record_decision("e0", "unsure", reviewer="cy")
    agreement = reviewer_agreement(store, "ana", "bo")
    # observed 4/6, expected by chance 1/2: kappa = (2/3 - 1/2) / (1/2) = 1/3
    assert agreement.kappa == pytest.approx(1 / 3)
    assert agreement.n_common == 6 and agreement.observed_agreement == pytest.approx(4 / 6)
    assert agreement.disagreements.to_dict("records") == [
        {"example_id": "e1", "ana": "ham", "bo": "spam"},
        {"example_id": "e4", "ana": "spam", "bo": "ham"},
    ]
    assert reviewer_agreement(store).reviewers == ("ana", "bo")  # cy gave no labels


def test_reviewer_agreement_needs_examples_in_common(store):
    store.record_decision("a", 1, reviewer="ana")
    store.record_decision("b", 1, reviewer="bo")
    with pytest.raises(ValueError, match="labeled no example in common"):
        reviewer_agreement(store, "ana", "bo")
    with pytest.raises(ValueError, match="reviewer 'cy' has no labels"):
        reviewer_agreement(store, "ana", "cy")
