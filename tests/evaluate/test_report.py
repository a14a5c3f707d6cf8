"""One model on one clean set: metrics, confusion, ECE, costs (workbench.evaluate._report)."""

import json

import numpy as np
import pandas as pd
import pytest

from workbench.evaluate import (
    error_cost,
    evaluate,
)


def test_report_counts_confusion_cost_and_per_class():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    p = np.array([0, 0, 0, 1, 1, 1, 1, 1, 0, -1])  # 1 FP, 1 FN, 1 abstain on a positive
    r = evaluate(p, y, class_names=["ham", "spam"], fp_cost=1, fn_cost=10)
    assert r.n == 10 and r.coverage == 0.9
    assert r.accuracy == 0.7 and r.error_rate == pytest.approx(0.3)
    assert r.precision == 0.8  # 4 of 5 predicted spam are spam
    assert r.recall == pytest.approx(4 / 6)  # the abstained spam went uncaught
    assert r.confusion.loc["true spam"].tolist() == [1, 4, 1]
    assert list(r.confusion.columns) == ["pred ham", "pred spam", "abstain"]
    assert r.per_class.loc["ham", "support"] == 4 and r.per_class.loc["ham", "recall"] == 0.75
    assert (r.cost.false_positives, r.cost.false_negatives, r.cost.total) == (1, 2, 21.0)
    assert r.ece is None  # labels, not probabilities
    json.dumps(r.to_dict())


def test_ece_of_known_probabilities():
    # Two confidence bins: 0.9 (all right -> gap 0.1) and 0.6 (half right -> gap 0.1).
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    r = evaluate(proba, [0, 0, 1, 0])
    assert r.ece == pytest.approx(0.1)
    perfect = evaluate(np.eye(2)[[0, 1, 1]], [0, 1, 1])
    assert perfect.ece == 0.0


def test_error_cost_multiclass_is_one_vs_rest():
    c = error_cost([2, 2, 0, 1], [2, 0, 2, 2], fp_cost=2, fn_cost=3, positive_label=2)
    assert (c.false_positives, c.false_negatives, c.total, c.per_example) == (2, 1, 7.0, 1.75)


def test_report_runs_a_fitted_model_on_the_text_column():
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    df = pd.DataFrame({"text": ["buy now", "cheap pills", "nice song", "love it"] * 5, "label": [1, 1, 0, 0] * 5})
    model = make_pipeline(CountVectorizer(), LogisticRegression()).fit(df.text, df.label)
    r = evaluate(model, df)
    assert r.accuracy == 1.0 and r.ece is not None


@pytest.mark.parametrize(
    "preds, data, message",
    [
        (np.array([0, 1]), np.array([0, 1, 1]), "2 predictions for 3 gold rows"),
        (np.array([0, 5, -2]), np.array([0, 1, 1]), "predicted label -2 at row 2"),
        (np.array([[0.5, 0.6], [1, 0]]), np.array([0, 1]), "row 0 is not a probability distribution"),
        (np.array([0, 1]), pd.DataFrame({"text": ["a", "b"]}), "no gold label column 'label'"),
        (np.array([0, 1]), np.array([0, -1]), "gold label -1 at row 1"),
    ],
)
def test_bad_input_is_named(preds, data, message):
    with pytest.raises(ValueError, match=message):
        evaluate(preds, data)


def test_a_k_by_k_cost_matrix_names_classes_and_charges_each_confusion():
    from workbench.evaluate import MatrixCost

    y = [0, 1, 2, 2, 1]
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.2, 0.7], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]])
    costs = [[0, 1, 1], [2, 0, 10], [3, 4, 0]]
    report = evaluate(proba, y, class_names=["a", "b", "c"], cost_matrix=costs)
    assert isinstance(report.cost, MatrixCost)
    assert report.cost.per_class == {"a": 0.0, "b": 10.0, "c": 4.0} and report.cost.total == 14.0
    assert report.summary()["cost"] == 14.0 and report.to_dict()["cost"]["class_names"] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="cost_matrix must be k x k"):
        evaluate(proba, y, cost_matrix=[[0, 1], [1, 0], [1, 1]])
    with pytest.raises(ValueError, match="cost_matrix is 2 x 2 but there are 3 classes"):
        evaluate(proba, y, class_names=["a", "b", "c"], cost_matrix=[[0, 1], [1, 0]])
