"""Every figure builder: its title, its axis titles, and labels that fit in its margins.

The tick labels are read back from the figure (categories from the traces, numeric ticks from
the axis range, step and format) and measured here at 7 px a character of plotly's 12 px font,
independently of ``workbench.plots._layout``; each margin must hold its side's longest label
plus the axis title. Inputs use long names on purpose (LFs, slices, classes, many periods).
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import softmax

from workbench.curate import Funnel, class_balance, operating_point, threshold_curve
from workbench.plots import (
    class_balance_bars,
    confidence_histogram,
    lf_accuracy_scatter,
    lf_summary_bars,
    matrix_heatmap,
)
from workbench.plots._layout import fit_layout, nice_step, round_axis
from workbench.plots.evaluation import confusion_figure, metrics_over_time_figure, model_comparison_figure, slice_gap_figure
from workbench.plots.filter import (
    class_balance_figure,
    diversity_scatter,
    funnel_figure,
    kept_set_figure,
    threshold_curve_figure,
    threshold_histogram,
)
from workbench.plots.learning import (
    model_comparison,
    pseudo_label_rounds,
    reliability_diagram,
    student_teacher_rounds,
    training_curve,
)
from workbench.plots.review import round_history_chart

CHAR_PX = 7.0
LINE_PX = 14.0  # an axis title line
LFS = ["kw_check_out_my_channel", "re_subscribe_please", "short"]
rng = np.random.default_rng(0)


def fmt(value: float, spec: str | None) -> str:
    if spec == ",d":
        return f"{int(round(value)):,}"
    if spec and spec.endswith("%"):
        return f"{value:{spec}}"
    if spec:
        return f"{value:{spec}}"
    return f"{value:g}"


def tick_labels(fig, axis: str) -> list[str]:
    """What the ``axis`` ("xaxis", "yaxis2", ...) shows: its categories, or its numeric ticks."""
    layout = fig.layout[axis]
    letter, suffix = axis[0], axis[5:]
    ref = letter + suffix
    values = []
    for trace in fig.data:
        if getattr(trace, f"{letter}axis", None) not in (ref, None if not suffix else "_"):
            continue
        data = getattr(trace, letter, None)
        if data is not None:
            values.extend(v for v in np.asarray(data, dtype=object).ravel() if isinstance(v, str))
    if values:
        return sorted(set(values), key=len)
    if layout.range is not None and layout.dtick is not None:
        low, high = layout.range
        n = int(round((high - low) / float(layout.dtick)))
        return [fmt(low + i * float(layout.dtick), layout.tickformat) for i in range(n + 1)]
    if layout.tickvals is not None:
        return [str(v) for v in layout.tickvals]
    return []


def label_px(labels, angle: float = 0.0) -> tuple[float, float]:
    widest = max((len(label) * CHAR_PX for label in labels), default=0.0)
    rad = math.radians(abs(angle or 0))
    return widest * math.cos(rad) + 12 * math.sin(rad), widest * math.sin(rad) + 12 * math.cos(rad)


def assert_labels_fit(fig):
    margin = fig.layout.margin
    y_width, _ = label_px(tick_labels(fig, "yaxis"))
    assert margin.l >= y_width + (LINE_PX if fig.layout.yaxis.title.text else 0), "left labels clipped"
    bottom_axis = "xaxis2" if "xaxis2" in fig.layout and fig.layout.xaxis2.anchor == "y2" and fig.layout.xaxis2.matches is None \
        and fig.layout.xaxis.matches == "x2" else "xaxis"
    _, x_height = label_px(tick_labels(fig, "xaxis"), fig.layout.xaxis.tickangle)
    assert margin.b >= x_height + (LINE_PX if fig.layout[bottom_axis].title.text else 0), "bottom labels clipped"
    if "yaxis2" in fig.layout and fig.layout.yaxis2.overlaying:
        y2_width, _ = label_px(tick_labels(fig, "yaxis2"))
        assert margin.r >= y2_width + (LINE_PX if fig.layout.yaxis2.title.text else 0), "right labels clipped"
    assert margin.t >= 20 * fig.layout.title.text.count("<br>") + 20, "title clipped"
    if fig.layout.showlegend:
        # the legend sits in the top band under the title, never over the plot or an axis title
        assert fig.layout.legend.yref == "container" and fig.layout.legend.yanchor == "top"
        height = fig.layout.height or 450
        assert (1 - fig.layout.legend.y) * height < margin.t


def titles(fig, *axes):
    return [fig.layout[a].title.text for a in axes]


# --- builders ------------------------------------------------------------------------------

def lf_summary_case():
    summary = pd.DataFrame({"Coverage": [0.4, 0.2, 0.1], "Emp. Acc.": [0.9, 0.8, 0.5]}, index=LFS)
    return lf_summary_bars(summary), "Labeling functions", ["labeling function", "share of rows"]


def heatmap_case():
    matrix = pd.DataFrame(rng.random((3, 3)), index=LFS, columns=LFS)
    fig = matrix_heatmap(matrix, "Overlap")
    assert fig.data[0].colorbar.tickformat == ".0%" and fig.data[0].texttemplate == "%{text}"
    assert fig.data[0].text[0][0].endswith("%")  # cells and colour bar both in percent
    return fig, "Overlap", ["labeling function", "labeling function"]


def confidence_case():
    fig = confidence_histogram(softmax(rng.normal(size=(5000, 2)), axis=1), threshold=0.7)
    return fig, "Label model confidence", ["max probability", "rows"]


def class_balance_bars_case():
    return class_balance_bars([0.3, 0.7], [0.5, 0.5], ["not spam at all", "spam"]), "Class balance", ["class", "share of rows"]


def lf_accuracy_case():
    report = pd.DataFrame({"dev_accuracy": [0.9, 0.6], "learned_accuracy": [0.8, 0.7], "coverage": [0.3, 0.1]}, index=LFS[:2])
    return lf_accuracy_scatter(report), "Learned vs dev accuracy", ["dev accuracy", "learned accuracy"]


def time_case():
    months = [f"2015-{m:02d}" for m in range(1, 13)]
    table = pd.DataFrame({"period": months, "n": [120, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 2500],
                          "accuracy": [0.9, np.nan, np.nan, np.nan, 0.7, *[np.nan] * 6, 0.95],
                          "f1": [0.8, np.nan, np.nan, np.nan, 0.6, *[np.nan] * 6, 0.9]})
    fig = metrics_over_time_figure(table)
    assert list(fig.data[0].x) == ["2015-01", "2015-05", "2015-12"]  # empty months left off
    assert fig.layout.yaxis2.dtick == 500 and fig.layout.yaxis2.tickformat == ",d"  # round row ticks
    assert fig.layout.yaxis2.range[1] / fig.layout.yaxis2.dtick == fig.layout.yaxis.range[1] / fig.layout.yaxis.dtick
    return fig, "Metrics over time (bars: rows per period)", ["period (9 without rows left out)", "metric", "rows"]


def slice_case():
    table = pd.DataFrame({
        "slice": ["all", "source=a very long forum name", "length=short"], "n": [200, 40, 12],
        "error_rate": [0.1, 0.2, 0.05], "error_gap": [0.0, 0.1, -0.05], "error_low": [0.08, 0.1, 0.0],
        "error_high": [0.12, 0.35, 0.3], "status": ["ok", "flagged", "too small"],
    })
    return slice_gap_figure(table, margin=0.05), "Error rate of each slice minus the whole set's (0.100)", \
        ["error-rate gap (positive = worse than the whole)", "slice"]


def model_comparison_figure_case():
    table = pd.DataFrame({"accuracy": [0.9, 0.8], "accuracy[source=a long forum name]": [0.7, 0.75]}, index=["end model", "label model"])
    return model_comparison_figure(table), "accuracy of each model, whole set and slices", ["slice", "accuracy"]


def confusion_case():
    confusion = pd.DataFrame([[1200, 30], [45, 2000]], index=pd.Index(["ham", "spam"], name="true"),
                             columns=pd.Index(["ham", "spam"], name="predicted"))
    fig = confusion_figure(confusion)
    assert fig.data[0].texttemplate == "%{z:,d}"
    return fig, "Confusion matrix", ["predicted", "true"]


def _curve():
    P = softmax(rng.normal(scale=2, size=(400, 2)), axis=1)
    dev = softmax(rng.normal(scale=2, size=(80, 2)), axis=1)
    y = dev.argmax(1)
    curve = threshold_curve(P, valid_proba=dev, valid_labels=y, class_names=["ham", "spam"])
    return curve, operating_point(P, 0.7, valid_proba=dev, valid_labels=y, class_names=["ham", "spam"])


def curve_case():
    curve, point = _curve()
    return threshold_curve_figure(curve, point, labeled_name="valid"), "Coverage vs valid precision", \
        ["pool coverage", "valid precision"]


def balance_case():
    balance = class_balance(np.array([0] * 30 + [1] * 70), 2, target=[0.5, 0.5], class_names=["ham", "spam"])
    return class_balance_figure(balance), "Class balance of the kept set", ["class", "share of rows"]


def histogram_case():
    confidence = rng.uniform(0.5, 1, 3000)
    status = np.where(confidence >= 0.7, "kept", "below threshold")
    return threshold_histogram(confidence, status, {"threshold": 0.7, "spam": 0.8}), "Confidence of the pool", \
        ["top probability", "rows"]


def _stages():
    return pd.DataFrame({"stage": ["pool", "protected_duplicates", "confidence"], "n_rows": [1186, 1180, 700],
                         "removed": [{}, {"duplicate": 6}, {"below threshold": 480}]})


def funnel_case():
    return funnel_figure(_stages()), "Filter funnel", ["rows left", "step"]


def kept_case():
    balance = class_balance(np.array([0] * 30 + [1] * 70), 2, target=[0.5, 0.5], class_names=["ham", "spam"])
    return kept_set_figure(balance, _stages()), "The kept set", ["class", "share of rows"]


def diversity_case():
    X = rng.normal(size=(300, 2))
    return diversity_scatter(X, {"diverse": [1, 2, 3], "most confident": [4, 5]}), "Which rows each selection picks", \
        ["component 1", "component 2"]


def pseudo_case():
    history = pd.DataFrame({"round": [0, 1, 2], "n_labeled": [4, 180, 333], "added_0": [0, 90, 70], "added_1": [0, 86, 83],
                            "valid_accuracy": [0.7, 0.9, 0.88], "threshold": [0.9] * 3, "kept": [True, True, False]})
    return pseudo_label_rounds(history), "Pseudo-labeling rounds (threshold 0.90)", ["round", "labeled rows", "score"]


def reliability_case():
    proba = softmax(rng.normal(size=(500, 2)), axis=1)
    y = (rng.random(500) < proba[:, 1]).astype(int)
    fig = reliability_diagram(y, {"label model before temperature scaling": proba, "end model": proba[:, ::-1]})
    assert fig.layout.xaxis2.title.text == "confidence (top-label probability)"
    return fig, "Reliability diagram (equal-width bins)", [None, "accuracy"]


def comparison_case():
    report = pd.DataFrame({"accuracy": [0.9, 0.85], "ece_uniform": [0.05, 0.1], "brier": [0.1, 0.12]},
                          index=["teacher", "soft T=2"])
    return model_comparison(report), "Student vs teacher", ["metric", "value (accuracy: higher is better;<br>ECE, Brier, log loss: lower)"]


def student_case():
    history = pd.DataFrame({"round": [1, 2], "teacher_valid_accuracy": [0.7, 0.9], "student_valid_accuracy": [0.9, 0.88],
                            "teacher_test_accuracy": [0.7, 0.9], "student_test_accuracy": [0.9, 0.87],
                            "student_beats_teacher": [True, False]})
    return student_teacher_rounds(history), "Student vs teacher per round", ["round", "accuracy"]


def training_case():
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.9, 0.5, 0.4], "valid_log_loss": [0.8, 0.55, 0.6],
                            "valid_accuracy": [0.7, 0.85, 0.84], "best": [False, True, False]})
    return training_curve(history), "End model training", ["epoch", "log loss", "valid score"]


def review_case():
    history = pd.DataFrame({"round": [1, 2, 3], "n_seed_labels": [10, 25, 37], "dev_accuracy": [0.8, 0.85, 0.9]})
    return round_history_chart(history), "Review loop: scores per round", ["round", "score", "seed labels"]


CASES = [lf_summary_case, heatmap_case, confidence_case, class_balance_bars_case, lf_accuracy_case, time_case, slice_case,
         model_comparison_figure_case, confusion_case, curve_case, balance_case, histogram_case, funnel_case, kept_case,
         diversity_case, pseudo_case, reliability_case, comparison_case, student_case, training_case, review_case]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.removesuffix("_case") for c in CASES])
def test_every_builder_has_its_titles_and_room_for_its_labels(case):
    fig, title, axis_titles = case()
    assert fig.layout.title.text == title
    axes = ["xaxis", "yaxis", "yaxis2"][: len(axis_titles)]
    assert titles(fig, *axes) == axis_titles
    assert_labels_fit(fig)


def test_round_axes_and_steps():
    assert [nice_step(x) for x in (0.7, 1, 2.2, 27.4, 0.031)] == [0.8, 1, 2.5, 30, 0.04]
    assert round_axis(1186) == dict(range=[0, 1250.0], tick0=0, dtick=250.0, tickmode="linear", tickformat=",d")
    assert round_axis(3)["dtick"] == 1 and round_axis(0)["range"] == [0, 5]  # counts: integer steps, never 0.5 rows
    assert round_axis(0.93, integer=False)["dtick"] == 0.2


def test_fit_layout_grows_with_the_labels():
    import plotly.graph_objects as go

    short = fit_layout(go.Figure(layout=dict(title="t", yaxis_title="y")), y_labels=["1"])
    long = fit_layout(go.Figure(layout=dict(title="t", yaxis_title="y")), y_labels=["a much longer tick label"])
    assert long.layout.margin.l - short.layout.margin.l >= 20 * CHAR_PX
    slanted = fit_layout(go.Figure(), x_labels=["a much longer tick label"], x_angle=-45)
    level = fit_layout(go.Figure(), x_labels=["a much longer tick label"])
    assert slanted.layout.margin.b > level.layout.margin.b + 80


def test_resize_keeps_the_legend_under_the_title():
    from workbench.plots._layout import resize

    fig, *_ = histogram_case()
    offset = (1 - fig.layout.legend.y) * 450  # pixels from the top at plotly's default height
    resize(fig, width=610, height=350)
    assert (fig.layout.width, fig.layout.height) == (610, 350)
    assert (1 - fig.layout.legend.y) * 350 == pytest.approx(offset)
