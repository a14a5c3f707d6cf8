import numpy as np
import pytest

from tests._helpers import synthetic_votes
from workbench.generate import (
    AutoLabelModel,
    BaseLabelModel,
    DawidSkeneLabelModel,
    HyperLabelModel,
    MajorityVote,
    SnorkelLabelModel,
    health_check,
    paired_bootstrap,
)
from workbench.generate._select import choose, conflict_share, expected_correct
from workbench.generate._votes import check_partial_labels
from workbench.labeling import ABSTAIN


class Memorizer(BaseLabelModel):
    """Learns nothing but the labeled rows' labels, by vote pattern: perfect on rows it was fitted
    with, chance on others. Only cross-fitting shows that."""

    def __init__(self, cardinality=2, *, tie_break="abstain", class_balance=None, random_state=0):
        self.cardinality, self.tie_break, self.class_balance, self.random_state = cardinality, tie_break, class_balance, random_state

    def uses_labels(self):
        return True

    def fit(self, L, y=None):
        L = self._validate_fit(L)
        y = check_partial_labels(y, len(L), self.cardinality)
        self.memory_ = {} if y is None else {L[i].tobytes(): y[i] for i in np.flatnonzero(y != ABSTAIN)}
        self.class_balance_ = np.full(self.cardinality, 1 / self.cardinality)
        self.lf_accuracies_ = np.full(L.shape[1], 0.5)
        return self

    def predict_proba(self, L):
        L = self._validate_predict(L)
        out = np.full((len(L), self.cardinality), 1 / self.cardinality)
        for i, row in enumerate(L):
            if row.tobytes() in self.memory_:
                out[i] = np.eye(self.cardinality)[self.memory_[row.tobytes()]]
        return out


class Recorder(MajorityVote):
    fitted_rows: list = []

    def fit(self, L, y=None):
        Recorder.fitted_rows.append(len(L))
        return super().fit(L, y)


def test_expected_correct_counts_ties_as_a_fair_coin():
    proba = np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
    np.testing.assert_allclose(expected_correct(proba, np.array([1, 1, 1])), [1, 0.5, 0])


def test_paired_bootstrap_interval_covers_the_difference(rng):
    a = (rng.random(400) < 0.8).astype(float)
    b = (rng.random(400) < 0.75).astype(float)
    diff, low, high = paired_bootstrap(a, b, random_state=1)
    assert low < diff < high and diff == pytest.approx(a.mean() - b.mean())
    assert paired_bootstrap(a, b, random_state=1) == (diff, low, high)  # seeded


def test_choose_keeps_the_preferred_model_within_noise_and_switches_beyond_it(rng):
    truth = rng.random(300)
    preferred = (np.arange(300) < 240).astype(float)
    lucky = preferred.copy()
    lucky[240:262], lucky[:18] = 1.0, 0.0  # right on 22 rows the other gets wrong, wrong on 18 it gets right
    noisy = {"preferred": preferred, "lucky": lucky}
    kept = choose(noisy, ("preferred", "lucky"))
    assert kept.chosen == "preferred" and kept.best == "lucky" and kept.interval[0] <= 0
    assert "includes zero" in kept.reason and "keeps the benchmark's first choice" in kept.reason
    clear = {"preferred": (truth < 0.6).astype(float), "better": (truth < 0.9).astype(float)}
    switched = choose(clear, ("preferred", "better"))
    assert switched.chosen == "better" and switched.interval[0] > 0 and "above zero" in switched.reason
    nothing = choose({"preferred": np.zeros(0), "other": np.zeros(0)}, ("preferred", "other"))
    assert nothing.chosen == "preferred" and "no labeled rows" in nothing.reason


def test_auto_cross_fits_models_that_use_labels(rng):
    """Scored on the labeled rows it was fitted with, the memorizer would win every time."""
    L, Y = synthetic_votes(n=2000, accuracies=(0.85, 0.8, 0.75, 0.7, 0.7, 0.65, 0.8, 0.75), coverage=0.7, seed=7)
    y = np.where(np.arange(len(Y)) < 300, Y, ABSTAIN)
    auto = AutoLabelModel(candidates={"memorizer": Memorizer(), "dawid_skene": DawidSkeneLabelModel()},
                          preference=("memorizer", "dawid_skene")).fit(L, y)
    assert auto.chosen_ == "dawid_skene"
    assert auto.comparison_.loc["memorizer", "accuracy"] < 0.7 < auto.comparison_.loc["dawid_skene", "accuracy"]
    assert auto.interval_[0] > 0 and "cross-fitted labeled rows" in auto.reason_
    assert isinstance(auto.model_, DawidSkeneLabelModel) and auto.model_.n_labeled_ == 300
    np.testing.assert_allclose(auto.predict_proba(L), auto.model_.predict_proba(L))
    np.testing.assert_allclose(auto.lf_accuracies_, auto.model_.lf_accuracies_)


