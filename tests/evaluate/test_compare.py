"""Several models on the same set and slices (workbench.evaluate._compare)."""


import numpy as np
import pytest

from workbench.evaluate import (
    compare_models,
    evaluate,
    metrics_over_time,
    slice_report,
)
from workbench.plots.evaluation import (
    confusion_figure,
    metrics_over_time_figure,
    model_comparison_figure,
    slice_gap_figure,
)


def test_compare_models_on_same_set_and_slices(sliced):
    df, preds = sliced
    y = df.label.to_numpy()
    table = compare_models({"weak": preds, "perfect": np.eye(2)[y]}, df, slices=["source"], margin=0.1, min_size=20)
    assert list(table.index) == ["weak", "perfect"]
    assert table.loc["weak", "accuracy"] == pytest.approx(1 - 31 / 200) and table.loc["perfect", "accuracy"] == 1.0
    assert table.loc["weak", "accuracy[source=forum]"] == pytest.approx(0.6)
    assert table.loc["weak", "flagged_slices"] == 1 and table.loc["weak", "worst_slice"] == "source=forum"
    assert table.loc["perfect", "flagged_slices"] == 0 and table.loc["perfect", "ece"] == 0.0
    assert np.isnan(table.loc["weak", "ece"])
    with pytest.raises(ValueError, match="model 'short': 3 predictions for 200 gold rows"):
        compare_models({"short": np.array([0, 1, 0])}, df)


def test_figures_show_the_tables(sliced):
    df, preds = sliced
    rep = slice_report(preds, df, ["source"], margin=0.1, min_size=20)
    fig = slice_gap_figure(rep)
    flagged = next(t for t in fig.data if t.name == "flagged")
    assert list(flagged.y) == ["source=forum (n=50)"] and flagged.x[0] == pytest.approx(20 / 50 - 31 / 200)
    assert any(shape.x0 == 0.1 for shape in fig.layout.shapes)

    dated = df.assign(DATE=["2020-01-05"] * 100 + ["2020-03-05"] * 100)
    fig = metrics_over_time_figure(metrics_over_time(preds, dated))
    bars = next(t for t in fig.data if t.name == "rows")
    assert list(bars.x) == ["2020-01", "2020-03"] and list(bars.y) == [100, 100]  # the empty month is left off

    table = compare_models({"a": preds, "b": df.label.to_numpy()}, df, slices=["source"])
    fig = model_comparison_figure(table)
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[0].x) == ["all", "source=forum", "source=web"]
    assert fig.data[1].y.tolist() == [1.0, 1.0, 1.0]

    conf = confusion_figure(evaluate(preds, df).confusion)
    assert np.asarray(conf.data[0].z).sum() == 200
