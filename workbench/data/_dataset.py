"""Datasets: named splits of one task, how to make them (:func:`split_dataset`), save and load them,
and the loaders of the bundled YouTube Spam Collection and of WRENCH benchmarks.

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
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from workbench._internal.atomic import atomic_files
from workbench._internal.jsonsafe import json_safe
from workbench._internal.paths import data_dir
from workbench._internal.validation import ABSTAIN, check_class_names_distinct, check_labels, label_dtype

ID_COLUMN = "example_id"
TEXT_COLUMN = "text"
LABEL_COLUMN = "label"

#: Splits that must never reach anything trained on (see ``workbench.evaluate``); ``seed`` may.
PROTECTED_SPLITS = ("dev", "valid", "test", "canary")
#: The hand-labeled splits :func:`split_dataset` can make; the rest of the rows is the pool, ``train``.
LABELED_SPLITS = ("seed", "dev", "valid", "test", "canary")
#: :func:`split_dataset`'s default sizes, as fractions of the labeled rows, in the order they are taken.
DEFAULT_SPLIT_SIZES = {"test": 0.2, "dev": 0.1, "valid": 0.1, "canary": 0.05, "seed": 0.05}
#: The description file of a saved dataset (:meth:`Dataset.save`, :func:`load_dataset`).
DATASET_FILE = "dataset.json"
SPLIT_ORDER = ("train", "seed", "dev", "valid", "test", "canary")

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
    recipe : dict
        How the splits were made (:func:`split_dataset`'s sizes, key, group and time columns,
        what each split received); saved with the dataset, with its hash.
    allow_missing_classes : bool, default False
        Class names and labels must match (checked on construction, see
        :meth:`check_class_names`): a class with no labeled row in any split is an error
        unless this is True (a class the user means to label later); saved with the dataset.
    """

    name: str
    splits: dict[str, pd.DataFrame]
    class_names: list[str]
    hidden_labels: dict[str, pd.Series] = field(default_factory=dict)
    label_matrices: dict[str, np.ndarray] = field(default_factory=dict)
    lf_names: list[str] = field(default_factory=list)
    recipe: dict = field(default_factory=dict)
    text_column: str = TEXT_COLUMN
    label_column: str = LABEL_COLUMN
    id_column: str = ID_COLUMN
    allow_missing_classes: bool = False

    def __post_init__(self):
        self._check_ids_are_unique()
        self.check_class_names()

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
                             f"(by splits: {dict(pairs.astype(int).items())}); first: {first}. Ids must be unique across all splits")

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

    def check_class_names(self) -> None:
        """Class names and labels must match: every label names a class, every class has a labeled row.

        A class without a single hand-labeled row would give a model a class it can never learn
        or be scored on (three class names for binary labels train a three-class model), so it
        is an error naming the classes, unless ``allow_missing_classes`` says it is intended.
        Only the labeled splits count (not the pool's hidden labels); a dataset without any
        labeled row is not checked. Runs when the dataset is made.
        """
        check_class_names_distinct(self.class_names, f"dataset {self.name!r}")
        k = len(self.class_names)
        seen: set[int] = set()
        for split, df in self.splits.items():
            if self.label_column not in df.columns:
                continue
            y = check_labels(df[self.label_column].to_numpy(), allow_abstain=True,
                             name=f"dataset {self.name!r}: split {split!r} column {self.label_column!r}")
            if y.size and (y.max() >= k or y.min() < ABSTAIN):
                bad = int(y.max()) if y.max() >= k else int(y.min())
                raise ValueError(f"dataset {self.name!r}: split {split!r} has label {bad}, but the class names are "
                                 f"{_listed(self.class_names)} (ids 0..{k - 1}): class names and labels do not match")
            seen.update(int(v) for v in np.unique(y[y >= 0]))
        unused = [name for c, name in enumerate(self.class_names) if c not in seen]
        if unused and seen and not self.allow_missing_classes:
            raise ValueError(f"dataset {self.name!r}: class(es) {_listed(unused)} of {_listed(self.class_names)} have "
                             f"no labeled row in any split; the labels use {len(seen)} of {k} classes: class names and labels do not "
                             "match. Drop those names, or, if a class is meant to have no labeled row yet, say so with "
                             "allow_missing_classes=True (config: data.allow_missing_classes: true)")

    def save(self, folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the dataset to ``folder``: one Parquet file per split and a small ``dataset.json``.

        ``dataset.json`` holds the name, class names, column names, each split's file, rows and
        SHA-256, and the split recipe with its hash; the pool's hidden gold labels (if any) go
        to ``hidden_labels.parquet``, label matrices to ``label_matrices.npz``. All files appear
        together or not at all. :func:`load_dataset` reads it back; a pipeline config takes the
        folder as ``data: {dataset: FOLDER}``.

        Examples
        --------
        >>> ds.save("my_project/dataset")  # doctest: +SKIP
        >>> load_dataset("my_project/dataset").splits.keys() == ds.splits.keys()  # doctest: +SKIP
        True
        """
        folder = Path(folder)
        if (folder / DATASET_FILE).exists() and not overwrite:
            raise FileExistsError(f"{folder}: a dataset is saved there already; pass overwrite=True to replace it")
        first_name: dict[int, str] = {}
        files: dict[str, str] = {}
        description: dict[str, Any] = {
            "name": self.name, "class_names": list(self.class_names), "id_column": self.id_column,
            "text_column": self.text_column, "label_column": self.label_column, "splits": {},
            "recipe": self.recipe, "recipe_sha256": recipe_sha256(self.recipe),
            "allow_missing_classes": bool(self.allow_missing_classes),
        }
        for split, df in self.splits.items():
            if id(df) in first_name:  # one table under two names (WRENCH's dev is its valid split)
                description["splits"][split] = {"same_as": first_name[id(df)]}
                continue
            first_name[id(df)] = split
            files[split] = f"{split}.parquet"
        hidden = pd.concat([pd.DataFrame({"split": split, self.id_column: gold.index.astype(str),
                                          "gold": gold.to_numpy(dtype=np.int64)})
                            for split, gold in self.hidden_labels.items()], ignore_index=True) if self.hidden_labels else None
        targets = [folder / f for f in files.values()]
        if hidden is not None:
            targets.append(folder / "hidden_labels.parquet")
        if self.label_matrices:
            targets.append(folder / "label_matrices.npz")
        targets.append(folder / DATASET_FILE)
        with atomic_files(targets, overwrite=True) as temps:
            for (split, name), temp in zip(files.items(), temps):
                df = self.splits[split].reset_index(drop=True)
                df.to_parquet(temp, index=False)
                description["splits"][split] = {"file": name, "rows": int(len(df)), "columns": [str(c) for c in df.columns],
                                                "sha256": _file_sha256(temp)}
            rest = iter(temps[len(files):])
            if hidden is not None:
                temp = next(rest)
                hidden.to_parquet(temp, index=False)
                description["hidden_labels"] = {"file": "hidden_labels.parquet", "sha256": _file_sha256(temp)}
            if self.label_matrices:
                temp = next(rest)
                with open(temp, "wb") as fh:
                    np.savez(fh, **self.label_matrices)
                description["label_matrices"] = {"file": "label_matrices.npz", "lf_names": list(self.lf_names),
                                                 "sha256": _file_sha256(temp)}
            description["splits"] = {s: description["splits"][s] for s in self.splits}
            next(rest).write_text(json.dumps(json_safe(description), indent=2) + "\n", encoding="utf-8")
        return folder


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def recipe_sha256(recipe: dict) -> str:
    """SHA-256 of a split recipe (its canonical JSON)."""
    return hashlib.sha256(json.dumps(json_safe(recipe), sort_keys=True).encode()).hexdigest()


def load_dataset(folder: str | os.PathLike, *, allow_missing_classes: bool | None = None) -> Dataset:
    """Read a dataset written by :meth:`Dataset.save`, checking every file against its recorded SHA-256.

    ``allow_missing_classes`` (see :class:`Dataset`) is as saved when None.

    Raises
    ------
    FileNotFoundError, ValueError
        No ``dataset.json`` in the folder, a missing file, or a file changed since it was saved
        (so a notebook and the pipeline cannot silently read different splits); class names
        that do not match the labels.
    """
    folder = Path(folder)
    described = folder / DATASET_FILE
    if not described.is_file():
        raise FileNotFoundError(f"{folder}: no {DATASET_FILE}; save a dataset there with Dataset.save(folder)")
    meta = json.loads(described.read_text(encoding="utf-8"))

    def read(entry: dict, what: str) -> Path:
        path = folder / entry["file"]
        if not path.is_file():
            raise FileNotFoundError(f"{path}: {what} of the saved dataset is missing")
        if _file_sha256(path) != entry["sha256"]:
            raise ValueError(f"{path}: {what} changed since the dataset was saved (SHA-256 differs from {DATASET_FILE}); "
                             "save the dataset again instead of editing its files")
        return path

    splits: dict[str, pd.DataFrame] = {}
    for split, entry in meta["splits"].items():
        splits[split] = splits[entry["same_as"]] if "same_as" in entry else pd.read_parquet(read(entry, f"split {split!r}"))
    hidden = {}
    if meta.get("hidden_labels"):
        frame = pd.read_parquet(read(meta["hidden_labels"], "the hidden labels"))
        id_column = meta["id_column"]
        hidden = {split: part.set_index(id_column)["gold"].astype(np.int64) for split, part in frame.groupby("split", sort=False)}
    matrices, lf_names = {}, []
    if meta.get("label_matrices"):
        with np.load(read(meta["label_matrices"], "the label matrices")) as npz:
            matrices = {split: npz[split] for split in npz.files}
        lf_names = list(meta["label_matrices"]["lf_names"])
    if recipe_sha256(meta.get("recipe", {})) != meta.get("recipe_sha256"):
        raise ValueError(f"{described}: the split recipe does not match its recorded hash; the file was edited")
    return Dataset(name=meta["name"], splits=splits, class_names=list(meta["class_names"]), hidden_labels=hidden,
                   label_matrices=matrices, lf_names=lf_names, recipe=meta.get("recipe", {}),
                   text_column=meta["text_column"], label_column=meta["label_column"], id_column=meta["id_column"],
                   allow_missing_classes=bool(meta.get("allow_missing_classes", False) if allow_missing_classes is None
                                              else allow_missing_classes))


def _rank_keys(keys: Any, random_state: int | None) -> np.ndarray:
    """Hash digests of the keys: the order that no library version or machine changes."""
    salt = "" if random_state is None else f"{random_state}\x00"
    return np.array([hashlib.sha256(f"{salt}{k}".encode()).hexdigest() for k in keys])


def _check_sizes(sizes: Mapping[str, float], n_labeled: int) -> dict[str, float]:
    """Requested rows per split (a float for a fraction of the labeled rows), validated."""
    out = {}
    for split, size in sizes.items():
        if split not in LABELED_SPLITS:
            raise ValueError(f"sizes: unknown split {split!r}; splits are {list(LABELED_SPLITS)} (the rest is the pool, train)")
        if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)) or size < 0:
            raise ValueError(f"sizes[{split!r}] must be a number of rows or a fraction in (0, 1), got {size!r}")
        if isinstance(size, (int, np.integer)) or float(size).is_integer():
            out[split] = int(size)
        elif 0 < size < 1:
            out[split] = float(size) * n_labeled
        else:
            raise ValueError(f"sizes[{split!r}] = {size!r}: a fraction must be in (0, 1), a count a whole number")
    fractions = sum(float(s) for s in sizes.values() if 0 < s < 1)
    if fractions > 1:
        raise ValueError(f"sizes: the fractions add up to {fractions:g}, more than all the labeled rows")
    return out


def _listed(names: Sequence[str], shown: int = 10) -> str:
    """``names`` for a message: the first ``shown`` of them, and how many there are when that is not all.

    >>> _listed(["a", "b", "c"], shown=2)
    "['a', 'b', ... 3 in all]"
    """
    names = list(names)
    return repr(names) if len(names) <= shown else repr(names[:shown])[:-1] + f", ... {len(names)} in all]"


#: The most classes integer labels may imply without ``class_names`` (ids 0..k-1); more must be named.
MAX_INFERRED_CLASSES = 1000


def inferred_class_names(ids: np.ndarray, where: str) -> list[str]:
    """``"0"``, ``"1"``, ... up to the largest class id in ``ids`` (at least two), for labels without class names.

    Raises
    ------
    ValueError
        Naming ``where``, the label and its row: a class id from ``MAX_INFERRED_CLASSES`` on (a typo, or a
        column of codes, would otherwise make that many class names).
    """
    top = int(np.max(ids, initial=1))
    if top >= MAX_INFERRED_CLASSES:
        raise ValueError(f"{where}: labels go up to {top} at row {int(np.argmax(ids))}; integer labels are class "
                         f"ids 0..k-1, so that would be {top + 1} classes ({len(np.unique(ids[ids >= 0]))} "
                         f"distinct labels appear): map the labels to 0..k-1, or pass class_names= (one name "
                         "per class id) if that many classes are meant")
    return [str(c) for c in range(max(2, top + 1))]


def split_dataset(
    df: pd.DataFrame,
    sizes: Mapping[str, float] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    name: str = "dataset",
    key_column: str | None = None,
    group_column: str | None = None,
    time_column: str | None = None,
    random_state: int | None = None,
    hide_columns: Sequence[str] | None = None,
    allow_missing_classes: bool = False,
) -> Dataset:
    """Split one table (``example_id``, ``text``, ``label`` with -1 for unlabeled) into a :class:`Dataset`.

    The labeled rows make the hand-labeled splits in ``sizes``; everything else (the unlabeled
    rows and the labeled rows left over) is the pool, ``train``, whose labels are hidden
    (``dataset.hidden_labels["train"]``, for measuring synthetic labels only), as in the bundled
    data. Rows are taken in the order of a SHA-256 of their key, so the split is the same on
    every machine and library version.

    Parameters
    ----------
    df : DataFrame
        From :func:`load_table`: ``example_id``, ``text`` and (for any labeled split) ``label``.
    sizes : mapping of split name to size, optional
        Any of ``seed``, ``dev``, ``valid``, ``test``, ``canary``; a whole number is a row count,
        a value in (0, 1) a fraction of the labeled rows. Splits are taken in the mapping's
        order. Default :data:`DEFAULT_SPLIT_SIZES`.
    class_names : sequence of str, optional
        Default ``df.attrs["class_names"]`` (set by :func:`load_table`), else ``"0"``, ``"1"``, ...
    key_column : str, optional
        The column whose hash orders the rows (default ``example_id``).
    group_column : str, optional
        Keep all rows of a group (an author, a thread) in one split, so near copies within a
        group cannot straddle the pool and a protected split. Whole groups are taken by the hash
        of the group value; only fully labeled groups go to labeled splits. Not stratified.
    time_column : str, optional
        Make ``test`` the latest period: the labeled rows from the latest time on that fill the
        test size (ties at the cut included), to measure drift. The other splits are drawn
        from the earlier rows.
    random_state : int, optional
        Mixed into the hash for a different (still deterministic) split.
    hide_columns : sequence of str, optional
        Columns dropped from the pool because they hold its gold labels (default: the label
        column :func:`load_table` read, from ``df.attrs``).
    allow_missing_classes : bool, default False
        Accept class names that no labeled row uses (see :class:`Dataset`); otherwise they are
        an error naming them.

    Raises
    ------
    ValueError
        Naming the problem: missing column, no labels, one class only, fewer labeled rows (of
        a class) than the sizes need, unknown split names, class names no labeled row uses.

    Examples
    --------
    >>> df = pd.DataFrame({"example_id": [str(i) for i in range(40)], "text": ["t"] * 40,
    ...                    "label": [0, 1] * 15 + [-1] * 10})
    >>> ds = split_dataset(df, {"dev": 10, "test": 0.2})
    >>> {s: len(v) for s, v in ds.splits.items()}
    {'train': 24, 'dev': 10, 'test': 6}
    """
    sizes = dict(DEFAULT_SPLIT_SIZES if sizes is None else sizes)
    for col in (ID_COLUMN, TEXT_COLUMN, key_column, group_column, time_column):
        if col is not None and col not in df.columns:
            raise ValueError(f"split_dataset: no column {col!r}; columns are {[str(c) for c in df.columns]}")
    if df[ID_COLUMN].duplicated().any():
        dup = df.loc[df[ID_COLUMN].duplicated(keep=False), ID_COLUMN].astype(str).unique()[:5].tolist()
        raise ValueError(f"split_dataset: {ID_COLUMN} must be unique; repeated: {dup}")
    if class_names is None:
        class_names = df.attrs.get("class_names")
    if hide_columns is None:
        hide_columns = [c for c in [(df.attrs.get("load_table") or {}).get("label_column")] if c]
    frame = df.reset_index(drop=True)
    has_labels = LABEL_COLUMN in frame.columns
    y = (check_labels(frame[LABEL_COLUMN].to_numpy(), allow_abstain=True, name=f"split_dataset: column {LABEL_COLUMN!r}")
         if has_labels else np.full(len(frame), ABSTAIN, dtype=np.int64))
    labeled = y >= 0
    if sizes and not labeled.any():
        raise ValueError(f"split_dataset: no labeled rows (column {LABEL_COLUMN!r}), so no split of {list(sizes)} "
                         "can be made; label some rows, or pass sizes={} for a pool only")
    classes = np.unique(y[labeled])
    if class_names is None:
        class_names = inferred_class_names(y, f"split_dataset: column {LABEL_COLUMN!r}")
    class_names = [str(c) for c in class_names]
    if sizes and len(classes) < 2:
        only = class_names[int(classes[0])] if int(classes[0]) < len(class_names) else int(classes[0])
        raise ValueError(f"split_dataset: the labeled rows hold one class only ({only!r}); "
                         "labeled splits need examples of at least two classes")
    wanted = _check_sizes(sizes, int(labeled.sum()))
    key = frame[key_column or ID_COLUMN].astype(str).to_numpy()
    digest = _rank_keys(key, random_state)
    assigned = np.full(len(frame), "train", dtype=object)
    recipe: dict[str, Any] = {"sizes": dict(sizes), "key_column": key_column or ID_COLUMN, "group_column": group_column,
                              "time_column": time_column, "random_state": random_state}

    def take(rows: np.ndarray, split: str, count: int, what: str) -> None:
        if count > len(rows):
            raise ValueError(f"split_dataset: split {split!r} needs {count} labeled rows{what} but only {len(rows)} "
                             f"are left (of {int(labeled.sum())} labeled rows; sizes {dict(sizes)}); "
                             "label more rows or ask for smaller splits")
        assigned[rows[:count]] = split

    order = list(wanted)
    if time_column is not None and "test" in wanted:
        times = frame[time_column]
        if times.isna().any():
            raise ValueError(f"split_dataset: time column {time_column!r} is missing for {int(times.isna().sum())} row(s)")
        candidates = np.flatnonzero(labeled)
        rank = times.rank(method="dense").to_numpy()
        latest = candidates[np.lexsort((digest[candidates], rank[candidates]))][::-1]
        count = int(round(wanted["test"]))
        take(latest, "test", count, " for the latest period")
        cut = times.iloc[latest[count - 1]] if count else None
        if count:  # rows tied with the last one taken belong to the same period
            assigned[candidates[rank[candidates] >= rank[latest[count - 1]]]] = "test"
        recipe["test_from"] = cut
        order.remove("test")

    if group_column is not None:
        groups = frame[group_column].astype(str).to_numpy()
        free = assigned == "train"
        whole = pd.Series(labeled & free).groupby(groups).all()
        eligible = whole[whole].index.to_numpy()
        eligible = eligible[np.argsort(_rank_keys(eligible, random_state), kind="stable")]
        sizes_by_group = pd.Series(groups).value_counts()
        position = 0
        for split in order:
            count, got = int(round(wanted[split])), 0
            while got < count:
                if position >= len(eligible):
                    raise ValueError(f"split_dataset: split {split!r} needs {count} labeled rows in whole groups of "
                                     f"{group_column!r}, but only {got} are left in fully labeled groups; "
                                     "ask for smaller splits")
                group = eligible[position]
                assigned[groups == group] = split
                got += int(sizes_by_group[group])
                position += 1
        recipe["stratified"] = False
    else:
        free = labeled & (assigned == "train")
        n_free = int(free.sum())
        by_class = {c: (rows := np.flatnonzero(free & (y == c)))[np.argsort(digest[rows], kind="stable")] for c in classes}
        counts: dict[Any, list[int]] = {c: [] for c in classes}
        for split in order:
            # each split gets the rows asked for, shared out by class in proportion (largest remainders round up;
            # on a tie, the class with more rows still free): rounding each class alone gave 4 + 4 for 3 + 5
            target = int(round(wanted[split]))
            exact = {c: target * len(by_class[c]) / n_free if n_free else 0.0 for c in classes}
            got = {c: int(np.floor(exact[c])) for c in classes}
            order_up = sorted(classes, key=lambda c: (-(exact[c] - got[c]), -(len(by_class[c]) - sum(counts[c]) - got[c])))
            for c in order_up[:max(0, target - sum(got.values()))]:
                got[c] += 1
            for c in classes:
                counts[c].append(got[c])
        for c in classes:
            rows = by_class[c]
            bounds = np.cumsum([0, *counts[c]])
            if bounds[-1] > len(rows):
                raise ValueError(f"split_dataset: class {class_names[int(c)]!r} has {len(rows)} labeled rows but the "
                                 f"splits {order} need {int(bounds[-1])} of them (stratified by class; sizes "
                                 f"{dict(sizes)}); label more rows or ask for smaller splits")
            for split, lo, hi in zip(order, bounds[:-1], bounds[1:]):
                assigned[rows[lo:hi]] = split
        recipe["stratified"] = has_labels

    splits: dict[str, pd.DataFrame] = {}
    hidden: dict[str, pd.Series] = {}
    pool = frame[assigned == "train"]
    gold = pool[labeled[assigned == "train"]] if has_labels else pool.iloc[:0]
    if len(gold):
        hidden["train"] = gold.set_index(ID_COLUMN)[LABEL_COLUMN].astype(np.int64).rename("gold")
    drop = [c for c in dict.fromkeys([LABEL_COLUMN, *hide_columns]) if c in pool.columns]
    splits["train"] = pool.drop(columns=drop).reset_index(drop=True)
    for split in SPLIT_ORDER[1:]:
        if split in wanted:
            splits[split] = frame[assigned == split].reset_index(drop=True)
    recipe["rows"] = {split: int(len(part)) for split, part in splits.items()}
    recipe["hidden_labels"] = int(len(gold))
    return Dataset(name=name, splits=splits, class_names=class_names, hidden_labels=hidden, recipe=json_safe(recipe),
                   allow_missing_classes=allow_missing_classes)


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

    # Video 5 is the test set as a whole (a video the pool never saw); the pool's hand-labeled
    # splits are split_dataset's, stratified and ordered by a hash of COMMENT_ID.
    pool = split_dataset(data[data["video"] != 5], {"dev": dev_size, "valid": valid_size, "canary": canary_size,
                                                    "seed": seed_size},
                         class_names=["ham", "spam"], name="youtube_spam", key_column="COMMENT_ID", hide_columns=["CLASS"])
    splits = {**pool.splits, "test": data[data["video"] == 5].reset_index(drop=True)}
    return Dataset(
        name="youtube_spam",
        splits={k: splits[k] for k in SPLIT_ORDER},
        class_names=pool.class_names,
        hidden_labels=pool.hidden_labels,
        recipe={**pool.recipe, "test": "video 5 (Youtube05-Shakira.csv), whole", "rows": {k: len(splits[k]) for k in SPLIT_ORDER}},
    )


def load_wrench(folder: str | os.PathLike, name: str | None = None, *, allow_missing_classes: bool = False) -> Dataset:
    """Import a dataset in the WRENCH benchmark format, label matrices included.

    ``folder`` holds ``train.json``, ``valid.json`` and ``test.json`` (each a JSON
    object of ``{id: {"data": {"text": ..., ...}, "label": int, "weak_labels": [...]}}``)
    and optionally ``label.json`` (``{"0": "name", ...}``). The weak labels become
    ``dataset.label_matrices[split]`` (ABSTAIN = -1), so every workbench tool runs on
    them without re-applying labeling functions. WRENCH's ``valid`` split doubles as
    ``dev``. Extra fields under ``data`` become columns. A class of ``label.json`` that no
    valid or test row has is an error unless ``allow_missing_classes`` (see :class:`Dataset`).

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
        allow_missing_classes=allow_missing_classes,
    )