def test_auto_scores_no_selected_row_and_fits_every_candidate_with_them():
    L, Y = synthetic_votes(n=2000, seed=7)
    y = np.where(np.arange(len(Y)) < 300, Y, ABSTAIN)
    selected = np.arange(len(Y)) < 100
    auto = AutoLabelModel(candidates={"dawid_skene": DawidSkeneLabelModel()}).fit(L, y, selected=selected)
    scored = int(((L[100:300] != ABSTAIN).any(axis=1)).sum())
    assert f"{scored} cross-fitted labeled rows" in auto.reason_
    assert auto.comparison_.loc["dawid_skene", "n_rows"] == scored
    expected = DawidSkeneLabelModel().fit(L, y, selected=selected)
    np.testing.assert_allclose(auto.predict_proba(L), expected.predict_proba(L))
    assert not np.allclose(DawidSkeneLabelModel().fit(L, y).predict_proba(L), expected.predict_proba(L))


def test_auto_fits_the_comparison_on_a_bounded_sample_and_only_the_choice_on_everything():
    L, Y = synthetic_votes(n=5000, seed=8)
    Recorder.fitted_rows = []
    auto = AutoLabelModel(candidates={"recorder": Recorder()}, max_rows=1000).fit(L, L_eval=L[:200], y_eval=Y[:200])
    assert Recorder.fitted_rows == [1000, 5000]
    assert auto.comparison_.loc["recorder", "n_rows"] == int((L[:200] != ABSTAIN).any(axis=1).sum())


def test_auto_keeps_its_comparison_fit_when_nothing_was_sampled():
    L, Y = synthetic_votes(n=800, seed=8)
    Recorder.fitted_rows = []
    auto = AutoLabelModel(candidates={"recorder": Recorder()}, max_rows=800).fit(L, L_eval=L[:200], y_eval=Y[:200])
    assert Recorder.fitted_rows == [800]
    np.testing.assert_allclose(auto.predict_proba(L), MajorityVote().fit(L).predict_proba(L))


def test_auto_leaves_out_a_candidate_over_the_work_budget_and_says_so():
    """Fine-tuning the hyper model per class and cross-fitting it costs seconds: over the budget it is
    left out (the reason names it, the budget and the work); within it, it is compared."""
    L, Y = synthetic_votes(n=1000, k=3, coverage=0.5, seed=2)
    y = np.where(np.arange(len(Y)) < 60, Y, ABSTAIN)
    candidates = {"hyper_semi": HyperLabelModel(), "majority": MajorityVote()}
    work = HyperLabelModel(3).fit_work(L[np.r_[60:1000, 0:60]], y[np.r_[60:1000, 0:60]])
    assert work > HyperLabelModel(3, use_labels=False).fit_work(L, y) > HyperLabelModel(2, use_labels=False).fit_work(L, y)
    tight = AutoLabelModel(3, candidates=candidates, work_budget=4 * work - 1).fit(L, y, L_eval=L[:100], y_eval=Y[:100])
    assert tight.comparison_.loc["hyper_semi", "status"].startswith("left out: its 4 comparison fits would process")
    assert "hyper_semi left out" in tight.reason_ and "work_budget" in tight.reason_ and tight.chosen_ == "majority"
    roomy = AutoLabelModel(3, candidates=candidates, work_budget=4 * work).fit(L, y, L_eval=L[:100], y_eval=Y[:100])
    assert roomy.comparison_.loc["hyper_semi", "status"] == "ok" and "left out" not in roomy.reason_


def test_conflict_share_counts_covered_rows_whose_votes_disagree():
    L = np.array([[0, 1, -1], [2, 2, -1], [-1, -1, -1], [1, -1, 1], [-1, 2, 0]], dtype=np.int8)
    assert conflict_share(L) == pytest.approx(2 / 4)
    assert conflict_share(np.full((3, 2), ABSTAIN)) == 0.0


def test_auto_prefers_majority_vote_when_votes_rarely_conflict():
    """Rare LFs that seldom overlap: within noise auto keeps majority vote, not the benchmark's
    first choice, and says why; with the same LFs firing often the first choice is kept."""
    accuracies = (0.8, 0.75, 0.7, 0.65, 0.8, 0.75, 0.7, 0.65)
    candidates = {"dawid_skene": DawidSkeneLabelModel(), "majority": MajorityVote()}
    L, Y = synthetic_votes(n=4000, accuracies=accuracies, coverage=0.02, seed=3)
    assert conflict_share(L) < 0.1
    sparse = AutoLabelModel(candidates=candidates).fit(L, L_eval=L[:300], y_eval=Y[:300])
    assert sparse.chosen_ == "majority" and "votes rarely conflict" in sparse.reason_
    L, Y = synthetic_votes(n=4000, accuracies=accuracies, coverage=0.5, seed=3)
    dense = AutoLabelModel(candidates=candidates).fit(L, L_eval=L[:300], y_eval=Y[:300])
    assert dense.chosen_ == "dawid_skene" and "rarely conflict" not in dense.reason_
    given = AutoLabelModel(candidates=candidates, preference=("dawid_skene", "majority"))
    assert "rarely conflict" not in given.fit(*synthetic_votes(n=4000, accuracies=accuracies, coverage=0.02, seed=3)[:1]).reason_


