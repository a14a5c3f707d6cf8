"""Exact and near duplicates (workbench.curate._dedupe)."""

import numpy as np
import pandas as pd
import pytest

from workbench.curate import (
    EXACT_DUPLICATE,
    NEAR_DUPLICATE,
    drop_duplicates,
    find_duplicates,
    normalize_text,
)


def planted_corpus(rng, n_groups=60):
    """Distinct random 20-word sentences, each with exact variants (case, spacing, the same
    link with another referral code), a link variant and two one-character near clones."""
    words = np.array("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
                     "november oscar papa quebec romeo sierra tango uniform victor whiskey xray".split())
    texts, group, kind = [], [], []
    for g in range(n_groups):
        base = " ".join(rng.choice(words, 20))
        variants = [(base, "base"), (base.upper(), "exact"), ("  " + base.replace(" ", "   "), "exact"),
                    (base + " http://spam.example/" + str(g), "base_url"), (base + " https://www.spam.example/?ref=" + str(g + 1), "exact_url")]
        for _ in range(2):
            pos = rng.integers(len(base))
            variants.append((base[:pos] + "z" + base[pos + 1:], "near"))
        for text, k in variants:
            texts.append(text)
            group.append(g)
            kind.append(k)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], np.array(group)[order], np.array(kind)[order]


def test_find_duplicates_recovers_planted_clusters():
    texts, group, kind = planted_corpus(np.random.default_rng(0))
    clusters = find_duplicates(texts, ids=[f"id{i}" for i in range(len(texts))])
    # every planted group is one cluster and no cluster mixes groups
    assert pd.crosstab(clusters.cluster, group).gt(0).sum(axis=1).max() == 1
    assert pd.crosstab(group, clusters.cluster).gt(0).sum(axis=1).max() == 1
    assert clusters.n_clusters == 60 and clusters.n_redundant == len(texts) - 60
    # the two URL variants normalise to the same text, and so do case/whitespace variants
    exact = pd.Series(clusters.exact_group).groupby(group).nunique()
    assert (exact <= 4).all()  # base/upper/spaced, the two URL variants, up to two near clones
    frame = clusters.frame(texts)
    assert frame["cluster_size"].iloc[0] == 7 and set(frame.columns) >= {"cluster", "id", "text"}
    summary = clusters.summary(texts)
    assert len(summary) == 60 and (summary["size"] == 7).all()
    assert (summary["distinct"] >= 2).all() and summary["examples"].map(len).max() == 3


def test_find_duplicates_leaves_distinct_texts_alone():
    rng = np.random.default_rng(1)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz "))
    texts = ["".join(rng.choice(letters, 60)) for _ in range(300)]
    clusters = find_duplicates(texts)
    assert clusters.n_clusters == 0 and clusters.n_redundant == 0


def test_find_duplicates_takes_the_normalised_texts_alone():
    texts, _, _ = planted_corpus(np.random.default_rng(2), n_groups=20)
    from_texts = find_duplicates(texts)
    normalized = normalize_text(pd.Series(texts, index=np.arange(len(texts)) + 100))  # its index is not the rows'
    from_normalized = find_duplicates(normalized=normalized)
    assert np.array_equal(from_normalized.cluster, from_texts.cluster)
    assert np.array_equal(from_normalized.exact_group, from_texts.exact_group)
    with pytest.raises(TypeError, match="texts or their normalised form"):
        find_duplicates()
    with pytest.raises(ValueError, match="normalized has 3 texts but there are 2"):
        find_duplicates(["a", "b"], normalized=normalized[:3])


def test_drop_duplicates_keeps_the_highest_priority_representative():
    texts = ["Buy cheap followers now at my site", "buy cheap followers NOW at my site",
             "Buy cheap followers now at my sites", "I love this song so much", "Totally different words here"]
    clusters = find_duplicates(texts, ids=list("abcde"))
    step = drop_duplicates(clusters, priority=[0.6, 0.7, 0.9, 0.8, 0.5])
    assert step.kept_ids.tolist() == ["c", "d", "e"]
    assert dict(zip(step.ids, step.reasons)) == {"a": NEAR_DUPLICATE, "b": NEAR_DUPLICATE, "c": "", "d": "", "e": ""}
    assert step.details["representative"]["a"] == "c"
    step = drop_duplicates(clusters, priority=[0.9, 0.7, 0.6, 0.8, 0.5])
    assert dict(zip(step.ids, step.reasons))["b"] == EXACT_DUPLICATE
    assert dict(zip(step.ids, step.reasons))["c"] == NEAR_DUPLICATE
    # on a subset the representative is chosen among the subset's rows
    subset = drop_duplicates(clusters, ids=["b", "c", "d"], priority=[0.7, 0.6, 0.1])
    assert subset.kept_ids.tolist() == ["b", "d"]
    with pytest.raises(ValueError, match="not in the duplicate clusters"):
        drop_duplicates(clusters, ids=["zz"])


