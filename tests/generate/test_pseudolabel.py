import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.semi_supervised import SelfTrainingClassifier

from tests._helpers import notebook_bars
from workbench.generate import PseudoLabeler
from workbench.plots.learning import pseudo_label_rounds


@pytest.fixture(scope="module")
def moons():
    """Two separable half-moon clusters, RBF features, 2 seeds per class; pool, dev and test."""
    X2d, gold = make_moons(1400, noise=0.08, random_state=2)
    F = rbf_kernel(X2d, X2d[:600], gamma=10)  # a linear model on these features follows the clusters
    y = np.full(600, -1)
    rng = np.random.default_rng(2)
    for c in (0, 1):
        y[rng.choice(np.flatnonzero(gold[:600] == c), 2, replace=False)] = c
    return {
        "X": F[:600], "y": y, "gold": gold[:600],
        "X_valid": F[600:800], "y_valid": gold[600:800], "X_test": F[800:], "y_test": gold[800:],
    }


def run(moons, **params):
    params = {"estimator": LogisticRegression(C=10), "progress_bar": False, "patience": 2, **params}
    return PseudoLabeler(**params).fit(
        moons["X"], moons["y"], X_valid=moons["X_valid"], y_valid=moons["y_valid"],
        eval_sets={"test": (moons["X_test"], moons["y_test"])}, audit_labels=moons["gold"],
    )


def test_separable_clusters_with_few_seeds_reach_high_accuracy(moons):
    seeds = moons["y"] != -1
    seed_only = LogisticRegression(C=10).fit(moons["X"][seeds], moons["y"][seeds]).score(moons["X_test"], moons["y_test"])
    model = run(moons, threshold=0.9, balance="prior")
    assert seed_only < 0.8  # four seeds alone are not enough ...
    assert model.score(moons["X_test"], moons["y_test"]) > 0.97  # ... following the clusters is
    h = model.history_
    assert h["round"].tolist() == list(range(len(h)))
    assert h.loc[model.best_round_, "valid_accuracy"] == h["valid_accuracy"].max()
    assert h["test_accuracy"].iloc[model.best_round_] > h["test_accuracy"].iloc[0] + 0.15
    kept = h[h["kept"] & (h["round"] > 0)]
    assert (kept["pseudo_label_accuracy"] > 0.97).all()
    # Prior balance with 2 + 2 seeds: every round adds as many rows of each class.
    assert (kept["added_0"] == kept["added_1"]).all()
    assert h["n_labeled"].tolist() == (4 + h["n_added"].cumsum()).tolist()
    assert (kept["mean_confidence_added"] >= 0.9).all()
    # The kept pseudo-labels agree with the hidden gold labels.
    pl = model.pseudo_labels()
    assert len(pl) == (model.labeled_iter_ > 0).sum() > 400
    assert (pl["label"].to_numpy() == moons["gold"][pl["row"]]).mean() > 0.98


def test_bad_threshold_degrades_and_the_history_shows_it(moons):
    good = run(moons, threshold=0.9, balance="prior")
    bad = run(moons, threshold=0.5)
    assert bad.score(moons["X_test"], moons["y_test"]) < good.score(moons["X_test"], moons["y_test"]) - 0.15
    h = bad.history_
    # Threshold 0.5 takes the whole pool in round 1, mistakes of the seed model included ...
    assert h.loc[1, "n_added"] == (moons["y"] == -1).sum()
    assert bad.termination_condition_ in ("all_labeled", "valid_plateau")
    assert h.loc[1, "pseudo_label_accuracy"] < 0.85
    # ... and the clean dev score shows no gain, unlike the good run's.
    assert h["valid_accuracy"].max() < h.loc[0, "valid_accuracy"] + 0.02
    assert good.history_["valid_accuracy"].max() > good.history_.loc[0, "valid_accuracy"] + 0.15


def test_early_stopping_rolls_back_to_the_best_dev_round(moons):
    model = run(moons, threshold=0.6, patience=1, max_rounds=10)
    h = model.history_
    best = model.best_round_
    assert h.loc[best, "valid_accuracy"] == h["valid_accuracy"].max()
    if model.termination_condition_ == "valid_plateau":
        assert h["valid_accuracy"].iloc[-1] <= h.loc[best, "valid_accuracy"]
    assert h["kept"].tolist() == [r <= best for r in h["round"]]
    assert model.labeled_iter_.max() == best
    assert (model.transduction_[model.labeled_iter_ == -1] == -1).all()
    assert model.score(moons["X_valid"], moons["y_valid"]) == pytest.approx(h.loc[best, "valid_accuracy"])


