"""Figures of ``workbench.plots.filter``, built from what :mod:`workbench.curate` returns."""

import numpy as np
import pandas as pd
import pytest

from workbench.curate import (
    class_balance,
    class_shares,
    curate,
    k_center_greedy,
    operating_point,
    threshold_curve,
)
from workbench.plots.filter import (
    class_balance_figure,
    diversity_scatter,
    funnel_figure,
    kept_set_figure,
    threshold_curve_figure,
    threshold_histogram,
)

NAMES = ["ham", "spam"]
PROBA = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.35, 0.65], [0.95, 0.05], [0.5, 0.5], [0.1, 0.9], [0.8, 0.2]])
DEV_LABELS = [0, 1, 1, 1, 0, 1, 1, 0]
ABSTAINED = np.array([False, False, False, False, False, True, False, False])
POOL = pd.DataFrame({
    "example_id": [f"r{i}" for i in range(8)],
    "text": ["free money now", "nice song", "win cash", "love it", "free money today", "great video", "click here", "so good"],
})


def by_name(fig):
    return {t.name: t for t in fig.data}


# --------------------------------------------------------------------------- threshold curve


def test_threshold_curve_figure_draws_coverage_against_dev_precision_per_class():
    curve = threshold_curve(PROBA, valid_proba=PROBA, valid_labels=DEV_LABELS, thresholds=[0.5, 0.7, 0.9], class_names=NAMES)
    point = operating_point(PROBA, 0.6, class_thresholds={"spam": 0.7}, valid_proba=PROBA, valid_labels=DEV_LABELS,
                            class_names=NAMES)
    fig = threshold_curve_figure(curve, point, labeled_name="valid")
    assert [(t.type, t.name, t.mode) for t in fig.data] == [
        ("scatter", "all", "lines"), ("scatter", "ham", "lines"), ("scatter", "spam", "lines"),
        ("scatter", "current", "markers+text"),
    ]
    for name in ("all", *NAMES):
        part = curve[curve["class"] == name]
        line = by_name(fig)[name]
        np.testing.assert_allclose(line.x, part["coverage"])
        np.testing.assert_allclose(line.y, part["valid_precision"])  # NaN where nothing is kept stays a gap
        np.testing.assert_allclose(line.customdata, part[["threshold", "valid_n_kept"]])  # hover: threshold and support
    current = by_name(fig)["current"]
    assert list(current.text) == ["all", "ham", "spam"]
    np.testing.assert_allclose(current.x, point["coverage"])
    np.testing.assert_allclose(current.y, point["valid_precision"])
    np.testing.assert_allclose(current.customdata[:, 0], [0.6, 0.6, 0.7])
    assert fig.layout.title.text == "Coverage vs valid precision"
    assert fig.layout.xaxis.title.text == "pool coverage" and fig.layout.yaxis.title.text == "valid precision"
    assert by_name(fig)["all"].line.width == 3  # the whole set stands out from the classes


def test_threshold_curve_figure_without_a_labeled_set_draws_coverage_against_the_threshold():
    curve = threshold_curve(PROBA, thresholds=[0.5, 0.7, 0.9], class_names=NAMES)
    fig = threshold_curve_figure(curve, title="Pool only")
    all_rows = curve[curve["class"] == "all"]
    np.testing.assert_allclose(by_name(fig)["all"].x, [0.5, 0.7, 0.9])
    np.testing.assert_allclose(by_name(fig)["all"].y, all_rows["coverage"])
    np.testing.assert_allclose(by_name(fig)["all"].y, [1.0, 5 / 8, 3 / 8])
    np.testing.assert_allclose(by_name(fig)["spam"].customdata[:, 1], curve.loc[curve["class"] == "spam", "n_kept"])
    assert len(by_name(fig)["current"].x) == 0  # the marker trace is there (for in-place updates), empty
    assert fig.layout.title.text == "Pool only"
    assert fig.layout.xaxis.title.text == "threshold" and fig.layout.yaxis.title.text == "pool coverage"


def test_threshold_curve_figure_sorts_each_line_by_threshold():
    curve = threshold_curve(PROBA, thresholds=[0.9, 0.5, 0.7], class_names=NAMES)
    np.testing.assert_allclose(threshold_curve_figure(curve).data[0].x, [0.5, 0.7, 0.9])


