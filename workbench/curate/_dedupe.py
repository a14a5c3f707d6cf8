"""Exact and near duplicates: normalised-text hashes and MinHash LSH clusters."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from tqdm.auto import tqdm

from workbench.curate._funnel import (
    EXACT_DUPLICATE,
    NEAR_DUPLICATE,
    FilterStep,
    _check_ids,
)

# ----------------------------------------------------------------------------------------
# Exact and near duplicates
# ----------------------------------------------------------------------------------------

_INVISIBLE = r"[\u00ad\u200b-\u200f\u2060\ufeff]"
_HTML_TAG = r"(?i)</?[a-z][^>]*>"
# A URL with a scheme or "www.", or a bare domain with a common top-level domain; group 1 or 2
# is the host, which is all normalisation keeps (paths and query strings carry referral codes).
_URL = (
    r"(?:https?://(?:www\.)?|www\.)([^\s/?#]+)\S*"
    r"|\b((?:[\w-]+\.)+(?:com|net|org|io|ly|co|tv|me|info|biz|us|uk|de|ru|be))\b(?:[/?#]\S*)?"
)
_SHINGLE_BASE = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime, as a polynomial base
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


def normalize_text(texts) -> pd.Series:
    """Text as duplicate detection sees it: HTML entities decoded and tags (``<br />``) made
    spaces, NFKC, no invisible characters, lower case, every URL reduced to its host in angle
    brackets (``https://www.x.io/ref?id=7`` -> ``<x.io>``), runs of whitespace collapsed.

    Keeping the host but not the path makes the same link with different referral codes a
    duplicate, while comments linking to different sites stay apart.

    Examples
    --------
    >>> normalize_text(["Check  https://x.io/a?ref=1\\ufeff NOW<br />", "check x.io/b &nbsp;now"]).tolist()
    ['check <x.io> now', 'check <x.io> now']
    """
    # pandas' "str" dtype runs these regular expressions in pyarrow (RE2), not row by row
    s = pd.Series(list(texts) if not isinstance(texts, pd.Series) else texts.to_numpy(), dtype=object).astype(str).astype("str")
    s = s.str.replace(_HTML_TAG, " ", regex=True)
    entities = s.str.contains("&", regex=False)
    if entities.any():
        s[entities] = s[entities].map(html.unescape)
    s = s.str.normalize("NFKC").str.replace(_INVISIBLE, "", regex=True).str.lower()
    s = s.str.replace(_URL, r" <\1\2> ", regex=True)  # one of the two host groups is empty
    return s.str.replace(r"\s+", " ", regex=True).str.strip()


def shingle_hash(shingle: str) -> int:
    """The 32-bit hash of one character shingle used for MinHash signatures.

    A polynomial hash of the code points (64-bit, wrapping), folded to 32 bits.
    ``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)`` fed the same shingles
    gives exactly the signatures :func:`minhash_signatures` computes in bulk.
    """
    h = 0
    for ch in shingle:
        h = (h * int(_SHINGLE_BASE) + ord(ch)) & 0xFFFFFFFFFFFFFFFF
    return (h ^ (h >> 32)) & 0xFFFFFFFF


def shingles(text: str, size: int = 5) -> list[str]:
    """Character shingles of ``text``; a text shorter than ``size`` is padded with NULs."""
    text = text.ljust(size, "\0")
    return [text[i : i + size] for i in range(len(text) - size + 1)]


def minhash_signatures(texts: Sequence[str], *, shingle_size: int = 5, num_perm: int = 128, seed: int = 1, chunk_rows: int = 256,
                       progress: bool = True) -> np.ndarray:
    """MinHash signatures of character shingles, computed in bulk with numpy.

    Uses datasketch's ``affine32`` scheme (its permutations for ``num_perm`` and ``seed``,
    and its MurmurHash3 pre-mix) with :func:`shingle_hash` as the hash function, so every
    row equals ``datasketch.MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash)``
    updated with the text's shingles, only much faster: the shingles of all texts are hashed
    as one array and the permutations are applied a few hundred texts at a time.

    Returns
    -------
    ndarray of uint32, shape (n, num_perm)
    """
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    texts = [t.ljust(shingle_size, "\0") for t in texts]
    n = len(texts)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    text_start = np.cumsum(lengths) - lengths
    n_shingles = lengths - shingle_size + 1
    shingle_start = np.cumsum(n_shingles) - n_shingles
    positions = np.repeat(text_start - shingle_start, n_shingles) + np.arange(n_shingles.sum())
    h = np.zeros(len(positions), dtype=np.uint64)
    for offset in range(shingle_size):
        h = h * _SHINGLE_BASE + codes[positions + offset]
    hv = (h ^ (h >> np.uint64(32))).astype(np.uint32)
    s1, m1, s2, m2, s3 = _FMIX32
    hv ^= hv >> s1
    hv *= m1
    hv ^= hv >> s2
    hv *= m2
    hv ^= hv >> s3
    del h, positions, codes

    signatures = np.empty((n, num_perm), dtype=np.uint32)
    buffer = np.empty((0, num_perm), dtype=np.uint32)
    for first in tqdm(range(0, n, chunk_rows), desc="MinHash signatures", unit="chunk", leave=False, disable=not progress):
        last = min(first + chunk_rows, n)
        lo = shingle_start[first]
        hi = shingle_start[last] if last < n else len(hv)
        if len(buffer) < hi - lo:
            buffer = np.empty((hi - lo, num_perm), dtype=np.uint32)
        permuted = buffer[: hi - lo]
        np.multiply(hv[lo:hi, None], a[None, :], out=permuted)  # wraps mod 2**32, as datasketch's
        np.add(permuted, b[None, :], out=permuted)
        signatures[first:last] = np.minimum.reduceat(permuted, shingle_start[first:last] - lo, axis=0)
    return signatures


@dataclass(frozen=True, eq=False)
class DuplicateClusters:
    """Exact and near-duplicate clusters of a set of texts.

    Attributes
    ----------
    ids : ndarray
        Row ids.
    cluster : ndarray of int
        Cluster of each row, named by its first row's position (a row alone is its own
        cluster).
    exact_group : ndarray of int
        Group of rows with identical normalised text, named the same way.
    normalized : Series
        The normalised texts.
    params : dict
    """

    ids: np.ndarray
    cluster: np.ndarray
    exact_group: np.ndarray
    normalized: pd.Series
    params: dict

    @property
    def n_clusters(self) -> int:
        """Clusters with more than one row."""
        sizes = np.bincount(self.cluster)
        return int((sizes > 1).sum())

    @property
    def n_redundant(self) -> int:
        """Rows that deduplication would remove (all but one per cluster)."""
        return len(self.cluster) - len(np.unique(self.cluster))

    def frame(self, texts=None) -> pd.DataFrame:
        """Rows in clusters of two or more, largest clusters first, for inspection.

        Columns ``cluster, cluster_size, id, exact_group`` and ``text`` (the given texts, else
        the normalised ones).
        """
        sizes = np.bincount(self.cluster)[self.cluster]
        out = pd.DataFrame(
            {
                "cluster": self.cluster,
                "cluster_size": sizes,
                "id": self.ids,
                "exact_group": self.exact_group,
                "text": self.normalized.to_numpy() if texts is None else np.asarray(texts, dtype=object),
            }
        )
        out = out[out["cluster_size"] > 1]
        return out.sort_values(["cluster_size", "cluster", "exact_group"], ascending=[False, True, True], kind="stable").reset_index(drop=True)

    def summary(self, texts=None, examples: int = 3) -> pd.DataFrame:
        """One row per cluster of two or more, largest first: ``cluster, size, distinct``
        (distinct normalised texts) and up to ``examples`` distinct example texts."""
        frame = self.frame(texts)
        frame["normalized"] = self.normalized.to_numpy()[pd.Index(self.ids).get_indexer(frame["id"])]
        firsts = frame.drop_duplicates(["cluster", "normalized"])
        out = frame.groupby("cluster", sort=False).agg(size=("id", "size"))
        out["distinct"] = firsts.groupby("cluster", sort=False).size()
        out["examples"] = firsts.groupby("cluster", sort=False)["text"].agg(lambda t: list(t)[:examples])
        return out.reset_index()

    def __repr__(self) -> str:
        return f"DuplicateClusters({len(self.ids)} rows, {self.n_clusters} clusters, {self.n_redundant} redundant rows)"


def _first_position(labels: np.ndarray) -> np.ndarray:
    """Rename group labels to the position of each group's first member."""
    first = pd.Series(np.arange(len(labels))).groupby(labels).transform("min")
    return first.to_numpy()


