"""LF Studio state: a registry of labeling functions whose statistics refresh incrementally.

:class:`StudioState` is the pure core behind the dashboard (:class:`workbench.ui.studio.Studio`):
no widgets, only numpy/pandas. It keeps

- the **registry**: LFs in the order they were added, each switched on or off; adding an LF
  whose name exists replaces it in place;
- one **cached vote column per LF and split**: a refresh re-applies only the LFs whose
  fingerprint changed (code, parameters or the global data they read), then recomputes the
  summary, the overlap/conflict matrices and the label models from the cached columns;
- **error isolation**: an LF that raises or returns a bad value on some row is reported
  (:class:`LFError`: LF, split, row, example id, text, message) and kept out of ``L`` until it
  is fixed; the other LFs are unaffected;
- the **version history** (:class:`LFHistory`): every distinct version of every LF with its
  source and its statistics at the time, as plain records for a store;
- :meth:`StudioState.save_lfs`: the current LFs as an importable Python module, checked to
  rebuild the same ``L`` before it is written (atomically).

The label model: majority vote is recomputed on every refresh (milliseconds). The chosen label
model (any name in :data:`workbench.generate.LABEL_MODELS`; Snorkel's ``LabelModel`` takes about
half a second on 100,000 rows) is by default refitted off the main thread once edits pause
(:class:`LabelModelRefitter`); every :class:`Snapshot` says whether the label model it carries
is up to date with the LFs it shows. Fits are cached by LF set, so switching an LF off and on
again shows the earlier fit at once.
"""

from __future__ import annotations

import inspect
import os
import textwrap
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone

from workbench._internal.atomic import atomic_write
from workbench._internal.columns import vote_column
from workbench._internal.jsonsafe import json_safe
from workbench._internal.progress import PROGRESS_MIN_ROWS
from workbench._internal.validation import label_dtype
from workbench.generate._labelmodel import (
    LABEL_MODELS,
    MajorityVote,
    proba_to_labels,
)
from workbench.labeling._analysis import (
    conflict_matrix,
    conflict_rate,
    examples,
    lf_summary,
    overlap_matrix,
)
from workbench.labeling._apply import (
    DEFAULT_CACHE,
    LabelCache,
    LFApplier,
    LFFault,
    LFFaultWarning,
    Row,
    data_fingerprint,
    row_objects,
)
from workbench.labeling._fastpath import TextFastPath, text_column_of
from workbench.labeling._lf import (
    ABSTAIN,
    PredicateLF,
    is_vectorized,
    lf_fingerprint,
    lf_kind,
    lf_name,
    lf_source,
)
from workbench.labeling._module import LFSaveError, execute_lf_source, lfs_to_code

__all__ = [
    "LFError", "LFHistory", "LFVersion", "LabelModelRefitter", "ModelOutput",
    "Snapshot", "StudioState",
]

BROWSE_KINDS = ("fires", "wrong", "conflict", "abstain", "overlap")

def _display_source(lf: Any) -> str:
    """The code a person wrote for ``lf`` (for a predicate LF: the predicate, not the wrapper)."""
    if isinstance(lf, PredicateLF):
        try:
            return textwrap.dedent(inspect.getsource(lf.predicate))
        except (OSError, TypeError):
            return f"<source of {lf.predicate!r} is not available>"
    try:
        return textwrap.dedent(lf_source(lf))
    except (OSError, TypeError) as exc:
        return f"<source not available: {exc}>"


# ----------------------------------------------------------------------------------------
# Version history
# ----------------------------------------------------------------------------------------


@dataclass
class LFVersion:
    """One distinct version of an LF: its source and, once computed, its statistics.

    ``stats`` holds plain floats/ints: pool ``coverage``/``overlaps``/``conflicts``, dev
    ``dev_coverage``/``dev_votes``/``dev_correct``/``dev_accuracy`` (NaN without dev votes),
    and the whole set's ``set_total_coverage``/``set_majority_dev_accuracy`` at that moment;
    or ``error`` when the version failed.
    """

    name: str
    version: int
    source: str
    fingerprint: str
    kind: str
    created_at: str
    stats: dict | None = None

    def to_record(self) -> dict:
        return asdict(self)


