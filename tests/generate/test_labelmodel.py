import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError

from tests._helpers import accuracy_weighted_vote, synthetic_votes
from workbench.generate import (
    LABEL_MODELS,
    AutoLabelModel,
    BaseLabelModel,
    DawidSkeneLabelModel,
    HyperLabelModel,
    MajorityVote,
    SnorkelLabelModel,
    WeightedVote,
    fit_label_model,
    fit_with_selected,
    health_check,
    proba_to_labels,
)
from workbench.labeling import ABSTAIN


synthetic_L = synthetic_votes


def test_majority_vote_probabilities_and_ties():
    L = np.array([[1, 1, 0], [0, 1, -1], [-1, -1, -1]])
    mv = MajorityVote().fit(L)
    np.testing.assert_allclose(mv.predict_proba(L), [[1 / 3, 2 / 3], [0.5, 0.5], [0.5, 0.5]])
    assert mv.predict(L).tolist() == [1, -1, -1]
    assert mv.predict(L, tie_break="prior").tolist()[0] == 1
    balanced = MajorityVote(class_balance=[0.8, 0.2]).fit(L)
    assert balanced.predict(L).tolist() == [1, -1, 0]  # uncovered row takes the known balance
    np.testing.assert_allclose(balanced.class_balance_, [0.8, 0.2])
    # Without a known balance the prior tie-break uses the smoothed vote shares: 2 votes for 0, 3 for 1.
    np.testing.assert_allclose(mv.class_balance_, [3 / 7, 4 / 7])
    assert mv.predict(L, tie_break="prior").tolist() == [1, 1, 1]


def test_majority_vote_is_multi_class():
    L = np.array([[3, 3, 2], [0, 1, 1], [2, -1, -1], [-1, -1, -1]])
    mv = MajorityVote(cardinality=4).fit(L)
    assert mv.predict_proba(L).shape == (4, 4) and mv.classes_.tolist() == [0, 1, 2, 3]
    assert mv.predict(L).tolist() == [3, 1, 2, -1]
    np.testing.assert_allclose(mv.predict_proba(L)[3], [0.25] * 4)


def test_tie_break_policies():
    P = np.array([[0.5, 0.5, 0.0], [0.2, 0.4, 0.4], [0.1, 0.8, 0.1]])
    assert proba_to_labels(P, "abstain").tolist() == [-1, -1, 1]
    assert proba_to_labels(P, "prior", prior=np.array([0.1, 0.2, 0.7])).tolist() == [1, 2, 1]
    random_labels = proba_to_labels(P, "random", random_state=3)
    assert random_labels[0] in (0, 1) and random_labels[1] in (1, 2)
    assert proba_to_labels(P, "random", random_state=3).tolist() == random_labels.tolist()
    with pytest.raises(ValueError, match="tie_break must be one of"):
        proba_to_labels(P, "coin")


@pytest.mark.parametrize("k", [2, 3])
def test_label_model_recovers_accuracies_and_beats_chance(k):
    L, Y = synthetic_L(k=k)
    lm = SnorkelLabelModel(cardinality=k).fit(L)
    P = lm.predict_proba(L)
    assert P.shape == (len(L), k) and np.allclose(P.sum(axis=1), 1)
    covered = (L != ABSTAIN).any(axis=1)
    assert (lm.predict(L[covered], "random") == Y[covered]).mean() > 0.85
    learned = lm.lf_accuracies_
    assert learned[0] > learned[-1]  # ordering of the planted accuracies survives
    np.testing.assert_allclose(lm.class_balance_, np.full(k, 1 / k))  # Snorkel's default prior


def test_score_is_accuracy_and_metrics_count_abstentions_as_errors():
    L = np.array([[1, 1, -1], [0, -1, -1], [-1, -1, -1], [0, 1, -1]])
    mv = MajorityVote().fit(L)
    assert mv.score(L, [1, 0, 0, 0]) == 0.5  # scikit-learn's score: one float
    s = mv.metrics(L, [1, 0, 0, 0])
    assert s["coverage"] == 0.5 and s["accuracy"] == 0.5 and s["accuracy_covered"] == 1.0 and s["n"] == 4
    with pytest.raises(ValueError, match=r"y\[0\] = 2 is outside 0..1"):
        mv.metrics(L, [2, 0, 0, 0])


