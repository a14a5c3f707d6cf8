"""Exact and near duplicates: groups of equal normalised text and MinHash LSH clusters.

Texts, shingles, signatures and LSH buckets come from :mod:`workbench._internal.text`, the
one definition of "the same text" (the leakage check uses it too)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from workbench._internal.ids import id_index
from workbench._internal.text import (
    LSH_WEIGHTS,
    MINHASH_SEED,
    NUM_PERM,
    SHINGLE_SIZE,
    BandKeys,
    band_buckets,
    first_rows,
    jaccard_checker,
    lsh_bands,
    minhash_band_keys,
    normalize_text,
    pair_sets,
    signature_agreement,
    signature_decision,
    text_list,
)
from workbench.curate._funnel import (
    EXACT_DUPLICATE,
    NEAR_DUPLICATE,
    FilterStep,
    _check_ids,
)


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
    band_keys : BandKeys or None
        The LSH band keys of the rows, for a later check of the same rows (the leakage check
        reuses them rather than compute the MinHash signatures again); None when there were
        fewer than two distinct texts.
    """

    ids: np.ndarray
    cluster: np.ndarray
    exact_group: np.ndarray
    normalized: pd.Series
    params: dict
    band_keys: BandKeys | None = None

    @property
    def n_clusters(self) -> int:
        """Clusters with more than one row."""
        sizes = np.bincount(self.cluster)
        return int((sizes > 1).sum())

    @property
    def n_redundant(self) -> int:
        """Rows that deduplication would remove (all but one per cluster)."""
        return len(self.cluster) - int(np.count_nonzero(np.bincount(self.cluster)))

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
    """Rename group labels to the position of each group's first member.

    >>> _first_position(np.array([7, 3, 7, 5, 3])).tolist()
    [0, 1, 0, 3, 1]
    """
    codes = pd.factorize(labels)[0]
    return first_rows(codes)[codes]


def find_duplicates(
    texts=None,
    *,
    ids=None,
    threshold: float = 0.7,
    shingle_size: int = SHINGLE_SIZE,
    num_perm: int = NUM_PERM,
    random_state: int = MINHASH_SEED,
    lsh_weights: tuple[float, float] = LSH_WEIGHTS,
    progress_bar: bool | None = None,
    normalized: pd.Series | None = None,
) -> DuplicateClusters:
    """Cluster exact duplicates (after :func:`normalize_text`) and near clones.

    1. Exact pass: rows with the same normalised text form a group.
    2. Near pass, on one text per group: MinHash signatures of character shingles
       (:func:`~workbench._internal.text.minhash_signatures`) are banded as in datasketch's
       ``MinHashLSH`` tuned for ``threshold`` (:func:`~workbench._internal.text.lsh_buckets`); within each bucket every member is compared with
       the bucket's first three members, and pairs whose Jaccard similarity reaches
       ``threshold`` are linked. The signatures' estimate decides a pair only when it is far
       from the threshold (:data:`~workbench._internal.text.EXACT_CHECK_MARGIN`); the exact
       Jaccard of the shingle sets decides the rest, so the MinHash engine's hash family
       proposes candidates but decides nothing. Clusters are the connected components of the links.

    The LSH bands are chosen by datasketch for ``threshold`` with ``lsh_weights``
    (false-positive weight, false-negative weight; :func:`lsh_bands`). The default favours
    recall: the extra candidates cost little because every candidate pair is checked on its
    signatures.

    Normalisation, shingles, signatures and bands are those of the leakage check
    (:func:`workbench.evaluate.check_leakage`), so both agree on what a copy is.

    Comparing bucket members with a few leaders (not all pairs) keeps the work linear in the
    number of rows when thousands of clones share a bucket; a clone that none of them
    matches is usually linked through another band.

    Parameters
    ----------
    texts : sequence of str, optional
        The texts; not needed when ``normalized`` is given.
    ids : array, optional
    threshold : float
        Jaccard similarity of shingle sets from which two texts count as near duplicates.
    shingle_size : int
        Characters per shingle.
    num_perm : int
        MinHash permutations.
    random_state : int
        Seed of the MinHash permutations.
    lsh_weights : (float, float)
        datasketch's weights of false positives and false negatives when it picks the bands.
    progress_bar : bool or None
        Show a progress bar for the signatures; ``None`` shows one from
        ``PROGRESS_MIN_ROWS`` distinct texts.
    normalized : Series of str, optional
        The texts already through :func:`normalize_text`, from a caller that has them (the
        pipeline's filter steps), so they are not normalised again: the pass reads only these.

    Examples
    --------
    >>> clusters = find_duplicates(["Check my channel please!", "check my  CHANNEL please!",
    ...                             "Check my channel please, thanks!", "Nice song"])
    >>> clusters.cluster.tolist(), clusters.exact_group.tolist()
    ([0, 0, 0, 3], [0, 0, 2, 3])
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if shingle_size < 1 or num_perm < 2:
        raise ValueError(f"need shingle_size >= 1 and num_perm >= 2, got {shingle_size} and {num_perm}")
    if normalized is None:
        if texts is None:
            raise TypeError("find_duplicates needs the texts or their normalised form (normalized=)")
        normalized = normalize_text(texts)
    elif texts is not None and len(normalized) != len(texts):
        raise ValueError(f"normalized has {len(normalized)} texts but there are {len(texts)} texts")
    else:
        normalized = normalized.reset_index(drop=True)
    n = len(normalized)
    ids = _check_ids(ids, n, "texts")
    # Python strings first, then numbered: the distinct texts are those same strings (the rest of the pass reads
    # them as such), where numbering the arrow strings would copy them into new arrow and new Python strings
    exact_codes, unique_texts = pd.factorize(np.array(text_list(normalized), dtype=object))
    exact_group = _first_position(exact_codes)
    params = {"threshold": threshold, "shingle_size": shingle_size, "num_perm": num_perm, "random_state": random_state,
              "lsh_weights": list(lsh_weights)}
    if len(unique_texts) < 2:
        return DuplicateClusters(ids, exact_group.copy(), exact_group, normalized, params)

    unique_texts = unique_texts.tolist()
    bands, rows = lsh_bands(threshold, num_perm, tuple(lsh_weights))
    # the band keys and the agreement digests, not the signatures: half their memory, at the filter's peak
    keys, digests = minhash_band_keys(unique_texts, bands, rows, digests=True, shingle_size=shingle_size,
                                      num_perm=num_perm, random_state=random_state, progress_bar=progress_bar)
    band_keys = BandKeys(keys, exact_codes, (bands, rows, num_perm, shingle_size, int(random_state)))
    keys, sizes = band_buckets(band_keys.keys)
    m = len(unique_texts)
    leaders, members = _bucket_pairs(keys, sizes, n_leaders=3, n_texts=m)
    del keys
    agreement = signature_agreement(digests, leaders, members)
    del digests
    similar, unsure = signature_decision(agreement, threshold)
    unsure = unsure[np.argsort(-agreement[unsure], kind="stable")]  # the most similar first
    del agreement
    # built once for all rounds of checks
    sets, set_row = pair_sets(unique_texts, leaders[unsure], members[unsure], shingle_size=shingle_size)
    del unique_texts  # the checks read the sets: the texts (a million Python strings) are let go before them
    component = _confirm_links(sets, set_row, leaders, members, similar, unsure, threshold=threshold)
    cluster = _first_position(component[exact_codes])
    params["lsh_bands"], params["lsh_rows"] = bands, rows
    return DuplicateClusters(ids, cluster, exact_group, normalized, params, band_keys)


#: Unsure pairs checked in the first round of :func:`_confirm_links`; each round checks half as many more.
CONFIRM_ROUND_PAIRS = 65_536


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components of ``n`` nodes joined by the edges ``(left[i], right[i])``."""
    graph = sp.coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _confirm_links(sets: sp.csr_matrix, set_row: np.ndarray, leaders: np.ndarray, members: np.ndarray, linked: np.ndarray,
                   unsure: np.ndarray, *, threshold: float) -> np.ndarray:
    """Connected components of the pairs ``linked`` plus the ``unsure`` pairs (most similar first)
    whose exact Jaccard (of the texts' rows ``set_row`` in ``sets``,
    :func:`~workbench._internal.text.pair_sets`) reaches ``threshold``.

    Only the components matter, so an unsure pair whose texts are already connected is never
    checked: the unsure pairs go in rounds (``CONFIRM_ROUND_PAIRS``, half as many more each round),
    each checked only where it would join two components so far. The components are merged round by
    round (the graph of the components the round joined, not of every link so far), and the rounds
    share one set of worker processes (:func:`~workbench._internal.text.jaccard_checker`).
    """
    component = _components(len(set_row), leaders[linked], members[linked])
    batch = CONFIRM_ROUND_PAIRS
    with jaccard_checker(sets, n_pairs=len(unsure)) as jaccard:
        while len(unsure):
            unsure = unsure[component[leaders[unsure]] != component[members[unsure]]]
            check, unsure = unsure[:batch], unsure[batch:]
            if not len(check):
                break
            joined = check[jaccard(set_row[leaders[check]], set_row[members[check]]) >= threshold - 1e-12]
            component = _components(int(component.max()) + 1, component[leaders[joined]], component[members[joined]])[component]
            batch += batch // 2
    return component


