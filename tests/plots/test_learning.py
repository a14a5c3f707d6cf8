"""Figures of ``workbench.plots.learning``: pseudo-labeling rounds, reliability, comparisons, training."""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.datasets import make_moons
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import rbf_kernel

from workbench.generate import PseudoLabeler
from workbench.learn import (
    EndModelTrainer,
    calibration_report,
    expected_calibration_error,
    one_hot,
    reliability_table,
    student_teacher_loop,
)
from workbench.plots.learning import (
    model_comparison,
    pseudo_label_rounds,
    reliability_diagram,
    student_teacher_rounds,
    training_curve,
)


def calibrated_sample(rng, n, k=3):
    """Probabilities and labels drawn from them: calibrated by construction."""
    proba = softmax(rng.normal(scale=2.0, size=(n, k)), axis=1)
    y = (rng.random(n)[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)
    return proba, y


@pytest.fixture(scope="module")
def pseudo_history():
    """Two half moons, two seeds per class; with patience 1 the last round is rolled back."""
    X2d, gold = make_moons(700, noise=0.08, random_state=2)
    X = rbf_kernel(X2d, X2d[:300], gamma=10)
    y = np.full(300, -1)
    for c in (0, 1):
        y[np.flatnonzero(gold[:300] == c)[:2]] = c
    model = PseudoLabeler(LogisticRegression(C=10), threshold=0.9, max_rounds=6, patience=1, progress_bar=False)
    model.fit(X[:300], y, X_valid=X[300:500], y_valid=gold[300:500], eval_sets={"test": (X[500:], gold[500:])},
              audit_labels=gold[:300])
    return model.history_


def test_pseudo_label_rounds_stack_the_labeled_pool_and_draw_the_scores(pseudo_history):
    h = pseudo_history
    assert not h["kept"].all() and h["kept"].any()  # the data exercise the faded rounds
    fig = pseudo_label_rounds(h, class_names=["moon A", "moon B"])
    assert [(t.type, t.name) for t in fig.data] == [
        ("bar", "seeds"), ("bar", "pseudo-labeled moon A"), ("bar", "pseudo-labeled moon B"),
        ("scatter", "valid accuracy"), ("scatter", "test accuracy"), ("scatter", "pseudo-label accuracy (audit)"),
    ]
    rounds = h["round"].tolist()
    assert all(list(t.x) == rounds for t in fig.data)
    bars = [np.asarray(t.y) for t in fig.data[:3]]
    assert bars[0].tolist() == [4] * len(h)
    np.testing.assert_array_equal(bars[1], h["added_0"].cumsum())
    np.testing.assert_array_equal(sum(bars), h["n_labeled"])  # the stack is the labeled pool
    np.testing.assert_allclose(fig.data[3].y, h["valid_accuracy"])
    np.testing.assert_allclose(fig.data[4].y, h["test_accuracy"])
    np.testing.assert_allclose(fig.data[5].y, h["pseudo_label_accuracy"])
    assert {t.yaxis for t in fig.data[3:]} == {"y2"}  # scores on the right axis
    for bar in fig.data[:3]:
        np.testing.assert_array_equal(np.asarray(bar.marker.opacity) < 1, ~h["kept"].to_numpy())  # rolled back: faded
    assert fig.layout.barmode == "stack"
    assert fig.layout.title.text == "Pseudo-labeling rounds (threshold 0.90)"
    assert fig.layout.xaxis.title.text == "round"
    assert fig.layout.yaxis.title.text == "labeled rows" and fig.layout.yaxis2.title.text == "score"


def test_pseudo_label_rounds_name_classes_by_index_without_class_names(pseudo_history):
    fig = pseudo_label_rounds(pseudo_history.drop(columns=["kept", "pseudo_label_accuracy"]), title="Rounds")
    assert [t.name for t in fig.data][:3] == ["seeds", "pseudo-labeled 0", "pseudo-labeled 1"]
    assert "pseudo-label accuracy (audit)" not in [t.name for t in fig.data]
    assert all(np.all(np.asarray(t.marker.opacity) == 1) for t in fig.data if t.type == "bar")
    assert fig.layout.title.text == "Rounds (threshold 0.90)"


def test_reliability_diagram_bins_100k_rows_per_model():
    rng = np.random.default_rng(0)
    proba, y = calibrated_sample(rng, 100_000)
    sharp = softmax(4 * np.log(proba), axis=1)
    fig = reliability_diagram(y, {"calibrated": proba, "sharp": sharp}, n_bins=8)
    assert [(t.type, t.name) for t in fig.data] == [
        ("scatter", "perfectly calibrated"),
        ("scatter", f"calibrated (ECE {expected_calibration_error(y, proba, 8):.3f})"),
        ("bar", "calibrated"),
        ("scatter", f"sharp (ECE {expected_calibration_error(y, sharp, 8):.3f})"),
        ("bar", "sharp"),
    ]
    assert list(fig.data[0].x) == list(fig.data[0].y) == [0, 1]
    for line, bars, model in ((fig.data[1], fig.data[2], proba), (fig.data[3], fig.data[4], sharp)):
        table = reliability_table(y, model, n_bins=8)
        np.testing.assert_allclose(line.x, table["confidence"])
        np.testing.assert_allclose(line.y, table["accuracy"])
        np.testing.assert_array_equal(bars.y, table["count"])
        assert len(bars.y) <= 8 and bars.y.sum() == 100_000  # binned: 8 numbers, not 100,000 rows
        assert (line.xaxis, line.yaxis, bars.xaxis, bars.yaxis) == ("x", "y", "x2", "y2")
    assert fig.layout.title.text == "Reliability diagram (equal-width bins)"
    assert fig.layout.yaxis.title.text == "accuracy" and fig.layout.yaxis2.title.text == "rows"
    assert fig.layout.xaxis2.title.text == "confidence (top-label probability)"


def test_reliability_diagram_with_equal_mass_bins():
    proba, y = calibrated_sample(np.random.default_rng(1), 2000)
    fig = reliability_diagram(y, {"model": proba}, n_bins=5, strategy="quantile", title="Test set")
    table = reliability_table(y, proba, n_bins=5, strategy="quantile")
    np.testing.assert_allclose(fig.data[1].y, table["accuracy"])
    np.testing.assert_array_equal(fig.data[2].y, [400] * 5)
    assert fig.layout.title.text == "Test set (equal-mass bins)"


def test_model_comparison_bars_are_the_report_metrics():
    proba, y = calibrated_sample(np.random.default_rng(2), 1000)
    overconfident = softmax(3 * np.log(proba), axis=1)
    report = calibration_report(y, {"student": proba, "teacher": overconfident})
    fig = model_comparison(report)
    assert [(t.type, t.name) for t in fig.data] == [("bar", "student"), ("bar", "teacher")]
    metrics = ["accuracy", "ece_uniform", "brier"]
    for trace, name in zip(fig.data, ["student", "teacher"]):
        assert list(trace.x) == metrics
        np.testing.assert_allclose(trace.y, report.loc[name, metrics].astype(float))
        assert list(trace.text) == [f"{report.loc[name, m]:.3f}" for m in metrics]
    assert fig.layout.barmode == "group" and fig.layout.title.text == "Student vs teacher"
    assert fig.layout.yaxis.title.text.startswith("value")
    fig = model_comparison(report, metrics=("log_loss",), title="Log loss")
    assert list(fig.data[0].x) == ["log_loss"] and fig.layout.title.text == "Log loss"
    with pytest.raises(ValueError, match=r"report has no column\(s\) \['auc'\]"):
        model_comparison(report, metrics=("accuracy", "auc"))


@pytest.fixture(scope="module")
def student_teacher():
    rng = np.random.default_rng(0)

    def task(n):
        X = rng.normal(size=(n, 5))
        return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)

    def noisy_teacher(y):
        wrong = rng.random(len(y)) < 0.3
        return one_hot(np.where(wrong, 1 - y, y), 2) * 0.6 + 0.2

    (X_pool, y_pool), (X_valid, y_valid), (X_test, y_test) = task(400), task(100), task(300)
    teacher = {"pool": noisy_teacher(y_pool), "valid": noisy_teacher(y_valid), "test": noisy_teacher(y_test)}
    return student_teacher_loop(X_pool, teacher, X_valid, y_valid, X_test, y_test, max_rounds=2, progress_bar=False,
                                trainer=EndModelTrainer("passthrough", max_epochs=6, progress_bar=False))