def test_filter_figures_keep_their_traces_for_any_input():
    """The explorer copies fresh data into its figure widgets trace by trace."""
    small = threshold_curve(PROBA[:2], valid_proba=PROBA, valid_labels=DEV_LABELS, class_names=NAMES)
    large = threshold_curve(np.random.default_rng(0).dirichlet([1, 1], 500), valid_proba=PROBA, valid_labels=DEV_LABELS,
                            class_names=NAMES)
    names = [[t.name for t in threshold_curve_figure(c).data] for c in (small, large)]
    assert names[0] == names[1] == ["all", "ham", "spam", "current"]
    nothing_removed = threshold_histogram([0.9, 0.8], ["kept", "kept"], {"threshold": 0.5})
    assert [t.name for t in nothing_removed.data] == ["kept", "below threshold", "removed by other steps"]


# --------------------------------------------------------------------------- class balance, funnel


def test_class_balance_figure_shows_the_kept_share_beside_the_target():
    balance = class_balance([0, 0, 0, 1], 2, target=class_shares(DEV_LABELS, 2), class_names=NAMES)
    fig = class_balance_figure(balance)
    assert [(t.type, t.name) for t in fig.data] == [("bar", "kept"), ("bar", "target")]
    assert all(list(t.x) == NAMES for t in fig.data)
    np.testing.assert_allclose(fig.data[0].y, [0.75, 0.25])
    np.testing.assert_allclose(fig.data[1].y, [3 / 8, 5 / 8])
    assert list(fig.data[0].text) == ["3", "1"]  # the counts, on the bars
    assert fig.layout.title.text == "Class balance of the kept set" and fig.layout.yaxis.tickformat == ".0%"


def test_filter_figures_show_class_names_for_tables_of_class_ids():
    names = ["ham", "spam", "eggs"]
    ids = class_balance([0, 2, 2, 1], 3, target=[0.2, 0.3, 0.5])
    assert list(ids.index.astype(str)) == ["0", "1", "2"]
    assert all(list(t.x) == names for t in class_balance_figure(ids, class_names=names).data)
    assert all(list(t.x) == names for t in kept_set_figure(ids, pd.DataFrame({"stage": ["raw pool"], "n_rows": [4], "removed": [{}]}),
                                                           class_names=names).data[:2])
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2]])
    curve = threshold_curve(proba, valid_proba=proba, valid_labels=[0, 1, 2, 1])
    fig = threshold_curve_figure(curve, operating_point(proba, 0.5, valid_proba=proba, valid_labels=[0, 1, 2, 1]), class_names=names)
    assert [t.name for t in fig.data] == ["all", *names, "current"]
    assert set(fig.data[-1].text) <= {"all", *names}
    with pytest.raises(ValueError, match=r"class '2' is neither one of the class names \['ham', 'spam'\]"):
        class_balance_figure(ids, class_names=names[:2])


def test_class_balance_figure_shows_weighted_shares_when_weights_balance_the_set():
    balance = class_balance([0, 0, 0, 1], 2, class_names=NAMES, sample_weight=[1, 1, 1, 3])
    fig = class_balance_figure(balance, title="Weighted")
    assert fig.data[0].name == "kept (weighted)"
    np.testing.assert_allclose(fig.data[0].y, [0.5, 0.5])
    assert list(fig.data[0].text) == ["3", "1"]  # still the row counts
    assert fig.layout.title.text == "Weighted"


@pytest.fixture(scope="module")
def curated():
    return curate(POOL, PROBA, threshold=0.7, abstained=ABSTAINED, class_names=NAMES)


def test_funnel_figure_is_the_rows_left_after_each_step(curated):
    stages = curated.funnel.to_frame()
    fig = funnel_figure(stages)
    assert len(fig.data) == 1 and fig.data[0].type == "funnel"
    assert list(fig.data[0].y) == ["pool", "confidence"]
    assert list(fig.data[0].x) == [8, 5]
    # The hover names why rows went: two below the threshold, one no LF voted on.
    assert list(fig.data[0].customdata) == ["raw pool", "below_threshold: 2<br>no_lf_vote: 1"]
    assert fig.layout.title.text == "Filter funnel"


