"""Benchmark: near-duplicate detection on 100,000 rows.

Rows are resampled from the bundled YouTube comments (all 1,956) with small random edits
(a few inserted, deleted or replaced characters, case flips, doubled spaces), so every
comment has dozens of near clones. We time :func:`workbench.curate.find_duplicates` on all
rows and, as the baseline measured in the same run, the plain datasketch pipeline
(``MinHash.bulk`` with its default SHA-1 hashing of each shingle, ``MinHashLSH`` insert and
a query per row, candidates checked with ``MinHash.jaccard``) on a subsample, then print
rows/s for both and the ratio. Both use the same normalisation, shingles, threshold and LSH
bands, and we report how well their clusters agree (adjusted Rand index) on the subsample.

Then the MinHash engines side by side on the same ``--engine-rows`` distinct normalised texts
(default 50,000; datasketch's pure-Python hashing makes 1M rows take many minutes on a shared
2-core box): workbench's (our numpy shingle hashes into ``rensa``'s ``RMinHash`` in bulk),
``rensa``'s ``RMinHash`` and ``CMinHash`` hashing the shingles themselves, and datasketch's
``MinHash.bulk`` (SHA-1; its ``LeanMinHash`` is a frozen copy of the same values, so it finds
the same pairs). Each engine's signatures go through the same LSH bands; a candidate pair is
found when its signature estimate reaches the threshold. Every pair any engine finds is then
checked by exact Jaccard, so each engine's precision (found pairs that are truly similar) and
recall (of the truly similar pairs any engine found) are printed in one table with its speed.

Run from the repository root::

    python bench/bench_dedupe.py            # 100,000 rows, baseline on 20,000
    python bench/bench_dedupe.py --rows 20000 --baseline-rows 5000
    python -m bench dedupe                  # with the other benchmarks' runner ($BENCH_ROWS if set)

Results go to ``bench/results/dedupe.json`` (and ``history.jsonl``), written by
:func:`bench.write_results`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import datasketch
import numpy as np
import pandas as pd
from datasketch import MinHash, MinHashLSH
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.metrics import adjusted_rand_score
from tqdm.auto import tqdm

from bench import comment_pool, ratio, resample_index, stopwatch, write_results
from workbench.curate import find_duplicates, normalize_text, shingles

DEFAULT_ROWS = 100_000
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz "))


def make_rows(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """``n`` comments resampled from the bundled data with 0-3 small random edits each;
    also returns each row's source comment index."""
    comments = comment_pool()["text"].tolist()
    source = resample_index(len(comments), n, seed)
    rng = np.random.default_rng(seed + 1)
    n_edits = rng.choice(4, size=n, p=[0.25, 0.35, 0.25, 0.15])
    rows = []
    for src, k in zip(source, n_edits):
        chars = list(comments[src])
        for _ in range(k):
            at = int(rng.integers(len(chars) + 1))
            op = rng.integers(5)
            if op == 0 or not chars:
                chars.insert(at, str(rng.choice(LETTERS)))
            elif at == len(chars):
                chars.pop()
            elif op == 1:
                del chars[at]
            elif op == 2:
                chars[at] = str(rng.choice(LETTERS))
            elif op == 3:
                chars[at] = chars[at].swapcase()
            else:
                chars.insert(at, " ")
        rows.append("".join(chars))
    return rows, source


def datasketch_baseline(texts: list[str], threshold: float, num_perm: int, shingle_size: int, weights) -> np.ndarray:
    """The plain datasketch way; returns a cluster label per row."""
    normalized = normalize_text(texts)
    codes, unique = pd.factorize(normalized)
    sets = [[s.encode("utf-8") for s in set(shingles(t, shingle_size))] for t in unique]
    minhashes = MinHash.bulk(sets, num_perm=num_perm)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
    with lsh.insertion_session() as session:
        for key, m in enumerate(minhashes):
            session.insert(key, m, check_duplication=False)
    left, right = [], []
    for key, m in enumerate(tqdm(minhashes, desc="baseline queries", leave=False)):
        for other in lsh.query(m):
            if other > key and m.jaccard(minhashes[other]) >= threshold:
                left.append(key)
                right.append(other)
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(len(unique), len(unique)))
    return connected_components(graph, directed=False)[1][codes]


