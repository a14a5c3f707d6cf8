"""Export: atomic writes, overwrite refusal, the export table's columns, the leakage refusal."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests._helpers import siblings
from workbench.export import (
    LeakageError,
    build_export_frame,
    export_format,
    read_table,
    refuse_leakage,
    write_table,
)
from workbench.export import _table as export
from workbench.generate import LABEL_SOURCES
from workbench.labeling import ABSTAIN

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def table():
    return pd.DataFrame({
        "example_id": ["a", "b", "c"],
        "text": ["Check out my channel, now!", 'He said "hi"\nthen left', "café ☕"],
        "score": [0.25, 1.0, -3.5],
        "n": [1, 2, 3],
    })


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_round_trip_in_every_format(tmp_path, table, suffix):
    path = write_table(table, tmp_path / f"train{suffix}")
    back = read_table(path)
    pd.testing.assert_frame_equal(back, table, check_dtype=suffix == ".parquet")
    assert siblings(path) == [path.name]  # no temporary file left behind


def test_format_from_suffix_or_argument(tmp_path):
    assert export_format("x.pq") == "parquet"
    assert export_format("x.data", "jsonl") == "jsonl"
    with pytest.raises(ValueError, match=r"suffix '\.xlsx'"):
        export_format(tmp_path / "x.xlsx")
    with pytest.raises(ValueError, match="unknown export format 'feather'"):
        export_format("x.csv", "feather")


def test_refuses_to_overwrite_unless_asked(tmp_path, table):
    path = write_table(table, tmp_path / "train.csv")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"train\.csv already exists; pass overwrite=True"):
        write_table(table.head(1), path)
    assert path.read_bytes() == before
    write_table(table.head(1), path, overwrite=True)
    assert len(read_table(path)) == 1
    assert siblings(path) == ["train.csv"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path, table, monkeypatch):
    path = write_table(table, tmp_path / "train.csv")
    before = path.read_bytes()

    def broken(df, temp):
        temp.write_text("example_id,text\nhalf")
        raise OSError("disk full")

    monkeypatch.setitem(export.WRITERS, "csv", broken)
    with pytest.raises(OSError, match="disk full"):
        write_table(table.head(1), path, overwrite=True)
    assert path.read_bytes() == before
    assert siblings(path) == ["train.csv"]


SLOW_EXPORT = """
import sys, time
import pandas as pd
from workbench.export import _table as export

def slow_writer(df, temp):
    with open(temp, "wb") as fh:
        fh.write(b"PAR1 half of a parquet file")
        fh.flush()
        print("writing", flush=True)
        time.sleep(600)