def test_auto_leaves_out_snorkel_where_it_is_too_slow_and_says_so():
    L, Y = synthetic_votes(n=600, k=9, accuracies=(0.8,) * 30, coverage=0.3, seed=9)
    auto = AutoLabelModel(9, candidates={"snorkel": SnorkelLabelModel(), "majority": MajorityVote()}).fit(
        L, L_eval=L[:100], y_eval=Y[:100])
    assert auto.comparison_.loc["snorkel", "status"].startswith("skipped: 30 LFs x 9 classes")
    assert auto.chosen_ == "majority"


def test_auto_bad_input_is_named():
    L, Y = synthetic_votes(n=300, seed=1)
    with pytest.raises(ValueError, match="give L_eval and y_eval together"):
        AutoLabelModel().fit(L, L_eval=L[:10])
    with pytest.raises(ValueError, match="L_eval has 4 LF columns but L has 5"):
        AutoLabelModel().fit(L, L_eval=L[:10, :4], y_eval=Y[:10])
    with pytest.raises(ValueError, match=r"y_eval\[0\] = 5 is outside 0..1"):
        AutoLabelModel(cardinality=2).fit(L, L_eval=L[:2], y_eval=[5, 0])
    with pytest.raises(ValueError, match="candidate 'mv' is not a label model"):
        AutoLabelModel(candidates={"mv": object()}).fit(L)
    with pytest.raises(ValueError, match="n_folds must be an int >= 2"):
        AutoLabelModel(n_folds=1).fit(L)
    with pytest.raises(ValueError, match="work_budget must be an int >= 1"):
        AutoLabelModel(work_budget=0).fit(L)
    with pytest.raises(ValueError, match="low_conflict must be a share between 0 and 1"):
        AutoLabelModel(low_conflict=2).fit(L)


def test_health_check_states_auto_choice_interval_and_reason_in_one_sentence():
    L, Y = synthetic_votes(n=3000, invert=2, coverage=0.7)
    report = health_check(L, L[:500], Y[:500], [f"lf{j}" for j in range(5)], y_train=np.where(np.arange(3000) < 100, Y, -1))
    first = report.messages[0]
    assert first.startswith(f"Auto chose {report.chosen}") and "interval" in first and first.count(". ") == 0
    assert set(report.scores.index) >= {"dawid_skene", "hyper", "hyper_semi", "weighted", "majority"}
    assert report.lfs.loc["lf2", "inverted"] and not report.lfs.loc["lf0", "inverted"]
    assert any("'lf2'" in m and "below chance" in m for m in report.messages)
    assert report.model.predict_proba(L).shape == (3000, 2)


def test_health_check_says_when_a_given_model_does_not_beat_majority_vote():
    L, Y = synthetic_votes(n=3000)

    class Worse(SnorkelLabelModel):
        def predict_proba(self, L):  # a label model that always says class 0
            return np.tile([1.0, 0.0], (len(L), 1))

    report = health_check(L, L[:400], Y[:400], None, label_model=Worse(n_epochs=50).fit(L))
    assert report.chosen == "majority" and isinstance(report.model, MajorityVote)
    assert "does NOT beat majority vote" in str(report) and report.interval[0] > 0


def test_health_check_refuses_a_dev_set_no_lf_covers():
    L = np.array([[0, 1, -1], [1, 1, 0], [-1, 0, 0], [1, -1, 1]])
    with pytest.raises(ValueError, match="no LF votes on any of the 2 dev rows .*lf0, lf1, lf2.*cover some dev examples"):
        health_check(L, np.full((2, 3), -1), np.array([0, 1]), [f"lf{j}" for j in range(3)])


def test_health_check_validates_dev_inputs():
    L, Y = synthetic_votes(n=300)
    with pytest.raises(ValueError, match="L_dev has 4 LF columns but L_train has 5"):
        health_check(L, L[:50, :4], Y[:50])
    with pytest.raises(ValueError, match="y_dev has 49 labels; expected 50"):
        health_check(L, L[:50], Y[:49])


def test_health_check_flags_dominant_broad_lf():
    rng = np.random.default_rng(1)
    Y = rng.integers(0, 2, 3000)
    broad = np.where(rng.random(3000) < 0.9, Y, 1 - Y)
    small = [np.where(rng.random(3000) < 0.1, np.where(rng.random(3000) < 0.7, Y, 1 - Y), -1) for _ in range(3)]
    L = np.column_stack([broad, *small])
    report = health_check(L, L[:300], Y[:300], ["broad", "a", "b", "c"])
    assert report.lfs.loc["broad", "dominant"] and not report.lfs.loc["a", "dominant"]