class LFHistory:
    """Every version of every LF seen by a studio, in order (removed LFs included).

    Examples
    --------
    >>> h = LFHistory()
    >>> h.record("kw", "keyword_lf('kw', ['a'], 1)", "f1", "keyword").version
    1
    >>> h.record("kw", "keyword_lf('kw', ['a'], 1)", "f1", "keyword") is None  # unchanged
    True
    """

    def __init__(self) -> None:
        self._versions: dict[str, list[LFVersion]] = {}

    def record(self, name: str, source: str, fingerprint: str, kind: str) -> LFVersion | None:
        """Add a version unless ``fingerprint`` equals the latest one's; return it (or None)."""
        versions = self._versions.setdefault(name, [])
        if versions and versions[-1].fingerprint == fingerprint:
            return None
        version = LFVersion(name, len(versions) + 1, source, fingerprint, kind,
                            datetime.now(timezone.utc).isoformat(timespec="seconds"))
        versions.append(version)
        return version

    def versions(self, name: str) -> list[LFVersion]:
        if name not in self._versions:
            raise KeyError(f"no history for LF {name!r}; LFs with history: {sorted(self._versions)}")
        return list(self._versions[name])

    def latest(self, name: str) -> LFVersion | None:
        versions = self._versions.get(name)
        return versions[-1] if versions else None

    @property
    def names(self) -> list[str]:
        return list(self._versions)

    def to_records(self) -> list[dict]:
        """Plain dicts (``name``, ``version``, ``source``, ``fingerprint``, ``kind``, ``created_at``,
        ``stats``), oldest first per LF, for a store's ``record_lf_version(name, source, stats)``."""
        return [v.to_record() for versions in self._versions.values() for v in versions]

    def to_frame(self, name: str | None = None) -> pd.DataFrame:
        """One row per version with its statistics flattened into columns."""
        rows = []
        for v in (self.versions(name) if name is not None else [v for vs in self._versions.values() for v in vs]):
            rows.append({"name": v.name, "version": v.version, "kind": v.kind, "created_at": v.created_at,
                         "fingerprint": v.fingerprint, **(v.stats or {})})
        return pd.DataFrame(rows)

    def __len__(self) -> int:
        return sum(len(v) for v in self._versions.values())


# ----------------------------------------------------------------------------------------
# Errors, model outputs, snapshots
# ----------------------------------------------------------------------------------------


@dataclass
class LFError:
    """An LF failed on ``split``: ``count`` of ``n_rows`` rows; ``rows`` holds the first few."""

    lf: str
    split: str
    count: int
    n_rows: int
    rows: list[dict]

    def message(self) -> str:
        first = self.rows[0] if self.rows else {}
        where = (f"row {first.get('row')} (example_id={first.get('example_id')!r}, text={first.get('text')!r})"
                 if first.get("row") is not None else "the whole table")
        return (f"LF {self.lf!r} failed on {self.count:,} of {self.n_rows:,} {self.split} rows; first on {where}: "
                f"{first.get('error', '')}. It is left out of L until it is fixed.")


@dataclass
class ModelOutput:
    """What a label model says about the pool and the dev set, ready to plot.

    ``hist_counts``/``hist_edges`` bin the top probability of the pool rows some LF covers;
    ``balance`` is the predicted class share on those rows; ``dev_scores`` is
    ``metrics(L_dev, Y_dev)`` on the dev rows some LF covers (ties broken at random), or None
    without dev labels. ``name`` is the model's name in :data:`~workbench.generate.LABEL_MODELS`;
    ``settings`` its parameters (``get_params``) and ``n_rows``, the pool rows it was fitted on.
    """

    name: str
    proba_train: np.ndarray
    proba_dev: np.ndarray
    hist_counts: np.ndarray
    hist_edges: np.ndarray
    balance: np.ndarray
    dev_scores: dict | None
    lf_accuracies: np.ndarray | None = None
    key: tuple = ()
    fit_seconds: float = 0.0
    settings: dict = field(default_factory=dict)


@dataclass
class Snapshot:
    """Everything the dashboard shows after one refresh.

    ``names`` are the active LFs (switched on, no errors), the columns of ``L_train``/``L_dev``.
    ``summary`` covers every registered LF (see :meth:`StudioState.refresh`). ``majority`` is
    always current; ``label_model`` is the chosen label model's output when ``label_model_status`` is
    ``"up to date"`` (else the latest fit for another LF set, or None).
    """

    generation: int
    key: tuple
    names: list[str]
    L_train: np.ndarray
    L_dev: np.ndarray
    Y_dev: np.ndarray | None
    summary: pd.DataFrame
    overlap: pd.DataFrame
    conflict: pd.DataFrame
    total_coverage: float
    conflict_rate: float
    majority: ModelOutput | None
    label_model: ModelOutput | None
    label_model_status: str
    errors: list[LFError]
    applied: list[str]
    timings: dict

    @property
    def label_model_current(self) -> bool:
        return self.label_model is not None and self.label_model.key == self.key

    @property
    def shown(self) -> ModelOutput | None:
        """The model whose probabilities the dashboard shows: the label model when it is up to
        date with these LFs, majority vote otherwise."""
        return self.label_model if self.label_model_current else self.majority


