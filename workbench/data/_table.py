"""Reading a user's own table: CSV, TSV, Parquet or JSONL (each also gzipped), with or without a header line.

Nothing is guessed silently: what :func:`load_table` had to guess (the format of an
extension-less file, its separator, whether the first line is a header, the order of class
names) and every line it could not parse is said in one :class:`LoadTableWarning` and kept
in ``df.attrs["load_table"]``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._internal.validation import ABSTAIN, check_class_names_distinct
from workbench.data._dataset import ID_COLUMN, LABEL_COLUMN, TEXT_COLUMN, inferred_class_names

#: File suffixes and the format they mean (before an optional ``.gz``).
SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
                  ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
TABLE_FORMATS = ("csv", "tsv", "parquet", "jsonl")
#: How many bad lines a message lists by number.
SHOWN_LINES = 5
_SNIFF_BYTES = 64 * 1024


class LoadTableWarning(UserWarning):
    """What :func:`load_table` guessed about a file, and the lines it could not parse."""


def _open_bytes(path: Path, gz: bool) -> bytes:
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
        return fh.read(_SNIFF_BYTES)


def _decode(raw: bytes, encoding: str, path: Path) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start >= len(raw) - 4:  # the sample cut a multi-byte character in two
            return raw[: exc.start].decode(encoding)
        raise ValueError(f"{path}: not valid {encoding} text (byte {raw[exc.start]:#x} at offset {exc.start}); "
                         "pass encoding= the file's encoding, e.g. encoding='latin-1'") from None


def _sniff_format(path: Path, sample: bytes, encoding: str) -> tuple[str, str | None, list[str]]:
    """Format and separator of a file whose name does not say, and the notes saying what was guessed."""
    if sample.startswith(b"PAR1"):
        return "parquet", None, [f"guessed format parquet from the file's contents (no known suffix in {path.name!r})"]
    if sample.startswith(b"PK\x03\x04"):
        raise ValueError(f"{path}: unknown format: a ZIP archive (an Excel workbook?); save it as CSV, TSV, Parquet "
                         f"or JSONL (known suffixes: {sorted(SUFFIX_FORMATS)})")
    text = _decode(sample, encoding, path)
    first = text.lstrip()[:1]
    if first in "{[" and first:
        return "jsonl", None, [f"guessed format JSON lines from the file's contents (no known suffix in {path.name!r})"]
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    try:
        sep = csv.Sniffer().sniff("\n".join(lines), delimiters=",\t;|").delimiter
    except csv.Error:
        sep = "\t" if sum("\t" in line for line in lines) > len(lines) / 2 else ","
    fmt = "tsv" if sep == "\t" else "csv"
    return fmt, sep, [f"guessed format {fmt} with separator {sep!r} from the file's contents "
                      f"(no known suffix in {path.name!r}); pass format= and sep= to say otherwise"]


def _first_fields(sample: str, sep: str) -> list[str]:
    line = sample.splitlines()[0] if sample else ""
    if sep == "\t":
        return line.split("\t")
    return next(csv.reader([line], delimiter=sep), [])


def _r_row_names(df: pd.DataFrame, sample: str, sep: str, header: Any) -> bool:
    """Whether pandas' row labels are R's row names (``write.table``'s default): 1, 2, ... in order, and every whole
    line of the sample one field longer than the header line. A single line with an unquoted separator is not."""
    if header != 0 or df.index.nlevels != 1 or not pd.Index(df.index.astype(str)).equals(
            pd.Index([str(i) for i in range(1, len(df) + 1)])):
        return False
    lines = sample.splitlines()
    if not sample.endswith(("\n", "\r")):  # the sample cut the last line short
        lines = lines[:-1]
    split = [_first_fields(line, sep) for line in lines if line]
    return len(split) > 1 and all(len(fields) == len(split[0]) + 1 for fields in split[1:])


def _column_key(value: Any) -> Any:
    """Column references are strings; positions (for a file without a header line) too: ``1`` is ``"1"``."""
    return None if value is None else str(value)


def _read_delimited(path: Path, *, gz: bool, sep: str, header: Any, names: Sequence[str] | None, encoding: str,
                    wanted: dict[str, str], as_written: Sequence[str], sample: str, nrows: int | None,
                    notes: list[str]) -> tuple[pd.DataFrame, dict]:
    if header == "infer":
        fields = [f.strip() for f in _first_fields(sample, sep)]
        if names is not None:
            header = 0 if fields == list(names) else None
        elif all(w in fields for w in wanted.values()):
            header = 0
        elif all(w.isdigit() for w in wanted.values()):
            header = None
            notes.append(f"columns {list(wanted.values())} are positions and not in the first line, so the file was read as "
                         "having no header line (columns named '0', '1', ...); pass header=0 if it has one")
        else:
            missing = ", ".join(f"{arg}={col!r}" for arg, col in wanted.items() if col not in fields)
            other = next((s for s in ",;\t|" if s != sep and all(w in [f.strip() for f in _first_fields(sample, s)]
                                                                 for w in wanted.values())), None)
            if other is not None:
                raise ValueError(f"{path}: {missing} is not a column: the first line holds {fields[:8]}, but it is "
                                 f"separated by {other!r}: pass sep={other!r} (on the command line: --sep {other!r})")
            raise ValueError(
                f"{path}: {missing} is not a column: the first line holds {fields[:8]}; if the file has no header "
                "line, pass header=None with names=[...] (on the command line: --header none --names a,b,...), or name "
                "columns by position: '0', '1', ...")
    elif header is not None and (isinstance(header, bool) or not isinstance(header, int) or header < 0):
        raise ValueError(f"{path}: header must be 'infer', None (no header line) or a line number >= 0, got {header!r}")
    if isinstance(header, int) and names is None:
        header_fields = [f.strip() for f in _first_fields("\n".join(sample.splitlines()[header:]), sep)]
        repeated = sorted({f for f in header_fields if header_fields.count(f) > 1})
        if repeated:  # pandas would read the second as 'name.1', and a column named by the name as the first
            raise ValueError(f"{path}: the header line names column(s) {repeated} more than once; rename them, or pass "
                             "header=0 with names=[...] to name every column (on the command line: --header 0 --names a,b,...)")
    options: dict[str, Any] = {
        "sep": sep, "header": header, "names": list(names) if names is not None else None, "encoding": encoding,
        "compression": "gzip" if gz else None, "on_bad_lines": "warn", "nrows": nrows,
        # Only an empty cell is missing: "NA" or "null" may be somebody's whole message.
        "keep_default_na": False, "na_values": [""],
        # TSV has no quoting: a message that starts with a quote must not swallow the lines after it.
        "quoting": csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL,
        # as written, not parsed: id "007" stays "007" (not 7), a long id keeps its digits
        "dtype": {int(c) if header is None and names is None and c.isdigit() else c: str for c in as_written} or None,
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            df = pd.read_csv(path, **options)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not valid {encoding} text ({exc.reason} at byte {exc.start}); "
                             "pass encoding= the file's encoding, e.g. encoding='latin-1'") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise ValueError(f"{path}: could not be read as {'TSV' if sep == chr(9) else 'CSV'} ({' '.join(str(exc).split())})") from exc
    if not df.index.equals(pd.RangeIndex(len(df))) and _r_row_names(df, sample, sep, header):
        notes.append("every line starts with a row number that the header does not name (R's write.table): it was left out")
        df = df.reset_index(drop=True)
    if not df.index.equals(pd.RangeIndex(len(df))):  # pandas read the first field(s) of every line as row labels
        line = 1 if header is None else header + 2
        raise ValueError(f"{path}: line {line} has more fields than the {df.shape[1]} column names "
                         f"{[str(c) for c in df.columns]}, so every column would be shifted (a field holding the separator "
                         f"{sep!r}?); fix that line, or, if every line starts with a row name (R's write.table), pass "
                         "header=0 with names= that name it too")
    bad = [int(n) for w in caught if issubclass(w.category, pd.errors.ParserWarning)
           for n in re.findall(r"Skipping line (\d+)", str(w.message))]
    for w in caught:
        if not issubclass(w.category, pd.errors.ParserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if header is None and names is None:
        df.columns = [str(c) for c in df.columns]
    return df, {"sep": sep, "header": header, "bad_lines": bad}


def _read_jsonl(path: Path, *, gz: bool, encoding: str, nrows: int | None) -> tuple[pd.DataFrame, dict]:
    with (gzip.open(path, "rt", encoding=encoding) if gz else open(path, encoding=encoding)) as fh:
        try:
            text = fh.read()
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not valid {encoding} text ({exc.reason} at byte {exc.start}); "
                             "pass encoding= the file's encoding") from None
    if text.lstrip().startswith("["):
        return pd.DataFrame(json.loads(text)).head(nrows), {"bad_lines": []}
    records, bad = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad.append(number)
            continue
        if not isinstance(record, dict):
            bad.append(number)
            continue
        records.append(record)
        if nrows is not None and len(records) >= nrows:
            break
    return pd.DataFrame.from_records(records), {"bad_lines": bad}


def check_table_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path, or the error that names what is wrong with it as a table file (missing,
    a folder, empty)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a table file (a saved dataset is read with load_dataset)")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty")
    return path


def read_table_file(path: str | os.PathLike, *, format: str | None = None, sep: str | None = None,
                    header: Any = "infer", names: Sequence[str] | None = None, encoding: str | None = None,
                    columns: Sequence[Any] | dict[str, Any] = (), nrows: int | None = None,
                    as_written: Sequence[Any] = ()) -> tuple[pd.DataFrame, dict]:
    """Read a table file as it is (no column is changed) and say how it was read.

    ``columns`` are the columns the caller needs (a mapping names each, for messages); with ``header="infer"`` the first line is the
    header if it holds them all, and the file has no header line if they are all positions. ``as_written`` are
    columns of a CSV/TSV file kept as the text written there (ids: ``007`` is not the number 7).

    Returns the frame and a dict: ``format``, ``compression``, ``sep``, ``header``, ``encoding``,
    ``guessed`` (notes on what was guessed) and ``bad_lines`` (line numbers that could not be parsed).
    """
    path = check_table_file(path)
    encoding = encoding or "utf-8-sig"  # utf-8, minus a byte-order mark some editors put first
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    base = suffixes[-2] if gz and len(suffixes) > 1 else (suffixes[-1] if suffixes and not gz else "")
    with open(path, "rb") as fh:
        gz = gz or fh.read(2) == b"\x1f\x8b"
    sample = _open_bytes(path, gz)
    notes: list[str] = []
    if format is not None:
        if format not in TABLE_FORMATS:
            raise ValueError(f"{path}: unknown format {format!r}; use one of {list(TABLE_FORMATS)}")
        fmt = format
    elif base in SUFFIX_FORMATS:
        fmt = SUFFIX_FORMATS[base]
    else:
        fmt, guessed_sep, notes = _sniff_format(path, sample, encoding)
        sep = sep or guessed_sep
    named = columns if isinstance(columns, dict) else {f"column {c!r}": c for c in columns}
    wanted = {arg: _column_key(c) for arg, c in named.items() if c is not None}
    info: dict[str, Any] = {"format": fmt, "compression": "gzip" if gz else None, "encoding": encoding}
    if fmt in ("csv", "tsv"):
        sep = sep or ("\t" if fmt == "tsv" else ",")
        df, read = _read_delimited(path, gz=gz, sep=sep, header=header, names=names, encoding=encoding, wanted=wanted,
                                   as_written=[_column_key(c) for c in as_written if c is not None],
                                   sample=_decode(sample, encoding, path), nrows=nrows, notes=notes)
    elif fmt == "parquet":
        source = io.BytesIO(gzip.open(path).read()) if gz else path
        try:
            df = pd.read_parquet(source)
        except Exception as exc:  # pyarrow's many error types: the file is no Parquet we can read
            raise ValueError(f"{path}: could not be read as Parquet ({exc})") from exc
        df, read = (df.head(nrows) if nrows else df), {"bad_lines": []}
    else:
        df, read = _read_jsonl(path, gz=gz, encoding=encoding, nrows=nrows)
    if names is not None and fmt in ("parquet", "jsonl"):
        if len(names) != df.shape[1]:
            raise ValueError(f"{path}: names= has {len(names)} names for {df.shape[1]} columns {list(df.columns)}")
        df.columns = list(names)
    info.update(read)
    info["guessed"] = notes
    return df, info


def _rows_of_values(values: pd.Series, rows: np.ndarray, *, what: str, shown: int = 5) -> str:
    """The first ``shown`` distinct values at ``rows`` (a mask or positions), in order of first appearance, each
    with the first rows (0-based positions in the table) that hold it, for an error message.

    Examples
    --------
    >>> _rows_of_values(pd.Series(["a", "b", "a", "c", "b"]), np.array([True, True, True, False, True]), what="ids")
    "'a' at rows 0, 2; 'b' at rows 1, 4"
    """
    positions = np.flatnonzero(rows) if rows.dtype == bool else np.asarray(rows)
    found = pd.Series(positions).groupby(values.iloc[positions].to_numpy(), sort=False).agg(list)
    listed = "; ".join(f"{value!r} at row{'s' if len(at) > 1 else ''} {', '.join(map(str, at[:shown]))}"
                       + (f" and {len(at) - shown} more" if len(at) > shown else "")
                       for value, at in found.head(shown).items())
    return listed + (f" ({len(found)} {what} in all)" if len(found) > shown else "")


def encode_labels(values: pd.Series, class_names: Sequence[str] | None = None,
                  where: str = "labels") -> tuple[np.ndarray, list[str], str | None]:
    """Class ids (``ABSTAIN`` where a label is missing), the class names, and a note if the names were inferred.

    Integer labels are class ids (``-1`` or an empty cell: unlabeled); other labels are class
    names, mapped through ``class_names`` or, without it, named after the sorted distinct values.

    Examples
    --------
    >>> ids, names, note = encode_labels(pd.Series(["spam", "ham", None, "spam"]))
    >>> ids.tolist(), names
    ([1, 0, -1, 1], ['ham', 'spam'])
    """
    if class_names is not None:
        class_names = check_class_names_distinct(class_names, where)
    missing = values.isna() | values.astype(str).str.strip().eq("")
    given = values[~missing]
    numbers = pd.to_numeric(given, errors="coerce")
    if given.empty:
        ids = np.full(len(values), ABSTAIN, dtype=np.int64)
        return ids, list(class_names) if class_names is not None else [], None
    if numbers.notna().all() and (numbers == numbers.round()).all():
        ids = np.full(len(values), ABSTAIN, dtype=np.int64)
        ids[~missing.to_numpy()] = numbers.astype(np.int64).to_numpy()
        if (ids < ABSTAIN).any():
            raise ValueError(f"{where}: label {int(ids.min())} is negative; class ids are 0..k-1 (-1 or empty: unlabeled)")
        top = int(ids.max())
        if class_names is None:
            return ids, inferred_class_names(ids, where), None
        if top >= len(class_names):
            raise ValueError(f"{where}: labels go up to {top}, but only {len(class_names)} class names are given "
                             f"({list(class_names)}): class names and labels do not match")
        return ids, list(class_names), None
    text = given.astype(str).str.strip()
    note = None
    if class_names is None:
        class_names = sorted(text.unique())
        note = (f"{where}: class names inferred from the labels and sorted: "
                + ", ".join(f"{c}={i}" for i, c in enumerate(class_names)) + "; pass class_names=[...] to choose the order")
    lookup = {str(c): i for i, c in enumerate(class_names)}
    unknown = ~text.isin(list(lookup)).to_numpy()
    if unknown.any():
        labels = values.astype(str).str.strip().where(~missing)
        raise ValueError(f"{where}: labels that are not among the class names {list(class_names)}: "
                         + _rows_of_values(labels, np.flatnonzero(~missing.to_numpy())[unknown], what="unknown labels"))
    ids = np.full(len(values), ABSTAIN, dtype=np.int64)
    ids[~missing.to_numpy()] = text.map(lookup).to_numpy(dtype=np.int64)
    return ids, [str(c) for c in class_names], note


def load_table(
    path: str | os.PathLike,
    text_column: str,
    label_column: str | None = None,
    id_column: str | None = None,
    *,
    class_names: Sequence[str] | None = None,
    format: str | None = None,
    sep: str | None = None,
    header: Any = "infer",
    names: Sequence[str] | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Load a user's CSV, TSV, Parquet or JSONL file (each may be gzipped) and normalise its key columns.

    The result keeps every column of the file and adds ``example_id`` (from ``id_column``, or
    the row number), ``text`` (from ``text_column``; an empty cell is ``""``, whatever the
    column is called) and, with ``label_column``, ``label``: class ids ``0..k-1``, ``-1`` where
    the label is missing. A label column of class names is mapped through ``class_names`` (or
    named after its sorted distinct values, said in the warning). ``df.attrs["class_names"]``
    holds the class names and ``df.attrs["load_table"]`` how the file was read.

    Parameters
    ----------
    path : path
        The file. Its format comes from the suffix (``.csv``, ``.tsv``, ``.parquet``, ``.jsonl``,
        each optionally ``.gz``), or from ``format=``, or is guessed from the contents.
    text_column, label_column, id_column : str
        Column names; in a file without a header line, positions (``"0"``, ``"1"``, ...) or
        names given in ``names``.
    class_names : sequence of str, optional
        ``class_names[k]`` names class ``k``: string labels map through it, integer labels are
        checked against it.
    format : {"csv", "tsv", "parquet", "jsonl"}, optional
    sep : str, optional
        Field separator of a CSV/TSV file (default from the format, or guessed).
    header : "infer", None or int
        ``"infer"``: the first line is a header if it holds the requested columns, the file has
        none if the columns are positions (or ``names`` differ from the first line); otherwise
        an error asks. ``None``: no header line. An int: the header's line number (0-based).
    names : sequence of str, optional
        Column names for a file without a header line.
    encoding : str, optional
        Text encoding (default UTF-8, with or without a byte-order mark).

    Warns
    -----
    LoadTableWarning
        Saying what was guessed and which lines could not be parsed (count and first line
        numbers); those lines are left out, and named.

    Raises
    ------
    FileNotFoundError, ValueError
        Naming the file and the column: missing file or column, unreadable format or encoding,
        empty file, duplicate or missing ids, non-text values in the text column, labels that
        do not match ``class_names``.

    Examples
    --------
    >>> df = load_table("SMSSpamCollection", text_column="text", label_column="label", header=None,
    ...                 names=["label", "text"])  # doctest: +SKIP
    >>> df.attrs["class_names"]  # doctest: +SKIP
    ['ham', 'spam']
    """
    path = Path(path)
    text_column, label_column, id_column = map(_column_key, (text_column, label_column, id_column))
    df, info = read_table_file(path, format=format, sep=sep, header=header, names=names, encoding=encoding,
                               columns={"text_column": text_column, "label_column": label_column, "id_column": id_column},
                               as_written=[id_column])
    if df.empty:
        raise ValueError(f"{path}: the file has no rows")
    wanted = {"text_column": text_column, "label_column": label_column, "id_column": id_column}
    for arg, col in wanted.items():
        if col is not None and col not in df.columns:
            raise ValueError(f"{path}: {arg}={col!r} is not a column; columns are {[str(c) for c in df.columns]}")

    text = df[text_column]
    # a string column holds text or missing values by its dtype; other columns are checked cell by cell
    bad = None if isinstance(text.dtype, pd.StringDtype) else text.map(
        lambda v: not (isinstance(v, str) or (v is None) or (isinstance(v, float) and np.isnan(v))))
    if bad is not None and bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{path}: column {text_column!r} must hold text, but row {i} holds "
            f"{text.iloc[i]!r} ({type(text.iloc[i]).__name__}); {int(bad.sum())} such rows"
        )

    for role, given, stored in (("id", id_column, ID_COLUMN), ("text", text_column, TEXT_COLUMN),
                                ("label", label_column, LABEL_COLUMN)):
        if given is not None and str(given) != stored and stored in df.columns:
            raise ValueError(f"{path}: the file has a column {stored!r} besides {given!r}, its {role} column, and the "
                             f"{role} is stored as {stored!r}: it would overwrite the file's {stored!r}; rename that "
                             f"column (or pass {role}_column={stored!r} if it is the {role})")
    out = df.copy()
    if id_column is not None:
        ids = out[id_column]
        if ids.isna().any():
            raise ValueError(f"{path}: id column {id_column!r} has missing ids at rows "
                             f"{np.flatnonzero(ids.isna()).tolist()[:5]}")
        ids = ids.astype(str)  # what example_id holds: JSON's 1 and "1" are the same id
        repeated = ids.duplicated(keep=False).to_numpy()
        if repeated.any():
            raise ValueError(f"{path}: id column {id_column!r} has duplicate ids: "
                             + _rows_of_values(ids, repeated, what="repeated ids"))
        out[ID_COLUMN] = ids
    elif ID_COLUMN not in out.columns:
        out[ID_COLUMN] = [str(i) for i in range(len(out))]
    # One behaviour whatever the column is called: an empty cell is empty text, never NaN.
    out[TEXT_COLUMN] = text.astype("string").fillna("").astype(str)
    notes = list(info["guessed"])
    if label_column is not None:
        try:
            labels, class_names, note = encode_labels(out[label_column], class_names, where=f"label column {label_column!r}")
        except ValueError as exc:  # named like every other problem with the file; its notes get the name below
            raise ValueError(f"{path}: {exc}") from None
        out[LABEL_COLUMN] = labels
        notes += [note] if note else []
    out.attrs["class_names"] = list(class_names) if class_names is not None else None
    bad_lines = info.pop("bad_lines")
    info.update(label_column=label_column, text_column=text_column, id_column=id_column,
                skipped_lines={"count": len(bad_lines), "first": bad_lines[:SHOWN_LINES]})
    out.attrs["load_table"] = info
    if bad_lines:
        notes.append(f"{len(bad_lines)} line(s) could not be parsed and were left out (wrong number of fields), "
                     f"first at line(s) {bad_lines[:SHOWN_LINES]}")
    if notes:
        warnings.warn(f"{path}: " + "; ".join(notes), LoadTableWarning, stacklevel=2)
    return out
