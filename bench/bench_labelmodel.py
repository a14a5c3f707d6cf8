"""Label model fit and predict time on 1,000,000 rows vs the number of LFs (5, 10, 20).

``L`` is the 20 LFs of ``bench_apply`` on the comments resampled as there (applied to each
distinct comment once, then indexed, which gives exactly the ``L`` of the million rows), and the
first 5, 10 or 20 of its columns. Models: our ``MajorityVote`` and ``SnorkelLabelModel`` (Snorkel's
``LabelModel``, ``$BENCH_EPOCHS`` epochs, default 100). Baseline for majority vote: Snorkel's
``MajorityLabelVoter.predict_proba`` (a Python loop over rows), timed on ``$BENCH_SNORKEL_ROWS``
rows (default 100,000) and extrapolated per row. Accuracy is against the comments' gold labels,
counting abstentions (no LF voted, or a tie) as errors.
"""

from __future__ import annotations

import os

import numpy as np
from snorkel.labeling.model import MajorityLabelVoter

from bench import (
    bench_rows,
    comment_pool,
    ratio,
    resample_index,
    stopwatch,
    write_results,
)
from bench.bench_apply import bench_lfs
from workbench.generate import MajorityVote, SnorkelLabelModel
from workbench.labeling import apply_lfs

LF_COUNTS = (5, 10, 20)


def timed_model(model, L: np.ndarray, Y: np.ndarray) -> dict:
    with stopwatch() as fit:
        model.fit(L)
    with stopwatch() as predict:
        proba = model.predict_proba(L)
    accuracy = float((model.predict(L) == Y).mean())
    return {"fit_seconds": fit["seconds"], "predict_proba_seconds": predict["seconds"], "accuracy": accuracy,
            "proba_shape": list(proba.shape)}


def main() -> None:
    n = bench_rows()
    n_snorkel = min(n, int(os.environ.get("BENCH_SNORKEL_ROWS", 100_000)))
    epochs = int(os.environ.get("BENCH_EPOCHS", 100))
    pool = comment_pool()
    lfs = bench_lfs()
    rows = resample_index(len(pool), n)
    L_all = apply_lfs(pool, lfs, cache=False, progress_bar=False)[rows]
    Y = pool["label"].to_numpy()[rows]
    print(f"{n:,} rows; Snorkel LabelModel with {epochs} epochs; Snorkel's MajorityLabelVoter timed on {n_snorkel:,} rows")

    results = {}
    for m in LF_COUNTS:
        L = L_all[:, :m]
        majority = timed_model(MajorityVote(), L, Y)
        with stopwatch() as theirs:
            MajorityLabelVoter(cardinality=2).predict_proba(L[:n_snorkel])
        majority["snorkel_majority_voter_predict_proba_seconds_extrapolated"] = theirs["seconds"] * n / n_snorkel
        majority["predict_proba_speedup_vs_snorkel_voter"] = ratio(theirs["seconds"] * n / n_snorkel, majority["predict_proba_seconds"])
        results[m] = {"majority_vote": majority, "snorkel_label_model": timed_model(SnorkelLabelModel(n_epochs=epochs), L, Y),
                      "coverage": float((L != -1).any(axis=1).mean())}

    print(f"\n{'LFs':>4s} {'model':22s} {'fit (s)':>8s} {'predict_proba (s)':>18s} {'accuracy':>9s}")
    for m, r in results.items():
        for name, key in (("majority vote", "majority_vote"), ("Snorkel LabelModel", "snorkel_label_model")):
            t = r[key]
            print(f"{m:4d} {name:22s} {t['fit_seconds']:8.2f} {t['predict_proba_seconds']:18.2f} {t['accuracy']:9.3f}")
        mv = r["majority_vote"]
        print(f"{'':4s} {'(Snorkel MajorityLabelVoter predict_proba, extrapolated)':58s} "
              f"{mv['snorkel_majority_voter_predict_proba_seconds_extrapolated']:.1f} s: ours "
              f"{mv['predict_proba_speedup_vs_snorkel_voter']:.0f}x faster")
    write_results("labelmodel", {"rows": n, "epochs": epochs, "snorkel_rows": n_snorkel,
                                 "by_lf_count": {str(m): r for m, r in results.items()}})


if __name__ == "__main__":
    main()
