import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.data import PROTECTED_SPLITS, load_table, load_wrench, load_youtube_spam

FIXTURES = Path(__file__).parent / "fixtures"
SOURCE_COLUMNS = ["COMMENT_ID", "AUTHOR", "DATE", "CONTENT"]


def test_youtube_splits_are_named_sized_and_disjoint(youtube):
    sizes = {k: len(v) for k, v in youtube.splits.items()}
    assert sizes == {"train": 1186, "seed": 60, "dev": 120, "valid": 120, "test": 370, "canary": 100}
    ids = [set(df.example_id) for df in youtube.splits.values()]
    assert sum(map(len, ids)) == len(set().union(*ids)) == 1956
    assert set(youtube.test.video) == {5} and 5 not in set(youtube.train.video)
    assert set(PROTECTED_SPLITS) <= set(youtube.splits) and "seed" not in PROTECTED_SPLITS


def test_youtube_columns_and_hidden_train_labels(youtube):
    for name, df in youtube.splits.items():
        assert set(SOURCE_COLUMNS + ["example_id", "video", "text"]) <= set(df.columns), name
        assert df.example_id.is_unique
    assert "label" not in youtube.train.columns and "CLASS" not in youtube.train.columns
    for name in ("seed", "dev", "valid", "test", "canary"):
        assert (youtube[name].label == youtube[name].CLASS).all()
    gold = youtube.gold("train")
    assert len(gold) == 1186 and set(np.unique(gold)) == {0, 1}
    assert not youtube.train.text.str.contains("\ufeff").any()
    assert youtube.class_names == ["ham", "spam"] and youtube.cardinality == 2


def test_youtube_split_is_deterministic_and_stratified(youtube):
    again = load_youtube_spam()
    for name in youtube.splits:
        pd.testing.assert_frame_equal(youtube[name], again[name])
    pool_spam = (youtube.gold("train").sum() + youtube.dev.label.sum()) / (1186 + 120)
    assert abs(youtube.dev.label.mean() - pool_spam) < 0.03


def test_youtube_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="Youtube01-Psy.csv"):
        load_youtube_spam(tmp_path)


def test_load_table_formats(tmp_path):
    df = pd.DataFrame({"id": [10, 11, 12], "body": ["a", None, "c"], "y": [0, 1, None]})
    paths = {"csv": tmp_path / "t.csv", "tsv": tmp_path / "t.tsv", "parquet": tmp_path / "t.parquet", "jsonl": tmp_path / "t.jsonl"}
    df.to_csv(paths["csv"], index=False)
    df.to_csv(paths["tsv"], sep="\t", index=False)
    df.to_parquet(paths["parquet"])
    df.to_json(paths["jsonl"], orient="records", lines=True)
    for fmt, path in paths.items():
        out = load_table(path, text_column="body", label_column="y", id_column="id")
        assert out.example_id.tolist() == ["10", "11", "12"], fmt
        assert out.text.tolist() == ["a", "", "c"], fmt
        assert out.label.tolist() == [0, 1, -1], fmt
        assert "body" in out.columns


