"""The leakage check: protected rows (dev/valid/test/canary) found in a training set, exactly or nearly.

The one check and its one error: :func:`check_leakage` returns a :class:`LeakageReport`
whose :meth:`~LeakageReport.enforce` raises :class:`LeakageError`; the export's refusal
(:func:`workbench.export.refuse_leakage`) is this check. Texts are compared as
:mod:`workbench._internal.text` normalises them, the same way deduplication does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from workbench._internal.jsonsafe import json_safe
from workbench._internal.progress import PROGRESS_MIN_ROWS
from workbench._internal.text import (
    MINHASH_SEED,
    NORMALIZATION,
    NORMALIZED_DTYPE,
    NUM_PERM,
    SHINGLE_SIZE,
    BandKeys,
    band_buckets,
    exact_jaccard,
    first_rows,
    lsh_bands,
    minhash_band_keys,
    normalize_text,
)
from workbench.data._dataset import (
    ID_COLUMN,
    PROTECTED_SPLITS,
    TEXT_COLUMN,
    Dataset,
)

EXACT_METHOD = "exact match of normalised text"


class LeakageError(ValueError):
    """A set about to be trained on or exported contains protected rows.

    The message names how many rows match each protected split and the first of them, and
    says how to remove them; ``report`` is the :class:`LeakageReport`.
    """

    def __init__(self, report: LeakageReport, *, what: str = "the training set", limit: int = 10):
        self.report = report
        m = report.matches
        lines = []
        for train_id, rows in list(m.groupby("train_id", sort=False))[:limit]:
            found = [f"{r.protected_split} {r.protected_id!r}" + ("" if r.kind == "exact" else f" (near, {r.similarity:.2f})")
                     for r in rows.itertuples()]
            shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
            lines.append(f"  row {train_id!r} {str(rows['train_text'].iloc[0])[:50]!r} matches {shown}")
        n_rows = m["train_id"].nunique()
        more = f"\n  ... and {n_rows - limit} more rows" if n_rows > limit else ""
        by_split = ", ".join(f"{s} {n}" for s, n in report.leaked_by_split.items() if n)
        super().__init__(
            f"{what} contains {n_rows} row(s) matching protected rows (rows matching each split: {by_split}; "
            f"{int((m['kind'] == 'exact').sum())} exact and {int((m['kind'] == 'near').sum())} near-duplicate matches):\n"
            + "\n".join(lines) + more + "\n"
            "Remove them before training or export (LeakageReport.remove_leaked(df), or the pipeline's "
            f"'protected_duplicates' filter step). Checked by {report.method}."
        )

    def __reduce__(self):
        # Raised on a Dask worker, it reaches the client pickled: with its report and its message.
        return _rebuild_leakage_error, (self.report, self.args[0])


def _rebuild_leakage_error(report: LeakageReport, message: str) -> LeakageError:
    error = LeakageError.__new__(LeakageError)
    ValueError.__init__(error, message)
    error.report = report
    return error


@dataclass(frozen=True, eq=False)
class LeakageReport:
    """Protected rows found in a training set (see :func:`check_leakage`).

    ``matches`` has one row per (training row, protected row) pair: ``train_row``
    (the training DataFrame's index label), ``train_position`` (its position),
    ``train_id``, ``train_text``, ``protected_split``, ``protected_id``,
    ``protected_text``, ``kind`` (``"exact"`` or ``"near"``) and ``similarity``
    (Jaccard similarity of the character shingle sets, 1.0 for exact matches).
    ``lsh_bands`` is the (bands, rows per band) of the near pass, None without one.
    """

    matches: pd.DataFrame
    n_train: int
    protected_sizes: dict[str, int]
    near: bool
    threshold: float
    num_perm: int
    lsh_bands: tuple[int, int] | None
    checked_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def method(self) -> str:
        """What ran, in words (recorded in manifests)."""
        if not self.near:
            return EXACT_METHOD
        bands, rows = self.lsh_bands
        return (f"{EXACT_METHOD} + MinHash LSH near duplicates (Jaccard >= {self.threshold:g} on character "
                f"{SHINGLE_SIZE}-shingles, {self.num_perm} permutations, {bands} bands of {rows} rows; "
                "each candidate confirmed by its exact Jaccard)")

    @property
    def clean(self) -> bool:
        return self.matches.empty

    @property
    def leaked(self) -> np.ndarray:
        """Boolean mask over the training rows: True where a row matches a protected row."""
        mask = np.zeros(self.n_train, dtype=bool)
        mask[self.matches["train_position"].to_numpy()] = True
        return mask

    @property
    def leaked_ids(self) -> list:
        """Ids of the training rows that match a protected row, in training order."""
        return list(dict.fromkeys(self.matches["train_id"]))

    @property
    def leaked_by_split(self) -> dict[str, int]:
        """Number of training rows matching each protected split (0 for a clean split)."""
        rows = self.matches.drop_duplicates(["train_position", "protected_split"])["protected_split"].value_counts()
        return {split: int(rows.get(split, 0)) for split in self.protected_sizes}

    def remove_leaked(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` (the training frame that was checked) without the leaked rows."""
        if len(df) != self.n_train:
            raise ValueError(f"this report checked {self.n_train} training rows; got a frame of {len(df)}")
        return df[~self.leaked]

    def enforce(self, *, what: str = "the training set") -> LeakageReport:
        """Return self if no protected row leaked, else raise :class:`LeakageError` naming the rows.

        ``what`` names the checked set in the message.
        """
        if not self.clean:
            raise LeakageError(self, what=what)
        return self

    def to_dict(self) -> dict:
        """JSON-safe record for a lineage manifest."""
        return json_safe({
            "clean": self.clean,
            "method": self.method,
            "normalization": NORMALIZATION,
            "near": self.near,
            "threshold": self.threshold if self.near else None,
            "num_perm": self.num_perm if self.near else None,
            "lsh_bands": self.lsh_bands,
            "n_train": self.n_train,
            "protected_sizes": self.protected_sizes,
            "n_leaked_train_rows": int(self.leaked.sum()),
            "leaked_by_split": self.leaked_by_split,
            "leaked_ids": self.leaked_ids,
            "matches": self.matches[["train_id", "protected_split", "protected_id", "kind", "similarity"]]
            .to_dict(orient="records"),
            "checked_at": self.checked_at,
        })


def _near_duplicate_pairs(train_norm: pd.Series, protected_norm: pd.Series, threshold: float, num_perm: int,
                          bands: int, rows: int, progress_bar: bool, band_keys: BandKeys | None = None) -> pd.DataFrame:
    """``i`` (train position), ``j`` (protected position), ``jaccard`` for every pair of non-empty
    normalised texts whose shingle sets have Jaccard similarity >= threshold.

    MinHash LSH proposes candidates among the distinct texts of each side; the exact Jaccard
    of the shingle sets confirms them, so the LSH's false positives never reach the report.
    Train texts whose band keys ``band_keys`` holds (under the same LSH) need no signatures.
    """
    empty = pd.DataFrame({"i": np.empty(0, np.int64), "j": np.empty(0, np.int64), "jaccard": np.empty(0)})
    train_codes, train_unique = pd.factorize(train_norm.where(train_norm != ""))
    prot_codes, prot_unique = pd.factorize(protected_norm.where(protected_norm != ""))
    if not len(prot_unique) or not len(train_unique):
        return empty
    texts = prot_unique.tolist() + train_unique.tolist()  # tolist: iterating arrow strings one by one is slow
    keys = np.empty((len(texts), bands), dtype=np.uint64)
    known = np.zeros(len(texts), dtype=bool)
    if band_keys is not None and band_keys.lsh == (bands, rows, num_perm, SHINGLE_SIZE, MINHASH_SEED):
        # equal normalised texts have equal keys, so each distinct text's first row tells its keys
        text = band_keys.text_of_row[first_rows(train_codes)]
        position = len(prot_unique) + np.flatnonzero(text >= 0)
        keys[position], known[position] = band_keys.keys[text[text >= 0]], True
    missing = np.flatnonzero(~known)
    keys[missing] = minhash_band_keys([texts[i] for i in missing.tolist()], bands, rows, num_perm=num_perm,
                                      progress_bar=progress_bar)[0]
    keys, sizes = band_buckets(keys)
    members = pd.DataFrame({"bucket": np.repeat(np.arange(len(sizes)), sizes), "text": keys})
    is_prot = members["text"] < len(prot_unique)
    candidates = members[is_prot].merge(members[~is_prot], on="bucket", suffixes=("_p", "_t"))
    candidates = candidates[["text_p", "text_t"]].drop_duplicates()
    p, t = candidates["text_p"].to_numpy(), candidates["text_t"].to_numpy()
    jaccard = exact_jaccard(texts, p, t)
    confirmed = jaccard >= threshold
    if not confirmed.any():
        return empty
    found = pd.DataFrame({"train_text": t[confirmed] - len(prot_unique), "prot_text": p[confirmed],
                          "jaccard": jaccard[confirmed]})
    train_rows = pd.DataFrame({"i": np.arange(len(train_codes)), "train_text": train_codes})
    prot_rows = pd.DataFrame({"j": np.arange(len(prot_codes)), "prot_text": prot_codes})
    return found.merge(train_rows, on="train_text").merge(prot_rows, on="prot_text")[["i", "j", "jaccard"]]


def check_leakage(
    train: pd.DataFrame,
    protected: Mapping[str, pd.DataFrame] | Dataset,
    *,
    threshold: float = 0.7,
    near: bool = True,
    num_perm: int = NUM_PERM,
    progress_bar: bool | None = None,
    text_column: str = TEXT_COLUMN,
    id_column: str = ID_COLUMN,
    normalized: pd.Series | None = None,
    band_keys: BandKeys | None = None,
    rows: np.ndarray | None = None,
) -> LeakageReport:
    """Find protected rows (dev, valid, test, canary) in a training set.

    A training row leaks when its normalised text (:func:`workbench.curate.normalize_text`,
    the normalisation deduplication uses: case, whitespace, NFKC, invisible characters, HTML,
    URLs to their host, punctuation, emoji, reply prefixes, homoglyphs) equals a protected row's, or, with ``near``, when the Jaccard
    similarity of their character 5-shingle sets is at least ``threshold`` (MinHash LSH
    proposes candidates, the exact Jaccard confirms them). Empty texts are ignored: they
    carry nothing to leak. The report's ``method`` says which of these ran.

    Parameters
    ----------
    train : DataFrame
        Anything that will be trained on (pool, curated set, pseudo-labels).
    protected : dict of split name to DataFrame, or a Dataset
        The sacred rows. A :class:`~workbench.data.Dataset` contributes its
        ``PROTECTED_SPLITS`` (dev, valid, test, canary).
    threshold : float
        Shingle Jaccard similarity from which a near copy leaks (0.7: one word changed in a
        14-word comment gives about 0.79).
    near : bool
        Also look for near copies (otherwise exact matches of normalised text only).
    num_perm : int
        MinHash permutations of the near pass.
    progress_bar : bool or None
        Show a progress bar for the near pass; ``None`` shows one from
        ``PROGRESS_MIN_ROWS`` training rows.
    normalized : Series of str, optional
        ``train``'s texts already through :func:`~workbench.curate.normalize_text`, one per row in
        order, from a caller that has them (the pipeline's filter stage), so they are not
        normalised again.
    band_keys : BandKeys, optional
        LSH band keys of ``train``'s rows, one entry per row in order, as a near-duplicate pass
        over the same texts computed them (:attr:`workbench.curate.DuplicateClusters.band_keys`);
        rows that have keys under this check's LSH need no MinHash signatures.
    rows : array of int, optional
        Check only these rows of ``train`` (positions), as if ``train.iloc[rows]`` had been passed;
        ``normalized``, ``band_keys`` and the report then follow ``rows``. Only matched rows are read,
        so a caller holding the positions (the pipeline's filter steps) copies no table.

    Returns
    -------
    LeakageReport
        Call ``.enforce()`` to refuse a leaking set (raises :class:`LeakageError`
        naming the rows); ``.remove_leaked(train)`` drops them; ``.leaked`` is the mask.

    Examples
    --------
    >>> train = pd.DataFrame({"example_id": ["t1", "t2"], "text": ["Nice  SONG", "buy now"]})
    >>> test = pd.DataFrame({"example_id": ["x9"], "text": ["nice song"]})
    >>> report = check_leakage(train, {"test": test}, near=False)
    >>> report.leaked_ids, report.method
    (['t1'], 'exact match of normalised text')
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if isinstance(protected, Dataset):
        protected = {s: protected[s] for s in PROTECTED_SPLITS if s in protected.splits}
    if not protected:
        raise ValueError("no protected sets given")
    frames = {"train": train, **{f"protected split {name!r}": df for name, df in protected.items()}}
    for what, df in frames.items():
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"{what} must be a DataFrame, got {type(df).__name__}")
        if text_column not in df.columns:
            raise ValueError(f"{what} has no text column {text_column!r}; columns are {list(df.columns)}")

    def ids(df: pd.DataFrame) -> list:
        return df[id_column].tolist() if id_column in df.columns else df.index.tolist()

    prot = pd.concat(
        [pd.DataFrame({"split": name, "id": ids(df), "text": df[text_column].to_numpy()}) for name, df in protected.items()],
        ignore_index=True,
    )
    prot_norm = normalize_text(prot["text"])
    rows = np.arange(len(train)) if rows is None else np.asarray(rows, dtype=np.int64)
    n_train = len(rows)
    if normalized is None:
        train_norm = normalize_text(train[text_column].iloc[rows].reset_index(drop=True))
    elif len(normalized) != n_train:
        raise ValueError(f"normalized has {len(normalized)} texts but train has {n_train} rows to check")
    else:
        train_norm = normalized.reset_index(drop=True).astype(NORMALIZED_DTYPE)
    prot["normalized"] = prot_norm.to_numpy()

    # the training rows are many and the protected ones few: only rows whose text is a protected one
    # (a hashed lookup) are joined, and only matched rows' ids and texts are ever read
    prot_texts = prot[(prot_norm != "").to_numpy()].reset_index(names="j")
    same = np.flatnonzero(train_norm.isin(prot_texts["normalized"]).to_numpy())
    exact = pd.DataFrame({"i": same, "normalized": train_norm.iloc[same].to_numpy()}).merge(
        prot_texts[["j", "normalized"]], on="normalized")
    pairs = pd.DataFrame({"i": exact["i"], "j": exact["j"], "kind": "exact", "similarity": 1.0})
    bands = None
    if near:
        bands = lsh_bands(threshold, num_perm)
        show = progress_bar if progress_bar is not None else n_train >= PROGRESS_MIN_ROWS
        if band_keys is not None and len(band_keys.text_of_row) != n_train:
            raise ValueError(f"band_keys has {len(band_keys.text_of_row)} rows but train has {n_train} rows to check")
        found = _near_duplicate_pairs(train_norm, prot_norm, threshold, num_perm, *bands, show, band_keys)
        found = found.merge(exact[["i", "j"]], on=["i", "j"], how="left", indicator=True)
        found = found[found["_merge"] == "left_only"]
        pairs = pd.concat([pairs, pd.DataFrame({"i": found["i"], "j": found["j"], "kind": "near",
                                                "similarity": found["jaccard"]})], ignore_index=True)
    pairs = pairs.sort_values(["i", "j"], kind="stable")
    i = pairs["i"].to_numpy(dtype=np.int64)
    t, p = train.iloc[rows[i]], prot.iloc[pairs["j"].to_numpy()]
    matches = pd.DataFrame({
        "train_row": t.index.to_numpy(),
        "train_position": i,
        "train_id": np.asarray(ids(t), dtype=object),
        "train_text": t[text_column].to_numpy(),
        "protected_split": p["split"].to_numpy(),
        "protected_id": p["id"].to_numpy(),
        "protected_text": p["text"].to_numpy(),
        "kind": pairs["kind"].to_numpy(dtype=object),
        "similarity": pairs["similarity"].to_numpy(dtype=float),
    })
    return LeakageReport(
        matches=matches,
        n_train=n_train,
        protected_sizes={name: len(df) for name, df in protected.items()},
        near=near,
        threshold=threshold,
        num_perm=num_perm,
        lsh_bands=bands,
    )
