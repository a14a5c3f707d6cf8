import warnings

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from workbench.learn import (
    TemperatureScaling,
    apply_temperature,
    brier_score,
    calibrate_classifier,
    calibration_report,
    expected_calibration_error,
    reliability_table,
    smooth_labels,
)
from workbench.plots.learning import model_comparison, reliability_diagram


def calibrated_sample(rng, n=20000, k=3, scale=2.0):
    """Logits, their softmax and labels drawn from that softmax: calibrated by construction."""
    logits = rng.normal(scale=scale, size=(n, k))
    P = softmax(logits, axis=1)
    y = (rng.random(n)[:, None] > np.cumsum(P, axis=1)).sum(axis=1)
    return logits, P, y


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_ece_near_zero_for_calibrated_predictor_and_large_for_overconfident(rng, strategy):
    logits, P, y = calibrated_sample(rng)
    assert expected_calibration_error(y, P, n_bins=10, strategy=strategy) < 0.02
    overconfident = softmax(logits * 4.0, axis=1)  # same arg-max, sharper
    ece_over = expected_calibration_error(y, overconfident, n_bins=10, strategy=strategy)
    assert ece_over > 0.1
    table = reliability_table(y, overconfident, n_bins=10, strategy=strategy)
    assert (table["gap"] < 0).mean() > 0.7  # most bins say "less accurate than confident"


def test_ece_known_value_and_binary_1d_input():
    # Two bins: confidence 0.9 with 50% right, confidence 0.6 with 100% right.
    y = np.array([1, 0, 1, 1])
    p1 = np.array([0.9, 0.9, 0.6, 0.6])
    table = reliability_table(y, p1, n_bins=5)
    assert table["count"].tolist() == [2, 2]
    assert table["accuracy"].tolist() == [1.0, 0.5]
    assert expected_calibration_error(y, p1, n_bins=5) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    # Confidence exactly 1.0 lands in the last equal-width bin, not outside.
    assert reliability_table([0], [[1.0, 0.0]], n_bins=4)["upper"].item() == 1.0


def test_quantile_bins_have_equal_mass(rng):
    _, P, y = calibrated_sample(rng, n=1000)
    table = reliability_table(y, P, n_bins=8, strategy="quantile")
    assert table["count"].tolist() == [125] * 8
    assert (np.diff(table["confidence"]) >= 0).all()


def test_brier_score_matches_definition(rng):
    _, P, y = calibrated_sample(rng, n=500, k=3)
    expected = ((P - np.eye(3)[y]) ** 2).sum(axis=1).mean()
    assert brier_score(y, P) == pytest.approx(expected)
    assert brier_score([1, 0], [0.8, 0.3]) == pytest.approx((0.2**2 + 0.3**2) / 2)


@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_temperature_scaling_recovers_known_temperature_on_logits(rng, true_t):
    logits, _, y = calibrated_sample(rng)
    # A model whose logits are the calibrated ones times T: dividing by T repairs it.
    ts = TemperatureScaling(input="logits").fit(logits * true_t, y)
    assert ts.temperature_ == pytest.approx(true_t, rel=0.05)
    assert ts.log_loss_after_ < ts.log_loss_before_
    repaired = ts.transform(logits * true_t)
    assert expected_calibration_error(y, repaired) < 0.02
    assert (repaired.argmax(axis=1) == logits.argmax(axis=1)).all()  # accuracy untouched


def test_temperature_scaling_on_probabilities_and_binary_scores(rng):
    logits, P, y = calibrated_sample(rng, k=2)
    ts = TemperatureScaling().fit(softmax(logits * 3.0, axis=1), y)
    assert ts.temperature_ == pytest.approx(3.0, rel=0.05)
    # 1-D decision-function scores are logits of class 1 against a zero for class 0.
    margin = logits[:, 1] - logits[:, 0]
    ts1d = TemperatureScaling(input="logits").fit(margin * 2.0, y)
    assert ts1d.temperature_ == pytest.approx(2.0, rel=0.05)
    # Already calibrated: T stays near 1.
    assert TemperatureScaling().fit(P, y).temperature_ == pytest.approx(1.0, abs=0.05)


def test_apply_temperature_softens_and_sharpens():
    P = np.array([[0.8, 0.2]])
    assert apply_temperature(P, 1.0) == pytest.approx(P)
    assert apply_temperature(P, 2.0)[0, 0] == pytest.approx(np.sqrt(0.8) / (np.sqrt(0.8) + np.sqrt(0.2)))
    assert apply_temperature(P, 0.5)[0, 0] > 0.8
    assert apply_temperature(P, 1e6)[0] == pytest.approx([0.5, 0.5], abs=1e-5)
    with pytest.raises(ValueError, match="temperature must be a positive"):
        apply_temperature(P, 0.0)


