"""Datasets: the bundled YouTube Spam Collection, users' own tables, and WRENCH benchmarks.

Every loader returns a :class:`Dataset`: named splits as DataFrames with a stable
``example_id`` column, a ``text`` column that the labeling-function builders read by
default, and a ``label`` column on the hand-labeled splits.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from workbench._internal.paths import data_dir
from workbench._internal.validation import label_dtype

ID_COLUMN = "example_id"
TEXT_COLUMN = "text"
LABEL_COLUMN = "label"

#: Splits that must never reach anything trained on (see ``workbench.evaluate``); ``seed`` may.
PROTECTED_SPLITS = ("dev", "valid", "test", "canary")

YOUTUBE_FILES = {
    1: "Youtube01-Psy.csv",
    2: "Youtube02-KatyPerry.csv",
    3: "Youtube03-LMFAO.csv",
    4: "Youtube04-Eminem.csv",
    5: "Youtube05-Shakira.csv",
}


@dataclass
class Dataset:
    """Named splits of one labeling task.

    Attributes
    ----------
    splits : dict of str to DataFrame
        ``train`` is the unlabeled pool; the other splits carry gold labels in
        ``label``. Every split has ``example_id`` and ``text``.
    class_names : list of str
        ``class_names[k]`` names label ``k``.
    hidden_labels : dict of str to Series
        Gold labels the user must not train on (the YouTube ``train`` pool's),
        indexed by ``example_id``; kept only to measure how good synthetic labels are.
    label_matrices : dict of str to ndarray
        Label matrices that came with the data (WRENCH's ``weak_labels``), per split.
    lf_names : list of str
        Names of the columns of ``label_matrices``.
    """

    name: str
    splits: dict[str, pd.DataFrame]
    class_names: list[str]
    hidden_labels: dict[str, pd.Series] = field(default_factory=dict)
    label_matrices: dict[str, np.ndarray] = field(default_factory=dict)
    lf_names: list[str] = field(default_factory=list)
    text_column: str = TEXT_COLUMN
    label_column: str = LABEL_COLUMN
    id_column: str = ID_COLUMN

    def __post_init__(self):
        self._check_ids_are_unique()

    def _check_ids_are_unique(self) -> None:
        """One example, one split: an id in two splits would let a protected row reach training."""
        seen: dict[int, str] = {}
        parts = []
        for split, df in self.splits.items():
            if id(df) in seen or self.id_column not in df.columns:
                continue  # the same table under a second name (WRENCH's dev is its valid split)
            seen[id(df)] = split
            parts.append(pd.DataFrame({"id": df[self.id_column].astype(str).to_numpy(), "split": split}))
        if not parts:
            return
        ids = pd.concat(parts, ignore_index=True)
        repeated = ids[ids["id"].duplicated(keep=False)]
        if len(repeated):
            where = repeated.groupby("id", sort=False)["split"].agg(lambda s: "+".join(s))
            pairs = where.value_counts()
            first = ", ".join(f"{i!r} ({splits})" for i, splits in list(where.items())[:5])
            raise ValueError(f"dataset {self.name!r}: {len(where)} {self.id_column} value(s) appear more than once "
                             f"(by splits: {dict(pairs)}); first: {first}. Ids must be unique across all splits")

    @property
    def cardinality(self) -> int:
        return len(self.class_names)

    def __getattr__(self, name: str) -> pd.DataFrame:
        splits = self.__dict__.get("splits", {})
        if name in splits:
            return splits[name]
        raise AttributeError(f"Dataset {self.__dict__.get('name')!r} has no split or attribute {name!r}")

    def __getitem__(self, split: str) -> pd.DataFrame:
        if split not in self.splits:
            raise KeyError(f"no split {split!r}; splits are {sorted(self.splits)}")
        return self.splits[split]

    def gold(self, split: str) -> np.ndarray:
        """Gold labels of ``split`` as an int array (hidden labels for ``train``)."""
        df = self[split]
        if self.label_column in df.columns:
            return df[self.label_column].to_numpy(dtype=np.int64)
        if split in self.hidden_labels:
            return self.hidden_labels[split].reindex(df[self.id_column]).to_numpy(dtype=np.int64)
        raise KeyError(f"split {split!r} has no gold labels")

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.splits.items())
        return f"Dataset({self.name!r}, classes={self.class_names}, {sizes})"


def _stable_rank(keys: pd.Series) -> np.ndarray:
    """Order rows by a hash of their key: a shuffle that no library version changes."""
    digests = [hashlib.sha256(str(k).encode()).hexdigest() for k in keys]
    return np.argsort(np.array(digests), kind="stable")


def load_youtube_spam(
    folder: str | os.PathLike | None = None,
    dev_size: int = 120,
    valid_size: int = 120,
    canary_size: int = 100,
    seed_size: int = 60,
) -> Dataset:
    """Load the YouTube Spam Collection (Alberto et al., CC BY 4.0) as deterministic splits.

    Videos 1-4 (Psy, Katy Perry, LMFAO, Eminem; 1,586 comments) form the pool and
    video 5 (Shakira; 370 comments) is the clean ``test`` split, the usual split of
    this collection (Snorkel's spam tutorial uses it too). From the pool, stratified
    by class and shuffled by a SHA-256 of ``COMMENT_ID`` (so the split is the same on
    every machine and library version), we take:

    - ``seed`` (60): a small hand-labeled set that MAY be trained on (the supervised rows
      mixed into the end model's training set, the seeds of pseudo-labeling);
    - ``dev`` (120): the small hand-labeled set for writing and checking LFs;
    - ``valid`` (120): for tuning models and thresholds;
    - ``canary`` (100): never trained or tuned on, only a final gate before export;
    - ``train`` (the remaining 1,186): the unlabeled pool. Its gold labels are not
      a column; they sit in ``dataset.hidden_labels["train"]`` for measuring
      synthetic-label quality only.

    Every source column (COMMENT_ID, AUTHOR, DATE, CONTENT, CLASS) is kept (CLASS
    only where labels are visible), plus ``example_id`` (``"v{video}-{row:03d}"``,
    stable), ``video``, ``text`` (CONTENT without its stray U+FEFF marks) and ``label`` (CLASS). Classes are
    ``0 = "ham"`` and ``1 = "spam"``.

    Examples
    --------
    >>> ds = load_youtube_spam()
    >>> ds.train.shape[0], ds.test.shape[0]
    (1186, 370)
    """
    folder = Path(folder) if folder is not None else data_dir() / "youtube_spam"
    frames = []
    for video, fname in YOUTUBE_FILES.items():
        path = folder / fname
        if not path.exists():
            raise FileNotFoundError(f"YouTube spam file missing: {path}")
        df = pd.read_csv(path)
        df.insert(0, ID_COLUMN, [f"v{video}-{i:03d}" for i in range(len(df))])
        df["video"] = video
        frames.append(df)
    data = pd.concat(frames, ignore_index=True)
    # CONTENT ends in a stray byte-order mark (U+FEFF) in many rows; ``text`` drops it.
    data[TEXT_COLUMN] = data["CONTENT"].astype(str).str.replace("\ufeff", "", regex=False).str.strip()
    data[LABEL_COLUMN] = data["CLASS"].astype(np.int64)

    test = data[data["video"] == 5]
    pool = data[data["video"] != 5]
    parts: dict[str, list[pd.DataFrame]] = {"dev": [], "valid": [], "canary": [], "seed": [], "train": []}
    for _, cls in pool.groupby(LABEL_COLUMN):
        cls = cls.iloc[_stable_rank(cls["COMMENT_ID"])]
        share = len(cls) / len(pool)
        sizes = [round(n * share) for n in (dev_size, valid_size, canary_size, seed_size)]
        bounds = np.cumsum([0, *sizes])
        for name, lo, hi in zip(("dev", "valid", "canary", "seed"), bounds[:-1], bounds[1:]):
            parts[name].append(cls.iloc[lo:hi])
        parts["train"].append(cls.iloc[bounds[-1] :])

    splits = {k: pd.concat(v).sort_values(ID_COLUMN).reset_index(drop=True) for k, v in parts.items()}
    train = splits["train"]
    hidden = {"train": train.set_index(ID_COLUMN)[LABEL_COLUMN].rename("gold")}
    splits["train"] = train.drop(columns=["CLASS", LABEL_COLUMN])
    splits["test"] = test.reset_index(drop=True)
    order = ["train", "seed", "dev", "valid", "test", "canary"]
    return Dataset(
        name="youtube_spam",
        splits={k: splits[k] for k in order},
        class_names=["ham", "spam"],
        hidden_labels=hidden,
    )


_READERS = {
    ".csv": lambda p: pd.read_csv(p),
    ".tsv": lambda p: pd.read_csv(p, sep="\t"),
    ".parquet": lambda p: pd.read_parquet(p),
    ".pq": lambda p: pd.read_parquet(p),
    ".jsonl": lambda p: pd.read_json(p, lines=True),
    ".json": lambda p: pd.read_json(p, lines=True),
}


def load_table(
    path: str | os.PathLike,
    text_column: str,
    label_column: str | None = None,
    id_column: str | None = None,
) -> pd.DataFrame:
    """Load a user's CSV, TSV, Parquet or JSONL file and normalise its key columns.

    The result keeps every column of the file and adds ``example_id`` (from
    ``id_column``, or the row number), ``text`` (from ``text_column``) and, when
    ``label_column`` is given, ``label`` as integers (missing labels become -1).

    Raises
    ------
    FileNotFoundError, ValueError
        Naming the file and the column: missing file or column, unknown format,
        empty file, duplicate or missing ids, or non-text values in the text column.

    Examples
    --------
    >>> df = load_table("comments.csv", text_column="body", id_column="id")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"{path}: unknown format {path.suffix!r}; use one of {sorted(_READERS)}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty")
    try:
        df = reader(path)
    except (pd.errors.EmptyDataError, ValueError) as exc:
        raise ValueError(f"{path}: could not be read as {path.suffix} ({exc})") from exc
    if df.empty:
        raise ValueError(f"{path}: the file has no rows")

    wanted = {"text_column": text_column, "label_column": label_column, "id_column": id_column}
    for arg, col in wanted.items():
        if col is not None and col not in df.columns:
            raise ValueError(f"{path}: {arg}={col!r} is not a column; columns are {list(df.columns)}")

    text = df[text_column]
    bad = text.map(lambda v: not (isinstance(v, str) or (v is None) or (isinstance(v, float) and np.isnan(v))))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{path}: column {text_column!r} must hold text, but row {i} holds "
            f"{text.iloc[i]!r} ({type(text.iloc[i]).__name__}); {int(bad.sum())} such rows"
        )

    out = df.copy()
    if id_column is not None:
        ids = out[id_column]
        if ids.isna().any():
            raise ValueError(f"{path}: id column {id_column!r} has missing ids at rows {list(np.flatnonzero(ids.isna()))[:5]}")
        dup = ids[ids.duplicated(keep=False)]
        if len(dup):
            raise ValueError(f"{path}: id column {id_column!r} has duplicate ids: {sorted(map(str, dup.unique()))[:5]}")
        out[ID_COLUMN] = ids.astype(str)
    elif ID_COLUMN not in out.columns:
        out[ID_COLUMN] = [str(i) for i in range(len(out))]
    out[TEXT_COLUMN] = text.astype("string").fillna("").astype(str) if text_column != TEXT_COLUMN else text
    if label_column is not None:
        labels = pd.to_numeric(out[label_column], errors="coerce")
        non_int = labels.notna() & (labels != labels.round())
        if (out[label_column].notna() & labels.isna()).any() or non_int.any():
            raise ValueError(f"{path}: label column {label_column!r} must hold integer class ids 0..k-1")
        out[LABEL_COLUMN] = labels.fillna(-1).astype(np.int64)
    return out


def load_wrench(folder: str | os.PathLike, name: str | None = None) -> Dataset:
    """Import a dataset in the WRENCH benchmark format, label matrices included.

    ``folder`` holds ``train.json``, ``valid.json`` and ``test.json`` (each a JSON
    object of ``{id: {"data": {"text": ..., ...}, "label": int, "weak_labels": [...]}}``)
    and optionally ``label.json`` (``{"0": "name", ...}``). The weak labels become
    ``dataset.label_matrices[split]`` (ABSTAIN = -1), so every workbench tool runs on
    them without re-applying labeling functions. WRENCH's ``valid`` split doubles as
    ``dev``. Extra fields under ``data`` become columns.

    Examples
    --------
    >>> ds = load_wrench("wrench/youtube")  # doctest: +SKIP
    >>> ds.label_matrices["train"].shape  # doctest: +SKIP
    (1586, 10)
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    splits, matrices = {}, {}
    n_lfs = None
    for split in ("train", "valid", "test"):
        path = folder / f"{split}.json"
        if not path.exists():
            raise FileNotFoundError(f"{path}: WRENCH split file missing")
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
        rows, weak = [], []
        for key, ex in raw.items():
            for req in ("data", "label", "weak_labels"):
                if req not in ex:
                    raise ValueError(f"{path}: example {key!r} has no {req!r} field")
            data = ex["data"] if isinstance(ex["data"], dict) else {"text": ex["data"]}
            if "text" not in data:
                raise ValueError(f"{path}: example {key!r} has no data.text")
            rows.append({ID_COLUMN: f"{split}-{key}", **data, LABEL_COLUMN: ex["label"]})
            if n_lfs is None:
                n_lfs = len(ex["weak_labels"])
            if len(ex["weak_labels"]) != n_lfs:
                raise ValueError(f"{path}: example {key!r} has {len(ex['weak_labels'])} weak labels, expected {n_lfs}")
            weak.append(ex["weak_labels"])
        df = pd.DataFrame(rows)
        df[LABEL_COLUMN] = df[LABEL_COLUMN].astype(np.int64)
        splits[split] = df
        matrices[split] = np.asarray(weak, dtype=np.int64).reshape(len(rows), n_lfs or 0)

    label_file = folder / "label.json"
    if label_file.exists():
        with open(label_file, encoding="utf-8") as fh:
            mapping = json.load(fh)
        class_names = [mapping[str(k)] for k in sorted(int(k) for k in mapping)]
    else:
        k = int(max(max(df[LABEL_COLUMN].max() for df in splits.values()), matrices["train"].max())) + 1
        class_names = [str(i) for i in range(k)]

    for split, L in matrices.items():
        if L.size and (L.min() < -1 or L.max() >= len(class_names)):
            raise ValueError(f"{folder}/{split}.json: weak label {int(L.max())} outside -1..{len(class_names) - 1}")
        # Read as int64 so no label wraps, then stored with the one dtype policy.
        matrices[split] = L.astype(label_dtype(len(class_names)))

    train = splits["train"]
    hidden = {"train": train.set_index(ID_COLUMN)[LABEL_COLUMN].rename("gold")}
    splits["train"] = train.drop(columns=[LABEL_COLUMN])
    splits["dev"] = splits["valid"]
    matrices["dev"] = matrices["valid"]
    return Dataset(
        name=name or folder.name,
        splits=splits,
        class_names=class_names,
        hidden_labels=hidden,
        label_matrices=matrices,
        lf_names=[f"lf_{j}" for j in range(n_lfs or 0)],
    )