# --- diversity ----------------------------------------------------------------------------


def test_near_duplicate_clusters_on_the_bundled_data_are_those_of_exact_jaccard():
    # The MinHash engine only proposes candidates: every link is decided by the exact Jaccard of the
    # shingle sets when the estimate is near the threshold, so the clusters are the connected
    # components of the exact-Jaccard graph (all pairs, brute force here).
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from workbench import load_youtube_spam
    from workbench.curate import shingles

    ds = load_youtube_spam()
    texts = pd.concat([ds[s]["text"] for s in ds.splits], ignore_index=True)
    codes, unique = pd.factorize(normalize_text(texts))
    sets = [set(shingles(t)) for t in unique]
    left, right = [], []
    for i, a in enumerate(sets):
        for j in range(i + 1, len(sets)):
            shared = len(a & sets[j])
            if shared and shared / (len(a) + len(sets[j]) - shared) >= 0.8:
                left.append(i)
                right.append(j)
    m = len(sets)
    _, component = connected_components(coo_matrix((np.ones(len(left)), (left, right)), shape=(m, m)), directed=False)
    found = find_duplicates(texts, threshold=0.8).cluster
    pairs = pd.crosstab(found, component[codes]) > 0
    assert len(left) > 30  # the bundled data has many near copies (42 pairs of distinct normalised texts)
    assert (pairs.sum(axis=1) == 1).all() and (pairs.sum(axis=0) == 1).all()  # the same partition


def test_exact_checks_in_many_rounds_give_the_components_of_every_link(monkeypatch):
    import importlib
    from contextlib import contextmanager

    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from workbench.curate import shingles

    dedupe = importlib.import_module("workbench.curate._dedupe")  # the name `_dedupe` is shadowed by the function
    rng = np.random.default_rng(0)
    base = ["".join(rng.choice(list("abcdefgh "), 60)) for _ in range(4)]
    # variants of each base with a few letters replaced: many pairs near the threshold, linked in chains
    texts = [b[:k] + "".join(rng.choice(list("xyz"), 5)) + b[k + 5:] for b in base for k in rng.integers(0, 55, 15)]
    checked = []
    real = dedupe.jaccard_checker

    @contextmanager
    def counting(sets, **kwargs):
        with real(sets, **kwargs) as jaccard:
            yield lambda left, right: checked.append(len(left)) or jaccard(left, right)

    monkeypatch.setattr(dedupe, "jaccard_checker", counting)
    monkeypatch.setattr(dedupe, "CONFIRM_ROUND_PAIRS", 2)  # rounds of 2, 3, 4, 6, ... pairs
    found = find_duplicates(texts, threshold=0.7)
    codes, unique = pd.factorize(normalize_text(texts))
    sets = [set(shingles(t)) for t in unique]
    left, right = zip(*[(i, j) for i in range(len(sets)) for j in range(i + 1, len(sets))
                        if len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= 0.7])
    m = len(sets)
    _, component = connected_components(coo_matrix((np.ones(len(left)), (left, right)), shape=(m, m)), directed=False)
    assert len(checked) > 5 and checked[:3] == [2, 3, 4]
    pairs = pd.crosstab(found.cluster, component[codes]) > 0
    assert (pairs.sum(axis=1) == 1).all() and (pairs.sum(axis=0) == 1).all()  # the brute-force partition


@pytest.mark.parametrize("n_leaders", [1, 3])
def test_bucket_pairs_are_each_member_with_the_first_members_of_its_buckets_once(n_leaders):
    import importlib

    dedupe = importlib.import_module("workbench.curate._dedupe")
    rng = np.random.default_rng(n_leaders)
    buckets = [np.sort(rng.choice(30, size=rng.integers(2, 9), replace=False)) for _ in range(40)]  # pairs repeat
    keys, sizes = np.concatenate(buckets), np.array([len(b) for b in buckets])
    leaders, members = dedupe._bucket_pairs(keys, sizes, n_leaders=n_leaders, n_texts=30)
    expected = sorted({(int(b[q]), int(m)) for b in buckets for q in range(min(n_leaders, len(b)))
                       for m in b[q + 1:]})
    assert list(zip(leaders.tolist(), members.tolist())) == expected
    assert leaders.dtype == members.dtype == np.int32
    empty = dedupe._bucket_pairs(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), n_leaders=3, n_texts=1)
    assert [len(a) for a in empty] == [0, 0]
