"""Benchmark: LF Studio refresh after editing one LF, against a naive Snorkel recompute.

Corpus: ``--rows`` (default 100,000) comments resampled with replacement from the bundled YouTube
pool, plus the 120-row dev set. 20 LFs: keyword, regex, vectorized and row-wise ones.

- **Studio refresh**: ``studio.add(edited_lf)`` on a live :class:`workbench.ui.studio.Studio`
  (widgets and FigureWidgets built, not displayed): re-apply the edited LF to pool and dev,
  recompute the summary, the overlap/conflict matrices, majority vote and its dev scores, and
  update the table, heatmaps, label-model figures and example browser in place. Every edit is a
  new version (a keyword never used before), so the column cache cannot answer it.
- **Label model up to date**: from the edit until the studio's label model is up to date with it
  and drawn. The default (``--label-model dawid_skene``) is ``live``: it is refitted inside the
  refresh, so this equals the refresh time (its share is ``label_model`` in the breakdown).
  ``--label-model snorkel`` measures Snorkel's LabelModel (500 epochs, all pool rows) refitted
  on the worker thread (debounce set to 0 here).
- **Naive**: what a Snorkel user re-runs after an edit: ``PandasLFApplier`` with all 20 LFs
  (row-wise equivalents of the same LFs, checked to give the same ``L``) on pool and dev,
  ``LFAnalysis.lf_summary`` on both, ``LabelModel.fit`` (same settings) and ``predict_proba``.

Run ``python bench/bench_studio.py``; results are printed and written to
``bench/results/bench_studio.json``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import linecache
import os
import platform
import statistics
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TQDM_DISABLE", "1")

from snorkel.labeling import LabelingFunction, LFAnalysis, PandasLFApplier  # noqa: E402
from snorkel.labeling.model import LabelModel  # noqa: E402

from workbench.data import Dataset, load_youtube_spam  # noqa: E402
from workbench.data.youtube_lfs import HAM, SPAM, YOUTUBE_LFS  # noqa: E402
from workbench.labeling import (  # noqa: E402
    ABSTAIN,
    LabelCache,  # noqa: E402
    keyword_lf,
    predicate_lf,  # noqa: E402
    regex_lf,
)
from workbench.ui.studio import Studio  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
EDIT_WORDS = ["prize", "giveaway", "promo", "bonus", "coupon", "reward", "lottery", "winner", "offer", "jackpot", "deal"]


def corpus(n_rows: int, seed: int = 0) -> Dataset:
    ds = load_youtube_spam()
    pool = ds.train.sample(n_rows, replace=True, random_state=seed).reset_index(drop=True)
    pool["example_id"] = [f"{eid}-r{i}" for i, eid in enumerate(pool["example_id"])]
    return Dataset(name=f"youtube_spam_x{n_rows}", splits={"train": pool, "dev": ds.dev}, class_names=ds.class_names)


def has_digits(x):
    """Comments with 4+ digits in a row: phone numbers, prices, promo codes."""
    run = 0
    for c in x.text:
        run = run + 1 if c.isdigit() else 0
        if run >= 4:
            return True
    return False


def twenty_lfs() -> list:
    extra = [
        keyword_lf("kw_channel", ["channel", "my channel", "my page"], SPAM),
        keyword_lf("kw_follow", ["follow", "follow me", "like my"], SPAM),
        keyword_lf("kw_video", ["video", "music video"], HAM),
        keyword_lf("kw_singer", ["katy", "perry", "eminem", "shakira", "lmfao", "psy"], HAM),
        regex_lf("re_exclaim", r"!{3,}", SPAM),
        regex_lf("re_year", r"\b(?:19|20)\d\d\b", HAM),
        regex_lf("re_question", r"\?\s*$", HAM),
        keyword_lf("kw_thanks", ["thanks", "thank you"], SPAM),
        predicate_lf("has_digits", has_digits, SPAM),
    ]
    lfs = list(YOUTUBE_LFS) + extra
    assert len(lfs) == 20
    return lfs


def row_wise(lf) -> LabelingFunction:
    """A Snorkel row-wise LF equal to ``lf`` (what a Snorkel user writes)."""
    if isinstance(lf, LabelingFunction):
        return lf
    if lf.builder in ("keyword_lf", "regex_lf"):
        compiled = inspect.getclosurevars(lf.func).nonlocals["compiled"]
        label, column = lf.params["label"], lf.params["text_column"]

        def vote(x):
            text = x[column]
            return label if isinstance(text, str) and compiled.search(text) else ABSTAIN

        return LabelingFunction(lf.name, vote)
    if lf.name == "short_comment":
        return LabelingFunction(lf.name, lambda x: HAM if len(x.text.split()) < 5 else ABSTAIN)
    raise ValueError(f"no row-wise equivalent for {lf.name}")


def naive_recompute(lfs, pool: pd.DataFrame, dev: pd.DataFrame, y_dev: np.ndarray, n_epochs: int, seed: int):
    row_lfs = [row_wise(lf) for lf in lfs]
    applier = PandasLFApplier(row_lfs)
    L = applier.apply(pool, progress_bar=False)
    L_dev = applier.apply(dev, progress_bar=False)
    with warnings.catch_warnings():  # scipy's FutureWarning from inside LFAnalysis
        warnings.simplefilter("ignore", FutureWarning)
        LFAnalysis(L, lfs=row_lfs).lf_summary()
        LFAnalysis(L_dev, lfs=row_lfs).lf_summary(y_dev)
    model = LabelModel(cardinality=2, verbose=False)
    model.fit(L, n_epochs=n_epochs, seed=seed, progress_bar=False, log_freq=n_epochs + 1)
    model.predict_proba(L)
    return L, L_dev


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def edit_series(studio: Studio, make_lf, repeats: int) -> dict:
    """Edit one LF ``repeats`` times; after each edit, wait for the background label model (as a
    person reading the dashboard would) so one edit's fit does not slow the next refresh."""
    refresh, cpu, model, breakdown = [], [], [], []
    for i in range(repeats):
        lf = make_lf(i)
        t0, c0 = time.perf_counter(), time.thread_time()
        studio.add(lf)
        refresh.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        breakdown.append(dict(studio.snapshot.timings))
        assert studio.snapshot.applied == [lf.name], studio.snapshot.applied
        studio.wait_label_model(600)
        model.append(time.perf_counter() - t0)
        assert studio.snapshot.label_model_current, studio.snapshot.label_model_status
    return {"refresh_s": refresh, "median_refresh_s": statistics.median(refresh),
            "refresh_cpu_s": cpu, "median_refresh_cpu_s": statistics.median(cpu),
            "median_state_breakdown_s": {k: statistics.median(b[k] for b in breakdown) for k in breakdown[0]},
            "label_model_up_to_date_s": model, "median_label_model_up_to_date_s": statistics.median(model)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7, help="edits per series (median reported)")
    parser.add_argument("--naive-repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=500, help="Snorkel LabelModel epochs (naive, and the studio's with --label-model snorkel)")
    parser.add_argument("--label-model", default="dawid_skene", help="the studio's label model (a name in LABEL_MODELS)")
    parser.add_argument("--out", type=Path, default=RESULTS / "bench_studio.json")
    args = parser.parse_args(argv)
    seed = 123

    ds = corpus(args.rows)
    lfs = twenty_lfs()
    pool, dev, y_dev = ds.train, ds.dev, ds.gold("dev")
    print(f"corpus: {len(pool):,} pool rows resampled from {ds.name}, {len(dev)} dev rows, {len(lfs)} LFs "
          f"({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")

    open_s, studio = timed(lambda: Studio(ds, lfs, display=False, auto_refresh=False, debounce=0.0, cache=LabelCache(),
                                          label_model=args.label_model, progress_bar=False,
                                          label_model_settings={"n_epochs": args.epochs, "random_state": seed}
                                          if args.label_model == "snorkel" else None))
    studio.wait_label_model(600)
    print(f"studio opened (all 20 LFs applied once, widgets built) in {open_s:.1f} s")

    base_money = ["money", "cash", "earn", "free", "win", "gift card"]
    series = {
        "keyword LF edit (headline)": edit_series(
            studio, lambda i: keyword_lf("kw_money", base_money + [EDIT_WORDS[i % len(EDIT_WORDS)] + "s" * (i // len(EDIT_WORDS))], SPAM),
            args.repeats),
        "regex LF edit": edit_series(
            studio, lambda i: regex_lf("re_check_out", rf"check.{{0,{20 + i}}}out", SPAM), args.repeats),
        "row-wise LF edit": edit_series(
            studio, lambda i: predicate_lf("has_digits", _digits_lf(4 + i % 3, i), SPAM), args.repeats),
    }
    toggles, toggles_cpu = [], []
    for i in range(args.repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        (studio.disable if i % 2 == 0 else studio.enable)("kw_song")
        toggles.append(time.perf_counter() - t0)
        toggles_cpu.append(time.thread_time() - c0)
        studio.wait_label_model(600)
    series["switch an LF off/on"] = {"refresh_s": toggles, "median_refresh_s": statistics.median(toggles),
                                     "refresh_cpu_s": toggles_cpu, "median_refresh_cpu_s": statistics.median(toggles_cpu)}
    studio.enable("kw_song")
    studio.wait_label_model(600)

    naive_times, naive_cpu = [], []
    for _ in range(args.naive_repeats):
        c0 = time.process_time()
        t, (L_naive, L_dev_naive) = timed(lambda: naive_recompute(studio.lfs, pool, dev, y_dev, args.epochs, seed))
        naive_times.append(t)
        naive_cpu.append(time.process_time() - c0)
        print(f"naive recompute: {t:.1f} s wall, {naive_cpu[-1]:.1f} s CPU")
    snap = studio.refresh()
    assert snap.names == [lf.name for lf in studio.lfs]
    if not (np.array_equal(L_naive, snap.L_train) and np.array_equal(L_dev_naive, snap.L_dev)):
        raise AssertionError("the naive baseline's L differs from the studio's: the comparison would be unfair")
    naive = statistics.median(naive_times)

    headline = series["keyword LF edit (headline)"]
    results = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_average_1m_at_start": os.getloadavg()[0], "python": platform.python_version(),
                    "numpy": np.__version__, "pandas": pd.__version__},
        "rows": len(pool), "dev_rows": len(dev), "lfs": len(lfs), "label_model": args.label_model,
        "label_model_epochs": args.epochs,
        "studio_open_s": open_s,
        "naive_recompute_s": naive_times, "median_naive_recompute_s": naive,
        "naive_recompute_cpu_s": naive_cpu, "median_naive_recompute_cpu_s": statistics.median(naive_cpu),
        "series": series,
        "headline": {
            "median_refresh_ms": headline["median_refresh_s"] * 1000,
            "speedup_vs_naive": naive / headline["median_refresh_s"],
            "median_refresh_cpu_ms": headline["median_refresh_cpu_s"] * 1000,
            "cpu_speedup_vs_naive": statistics.median(naive_cpu) / headline["median_refresh_cpu_s"],
            "median_label_model_up_to_date_ms": headline["median_label_model_up_to_date_s"] * 1000,
            "label_model_speedup_vs_naive": naive / headline["median_label_model_up_to_date_s"],
            "target_refresh_ms": 300, "target_speedup": 10,
        },
    }
    print(f"\n{'median of ' + str(args.repeats):34} {'refresh':>10} {'vs naive':>9} {'(CPU)':>9} "
          f"{args.label_model + ' up to date':>22} {'vs naive':>9}")
    for name, s in series.items():
        lm = s.get("median_label_model_up_to_date_s")
        lm_text = f"{lm * 1000:19.0f} ms {naive / lm:8.1f}x" if lm else ""
        print(f"{name:34} {s['median_refresh_s'] * 1000:7.0f} ms {naive / s['median_refresh_s']:8.1f}x "
              f"{s['median_refresh_cpu_s'] * 1000:6.0f} ms {lm_text}")
    print(f"{'naive Snorkel recompute':34} {naive * 1000:7.0f} ms {'':9} {statistics.median(naive_cpu) * 1000:6.0f} ms")
    print(f"load average (1 min) at start {results['machine']['load_average_1m_at_start']:.1f}, at end {os.getloadavg()[0]:.1f}")
    print("headline refresh breakdown (state only, s):", {k: round(v, 3) for k, v in headline["median_state_breakdown_s"].items()})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    studio.close()
    return results


def _digits_lf(run_length: int, version: int):
    """Version ``version`` of the row-wise ``has_digits`` LF, as if re-typed in a notebook cell."""
    source = (f"def has_digit_run(x):  # version {version}\n"
              "    run = 0\n"
              "    for c in x.text:\n"
              "        run = run + 1 if c.isdigit() else 0\n"
              f"        if run >= {run_length}:\n"
              "            return True\n"
              "    return False\n")
    filename = f"<bench-cell-{version}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["has_digit_run"]


if __name__ == "__main__":
    main()