def test_matches_sklearn_self_training_in_plain_mode(moons):
    for criterion in ("threshold", "k_best"):
        sk = SelfTrainingClassifier(LogisticRegression(C=10), threshold=0.8, criterion=criterion, k_best=40, max_iter=4)
        sk.fit(moons["X"], moons["y"])
        ours = PseudoLabeler(
            LogisticRegression(C=10), threshold=0.8, criterion=criterion, k_best=40, max_rounds=4,
            weighting="uniform", progress_bar=False,
        ).fit(moons["X"], moons["y"])
        np.testing.assert_array_equal(ours.transduction_, sk.transduction_)
        np.testing.assert_array_equal(ours.labeled_iter_, sk.labeled_iter_)


def test_confidence_weights_and_k_best_balance(moons):
    model = PseudoLabeler(
        LogisticRegression(C=10), criterion="k_best", k_best=30, max_rounds=2, balance="equal", progress_bar=False
    ).fit(moons["X"], moons["y"])
    added = model.labeled_iter_ > 0
    assert added.sum() == 60
    np.testing.assert_allclose(model.sample_weight_[added], model.confidence_[added])
    assert (model.sample_weight_[model.labeled_iter_ == 0] == 1.0).all()
    assert (model.sample_weight_[model.labeled_iter_ == -1] == 0.0).all()
    for r in (1, 2):
        labels = model.transduction_[model.labeled_iter_ == r]
        assert (labels == 0).sum() == (labels == 1).sum() == 15


def test_prior_balance_keeps_seed_shares():
    # Seeds 1:3; the model is sure of far more class-0 rows, yet additions keep 1:3.
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(-3, 0.5, (300, 1)), rng.normal(3, 0.5, (60, 1))]
    y = np.full(360, -1)
    y[[0, 300, 301, 302]] = [0, 1, 1, 1]
    model = PseudoLabeler(threshold=0.7, balance="prior", max_rounds=1, progress_bar=False).fit(X, y)
    row = model.history_.loc[1]
    assert row["added_1"] == 3 * row["added_0"] > 0


def test_input_errors_name_the_problem(moons):
    X, y = moons["X"], moons["y"]
    with pytest.raises(ValueError, match="at least two classes"):
        PseudoLabeler(progress_bar=False).fit(X, np.where(y == 1, -1, y))
    with pytest.raises(ValueError, match="X has 600 rows but y has 3 labels"):
        PseudoLabeler().fit(X, y[:3])
    with pytest.raises(ValueError, match=r"y\[0\] = -2"):
        PseudoLabeler().fit(X, np.r_[-2, y[1:]])
    with pytest.raises(ValueError, match="balance must be one of"):
        PseudoLabeler(balance="yes").fit(X, y)
    with pytest.raises(ValueError, match="both X_valid and y_valid"):
        PseudoLabeler().fit(X, y, X_valid=moons["X_valid"])
    with pytest.raises(TypeError, match="takes no sample_weight"):
        from sklearn.neighbors import KNeighborsClassifier

        PseudoLabeler(KNeighborsClassifier(3), threshold=0.5, progress_bar=False).fit(X, y)


def test_rounds_figure_shows_pool_growth_and_scores(moons):
    model = run(moons, threshold=0.9, balance="prior")
    h = model.history_
    fig = pseudo_label_rounds(h, class_names=["moon A", "moon B"])
    names = [t.name for t in fig.data]
    assert names[:3] == ["seeds", "pseudo-labeled moon A", "pseudo-labeled moon B"]
    assert {"valid accuracy", "test accuracy", "pseudo-label accuracy (audit)"} <= set(names)
    bars = {t.name: np.asarray(t.y) for t in fig.data if t.type == "bar"}
    np.testing.assert_array_equal(bars["seeds"] + bars["pseudo-labeled moon A"] + bars["pseudo-labeled moon B"], h["n_labeled"])
    dev = next(t for t in fig.data if t.name == "valid accuracy")
    np.testing.assert_allclose(dev.y, h["valid_accuracy"])
    # Rolled-back rounds are faded.
    faded = np.asarray(fig.data[1].marker.opacity) < 1
    np.testing.assert_array_equal(faded, ~h["kept"].to_numpy())
    assert "threshold 0.90" in fig.layout.title.text


def test_progress_bar_ends_full_and_says_where_self_training_stopped(moons, monkeypatch):
    import workbench.generate._pseudolabel as pseudolabel

    bars = notebook_bars(monkeypatch, pseudolabel)
    model = run(moons, threshold=0.6, patience=1, max_rounds=10, progress_bar=True)
    assert model.termination_condition_ == "valid_plateau"
    rounds = model.n_iter_
    (bar,) = bars
    progress = bar.container.children[1]
    assert (progress.value, progress.max, progress.bar_style) == (rounds, rounds, "success")
    assert bar.desc == f"pseudo-labeling: stopped early at round {rounds} (valid score stopped improving)"

    bars.clear()
    run(moons, threshold=0.6, patience=10, max_rounds=2, progress_bar=True)  # ran every round: no early stop
    assert bars[0].desc == "pseudo-labeling" and bars[0].container.children[1].value == 2
