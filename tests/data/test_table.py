import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

from workbench.data import LoadTableWarning, encode_labels, load_table
from workbench.data._dataset import MAX_INFERRED_CLASSES
from workbench.labeling import keyword_lf

RAW = "ham\thello there\nspam\tbuy now\tcheap\nham\t\"quoted start\nspam\twin cash\nham\tNA\n"


def _raw(tmp_path, name="raw", text=RAW):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_headerless_extensionless_tsv_with_string_labels_is_read_and_every_guess_said(tmp_path):
    with pytest.warns(LoadTableWarning) as caught:
        df = load_table(_raw(tmp_path), text_column="text", label_column="label", header=None, names=["label", "text"])
    message = str(caught[0].message)
    assert "guessed format tsv with separator '\\t'" in message
    assert "class names inferred from the labels and sorted: ham=0, spam=1" in message
    assert message.startswith(f"{tmp_path / 'raw'}: ") and message.count(f"{tmp_path / 'raw'}") == 1  # named once
    assert "; label column 'label': class names inferred" in message
    assert "1 line(s) could not be parsed and were left out" in message and "line(s) [2]" in message
    # nothing else lost: the first line is data, a leading quote does not swallow lines, "NA" is text
    assert df["text"].tolist() == ["hello there", '"quoted start', "win cash", "NA"]
    assert df["label"].tolist() == [0, 0, 1, 0]
    assert df.attrs["class_names"] == ["ham", "spam"]
    assert df.attrs["load_table"]["skipped_lines"] == {"count": 1, "first": [2]}


def test_positions_mean_no_header_and_a_missing_header_column_is_an_error_not_a_lost_row(tmp_path):
    path = _raw(tmp_path, "raw.tsv")
    with pytest.warns(LoadTableWarning, match="read as having no header line"):
        df = load_table(path, text_column=1, label_column=0)
    assert len(df) == 4 and df["text"].iloc[0] == "hello there"
    with pytest.raises(ValueError, match=r"text_column='text' is not a column: the first line holds \['ham', 'hello there'\]"
                       r".*header=None with names=\[\.\.\.\] \(on the command line: --header none --names a,b,\.\.\.\)"):
        load_table(path, text_column="text")


def test_class_names_map_labels_and_mismatches_are_errors(tmp_path):
    path = _raw(tmp_path, "raw.tsv", "label\ttext\nspam\ta\nham\tb\n\tc\n")
    df = load_table(path, text_column="text", label_column="label", class_names=["spam", "ham"])
    assert df["label"].tolist() == [0, 1, -1]
    with pytest.raises(ValueError, match=r"not among the class names \['ham', 'other'\]: 'spam' at row 0$"):
        load_table(path, text_column="text", label_column="label", class_names=["ham", "other"])
    ids = _raw(tmp_path, "ids.csv", "text,y\na,0\nb,2\n")
    with pytest.raises(ValueError, match="labels go up to 2, but only 2 class names are given"):
        load_table(ids, text_column="text", label_column="y", class_names=["a", "b"])


def test_gzip_encoding_and_sniffed_formats(tmp_path):
    frame = pd.DataFrame({"body": ["café", "naïve"], "y": [0, 1]})
    with gzip.open(tmp_path / "t.csv.gz", "wt", encoding="utf-8") as fh:
        frame.to_csv(fh, index=False)
    assert load_table(tmp_path / "t.csv.gz", text_column="body")["text"].tolist() == ["café", "naïve"]
    (tmp_path / "latin.csv").write_bytes("body\ncafé\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not valid utf-8-sig text .*encoding="):
        load_table(tmp_path / "latin.csv", text_column="body")
    assert load_table(tmp_path / "latin.csv", text_column="body", encoding="latin-1")["text"].tolist() == ["café"]
    frame.to_parquet(tmp_path / "noext")
    with pytest.warns(LoadTableWarning, match="guessed format parquet"):
        assert load_table(tmp_path / "noext", text_column="body")["text"].tolist() == ["café", "naïve"]
    (tmp_path / "lines").write_text('{"body": "a"}\nnot json\n{"body": "b"}\n')
    with pytest.warns(LoadTableWarning, match=r"1 line\(s\) could not be parsed .*\[2\]"):
        assert load_table(tmp_path / "lines", text_column="body")["text"].tolist() == ["a", "b"]