def engine_signatures(engine: str, texts: list[str], num_perm: int, shingle_size: int, seed: int = 1) -> np.ndarray:
    """uint32 signatures (n, num_perm) of ``texts`` (already normalised) by one MinHash engine."""
    from rensa import CMinHash, RMinHash

    from workbench._internal import text

    if engine == "workbench (rensa, numpy hashes)":
        return text.minhash_signatures(texts, shingle_size=shingle_size, num_perm=num_perm, random_state=seed,
                                       progress_bar=False)
    # rensa now runs in this process, which workbench's signatures must know: a worker they forked
    # afterwards would wait forever on rensa's threads
    text._RENSA_STARTED_HERE = True
    token_sets = [shingles(t, shingle_size) for t in texts]
    if engine == "rensa RMinHash":
        return np.asarray(RMinHash.digest_matrix_from_token_sets(token_sets, num_perm, seed).to_rows(), dtype=np.uint32)
    if engine == "rensa CMinHash":
        return np.asarray(CMinHash.digests_from_token_sets(token_sets, num_perm, seed), dtype=np.uint32)
    if engine == "datasketch MinHash.bulk (SHA-1)":
        minhashes = MinHash.bulk([[t.encode("utf-8") for t in set(ts)] for ts in token_sets], num_perm=num_perm, seed=seed)
        return np.array([m.hashvalues for m in minhashes], dtype=np.uint32)  # values < 2**32 by construction
    raise ValueError(engine)


ENGINES = ("workbench (rensa, numpy hashes)", "rensa RMinHash", "rensa CMinHash", "datasketch MinHash.bulk (SHA-1)")


def found_pairs(signatures: np.ndarray, threshold: float, bands: int, rows: int) -> set[tuple[int, int]]:
    """Pairs sharing an LSH bucket whose signature estimate of Jaccard reaches ``threshold``."""
    from workbench._internal.text import lsh_buckets

    keys, sizes = lsh_buckets(signatures, bands, rows)
    candidates = set()
    for bucket in np.split(keys, np.cumsum(sizes)[:-1]):
        members = bucket.tolist()
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                candidates.add((a, b) if a < b else (b, a))
    if not candidates:
        return set()
    pairs = np.array(sorted(candidates))
    estimate = (signatures[pairs[:, 0]] == signatures[pairs[:, 1]]).mean(axis=1)
    return {tuple(p) for p in pairs[estimate >= threshold].tolist()}


def compare_engines(rows: list[str], threshold: float, num_perm: int, shingle_size: int, bands: int,
                    band_rows: int) -> dict:
    """Speed and found pairs of every engine on the same distinct normalised texts; exact Jaccard as the judge."""
    from workbench._internal.text import exact_jaccard

    texts = list(pd.unique(normalize_text(rows)))
    results, found = {}, {}
    for engine in ENGINES:
        with stopwatch() as t:
            signatures = engine_signatures(engine, texts, num_perm, shingle_size)
        found[engine] = found_pairs(signatures, threshold, bands, band_rows)
        results[engine] = {"seconds": t["seconds"], "texts_per_second": len(texts) / t["seconds"],
                           "signature_bytes": signatures.nbytes, "pairs_found": len(found[engine])}
    union = np.array(sorted(set().union(*found.values())) or [(0, 0)][:0]).reshape(-1, 2)
    exact = exact_jaccard(texts, union[:, 0], union[:, 1], shingle_size=shingle_size) if len(union) else np.array([])
    true_pairs = {tuple(p) for p in union[exact >= threshold].tolist()}
    for engine, pairs in found.items():
        hits = len(pairs & true_pairs)
        results[engine].update(precision=hits / len(pairs) if pairs else 1.0,
                               recall=hits / len(true_pairs) if true_pairs else 1.0)
    return {"texts": len(texts), "true_pairs": len(true_pairs), "pairs_checked": len(union), "engines": results}