def find_duplicates(
    texts,
    *,
    ids=None,
    threshold: float = 0.7,
    shingle_size: int = 5,
    num_perm: int = 128,
    seed: int = 1,
    lsh_weights: tuple[float, float] = (0.1, 0.9),
) -> DuplicateClusters:
    """Cluster exact duplicates (after :func:`normalize_text`) and near clones.

    1. Exact pass: rows with the same normalised text form a group.
    2. Near pass, on one text per group: MinHash signatures of character shingles
       (:func:`minhash_signatures`) are banded as in datasketch's ``MinHashLSH`` tuned for
       ``threshold`` (:func:`lsh_buckets`); within each bucket every member is compared with
       the bucket's first three members, and pairs whose estimated Jaccard similarity
       reaches ``threshold`` are linked. Clusters are the connected components of these links.

    The LSH bands are chosen by datasketch for ``threshold`` with ``lsh_weights``
    (false-positive weight, false-negative weight). The default favours recall: with 128
    permutations it gives 20 bands of 6 rows, which misses a pair at Jaccard 0.7 with
    probability 0.08 and at 0.8 with 0.002 (datasketch's even weights miss 0.56 and 0.13);
    the extra candidates cost little because every candidate pair is checked on its
    signatures.

    Comparing bucket members with a few leaders (not all pairs) keeps the work linear in the
    number of rows when thousands of clones share a bucket; a clone that none of them
    matches is usually linked through another band.

    Parameters
    ----------
    texts : sequence of str
    ids : array, optional
    threshold : float
        Jaccard similarity of shingle sets from which two texts count as near duplicates.
    shingle_size : int
        Characters per shingle.
    num_perm : int
        MinHash permutations.
    seed : int
        MinHash seed.
    lsh_weights : (float, float)
        datasketch's weights of false positives and false negatives when it picks the bands.

    Examples
    --------
    >>> clusters = find_duplicates(["Check my channel please!", "check my  CHANNEL please!",
    ...                             "Check my channel please!!", "Nice song"])
    >>> clusters.cluster.tolist(), clusters.exact_group.tolist()
    ([0, 0, 0, 3], [0, 0, 2, 3])
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if shingle_size < 1 or num_perm < 2:
        raise ValueError(f"need shingle_size >= 1 and num_perm >= 2, got {shingle_size} and {num_perm}")
    normalized = normalize_text(texts)
    n = len(normalized)
    ids = _check_ids(ids, n, "texts")
    exact_codes, unique_texts = pd.factorize(normalized)
    exact_group = _first_position(exact_codes)
    params = {"threshold": threshold, "shingle_size": shingle_size, "num_perm": num_perm, "seed": seed, "lsh_weights": list(lsh_weights)}
    if len(unique_texts) < 2:
        return DuplicateClusters(ids, exact_group.copy(), exact_group, normalized, params)

    from datasketch import MinHashLSH

    signatures = minhash_signatures(list(unique_texts), shingle_size=shingle_size, num_perm=num_perm, seed=seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=lsh_weights)  # for its choice of bands
    keys, sizes = lsh_buckets(signatures, lsh.b, lsh.r)
    leaders, members = _bucket_pairs(keys, sizes, n_leaders=3)
    similar = np.zeros(len(leaders), dtype=bool)
    for lo in range(0, len(leaders), 65536):
        hi = lo + 65536
        agreement = (signatures[leaders[lo:hi]] == signatures[members[lo:hi]]).mean(axis=1)
        similar[lo:hi] = agreement >= threshold - 1e-12
    m = len(unique_texts)
    graph = coo_matrix((np.ones(similar.sum()), (leaders[similar], members[similar])), shape=(m, m))
    _, component = connected_components(graph, directed=False)
    cluster = _first_position(component[exact_codes])
    params["lsh_bands"], params["lsh_rows"] = int(lsh.b), int(lsh.r)
    return DuplicateClusters(ids, cluster, exact_group, normalized, params)


def lsh_buckets(signatures: np.ndarray, bands: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The buckets of a MinHash LSH index with ``bands`` bands of ``rows`` rows, in bulk.

    Two signatures share a bucket when they agree on every value of a band, exactly as
    in datasketch's ``MinHashLSH`` (whose buckets are keyed by the band's bytes); here each
    band is grouped with one ``np.unique`` over its bytes instead of a dictionary insert
    per row and band.

    Returns
    -------
    keys, sizes : ndarray of int
        The row positions of every bucket with two or more members, bucket after bucket
        (ascending within a bucket), and each bucket's size.
    """
    keys, sizes = [], []
    for band in range(bands):
        block = np.ascontiguousarray(signatures[:, band * rows : (band + 1) * rows])
        band_bytes = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
        _, bucket, counts = np.unique(band_bytes, return_inverse=True, return_counts=True)
        shared = counts[bucket] > 1
        order = np.argsort(bucket[shared], kind="stable")  # stable: members stay in row order
        keys.append(np.flatnonzero(shared)[order])
        sizes.append(counts[counts > 1])
    return np.concatenate(keys), np.concatenate(sizes)


