"""Confidence thresholds and the coverage/precision curve (workbench.curate._confidence)."""

import numpy as np
import pytest

from tests._helpers import binary_proba
from workbench.curate import (
    BELOW_THRESHOLD,
    NO_LF_VOTE,
    confidence_filter,
    effective_thresholds,
    examples_near_threshold,
    threshold_curve,
)


def test_confidence_filter_global_per_class_and_abstains():
    P = binary_proba([0.95, 0.75, 0.35, 0.15, 0.5])
    step = confidence_filter(P, 0.7)
    assert step.kept.tolist() == [True, True, False, True, False]
    step = confidence_filter(P, 0.7, class_thresholds={"spam": 0.8}, class_names=["ham", "spam"])
    assert step.kept.tolist() == [True, False, False, True, False]
    assert step.params["class_thresholds"] == [0.7, 0.8]
    step = confidence_filter(P, 0.7, abstained=[False, False, False, False, True])
    assert step.reasons.tolist() == ["", "", BELOW_THRESHOLD, "", NO_LF_VOTE]


def test_confidence_filter_rejects_bad_input():
    with pytest.raises(ValueError, match="row 1"):
        confidence_filter(np.array([[0.5, 0.5], [0.9, 0.3]]))
    with pytest.raises(ValueError, match="threshold must be in"):
        confidence_filter(binary_proba([0.5]), 1.5)
    with pytest.raises(ValueError, match="unknown class 'eggs'"):
        effective_thresholds(0.5, {"eggs": 0.9}, class_names=["ham", "spam"])
    with pytest.raises(ValueError, match="one entry per row"):
        confidence_filter(binary_proba([0.5, 0.9]), ids=[1])


def test_effective_thresholds_count_the_classes_from_what_they_are_given():
    assert effective_thresholds(0.5, {"c": 0.9}, class_names=["a", "b", "c"]).tolist() == [0.5, 0.5, 0.9]
    assert effective_thresholds(0.5, [0.4, 0.7, 0.8]).tolist() == [0.5, 0.7, 0.8]
    assert effective_thresholds(0.5, {2: 0.9}, 4).tolist() == [0.5, 0.5, 0.9, 0.5]
    with pytest.raises(ValueError, match="needs the number of classes: pass cardinality= or class_names="):
        effective_thresholds(0.5, {1: 0.9})


def test_threshold_curve_matches_counting_by_hand():
    rng = np.random.default_rng(3)
    P = rng.dirichlet([1, 1, 1], size=200)
    D = rng.dirichlet([1, 1, 1], size=80)
    y = rng.integers(0, 3, size=80)
    grid = np.array([0.34, 0.5, 0.62, 0.8, 0.95])
    curve = threshold_curve(P, valid_proba=D, valid_labels=y, thresholds=grid, class_names=["a", "b", "c"])
    assert len(curve) == len(grid) * 4
    for t in grid:
        row = curve[(curve["threshold"] == t) & (curve["class"] == "all")].iloc[0]
        kept = P.max(1) >= t
        assert row["n_kept"] == kept.sum() and row["coverage"] == pytest.approx(kept.mean())
        dev_kept = D.max(1) >= t
        expected = (D.argmax(1) == y)[dev_kept].mean() if dev_kept.any() else np.nan
        assert row["valid_precision"] == pytest.approx(expected, nan_ok=True)
        for c, name in enumerate("abc"):
            row = curve[(curve["threshold"] == t) & (curve["class"] == name)].iloc[0]
            kept_c = kept & (P.argmax(1) == c)
            assert row["n_kept"] == kept_c.sum()
            dev_c = dev_kept & (D.argmax(1) == c)
            expected = (y[dev_c] == c).mean() if dev_c.any() else np.nan
            assert row["valid_precision"] == pytest.approx(expected, nan_ok=True)


def test_threshold_curve_known_values_and_monotone_coverage():
    # confidences 0.55, 0.65, ..., 0.95; the two least confident dev rows are wrong
    P = binary_proba([0.55, 0.65, 0.75, 0.85, 0.95])
    curve = threshold_curve(P, valid_proba=P, valid_labels=[0, 0, 1, 1, 1], thresholds=[0.5, 0.6, 0.7, 0.9, 0.96])
    overall = curve[curve["class"] == "all"]
    assert overall["coverage"].tolist() == [1.0, 0.8, 0.6, 0.2, 0.0]
    np.testing.assert_allclose(overall["valid_precision"], [0.6, 0.75, 1.0, 1.0, np.nan])
    default = threshold_curve(binary_proba(np.random.default_rng(0).random(100)))
    assert default["threshold"].min() == 0.5 and default["threshold"].max() == 1.0
    for _, part in default.groupby("class"):
        assert (np.diff(part.sort_values("threshold")["coverage"].to_numpy()) <= 0).all()
    with pytest.raises(ValueError, match="both valid_proba and valid_labels"):
        threshold_curve(P, valid_proba=P)
    with pytest.raises(ValueError, match="out of range"):
        threshold_curve(P, valid_proba=P, valid_labels=[0, 1, 2, 0, 0])


def test_examples_near_threshold():
    conf = np.array([0.99, 0.61, 0.59, 0.7, 0.4, 0.58])
    kept = conf >= 0.6
    above, below = examples_near_threshold(conf, kept, n=2)
    assert above.tolist() == [1, 3] and below.tolist() == [2, 5]


# --- class balance ------------------------------------------------------------------------