def test_smooth_labels():
    S = smooth_labels([0, 2], 0.3, cardinality=3)
    assert S == pytest.approx(np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]]))
    assert smooth_labels(np.array([[1.0, 0.0]]), 0.2) == pytest.approx(np.array([[0.9, 0.1]]))
    with pytest.raises(ValueError, match="epsilon"):
        smooth_labels([0, 1], 1.0)
    with pytest.raises(ValueError, match=r"targets\[1\] = -1 is outside 0..1"):
        smooth_labels([0, -1], 0.1, cardinality=2)


def test_calibrate_classifier_fixes_an_overconfident_model(rng):
    n = 3000
    X = rng.normal(size=(n, 2))
    y = (X[:, 0] + rng.normal(scale=1.0, size=n) > 0).astype(int)
    model = LogisticRegression(C=1e4).fit(X[:1000] * 5, y[:1000])  # scaled features: overconfident on X
    raw = model.predict_proba(X[2000:])
    calibrated = calibrate_classifier(model, X[1000:2000], y[1000:2000], method="sigmoid")
    fixed = calibrated.predict_proba(X[2000:])
    assert expected_calibration_error(y[2000:], fixed) < expected_calibration_error(y[2000:], raw) / 2
    with pytest.raises(ValueError, match="method must be"):
        calibrate_classifier(model, X[:10], y[:10], method="platt")


def test_calibration_report_columns(rng):
    logits, P, y = calibrated_sample(rng, n=2000)
    report = calibration_report(y, {"calibrated": P, "sharp": softmax(4 * logits, axis=1)})
    assert list(report.index) == ["calibrated", "sharp"]
    assert set(report.columns) == {"accuracy", "log_loss", "brier", "ece_uniform", "ece_quantile", "mean_confidence"}
    assert report.loc["calibrated", "accuracy"] == pytest.approx(report.loc["sharp", "accuracy"])
    assert report.loc["calibrated", "log_loss"] < report.loc["sharp", "log_loss"]
    assert report.loc["calibrated", "ece_uniform"] < report.loc["sharp", "ece_uniform"]


def test_calibration_report_takes_float32_probabilities_without_a_warning(rng):
    # A float32 model's rows sum to 1 only within ~3e-8: scikit-learn's log loss and Brier score warned on them.
    logits, P, y = calibrated_sample(rng, n=2000)
    P32 = P.astype(np.float32)
    assert np.abs(P32.astype(float).sum(axis=1) - 1).max() > 1.5e-8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = calibration_report(y, {"float32": P32})
        assert brier_score(y, P32) == pytest.approx(brier_score(y, P), rel=1e-6)
    assert report.loc["float32", "log_loss"] == pytest.approx(calibration_report(y, {"float64": P}).loc["float64", "log_loss"],
                                                               rel=1e-6)


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match=r"row 1 is not a probability distribution"):
        expected_calibration_error([0, 1], [[0.5, 0.5], [0.9, 0.9]])
    with pytest.raises(ValueError, match=r"y_true\[1\] = -1 is outside 0..1"):
        expected_calibration_error([0, -1], [[0.5, 0.5], [0.1, 0.9]])
    with pytest.raises(ValueError, match="y_true has 3 labels; expected 2"):
        brier_score([0, 1, 1], [[0.5, 0.5], [0.1, 0.9]])
    with pytest.raises(ValueError, match="strategy must be one of"):
        reliability_table([0], [[1.0, 0.0]], strategy="equal")
    with pytest.raises(ValueError, match="fitted on 2 classes"):
        TemperatureScaling().fit([[0.9, 0.1], [0.2, 0.8]], [0, 1]).transform([[0.2, 0.3, 0.5]])


def test_reliability_diagram_is_binned_and_names_the_ece(rng):
    logits, P, y = calibrated_sample(rng, n=5000)
    sharp = softmax(4 * logits, axis=1)
    fig = reliability_diagram(y, {"calibrated": P, "sharp": sharp}, n_bins=8, strategy="quantile")
    lines = [t for t in fig.data if t.type == "scatter"]
    assert lines[0].name == "perfectly calibrated"
    assert lines[1].name == f"calibrated (ECE {expected_calibration_error(y, P, 8, 'quantile'):.3f})"
    table = reliability_table(y, sharp, n_bins=8, strategy="quantile")
    np.testing.assert_allclose(lines[2].y, table["accuracy"])
    counts = [t for t in fig.data if t.type == "bar"]
    assert all(len(t.y) <= 8 for t in counts) and sum(counts[0].y) == 5000  # binned, not per row
    assert "equal-mass" in fig.layout.title.text


def test_model_comparison_bars(rng):
    _, P, y = calibrated_sample(rng, n=500)
    report = calibration_report(y, {"a": P, "b": P})
    fig = model_comparison(report, metrics=("accuracy", "brier"))
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[0].x) == ["accuracy", "brier"]
    assert fig.data[0].y[0] == pytest.approx(report.loc["a", "accuracy"])
    with pytest.raises(ValueError, match=r"no column\(s\) \['auc'\]"):
        model_comparison(report, metrics=("auc",))
