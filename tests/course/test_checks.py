"""Every checker: right answers pass, wrong ones fail and say why, and a placeholder is 'unanswered'."""

import numpy as np
import pandas as pd
import pytest

from workbench import load_youtube_spam
from workbench.course import (
    check_best_round,
    check_brier,
    check_coverage,
    check_curation_choice,
    check_ece,
    check_exported_rows,
    check_flagged_slices,
    check_funnel_removed,
    check_gray_zone_count,
    check_kappa,
    check_kept_count,
    check_label_model_accuracy,
    check_leak_count,
    check_lf,
    check_majority_vote,
    check_snowball_class,
    check_soft_targets,
    check_temperature_choice,
    check_threshold,
    check_top_conflict,
)
from workbench.generate import MajorityVote
from workbench.labeling import keyword_lf
from workbench.curate import threshold_curve

L = np.array([[1, 1, -1], [0, 1, -1], [-1, -1, -1], [0, 0, 1], [-1, 1, 1]])  # votes, a tie, nothing, 2-1, agreement


@pytest.fixture(scope="module")
def ds():
    return load_youtube_spam()


def verdicts(*feedback):
    return [f.passed for f in feedback]


def test_majority_vote_by_hand():
    assert check_majority_vote([1, -1, -1, 0, 1], L)
    wrong = check_majority_vote([1, 0, -1, 0, 1], L)
    assert not wrong and "row 1 has votes [0, 1]" in wrong.message
    assert "give one label per row" in check_majority_vote([1, -1], L).message
    assert check_majority_vote(None, L).passed is None


def test_coverage_explains_the_mean_of_per_lf_coverages():
    assert check_coverage(0.8, L)
    wrong = check_coverage((L != -1).mean(), L)  # mean of the LFs' own coverages: 8 votes / 15 cells
    assert not wrong and "mean of the LFs' own coverages" in wrong.message


def test_lf_checker_reports_coverage_accuracy_and_failures(ds):
    good = keyword_lf("kw_check_visit", ["visit", "click", "follow"], 1)
    assert check_lf(good, ds)
    taken = check_lf(keyword_lf("kw_subscribe", ["subscribe"], 1), ds, taken=["kw_subscribe"])
    assert not taken and "already in the list" in taken.message
    inverted = check_lf(keyword_lf("kw_inverted", ["subscribe"], 0), ds)
    assert not inverted and "below 75%" in inverted.message
    wrong_label = check_lf(good, ds, label=0)
    assert not wrong_label and "votes for other labels than 0" in wrong_label.message
    rare = check_lf(keyword_lf("kw_rare", ["xylophone"], 1), ds)
    assert not rare and "votes on 0.0% of the pool" in rare.message

    from snorkel.labeling import labeling_function

    @labeling_function()
    def crashes(x):
        return 1 // (len(x.text) - len(x.text))

    broken = check_lf(crashes, ds)
    assert not broken and "FAILED" in broken.message and "crashes" in broken.message


def test_label_model_accuracy_names_the_wrong_convention():
    y = np.array([1, 1, 0, 0, 0])
    model = MajorityVote().fit(L)
    assert check_label_model_accuracy(0.4, model, L, y)  # rows 0 and 3 right; tie, no vote and row 4 are errors
    covered_only = check_label_model_accuracy(2 / 3, model, L, y)
    assert not covered_only and "rows it labels" in covered_only.message
    assert not check_label_model_accuracy(0.9, model, L, y)


def test_kept_count_explains_uncovered_rows():
    proba = MajorityVote().fit(L).predict_proba(L)
    # covered rows with a top probability >= 0.6: rows 0, 3 (2/3) and 4; the uncovered row has 0.5
    assert check_kept_count(3, proba, L, threshold=0.6)
    assert not check_kept_count(2, proba, L, threshold=0.6)
    assert check_kept_count(4, proba, L, threshold=0.5)  # the tie reaches 0.5 too; the uncovered row is dropped
    forgot = check_kept_count(5, proba, L, threshold=0.5)
    assert not forgot and "no LF voted on" in forgot.message


def test_top_conflict_is_order_insensitive():
    lfs = ["a", "b", "c"]
    # a and b disagree on row 1 only; a and c on row 3; b and c on row 3
    L2 = np.array([[1, 1, -1], [0, 1, -1], [0, 0, 1], [0, -1, 1], [1, 0, -1], [1, 0, 0]])
    # a-b disagree on rows 1, 4, 5 (3 rows): the most
    assert check_top_conflict(("b", "a"), L2, lfs)
    wrong = check_top_conflict(("a", "c"), L2, lfs)
    assert not wrong and "another pair" in wrong.message
    assert "give two LF names" in check_top_conflict(("a", "z"), L2, lfs).message


def test_threshold_and_gray_zone():
    P = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55], [0.7, 0.3]])
    y = [0, 1, 1, 1, 0]
    curve = threshold_curve(P, valid_proba=P, valid_labels=y, thresholds=[0.5, 0.6, 0.7, 0.8])
    # at 0.6: rows 0, 1, 2, 4 kept, row 1 wrong (3/4); at 0.7: rows 0, 2, 4, all right
    assert check_threshold(0.7, curve, min_precision=0.95)
    assert not check_threshold(0.8, curve, min_precision=0.95)
    assert "under the target" in check_threshold(0.6, curve, min_precision=0.95).message
    abstained = np.array([False, False, False, False, True])
    assert check_gray_zone_count(2, P, abstained, width=0.2)  # rows 1 and 3 (row 4 abstained has margin 0.4 anyway)
    assert not check_gray_zone_count(3, P, abstained, width=0.2)


