import json

import numpy as np
import pandas as pd
import pytest
from snorkel.slicing import slicing_function

from workbench.evaluate import (
    CanaryGateError,
    LeakageError,
    canary_gate,
    check_leakage,
    compare_models,
    error_cost,
    evaluate,
    metrics_over_time,
    slice_masks,
    slice_report,
)
from workbench.plots.evaluation import (
    confusion_figure,
    metrics_over_time_figure,
    model_comparison_figure,
    slice_gap_figure,
)

# --------------------------------------------------------------------------- report


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


# --------------------------------------------------------------------------- slices


@pytest.fixture
def sliced():
    """200 rows; slice 'forum' (50 rows) has 20 errors, the other 150 rows have 6; 'tiny' (5 rows) is all wrong."""
    n = 200
    y = np.tile([0, 1], n // 2)
    source = np.array(["forum"] * 50 + ["web"] * 150)
    wrong = np.zeros(n, bool)
    wrong[:20] = True  # 20 of 50 forum rows wrong
    wrong[[60, 80, 100, 120, 140, 160]] = True  # 6 of 150 web rows wrong
    tiny = np.zeros(n, bool)
    tiny[195:] = True
    wrong[195:] = True  # + 5 more web rows wrong, all in the tiny slice
    preds = np.where(wrong, 1 - y, y)
    df = pd.DataFrame({"label": y, "source": source, "text": ["x"] * n, "tiny_flag": tiny})
    return df, preds


def test_known_bad_slice_is_flagged_with_the_right_gap(sliced):
    df, preds = sliced

    @slicing_function()
    def tiny(x):
        return x.tiny_flag

    rep = slice_report(preds, df, ["source", tiny], margin=0.1, min_size=20).set_index("slice")
    overall_error = 31 / 200
    assert rep.loc["all", "error_rate"] == pytest.approx(overall_error)
    assert rep.loc["source=forum", "n"] == 50
    assert rep.loc["source=forum", "error_rate"] == pytest.approx(20 / 50)
    assert rep.loc["source=forum", "error_gap"] == pytest.approx(20 / 50 - overall_error)
    assert rep.loc["source=forum", "accuracy_gap"] == pytest.approx(-(20 / 50 - overall_error))
    assert rep.loc["source=forum", "status"] == "flagged" and rep.loc["source=forum", "flagged"]
    # The rest of the data is better than the whole: reported, not flagged.
    assert rep.loc["source=web", "error_gap"] == pytest.approx(11 / 150 - overall_error)
    assert rep.loc["source=web", "status"] == "ok"
    # A tiny slice with a huge gap is reported with its size but not flagged.
    assert rep.loc["tiny", "n"] == 5 and rep.loc["tiny", "error_rate"] == 1.0
    assert rep.loc["tiny", "status"] == "too small" and not rep.loc["tiny", "flagged"]
    # Its Wilson interval is wide; the big slice's is narrower.
    width = rep["error_high"] - rep["error_low"]
    assert width["tiny"] > 0.4 > width["source=forum"]
    assert rep.index[0] == "all" and rep.index[1] == "tiny"  # then by decreasing gap


def test_margin_decides_the_flag(sliced):
    df, preds = sliced
    gap = 20 / 50 - 31 / 200
    just_above = slice_report(preds, df, ["source"], margin=gap + 0.01, min_size=20).set_index("slice")
    assert just_above.loc["source=forum", "status"] == "ok"
    tiny_ok = slice_report(preds, df, ["source"], margin=0.1, min_size=60).set_index("slice")
    assert tiny_ok.loc["source=forum", "status"] == "too small"


def test_slice_masks_sources_and_errors():
    df = pd.DataFrame({"text": ["a b", "c", "d e f"], "video": [1, None, 2], "label": [0, 1, 0]})

    @slicing_function()
    def one_word(x):
        return len(x.text.split()) == 1

    masks = slice_masks(df, [one_word, "video", ("first", [True, False, False])])
    assert masks["one_word"].tolist() == [False, True, False]
    assert masks["video=1.0"].tolist() == [True, False, False]
    assert masks["video=<missing>"].tolist() == [False, True, False]
    with pytest.raises(ValueError, match="slice column 'author' is not in data"):
        slice_masks(df, ["author"])
    with pytest.raises(ValueError, match="slice 'first': mask has shape"):
        slice_masks(df, {"first": [True]})
    with pytest.raises(ValueError, match="two slices are named 'one_word'"):
        slice_masks(df, [one_word, one_word])


def test_bundled_youtube_slices(youtube):
    from workbench.data.youtube_slices import YOUTUBE_SLICES

    df = youtube.valid
    masks = slice_masks(df, YOUTUBE_SLICES)
    assert {f"video={v}" for v in range(1, 5)} <= set(masks)
    links = df.text.str.contains("http", case=False)
    assert masks["has_link"][links.to_numpy()].all()
    assert (df.text[masks["very_short"]].str.split().str.len() <= 3).all()
    assert df.AUTHOR[masks["author_has_digits"]].str.contains(r"\d").all()


# --------------------------------------------------------------------------- time


def test_metrics_by_month_with_undated_bucket_and_gaps():
    df = pd.DataFrame({
        "label": [1, 1, 0, 0, 1, 0],
        "DATE": ["2015-01-03T10:00:00", "2015-01-20", "2015-03-09T00:00:00.5", None, "not a date", "2015-03-31"],
    })
    preds = np.array([1, 0, 0, 1, 1, 0])
    t = metrics_over_time(preds, df)
    assert t["period"].tolist() == ["2015-01", "2015-02", "2015-03", "no date"]
    assert t["n"].tolist() == [2, 0, 2, 2]
    assert t["accuracy"].iloc[0] == 0.5 and t["accuracy"].iloc[2] == 1.0 and t["accuracy"].iloc[3] == 0.5
    assert np.isnan(t["accuracy"].iloc[1])
    assert t["gold_positive_rate"].iloc[0] == 1.0
    assert metrics_over_time(preds, df, fill_gaps=False)["period"].tolist() == ["2015-01", "2015-03", "no date"]
    with pytest.raises(ValueError, match="no date column 'created'"):
        metrics_over_time(preds, df, date_column="created")


# --------------------------------------------------------------------------- canary gate


@pytest.fixture
def canary():
    return pd.DataFrame({"example_id": [f"c{i}" for i in range(10)], "label": [0, 1] * 5, "text": ["t"] * 10})


def test_canary_gate_passes_and_fails(canary):
    y = canary.label.to_numpy()
    preds = y.copy()
    preds[:2] = 1 - preds[:2]  # 8 of 10 right
    ok = canary_gate(preds, canary, "accuracy", 0.8)
    assert ok.passed and ok.allowed and ok.value == 0.8 and ok.n == 10 and ok.n_errors == 2
    assert ok.enforce() is ok

    bad = canary_gate(preds, canary, "accuracy", 0.9)
    assert not bad.passed and not bad.allowed and bad.override is None
    with pytest.raises(CanaryGateError, match=r"accuracy = 0\.8000 < minimum 0\.9000 on 10 canary rows \(2 errors\)"):
        bad.enforce()

    # F1 of the positive class from probabilities; the verdict carries all numbers.
    proba = np.eye(2)[preds]
    f1 = canary_gate(proba, canary, "f1", 0.5)
    assert f1.value == pytest.approx(0.8) and f1.metrics["ece"] == pytest.approx(0.2)


def test_canary_override_is_recorded(canary):
    preds = 1 - canary.label.to_numpy()
    verdict = canary_gate(preds, canary, "f1", 0.9, override="canary v2 relabelled; reviewed by hand")
    assert not verdict.passed and verdict.allowed
    assert verdict.enforce() is verdict
    record = json.loads(json.dumps(verdict.to_dict()))
    assert record["passed"] is False and record["allowed"] is True
    assert record["override"]["reason"] == "canary v2 relabelled; reviewed by hand"
    assert record["override"]["by"] and record["override"]["at"]

    later = canary_gate(preds, canary, "f1", 0.9).with_override("ship the hotfix", by="alice")
    assert later.to_dict()["override"]["by"] == "alice" and later.allowed
    with pytest.raises(ValueError, match="non-empty reason"):
        canary_gate(preds, canary, "f1", 0.9, override="  ")
    with pytest.raises(ValueError, match="nothing to override"):
        canary_gate(canary.label.to_numpy(), canary, "f1", 0.9).with_override("why not")


def test_canary_fingerprint_names_the_canary(canary):
    preds = canary.label.to_numpy()
    a = canary_gate(preds, canary, "accuracy", 0.5)
    b = canary_gate(preds[::-1], canary.iloc[::-1], "accuracy", 0.5)
    relabelled = canary.assign(label=1 - canary.label)
    c = canary_gate(preds, relabelled, "accuracy", 0.0)
    assert a.canary_fingerprint == b.canary_fingerprint != c.canary_fingerprint
    with pytest.raises(ValueError, match="unknown canary metric 'auc'"):
        canary_gate(preds, canary, "auc", 0.5)


# --------------------------------------------------------------------------- the sacred set


@pytest.fixture
def protected():
    test = pd.DataFrame({
        "example_id": ["test-1", "test-2", "test-3"],
        "text": ["Great video, thanks!", "Check out my channel for free gift cards now", "lol"],
    })
    canary = pd.DataFrame({"example_id": ["can-1"], "text": ["The bridge at 2:31 is the best part of the song"]})
    return {"test": test, "canary": canary}


@pytest.mark.parametrize("copy", ["Great video, thanks!", "  great VIDEO,\n\tthanks!  "])
def test_training_set_with_a_test_row_is_refused_naming_the_row(protected, copy):
    train = pd.DataFrame({"example_id": ["tr-1", "tr-2", "tr-3"], "text": ["first!", copy, "nice beat"]})
    report = check_leakage(train, protected)
    assert not report.clean and report.leaked_ids == ["tr-2"]
    m = report.matches.iloc[0]
    assert (m.protected_split, m.protected_id, m.kind, m.similarity) == ("test", "test-1", "exact", 1.0)
    with pytest.raises(LeakageError, match=r"train row 'tr-2' .* matches test 'test-1'") as err:
        report.enforce()
    assert err.value.report is report
    assert report.remove_leaked(train)["example_id"].tolist() == ["tr-1", "tr-3"]
    # Rows are removed by position, so a repeated index label cannot take an innocent row along.
    same_index = train.set_index(pd.Index([7, 7, 8]))
    assert check_leakage(same_index, protected).remove_leaked(same_index)["example_id"].tolist() == ["tr-1", "tr-3"]


def test_near_duplicates_are_caught_and_named(protected):
    train = pd.DataFrame({
        "example_id": ["tr-1", "tr-2", "tr-3"],
        "text": ["Check out my channel for free gift cards now!!", "the bridge at 2:31 is the best part of the song :)",
                 "Great song"],
    })
    report = check_leakage(train, protected)
    near = report.matches.set_index("train_id")
    assert set(near.index) == {"tr-1", "tr-2"} and (near["kind"] == "near").all()
    assert near.loc["tr-1", "protected_id"] == "test-2" and near.loc["tr-2", "protected_id"] == "can-1"
    assert (near["similarity"] >= 0.8).all() and (near["similarity"] < 1).all()
    with pytest.raises(LeakageError, match=r"train row 'tr-2' .* matches canary 'can-1' \(near, 0\.\d\d\)"):
        report.enforce()
    exact_only = check_leakage(train, protected, near=False)
    assert exact_only.clean and exact_only.enforce() is exact_only
    assert report.method.startswith("exact match of normalised text + MinHash LSH near duplicates (Jaccard >= 0.8 on "
                                    "character 5-shingles, 128 permutations, ")
    assert exact_only.method == "exact match of normalised text"


def test_clean_training_set_passes_and_serialises(protected):
    train = pd.DataFrame({"example_id": ["tr-1", "tr-2"], "text": ["first!", ""]})
    protected["test"].loc[2, "text"] = ""  # empty texts never count as leakage
    report = check_leakage(train, protected).enforce()
    record = json.loads(json.dumps(report.to_dict()))
    assert record["clean"] and record["n_train"] == 2 and record["protected_sizes"] == {"test": 3, "canary": 1}
    assert record["matches"] == [] and record["leaked_ids"] == [] and record["leaked_by_split"] == {"test": 0, "canary": 0}
    assert record["method"] == report.method and record["threshold"] == 0.8 and record["near"]


def test_bundled_pool_leaks_until_cleaned(youtube):
    report = check_leakage(youtube.train, youtube)
    assert set(report.matches["protected_split"]) <= {"dev", "valid", "test", "canary"}
    assert not report.clean  # the YouTube comments repeat across videos: the check has work to do
    cleaned = report.remove_leaked(youtube.train)
    assert check_leakage(cleaned, youtube).clean


def test_leakage_input_errors(protected):
    with pytest.raises(ValueError, match="train has no text column 'text'"):
        check_leakage(pd.DataFrame({"body": ["x"]}), protected)
    with pytest.raises(ValueError, match="protected split 'test' has no text column"):
        check_leakage(pd.DataFrame({"text": ["x"]}), {"test": pd.DataFrame({"body": ["x"]})})


def test_leakage_error_names_splits_rows_and_the_remedy(protected):
    train = pd.DataFrame({"example_id": ["tr-1", "tr-2", "tr-3", "tr-4"],
                          "text": ["LOL", "nice", "great video,  thanks!", "The bridge at 2:31 is the best part of the song!"]})
    report = check_leakage(train, protected)
    assert report.leaked.tolist() == [True, False, True, True]
    assert report.leaked_by_split == {"test": 2, "canary": 1}
    with pytest.raises(LeakageError) as err:
        report.enforce(what="refusing to export: the set")
    message = str(err.value)
    assert message.startswith("refusing to export: the set contains 3 row(s) matching protected rows "
                              "(rows matching each split: test 2, canary 1; 2 exact and 1 near-duplicate matches):\n"
                              "  train row 'tr-1' 'LOL' matches test 'test-3'\n")
    assert "Remove them before training or export (LeakageReport.remove_leaked(df)" in message
    assert message.endswith(f"Checked by {report.method}.")


def test_dedupe_and_the_leakage_check_agree_on_what_a_copy_is():
    """A pair that deduplication calls an exact duplicate is exact leakage and vice versa; a
    clear near copy is both a near duplicate and near leakage, an unrelated text neither."""
    from workbench.curate import find_duplicates

    base = "Check out my new song video here and tell me what you think of the chorus"
    pairs = [
        (base, base.upper()), (base, base.replace(" ", "  ")), (base, base + "\u200b"), (base, base.replace("o", "\uff4f")),
        (base + " https://www.site.com/v?ref=1", base + " site.com/v?ref=2"), (base + "<br />", base + " &nbsp;"),
        (base, base + "!"), (base + " https://site.com", base + " https://other.com"), (base, "Nice song"),
    ]
    agree = []
    for a, b in pairs:
        dedupe_exact = find_duplicates([a, b]).exact_group[1] == 0
        leak = check_leakage(pd.DataFrame({"text": [a]}), {"test": pd.DataFrame({"text": [b]})}, near=False)
        assert dedupe_exact == (not leak.clean), (a, b)
        agree.append(dedupe_exact)
    assert agree == [True] * 6 + [False] * 3
    for b, copy in [(base.replace("chorus", "chorus!!"), True), ("Nice song, great video", False)]:
        dedupe_near = find_duplicates([base, b], threshold=0.8).cluster[1] == 0
        leak = check_leakage(pd.DataFrame({"text": [base]}), {"test": pd.DataFrame({"text": [b]})}, threshold=0.8)
        assert dedupe_near == (not leak.clean) == copy
        assert leak.clean or leak.matches["kind"].tolist() == ["near"]


# --------------------------------------------------------------------------- comparison and figures


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
    assert list(bars.x) == ["2020-01", "2020-02", "2020-03"] and list(bars.y) == [100, 0, 100]

    table = compare_models({"a": preds, "b": df.label.to_numpy()}, df, slices=["source"])
    fig = model_comparison_figure(table)
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[0].x) == ["all", "source=forum", "source=web"]
    assert fig.data[1].y.tolist() == [1.0, 1.0, 1.0]

    conf = confusion_figure(evaluate(preds, df).confusion)
    assert np.asarray(conf.data[0].z).sum() == 200


def test_near_duplicate_matches_agree_with_brute_force(youtube):
    """Every (train, protected) pair the check reports has shingle Jaccard >= threshold, and
    (LSH recall being probabilistic) it finds nearly all the pairs an all-pairs scan finds."""
    from workbench.curate import normalize_text, shingles

    protected = pd.concat([youtube[s] for s in ("dev", "valid", "test", "canary")], ignore_index=True)
    report = check_leakage(youtube.train, {"protected": protected}, threshold=0.7)
    found = set(zip(report.matches["train_id"], report.matches["protected_id"]))
    shingle_sets = [{i: set(shingles(t)) for i, t in zip(df["example_id"], normalize_text(df["text"])) if t}
                    for df in (youtube.train, protected)]
    truth = {(i, j) for i, a in shingle_sets[0].items() for j, b in shingle_sets[1].items()
             if len(a & b) / len(a | b) >= 0.7}
    assert found <= truth and len(truth) > 100
    assert len(found) >= 0.95 * len(truth)
