"""Class balance and rebalancing (workbench.curate._balance)."""

import numpy as np
import pytest

from workbench.curate import (
    class_balance,
    class_shares,
    rebalance,
)


def test_class_balance_report_against_dev_target():
    labels = np.array([1] * 80 + [0] * 20)
    target = class_shares([0, 1, 0, 1], 2)
    report = class_balance(labels, 2, target=target, class_names=["ham", "spam"])
    assert report.loc["spam", "count"] == 80
    assert report.loc["spam", "difference"] == pytest.approx(0.3)
    assert report.loc["ham", "target_share"] == pytest.approx(0.5)


def test_rebalance_downsample_hits_target_exactly_keeping_highest_priority():
    labels = np.array([1] * 80 + [0] * 20)
    priority = np.arange(100, dtype=float)
    step = rebalance(labels, target={"ham": 0.4, "spam": 0.6}, class_names=["ham", "spam"], priority=priority)
    kept_labels = labels[step.kept]
    assert np.bincount(kept_labels).tolist() == [20, 30]
    # spam rows 0..79 have priority 0..79: the 30 highest (50..79) stay
    assert np.flatnonzero(step.kept[:80]).tolist() == list(range(50, 80))
    assert step.removed_counts == {"downsampled:spam": 50}
    random_step = rebalance(labels, random_state=1)
    assert np.bincount(labels[random_step.kept]).tolist() == [20, 20]
    assert np.array_equal(random_step.kept, rebalance(labels, random_state=1).kept)


def test_rebalance_weights_reach_the_target_share():
    labels = np.array([1] * 80 + [0] * 20)
    step = rebalance(labels, method="weights", target=[0.5, 0.5])
    assert step.n_kept == 100
    report = class_balance(labels, 2, target=[0.5, 0.5], sample_weight=step.sample_weight)
    np.testing.assert_allclose(report["weighted_share"], [0.5, 0.5])
    assert step.sample_weight.mean() == pytest.approx(1.0)


def test_rebalance_names_the_missing_class():
    with pytest.raises(ValueError, match="class 'spam' has no kept rows"):
        rebalance([0, 0, 0], class_names=["ham", "spam"])
    with pytest.raises(ValueError, match="method must be"):
        rebalance([0, 1], method="smote")


# --- duplicates ---------------------------------------------------------------------------
