"""The leakage check (workbench.evaluate._leakage)."""

import json

import pandas as pd
import pytest

from workbench.evaluate import (
    LeakageError,
    check_leakage,
)


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
    with pytest.raises(LeakageError, match=r"row 'tr-2' .* matches test 'test-1'") as err:
        report.enforce()
    assert err.value.report is report
    assert report.remove_leaked(train)["example_id"].tolist() == ["tr-1", "tr-3"]
    # Rows are removed by position, so a repeated index label cannot take an innocent row along.
    same_index = train.set_index(pd.Index([7, 7, 8]))
    assert check_leakage(same_index, protected).remove_leaked(same_index)["example_id"].tolist() == ["tr-1", "tr-3"]


def test_near_duplicates_are_caught_and_named(protected):
    train = pd.DataFrame({
        "example_id": ["tr-1", "tr-2", "tr-3"],
        "text": ["Check out my channel for free gift cards right now", "the bridge at 2:31 is the best part of this song :)",
                 "Great song"],
    })
    report = check_leakage(train, protected)
    near = report.matches.set_index("train_id")
    assert set(near.index) == {"tr-1", "tr-2"} and (near["kind"] == "near").all()
    assert near.loc["tr-1", "protected_id"] == "test-2" and near.loc["tr-2", "protected_id"] == "can-1"
    assert (near["similarity"] >= 0.7).all() and (near["similarity"] < 1).all()
    with pytest.raises(LeakageError, match=r"row 'tr-2' .* matches canary 'can-1' \(near, 0\.\d\d\)"):
        report.enforce()
    exact_only = check_leakage(train, protected, near=False)
    assert exact_only.clean and exact_only.enforce() is exact_only
    assert report.method.startswith("exact match of normalised text + MinHash LSH near duplicates (Jaccard >= 0.7 on "
                                    "character 5-shingles, 128 permutations, ")
    assert exact_only.method == "exact match of normalised text"


def test_clean_training_set_passes_and_serialises(protected):
    train = pd.DataFrame({"example_id": ["tr-1", "tr-2"], "text": ["first!", ""]})
    protected["test"].loc[2, "text"] = ""  # empty texts never count as leakage
    report = check_leakage(train, protected).enforce()
    record = json.loads(json.dumps(report.to_dict()))
    assert record["clean"] and record["n_train"] == 2 and record["protected_sizes"] == {"test": 3, "canary": 1}
    assert record["matches"] == [] and record["leaked_ids"] == [] and record["leaked_by_split"] == {"test": 0, "canary": 0}
    assert record["method"] == report.method and record["threshold"] == 0.7 and record["near"]


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
                          "text": ["LOL", "nice", "great video,  thanks!", "The bridge at 2:31 is the best part of this song"]})
    report = check_leakage(train, protected)
    assert report.leaked.tolist() == [True, False, True, True]
    assert report.leaked_by_split == {"test": 2, "canary": 1}
    with pytest.raises(LeakageError) as err:
        report.enforce(what="refusing to export: the set")
    message = str(err.value)
    assert message.startswith("refusing to export: the set contains 3 row(s) matching protected rows "
                              "(rows matching each split: test 2, canary 1; 2 exact and 1 near-duplicate matches):\n"
                              "  row 'tr-1' 'LOL' matches test 'test-3'\n")
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
        (base, base + "!"), (base, "Fwd: " + base.replace("o", "\u043e") + " \U0001F602"),
        (base + " https://site.com", base + " https://other.com"), (base, "Nice song"),
    ]
    agree = []
    for a, b in pairs:
        dedupe_exact = find_duplicates([a, b]).exact_group[1] == 0
        leak = check_leakage(pd.DataFrame({"text": [a]}), {"test": pd.DataFrame({"text": [b]})}, near=False)
        assert dedupe_exact == (not leak.clean), (a, b)
        agree.append(dedupe_exact)
    assert agree == [True] * 8 + [False] * 2
    for b, copy in [(base.replace("chorus", "chorus please"), True), ("Nice song, great video", False)]:
        dedupe_near = find_duplicates([base, b], threshold=0.8).cluster[1] == 0
        leak = check_leakage(pd.DataFrame({"text": [base]}), {"test": pd.DataFrame({"text": [b]})}, threshold=0.8)
        assert dedupe_near == (not leak.clean) == copy
        assert leak.clean or leak.matches["kind"].tolist() == ["near"]


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


