"""Label models on a synthetic suite with known truth, plus the bundled data: accuracy, time, and ``auto``.

    python -m bench labelmodel            # the default suite (a few minutes on 2 shared cores)
    python -m bench.bench_labelmodel --full   # adds the million-row cases and Snorkel where it is slow

Each case draws gold labels and LF votes from fixed seeds (:func:`make_case`): accuracies and
coverages per LF, unipolar LFs (vote one class, as keyword LFs do) beside multi-class ones,
groups of LFs that copy one another, inverted LFs, class imbalance. Its rows are split into the
pool (the label models are fitted on it, with ``seed`` labeled rows as ``y``), a dev set (only
``auto`` reads it, to choose) and held-out test rows nobody sees. The bundled YouTube data is
the last case (pool, 60 seed labels, dev, test as in the pipeline).

Per model and case it prints test accuracy on the covered rows (a tie counts as the share of
tied classes that is right), F1 of the rare class for the imbalanced binary case, and fit +
predict seconds; per case the ratio of ``auto`` to the best single candidate; then the mean
over cases and the issue's targets, all measured in this run.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.metrics import f1_score

from bench import write_results
from workbench.generate import DEFAULT_CANDIDATES, AutoLabelModel, SnorkelLabelModel
from workbench.generate._select import SNORKEL_MAX_LF_CLASSES, expected_correct

ABSTAIN = -1


@dataclass(frozen=True)
class Case:
    name: str
    n: int
    m: int
    k: int
    seed: int
    balance: tuple | None = None          # class proportions (uniform if None)
    accuracy: tuple = (0.55, 0.9)          # LF accuracy range when it votes
    coverage: tuple = (0.05, 0.3)          # LF coverage range
    unipolar: float = 0.5                  # share of LFs that vote one class only
    groups: int = 0                        # groups of 4 LFs copying one parent's votes
    inverted: int = 0                      # LFs below chance
    n_seed: int = 100
    n_dev: int = 300
    n_test: int = 5000
    full_only: bool = False
    f1: bool = False                       # imbalanced binary: report the rare class's F1
    notes: dict = field(default_factory=dict)


CASES = [
    Case("binary, balanced", 10_000, 10, 2, 1),
    Case("binary, imbalanced 9:1", 10_000, 20, 2, 2, balance=(0.9, 0.1), f1=True),
    Case("binary, correlated groups", 10_000, 24, 2, 3, groups=4),
    Case("binary, inverted LFs", 10_000, 15, 2, 4, inverted=3),
    Case("binary, very low coverage", 20_000, 40, 2, 5, coverage=(0.003, 0.02)),
    Case("binary, very high coverage", 10_000, 10, 2, 6, coverage=(0.5, 0.9), accuracy=(0.55, 0.75)),
    Case("k=6", 10_000, 50, 6, 7),
    Case("k=9, 164 LFs, 2,000 rows", 2_000, 164, 9, 8, accuracy=(0.25, 0.6), coverage=(0.01, 0.08), n_seed=60,
         n_dev=200, n_test=2000),
    Case("binary, 200 LFs", 5_000, 200, 2, 9, coverage=(0.01, 0.1)),
    Case("k=6, 50,000 rows", 50_000, 20, 6, 10),
    Case("binary, 1,000,000 rows x 20 LFs", 1_000_000, 20, 2, 11, n_test=50_000),
    Case("k=9, 1,000,000 rows x 200 LFs", 1_000_000, 200, 9, 12, n_test=50_000, coverage=(0.01, 0.05), full_only=True),
]


def make_case(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """Gold labels ``Y`` and votes ``L`` for ``case`` (n + seed + dev + test rows), from its seed."""
    rng = np.random.default_rng(case.seed)
    total = case.n + case.n_dev + case.n_test
    k, m = case.k, case.m
    prior = np.full(k, 1 / k) if case.balance is None else np.asarray(case.balance, dtype=float)
    Y = rng.choice(k, total, p=prior)
    L = np.full((total, m), ABSTAIN, dtype=np.int8)
    inverted = set(rng.choice(m, case.inverted, replace=False).tolist()) if case.inverted else set()
    for j in range(m):
        acc = rng.uniform(*case.accuracy)
        cov = rng.uniform(*case.coverage)
        if j in inverted:
            acc = rng.uniform(0.05, 0.8 / k)
        wrong = (Y + rng.integers(1, k, total)) % k
        if rng.random() < case.unipolar:
            # Votes class t only; precision acc: fires on class t at rate r, elsewhere less often.
            t = int(rng.integers(k))
            r = min(1.0, cov / max(prior[t], 1e-3) / 2)
            other = r * prior[t] * (1 - acc) / (acc * (1 - prior[t]))
            fires = rng.random(total) < np.where(Y == t, r, min(other, 1.0))
            L[fires, j] = t
        else:
            fires = rng.random(total) < cov
            votes = np.where(rng.random(total) < acc, Y, wrong)
            L[fires, j] = votes[fires]
    for g in range(case.groups):
        members = rng.choice(m, 4, replace=False)
        parent = L[:, members[0]]
        for j in members[1:]:
            copy = rng.random(total) < 0.9
            L[copy, j] = parent[copy]
    return L, Y


#: auto's candidates, and Snorkel's model as a rival (auto leaves it out: see DEFAULT_CANDIDATES).
MODELS = {**DEFAULT_CANDIDATES, "snorkel": SnorkelLabelModel()}


def score(proba: np.ndarray, L: np.ndarray, Y: np.ndarray, f1: bool) -> float:
    covered = (L != ABSTAIN).any(axis=1)
    if f1:
        labels = proba[covered].argmax(axis=1)
        return float(f1_score(Y[covered], labels, pos_label=1))
    return float(expected_correct(proba[covered], Y[covered]).mean())


def warm_up() -> None:
    """Fit every model once on a tiny matrix: imports (torch, its optimizers, hyperlm) are paid
    once per process, not by whichever model a case happens to time first."""
    L = np.array([[0, 1, 1], [1, 1, -1], [0, 0, 1], [1, -1, 0]])
    y = np.array([0, 1, ABSTAIN, ABSTAIN])
    for model in MODELS.values():
        clone(model).fit(L, y if model.uses_labels() else None).predict_proba(L)


def run_case(name: str, L_pool, y_pool, L_dev, Y_dev, L_test, Y_test, k: int, f1: bool, full: bool) -> dict:
    out = {}
    m = L_pool.shape[1]
    for model_name, model in MODELS.items():
        if model_name == "snorkel" and not full and (m * k > SNORKEL_MAX_LF_CLASSES or len(L_pool) > 200_000):
            out[model_name] = {"skipped": "too slow for the default run (--full runs it)"}
            continue
        model = clone(model).set_params(cardinality=k)
        start = time.perf_counter()
        model.fit(L_pool, y_pool if model.uses_labels() else None)
        proba = model.predict_proba(L_test)
        out[model_name] = {"score": score(proba, L_test, Y_test, f1), "seconds": time.perf_counter() - start}
    start = time.perf_counter()
    auto = AutoLabelModel(k).fit(L_pool, y_pool, L_eval=L_dev, y_eval=Y_dev)
    proba = auto.predict_proba(L_test)
    out["auto"] = {"score": score(proba, L_test, Y_test, f1), "seconds": time.perf_counter() - start,
                   "chosen": auto.chosen_, "reason": auto.reason_}
    return out


def synthetic(case: Case, full: bool) -> dict:
    L, Y = make_case(case)
    n, d = case.n, case.n_dev
    rng = np.random.default_rng(case.seed + 1000)
    y_pool = np.full(n, ABSTAIN, dtype=np.int64)
    seed_rows = rng.choice(n, case.n_seed, replace=False)
    y_pool[seed_rows] = Y[seed_rows]
    return run_case(case.name, L[:n], y_pool, L[n:n + d], Y[n:n + d], L[n + d:], Y[n + d:], case.k, case.f1, full)


def bundled(full: bool) -> dict:
    from workbench.data import load_youtube_spam
    from workbench.data.youtube_lfs import YOUTUBE_LFS
    from workbench.labeling import apply_lfs

    ds = load_youtube_spam()
    L = {s: apply_lfs(ds[s], YOUTUBE_LFS, cache=False, progress_bar=False, cardinality=ds.cardinality) for s in ("train", "seed", "dev", "test")}
    L_pool = np.vstack([L["train"], L["seed"]])
    y_pool = np.concatenate([np.full(len(L["train"]), ABSTAIN), ds.gold("seed")])
    return run_case("bundled YouTube spam", L_pool, y_pool, L["dev"], ds.gold("dev"), L["test"], ds.gold("test"), 2, False, full)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_labelmodel", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the million-row x 200-LF case, and Snorkel everywhere")
    args = parser.parse_args(argv)
    full = args.full or os.environ.get("BENCH_FULL") == "1"
    names = [*MODELS, "auto"]
    warm_up()
    results = {}
    print(f"{'case':34s} " + " ".join(f"{n:>11s}" for n in names) + "  auto/best  auto chose")
    for case in CASES:
        if case.full_only and not full:
            continue
        results[case.name] = synthetic(case, full)
        _print_row(case.name + (" (F1)" if case.f1 else ""), results[case.name], names)
    results["bundled YouTube spam"] = bundled(full)
    _print_row("bundled YouTube spam", results["bundled YouTube spam"], names)

    print(f"\n{'seconds (fit + predict)':34s} " + " ".join(f"{n:>11s}" for n in names))
    for case, r in results.items():
        print(f"{case[:34]:34s} " + " ".join(f"{r[n]['seconds']:11.2f}" if "seconds" in r[n] else f"{'-':>11s}" for n in names))

    means = {n: float(np.mean([r[n]["score"] for r in results.values() if "score" in r[n]])) for n in names}
    complete = [n for n in names if all("score" in r[n] for r in results.values())]
    print(f"\nmean over cases (models run on every case: {', '.join(complete)}):")
    print("  " + "  ".join(f"{n} {means[n]:.4f}" for n in sorted(names, key=lambda n: -means[n])))
    gaps = {c: _best(r)[1] - r["auto"]["score"] for c, r in results.items()}
    worst = max(gaps, key=gaps.get)
    print("\ntargets:")
    print(f"  auto within 0.5 points of the best candidate on every case: worst gap {100 * gaps[worst]:.2f} points "
          f"({worst}) -> {'met' if gaps[worst] <= 0.005 else 'NOT met'}")
    for rival in ("majority", "snorkel"):
        shared = [r for r in results.values() if "score" in r[rival]]
        a = np.mean([r["auto"]["score"] for r in shared])
        b = np.mean([r[rival]["score"] for r in shared])
        print(f"  auto ahead of {rival} on average ({len(shared)} cases): {a:.4f} vs {b:.4f} -> {'met' if a > b else 'NOT met'}")
    for case, limit in (("k=9, 164 LFs, 2,000 rows", 1.0), ("binary, 1,000,000 rows x 20 LFs", 10.0)):
        if case in results:
            r = results[case]
            chosen = r["auto"]["chosen"]
            print(f"  {case}: auto (comparison + chosen fit + predict) {r['auto']['seconds']:.2f} s, the chosen model "
                  f"({chosen}) alone {r[chosen]['seconds']:.2f} s (auto / chosen {r['auto']['seconds'] / r[chosen]['seconds']:.1f}); "
                  f"target < {limit:g} s -> {'met' if r['auto']['seconds'] < limit else 'NOT met'} in this run "
                  f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print("\nauto's reasons:")
    for case, r in results.items():
        print(f"  {case}: {r['auto']['reason']}")
    write_results("labelmodel", {"full": full, "cases": results, "means": means})


def _best(r: dict) -> tuple[str, float]:
    scored = {n: v["score"] for n, v in r.items() if n != "auto" and "score" in v}
    name = max(scored, key=scored.get)
    return name, scored[name]


def _print_row(case: str, r: dict, names: list[str]) -> None:
    best_name, best = _best(r)
    cells = " ".join(f"{r[n]['score']:11.4f}" if "score" in r[n] else f"{'skipped':>11s}" for n in names)
    print(f"{case[:34]:34s} {cells}  {r['auto']['score'] / best:9.4f}  {r['auto']['chosen']} (best: {best_name})", flush=True)


if __name__ == "__main__":
    main()
