"""The whole headless pipeline at 100,000 and 1,000,000 rows (and 10,000,000 on Dask, ``--dask``).

Pools are resampled from the bundled pool comments, each with three random extra words (drawn
from the comments' own vocabulary) so that texts differ; dev, seed, valid, test and canary are
the bundled splits. The run is ``python -m workbench run`` on the bundled LF module and the
bundled config (``configs/youtube_spam.yaml``) pointed at these tables, each run in its own
process, so its peak memory (``ru_maxrss``, plus any worker processes apart) is its own.

Printed per pool size: each stage's wall time (the manifest's ``timings``), rows/s, the peak
memory, and the growth factor of every stage from 100k to 1M rows (target <= 11x, linear with
a little slack). The baseline is a plain script doing the same job with Snorkel and datasketch
(``PandasLFApplier``, ``LabelModel``, the same filters with ``MinHashLSH``, TF-IDF + logistic
regression), timed on ``$BENCH_SNORKEL_ROWS`` rows (default 20,000) and extrapolated per row to
1M, as ``bench apply`` does. Targets on the 1M-row run: under 60 s and under 2 GB peak.

    python -m bench pipeline                    # 100k and 1M rows
    python -m bench pipeline --rows 200000      # 100k and 200k rows (the larger size is $BENCH_ROWS)
    BENCH_PIPELINE_DASK=1 python -m bench pipeline   # also 10M rows on a 2-worker LocalCluster (engine: dask)
    python bench/bench_pipeline.py --dask       # the same, as a script
    python -m bench pipeline --dask-only --dask-rows=2000000   # the Dask run alone, at another size

A small run (5,000 rows, untimed) goes first, with Python's bytecode cache on (as installed;
this sandbox sets ``PYTHONDONTWRITEBYTECODE``), so no timed stage pays for compiling the modules it imports
(torch's alone take seconds).

Generated tables live in a temporary folder and are deleted afterwards (never committed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
import yaml

from bench import bench_rows, ratio, stopwatch, write_results

ROOT = Path(__file__).resolve().parent.parent
SMALL_ROWS = 100_000
WARM_UP_ROWS = 5_000  # the untimed first run
DASK_ROWS = 10_000_000
TARGET_SECONDS, TARGET_BYTES, TARGET_GROWTH = 60.0, 2 * 2**30, 11.0
PROTECTED = ("seed", "dev", "valid", "test", "canary")


# --------------------------------------------------------------------------- data


def _vocabulary(texts: pd.Series) -> np.ndarray:
    words = texts.str.lower().str.findall(r"[a-z]{3,12}").explode().dropna()
    return np.array(sorted(set(words)), dtype=object)


def pool_frame(n_rows: int, seed: int = 0, start: int = 0) -> pd.DataFrame:
    """``n_rows`` pool comments drawn with replacement, each with three random extra words and its gold label."""
    from workbench import load_youtube_spam

    ds = load_youtube_spam()
    texts, gold = ds["train"]["text"].reset_index(drop=True), ds.gold("train")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(texts), n_rows)
    vocab = _vocabulary(texts)
    extra = vocab[rng.integers(0, len(vocab), (n_rows, 3))]
    text = texts.to_numpy(dtype=object)[pick] + " " + extra[:, 0] + " " + extra[:, 1] + " " + extra[:, 2]
    return pd.DataFrame({"id": "p" + pd.RangeIndex(start, start + n_rows).astype(str), "text": text,
                         "gold": gold[pick]})


def write_inputs(folder: Path, pool: Path | str, *, engine: str = "local") -> Path:
    """The bundled config pointed at ``pool`` (a Parquet file or folder) and the bundled labeled splits."""
    from workbench import load_youtube_spam

    ds = load_youtube_spam()
    data: dict = {"id_column": "id", "class_names": list(ds.class_names),
                  "train": {"path": str(pool), "label_column": "gold"}}
    for split in PROTECTED:
        path = folder / f"{split}.parquet"
        pd.DataFrame({"id": ds[split]["example_id"].astype(str), "text": ds[split]["text"],
                      "gold": ds.gold(split)}).to_parquet(path, index=False)
        data[split] = {"path": str(path), "label_column": "gold"}
    config = yaml.safe_load((ROOT / "configs" / "youtube_spam.yaml").read_text())
    config.update(name="bench_pipeline", data=data, output={"dir": str(folder / "out"), "overwrite": True})
    # The run is timed to its end whatever the canary says; the gate's verdict is printed, not hidden.
    config.setdefault("canary", {})["override"] = "bench pipeline: timed to the end whatever the gate says"
    if engine != "local":
        config["engine"] = {"kind": engine}
    path = folder / f"pipeline_{engine}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def write_pool(folder: Path, n_rows: int, *, chunk_rows: int = 1_000_000) -> Path:
    """A pool of ``n_rows`` rows as Parquet: one file, or a folder of files of ``chunk_rows`` rows when larger."""
    if n_rows <= chunk_rows:
        path = folder / f"pool_{n_rows}.parquet"
        pool_frame(n_rows).to_parquet(path, index=False)
        return path
    path = folder / f"pool_{n_rows}"
    path.mkdir()
    for part, first in enumerate(range(0, n_rows, chunk_rows)):
        rows = min(chunk_rows, n_rows - first)
        pool_frame(rows, seed=part, start=first).to_parquet(path / f"part-{part:04d}.parquet", index=False)
    return path


# --------------------------------------------------------------------------- one run, in its own process

_RUNNER = """
import json, resource, sys, time
start = time.perf_counter()
from workbench.pipeline import run_pipeline
result = run_pipeline(sys.argv[1], overwrite=True, progress_bar=False, echo=None)
usage = {who: resource.getrusage(getattr(resource, who)).ru_maxrss * 1024 for who in ("RUSAGE_SELF", "RUSAGE_CHILDREN")}
print("RESULT " + json.dumps({"wall": time.perf_counter() - start, "timings": result.timings,
                              "peak_bytes": usage["RUSAGE_SELF"], "children_peak_bytes": usage["RUSAGE_CHILDREN"],
                              "worker_peak_bytes": result.manifest.get("engine", {}).get("worker_peak_bytes"),
                              "exported": result.manifest["export"]["rows"],
                              "end_model_accuracy": result.manifest["evaluation"]["test"]["end_model"]["accuracy"],
                              "canary_gate_passed": result.manifest["evaluation"].get("canary_gate", {}).get("passed"),
                              "exported_labels": {str(k): int(v) for k, v in result.export["label"].value_counts().sort_index().items()},
                              "end_model_learner": type(result.end_model[-1]).__name__}))