@pytest.mark.parametrize("column", ["text", "body"])
def test_empty_text_is_the_empty_string_whatever_the_column_is_called(tmp_path, column):
    # issue 16 item 8: a column already called "text" kept NaN, which crashed row-wise LFs
    path = tmp_path / "t.csv"
    pd.DataFrame({column: ["hello", None, "buy now"]}).to_csv(path, index=False)
    df = load_table(path, text_column=column)
    assert df["text"].tolist() == ["hello", "", "buy now"]
    assert keyword_lf("kw", ["buy"], 1)(df).tolist() == [-1, -1, 1]
    assert df["text"].map(lambda t: t.lower()).tolist() == ["hello", "", "buy now"]  # a row-wise LF's view


def test_encode_labels_without_names_sorts_and_with_ints_keeps_ids():
    ids, names, note = encode_labels(pd.Series([1, 0, None, 3]))
    assert ids.tolist() == [1, 0, -1, 3] and names == ["0", "1", "2", "3"] and note is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ids, names, note = encode_labels(pd.Series(["b", "a", ""]))
    assert ids.tolist() == [1, 0, -1] and names == ["a", "b"] and "sorted" in note
    assert np.asarray(ids).dtype == np.int64


def test_unknown_labels_are_named_with_their_rows(tmp_path):
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"body": list("abcdefgh"), "y": ["ham", "spma", "", "spam", "Spam", "spma", "x1", "x2"]}).to_csv(labels, index=False)
    with pytest.raises(ValueError, match=r"labels.csv: label column 'y': labels that are not among the class names "
                                         r"\['ham', 'spam'\]: 'spma' at rows 1, 5; 'Spam' at row 4; 'x1' at row 6; 'x2' at row 7$"):
        load_table(labels, text_column="body", label_column="y", class_names=["ham", "spam"])
    many = pd.Series([f"x{i}" for i in range(7)] + ["x0"] * 6)
    with pytest.raises(ValueError, match=r"'x0' at rows 0, 7, 8, 9, 10 and 2 more; .* \(7 unknown labels in all\)$"):
        encode_labels(many, ["ham", "spam"])


def test_a_huge_integer_label_is_an_error_not_a_list_of_that_many_class_names(tmp_path):
    # a typo (or a column of codes) read as class ids made 0..10**11 class names and ran out of memory
    path = tmp_path / "t.csv"
    path.write_text("text,y\na,0\nb,1\nc,100000000000\n")
    with pytest.raises(ValueError, match=r"t.csv: label column 'y': labels go up to 100000000000 at row 2; integer labels "
                                         r"are class ids 0..k-1, .*pass class_names="):
        load_table(path, text_column="text", label_column="y")
    ids, names, _ = encode_labels(pd.Series([0, MAX_INFERRED_CLASSES - 1]))
    assert len(names) == MAX_INFERRED_CLASSES
    with pytest.raises(ValueError, match="labels go up to 1000 at row 1"):
        encode_labels(pd.Series([0, MAX_INFERRED_CLASSES]))
    # with the class names given, as many classes as names
    names = [f"c{i}" for i in range(MAX_INFERRED_CLASSES + 1)]
    assert encode_labels(pd.Series([0, MAX_INFERRED_CLASSES]), names)[0].tolist() == [0, MAX_INFERRED_CLASSES]


def test_ids_are_kept_as_written_and_ids_equal_as_text_are_duplicates(tmp_path):
    # CSV ids were parsed as numbers: "007" became "7" (and clashed with a "7"), long ids lost digits as floats
    path = tmp_path / "t.csv"
    for ids in (["007", "7"], ["007", "8", "1.50"], ["12345678901234567", "12345678901234568", "x"]):
        path.write_text("id,text\n" + "".join(f"{i},t\n" for i in ids))
        assert load_table(path, "text", id_column="id")["example_id"].tolist() == ids
    headerless = tmp_path / "h.tsv"
    headerless.write_text("007\ta\n7\tb\n")
    assert load_table(headerless, "1", id_column="0", header=None)["example_id"].tolist() == ["007", "7"]
    # JSON ids 1 and "1" are one example_id, "1": a duplicate, not two rows under one id
    lines = tmp_path / "t.jsonl"
    lines.write_text('{"id": 1, "text": "a"}\n{"id": "1", "text": "b"}\n')
    with pytest.raises(ValueError, match=r"t.jsonl: id column 'id' has duplicate ids: '1' at rows 0, 1"):
        load_table(lines, "text", id_column="id")