def test_given_normalised_texts_are_used_as_they_are(protected):
    from workbench.curate import normalize_text

    train = pd.DataFrame({"example_id": ["a", "b"], "text": ["lol", "Check out my channel for free gift cards now!!"]})
    report = check_leakage(train, protected, normalized=normalize_text(train["text"]))
    assert report.leaked_ids == check_leakage(train, protected).leaked_ids == ["a", "b"]
    # the check trusts what it is given: other normalised texts, other matches
    assert check_leakage(train, protected, normalized=pd.Series(["great video thanks", "x"])).leaked_ids == ["a"]
    with pytest.raises(ValueError, match="normalized has 1 texts but train has 2 rows"):
        check_leakage(train, protected, normalized=pd.Series(["lol"]))


@pytest.mark.parametrize("dedupe_threshold", [0.7, 0.85])
def test_band_keys_of_the_near_duplicate_pass_find_the_same_copies_without_hashing_again(youtube, dedupe_threshold,
                                                                                         monkeypatch):
    import importlib

    from workbench.curate import find_duplicates

    leakage = importlib.import_module("workbench.evaluate._leakage")
    hashed = []

    def counting(texts, *args, **kwargs):
        hashed.append(len(texts))
        return minhash_band_keys(texts, *args, **kwargs)

    minhash_band_keys = leakage.minhash_band_keys
    monkeypatch.setattr(leakage, "minhash_band_keys", counting)
    protected = {s: youtube[s] for s in ("dev", "valid", "test", "canary")}
    train = youtube.train
    without = check_leakage(train, protected, threshold=0.7)
    keys = find_duplicates(train["text"], ids=train["example_id"], threshold=dedupe_threshold).band_keys
    rows_without_keys = keys.take(pd.RangeIndex(len(train)).where(train.index % 7 != 3, -1))  # some rows have none
    with_keys = check_leakage(train, protected, threshold=0.7, band_keys=rows_without_keys)
    pd.testing.assert_frame_equal(with_keys.matches, without.matches)
    assert without.matches["kind"].eq("near").sum() > 50
    protected_texts = sum(df["text"].nunique() for df in protected.values())
    if dedupe_threshold == 0.7:  # the same LSH: only protected texts and the rows without keys are hashed
        assert hashed[1] < protected_texts + len(train) // 7 + 10 < hashed[0]
    else:  # other bands: the keys cannot be compared, every text is hashed as without them
        assert hashed[1] == hashed[0]
    with pytest.raises(ValueError, match="band_keys has 3 rows but train has"):
        check_leakage(train, protected, band_keys=keys.take([0, 1, 2]))


def test_rows_check_a_subset_as_if_it_were_passed(protected):
    import numpy as np

    train = pd.DataFrame({
        "example_id": ["tr-0", "tr-1", "tr-2", "tr-3", "tr-4"],
        "text": ["LOL", "Check out my channel for free gift cards right now", "nice", "great video, THANKS!", "hi"],
    }, index=[10, 11, 12, 13, 14])
    rows = np.array([1, 3, 4])
    subset = check_leakage(train.iloc[rows], protected)
    by_rows = check_leakage(train, protected, rows=rows)
    pd.testing.assert_frame_equal(by_rows.matches, subset.matches)
    assert by_rows.leaked.tolist() == subset.leaked.tolist() == [True, True, False]
    assert by_rows.matches["train_row"].tolist() == [11, 13]  # the table's own labels
    assert "tr-0" not in by_rows.leaked_ids  # "LOL" is test-3's text, but row 0 was not asked for
    with pytest.raises(ValueError, match="normalized has 2 texts but train has 3 rows to check"):
        check_leakage(train, protected, rows=rows, normalized=pd.Series(["a", "b"]))