def _hist(proba: np.ndarray, covered: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    k = proba.shape[1]
    return np.histogram(proba[covered].max(axis=1), bins=bins, range=(1 / k, 1.0))


def model_output(name: str, model: Any, L_train: np.ndarray, L_dev: np.ndarray, Y_dev: np.ndarray | None,
                 cardinality: int, bins: int = 20, random_state: int = 0, covered: np.ndarray | None = None) -> ModelOutput:
    """Probabilities, confidence histogram, class balance and dev scores of a fitted label model.

    ``model`` is a fitted :class:`workbench.generate.BaseLabelModel`; ``random_state`` breaks
    ties for the class balance. ``covered`` (rows of ``L_train`` some LF votes on) may be
    passed when already computed.
    """
    proba_train = np.asarray(model.predict_proba(L_train), dtype=float)
    proba_dev = np.asarray(model.predict_proba(L_dev), dtype=float) if len(L_dev) else np.zeros((0, cardinality))
    if covered is None:
        covered = (L_train != ABSTAIN).any(axis=1)
    counts, edges = _hist(proba_train, covered, bins)
    labels = proba_to_labels(proba_train[covered], "random", random_state=random_state)
    balance = np.bincount(labels, minlength=cardinality) / max(len(labels), 1)
    dev_scores = None
    if Y_dev is not None and len(L_dev):
        dev_covered = (L_dev != ABSTAIN).any(axis=1)
        dev_scores = {"coverage": float(dev_covered.mean()), "n": int(len(Y_dev))}
        if dev_covered.any():
            s = model.metrics(L_dev[dev_covered], Y_dev[dev_covered], tie_break="random")
            dev_scores.update(accuracy=s["accuracy"], f1_macro=s["f1_macro"])
        else:
            dev_scores.update(accuracy=float("nan"), f1_macro=float("nan"))
    accuracies = getattr(model, "lf_accuracies_", None)
    return ModelOutput(name, proba_train, proba_dev, counts, edges, balance, dev_scores,
                       None if accuracies is None else np.asarray(accuracies, dtype=float))


# ----------------------------------------------------------------------------------------
# Background label-model fits
# ----------------------------------------------------------------------------------------


class LabelModelRefitter:
    """Runs label-model fits on one worker thread: debounced, newest request wins.

    ``submit(key, *args)`` schedules ``fit(*args)`` ``debounce`` seconds later; a newer
    submission before it starts replaces it. ``on_done(key, result_or_exception)`` is called
    on the worker thread. ``wait()`` blocks until nothing is pending or running.
    """

    def __init__(self, fit: Callable[..., Any], on_done: Callable[[Hashable, Any], None], debounce: float = 0.5):
        self._fit = fit
        self._on_done = on_done
        self.debounce = float(debounce)
        self._cond = threading.Condition()
        self._pending: tuple | None = None
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, key: Hashable, *args: Any) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("this refitter is closed")
            self._pending = (key, args, time.monotonic() + self.debounce)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="workbench-label-model", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def cancel(self) -> None:
        """Drop the pending request (a running fit finishes; its result is delivered)."""
        with self._cond:
            self._pending = None
            self._cond.notify_all()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy or self._pending is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until idle; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and self._pending is None:
                    self._cond.wait()
                if self._closed:
                    return
                key, args, due = self._pending
                delay = due - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)  # a newer request may replace this one meanwhile
                    continue
                self._pending = None
                self._busy = True
            try:
                try:
                    result = self._fit(*args)
                except Exception as exc:  # delivered to on_done, shown in the dashboard
                    result = exc
                self._on_done(key, result)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


# ----------------------------------------------------------------------------------------
# Applying one LF, fast
# ----------------------------------------------------------------------------------------


@dataclass
class _Split:
    """One split the studio applies LFs to, with what it caches about it."""

    name: str
    df: pd.DataFrame
    key: str
    rows: list[Row] | None = None
    text_paths: dict = field(default_factory=dict)

    def row_objects(self) -> list[Row]:
        # Built once per split: the applier would rebuild them for every row-wise LF it runs.
        if self.rows is None:
            self.rows = row_objects(self.df)
        return self.rows

    def text_path(self, column: str) -> TextFastPath | None:
        """The split's ``column`` made ASCII once, on which keyword/regex LFs run (None if there is no such column)."""
        if column not in self.df.columns:
            return None
        if column not in self.text_paths:
            self.text_paths[column] = TextFastPath(self.df[column], rewrite=True)
        return self.text_paths[column]


# ----------------------------------------------------------------------------------------
# The studio state
# ----------------------------------------------------------------------------------------


@dataclass
class _Entry:
    lf: Any
    name: str
    kind: str
    fingerprint: str
    enabled: bool = True
    columns: dict = field(default_factory=dict)  # split -> (fingerprint, column)
    errors: list = field(default_factory=list)  # LFError per split


def _check_dataset(dataset: Any, train_split: str, dev_split: str | None) -> tuple[pd.DataFrame, pd.DataFrame | None, np.ndarray | None, list[str]]:
    if not hasattr(dataset, "splits") or not hasattr(dataset, "class_names"):
        raise TypeError(f"StudioState expects a workbench Dataset (load_youtube_spam(), load_table(...) wrapped in "
                        f"Dataset, load_wrench(...)), got {type(dataset).__name__}")
    if train_split not in dataset.splits:
        raise KeyError(f"dataset has no split {train_split!r}; splits are {sorted(dataset.splits)}")
    train = dataset.splits[train_split]
    dev = Y_dev = None
    if dev_split is not None:
        if dev_split not in dataset.splits:
            raise KeyError(f"dataset has no split {dev_split!r}; splits are {sorted(dataset.splits)} (pass dev_split=None to work without one)")
        dev = dataset.splits[dev_split]
        try:
            Y_dev = np.asarray(dataset.gold(dev_split), dtype=np.int64)
        except KeyError:
            Y_dev = None
        if Y_dev is not None and ((Y_dev < 0) | (Y_dev >= len(dataset.class_names))).any():
            Y_dev = None  # partially labeled: treat as unlabeled rather than scoring against -1
    return train, dev, Y_dev, list(dataset.class_names)


