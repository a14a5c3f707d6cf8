import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from workbench.generate import (
    Distiller,
    compare_targets,
    make_student,
    make_teacher,
    soft_targets,
)

D = 20
W = np.r_[1.5, 1.5, np.zeros(D - 2)]  # the teacher's (Bayes-optimal) weights


def posterior(X):
    p1 = expit(X @ W)
    return np.c_[1 - p1, p1]


@pytest.fixture(scope="module")
def fixture():
    """A teacher that knows the true posterior; a small transfer set (60 rows, 20 features)."""
    rng = np.random.default_rng(0)
    X_transfer = rng.normal(size=(60, D))
    X_test = rng.normal(size=(4000, D))
    y_test = (rng.random(4000) < posterior(X_test)[:, 1]).astype(int)
    return X_transfer, X_test, y_test


def test_soft_targets_give_a_different_and_not_worse_student(fixture):
    X_transfer, X_test, y_test = fixture
    P = posterior(X_transfer)
    soft = Distiller(LogisticRegression(C=1.0), targets="soft").fit(X_transfer, P)
    hard = Distiller(LogisticRegression(C=1.0), targets="hard").fit(X_transfer, P)
    assert np.abs(soft.predict_proba(X_test) - hard.predict_proba(X_test)).max() > 0.2
    assert (soft.predict(X_test) != hard.predict(X_test)).mean() > 0.05

    table = compare_targets(
        X_transfer, P, X_test, y_test, student=LogisticRegression(C=1.0), temperatures=(1.0,),
        teacher_test_proba=posterior(X_test), progress_bar=False,
    )
    assert list(table.index) == ["teacher", "hard", "soft T=1"]
    s, h = table.loc["soft T=1"], table.loc["hard"]
    assert s["accuracy"] >= h["accuracy"]
    assert s["log_loss"] < h["log_loss"]
    assert s["ece_uniform"] < h["ece_uniform"]
    assert s["agreement_with_teacher"] > h["agreement_with_teacher"]
    assert table.loc["soft T=1", "accuracy"] == pytest.approx(soft.score(X_test, y_test))
    assert table.loc["teacher", "agreement_with_teacher"] == 1.0


def test_temperature_reaches_the_students_loss():
    # Soft targets sigmoid(w.x) softened by T are sigmoid(w.x / T): an unregularised
    # logistic student must recover w / T. Hard targets carry no such information.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, D))
    for T in (1.0, 2.0, 4.0):
        student = Distiller(LogisticRegression(C=1e6, max_iter=5000), temperature=T).fit(X, posterior(X))
        np.testing.assert_allclose(student.student_.coef_[0], W / T, atol=0.03)
        np.testing.assert_allclose(student.targets_, soft_targets(posterior(X), T))
        # At prediction time the student is back at temperature 1: it reproduces the teacher.
        np.testing.assert_allclose(student.predict_proba(X), posterior(X), atol=0.02)
    hard = Distiller(LogisticRegression(C=1e6, max_iter=5000), targets="hard").fit(X, posterior(X))
    assert np.linalg.norm(hard.student_.coef_) > 5 * np.linalg.norm(W)  # separable arg-max labels: weights blow up


def test_text_pipeline_student_and_teacher():
    texts = ["free money now", "win free prize", "click my channel", "love this song", "great video", "nice voice"] * 5
    y = np.array([1, 1, 1, 0, 0, 0] * 5)
    teacher = make_teacher().fit(texts, y)
    P = teacher.predict_proba(texts)
    assert P.shape == (30, 2) and (P.argmax(axis=1) == y).all()
    student = Distiller(make_student(), temperature=2.0).fit(texts, P)
    # The vectorizer saw each distinct text once, not once per class.
    np.testing.assert_allclose(student.student_[0].idf_, make_student()[0].fit(texts).idf_, rtol=1e-12)
    assert student.predict(["free prize money", "love the song"]).tolist() == [1, 0]


def test_hard_targets_missing_a_class_still_give_k_columns():
    X = np.c_[np.linspace(-1, 1, 20)]
    P = np.c_[np.full(20, 0.5), np.linspace(0.1, 0.4, 20), np.linspace(0.4, 0.1, 20)]  # class 0 always wins
    P = P / P.sum(axis=1, keepdims=True)
    P[:10] = P[:10, [1, 0, 2]]  # class 1 wins the first half; class 2 never wins
    model = Distiller(LogisticRegression(), targets="hard").fit(X, P)
    proba = model.predict_proba(X)
    assert proba.shape == (20, 3)
    assert (proba[:, 2] == 0).all()
    assert set(model.predict(X)) <= {0, 1}


def test_bad_inputs_name_the_problem(fixture):
    X_transfer, _, _ = fixture
    with pytest.raises(ValueError, match="teacher_proba has 3 rows but X has 60"):
        Distiller().fit(X_transfer, posterior(X_transfer)[:3])
    with pytest.raises(ValueError, match="targets must be one of"):
        Distiller(targets="argmax").fit(X_transfer, posterior(X_transfer))
    with pytest.raises(ValueError, match=r"teacher_proba: row 0 is not a probability distribution"):
        Distiller().fit(X_transfer, posterior(X_transfer) * 2)
    with pytest.raises(ValueError, match="temperature must be a positive"):
        Distiller(LogisticRegression(), temperature=0).fit(X_transfer, posterior(X_transfer))


def test_best_student_lets_hard_and_soft_compete_and_never_picks_the_teacher():
    import pandas as pd

    from workbench.generate import best_student

    table = pd.DataFrame({"targets": ["teacher", "hard", "soft", "soft"], "temperature": [np.nan, np.nan, 1.0, 2.0],
                          "log_loss": [0.10, 0.20, 0.30, 0.25], "accuracy": [0.9, 0.8, 0.85, 0.7]},
                         index=["teacher", "hard", "soft T=1", "soft T=2"])
    assert best_student(table) == {"targets": "hard", "temperature": 1.0}
    assert best_student(table.drop(index="hard")) == {"targets": "soft", "temperature": 2.0}
    with pytest.raises(ValueError, match="'brier'"):
        best_student(table, metric="brier")
    with pytest.raises(ValueError, match="no student rows"):
        best_student(table.loc[["teacher"]])