"""


def run_once(config: Path) -> dict:
    """Run the pipeline of ``config`` in a fresh process; its timings, peak memory and outcome."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"}
    # Python as installed: it caches the bytecode of the modules it compiles, so only a first run pays
    # for compiling them (torch's, imported by the label-model stage, takes seconds). A machine that
    # switches the cache off (PYTHONDONTWRITEBYTECODE, as this sandbox does) would pay on every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    proc = subprocess.run([sys.executable, "-c", _RUNNER, str(config)], cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pipeline run on {config.name} failed:\n{proc.stderr[-4000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


# --------------------------------------------------------------------------- the plain Snorkel script


def snorkel_twin(lf):
    """The LF written for Snorkel's ``PandasLFApplier`` (a ``@labeling_function`` reading ``x.text``)."""
    from snorkel.labeling import LabelingFunction

    from workbench import ABSTAIN

    if not hasattr(lf, "builder"):
        return lf  # already a Snorkel LF
    if lf.name == "short_comment":
        return LabelingFunction(lf.name, lambda x: 0 if len(x.text.split()) < 5 else ABSTAIN)
    p = lf.params
    if p.get("keywords"):
        alternatives = "|".join(re.escape(k) for k in sorted(p["keywords"], key=len, reverse=True))
        pattern = rf"\b(?:{alternatives})\b" if p["whole_word"] else f"(?:{alternatives})"
        rx = re.compile(pattern, 0 if p["case_sensitive"] else re.IGNORECASE)
    else:
        rx = re.compile(p["pattern"], p["flags"])
    return LabelingFunction(lf.name, lambda x, rx=rx, label=p["label"]: label if rx.search(x.text) else ABSTAIN)