class StudioState:
    """The LF registry, cached label matrices, statistics, label models and history of one studio.

    Parameters
    ----------
    dataset : workbench.data.Dataset
        LFs are applied to ``train_split`` (the unlabeled pool: coverage, overlaps, conflicts,
        label model) and ``dev_split`` (hand-labeled: accuracies). The studio works on the
        splits as they are when it opens (their fingerprints are taken once).
    label_model : str, default "snorkel"
        A name in :data:`workbench.generate.LABEL_MODELS`: that model (built with
        ``label_model_settings`` as parameters) is fitted besides the live majority vote;
        ``"majority"`` shows majority vote only.
    background : bool, default True
        Fit the label model on a worker thread after edits pause for ``debounce`` seconds
        (the dashboard stays responsive); False fits it inside :meth:`refresh`.
    cache : LabelCache, optional
        Where LF columns are cached by (LF fingerprint, data fingerprint); the process-wide
        cache by default, so a re-opened studio does not re-apply unchanged LFs.
    bins : int
        Bins of the confidence histograms.
    progress_bar : bool or None
        Progress bar while a row-wise LF runs; None shows one from 50,000 rows.

    Examples
    --------
    >>> from workbench.data._dataset import load_youtube_spam
    >>> from workbench.labeling._lf import keyword_lf
    >>> state = StudioState(load_youtube_spam(), label_model="majority")
    >>> state.add(keyword_lf("kw_subscribe", ["subscribe"], 1))  # doctest: +ELLIPSIS
    LFVersion(name='kw_subscribe', version=1, ...)
    >>> snap = state.refresh()
    >>> snap.names, round(snap.summary.loc["kw_subscribe", "Dev Acc."], 2)  # doctest: +SKIP
    (['kw_subscribe'], 1.0)
    """

    def __init__(self, dataset: Any, *, train_split: str = "train", dev_split: str | None = "dev",
                 label_model: str = "snorkel", label_model_settings: dict | None = None, background: bool = True,
                 debounce: float = 0.5, cache: LabelCache | None = None, bins: int = 20,
                 id_column: str = "example_id", text_column: str = "text", fit_cache_size: int = 8,
                 progress_bar: bool | None = None):
        try:
            model_class = LABEL_MODELS[label_model]
        except KeyError as exc:
            raise ValueError(f"label_model: {exc.args[0]}") from None
        train, dev, self.Y_dev, self.class_names = _check_dataset(dataset, train_split, dev_split)
        self.dataset_name = getattr(dataset, "name", "dataset")
        self.cardinality = len(self.class_names)
        self.train_split, self.dev_split = train_split, dev_split
        self.id_column, self.text_column = id_column, text_column
        self.splits = {"train": _Split(train_split, train, data_fingerprint(train))}
        if dev is not None:
            self.splits["dev"] = _Split(dev_split, dev, data_fingerprint(dev))
        self.label_model = label_model
        self.label_model_settings = dict(label_model_settings or {})
        # Built now so that a wrong setting fails here, not later on the worker thread; each fit clones it.
        self._label_model = model_class(cardinality=self.cardinality, **self.label_model_settings)
        self.background = background
        self.bins = bins
        self.progress_bar = progress_bar
        self.cache = cache if cache is not None else DEFAULT_CACHE
        self.history = LFHistory()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._generation = 0
        self._lock = threading.RLock()
        self._fits: OrderedDict[tuple, ModelOutput | Exception] = OrderedDict()
        self._fit_cache_size = fit_cache_size
        self._listeners: list[Callable[[Snapshot], None]] = []
        # Majority vote is always shown live: a second, background copy of it would add nothing.
        self._refitter = (None if model_class is MajorityVote
                          else LabelModelRefitter(self._fit_label_model, self._fit_done, debounce))
        self.snapshot: Snapshot | None = None

    # -- registry -------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Every registered LF's name, in order."""
        return list(self._entries)

    @property
    def lfs(self) -> list[Any]:
        return [e.lf for e in self._entries.values()]

    def lf(self, name: str) -> Any:
        return self._entry(name).lf

    def enabled(self, name: str) -> bool:
        return self._entry(name).enabled

    def _entry(self, name: str) -> _Entry:
        if name not in self._entries:
            raise KeyError(f"no LF named {name!r}; LFs are {self.names}")
        return self._entries[name]

    def add(self, lf: Any, *, enabled: bool | None = None) -> LFVersion | None:
        """Register ``lf``; an LF with the same name is replaced in place (its on/off switch kept).

        Returns the new :class:`LFVersion`, or None when the code did not change.
        """
        name = lf_name(lf)
        kind = lf_kind(lf)
        fingerprint = lf_fingerprint(lf)
        with self._lock:
            old = self._entries.get(name)
            if old is not None:
                old.lf, old.kind, old.fingerprint = lf, kind, fingerprint
                if enabled is not None:
                    old.enabled = bool(enabled)
            else:
                self._entries[name] = _Entry(lf, name, kind, fingerprint, True if enabled is None else bool(enabled))
            return self.history.record(name, _display_source(lf), fingerprint, kind)

    def remove(self, name: str) -> None:
        """Drop an LF from the registry (its history stays)."""
        with self._lock:
            self._entry(name)
            del self._entries[name]

    def set_enabled(self, name: str, enabled: bool) -> None:
        with self._lock:
            self._entry(name).enabled = bool(enabled)

    def enable(self, name: str) -> None:
        self.set_enabled(name, True)

    def disable(self, name: str) -> None:
        self.set_enabled(name, False)

    def active_names(self) -> list[str]:
        """Names of the LFs in ``L``: switched on and without errors (as of the last refresh)."""
        return [e.name for e in self._entries.values() if e.enabled and not e.errors and "train" in e.columns]

    # -- applying -------------------------------------------------------------------------

    def _apply(self, entry: _Entry, split: _Split) -> tuple[np.ndarray, LFError | None, bool]:
        """(column, error, ran) for one LF on one split: from the cache, or by running it."""
        key = (entry.fingerprint, split.key)
        cached = self.cache.get(key) if self.cache is not None else None
        if cached is not None:
            return cached, None, False
        df, n = split.df, len(split.df)
        applier = LFApplier([entry.lf], cardinality=self.cardinality, cache=False, id_column=self.id_column,
                            text_column=self.text_column)
        fault = LFFault(entry.name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LFFaultWarning)  # faults are shown in the dashboard instead
                text_column = text_column_of(entry.lf)
                path = split.text_path(text_column) if text_column is not None else None
                if path is not None:
                    # A builder LF cannot raise once its column exists, but its label may be out of range.
                    column = applier._validate_column(entry.name, path.run(entry.lf), df, fault, tolerant=True)
                else:
                    rows = None if is_vectorized(entry.lf) else split.row_objects()
                    show = rows is not None and (self.progress_bar if self.progress_bar is not None else n >= PROGRESS_MIN_ROWS)
                    column = applier.apply(df, fault_tolerant=True, data_key=split.key, progress_bar=show, rows=rows)[:, 0]
                    fault = applier.faults_.get(entry.name, fault)
        except Exception as exc:  # LFApplyError (bad shape or dtype), or a crash outside the LF call
            error = LFError(entry.name, split.name, n, n, [{"row": None, "example_id": None, "text": None,
                                                             "error": f"{type(exc).__name__}: {exc}"}])
            return np.full(n, ABSTAIN, dtype=label_dtype(self.cardinality)), error, True
        column = np.asarray(column, dtype=label_dtype(self.cardinality))
        if fault.count:
            return column, LFError(entry.name, split.name, fault.count, n, list(fault.first_rows)), True
        if self.cache is not None:
            self.cache.put(key, column)
        return column, None, True

    def _update_columns(self) -> list[str]:
        applied = []
        for entry in self._entries.values():
            try:
                entry.fingerprint = lf_fingerprint(entry.lf)  # catches edits to globals the LF reads
            except Exception as exc:
                entry.errors = [LFError(entry.name, "train", 0, 0, [{"row": None, "example_id": None, "text": None,
                                                                      "error": f"fingerprint failed: {exc}"}])]
                continue
            if all(entry.columns.get(s, (None,))[0] == entry.fingerprint for s in self.splits):
                continue
            if self.history.latest(entry.name) is None or self.history.latest(entry.name).fingerprint != entry.fingerprint:
                self.history.record(entry.name, _display_source(entry.lf), entry.fingerprint, entry.kind)
            entry.errors = []
            for sname, split in self.splits.items():
                column, error, ran = self._apply(entry, split)
                entry.columns[sname] = (entry.fingerprint, column)
                if error is not None:
                    entry.errors.append(error)
                if ran and entry.name not in applied:
                    applied.append(entry.name)
        return applied

    def needs_refresh(self) -> bool:
        """True if an LF's fingerprint changed since the last refresh (e.g. a global it reads)."""
        for entry in self._entries.values():
            try:
                if entry.columns.get("train", (None,))[0] != lf_fingerprint(entry.lf):
                    return True
            except Exception:
                return True
        return self.snapshot is None

    # -- statistics -----------------------------------------------------------------------

    def refresh(self) -> Snapshot:
        """Re-apply changed LFs, recompute every statistic from cached columns; return the snapshot.

        ``snapshot.summary`` has one row per registered LF: ``Status`` (on / off / error),
        ``Kind``, ``Version``, Snorkel's ``j``, ``Polarity``, ``Coverage``, ``Overlaps``,
        ``Conflicts`` on the pool (an LF that is off is compared with the LFs that are on), then
        ``Dev Coverage``, ``Dev Correct``, ``Dev Incorrect``, ``Dev Acc.`` (NaN without dev
        votes) and ``Learned Acc.`` (the label model's ``lf_accuracies_``, when it is up to date).
        """
        with self._lock:
            t0 = time.perf_counter()
            applied = self._update_columns()
            t_apply = time.perf_counter()
            active = self.active_names()
            key = tuple((n, self._entries[n].fingerprint) for n in active)
            L_train = self._matrix(active, "train")
            L_dev = self._matrix(active, "dev")
            covered = (L_train != ABSTAIN).any(axis=1)  # shared by several statistics below
            summary = self._summary(active, L_train, covered)
            overlap, conflict = overlap_matrix(L_train, active), conflict_matrix(L_train, active)
            t_stats = time.perf_counter()
            majority = None
            if active:
                mv = MajorityVote(cardinality=self.cardinality).fit(L_train)
                majority = model_output("majority vote", mv, L_train, L_dev, self.Y_dev, self.cardinality, self.bins,
                                        covered=covered)
                majority.key = key
            t_model = time.perf_counter()
            self._generation += 1
            snap = Snapshot(
                generation=self._generation, key=key, names=active, L_train=L_train, L_dev=L_dev, Y_dev=self.Y_dev,
                summary=summary, overlap=overlap, conflict=conflict,
                total_coverage=float(covered.mean()) if active and len(covered) else 0.0,
                conflict_rate=conflict_rate(L_train) if active else 0.0,
                majority=majority, label_model=None, label_model_status="", errors=self.errors(),
                applied=applied, timings={"apply": t_apply - t0, "stats": t_stats - t_apply, "majority": t_model - t_stats},
            )
            self.snapshot = snap
            self._record_version_stats(snap)
            self._schedule_label_model(snap)
            snap.timings["total"] = time.perf_counter() - t0
            return snap

    def _matrix(self, names: Sequence[str], split: str) -> np.ndarray:
        if split not in self.splits:
            return np.zeros((0, len(names)), dtype=label_dtype(self.cardinality))
        n = len(self.splits[split].df)
        if not names:
            return np.zeros((n, 0), dtype=label_dtype(self.cardinality))
        return np.column_stack([self._entries[name].columns[split][1] for name in names]).astype(label_dtype(self.cardinality), copy=False)

    def _summary(self, active: list[str], L_train: np.ndarray, covered: np.ndarray) -> pd.DataFrame:
        cols = ["Status", "Kind", "Version", "j", "Polarity", "Coverage", "Overlaps", "Conflicts",
                "Dev Coverage", "Dev Correct", "Dev Incorrect", "Dev Acc.", "Learned Acc."]
        out = pd.DataFrame(index=pd.Index(self.names, name="LF"), columns=cols, dtype=object)
        out["Status"] = ["error" if e.errors else ("on" if e.enabled else "off") for e in self._entries.values()]
        out["Kind"] = [e.kind for e in self._entries.values()]
        out["Version"] = [(self.history.latest(n).version if self.history.latest(n) else 0) for n in self.names]
        if active:
            train = lf_summary(L_train, active)
            out.loc[active, ["j", "Polarity", "Coverage", "Overlaps", "Conflicts"]] = train[["j", "Polarity", "Coverage", "Overlaps", "Conflicts"]].to_numpy(object)
        for name, entry in self._entries.items():
            if name in active or entry.errors or "train" not in entry.columns:
                continue
            col = entry.columns["train"][1]
            fires = col != ABSTAIN
            disagree = ((L_train != ABSTAIN) & (L_train != col[:, None])).any(axis=1) if active else np.zeros(len(col), bool)
            out.at[name, "Polarity"] = sorted(int(v) for v in np.unique(col[fires]))
            out.at[name, "Coverage"] = fires.mean() if len(col) else 0.0
            out.at[name, "Overlaps"] = (fires & covered).mean() if len(col) else 0.0
            out.at[name, "Conflicts"] = (fires & disagree).mean() if len(col) else 0.0
        if "dev" in self.splits:
            for name, entry in self._entries.items():
                if entry.errors or "dev" not in entry.columns:
                    continue
                col = entry.columns["dev"][1]
                fires = col != ABSTAIN
                out.at[name, "Dev Coverage"] = fires.mean() if len(col) else 0.0
                if self.Y_dev is not None:
                    correct = int((fires & (col == self.Y_dev)).sum())
                    votes = int(fires.sum())
                    out.at[name, "Dev Correct"] = correct
                    out.at[name, "Dev Incorrect"] = votes - correct
                    out.at[name, "Dev Acc."] = correct / votes if votes else np.nan
        for c in ("Coverage", "Overlaps", "Conflicts", "Dev Coverage", "Dev Acc.", "Learned Acc."):
            out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
        for c in ("j", "Dev Correct", "Dev Incorrect"):
            out[c] = pd.to_numeric(out[c], errors="coerce").astype("Int64")
        out["Version"] = out["Version"].astype(int)
        return out

    def errors(self) -> list[LFError]:
        return [err for e in self._entries.values() for err in e.errors]

    def _record_version_stats(self, snap: Snapshot) -> None:
        mv_acc = snap.majority.dev_scores.get("accuracy") if snap.majority and snap.majority.dev_scores else None
        for name, entry in self._entries.items():
            version = self.history.latest(name)
            if version is None or version.stats is not None or version.fingerprint != entry.fingerprint:
                continue
            if entry.errors:
                version.stats = {"error": entry.errors[0].message()}
                continue
            row = snap.summary.loc[name]
            version.stats = {
                "enabled": bool(entry.enabled),
                "polarity": list(row["Polarity"]) if isinstance(row["Polarity"], list) else [],
                **{key: json_safe(row[col]) for key, col in (
                    ("coverage", "Coverage"), ("overlaps", "Overlaps"), ("conflicts", "Conflicts"),
                    ("dev_coverage", "Dev Coverage"), ("dev_correct", "Dev Correct"), ("dev_accuracy", "Dev Acc."))},
                "dev_votes": json_safe(row["Dev Correct"] + row["Dev Incorrect"]) if pd.notna(row["Dev Correct"]) else None,
                "set_total_coverage": float(snap.total_coverage),
                "set_majority_dev_accuracy": json_safe(mv_acc),
                "set_size": len(snap.names),
            }

    # -- label model ----------------------------------------------------------------------

    def _schedule_label_model(self, snap: Snapshot) -> None:
        if self._refitter is None:
            snap.label_model_status = "majority vote only"
            return
        if len(snap.names) < self._label_model.min_lfs:
            snap.label_model_status = f"needs at least {self._label_model.min_lfs} LFs switched on (has {len(snap.names)})"
            self._refitter.cancel()
            return
        fit = self._fits.get(snap.key)
        if fit is not None:
            self._fits.move_to_end(snap.key)
            self._refitter.cancel()
            _show_fit(snap, fit)
            return
        previous = self.snapshot_label_model()
        snap.label_model = previous
        snap.label_model_status = "refitting"
        if self.background:
            self._refitter.submit(snap.key, snap.key, snap.L_train, snap.L_dev)
        else:
            result: ModelOutput | Exception
            try:
                result = self._fit_label_model(snap.key, snap.L_train, snap.L_dev)
            except Exception as exc:
                result = exc
            self._store_fit(snap.key, result)

    def snapshot_label_model(self) -> ModelOutput | None:
        """The most recent successful label-model fit (for any LF set), or None."""
        for fit in reversed(self._fits.values()):
            if isinstance(fit, ModelOutput):
                return fit
        return None

    def _fit_label_model(self, key: tuple, L_train: np.ndarray, L_dev: np.ndarray) -> ModelOutput:
        if threading.current_thread() is not threading.main_thread():
            import torch

            # Per thread (OpenMP and MKL settings are thread-local): the fit's matrices are tiny
            # (LFs x classes), and a second torch thread would only take the core the dashboard needs.
            torch.set_num_threads(1)
        t0 = time.perf_counter()
        model = clone(self._label_model).fit(L_train)
        out = model_output(self.label_model, model, L_train, L_dev, self.Y_dev, self.cardinality, self.bins)
        out.key, out.fit_seconds = key, time.perf_counter() - t0
        out.settings = {**model.get_params(), "n_rows": int(len(L_train))}
        return out

    def _store_fit(self, key: tuple, result: ModelOutput | Exception) -> Snapshot | None:
        with self._lock:
            self._fits[key] = result
            self._fits.move_to_end(key)
            while len(self._fits) > self._fit_cache_size:
                self._fits.popitem(last=False)
            snap = self.snapshot
            if snap is None or snap.key != key:
                return None  # an older LF set: kept for when it comes back, not shown
            _show_fit(snap, result)
            return snap

    def _fit_done(self, key: tuple, result: ModelOutput | Exception) -> None:
        snap = self._store_fit(key, result)
        if snap is not None:
            for listener in list(self._listeners):
                listener(snap)

    def on_label_model(self, callback: Callable[[Snapshot], None]) -> None:
        """Call ``callback(snapshot)`` (on the worker thread) when a background fit lands for the current LFs."""
        self._listeners.append(callback)

    def wait_label_model(self, timeout: float | None = None) -> bool:
        """Block until no label-model fit is pending or running; False on timeout."""
        return True if self._refitter is None else self._refitter.wait(timeout)

    @property
    def fits_label_model(self) -> bool:
        """Whether a label model besides the live majority vote is fitted (not with ``label_model="majority"``)."""
        return self._refitter is not None

    @property
    def label_model_busy(self) -> bool:
        return self._refitter is not None and self._refitter.busy

    def close(self) -> None:
        """Stop the label-model worker thread."""
        if self._refitter is not None:
            self._refitter.close()

    # -- browsing -------------------------------------------------------------------------

    def browse(self, kind: str = "fires", lf: str | None = None, other: str | None = None, split: str = "train",
               page: int = 0, page_size: int = 10) -> tuple[int, pd.DataFrame]:
        """(number of matching rows, one page of them) from the current snapshot.

        ``kind`` is ``fires`` (rows where ``lf`` votes), ``wrong`` (dev rows where ``lf``
        disagrees with the gold label), ``conflict`` (``lf`` disagrees with ``other``, or with any
        LF), ``abstain`` (no LF votes) or ``overlap`` (``lf`` and ``other`` both vote). Pages
        have ``example_id``, ``text``, one ``vote_<lf>`` column per active LF, ``gold`` on dev and
        ``p_<class>`` from the shown model.
        """
        snap = self.snapshot if self.snapshot is not None else self.refresh()
        if kind not in BROWSE_KINDS:
            raise ValueError(f"kind must be one of {BROWSE_KINDS}, got {kind!r}")
        if kind == "wrong":
            split = "dev"
        if split not in self.splits:
            raise KeyError(f"no {split!r} split in this studio; it has {sorted(self.splits)}")
        if split == "dev" and kind == "wrong" and self.Y_dev is None:
            raise ValueError("'wrong on dev' needs dev gold labels; this dataset's dev split has none")
        for name in (lf, other):
            if name is not None and name not in snap.names:
                raise KeyError(f"LF {name!r} is not switched on (or failing); active LFs are {snap.names}")
        L = snap.L_train if split == "train" else snap.L_dev
        Y = self.Y_dev if split == "dev" else None
        shown = snap.shown
        proba = None if shown is None else (shown.proba_train if split == "train" else shown.proba_dev)
        df = self.splits[split].df
        columns = (self.id_column, self.text_column)
        if kind == "overlap":
            rows = examples(df, L, snap.names, "fires", lf=lf, Y=Y, proba=proba, class_names=self.class_names,
                            columns=columns)
            if other is not None and other != lf:
                rows = rows[rows[vote_column(other)] != ABSTAIN]
        else:
            rows = examples(df, L, snap.names, kind, lf=lf, other=other if kind == "conflict" else None, Y=Y,
                            proba=proba, class_names=self.class_names, columns=columns)
        start = max(page, 0) * page_size
        return len(rows), rows.iloc[start : start + page_size]

    # -- saving ---------------------------------------------------------------------------

    def to_code(self) -> str:
        """Source of a module with every registered LF (``ALL_LFS``) and the active ones (``LFS``)."""
        snap = self.snapshot if self.snapshot is not None else self.refresh()
        active = [self._entries[n].lf for n in snap.names]
        lines = [f"Labeling functions saved from the Workbench LF Studio on {datetime.now(timezone.utc).isoformat(timespec='seconds')}.",
                 "",
                 f"Dataset {self.dataset_name!r}; statistics on its {self.train_split!r} split"
                 + (f" and dev accuracy on {self.dev_split!r}" if self.Y_dev is not None else "") + ".",
                 "", "    from labeling_functions import LFS  # the LFs that were switched on, in order",
                 "    L = workbench.labeling.apply_lfs(df, LFS)", "",
                 f"{'LF':<24} {'status':<7} {'version':>7} {'coverage':>9} {'dev acc':>8}  fingerprint"]
        for name, row in snap.summary.iterrows():
            lines.append(f"{name:<24} {row['Status']:<7} {'v' + str(row['Version']):>7} "
                         f"{_fmt(row['Coverage']):>9} {_fmt(row['Dev Acc.']):>8}  {self._entries[name].fingerprint}")
        return lfs_to_code(self.lfs, active, "\n".join(lines))

    def save_lfs(self, path: str | os.PathLike, verify: bool = True, verify_rows: int = 2000) -> Path:
        """Write the LFs as an importable Python module, atomically.

        With ``verify`` (default), the module is first executed in a fresh namespace and its
        ``LFS`` applied to the dev split and the first ``verify_rows`` pool rows; the file is
        written only if that rebuilds the studio's ``L`` exactly.

        Raises
        ------
        LFSaveError
            An LF cannot be written as code, or the written code does not rebuild ``L``
            (naming the LFs); nothing is written then.
        """
        path = Path(path)
        code = self.to_code()
        if verify:
            self._verify_code(code, path, verify_rows)
        atomic_write(path, code)
        return path

    def _verify_code(self, code: str, path: Path, verify_rows: int) -> None:
        snap = self.snapshot
        try:
            module = execute_lf_source(code, path, register=False)
        except Exception as exc:
            raise LFSaveError(f"the saved module would not import: {type(exc).__name__}: {exc}") from exc
        saved = list(module.LFS)
        if [lf_name(lf) for lf in saved] != snap.names:
            raise LFSaveError(f"the saved module's LFS are {[lf_name(lf) for lf in saved]}, expected {snap.names}")
        checks = [("train", snap.L_train[:verify_rows], self.splits["train"].df.iloc[:verify_rows])]
        if "dev" in self.splits:
            checks.append(("dev", snap.L_dev, self.splits["dev"].df))
        for split, expected, df in checks:
            if not saved or not len(df):
                continue
            try:
                got = LFApplier(saved, cardinality=self.cardinality, cache=False).apply(df, progress_bar=False)
            except Exception as exc:
                raise LFSaveError(f"the saved LFs fail on the {split} split: {exc}") from exc
            differ = [n for j, n in enumerate(snap.names) if not np.array_equal(got[:, j], expected[:, j])]
            if differ:
                raise LFSaveError(f"the saved code of {differ} labels the {split} split differently from the studio; "
                                  "not written")


def _show_fit(snap: Snapshot, fit: ModelOutput | Exception) -> None:
    if isinstance(fit, Exception):
        snap.label_model_status = f"failed: {type(fit).__name__}: {fit}"
        return
    snap.label_model, snap.label_model_status = fit, "up to date"
    if fit.lf_accuracies is not None:
        snap.summary.loc[snap.names, "Learned Acc."] = fit.lf_accuracies




def _fmt(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value):.3f}"