def _bucket_pairs(keys: np.ndarray, sizes: np.ndarray, n_leaders: int, n_texts: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (leader, member): each bucket member with the bucket's first ``n_leaders``
    members, each pair once however many bands it shares (a leader comes before its members).

    Pairs are kept as one int64 code each (``leader * n_texts + member``) until they are unique:
    two arrays per leader round would take twice the memory, at the filter's peak.
    """
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    position = np.arange(len(keys)) - starts
    # every round's codes written into one array (a list of rounds concatenated would hold them twice)
    per_round = [int(np.maximum(sizes - 1 - q, 0).sum()) for q in range(n_leaders)]
    pair = np.empty(sum(per_round), dtype=np.int64)
    end = 0
    for q, count in enumerate(per_round):
        later = np.flatnonzero(position > q)
        code = pair[end : end + count]
        np.multiply(keys[starts[later] + q], n_texts, out=code, casting="unsafe")
        code += keys[later]
        end += count
        del later, code
    del starts, position
    pair.sort()
    pair = pair[np.r_[True, pair[1:] != pair[:-1]]] if len(pair) else pair  # numpy's hashed unique is slower here
    # positions as int32 below 2**31 texts: half the memory of the millions of pairs the filter holds at its peak
    position = np.int32 if n_texts < 2**31 else np.int64
    leaders, members = np.empty(len(pair), dtype=position), np.empty(len(pair), dtype=position)
    np.floor_divide(pair, n_texts, out=leaders, casting="unsafe")  # no int64 temporary of every pair
    np.remainder(pair, n_texts, out=members, casting="unsafe")
    return leaders, members


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
    if ids is None:
        ids = clusters.ids
    ids = np.asarray(ids)
    known = id_index(clusters.ids)
    if not known.is_unique:
        raise ValueError(f"the duplicate clusters' ids must be unique; repeated: {known[known.duplicated()][:5].tolist()}")
    positions = known.get_indexer(id_index(ids))
    missing = positions < 0
    if missing.any():
        raise ValueError(f"ids not in the duplicate clusters: {ids[missing][:5].tolist()}")
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
