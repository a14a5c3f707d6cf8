"""The leakage check: protected rows (dev/valid/test/canary) found in a training set, exactly or nearly."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from workbench._internal.progress import PROGRESS_MIN_ROWS
from workbench.data._dataset import (
    ID_COLUMN,
    PROTECTED_SPLITS,
    TEXT_COLUMN,
    Dataset,
)

# --------------------------------------------------------------------------- the sacred set

# Zero-width and direction marks (the YouTube data ends most comments with U+FEFF):
# invisible, so two texts that differ only by them are the same text.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"\s+")


def normalize_text(text: Any) -> str:
    """Text as compared by the leakage check: NFKC, invisible marks removed, lowercased, whitespace collapsed, stripped.

    Examples
    --------
    >>> normalize_text("  Check  OUT\\tmy channel\\ufeff ")
    'check out my channel'
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    text = unicodedata.normalize("NFKC", str(text))
    return _SPACES.sub(" ", _INVISIBLE.sub("", text).lower()).strip()


def content_hash(texts: Iterable[Any]) -> np.ndarray:
    """SHA-256 (hex) of each normalised text; equal hashes mean the same text up to case and spacing.

    Examples
    --------
    >>> a, b = content_hash(["Hello  World", "hello world"])
    >>> a == b
    True
    """
    return np.array([hashlib.sha256(normalize_text(t).encode("utf-8")).hexdigest() for t in texts], dtype=object)


class LeakageError(RuntimeError):
    """A training set contains protected rows; the message names them."""

    def __init__(self, report: "LeakageReport", limit: int = 10):
        self.report = report
        m = report.matches
        lines = []
        for train_id, rows in list(m.groupby("train_id", sort=False))[:limit]:
            found = [f"{r.protected_split} {r.protected_id!r}" + ("" if r.kind == "exact" else f" (near, {r.similarity:.2f})")
                     for r in rows.itertuples()]
            shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
            lines.append(f"  train row {train_id!r} {rows['train_text'].iloc[0][:50]!r} matches {shown}")
        n_rows = m["train_id"].nunique()
        more = f"\n  ... and {n_rows - limit} more training rows" if n_rows > limit else ""
        super().__init__(
            f"training set contains {n_rows} rows matching protected rows "
            f"({int((m['kind'] == 'exact').sum())} exact and {int((m['kind'] == 'near').sum())} near-duplicate "
            "matches); remove them (LeakageReport.remove_leaked) before training or export:\n"
            + "\n".join(lines) + more
        )


@dataclass
class LeakageReport:
    """Protected rows found in a training set (see :func:`check_leakage`).

    ``matches`` has one row per (training row, protected row) pair: ``train_row``
    (the training DataFrame's index label), ``train_position`` (its position),
    ``train_id``, ``train_text``,
    ``protected_split``, ``protected_id``, ``protected_text``, ``kind``
    (``"exact"`` or ``"near"``) and ``similarity`` (estimated Jaccard of character
    shingles, 1.0 for exact matches).
    """

    matches: pd.DataFrame
    n_train: int
    protected_sizes: dict[str, int]
    near_duplicates: bool
    threshold: float
    checked_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def clean(self) -> bool:
        return self.matches.empty

    @property
    def leaked_ids(self) -> list[str]:
        """Ids of the training rows that match a protected row, in training order."""
        return list(dict.fromkeys(self.matches["train_id"]))

    def remove_leaked(self, train: pd.DataFrame) -> pd.DataFrame:
        """``train`` (the frame that was checked) without the leaked rows."""
        if len(train) != self.n_train:
            raise ValueError(f"this report checked {self.n_train} training rows; got a frame of {len(train)}")
        keep = np.ones(len(train), dtype=bool)
        keep[self.matches["train_position"].to_numpy()] = False
        return train[keep]

    def enforce(self) -> "LeakageReport":
        """Return self if no protected row leaked, else raise :class:`LeakageError` naming the rows."""
        if not self.clean:
            raise LeakageError(self)
        return self

    def to_dict(self) -> dict:
        return {
            "clean": self.clean,
            "n_train": self.n_train,
            "protected_sizes": dict(self.protected_sizes),
            "method": {
                "exact": "sha256 of NFKC text, invisible marks removed, lowercased, whitespace collapsed",
                "near": f"MinHash LSH on character {_SHINGLE}-grams, Jaccard >= {self.threshold}"
                if self.near_duplicates else None,
            },
            "n_leaked_train_rows": len(self.leaked_ids),
            "matches": self.matches[["train_id", "protected_split", "protected_id", "kind", "similarity"]]
            .astype({"train_id": str, "protected_id": str, "similarity": float})
            .to_dict(orient="records"),
            "checked_at": self.checked_at,
        }


_SHINGLE = 5


def _shingles(text: str) -> set[bytes]:
    if len(text) <= _SHINGLE:
        return {text.encode("utf-8")}
    return {text[i : i + _SHINGLE].encode("utf-8") for i in range(len(text) - _SHINGLE + 1)}


