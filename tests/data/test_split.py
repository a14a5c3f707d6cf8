import json

import numpy as np
import pandas as pd
import pytest

from workbench.data import DATASET_FILE, load_dataset, load_youtube_spam, load_wrench, split_dataset
from tests.data.test_dataset import FIXTURES


def _table(n=200, unlabeled=40, k=2):
    y = np.r_[np.arange(n - unlabeled) % k, np.full(unlabeled, -1)]
    return pd.DataFrame({"example_id": [f"r{i}" for i in range(n)], "text": [f"text {i}" for i in range(n)],
                         "author": [f"a{i % 23}" for i in range(n)], "day": np.arange(n) // 10, "y": y,
                         "label": y})


def test_counts_fractions_subsets_stratified_and_pool_labels_hidden():
    df = _table()
    ds = split_dataset(df, {"dev": 20, "test": 0.25, "seed": 10}, class_names=["a", "b"], hide_columns=["y"])
    assert {s: len(v) for s, v in ds.splits.items()} == {"train": 130, "seed": 10, "dev": 20, "test": 40}
    for split in ("dev", "test", "seed"):
        assert np.bincount(ds.gold(split)).tolist() == [len(ds[split]) // 2] * 2  # stratified
    assert "label" not in ds.train.columns and "y" not in ds.train.columns
    assert len(ds.hidden_labels["train"]) == 90  # 40 unlabeled rows have no gold to hide
    again = split_dataset(df.sample(frac=1, random_state=0), {"dev": 20, "test": 0.25, "seed": 10}, class_names=["a", "b"])
    assert set(again.dev.example_id) == set(ds.dev.example_id)  # by hash of the id, not by row order
    other = split_dataset(df, {"dev": 20, "test": 0.25, "seed": 10}, random_state=1)
    assert set(other.dev.example_id) != set(ds.dev.example_id)
    assert ds.recipe["rows"] == {"train": 130, "seed": 10, "dev": 20, "test": 40}


def test_groups_stay_whole_and_time_puts_the_latest_period_in_test():
    df = _table(unlabeled=0)
    ds = split_dataset(df, {"dev": 30, "test": 40}, group_column="author")
    where = {split: set(part["author"]) for split, part in ds.splits.items()}
    assert not where["dev"] & where["test"] and not (where["dev"] | where["test"]) & where["train"]
    ds = split_dataset(df, {"test": 40, "dev": 20}, time_column="day")
    assert ds.test["day"].min() > ds.dev["day"].max() and ds.test["day"].min() > ds.train["day"].max()
    assert ds.recipe["test_from"] == 16


def test_bad_requests_are_named():
    df = _table()
    with pytest.raises(ValueError, match="split 'dev' needs|class 'a' has 80 labeled rows but the splits"):
        split_dataset(df, {"dev": 150, "test": 30}, class_names=["a", "b"])
    one = df.assign(label=np.where(df["label"] >= 0, 0, -1))
    with pytest.raises(ValueError, match="one class only"):
        split_dataset(one, {"dev": 10})
    with pytest.raises(ValueError, match="unknown split 'tets'"):
        split_dataset(df, {"tets": 10})
    with pytest.raises(ValueError, match="class\\(es\\) \\['c'\\] .* have no labeled row"):
        split_dataset(df, {"dev": 10}, class_names=["a", "b", "c"])
    intended = split_dataset(df, {"dev": 10}, class_names=["a", "b", "c"], allow_missing_classes=True)
    assert intended.cardinality == 3 and intended.allow_missing_classes
    with pytest.raises(ValueError, match="no column 'who'"):
        split_dataset(df, {"dev": 10}, group_column="who")


def test_youtube_keeps_its_documented_split_sizes_through_split_dataset():
    ds = load_youtube_spam()
    assert {s: len(v) for s, v in ds.splits.items()} == {"train": 1186, "seed": 60, "dev": 120, "valid": 120,
                                                           "test": 370, "canary": 100}
    assert ds.recipe["key_column"] == "COMMENT_ID" and ds.recipe["stratified"]


def test_save_and_load_round_trip_and_refuse_edited_files(tmp_path):
    ds = load_youtube_spam()
    ds.save(tmp_path / "yt")
    back = load_dataset(tmp_path / "yt")
    assert back.class_names == ds.class_names and list(back.splits) == list(ds.splits)
    for split in ds.splits:
        pd.testing.assert_frame_equal(back[split], ds[split])
    pd.testing.assert_series_equal(back.hidden_labels["train"], ds.hidden_labels["train"], check_names=False)
    meta = json.loads((tmp_path / "yt" / DATASET_FILE).read_text())
    assert meta["recipe"]["sizes"] == {"dev": 120, "valid": 120, "canary": 100, "seed": 60} and len(meta["recipe_sha256"]) == 64
    with pytest.raises(FileExistsError, match="a dataset is saved there already"):
        ds.save(tmp_path / "yt")
    ds.dev.head(3).to_parquet(tmp_path / "yt" / "dev.parquet")
    with pytest.raises(ValueError, match="dev.parquet: split 'dev' changed since the dataset was saved"):
        load_dataset(tmp_path / "yt")


def test_wrench_label_matrices_survive_save(tmp_path):
    ds = load_wrench(FIXTURES / "wrench_tiny")
    back = load_dataset(ds.save(tmp_path / "w"))
    assert back.dev is back.valid and back.lf_names == ds.lf_names
    assert np.array_equal(back.label_matrices["train"], ds.label_matrices["train"])


@pytest.mark.parametrize(("counts", "sizes", "expected"), [
    ((50, 50), {"dev": 3, "test": 5}, {"dev": 3, "test": 5}),  # per-class rounding gave dev 4, test 4
    ((1, 1), {"dev": 1, "test": 1}, {"dev": 1, "test": 1}),  # ... and 0 and 0
    ((3, 3), {"seed": 1, "dev": 1, "test": 1}, {"seed": 1, "dev": 1, "test": 1}),
    ((34, 33), {"dev": 10, "test": 0.25}, {"dev": 10, "test": 17}),  # 0.25 of 67 labeled rows: 16.75
])
def test_stratified_splits_have_the_sizes_asked_for(counts, sizes, expected):
    y = [0] * counts[0] + [1] * counts[1]
    df = pd.DataFrame({"example_id": [str(i) for i in range(len(y))], "text": ["t"] * len(y), "label": y})
    ds = split_dataset(df, sizes)
    assert {split: len(ds[split]) for split in sizes} == expected
    assert len(ds.train) == len(y) - sum(expected.values())


def test_a_huge_class_id_in_a_frame_is_an_error_not_that_many_class_names():
    frame = pd.DataFrame({"example_id": ["a", "b", "c", "d"], "text": list("wxyz"), "label": [0, 1, 10**11, -1]})
    with pytest.raises(ValueError, match=r"split_dataset: column 'label': labels go up to 100000000000 at row 2"):
        split_dataset(frame, {"dev": 1})
