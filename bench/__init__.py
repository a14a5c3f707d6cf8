"""Benchmarks: ``python -m bench`` (``make bench``) runs every ``bench/bench_*.py`` module's ``main()``.

Each benchmark measures ours and the baseline side by side in the same run, prints the
ratios and writes them to ``bench/results/<name>.json`` (the latest run) and appends them to
``bench/results/history.jsonl`` (every run), so a later run can be compared. Benchmarks are
not tests: they assert nothing about time.

``BENCH_ROWS`` (default 1,000,000) scales the corpus, e.g. ``python -m bench apply --rows 100000``.
Helpers here are shared by the benchmark modules.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_ROWS = 1_000_000


def bench_rows() -> int:
    """Corpus size for this run (``$BENCH_ROWS``, default 1,000,000)."""
    return int(os.environ.get("BENCH_ROWS", DEFAULT_ROWS))


def comment_pool() -> pd.DataFrame:
    """Every bundled YouTube comment once (all splits), with its gold label."""
    from workbench.data import load_youtube_spam

    ds = load_youtube_spam()
    frames = [ds[split][["example_id", "text"]].assign(label=ds.gold(split)) for split in ds.splits]
    return pd.concat(frames, ignore_index=True)


def resample_index(pool_size: int, n_rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, pool_size, n_rows)


def comments_corpus(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """``n_rows`` comments drawn with replacement from the bundled ones, each with its own id."""
    pool = comment_pool()
    df = pool.iloc[resample_index(len(pool), n_rows, seed)].reset_index(drop=True)
    df["example_id"] = "r" + pd.RangeIndex(n_rows).astype(str)
    return df


@contextmanager
def stopwatch() -> Iterator[dict]:
    """``with stopwatch() as t: ...`` then ``t["seconds"]``."""
    record: dict = {}
    start = time.perf_counter()
    try:
        yield record
    finally:
        record["seconds"] = time.perf_counter() - start


def machine() -> dict:
    import pyarrow
    import snorkel

    return {
        "python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__, "snorkel": snorkel.__version__, "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0], "platform": platform.platform(),
    }


def write_results(name: str, results: dict[str, Any]) -> Path:
    """Write ``results`` (plus time and machine) to ``bench/results/<name>.json`` atomically; append to history."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    record = {"bench": name, "utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": machine(), **results}
    text = json.dumps(record, indent=2, default=_jsonable)
    path = RESULTS_DIR / f"{name}.json"
    fd, tmp = tempfile.mkstemp(dir=RESULTS_DIR, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
    os.replace(tmp, path)
    with open(RESULTS_DIR / "history.jsonl", "a") as fh:  # one line per run, appended whole
        fh.write(json.dumps(record, default=_jsonable) + "\n")
    print(f"[{name}] results written to {path.relative_to(RESULTS_DIR.parent.parent)}", file=sys.stderr)
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def ratio(baseline_seconds: float, ours_seconds: float) -> float:
    return baseline_seconds / ours_seconds if ours_seconds > 0 else float("inf")