def test_student_teacher_rounds_draw_both_on_both_sets_and_star_the_wins(student_teacher):
    h = student_teacher.history
    fig = student_teacher_rounds(h)
    assert [(t.type, t.name) for t in fig.data] == [
        ("scatter", "teacher · valid"), ("scatter", "teacher · test"), ("scatter", "student · valid"),
        ("scatter", "student · test"), ("scatter", "student wins → relabels"),
    ]
    for trace in fig.data[:4]:
        who, split = trace.name.split(" · ")
        assert list(trace.x) == h["round"].tolist()
        np.testing.assert_allclose(trace.y, h[f"{who}_{split}_accuracy"])
        assert trace.line.dash == ("dash" if who == "teacher" else "solid")
    won = h["student_beats_teacher"].to_numpy(bool)
    assert won.any() and not won.all()
    assert list(fig.data[4].x) == h.loc[won, "round"].tolist()
    np.testing.assert_allclose(fig.data[4].y, h.loc[won, "student_valid_accuracy"])
    assert fig.layout.title.text == "Student vs teacher per round"
    assert fig.layout.xaxis.title.text == "round" and fig.layout.yaxis.title.text == "accuracy"


def test_training_curve_draws_losses_and_valid_scores_and_marks_the_kept_epoch(student_teacher):
    student = student_teacher.students[0]
    h = student.history_
    fig = training_curve(h)
    assert [(t.type, t.name) for t in fig.data] == [
        ("scatter", "train loss (soft labels)"), ("scatter", "valid log loss"), ("scatter", "valid accuracy"),
    ]
    assert all(list(t.x) == h["epoch"].tolist() for t in fig.data)
    np.testing.assert_allclose(fig.data[0].y, h["train_loss"])
    np.testing.assert_allclose(fig.data[1].y, h["valid_log_loss"])
    np.testing.assert_allclose(fig.data[2].y, h["valid_accuracy"])
    assert fig.data[2].yaxis == "y2"  # scores on the right, losses on the left
    assert [s.x0 for s in fig.layout.shapes] == [student.best_epoch_]
    assert [a.text for a in fig.layout.annotations] == [f"kept: epoch {student.best_epoch_}"]
    assert fig.layout.title.text == "End model training" and fig.layout.xaxis.title.text == "epoch"
    assert fig.layout.yaxis.title.text == "log loss" and fig.layout.yaxis2.title.text == "valid score"