def test_load_table_errors_name_file_and_column(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"id": [1, 1], "body": ["a", "b"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"t.csv: text_column='content' is not a column"):
        load_table(path, text_column="content")
    with pytest.raises(ValueError, match=r"t.csv: id column 'id' has duplicate ids: '1' at rows 0, 1$"):
        load_table(path, text_column="body", id_column="id")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.csv: the file is empty"):
        load_table(empty, text_column="body")
    header_only = tmp_path / "header.csv"
    header_only.write_text("body\n")
    with pytest.raises(ValueError, match="header.csv: the file has no rows"):
        load_table(header_only, text_column="body")
    numbers = tmp_path / "numbers.jsonl"
    numbers.write_text('{"body": "ok"}\n{"body": 5}\n')
    with pytest.raises(ValueError, match=r"numbers.jsonl: column 'body' must hold text, but row 1 holds 5"):
        load_table(numbers, text_column="body")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_table(tmp_path / "nope.csv", text_column="body")
    with pytest.raises(ValueError, match="t.xlsx: unknown format: a ZIP archive"):
        (tmp_path / "t.xlsx").write_bytes(b"PK\x03\x04rest of a workbook")
        load_table(tmp_path / "t.xlsx", text_column="body")


def test_load_wrench_fixture():
    ds = load_wrench(FIXTURES / "wrench_tiny")
    assert ds.class_names == ["ham", "spam"]
    assert ds.label_matrices["train"].shape == (4, 3) and ds.label_matrices["train"].dtype == np.int8
    assert ds.label_matrices["train"][0].tolist() == [1, -1, 1]
    assert "label" not in ds.train.columns and ds.gold("train").tolist() == [1, 0, 1, 0]
    assert ds.dev.label.tolist() == [1, 0] and list(ds.test.author) == ["a0", "a1"]
    assert ds.lf_names == ["lf_0", "lf_1", "lf_2"]


def test_load_wrench_works_with_analysis_and_label_models():
    from workbench.generate import MajorityVote
    from workbench.labeling import lf_summary

    ds = load_wrench(FIXTURES / "wrench_tiny")
    summary = lf_summary(ds.label_matrices["train"], ds.lf_names, ds.gold("train"))
    assert summary.loc["lf_0", "Emp. Acc."] == 1.0
    mv = MajorityVote(cardinality=ds.cardinality).fit(ds.label_matrices["train"])
    assert mv.score(ds.label_matrices["test"], ds.test.label) == 1.0


def test_load_wrench_bad_input(tmp_path):
    folder = tmp_path / "w"
    shutil.copytree(FIXTURES / "wrench_tiny", folder)
    data = json.loads((folder / "test.json").read_text())
    data["0"]["weak_labels"] = [1, 5, 1]
    (folder / "test.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="weak label 5 outside -1..1"):
        load_wrench(folder)
    del data["0"]["weak_labels"]
    (folder / "test.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="test.json: example '0' has no 'weak_labels'"):
        load_wrench(folder)
    (folder / "valid.json").unlink()
    with pytest.raises(FileNotFoundError, match="valid.json"):
        load_wrench(folder)


def test_wrench_label_matrices_hold_labels_past_127(tmp_path):
    import json

    k = 200
    for split in ("train", "valid", "test"):
        examples = {str(i): {"data": {"text": f"{split} {i}"}, "label": 199 - i, "weak_labels": [199 - i, -1]} for i in range(3)}
        (tmp_path / f"{split}.json").write_text(json.dumps(examples))
    (tmp_path / "label.json").write_text(json.dumps({str(i): f"c{i}" for i in range(k)}))
    with pytest.raises(ValueError, match=r"class\(es\) \['c0', 'c1', .*, 'c9', \.\.\. 197 in all\] of \['c0', .*, 'c9', "
                                         r"\.\.\. 200 in all\] have no labeled row in any split") as err:
        load_wrench(tmp_path)  # 200 class names, 3 of them labeled
    assert len(str(err.value)) < 600  # not every one of the 200 names, twice
    ds = load_wrench(tmp_path, allow_missing_classes=True)
    assert ds.label_matrices["train"][:, 0].tolist() == [199, 198, 197]


def test_ids_must_be_unique_across_splits():
    from workbench.data import Dataset

    pool = pd.DataFrame({"example_id": ["a", "b", "t1"], "text": ["x", "y", "other text"]})
    test = pd.DataFrame({"example_id": ["t1", "t2"], "text": ["z", "w"], "label": [0, 1]})
    with pytest.raises(ValueError, match=r"1 example_id value\(s\) appear more than once \(by splits: \{'train\+test': 1\}\); first: 't1' \(train\+test\)"):
        Dataset("mine", {"train": pool, "test": test}, ["ham", "spam"])
    Dataset("mine", {"train": pool.iloc[:2], "test": test}, ["ham", "spam"])  # distinct ids: fine


def test_class_names_no_labeled_row_uses_are_an_error_unless_allowed(tmp_path):
    from workbench.data import Dataset, load_dataset

    pool = pd.DataFrame({"example_id": ["p1", "p2"], "text": ["x", "y"]})
    dev = pd.DataFrame({"example_id": ["d1", "d2"], "text": ["z", "w"], "label": [0, 1]})
    names = ["ham", "spam", "eggs"]
    with pytest.raises(ValueError, match=r"class\(es\) \['eggs'\] of \['ham', 'spam', 'eggs'\] have no labeled row"
                                         r".*allow_missing_classes=True"):
        Dataset("mine", {"train": pool, "dev": dev}, names)
    ds = Dataset("mine", {"train": pool, "dev": dev}, names, allow_missing_classes=True)
    assert ds.cardinality == 3
    ds.save(tmp_path / "ds")
    assert load_dataset(tmp_path / "ds").allow_missing_classes  # saved with the dataset
    with pytest.raises(ValueError, match=r"\['eggs'\] .* have no labeled row"):
        load_dataset(tmp_path / "ds", allow_missing_classes=False)
    with pytest.raises(ValueError, match=r"split 'dev' has label 2, but the class names are \['ham', 'spam'\]"):
        Dataset("mine", {"train": pool, "dev": dev.assign(label=[0, 2])}, names[:2], allow_missing_classes=True)
    Dataset("pool only", {"train": pool}, names)  # no labeled row at all: nothing to compare


def test_a_label_column_that_holds_no_class_ids_is_named_not_truncated():
    # a pool file's own column 'label' (class names) gave "invalid literal for int() with base 10: 'x'"; float labels
    # were cut to whole numbers (1.5 -> 1) without a word
    from workbench.data import Dataset

    pool = pd.DataFrame({"example_id": ["p1", "p2"], "text": ["x", "y"], "label": ["ham", "spam"]})
    dev = pd.DataFrame({"example_id": ["d1", "d2"], "text": ["z", "w"], "label": [0, 1]})
    with pytest.raises(ValueError, match=r"dataset 'mine': split 'train' column 'label'\[0\] = 'ham' is not a class id"):
        Dataset("mine", {"train": pool, "dev": dev}, ["ham", "spam"])
    with pytest.raises(ValueError, match=r"split 'dev' column 'label'\[1\] = 1.5 is not a class id"):
        Dataset("mine", {"train": pool.drop(columns="label"), "dev": dev.assign(label=[0, 1.5])}, ["ham", "spam"])
    from workbench.data import split_dataset

    with pytest.raises(ValueError, match=r"split_dataset: column 'label'\[0\] = 'ham' is not a class id"):
        split_dataset(pool, {})


def test_a_class_name_given_twice_is_named_not_reported_as_a_class_without_rows(tmp_path):
    # ['neg', 'neg', 'pos']: labels 'neg' went to class 1 and the message said class 'neg' had no labeled row
    from workbench.data import Dataset

    dev = pd.DataFrame({"example_id": ["d1", "d2"], "text": ["z", "w"], "label": [0, 1]})
    with pytest.raises(ValueError, match=r"dataset 'mine': class names must be distinct, but 'neg' is class 0 and 1"):
        Dataset("mine", {"dev": dev}, ["neg", "neg", "pos"], allow_missing_classes=True)
    path = tmp_path / "t.csv"
    path.write_text("text,y\na,neg\nb,pos\n")
    with pytest.raises(ValueError, match=r"t.csv: label column 'y': class names must be distinct, but 'neg' is class 0 and 2"):
        load_table(path, "text", "y", class_names=["neg", "pos", "neg"])