export.WRITERS["parquet"] = slow_writer
export.write_table(pd.DataFrame({"example_id": ["new"], "text": ["new"]}), sys.argv[1], overwrite=True)
"""


@pytest.mark.slow
def test_an_export_killed_midway_leaves_the_old_file_intact(tmp_path, table):
    path = write_table(table, tmp_path / "train.parquet")
    before = path.read_bytes()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_EXPORT, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()  # the child is now inside the writer, half the file written
        assert line.strip() == "writing", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    pd.testing.assert_frame_equal(read_table(path), table)
    leftovers = [n for n in siblings(path) if n != path.name]
    # The half-written bytes exist only in a hidden temporary beside it, never under the final name.
    assert len(leftovers) == 1 and leftovers[0].startswith(".train.parquet.") and leftovers[0].endswith(".tmp")
    assert (tmp_path / leftovers[0]).read_bytes() == b"PAR1 half of a parquet file"


def test_export_frame_has_the_documented_columns():
    pool = pd.DataFrame({"COMMENT_ID": ["c1", "c2", "c3"], "text": ["buy now", "nice song", "hmm"],
                         "example_id": ["e1", "e2", "e3"], "video": [1, 2, 3]})
    P = np.array([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5]])
    L = np.array([[1, -1], [-1, 0], [1, 0]])
    out = build_export_frame(pool, P, class_names=["ham", "spam"], source="label_model", L=L,
                             lf_names=["kw_buy", "kw_song"], labels=[1, 0, 0], sample_weight=[1.0, 2.0, 0.5],
                             columns=["COMMENT_ID", "video"])
    assert list(out.columns) == ["example_id", "text", "COMMENT_ID", "video", "label", "label_name", "label_proba",
                                 "proba_ham", "proba_spam", "label_source", "sample_weight", "vote_kw_buy", "vote_kw_song"]
    assert out["label"].tolist() == [1, 0, 0]
    assert out["label_name"].tolist() == ["spam", "ham", "ham"]
    assert out["label_proba"].tolist() == [0.8, 0.9, 0.5]
    assert out["proba_spam"].tolist() == [0.8, 0.1, 0.5]
    assert out["sample_weight"].tolist() == [1.0, 2.0, 0.5]
    assert out["vote_kw_buy"].tolist() == [1, -1, 1] and out["vote_kw_song"].dtype == np.int8
    assert set(out["label_source"]) == {"label_model"}
    assert out["COMMENT_ID"].tolist() == ["c1", "c2", "c3"]


def test_export_frame_has_only_the_pool_columns_asked_for_once():
    pool = pd.DataFrame({"example_id": ["e1"], "text": ["buy now"], "CONTENT": ["buy now"], "gold": [1], "AUTHOR": ["x"]})
    kwargs = {"class_names": ["ham", "spam"], "source": "label_model"}
    assert list(build_export_frame(pool, [[0.2, 0.8]], **kwargs).columns)[:3] == ["example_id", "text", "label"]
    out = build_export_frame(pool, [[0.2, 0.8]], columns=["AUTHOR", "text", "AUTHOR", "example_id"], **kwargs)
    assert list(out.columns)[:4] == ["example_id", "text", "AUTHOR", "label"]
    with pytest.raises(ValueError, match=r"columns \['nope'\] are not columns of the pool"):
        build_export_frame(pool, [[0.2, 0.8]], columns=["nope"], **kwargs)


def test_export_frame_labels_default_to_the_argmax_and_weights_to_one():
    pool = pd.DataFrame({"example_id": ["a", "b"], "text": ["x", "y"]})
    out = build_export_frame(pool, [[0.3, 0.7], [0.6, 0.4]], class_names=["0", "1"], source=["distillation", "human_review"])
    assert out["label"].tolist() == [1, 0]
    assert out["sample_weight"].tolist() == [1.0, 1.0]
    assert out["label_source"].tolist() == ["distillation", "human_review"]
    assert not any(c.startswith("vote_") for c in out.columns)


def test_export_frame_refuses_bad_input():
    pool = pd.DataFrame({"example_id": ["a"], "text": ["x"], "label": [1]})
    with pytest.raises(ValueError, match=r"pool column\(s\) \['label'\] have the names of columns the export adds"):
        build_export_frame(pool, [[0.5, 0.5]], class_names=["a", "b"], source="distillation", columns=["label"])
    pool = pool.drop(columns="label")
    with pytest.raises(ValueError, match=r"probs has shape \(1, 3\); expected \(1, 2\)"):
        build_export_frame(pool, [[0.2, 0.3, 0.5]], class_names=["a", "b"], source="distillation")
    with pytest.raises(ValueError, match=r"L has shape \(1, 1\); expected \(1, 2\)"):
        build_export_frame(pool, [[0.5, 0.5]], class_names=["a", "b"], source="seed", L=[[1]], lf_names=["f", "g"])
    with pytest.raises(ValueError, match="no 'text' column"):
        build_export_frame(pool.drop(columns="text"), [[0.5, 0.5]], class_names=["a", "b"], source="seed")


def test_export_frame_takes_label_sources_from_the_one_vocabulary():
    pool = pd.DataFrame({"example_id": ["a", "b"], "text": ["x", "y"]})
    for source in LABEL_SOURCES:
        assert build_export_frame(pool, [[0.5, 0.5]] * 2, class_names=["a", "b"], source=source)["label_source"].tolist() == [source] * 2
    with pytest.raises(ValueError, match=r"label_source 'teacher' \(row 1\) is not one of \('label_model', 'pseudo_label'"):
        build_export_frame(pool, [[0.5, 0.5]] * 2, class_names=["a", "b"], source=["seed", "teacher"])
    with pytest.raises(ValueError, match="label_source 'label_model:majority' is not one of"):
        build_export_frame(pool, [[0.5, 0.5]] * 2, class_names=["a", "b"], source="label_model:majority")
    with pytest.raises(ValueError, match="label_source has 1 values for 2 rows"):
        build_export_frame(pool, [[0.5, 0.5]] * 2, class_names=["a", "b"], source=["seed"])


def test_leakage_is_refused_naming_split_and_rows():
    train = pd.DataFrame({"example_id": ["t1", "t2", "t3", "t4"],
                          "text": ["Nice  SONG", "buy now", "", "CHECK my channel"]})
    protected = {
        "test": pd.DataFrame({"example_id": ["x9", "x10"], "text": ["nice song", ""]}),
        "canary": pd.DataFrame({"example_id": ["k1"], "text": ["check my   channel"]}),
    }
    with pytest.raises(LeakageError, match=r"refusing to export: the set contains 2 row\(s\) matching protected rows "
                                           r"\(rows matching each split: test 1, canary 1; .*\n  row 't1' 'Nice  SONG' matches test 'x9'") as err:
        refuse_leakage(train, protected)
    assert err.value.report.leaked.tolist() == [True, False, False, True]  # empty texts never leak
    record = refuse_leakage(train.iloc[[1, 2]], protected).to_dict()
    assert record["clean"] and record["n_train"] == 2 and record["n_leaked_train_rows"] == 0
    assert record["protected_sizes"] == {"test": 2, "canary": 1} and record["method"].startswith("exact match of normalised text + ")
    exact_only = refuse_leakage(train.iloc[[1, 2]], protected, near=False)
    assert exact_only.method == "exact match of normalised text"


def test_export_refusal_is_the_leakage_check():
    from workbench.evaluate import LeakageError as EvaluateLeakageError

    assert LeakageError is EvaluateLeakageError and issubclass(LeakageError, ValueError)
    train = pd.DataFrame({"example_id": ["t1"], "text": ["Check out my new song video here, tell me what you all think!!"]})
    test = pd.DataFrame({"example_id": ["x1"], "text": ["check out my new song video here, tell me what you think"]})
    with pytest.raises(LeakageError, match=r"row 't1' .* matches test 'x1' \(near, 0\.\d\d\)"):
        refuse_leakage(train, {"test": test})


def test_leakage_check_names_a_missing_text_column():
    with pytest.raises(ValueError, match="protected split 'dev' has no text column 'text'"):
        refuse_leakage(pd.DataFrame({"text": ["a"]}), {"dev": pd.DataFrame({"body": ["a"]})})


def test_vote_columns_follow_the_one_dtype_policy_past_127_classes():
    k = 200
    proba = np.full((2, k), 1 / k)
    L = np.array([[150], [ABSTAIN]])
    frame = build_export_frame(pd.DataFrame({"example_id": ["a", "b"], "text": ["x", "y"]}), proba,
                               class_names=[f"c{i}" for i in range(k)], source="label_model", L=L, lf_names=["lf"])
    assert frame["vote_lf"].tolist() == [150, ABSTAIN]  # int8 would have wrapped 150 to -106
