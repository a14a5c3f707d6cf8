"""Peak memory of building and holding ``L`` for 1,000,000 rows x 50 LFs: ours (int8) vs Snorkel's path.

Each measurement runs in its own process, after the corpus is loaded: the peak resident memory
(``VmHWM``, reset through ``/proc/self/clear_refs``) minus the resident memory at the start, and
tracemalloc's peak (Python and NumPy allocations; it does not see pyarrow's buffers).

The 50 LFs are whole-word keyword LFs on the 50 most frequent words of the bundled comments.
Ours: ``apply_lfs(df, lfs)`` (without the LF-column cache, which would hold a copy of each
column). Snorkel's ``PandasLFApplier`` keeps one Python list of ``(LF index, label)`` tuples per
row, turns them into triplets and fills a dense int64 matrix. Running its 50 row-wise LFs on a
million rows would take the better part of an hour here, so at full size we feed it the same
votes through its own ``rows_to_triplets`` and ``_numpy_from_row_data`` (the memory that
matters), and check on ``$BENCH_SNORKEL_ROWS`` rows (default 20,000) that this replay peaks like
a real ``PandasLFApplier.apply``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np

from bench import bench_rows, comment_pool, comments_corpus, write_results

N_LFS = 50
MB = 2**20


def keyword_lfs(n: int = N_LFS) -> list:
    """Keyword LFs on the ``n`` most frequent words, each voting the class its word is most common in."""
    from workbench.labeling import keyword_lf

    pool = comment_pool()
    words = [set(re.findall(r"[a-z]{3,}", t.lower())) for t in pool["text"]]
    counts = Counter(w for ws in words for w in ws)
    lfs = []
    for word, _ in counts.most_common(n):
        labels = pool["label"].to_numpy()[[word in ws for ws in words]]
        lfs.append(keyword_lf(f"kw_{word}", [word], int(np.bincount(labels, minlength=2).argmax())))
    return lfs


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _measured(run) -> tuple[dict, np.ndarray]:
    """Run ``run()``; its peak memory above the memory in use when it started, and its ``L``."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # resets VmHWM (the peak) to the current resident size
    start = _status_kb("VmRSS")
    tracemalloc.start()
    result = run()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"peak_rss_mb": (_status_kb("VmHWM") - start) / 1024, "tracemalloc_peak_mb": traced_peak / MB,
            "L_dtype": str(result.dtype), "L_shape": list(result.shape), "L_mb": result.nbytes / MB}, result


def _snorkel_replay(L: np.ndarray, lfs: list) -> np.ndarray:
    """Snorkel's ``PandasLFApplier`` path from the per-row vote lists on, with Snorkel's own functions."""
    import pandas as pd
    from snorkel.labeling import LabelingFunction, PandasLFApplier
    from snorkel.labeling.apply.pandas import rows_to_triplets

    rows = []  # what ``df.apply(apply_lfs_to_data_point, axis=1)`` returns: (LF index, label) per vote
    for row in L:
        voted = np.flatnonzero(row >= 0)
        rows.append([(int(j), int(row[j])) for j in voted])
    labels = pd.Series(rows)
    applier = PandasLFApplier([LabelingFunction(lf.name, lambda x: -1) for lf in lfs])
    return applier._numpy_from_row_data(rows_to_triplets(labels))


def measure(case: str, n_rows: int, votes_path: str) -> dict:
    """One measurement (run in a fresh process by :func:`main`)."""
    from snorkel.labeling import PandasLFApplier

    from bench.bench_apply import snorkel_twin
    from workbench.labeling import apply_lfs

    df = comments_corpus(n_rows)
    lfs = keyword_lfs()
    if case == "ours":
        out, L = _measured(lambda: apply_lfs(df, lfs, cache=False, progress_bar=False, cardinality=2))
        np.save(votes_path, L)  # the votes the Snorkel replay starts from
        return out
    if case == "snorkel_replay":
        L = np.load(votes_path)
        return _measured(lambda: _snorkel_replay(L, lfs))[0]
    if case == "snorkel_applier":
        twins = [snorkel_twin(lf) for lf in lfs]
        out, L_snorkel = _measured(lambda: PandasLFApplier(twins).apply(df, progress_bar=False))
        out["same_L_as_ours"] = bool((L_snorkel == np.load(votes_path)).all())
        return out
    raise ValueError(f"unknown case {case!r}")


def _in_subprocess(case: str, n_rows: int, votes_path: str) -> dict:
    code = ("import json, sys; from bench.bench_memory import measure; "
            f"print(json.dumps(measure({case!r}, {n_rows}, {votes_path!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"memory case {case} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    n = bench_rows()
    n_small = min(n, int(os.environ.get("BENCH_SNORKEL_ROWS", 20_000)))
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for size, cases in ((n, ("ours", "snorkel_replay")), (n_small, ("ours", "snorkel_replay", "snorkel_applier"))):
            votes = os.path.join(tmp, f"L_{size}.npy")
            runs[size] = {case: _in_subprocess(case, size, votes) for case in cases}
    full, small = runs[n], runs[n_small]
    print(f"\nPeak memory above the loaded corpus, {N_LFS} keyword LFs ({n:,} rows; check on {n_small:,} rows)")
    print(f"{'path':40s} {'rows':>10s} {'peak RSS (MB)':>14s} {'tracemalloc (MB)':>17s} {'L (MB)':>8s}  dtype")
    for size, cases in ((n, full), (n_small, small)):
        for case, r in cases.items():
            print(f"{case:40s} {size:10,d} {r['peak_rss_mb']:14.1f} {r['tracemalloc_peak_mb']:17.1f} {r['L_mb']:8.1f}  {r['L_dtype']}")
    ratio_full = full["snorkel_replay"]["peak_rss_mb"] / max(full["ours"]["peak_rss_mb"], 1e-9)
    replay_vs_real = small["snorkel_replay"]["peak_rss_mb"] / max(small["snorkel_applier"]["peak_rss_mb"], 1e-9)
    print(f"\nSnorkel's path needs {ratio_full:.1f}x our peak memory on {n:,} rows x {N_LFS} LFs; holding L takes "
          f"{full['snorkel_replay']['L_mb']:.0f} MB ({full['snorkel_replay']['L_dtype']}) vs "
          f"{full['ours']['L_mb']:.0f} MB ({full['ours']['L_dtype']}).")
    print(f"Replay check on {n_small:,} rows: the replay peaks at {replay_vs_real:.2f}x the real PandasLFApplier.apply "
          f"(whose L equals ours: {small['snorkel_applier']['same_L_as_ours']}).")
    write_results("memory", {"rows": n, "n_lfs": N_LFS, "full": full, "check_rows": n_small, "check": small,
                             "snorkel_over_ours_peak_rss": ratio_full, "replay_over_real_applier_peak_rss": replay_vs_real})


if __name__ == "__main__":
    main()