def clone_recall(cluster: np.ndarray, source: np.ndarray) -> float:
    """Share of rows that sit in the same cluster as the most common cluster of their source."""
    frame = pd.DataFrame({"cluster": cluster, "source": source})
    modal = frame.groupby("source")["cluster"].agg(lambda c: c.value_counts().index[0])
    return float((frame["cluster"].to_numpy() == modal.reindex(frame["source"]).to_numpy()).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_ROWS", DEFAULT_ROWS)))
    parser.add_argument("--baseline-rows", type=int, default=20_000)
    parser.add_argument("--threshold", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine-rows", type=int, default=50_000, help="rows for the MinHash engines' comparison")
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])

    rows, source = make_rows(args.rows, args.seed)
    print(f"{len(rows):,} rows resampled from the bundled comments with small random edits")

    with stopwatch() as ours:
        clusters = find_duplicates(rows, threshold=args.threshold)
    rate = len(rows) / ours["seconds"]
    print(f"workbench find_duplicates: {ours['seconds']:.2f} s, {rate:,.0f} rows/s; {clusters}")

    # the baseline and ours again on the same subsample, so the ratio compares like with like
    n_sub = min(args.baseline_rows, len(rows))
    params = clusters.params
    with stopwatch() as theirs:
        baseline = datasketch_baseline(rows[:n_sub], args.threshold, params["num_perm"], params["shingle_size"], tuple(params["lsh_weights"]))
    with stopwatch() as ours_sub:
        ours_on_sub = find_duplicates(rows[:n_sub], threshold=args.threshold).cluster
    speedup = ratio(theirs["seconds"], ours_sub["seconds"])
    agreement = adjusted_rand_score(baseline, ours_on_sub)
    recall_sub = {"baseline": clone_recall(baseline, source[:n_sub]), "workbench": clone_recall(ours_on_sub, source[:n_sub])}
    print(f"on the first {n_sub:,} rows: datasketch baseline {theirs['seconds']:.2f} s ({n_sub / theirs['seconds']:,.0f} rows/s), "
          f"workbench {ours_sub['seconds']:.2f} s ({n_sub / ours_sub['seconds']:,.0f} rows/s): {speedup:.1f}x faster")
    print(f"clusters agree with the baseline's (adjusted Rand index) {agreement:.3f}; rows grouped with their source: "
          f"baseline {recall_sub['baseline']:.1%}, workbench {recall_sub['workbench']:.1%}")

    recall = clone_recall(clusters.cluster, source)
    print(f"rows grouped with their source's main cluster: {recall:.1%}; clusters of 2+: {clusters.n_clusters:,}; "
          f"rows dedupe would remove: {clusters.n_redundant:,}")

    from workbench._internal.text import lsh_bands

    n_engine = min(args.engine_rows, len(rows))
    bands, band_rows = lsh_bands(args.threshold, params["num_perm"], tuple(params["lsh_weights"]))
    engines = compare_engines(rows[:n_engine], args.threshold, params["num_perm"], params["shingle_size"], bands, band_rows)
    print(f"\nMinHash engines on the same {engines['texts']:,} distinct normalised texts (of the first {n_engine:,} rows), "
          f"{params['num_perm']} permutations, {bands} bands of {band_rows}; {engines['true_pairs']:,} pairs with exact "
          f"Jaccard >= {args.threshold} among the {engines['pairs_checked']:,} any engine found:")
    print(f"{'engine':34s} {'seconds':>8s} {'texts/s':>10s} {'MB':>6s} {'pairs':>9s} {'precision':>10s} {'recall':>7s}")
    for engine, r in engines["engines"].items():
        print(f"{engine:34s} {r['seconds']:8.2f} {r['texts_per_second']:10,.0f} {r['signature_bytes'] / 2**20:6.1f} "
              f"{r['pairs_found']:9,} {r['precision']:10.4f} {r['recall']:7.4f}")
    print("(times under the load of a shared machine; ratios within this run compare like with like)")

    write_results("dedupe", {
        "engines": engines,
        "rows": len(rows),
        "datasketch": datasketch.__version__,
        "params": params,
        "workbench": {"seconds": ours["seconds"], "rows_per_second": rate, "n_clusters": clusters.n_clusters,
                      "n_redundant": clusters.n_redundant, "clone_recall": recall},
        "subsample": {
            "rows": n_sub,
            "baseline": {"method": "datasketch MinHash.bulk (SHA-1) + MinHashLSH query per row", "seconds": theirs["seconds"],
                         "rows_per_second": n_sub / theirs["seconds"], "clone_recall": recall_sub["baseline"]},
            "workbench": {"seconds": ours_sub["seconds"], "rows_per_second": n_sub / ours_sub["seconds"],
                          "clone_recall": recall_sub["workbench"]},
            "speedup": speedup,
            "adjusted_rand_vs_baseline": agreement,
        },
    })


if __name__ == "__main__":
    main()