def test_a_first_line_with_one_field_too_many_is_an_error_not_every_column_shifted(tmp_path):
    # pandas took the first field of every line as a row label: ids became texts, texts labels, with no word
    path = tmp_path / "t.csv"
    path.write_text("id,text,y\n1,hello, world,a\n2,bye,b\n")
    with pytest.raises(ValueError, match=r"t.csv: line 2 has more fields than the 3 column names \['id', 'text', 'y'\]"):
        load_table(path, "text", "y", "id")
    raw = tmp_path / "raw.tsv"
    raw.write_text("ham\thello\tthere\nspam\tbuy now\n")
    with pytest.raises(ValueError, match=r"raw.tsv: line 1 has more fields than the 2 column names \['label', 'text'\]"):
        load_table(raw, "text", "label", header=None, names=["label", "text"])
    path.write_text("id,text,y\n1,hello,a\n2,bye, now,b\n")  # a later line: left out and named, as before
    with pytest.warns(LoadTableWarning, match=r"1 line\(s\) could not be parsed .*\[3\]"):
        assert load_table(path, "text", "y", "id")["text"].tolist() == ["hello"]


def test_a_csv_separated_by_semicolons_is_told_which_separator_to_pass(tmp_path):
    path = tmp_path / "excel.csv"  # Excel in many locales saves "CSV" with semicolons
    path.write_text("id;text;y\n1;hello, there;a\n2;bye;b\n")
    with pytest.raises(ValueError, match=r"excel.csv: text_column='text'.* is not a column: the first line holds "
                                         r"\['id;text;y'\], but it is separated by ';': pass sep=';' \(on the command line: --sep ';'\)"):
        load_table(path, "text", "y", "id")
    assert load_table(path, "text", "y", "id", sep=";")["text"].tolist() == ["hello, there", "bye"]


def test_r_write_table_row_names_are_left_out_and_said(tmp_path):
    """R's write.table writes a row number first on every line, and no name for it in the header."""
    path = tmp_path / "from_r.csv"
    path.write_text('"id","text","y"\n"1","a1","hello there","ham"\n"2","a2","buy now, cheap","spam"\n"3","a3","hi","ham"\n')
    with pytest.warns(LoadTableWarning, match="row number that the header does not name .*R's write.table"):
        df = load_table(path, "text", "y", "id")
    assert df["example_id"].tolist() == ["a1", "a2", "a3"]
    assert df["text"].tolist() == ["hello there", "buy now, cheap", "hi"] and df["label"].tolist() == [0, 1, 0]


@pytest.mark.parametrize("role, stored", [("id", "example_id"), ("text", "text"), ("label", "label")])
def test_a_column_the_workbench_would_overwrite_is_named_not_lost(tmp_path, role, stored):
    path = tmp_path / "t.csv"
    frame = pd.DataFrame({"key": ["a", "b"], "body": ["hello", "bye"], "y": ["ham", "spam"]})
    frame[stored] = ["mine", "too"]
    frame.to_csv(path, index=False)
    given = {"id": "key", "text": "body", "label": "y"}
    with pytest.raises(ValueError, match=rf"t.csv: the file has a column '{stored}' besides '{given[role]}', its {role} "
                                         rf"column, .*pass {role}_column='{stored}'"):
        load_table(path, "body", "y", "key")
    # named as the role's own column, it is simply used
    df = load_table(path, **{"text_column": "body", "label_column": "y", "id_column": "key", f"{role}_column": stored},
                    class_names=["mine", "too"] if role == "label" else None)
    assert df[stored].tolist()[0] in ("mine", 0)


def test_a_header_naming_a_column_twice_is_an_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,text,text\n1,title,the body\n")
    with pytest.raises(ValueError, match=r"t.csv: the header line names column\(s\) \['text'\] more than once"):
        load_table(path, "text", id_column="id")
    df = load_table(path, "body", id_column="id", header=0, names=["id", "title", "body"])
    assert df["text"].tolist() == ["the body"]
