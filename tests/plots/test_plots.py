import numpy as np
import pandas as pd

from workbench.labeling import conflict_matrix, lf_summary
from workbench.plots import (
    class_balance_bars,
    confidence_histogram,
    lf_accuracy_scatter,
    lf_summary_bars,
    matrix_heatmap,
)


def test_summary_bars_carry_coverage_and_accuracy():
    L = np.array([[0, -1], [1, 1], [-1, 1]])
    fig = lf_summary_bars(lf_summary(L, ["a", "b"], [0, 1, 0]))
    assert [t.name for t in fig.data] == ["Coverage", "Dev accuracy"]
    assert list(fig.data[0].x) == ["a", "b"]
    np.testing.assert_allclose(fig.data[1].y, [1.0, 0.5])


def test_heatmap_has_names_on_both_axes():
    L = np.array([[0, 1, -1], [1, 1, 0]])
    fig = matrix_heatmap(conflict_matrix(L, ["x", "y", "z"]), "conflicts")
    assert list(fig.data[0].x) == list(fig.data[0].y) == ["x", "y", "z"]
    assert np.asarray(fig.data[0].z).shape == (3, 3)


def test_histogram_is_binned_not_one_point_per_row():
    probs = np.random.default_rng(0).dirichlet([1, 1], size=100_000)
    fig = confidence_histogram(probs, bins=25, threshold=0.8)
    assert len(fig.data[0].y) == 25 and sum(fig.data[0].y) == 100_000
    assert any(s.x0 == 0.8 for s in fig.layout.shapes)


def test_balance_and_scatter():
    fig = class_balance_bars([0.3, 0.7], [0.5, 0.5], ["ham", "spam"])
    assert [t.name for t in fig.data] == ["predicted", "dev set"]
    table = pd.DataFrame({"dev_accuracy": [0.9, 0.4], "learned_accuracy": [0.8, 0.6], "coverage": [0.2, 0.5]}, index=["a", "b"])
    assert list(lf_accuracy_scatter(table).data[0].text) == ["a", "b"]