def test_pseudo_labeling_history_checkers():
    history = pd.DataFrame({"round": [0, 1, 2, 3], "added_0": [0, 40, 60, 80], "added_1": [0, 30, 5, 0],
                            "valid_accuracy": [0.7, 0.8, 0.8, 0.75], "test_accuracy": [0.7, 0.7, 0.9, 0.7]})
    assert check_snowball_class("ham", history, ["ham", "spam"])
    assert not check_snowball_class("spam", history, ["ham", "spam"])
    assert check_best_round(1, history)  # the first of the tied best rounds on valid
    on_test = check_best_round(2, history)
    assert not on_test and "best round on test" in on_test.message


def test_soft_targets_and_temperature_choice():
    assert check_soft_targets([0.75, 0.25], [0.9, 0.1], temperature=2.0)  # sqrt(9) : sqrt(1)
    wrong = check_soft_targets([0.9, 0.1], [0.9, 0.1], temperature=2.0)
    assert not wrong and "divide the logs" in wrong.message
    table = pd.DataFrame({"targets": ["teacher", "hard", "soft", "soft"], "temperature": [np.nan, np.nan, 1.0, 2.0],
                          "log_loss": [0.1, 0.2, 0.4, 0.3]})
    assert check_temperature_choice(2.0, table)
    assert not check_temperature_choice(1.0, table)


def test_calibration_checkers():
    y = np.array([1, 0, 1, 1])
    proba = np.array([[0.2, 0.8], [0.7, 0.3], [0.6, 0.4], [0.1, 0.9]])
    # Brier (scikit-learn's, binary): mean of (p_1 - y)^2 = (0.04 + 0.09 + 0.36 + 0.01) / 4
    assert check_brier(0.125, y, proba)
    both = check_brier(0.25, y, proba)  # summed over both classes
    assert not both and "half of that" in both.message
    assert not check_brier(0.3, y, proba)
    # ECE, 10 bins: rows at 0.8 (right), 0.7 (right), 0.6 (wrong), 0.9 (right), one per bin
    ece = (0.2 + 0.3 + 0.6 + 0.1) / 4
    assert check_ece(ece, y, proba)
    assert not check_ece(0.5, y, proba)


def test_curation_choice_refuses_a_choice_made_on_test():
    choices = pd.DataFrame({"valid accuracy": [0.9, 0.8], "test accuracy": [0.85, 0.95]},
                           index=pd.MultiIndex.from_tuples([("mv", "all"), ("snorkel", "all")]))
    assert check_curation_choice(("mv", "all"), choices)
    on_test = check_curation_choice(("snorkel", "all"), choices)
    assert not on_test and "best on test" in on_test.message


def test_leak_count_and_flagged_slices(ds):
    from workbench.evaluate import check_leakage

    n = len(check_leakage(ds.train, ds).leaked_ids)
    assert check_leak_count(n, ds)
    assert not check_leak_count(n + 1, ds)
    slices = pd.DataFrame({"slice": ["all", "links", "short", "tiny"], "flagged": [False, True, False, False],
                           "status": ["all", "flagged", "ok", "too small"]})
    assert check_flagged_slices(["links"], slices)
    small = check_flagged_slices(["links", "tiny"], slices)
    assert not small and "too small" in small.message


def test_manifest_checkers():
    manifest = {"funnel": {"n_pool": 100, "steps": [{"step": "uncovered", "n_in": 100, "n_kept": 80},
                                                    {"step": "confidence", "n_in": 80, "n_kept": 60}]},
                "export": {"rows": 55}}
    assert check_funnel_removed(20, manifest, "confidence")
    kept = check_funnel_removed(60, manifest, "confidence")
    assert not kept and "kept, not what it removed" in kept.message
    with pytest.raises(KeyError, match="'dedupe'"):
        check_funnel_removed(1, manifest, "dedupe")
    assert check_exported_rows(55, manifest)
    assert "pool before filtering" in check_exported_rows(100, manifest).message


def test_every_checker_accepts_the_placeholder():
    feedback = [check_majority_vote(None, L), check_coverage(None, L), check_ece(None, [0], [[1.0, 0.0]]),
                check_brier(None, [0], [[1.0, 0.0]]), check_exported_rows(None, {})]
    assert verdicts(*feedback) == [None] * len(feedback)
    assert all("Replace the placeholder" in f.message and not f for f in feedback)


def test_check_kappa_tells_kappa_from_the_observed_agreement(tmp_path):
    from workbench.review import ProjectStore, reviewer_agreement

    with ProjectStore(tmp_path / "s.sqlite", class_names=["ham", "spam"]) as store:
        for i, (a, b) in enumerate([(0, 0), (1, 1), (1, 0), (0, 0), (1, 1), (0, 1), (1, 1), (0, 0)]):
            store.record_decision(f"p{i}", a, reviewer="ana")
            store.record_decision(f"p{i}", b, reviewer="bo")
        agreement = reviewer_agreement(store, "ana", "bo")
    assert agreement.kappa == pytest.approx(0.5) and agreement.observed_agreement == 0.75
    assert check_kappa(0.5, agreement) and check_kappa(0.5004, agreement)
    wrong = check_kappa(0.75, agreement)
    assert wrong.passed is False and "observed agreement" in wrong.message
    assert check_kappa(0.2, agreement).passed is False
    assert check_kappa(None, agreement).passed is None