def snorkel_script(pool: pd.DataFrame, splits: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The same job written plainly with Snorkel and datasketch; seconds per part."""
    from datasketch import MinHash, MinHashLSH
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from snorkel.labeling import PandasLFApplier
    from snorkel.labeling.model import LabelModel

    from workbench.data.youtube_lfs import YOUTUBE_LFS

    def signature(text: str) -> MinHash:
        m = MinHash(num_perm=128, seed=1)
        padded = text.ljust(5, "\0")
        m.update_batch([padded[i:i + 5].encode() for i in range(len(padded) - 4)])
        return m

    seconds = {}
    with stopwatch() as t:
        applier = PandasLFApplier([snorkel_twin(lf) for lf in YOUTUBE_LFS])
        L = applier.apply(pool, progress_bar=False)
        for split in ("dev", "test", "canary"):
            applier.apply(splits[split], progress_bar=False)
    seconds["apply LFs"] = t["seconds"]
    with stopwatch() as t:
        model = LabelModel(cardinality=2, verbose=False)
        model.fit(L, n_epochs=500, seed=123, progress_bar=False)
        proba = model.predict_proba(L)
    seconds["label model"] = t["seconds"]
    with stopwatch() as t:
        keep = (L != -1).any(axis=1) & (proba.max(axis=1) >= 0.7)
        protected = {s.lower().strip() for split in PROTECTED for s in splits[split]["text"]}
        keep &= ~pool["text"].str.lower().str.strip().isin(protected).to_numpy()
        lsh, kept = MinHashLSH(threshold=0.7, num_perm=128), []
        for i in np.flatnonzero(keep):
            m = signature(pool["text"].iat[i].lower())
            if lsh.query(m):
                continue  # a near copy of a row already kept
            lsh.insert(str(i), m)
            kept.append(i)
    seconds["filter"] = t["seconds"]
    with stopwatch() as t:
        guard = MinHashLSH(threshold=0.8, num_perm=128)
        for split in PROTECTED:
            for j, text in enumerate(splits[split]["text"]):
                guard.insert(f"{split}{j}", signature(text.lower()))
        kept = [i for i in kept if not guard.query(signature(pool["text"].iat[i].lower()))]
    seconds["leakage"] = t["seconds"]
    with stopwatch() as t:
        texts = list(pool["text"].iloc[kept]) + list(splits["seed"]["text"])
        soft = np.vstack([proba[kept], np.eye(2)[splits["seed"]["label"].to_numpy()]])
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        X = vectorizer.fit_transform(texts)
        rows = np.repeat(np.arange(len(texts)), 2)
        LogisticRegression(C=10.0, max_iter=2000).fit(X[rows], np.tile([0, 1], len(texts)),
                                                      sample_weight=soft.reshape(-1))
    seconds["end model"] = t["seconds"]
    with stopwatch() as t, tempfile.TemporaryDirectory() as tmp:
        pool.iloc[kept].assign(proba_spam=proba[kept, 1]).to_parquet(Path(tmp) / "export.parquet")
    seconds["export"] = t["seconds"]
    return seconds


# --------------------------------------------------------------------------- report


def _gb(n_bytes: float | None) -> str:
    return "-" if n_bytes is None else f"{n_bytes / 2**30:.2f} GB"


DASK_PART_ROWS = 250_000


def dask_main(n_rows: int) -> dict:
    """The Dask run alone (``--dask-only``): an ``n_rows`` Parquet pool generated on the fly (a folder of
    files of ``DASK_PART_ROWS`` rows), the bundled config with ``engine: dask`` on a 2-worker ``LocalCluster`` (worker
    processes); prints each stage's wall time, rows/s and the peak memory of the driver and of each worker."""
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_dask_") as tmp:
        folder = Path(tmp)
        with stopwatch() as t:
            # a partition is a Parquet file's row group: files of DASK_PART_ROWS give both workers work from 500k rows
            pool = write_pool(folder, n_rows, chunk_rows=DASK_PART_ROWS)
        print(f"{n_rows:,}-row Parquet pool generated in {t['seconds']:.0f} s; running on Dask ...", flush=True)
        config = write_inputs(folder, pool, engine="dask")
        raw = yaml.safe_load(config.read_text())
        # The resampled pool's labels are not what is measured here: a failed canary gate must not stop the
        # run before its export (the gate's verdict is still recorded in the manifest).
        raw["canary"] = {**raw.get("canary", {}), "override": "benchmark of the Dask engine's speed and memory"}
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        run = run_once(config)
    total = sum(run["timings"].values())
    print(f"\nDask engine, {n_rows:,} rows, 2-worker LocalCluster, on a shared 2-core machine (load average "
          f"{os.getloadavg()[0]:.1f} at the end):")
    for stage, seconds in run["timings"].items():
        print(f"  {stage:12s} {seconds:9.1f} s")
    workers = run.get("worker_peak_bytes") or {}
    print(f"  {'total':12s} {total:9.1f} s ({n_rows / total:,.0f} rows/s; process {run['wall']:.0f} s with imports "
          f"and cluster start)\n  peak memory: driver {_gb(run['peak_bytes'])}; workers "
          f"{', '.join(_gb(b) for b in workers.values()) or '-'}; exported {run['exported']:,} rows, "
          f"end-model test accuracy {run['end_model_accuracy']:.3f}")
    write_results("pipeline_dask", {"rows": n_rows, **run, "load_average_at_end": os.getloadavg()[0]})
    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dask", action="store_true", default=bool(os.environ.get("BENCH_PIPELINE_DASK")),
                        help=f"also run {DASK_ROWS:,} rows with engine: dask on a 2-worker LocalCluster")
    parser.add_argument("--dask-rows", type=int, default=DASK_ROWS)
    parser.add_argument("--dask-only", action="store_true", help="only the Dask run (--dask-rows rows)")
    args = parser.parse_args(argv)
    if args.dask_only:
        dask_main(args.dask_rows)
        return
    large = bench_rows()
    sizes = sorted({min(SMALL_ROWS, large), large})
    n_snorkel = min(int(os.environ.get("BENCH_SNORKEL_ROWS", 20_000)), large)
    runs: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as tmp:
        folder = Path(tmp)
        # a small run first, so that the timed runs find the bytecode of every module a stage imports cached,
        # as Python keeps it after a first run (see run_once)
        warm = write_pool(folder, WARM_UP_ROWS)
        run_once(write_inputs(folder, warm))
        warm.unlink()
        for n in sizes:
            with stopwatch() as t:
                pool = write_pool(folder, n)
            print(f"{n:,}-row pool generated in {t['seconds']:.1f} s; running the pipeline ...", flush=True)
            runs[n] = run_once(write_inputs(folder, pool))
            pool.unlink()
        dask_run = None
        if args.dask:
            with stopwatch() as t:
                pool = write_pool(folder, args.dask_rows)
            print(f"{args.dask_rows:,}-row Parquet pool generated in {t['seconds']:.0f} s; running on Dask ...", flush=True)
            dask_run = run_once(write_inputs(folder, pool, engine="dask"))

        from workbench import load_youtube_spam

        ds = load_youtube_spam()
        splits = {s: ds[s].assign(label=ds.gold(s)) for s in PROTECTED}
        sample = pool_frame(n_snorkel, seed=7)
        print(f"plain Snorkel script on {n_snorkel:,} rows ...", flush=True)
        baseline = snorkel_script(sample, splits)

    stages = list(runs[sizes[-1]]["timings"])
    print(f"\nWall time per stage (s), measured under the load of a shared 2-core machine:")
    header = f"{'stage':14s}" + "".join(f"{n:>12,}" for n in sizes) + f"{'growth':>9s}" + f"{f'Snorkel {large:,} (extrap.)':>26s}"
    print(header)
    growth = {}
    for stage in stages:
        cells = [runs[n]["timings"].get(stage, 0.0) for n in sizes]
        growth[stage] = ratio(cells[-1], cells[0]) if len(sizes) > 1 and cells[0] > 0 else None
        snorkel = baseline.get(stage)
        print(f"{stage:14s}" + "".join(f"{c:12.2f}" for c in cells)
              + (f"{growth[stage]:8.1f}x" if growth[stage] is not None else f"{'-':>9s}")
              + (f"{snorkel * large / n_snorkel:26.1f}" if snorkel is not None else f"{'-':>26s}"))
    for n in sizes:
        r = runs[n]
        r["stage_seconds"] = sum(r["timings"].values())
        r["rows_per_second"] = n / r["stage_seconds"]
        print(f"{n:>10,} rows: stages {r['stage_seconds']:.1f} s, process {r['wall']:.1f} s (with imports), "
              f"{r['rows_per_second']:,.0f} rows/s, peak {_gb(r['peak_bytes'])} (+ child processes {_gb(r['children_peak_bytes'])}), "
              f"exported {r['exported']:,} rows (per label {r['exported_labels']}), end model "
              f"({r['end_model_learner']}) test accuracy {r['end_model_accuracy']:.3f}, canary gate "
              f"{'passed' if r['canary_gate_passed'] else 'FAILED (run completed under the bench override)'}")
    snorkel_total = sum(baseline.values()) * large / n_snorkel
    big = runs[large]
    print(f"Plain Snorkel script: {sum(baseline.values()):.1f} s on {n_snorkel:,} rows -> {snorkel_total:.0f} s extrapolated "
          f"to {large:,}; ours {big['stage_seconds']:.1f} s: {ratio(snorkel_total, big['stage_seconds']):.1f}x")
    if dask_run is not None:
        workers = dask_run.get("worker_peak_bytes") or {}
        print(f"Dask, {args.dask_rows:,} rows on a 2-worker LocalCluster: {sum(dask_run['timings'].values()):.0f} s "
              f"({', '.join(f'{s} {v:.0f} s' for s, v in dask_run['timings'].items())}); driver peak "
              f"{_gb(dask_run['peak_bytes'])}; worker peaks {', '.join(_gb(b) for b in workers.values()) or '-'}")
    targets = {
        "1M_under_60s": big["stage_seconds"] < TARGET_SECONDS,
        "1M_under_2GB": big["peak_bytes"] < TARGET_BYTES,
        "every_stage_growth_at_most_11x": all(g is None or g <= TARGET_GROWTH for g in growth.values()),
    }
    print(f"Targets at {large:,} rows: < {TARGET_SECONDS:.0f} s: {big['stage_seconds']:.1f} s "
          f"({'met' if targets['1M_under_60s'] else 'NOT met'}); < 2 GB peak: {_gb(big['peak_bytes'])} "
          f"({'met' if targets['1M_under_2GB'] else 'NOT met'}); every stage's growth <= {TARGET_GROWTH:.0f}x: "
          f"{'met' if targets['every_stage_growth_at_most_11x'] else 'NOT met: ' + ', '.join(s for s, g in growth.items() if g and g > TARGET_GROWTH)}")
    write_results("pipeline", {"sizes": sizes, "runs": {str(n): r for n, r in runs.items()}, "growth": growth,
                               "snorkel_rows": n_snorkel, "snorkel_seconds_measured": baseline,
                               "snorkel_seconds_extrapolated": snorkel_total, "dask": dask_run, "targets": targets,
                               "load_average_at_end": os.getloadavg()[0]})


if __name__ == "__main__":
    main()