def test_inputs_are_validated_in_fit():
    with pytest.raises(ValueError, match=r"label 2 \(LF column 0, row 0\) but cardinality is 2 .* need cardinality=3"):
        MajorityVote(cardinality=2).fit(np.array([[2, 0, 1]]))
    with pytest.raises(ValueError, match="SnorkelLabelModel needs at least 3 LFs; L has 2"):
        SnorkelLabelModel().fit(np.array([[0, 1], [1, 1]]))
    bad = MajorityVote(class_balance=[0.5, 0.6])  # stored as given: the error comes from fit
    assert bad.class_balance == [0.5, 0.6]
    with pytest.raises(ValueError, match="class_balance: row 0 is not a probability distribution"):
        bad.fit(np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="class_balance must have 3 entries"):
        MajorityVote(cardinality=3, class_balance=[0.5, 0.5]).fit(np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="tie_break must be one of"):
        MajorityVote(tie_break="coin").fit(np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="cardinality must be None \\(inferred in fit\\) or an int >= 2"):
        MajorityVote(cardinality=1).fit(np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="unknown label model 'dawid'"):
        fit_label_model("dawid", np.zeros((2, 3), int))
    mv = MajorityVote().fit(np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="L has 4 LF columns; MajorityVote was fitted on 3"):
        mv.predict_proba(np.zeros((2, 4), int))


@pytest.mark.parametrize("kind", ["majority", "snorkel", "hyper", "dawid_skene", "weighted", "auto"])
def test_cardinality_none_is_inferred_in_fit_from_votes_labels_or_class_balance(kind):
    model = LABEL_MODELS[kind]
    L = np.array([[0, 1, 0], [1, 1, -1], [0, -1, 0], [1, 0, 1]] * 5)
    fitted = model().fit(L)
    assert fitted.cardinality is None and fitted.cardinality_ == 2  # the parameter stays as given
    assert fitted.predict_proba(L).shape == (len(L), 2)
    y = np.full(len(L), ABSTAIN)
    y[:3] = [0, 1, 2]  # a seed label names a class no LF votes for
    assert model().fit(L, y).cardinality_ == 3
    five = np.where(L == 1, 4, L)  # votes reach class 4
    assert model().fit(five).predict_proba(five).shape == (len(L), 5)
    if "class_balance" in model().get_params():
        assert model(class_balance=[0.2, 0.3, 0.5]).fit(L).cardinality_ == 3
    with pytest.raises(ValueError, match="cannot infer cardinality: L \\(and y\\) holds no vote or label"):
        model().fit(np.full((4, 3), ABSTAIN))


def test_health_check_takes_the_number_of_classes_from_the_model_or_the_labels():
    L_train = np.array([[0, 1, 2], [1, 1, -1], [2, -1, 2], [0, 0, 0]] * 10)
    L_dev, y_dev = L_train[:12], np.array([0, 1, 2, 0] * 3)
    assert health_check(L_train, L_dev, y_dev).model.cardinality_ == 3
    four = MajorityVote(cardinality=4).fit(L_train)
    assert health_check(L_train, L_dev, y_dev, label_model=four).model.cardinality_ == 4


# -- scikit-learn estimator behaviour ----------------------------------------------------------------

ESTIMATORS = [
    MajorityVote(),
    MajorityVote(cardinality=3, tie_break="random", class_balance=[0.5, 0.3, 0.2], random_state=4),
    SnorkelLabelModel(n_epochs=20),
    SnorkelLabelModel(cardinality=3, n_epochs=20, class_balance=(0.2, 0.3, 0.5), tie_break="prior"),
    HyperLabelModel(),
    HyperLabelModel(cardinality=3, use_labels=False, tie_break="random"),
    DawidSkeneLabelModel(),
    DawidSkeneLabelModel(cardinality=3, class_balance=(0.2, 0.3, 0.5), label_weight=1.0),
    WeightedVote(),
    WeightedVote(cardinality=3, prior_strength=0.0),
    AutoLabelModel(candidates={"majority": MajorityVote(), "dawid_skene": DawidSkeneLabelModel()}),
]


def fit_data(model):
    return synthetic_L(n=300, k=model.cardinality or 2)[0]


@pytest.mark.parametrize("kind", ["majority", "snorkel", "hyper", "dawid_skene", "weighted", "auto"])
def test_every_registered_model_takes_partial_labels_and_learns_lf_accuracies(kind):
    """fit(L, y): y has one entry per row, ABSTAIN where unlabeled; models that use no labels ignore it."""
    L, Y = synthetic_L(n=1500, k=3, accuracies=(0.9, 0.8, 0.7, 0.65, 0.6), seed=2)
    y = np.where(np.arange(len(Y)) % 10 == 0, Y, ABSTAIN)
    model = fit_label_model(kind, L, 3, y)
    covered = (L != ABSTAIN).any(axis=1)
    assert model.metrics(L[covered], Y[covered], tie_break="random")["accuracy"] > 0.7
    learned = model.lf_accuracies_
    assert learned.shape == (5,) and np.isfinite(learned).all()
    assert learned[0] > learned[-1]  # the planted ordering of the best and the worst LF survives
    with pytest.raises(ValueError, match=r"y has 10 labels; expected 1500"):
        fit_label_model(kind, L, 3, y[:10])
    with pytest.raises(ValueError, match=r"y\[0\] = 3 is outside -1..2"):
        fit_label_model(kind, L, 3, np.where(np.arange(len(Y)) == 0, 3, y))