def _bucket_pairs(keys: np.ndarray, sizes: np.ndarray, n_leaders: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs: each bucket member with the bucket's first ``n_leaders`` members."""
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    position = np.arange(len(keys)) - starts
    leaders, members = [], []
    for q in range(n_leaders):
        later = position > q
        leaders.append(keys[starts[later] + q])
        members.append(keys[later])
    return np.concatenate(leaders), np.concatenate(members)


def drop_duplicates(clusters: DuplicateClusters, *, ids=None, priority=None) -> FilterStep:
    """Keep one representative per duplicate cluster among the given rows.

    Parameters
    ----------
    clusters : DuplicateClusters
        From :func:`find_duplicates` on the whole pool (compute it once).
    ids : array, optional
        The rows to deduplicate (e.g. ``funnel.kept_ids``), a subset of ``clusters.ids``;
        default all of them.
    priority : array of float, optional
        Aligned with ``ids``: the representative is the row with the highest priority
        (e.g. label confidence), ties going to the earlier row; default the first row.

    Returns
    -------
    FilterStep
        Removed rows carry ``"exact_duplicate"`` (same normalised text as the representative)
        or ``"near_duplicate"``; ``details["representative"]`` maps each row to its
        representative's id.

    Examples
    --------
    >>> c = find_duplicates(["Buy now!", "buy now", "Hello there"])
    >>> drop_duplicates(c, priority=[0.6, 0.9, 0.7]).kept.tolist()
    [False, True, True]
    """
    position_of = pd.Series(np.arange(len(clusters.ids)), index=clusters.ids)
    if ids is None:
        ids = clusters.ids
    ids = np.asarray(ids)
    missing = ~pd.Index(ids).isin(position_of.index)
    if missing.any():
        raise ValueError(f"ids not in the duplicate clusters: {ids[missing][:5].tolist()}")
    positions = position_of.loc[ids].to_numpy()
    if priority is None:
        priority = np.zeros(len(ids))
    priority = np.asarray(priority, dtype=float)
    if priority.shape != (len(ids),):
        raise ValueError(f"priority must have one entry per row ({len(ids)}), got shape {priority.shape}")
    cluster = clusters.cluster[positions]
    order = np.lexsort((np.arange(len(ids)), -priority, cluster))
    first_of_cluster = np.ones(len(ids), dtype=bool)
    first_of_cluster[1:] = cluster[order][1:] != cluster[order][:-1]
    representative = np.empty(len(ids), dtype=np.int64)
    group_start = np.maximum.accumulate(np.where(first_of_cluster, np.arange(len(ids)), 0))
    representative[order] = order[group_start]
    is_rep = representative == np.arange(len(ids))
    same_text = clusters.exact_group[positions] == clusters.exact_group[positions[representative]]
    reasons = np.where(is_rep, "", np.where(same_text, EXACT_DUPLICATE, NEAR_DUPLICATE)).astype(object)
    return FilterStep.from_reasons(
        "dedupe",
        ids,
        reasons,
        params=dict(clusters.params),
        details={"representative": pd.Series(ids[representative], index=ids, name="representative")},
    )