def test_kept_set_figure_puts_balance_left_and_funnel_right(curated):
    balance = class_balance(curated.frame["label"].to_numpy(), 2, class_names=NAMES)
    stages = curated.funnel.to_frame()
    fig = kept_set_figure(balance, stages, title="The kept set: 5 rows")
    assert [(t.type, t.name) for t in fig.data] == [("bar", "kept"), ("bar", "target"), ("funnel", None)]
    assert [(t.xaxis, t.yaxis) for t in fig.data] == [("x", "y"), ("x", "y"), ("x2", "y2")]
    np.testing.assert_allclose(fig.data[0].y, balance["share"])
    np.testing.assert_allclose(fig.data[0].y, [3 / 5, 2 / 5])
    assert list(fig.data[2].x) == [8, 5] and fig.data[2].showlegend is False
    assert fig.layout.title.text == "The kept set: 5 rows"
    assert [a.text for a in fig.layout.annotations] == ["Class balance of the kept set", "Filter funnel"]


# --------------------------------------------------------------------------- threshold histogram


def test_threshold_histogram_stacks_100k_rows_by_status_in_bins():
    rng = np.random.default_rng(0)
    confidence = rng.dirichlet([1, 1, 1], 100_000).max(axis=1)
    status = np.where(confidence >= 0.7, "kept", "below threshold").astype(object)
    status[rng.random(len(status)) < 0.1] = "removed by other steps"
    fig = threshold_histogram(confidence, status, {"threshold": 0.7, "spam": 0.8}, bins=30, low=1 / 3)
    assert [(t.type, t.name) for t in fig.data] == [("bar", "kept"), ("bar", "below threshold"),
                                                    ("bar", "removed by other steps")]
    assert all(len(t.y) == 30 for t in fig.data)  # 90 numbers go to the browser, not 100,000
    edges = np.linspace(1 / 3, 1, 31)
    for trace in fig.data:
        np.testing.assert_array_equal(trace.y, np.histogram(confidence[status == trace.name], bins=edges)[0])
        np.testing.assert_allclose(trace.x, (edges[:-1] + edges[1:]) / 2)
    assert sum(t.y.sum() for t in fig.data) == 100_000
    assert [(s.x0, s.line.dash) for s in fig.layout.shapes] == [(0.7, "solid"), (0.8, "dash")]
    assert [a.text for a in fig.layout.annotations] == ["threshold 0.70", "spam 0.80"]
    assert fig.layout.barmode == "stack" and tuple(fig.layout.xaxis.range) == (1 / 3, 1)
    assert fig.layout.title.text == "Confidence of the pool"
    assert fig.layout.xaxis.title.text == "top probability" and fig.layout.yaxis.title.text == "rows"


def test_threshold_histogram_names_an_unknown_status():
    with pytest.raises(ValueError, match=r"status has values \['dropped'\]; expected kept, below threshold"):
        threshold_histogram([0.9, 0.6], ["kept", "dropped"], {"threshold": 0.7})


# --------------------------------------------------------------------------- diversity


def test_diversity_scatter_samples_the_pool_and_draws_each_selection():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 3))
    picks = k_center_greedy(X[:2000], 20)
    fig = diversity_scatter(X, {"k-center": picks, "first rows": np.arange(150)}, max_points=2500)
    assert [(t.type, t.name) for t in fig.data] == [("scattergl", "pool"), ("scattergl", "k-center"),
                                                    ("scattergl", "first rows")]
    pool = fig.data[0]
    assert len(pool.x) == 2500  # sampled: 100,000 rows in, 2,500 points out
    shown = {(x, y) for x, y in zip(pool.x, pool.y)}
    assert len(shown) == 2500 and shown <= set(map(tuple, X[:, :2]))  # distinct pool rows, first two dimensions
    np.testing.assert_array_equal(fig.data[1].x, X[picks, 0])
    np.testing.assert_array_equal(fig.data[1].y, X[picks, 1])
    np.testing.assert_array_equal(fig.data[2].x, X[:150, 0])
    assert fig.layout.title.text == "Which rows each selection picks"
    assert fig.layout.xaxis.title.text == "component 1" and fig.layout.yaxis.title.text == "component 2"
    again = diversity_scatter(X, {"k-center": picks}, max_points=2500)
    np.testing.assert_array_equal(again.data[0].x, pool.x)  # the same sample for the same random_state


def test_diversity_scatter_samples_a_large_selection_too():
    X = np.random.default_rng(1).normal(size=(50_000, 2))
    fig = diversity_scatter(X, {"everything kept": np.arange(40_000)}, max_points=1000, random_state=3)
    assert len(fig.data[0].x) == len(fig.data[1].x) == 1000
    assert set(fig.data[1].x) <= set(X[:40_000, 0])
    small = diversity_scatter(X[:10], {"all": np.arange(10)}, max_points=1000)
    assert len(small.data[0].x) == len(small.data[1].x) == 10
