"""Figures of ``workbench.plots`` itself: LF summary, LF matrices, confidence, class balance, learned accuracy."""

import numpy as np
import pytest

from workbench.generate import MajorityVote, SnorkelLabelModel, health_check
from workbench.labeling import ABSTAIN, conflict_matrix, covered, lf_summary, overlap_matrix
from workbench.plots import (
    class_balance_bars,
    confidence_histogram,
    lf_accuracy_scatter,
    lf_summary_bars,
    matrix_heatmap,
)

A = ABSTAIN
# Three LFs on four rows: "a" and "b" always right, "c" right once in two votes.
L = np.array([[0, A, 1], [1, 1, A], [A, 1, 1], [0, 0, A]])
Y = np.array([0, 1, 1, 0])
NAMES = ["a", "b", "c"]


def test_lf_summary_bars_show_coverage_and_dev_accuracy_per_lf():
    summary = lf_summary(L, NAMES, Y=Y)
    fig = lf_summary_bars(summary)
    assert [(t.type, t.name) for t in fig.data] == [("bar", "Coverage"), ("bar", "Dev accuracy")]
    assert all(list(t.x) == NAMES for t in fig.data)
    np.testing.assert_allclose(fig.data[0].y, summary["Coverage"])
    np.testing.assert_allclose(fig.data[0].y, [0.75, 0.75, 0.5])
    np.testing.assert_allclose(fig.data[1].y, [1.0, 1.0, 0.5])
    assert fig.layout.title.text == "Labeling functions" and fig.layout.barmode == "group"
    assert tuple(fig.layout.yaxis.range) == (0, 1) and fig.layout.yaxis.tickformat == ".0%"


def test_lf_summary_bars_without_gold_labels_have_coverage_only():
    fig = lf_summary_bars(lf_summary(L, NAMES), title="Pool")
    assert [t.name for t in fig.data] == ["Coverage"]
    assert fig.layout.title.text == "Pool"


@pytest.mark.parametrize("matrix_of", [overlap_matrix, conflict_matrix])
def test_matrix_heatmap_is_the_matrix_with_names_on_both_axes(matrix_of):
    matrix = matrix_of(L, NAMES)
    fig = matrix_heatmap(matrix, "LF pairs", colorscale="Reds")
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    trace = fig.data[0]
    assert list(trace.x) == list(trace.y) == NAMES
    np.testing.assert_allclose(trace.z, matrix.to_numpy())
    assert np.asarray(trace.text).tolist() == [[f"{v:.1%}" for v in row] for row in matrix.to_numpy()]
    assert fig.layout.title.text == "LF pairs" and fig.layout.yaxis.autorange == "reversed"
    assert trace.zmin == 0


def test_conflict_heatmap_cells():
    fig = matrix_heatmap(conflict_matrix(L, NAMES), "conflicts")
    # "a" and "c" disagree on row 0, one row in four.
    assert np.asarray(fig.data[0].text).tolist()[0] == ["0.0%", "0.0%", "25.0%"]


def test_matrix_heatmap_of_no_lfs_is_empty():
    fig = matrix_heatmap(conflict_matrix(L[:, :0], []), "none yet")
    assert list(fig.data[0].x) == [] and np.asarray(fig.data[0].z).size == 0 and fig.data[0].text is None


def test_confidence_histogram_bins_100k_rows_into_counts_that_sum_to_the_input():
    proba = np.random.default_rng(0).dirichlet([1, 1, 1], size=100_000)
    fig = confidence_histogram(proba, bins=25, threshold=0.8)
    assert len(fig.data) == 1 and fig.data[0].type == "bar"
    bars = fig.data[0]
    assert len(bars.x) == len(bars.y) == 25  # 25 bars, not 100,000 points
    expected, edges = np.histogram(proba.max(axis=1), bins=25, range=(1 / 3, 1))
    np.testing.assert_array_equal(bars.y, expected)
    assert bars.y.sum() == 100_000  # every row's top probability is >= 1/k: nothing falls off the axis
    np.testing.assert_allclose(bars.x, (edges[:-1] + edges[1:]) / 2)
    np.testing.assert_allclose(bars.width, np.diff(edges))
    assert [(s.x0, s.x1) for s in fig.layout.shapes] == [(0.8, 0.8)]
    assert fig.layout.annotations[0].text == "threshold 0.80"
    assert fig.layout.title.text == "Label model confidence"
    assert fig.layout.xaxis.title.text == "max probability" and fig.layout.yaxis.title.text == "rows"