def _near_duplicate_pairs(train_texts: list[str], protected_texts: list[str], threshold: float, num_perm: int,
                          progress: bool):
    """(train position, protected position, Jaccard) pairs with shingle Jaccard >= threshold.

    MinHash LSH proposes candidates: :func:`workbench.curate.minhash_signatures` and
    :func:`workbench.curate.lsh_buckets` with the bands datasketch's ``MinHashLSH`` picks for
    ``threshold``, over the distinct non-empty texts of each side; the exact Jaccard of the
    shingle sets confirms them, so the LSH's false positives never reach the report.
    """
    from datasketch import MinHashLSH

    from workbench.curate._dedupe import lsh_buckets, minhash_signatures

    train_codes, train_unique = pd.factorize(pd.Series(train_texts, dtype=object))
    prot_codes, prot_unique = pd.factorize(pd.Series(protected_texts, dtype=object))
    texts = [*prot_unique, *train_unique]
    if not len(prot_unique) or not len(train_unique):
        return
    signatures = minhash_signatures(texts, shingle_size=_SHINGLE, num_perm=num_perm, progress=progress)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)  # for its choice of bands
    keys, sizes = lsh_buckets(signatures, lsh.b, lsh.r)
    members = pd.DataFrame({"bucket": np.repeat(np.arange(len(sizes)), sizes), "text": keys})
    is_prot = members["text"] < len(prot_unique)
    candidates = members[is_prot].merge(members[~is_prot], on="bucket", suffixes=("_p", "_t"))
    candidates = candidates[["text_p", "text_t"]].drop_duplicates()
    shingle_sets: dict[int, set[bytes]] = {}
    confirmed = []
    for j, t in zip(candidates["text_p"].to_numpy(), candidates["text_t"].to_numpy()):
        if texts[j] == "" or texts[t] == "":
            continue
        a = shingle_sets.setdefault(j, _shingles(texts[j]))
        b = shingle_sets.setdefault(t, _shingles(texts[t]))
        jac = len(a & b) / len(a | b)
        if jac >= threshold:
            confirmed.append((t - len(prot_unique), j, jac))
    if not confirmed:
        return
    found = pd.DataFrame(confirmed, columns=["train_text", "prot_text", "jaccard"])
    train_rows = pd.DataFrame({"i": np.arange(len(train_codes)), "train_text": train_codes})
    prot_rows = pd.DataFrame({"j": np.arange(len(prot_codes)), "prot_text": prot_codes})
    rows = found.merge(train_rows, on="train_text").merge(prot_rows, on="prot_text")
    yield from zip(rows["i"].tolist(), rows["j"].tolist(), rows["jaccard"].tolist())


def check_leakage(
    train: pd.DataFrame,
    protected: Mapping[str, pd.DataFrame] | Dataset,
    *,
    near_duplicates: bool = True,
    threshold: float = 0.8,
    num_perm: int = 128,
    text_column: str = TEXT_COLUMN,
    id_column: str = ID_COLUMN,
    progress: bool | None = None,
) -> LeakageReport:
    """Find protected rows (dev, valid, test, canary) in a training set.

    A training row leaks when its normalised text (:func:`normalize_text`) hashes
    the same as a protected row's, or, with ``near_duplicates``, when the Jaccard
    similarity of their character 5-gram sets is at least ``threshold`` (MinHash
    LSH from ``datasketch`` finds candidates, exact Jaccard confirms them). Empty
    texts are ignored.

    Parameters
    ----------
    train : DataFrame
        Anything that will be trained on (pool, curated set, pseudo-labels).
    protected : dict of split name to DataFrame, or a Dataset
        The sacred rows. A :class:`~workbench.data.Dataset` contributes its
        ``PROTECTED_SPLITS`` (dev, valid, test, canary).
    progress : bool or None
        Show a progress bar for the near-duplicate pass; ``None`` shows one from
        50,000 training rows.

    Returns
    -------
    LeakageReport
        Call ``.enforce()`` to refuse a leaking set (raises :class:`LeakageError`
        naming the rows); ``.remove_leaked(train)`` drops them.

    Examples
    --------
    >>> train = pd.DataFrame({"example_id": ["t1", "t2"], "text": ["Nice  SONG", "buy now"]})
    >>> test = pd.DataFrame({"example_id": ["x9"], "text": ["nice song"]})
    >>> check_leakage(train, {"test": test}).leaked_ids
    ['t1']
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
    prot["norm"] = [normalize_text(t) for t in prot["text"]]
    prot["hash"] = content_hash(prot["text"])
    tr = pd.DataFrame({"row": train.index, "id": ids(train), "text": train[text_column].to_numpy()})
    tr["norm"] = [normalize_text(t) for t in tr["text"]]
    tr["hash"] = content_hash(tr["text"])

    exact = tr[tr["norm"] != ""].reset_index(names="i").merge(
        prot[prot["norm"] != ""].reset_index(names="j"), on="hash", suffixes=("_t", "_p"))
    pairs = [(i, j, "exact", 1.0) for i, j in zip(exact["i"], exact["j"])]
    if near_duplicates:
        seen = set(zip(exact["i"], exact["j"]))
        pairs += [(i, j, "near", s) for i, j, s in
                  _near_duplicate_pairs(tr["norm"].tolist(), prot["norm"].tolist(), threshold, num_perm,
                                        progress if progress is not None else len(tr) >= PROGRESS_MIN_ROWS)
                  if (i, j) not in seen]
    pairs.sort(key=lambda p: (p[0], p[1]))
    t, p = tr.iloc[[q[0] for q in pairs]], prot.iloc[[q[1] for q in pairs]]
    matches = pd.DataFrame({
        "train_row": t["row"].to_numpy(),
        "train_position": np.array([q[0] for q in pairs], dtype=np.int64),
        "train_id": t["id"].to_numpy(),
        "train_text": t["text"].to_numpy(),
        "protected_split": p["split"].to_numpy(),
        "protected_id": p["id"].to_numpy(),
        "protected_text": p["text"].to_numpy(),
        "kind": [q[2] for q in pairs],
        "similarity": np.array([q[3] for q in pairs], dtype=float),
    })
    return LeakageReport(
        matches=matches,
        n_train=len(train),
        protected_sizes={name: len(df) for name, df in protected.items()},
        near_duplicates=near_duplicates,
        threshold=threshold,
    )
