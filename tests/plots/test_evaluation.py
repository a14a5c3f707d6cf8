"""Figures of ``workbench.plots.evaluation``, built from the tables :mod:`workbench.evaluate` returns."""

import numpy as np
import pandas as pd
import pytest

from workbench.evaluate import compare_models, evaluate, metrics_over_time, slice_report
from workbench.plots.evaluation import (
    STATUS_COLORS,
    confusion_figure,
    metrics_over_time_figure,
    model_comparison_figure,
    slice_gap_figure,
)


@pytest.fixture(scope="module")
def sliced():
    """200 rows: 20 of the 50 forum rows are wrong, 6 of the 150 web rows; a 10-row 'short' slice, one empty slice."""
    n = 200
    y = np.tile([0, 1], n // 2)
    wrong = np.zeros(n, bool)
    wrong[:20] = True
    wrong[[60, 80, 100, 120, 140, 160]] = True
    data = pd.DataFrame({"label": y, "source": ["forum"] * 50 + ["web"] * 150, "text": ["x"] * n})
    return data, np.where(wrong, 1 - y, y)


def test_slice_gap_figure_is_each_slice_gap_coloured_by_status(sliced):
    data, preds = sliced
    short = np.zeros(len(data), bool)
    short[10:20] = True  # 10 forum rows, all wrong: the worst gap, but too small to flag
    report = slice_report(preds, data, ["source", ("short", short), ("nowhere", np.zeros(len(data), bool))],
                          margin=0.1, min_size=20)
    fig = slice_gap_figure(report)
    traces = {t.name: t for t in fig.data}
    assert all(t.type == "bar" and t.orientation == "h" for t in fig.data)
    assert set(traces) == {"flagged", "ok", "too small"}  # the empty slice has no bar
    for status, trace in traces.items():
        rows = report[report["status"] == status].iloc[::-1]
        assert list(trace.y) == [f"{s} (n={n})" for s, n in zip(rows["slice"], rows["n"])]
        np.testing.assert_allclose(trace.x, rows["error_gap"])
        np.testing.assert_allclose(trace.customdata, rows["error_rate"])
        # Error bars span the slice's Wilson interval, on the gap axis.
        np.testing.assert_allclose(trace.x + trace.error_x.array, rows["error_high"] - 0.13)
        np.testing.assert_allclose(trace.x - trace.error_x.arrayminus, rows["error_low"] - 0.13)
        assert trace.marker.color == STATUS_COLORS[status]
    assert list(traces["flagged"].y) == ["source=forum (n=50)"]
    assert traces["flagged"].x[0] == pytest.approx(20 / 50 - 26 / 200)
    assert list(traces["too small"].y) == ["short (n=10)"] and traces["too small"].x[0] == pytest.approx(1 - 0.13)
    # Worst slice at the top: the category axis lists slices bottom-up.
    assert list(fig.layout.yaxis.categoryarray) == ["source=web (n=150)", "source=forum (n=50)", "short (n=10)"]
    assert sorted(s.x0 for s in fig.layout.shapes) == [0, 0.1]  # zero and the margin the report was made with
    assert fig.layout.title.text == "Error rate of each slice minus the whole set's (0.130)"
    assert fig.layout.xaxis.title.text == "error-rate gap (positive = worse than the whole)"


def test_slice_gap_figure_takes_an_explicit_margin(sliced):
    data, preds = sliced
    fig = slice_gap_figure(slice_report(preds, data, ["source"], margin=0.1, min_size=20), margin=0.2)
    assert sorted(s.x0 for s in fig.layout.shapes) == [0, 0.2]


def test_slice_gap_figure_names_missing_columns():
    with pytest.raises(ValueError, match=r"slice_gap_figure needs columns \['error_low', 'error_high', 'status'\]"):
        slice_gap_figure(pd.DataFrame({"slice": ["all"], "n": [1], "error_rate": [0.1], "error_gap": [0.0]}))


def test_metrics_over_time_figure_draws_metrics_over_row_counts(sliced):
    data, preds = sliced
    dated = data.assign(DATE=["2020-01-05"] * 100 + [None] * 20 + ["2020-03-05"] * 80)
    table = metrics_over_time(preds, dated)
    fig = metrics_over_time_figure(table)
    assert [(t.type, t.name) for t in fig.data] == [("bar", "rows"), ("scatter", "accuracy"), ("scatter", "f1")]
    assert table["period"].tolist() == ["2020-01", "2020-02", "2020-03", "no date"]
    periods = ["2020-01", "2020-03", "no date"]
    assert all(list(t.x) == periods for t in fig.data)  # the empty month is left off; undated rows come last
    assert list(fig.data[0].y) == [100, 80, 20]
    shown = table["n"] > 0
    np.testing.assert_allclose(fig.data[1].y, table.loc[shown, "accuracy"])
    np.testing.assert_allclose(fig.data[2].y, table.loc[shown, "f1"])
    assert fig.data[0].yaxis == "y2" and {t.yaxis for t in fig.data[1:]} == {"y"}
    assert fig.layout.title.text == "Metrics over time (bars: rows per period)"
    assert fig.layout.xaxis.title.text == "period (1 without rows left out)"
    assert fig.layout.yaxis.title.text == "metric" and fig.layout.yaxis2.title.text == "rows"


def test_metrics_over_time_figure_draws_the_metrics_asked_for(sliced):
    data, preds = sliced
    table = metrics_over_time(preds, data.assign(DATE="2021-06-01"))
    fig = metrics_over_time_figure(table, metrics=["precision"])
    assert [t.name for t in fig.data] == ["rows", "precision"]
    assert list(fig.data[1].y) == table["precision"].tolist()
    with pytest.raises(ValueError, match=r"metrics_over_time_figure needs columns \['auc'\]"):
        metrics_over_time_figure(table, metrics=["auc"])


def test_model_comparison_figure_groups_models_over_slices(sliced):
    data, preds = sliced
    table = compare_models({"weak": preds, "perfect": data["label"].to_numpy()}, data, slices=["source"])
    fig = model_comparison_figure(table)
    assert [(t.type, t.name) for t in fig.data] == [("bar", "weak"), ("bar", "perfect")]
    assert all(list(t.x) == ["all", "source=forum", "source=web"] for t in fig.data)
    np.testing.assert_allclose(fig.data[0].y, table.loc["weak", ["accuracy", "accuracy[source=forum]", "accuracy[source=web]"]].astype(float))
    np.testing.assert_allclose(fig.data[0].y, [1 - 26 / 200, 0.6, 1 - 6 / 150])
    assert list(fig.data[1].y) == [1.0, 1.0, 1.0]
    assert fig.layout.barmode == "group" and fig.layout.title.text == "accuracy of each model, whole set and slices"
    assert fig.layout.xaxis.title.text == "slice" and fig.layout.yaxis.title.text == "accuracy"


def test_model_comparison_figure_of_another_metric(sliced):
    data, preds = sliced
    table = compare_models({"weak": preds}, data, slices=["source"], slice_metric="f1")
    fig = model_comparison_figure(table, metric="f1")
    assert list(fig.data[0].x) == ["all", "source=forum", "source=web"]
    assert fig.data[0].y[0] == pytest.approx(table.loc["weak", "f1"])
    assert fig.layout.yaxis.title.text == "f1"


def test_confusion_figure_is_the_count_matrix(sliced):
    data, preds = sliced
    confusion = evaluate(preds, data, class_names=["ham", "spam"]).confusion
    fig = confusion_figure(confusion)
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    np.testing.assert_array_equal(fig.data[0].z, confusion.to_numpy())
    assert np.asarray(fig.data[0].z).sum() == 200
    assert list(fig.data[0].x) == list(confusion.columns) and list(fig.data[0].y) == list(confusion.index)
    assert fig.data[0].texttemplate == "%{z:,d}"  # counts in the cells, as integers
    assert fig.layout.title.text == "Confusion matrix"
    assert fig.layout.xaxis.title.text == confusion.columns.name and fig.layout.yaxis.title.text == confusion.index.name


def test_confusion_figure_names_the_classes_of_a_report_made_without_them():
    y, preds = [0, 1, 2, 2, 1], [0, 2, 2, -1, 1]
    confusion = evaluate(np.array(preds), y).confusion
    assert list(confusion.index) == ["true 0", "true 1", "true 2"]  # ids: evaluate had no names
    fig = confusion_figure(confusion, class_names=["ham", "spam", "eggs"])
    assert list(fig.data[0].y) == ["true ham", "true spam", "true eggs"]
    assert list(fig.data[0].x) == ["pred ham", "pred spam", "pred eggs", "abstain"]
    np.testing.assert_array_equal(fig.data[0].z, confusion.to_numpy())
    named = evaluate(np.array(preds), y, class_names=["ham", "spam", "eggs"]).confusion
    assert list(confusion_figure(named, class_names=["ham", "spam", "eggs"]).data[0].y) == list(named.index)
    with pytest.raises(ValueError, match=r"class '2' is neither one of the class names \['ham', 'spam'\]"):
        confusion_figure(confusion, class_names=["ham", "spam"])