def test_confidence_histogram_of_a_label_model_on_covered_rows():
    model = MajorityVote(cardinality=2).fit(L)
    proba = model.predict_proba(L)[covered(L)]
    fig = confidence_histogram(proba, bins=2)
    # Votes [0, 1], [1, 1], [1, 1], [0, 0]: one tie (0.5) and three unanimous rows (1.0).
    assert fig.data[0].y.tolist() == [1, 3]
    assert not fig.layout.shapes  # no threshold given, no line


def test_confidence_histogram_takes_top_probabilities_of_a_binary_task():
    fig = confidence_histogram(np.array([0.55, 0.95, 0.97]), bins=5)
    assert fig.data[0].y.tolist() == [1, 0, 0, 0, 2]
    np.testing.assert_allclose(fig.data[0].x, [0.55, 0.65, 0.75, 0.85, 0.95])


def test_class_balance_bars_are_the_shares():
    predicted = np.bincount([0, 1, 1, 1], minlength=2) / 4
    reference = np.bincount(Y, minlength=2) / len(Y)
    fig = class_balance_bars(predicted, reference, ["ham", "spam"], title="Balance", reference_name="valid")
    assert [(t.type, t.name) for t in fig.data] == [("bar", "predicted"), ("bar", "valid")]
    assert all(list(t.x) == ["ham", "spam"] for t in fig.data)
    assert list(fig.data[0].y) == [0.25, 0.75] and list(fig.data[1].y) == [0.5, 0.5]
    assert fig.layout.title.text == "Balance" and fig.layout.yaxis.tickformat == ".0%"
    assert [t.name for t in class_balance_bars(predicted, None, ["ham", "spam"]).data] == ["predicted"]


def test_lf_accuracy_scatter_plots_the_health_report():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    votes = np.where(rng.random((300, 3)) < [0.9, 0.7, 0.6], y[:, None], 1 - y[:, None])
    votes = np.where(rng.random((300, 3)) < [0.5, 0.8, 0.3], votes, ABSTAIN)
    model = SnorkelLabelModel(cardinality=2, n_epochs=50).fit(votes[:200])
    report = health_check(votes[:200], votes[200:], y[200:], NAMES, label_model=model)
    fig = lf_accuracy_scatter(report.lfs)
    assert [t.type for t in fig.data] == ["scatter"]
    points = fig.data[0]
    assert list(points.text) == NAMES
    np.testing.assert_allclose(points.x, report.lfs["dev_accuracy"])
    np.testing.assert_allclose(points.y, report.lfs["learned_accuracy"])
    np.testing.assert_allclose(points.marker.size, 8 + 60 * report.lfs["coverage"])  # sized by coverage
    assert fig.layout.xaxis.title.text == "dev accuracy" and fig.layout.yaxis.title.text == "learned accuracy"
    assert fig.layout.title.text == "Learned vs dev accuracy"
    assert [(s.x0, s.y0, s.x1, s.y1) for s in fig.layout.shapes] == [(0, 0, 1, 1)]  # the diagonal


def test_styled_table_aligns_text_left_and_prints_whole_numbers_as_integers():
    import pandas as pd

    from workbench.plots import styled_table

    table = pd.DataFrame({"lf": ["kw_subscribe", "re_check"], "n": [1200.0, np.nan], "accuracy": [0.91234, 0.5],
                          "votes": [3, 4]}, index=["a", "b"])
    html = styled_table(table).to_html()
    assert "1,200" in html and "1200.0" not in html  # a count with a missing value is still a count
    assert "0.912" in html and "0.91234" not in html and ">nan<" not in html.lower()
    style = html.split("</style>")[0]
    assert "th.col_heading.col0" in style and "_row0_col0" in style and "th.row_heading" in style  # text: left
    assert not any(f"col{i}" in style for i in (1, 2, 3))  # numbers keep Jupyter's right alignment
    numeric_index = styled_table(table.reset_index(drop=True)[["n", "votes"]]).to_html().split("</style>")[0]
    assert "text-align" not in numeric_index