@pytest.mark.parametrize("model", ESTIMATORS, ids=repr)
def test_label_models_follow_the_estimator_contract(model):
    assert isinstance(model, BaseLabelModel) and is_classifier(model)
    params = model.get_params()
    twin = clone(model)
    # repr, not ==: clone clones estimators inside parameters (auto's candidates), as scikit-learn does.
    assert twin is not model and repr(twin.get_params()) == repr(params)
    assert repr(type(model)(**params).get_params()) == repr(params)  # get_params round trip
    assert not [a for a in vars(model) if a.endswith("_")]  # nothing fitted before fit
    L = fit_data(model)
    for method in ("predict_proba", "predict"):
        with pytest.raises(NotFittedError):
            getattr(twin, method)(L)
    with pytest.raises(NotFittedError):
        twin.metrics(L, np.zeros(len(L), int))

    assert twin.fit(L) is twin
    assert repr(twin.get_params()) == repr(params)  # fit leaves parameters exactly as given
    assert {"classes_", "n_lfs_", "class_balance_", "lf_accuracies_"} <= set(vars(twin))
    assert twin.n_lfs_ == L.shape[1] and twin.classes_.tolist() == list(range(twin.cardinality_))
    assert twin.lf_accuracies_.shape == (L.shape[1],) and twin.class_balance_.shape == (twin.cardinality_,)
    proba = twin.predict_proba(L)
    assert proba.shape == (len(L), twin.cardinality_) and np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(clone(model).fit(L).predict_proba(L), proba)  # clones fit alike
    assert not [a for a in vars(clone(twin)) if a.endswith("_")]  # a clone of a fitted model is unfitted


def test_set_params_takes_effect_at_the_next_fit():
    L = np.array([[1, 0, -1], [1, 1, 1], [-1, -1, -1]])
    mv = MajorityVote().fit(L)
    assert mv.predict(L).tolist() == [-1, 1, -1]
    assert mv.set_params(tie_break="prior", class_balance=[0.9, 0.1]) is mv
    assert mv.fit(L).predict(L).tolist() == [0, 1, 0]


@pytest.mark.parametrize("model", [MajorityVote(), SnorkelLabelModel(), HyperLabelModel(), DawidSkeneLabelModel(),
                                   WeightedVote(), AutoLabelModel()], ids=repr)
@pytest.mark.parametrize("check", [
    "check_no_attributes_set_in_init", "check_parameters_default_constructible", "check_get_params_invariance",
    "check_set_params", "check_estimators_unfitted", "check_estimator_cloneable", "check_estimator_repr",
    "check_do_not_raise_errors_in_init_or_set_params", "check_mixin_order",
])
def test_scikit_learn_checks_that_apply(model, check):
    """scikit-learn's own checks that do not fit on its generated float data (``L`` holds class ids)."""
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, check)(type(model).__name__, model)


# -- the registry ------------------------------------------------------------------------------------


def test_a_registered_label_model_is_fitted_by_name():
    model_class = accuracy_weighted_vote()
    LABEL_MODELS.register("accuracy_weighted", model_class)
    try:
        L, Y = synthetic_L(n=500, k=3, accuracies=(0.9, 0.6, 0.55))
        model = fit_label_model("accuracy_weighted", L, cardinality=3, smoothing=0.0)
        assert type(model) is model_class and model.smoothing == 0.0 and model.source == "label_model"
        covered = (L != ABSTAIN).any(axis=1)
        assert model.metrics(L[covered], Y[covered], tie_break="random")["accuracy"] > 0.6
    finally:
        LABEL_MODELS.unregister("accuracy_weighted")
    assert "accuracy_weighted" not in LABEL_MODELS


def test_fit_with_selected_passes_selected_to_the_models_that_take_it():
    L, Y = synthetic_votes(n=500, seed=2)
    y = np.where(np.arange(len(Y)) < 50, Y, ABSTAIN)
    selected = np.arange(len(Y)) < 50
    ours = fit_with_selected(WeightedVote(), L, y, selected)
    np.testing.assert_allclose(ours.lf_accuracies_, WeightedVote().fit(L).lf_accuracies_)  # every label was selected

    class Users(MajorityVote):  # written before `selected`: gets y as it always did
        def fit(self, L, y=None):
            self.y_ = y
            return super().fit(L, y)

    assert fit_with_selected(Users(), L, y, selected).y_ is y
