"""Export a curated training set: the table, written atomically, after a leakage check.

The exported table has one row per synthetic example:

- ``example_id``, ``text`` and the pool columns asked for (``columns=``; in a pipeline config
  ``export.columns``; none by default, so nothing the user did not choose, such as a gold
  label column, leaves with the labels);
- ``label`` (the synthetic label ``0..k-1``), ``label_name`` (its class name) and
  ``label_proba`` (its probability);
- ``proba_<class>``: the full probability vector, one column per class;
- ``label_source``: who made the label, one of :data:`workbench.generate.LABEL_SOURCES`
  (``label_model``, ``pseudo_label``, ``distillation``, ``human_review``, ``seed``; which
  label model ran is in the manifest);
- ``sample_weight``: the weight the end model gives the row;
- ``vote_<lf>``: each labeling function's vote (``ABSTAIN`` = -1).

Every file is written to a temporary file in the destination folder and moved into
place with ``os.replace``, so a crash or a kill mid-write leaves the previous export
untouched and never a half-written file under the final name. Existing files are not
replaced unless asked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from workbench._internal.atomic import atomic_files
from workbench._internal.columns import PROBA_PREFIX, VOTE_PREFIX
from workbench._internal.validation import label_dtype
from workbench.data._dataset import ID_COLUMN, TEXT_COLUMN
from workbench.evaluate._leakage import LeakageReport, check_leakage
from workbench.generate._base import check_label_source

#: Writers by format: ``writer(df, path)`` writes ``df`` to the (temporary) ``path``.
WRITERS: dict[str, Callable[[pd.DataFrame, Path], None]] = {
    "parquet": lambda df, path: df.to_parquet(path, index=False),
    "csv": lambda df, path: df.to_csv(path, index=False),
    # pandas writes 10 significant digits unless told otherwise; 15 is its maximum (Parquet is exact).
    "jsonl": lambda df, path: df.to_json(path, orient="records", lines=True, force_ascii=False, double_precision=15),
}
READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "parquet": pd.read_parquet,
    "csv": pd.read_csv,
    "jsonl": lambda path: pd.read_json(path, lines=True, dtype=False, precise_float=True),
}
FORMATS = tuple(WRITERS)
SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl"}

LABEL_COLUMNS = ("label", "label_name", "label_proba", "label_source", "sample_weight")


def export_format(path: str | os.PathLike, format: str | None = None) -> str:
    """The export format: ``format`` if given, else from the file suffix.

    Examples
    --------
    >>> export_format("out/train.parquet"), export_format("out/train.txt", "csv")
    ('parquet', 'csv')
    """
    if format is not None:
        if format not in WRITERS:
            raise ValueError(f"unknown export format {format!r}; use one of {list(FORMATS)}")
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path}: cannot tell the export format from suffix {suffix!r}; "
                         f"use one of {sorted(SUFFIXES)} or pass format= one of {list(FORMATS)}")
    return SUFFIXES[suffix]


def write_table(df: pd.DataFrame, path: str | os.PathLike, *, format: str | None = None,
                overwrite: bool = False) -> Path:
    """Write ``df`` to ``path`` atomically as Parquet, CSV or JSONL (format from the suffix).

    Raises ``FileExistsError`` if ``path`` exists and ``overwrite`` is False; the
    existing file is then left as it was.

    Examples
    --------
    >>> write_table(curated, out_dir() / "train.parquet")  # doctest: +SKIP
    """
    path = Path(path)
    fmt = export_format(path, format)
    with atomic_files([path], overwrite=overwrite) as (temp,):
        WRITERS[fmt](df, temp)
    return path


def read_table(path: str | os.PathLike, *, format: str | None = None) -> pd.DataFrame:
    """Read an export back (format from the suffix)."""
    return READERS[export_format(path, format)](Path(path))


def build_export_frame(
    pool: pd.DataFrame,
    probs: Any,
    *,
    class_names: Sequence[str],
    source: str | Sequence[str],
    L: Any = None,
    lf_names: Sequence[str] | None = None,
    sample_weight: Any = None,
    labels: Any = None,
    columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Assemble the export table: id, text, the pool columns asked for, the synthetic labels and the LF votes.

    Parameters
    ----------
    pool : DataFrame
        The curated rows, with ``example_id`` and ``text`` (kept first) and any other columns.
    probs : ndarray (n, k)
        Probability of each class per row.
    class_names : sequence of str
        ``class_names[c]`` names class ``c``; gives the ``proba_<class>`` columns.
    source : str or sequence of str
        Who made each row's label (one value for all rows, or one per row), from
        :data:`workbench.generate.LABEL_SOURCES`.
    L : ndarray (n, m), optional
        The LF votes, exported as ``vote_<lf>`` columns (needs ``lf_names``).
    sample_weight : array-like (n,), optional
        Defaults to 1.0.
    labels : array-like (n,), optional
        The synthetic labels; default the argmax of ``probs`` (first class on ties).
    columns : sequence of str
        Pool columns to export besides ``example_id`` and ``text`` (each once, in this order).

    Examples
    --------
    >>> pool = pd.DataFrame({"example_id": ["a", "b"], "text": ["buy now", "nice"]})
    >>> out = build_export_frame(pool, np.array([[0.1, 0.9], [0.8, 0.2]]), class_names=["ham", "spam"],
    ...                          source="label_model")
    >>> out[["label", "label_name", "label_proba"]].values.tolist()
    [[1, 'spam', 0.9], [0, 'ham', 0.8]]
    """
    for col in (ID_COLUMN, TEXT_COLUMN):
        if col not in pool.columns:
            raise ValueError(f"the pool has no {col!r} column; columns are {list(pool.columns)}")
    n, k = len(pool), len(class_names)
    probs = np.asarray(probs, dtype=float)
    if probs.shape != (n, k):
        raise ValueError(f"probs has shape {probs.shape}; expected ({n}, {k}): one row per pool row, one column per class")
    labels = probs.argmax(axis=1) if labels is None else np.asarray(labels).reshape(-1)
    if labels.shape != (n,) or (labels.size and (labels.min() < 0 or labels.max() >= k)):
        raise ValueError(f"labels must be {n} class ids in 0..{k - 1}")
    names = [] if L is None else list(lf_names or [])
    if L is not None:
        L = np.asarray(L)
        if L.shape != (n, len(names)):
            raise ValueError(f"L has shape {L.shape}; expected ({n}, {len(names)}) for LFs {names}")
    rest = [c for c in dict.fromkeys(columns) if c not in (ID_COLUMN, TEXT_COLUMN)]
    unknown = [c for c in rest if c not in pool.columns]
    if unknown:
        raise ValueError(f"columns {unknown} are not columns of the pool; columns are {[str(c) for c in pool.columns]}")
    added = [*LABEL_COLUMNS, *(PROBA_PREFIX + str(c) for c in class_names), *(VOTE_PREFIX + m for m in names)]
    clash = [c for c in added if c in rest]
    if clash:
        raise ValueError(f"the exported pool column(s) {clash} have the names of columns the export adds; rename them first")
    if len(set(added)) != len(added):
        raise ValueError(f"class names {list(class_names)} give duplicate column names")

    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float).reshape(-1)
    if weight.shape != (n,) or (weight < 0).any():
        raise ValueError(f"sample_weight must be {n} non-negative numbers")
    source = check_label_source(source, n)

    base = pool[[ID_COLUMN, TEXT_COLUMN, *rest]].reset_index(drop=True)
    vote_dtype = label_dtype(len(class_names))
    # Built in one concat: inserting hundreds of proba_/vote_ columns one by one fragments the frame.
    added_columns = {
        "label": labels.astype(np.int64),
        "label_name": np.asarray(class_names, dtype=object)[labels].astype(str),
        "label_proba": probs[np.arange(n), labels],
        **{PROBA_PREFIX + str(name): probs[:, c] for c, name in enumerate(class_names)},
        "label_source": source,
        "sample_weight": weight,
        **{VOTE_PREFIX + name: L[:, j].astype(vote_dtype) for j, name in enumerate(names)},
    }
    out = pd.concat([base, pd.DataFrame(added_columns, index=base.index)], axis=1)
    return out


