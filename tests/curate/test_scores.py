"""Per-example scores: margin, gray zone, generator disagreement (workbench.curate._scores)."""

import numpy as np
import pytest

from tests._helpers import binary_proba
from workbench.curate import (
    disagreement_score,
    exclude,
    generator_disagreement,
    gray_zone,
    in_gray_zone,
    margin,
)


def test_gray_zone_orders_by_margin_and_skips_abstains():
    P = binary_proba([0.5, 0.58, 0.95, 0.45, 0.61])
    queue = gray_zone(P, width=0.2, abstained=[True, False, False, False, False], class_names=["ham", "spam"])
    assert queue["id"].tolist() == [3, 1]  # 0.61 (margin 0.22) is outside, 0.5 abstained
    assert queue["predicted"].tolist() == ["ham", "spam"]
    np.testing.assert_allclose(queue["margin"], [0.1, 0.16])
    np.testing.assert_allclose(queue["confidence"], [0.55, 0.58])


def test_margin_and_gray_zone_mask():
    P = np.array([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7], [0.55, 0.45]])
    np.testing.assert_allclose(margin(P), [0.8, 0.0, 0.4, 0.1])
    assert in_gray_zone(P, width=0.1).tolist() == [False, True, False, True]
    assert margin([[0.4, 0.35, 0.25]]) == pytest.approx([0.05])  # the two top classes, not top vs rest
    with pytest.raises(ValueError, match="gray-zone width"):
        in_gray_zone(P, width=-0.1)


def test_disagreement_score_hard_and_soft():
    label_model = np.array([0, 1, 1, 0, -1])
    pseudo = np.array([0, 0, 1, -1, 1])
    np.testing.assert_allclose(disagreement_score({"lm": label_model, "pl": pseudo}), [0, 1, 0, 0, 0])
    soft = disagreement_score([np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([[0.9, 0.1], [0.1, 0.9]])])
    assert soft[0] == pytest.approx(0) and soft[1] > 0.3
    with pytest.raises(ValueError, match="at least two generators"):
        disagreement_score([label_model])


def test_generator_disagreement_puts_confident_conflicts_first():
    A = binary_proba([0.9, 0.2, 0.6, 0.95])
    B = binary_proba([0.1, 0.3, 0.45, 0.97])
    flagged = generator_disagreement(A, B, ids=list("wxyz"), names=("lm", "pl"), class_names=["ham", "spam"])
    assert flagged["id"].tolist() == ["w", "y"]
    assert flagged.loc[0, "label_lm"] == "spam" and flagged.loc[0, "label_pl"] == "ham"
    step = exclude(list("wxyz"), flagged["id"], "generator_disagreement")
    assert step.kept_ids.tolist() == ["x", "z"] and step.removed_counts == {"generator_disagreement": 2}


# --- label errors -------------------------------------------------------------------------


def test_exclude_rows_is_exclude_by_a_mask():
    from workbench.curate._scores import exclude, exclude_rows

    ids = np.array(["a", "b", "c", "d"], dtype=object)
    by_mask = exclude_rows(ids, np.array([False, True, False, True]), "no LF voted", name="uncovered")
    by_ids = exclude(ids, ["b", "d"], "no LF voted", name="uncovered")
    assert by_mask.kept.tolist() == by_ids.kept.tolist() == [True, False, True, False]
    assert by_mask.reasons.tolist() == by_ids.reasons.tolist() and by_mask.params == by_ids.params
    with pytest.raises(ValueError, match="drop must be one bool per id"):
        exclude_rows(ids, [1, 0, 0, 1], "no LF voted")
    with pytest.raises(ValueError, match="non-empty reason"):
        exclude_rows(ids, np.zeros(4, dtype=bool), "")