def refuse_leakage(df: pd.DataFrame, protected: Mapping[str, pd.DataFrame], **check) -> LeakageReport:
    """Refuse a set in which a protected row (dev, valid, test, canary) reappears; else return the check's report.

    This is :func:`workbench.evaluate.check_leakage` (``check`` are its keyword arguments:
    ``near``, ``threshold``, ``text_column``, ...) followed by
    :meth:`~workbench.evaluate.LeakageReport.enforce`; ``report.to_dict()`` is the record for
    the lineage manifest, and ``report.method`` says what ran.

    Raises
    ------
    LeakageError
        Naming how many rows match each split, the first of them, and how to remove them.

    Examples
    --------
    >>> train = pd.DataFrame({"example_id": ["t1", "t2"], "text": ["Nice  SONG", "buy now"]})
    >>> test = pd.DataFrame({"example_id": ["x9"], "text": ["nice song"]})
    >>> refuse_leakage(train, {"test": test}, near=False)
    Traceback (most recent call last):
    ...
    workbench.evaluate._leakage.LeakageError: refusing to export: the set contains 1 row(s) matching protected rows (rows matching each split: test 1; 1 exact and 0 near-duplicate matches):
      row 't1' 'Nice  SONG' matches test 'x9'
    Remove them before training or export (LeakageReport.remove_leaked(df), or the pipeline's 'protected_duplicates' filter step). Checked by exact match of normalised text.
    """
    return check_leakage(df, protected, **check).enforce(what="refusing to export: the set")
