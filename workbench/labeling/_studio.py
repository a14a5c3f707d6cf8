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
model (any name in :data:`workbench.generate.LABEL_MODELS`) is refitted inside every refresh when
it is ``live`` (fast: the default semi-supervised Dawid-Skene model, weighted vote), so the panel is
never stale; a slower one (Snorkel's ``LabelModel`` takes about half a second on 100,000 rows, the
hyper label model, ``auto``) is by default refitted off the main thread once edits pause
(:class:`LabelModelRefitter`); every :class:`Snapshot` says whether the label model it carries
is up to date with the LFs it shows. Fits are cached by LF set, so switching an LF off and on
again shows the earlier fit at once. :meth:`StudioState.compare_label_models` fits ``auto``'s
candidates side by side on demand.
"""

from __future__ import annotations

import hashlib
import inspect
import linecache
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
from workbench._internal.stats import wilson_interval
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
    VectorizedLF,
    is_vectorized,
    keyword_lf,
    lf_fingerprint,
    lf_kind,
    lf_name,
    lf_source,
    regex_lf,
)
from workbench.labeling._module import LFSaveError, execute_lf_source, lf_to_code, lfs_to_code

__all__ = [
    "FORM_KINDS", "LFError", "LFHistory", "LFVersion", "LabelModelRefitter", "ModelOutput", "Preview",
    "Snapshot", "StudioState", "form_lf", "lf_from_spec", "lf_spec",
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

    def extend(self, records: Sequence[dict]) -> None:
        """Take versions from :meth:`to_records` records (e.g. a saved session), oldest first per LF.

        Names that already have versions here keep their own; the rest get the recorded ones.
        """
        known = set(self._versions)
        for record in records:
            if record["name"] not in known:
                self._versions.setdefault(record["name"], []).append(LFVersion(**record))

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
# The no-code form: LFs as specs, and what a candidate LF would do before it is added
# ----------------------------------------------------------------------------------------

#: What the no-code form builds: a keyword list (comma-separated) or a regular expression.
FORM_KINDS = ("keywords", "regex")
#: Where an LF came from: the no-code form (saved as its spec) or code (saved as source).
ORIGINS = ("form", "code")
_BUILDERS = {"keyword_lf": keyword_lf, "regex_lf": regex_lf}


def lf_builder(lf: Any) -> str | None:
    """``"keyword_lf"``/``"regex_lf"`` for an LF those builders made, else None."""
    builder = getattr(lf, "builder", None) if isinstance(lf, VectorizedLF) else None
    return builder if builder in _BUILDERS else None


def form_lf(kind: str, pattern: str, label: int, name: str = "") -> VectorizedLF:
    r"""The LF the no-code form describes: ``kind`` "keywords" (``pattern`` comma-separated) or "regex".

    Without ``name``, one is made from the pattern (``kw_free_win``, ``re_check_out``).

    Raises
    ------
    ValueError
        Saying what to type: no keyword, no pattern, an invalid regular expression.

    Examples
    --------
    >>> form_lf("keywords", "free, gift card", 1).params["keywords"]
    ['free', 'gift card']
    >>> form_lf("regex", r"check\s+out", 1).name
    're_check_s_out'
    """
    if kind not in FORM_KINDS:
        raise ValueError(f"kind must be one of {FORM_KINDS}, got {kind!r}")
    text, name = str(pattern).strip(), str(name).strip()
    if kind == "keywords":
        keywords = [k.strip() for k in text.split(",") if k.strip()]
        if not keywords:
            raise ValueError("type at least one keyword (separate several with commas)")
        return keyword_lf(name or "kw_" + "_".join(k.lower().replace(" ", "_") for k in keywords[:2]), keywords, int(label))
    if not text:
        raise ValueError("type a regular expression")
    return regex_lf(name or "re_" + "_".join("".join(c if c.isalnum() else " " for c in text.lower()).split())[:24].strip("_"),
                    text, int(label))


def lf_spec(lf: Any) -> dict:
    """A keyword/regex LF as plain data: ``{"builder": ..., "params": {...}}`` (:func:`lf_from_spec` rebuilds it)."""
    builder = lf_builder(lf)
    if builder is None:
        raise ValueError(f"LF {lf_name(lf)!r} is not a keyword_lf or regex_lf; only those have a spec")
    return {"builder": builder, "params": json_safe(dict(lf.params))}


def lf_from_spec(spec: dict) -> VectorizedLF:
    """The keyword/regex LF a :func:`lf_spec` describes.

    Examples
    --------
    >>> lf = lf_from_spec(lf_spec(keyword_lf("kw", ["a", "b"], 1)))
    >>> lf.name, lf.params["keywords"]
    ('kw', ['a', 'b'])
    """
    builder = spec.get("builder") if isinstance(spec, dict) else None
    if builder not in _BUILDERS:
        raise ValueError(f"not an LF spec (builder must be one of {sorted(_BUILDERS)}): {spec!r}")
    return _BUILDERS[builder](**spec.get("params", {}))


@dataclass
class Preview:
    """What a candidate LF would do if it were added now (see :meth:`StudioState.preview`).

    Pool: ``pool_hits`` of ``n_pool`` rows; of those, ``overlap_rows`` are already voted on by an
    active LF (``conflict_rows`` of them with another label) and ``new_rows`` by none.
    ``by_lf`` counts overlaps and conflicts per active LF (most overlapping first);
    ``examples`` holds the first pool rows it fires on (id and raw text). Dev: ``dev_correct``
    of ``dev_votes`` votes agree with the gold label (None without dev labels). ``error`` says
    why the candidate cannot be built or run (then the counts are zero).
    """

    name: str
    label: int | None
    n_pool: int = 0
    pool_hits: int = 0
    new_rows: int = 0
    overlap_rows: int = 0
    conflict_rows: int = 0
    by_lf: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["LF", "overlap", "conflict"]))
    examples: pd.DataFrame = field(default_factory=pd.DataFrame)
    dev_votes: int | None = None
    dev_correct: int | None = None
    error: str | None = None

    @property
    def coverage(self) -> float:
        return self.pool_hits / self.n_pool if self.n_pool else 0.0

    @property
    def dev_precision(self) -> float:
        """Share of its dev votes that are right (NaN without dev votes)."""
        return self.dev_correct / self.dev_votes if self.dev_votes else float("nan")

    @property
    def dev_interval(self) -> tuple[float, float]:
        """95% Wilson interval of :attr:`dev_precision`."""
        return wilson_interval(self.dev_correct or 0, self.dev_votes or 0)

    def describe(self) -> str:
        """One plain-text line: pool hits, dev precision with count and interval, overlap."""
        if self.error is not None:
            return f"{self.name}: {self.error}"
        parts = [f"{self.name}: fires on {self.pool_hits:,} of {self.n_pool:,} pool rows ({self.coverage:.1%})"]
        parts.append(_dev_text(self.dev_correct, self.dev_votes))
        if self.pool_hits:
            parts.append(f"{self.new_rows:,} rows no LF covers yet, {self.overlap_rows:,} overlap with active LFs "
                         f"({self.conflict_rows:,} conflict)")
        return "; ".join(parts)


def _dev_text(correct: int | None, votes: int | None, what: str = "dev precision") -> str:
    """"dev precision 92% (12/13, 95% CI 67-99%)", or why there is none."""
    if votes is None:
        return "no dev labels"
    if not votes:
        return "no dev votes"
    low, high = wilson_interval(correct, votes)
    return f"{what} {correct / votes:.0%} ({correct}/{votes}, 95% CI {low:.0%}–{high:.0%})"


def _points(new: Any, old: Any) -> str:
    """" (+1.2 pts)" between two fractions, "" when either is missing."""
    if new is None or old is None or pd.isna(new) or pd.isna(old):
        return ""
    return f" ({(float(new) - float(old)) * 100:+.1f} pts)"


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
    origin: str = "code"  # "form": made by the no-code form, saved as its spec; "code": saved as source
    saved: tuple | None = None  # (fingerprint, origin, session record): the record is rebuilt only after an edit


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
    label_model : str, default "dawid_skene"
        A name in :data:`workbench.generate.LABEL_MODELS`: that model (built with
        ``label_model_settings`` as parameters) is fitted besides the live majority vote;
        ``"majority"`` shows majority vote only.
    background : bool, default True
        Fit a label model that is not ``live`` on a worker thread after edits pause for
        ``debounce`` seconds (the dashboard stays responsive); False fits it inside
        :meth:`refresh`. A ``live`` model is always fitted inside :meth:`refresh`.
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
                 label_model: str = "dawid_skene", label_model_settings: dict | None = None, background: bool = True,
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

    def add(self, lf: Any, *, enabled: bool | None = None, origin: str = "code") -> LFVersion | None:
        """Register ``lf``; an LF with the same name is replaced in place (its on/off switch kept).

        ``origin`` is ``"form"`` for an LF made by the no-code form (a keyword or regex LF, saved
        in a session as its spec), ``"code"`` otherwise (saved as source). Returns the new
        :class:`LFVersion`, or None when the code did not change.
        """
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {ORIGINS}, got {origin!r}")
        if origin == "form" and lf_builder(lf) is None:
            raise ValueError(f"LF {lf_name(lf)!r}: only keyword_lf/regex_lf LFs can come from the form")
        name = lf_name(lf)
        kind = lf_kind(lf)
        fingerprint = lf_fingerprint(lf)
        with self._lock:
            old = self._entries.get(name)
            if old is not None:
                old.lf, old.kind, old.fingerprint, old.origin = lf, kind, fingerprint, origin
                if enabled is not None:
                    old.enabled = bool(enabled)
            else:
                self._entries[name] = _Entry(lf, name, kind, fingerprint, True if enabled is None else bool(enabled),
                                             origin=origin)
            return self.history.record(name, _display_source(lf), fingerprint, kind)

    def origin(self, name: str) -> str:
        """``"form"`` (made by the no-code form) or ``"code"``."""
        return self._entry(name).origin

    def free_name(self, name: str) -> str:
        """``name``, or ``name_2``, ``name_3``... : the first that no registered LF has."""
        candidate, i = name, 2
        while candidate in self._entries:
            candidate, i = f"{name}_{i}", i + 1
        return candidate

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
        column, error = self._run(entry.name, entry.lf, split)
        if error is None and self.cache is not None:
            self.cache.put(key, column)
        return column, error, True

    def _run(self, name: str, lf: Any, split: _Split) -> tuple[np.ndarray, LFError | None]:
        """(column, error) of one LF on one split, computed now (faulty rows abstain in the column)."""
        df, n = split.df, len(split.df)
        applier = LFApplier([lf], cardinality=self.cardinality, cache=False, id_column=self.id_column,
                            text_column=self.text_column)
        fault = LFFault(name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", LFFaultWarning)  # faults are shown in the dashboard instead
                text_column = text_column_of(lf)
                path = split.text_path(text_column) if text_column is not None else None
                if path is not None:
                    # A builder LF cannot raise once its column exists, but its label may be out of range.
                    column = applier._validate_column(name, path.run(lf), df, fault, tolerant=True)
                else:
                    rows = None if is_vectorized(lf) else split.row_objects()
                    show = rows is not None and (self.progress_bar if self.progress_bar is not None else n >= PROGRESS_MIN_ROWS)
                    column = applier.apply(df, fault_tolerant=True, data_key=split.key, progress_bar=show, rows=rows)[:, 0]
                    fault = applier.faults_.get(name, fault)
        except Exception as exc:  # LFApplyError (bad shape or dtype), or a crash outside the LF call
            error = LFError(name, split.name, n, n, [{"row": None, "example_id": None, "text": None,
                                                       "error": f"{type(exc).__name__}: {exc}"}])
            return np.full(n, ABSTAIN, dtype=label_dtype(self.cardinality)), error
        column = np.asarray(column, dtype=label_dtype(self.cardinality))
        if fault.count:
            return column, LFError(name, split.name, fault.count, n, list(fault.first_rows))
        return column, None

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
        ``Dev Coverage``, ``Dev Correct``, ``Dev Incorrect``, ``Dev Acc.`` with its 95% Wilson
        interval ``Dev Acc. Low``/``Dev Acc. High`` (NaN without dev votes) and ``Learned Acc.`` (the label model's ``lf_accuracies_``, when it is up to date).
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
            t_lm = time.perf_counter()
            self._schedule_label_model(snap)
            snap.timings["label_model"] = time.perf_counter() - t_lm
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
                "Dev Coverage", "Dev Correct", "Dev Incorrect", "Dev Acc.", "Dev Acc. Low", "Dev Acc. High",
                "Learned Acc."]
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
                    out.at[name, "Dev Acc. Low"], out.at[name, "Dev Acc. High"] = wilson_interval(correct, votes)
        for c in ("Coverage", "Overlaps", "Conflicts", "Dev Coverage", "Dev Acc.", "Dev Acc. Low", "Dev Acc. High",
                  "Learned Acc."):
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
        if self.background and not self._label_model.live:
            self._refitter.submit(snap.key, snap.key, snap.L_train, snap.L_dev)
        else:
            result: ModelOutput | Exception
            try:
                result = self._fit_label_model(snap.key, snap.L_train, snap.L_dev)
            except Exception as exc:
                result = exc
            self._store_fit(snap.key, result)

    def compare_label_models(self) -> Any:
        """``auto``'s candidates fitted side by side on the current LFs (on demand: slower than a refresh).

        Returns the fitted :class:`workbench.generate.AutoLabelModel`: ``comparison_`` (dev accuracy,
        fit seconds and status per candidate), ``chosen_`` and ``reason_`` (choice, interval, reason).
        The dev set is only compared on, never fitted on.
        """
        from workbench.generate._select import AutoLabelModel

        snap = self.snapshot if self.snapshot is not None else self.refresh()
        if not snap.names:
            raise ValueError("no LF is switched on: nothing to compare the label models on")
        if snap.Y_dev is None:
            return AutoLabelModel(self.cardinality).fit(snap.L_train)
        return AutoLabelModel(self.cardinality).fit(snap.L_train, L_eval=snap.L_dev, y_eval=snap.Y_dev)

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

    # -- the no-code form's preview ---------------------------------------------------------

    def preview(self, lf: Any, n_examples: int = 5) -> Preview:
        """What ``lf`` would do if added now, computed without adding or caching it.

        Its votes on the pool and the dev set (faults make it an ``error`` preview), the first
        ``n_examples`` pool rows it fires on, dev precision with its count (interval:
        :attr:`Preview.dev_interval`), and its overlap and conflicts with the active LFs (an
        active LF of the same name, which it would replace, is left out).
        """
        name = lf_name(lf)
        label = getattr(lf, "params", {}).get("label")
        with self._lock:
            snap = self.snapshot if self.snapshot is not None else self.refresh()
            columns = {}
            for sname, split in self.splits.items():
                column, error = self._run(name, lf, split)
                if error is not None:
                    return Preview(name, label, error=error.message().replace(" It is left out of L until it is fixed.", ""))
                columns[sname] = column
            keep = [j for j, n in enumerate(snap.names) if n != name]
            others = [snap.names[j] for j in keep]
            fires = columns["train"] != ABSTAIN
            votes = (snap.L_train[:, keep] != ABSTAIN) & fires[:, None]
            disagree = votes & (snap.L_train[:, keep] != columns["train"][:, None])
            by_lf = pd.DataFrame({"LF": others, "overlap": votes.sum(axis=0), "conflict": disagree.sum(axis=0)})
            by_lf = by_lf[by_lf["overlap"] > 0].sort_values(["overlap", "conflict"], ascending=False, kind="stable")
            train = self.splits["train"].df
            shown = [c for c in (self.id_column, self.text_column) if c in train.columns]
            preview = Preview(name, label, n_pool=len(fires), pool_hits=int(fires.sum()),
                              new_rows=int((fires & ~votes.any(axis=1)).sum()), overlap_rows=int(votes.any(axis=1).sum()),
                              conflict_rows=int(disagree.any(axis=1).sum()), by_lf=by_lf.reset_index(drop=True),
                              examples=train.iloc[np.flatnonzero(fires)[:n_examples]][shown])
            if "dev" in columns and self.Y_dev is not None:
                dev_fires = columns["dev"] != ABSTAIN
                preview.dev_votes = int(dev_fires.sum())
                preview.dev_correct = int((dev_fires & (columns["dev"] == self.Y_dev)).sum())
            return preview

    # -- one line per LF, for the cell that changed it ----------------------------------------

    def result_line(self, name: str, since: int | None = None) -> str:
        """One plain-text line on LF ``name``: its version, pool coverage and dev accuracy with
        their change since version ``since`` (None: the LF is new), or FAILED with the reason.

        Examples: ``kw_free v3 (was v2): coverage 4.2% (+0.8 pts), dev accuracy 92% (12/13,
        95% CI 67–99%) (+5.0 pts)``; ``kw_bad v1 (new): FAILED: LF 'kw_bad' failed on ...``.
        """
        if name not in self._entries:
            return f"{name}: removed"
        entry = self._entries[name]
        version = self.history.latest(name)
        state = ("new" if since is None else "unchanged" if since == version.version else f"was v{since}")
        if not entry.enabled:
            state += ", switched off"
        head = f"{name} v{version.version} ({state})"
        stats = version.stats or {}
        if entry.errors or "error" in stats:
            return f"{head}: FAILED: {entry.errors[0].message() if entry.errors else stats['error']}"
        before = {}
        if since is not None and since != version.version:
            before = self.history.versions(name)[since - 1].stats or {}
        if "error" in before:
            before = {}
        line = f"{head}: coverage {_fmt_pct(stats.get('coverage'))}{_points(stats.get('coverage'), before.get('coverage'))}"
        if self.Y_dev is None or "dev" not in self.splits:
            return f"{line}, no dev labels"
        dev = _dev_text(stats.get("dev_correct") or 0, stats.get("dev_votes") or 0, "dev accuracy")
        return f"{line}, {dev}{_points(stats.get('dev_accuracy'), before.get('dev_accuracy'))}"

    # -- sessions: the studio's LFs as plain data, for a project store ---------------------------

    def to_session(self) -> dict:
        """The studio's LFs, their on/off state and version history as JSON-able data.

        Form LFs are kept as their spec (:func:`lf_spec`), code LFs as source written by the
        one LF module writer (:func:`workbench.labeling.lfs_to_code`). An LF that cannot be
        written as code is kept as ``{"name", "unsaved": reason}``. :meth:`restore_session`
        reads it back.
        """
        records = []
        with self._lock:
            for entry in self._entries.values():
                if entry.saved is None or entry.saved[:2] != (entry.fingerprint, entry.origin):
                    record: dict = {"name": entry.name, "origin": entry.origin, "kind": entry.kind}
                    if entry.origin == "form":
                        record["spec"] = lf_spec(entry.lf)
                    else:
                        try:
                            record["source"] = lfs_to_code([entry.lf], header=f"LF {entry.name!r}, saved by the LF Studio.")
                        except LFSaveError as exc:
                            record["unsaved"] = str(exc)
                    entry.saved = (entry.fingerprint, entry.origin, record)
                records.append({**entry.saved[2], "enabled": entry.enabled})
            return {"format": 1, "dataset": self.dataset_name, "lfs": records, "history": self.history.to_records()}

    def restore_session(self, session: dict) -> list[str]:
        """Add the LFs of a :meth:`to_session` record (in order, with their on/off state) and its history.

        Returns the problems, one sentence per LF that could not come back (an LF whose code
        could not be saved, or whose saved code no longer runs); the others are restored.
        """
        if not isinstance(session, dict) or session.get("format") != 1:
            raise ValueError(f"not a studio session (format 1): {str(session)[:200]}")
        problems = []
        with self._lock:
            self.history.extend(session.get("history", []))
            for record in session.get("lfs", []):
                name = record.get("name")
                try:
                    if "unsaved" in record:
                        raise LFSaveError(f"its code was not saved ({record['unsaved']}); run its cell again")
                    lf = lf_from_spec(record["spec"]) if "spec" in record else _lf_from_source(record["source"], name)
                    self.add(lf, enabled=record.get("enabled", True), origin=record.get("origin", "code"))
                except Exception as exc:
                    problems.append(f"LF {name!r} could not be restored: {type(exc).__name__}: {exc}")
        return problems

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
                 f"    L = workbench.labeling.apply_lfs(df, LFS, cardinality={self.cardinality})  # classes {self.class_names}", "",
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




def _fmt_pct(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.1%}"


def _lf_from_source(source: str, name: str) -> Any:
    """The LF named ``name`` from a one-LF module written by :func:`lfs_to_code`.

    The source is registered with :mod:`linecache` under the module's file name, so its
    functions have source code (fingerprints, saving and the history need it) although no
    such file exists.
    """
    path = Path(f"<workbench-studio-session>/{hashlib.sha256(source.encode()).hexdigest()[:16]}.py").resolve()
    linecache.cache[str(path)] = (len(source), None, source.splitlines(True), str(path))
    module = execute_lf_source(source, path)
    lfs = [lf for lf in getattr(module, "ALL_LFS", []) if lf_name(lf) == name]
    if not lfs:
        raise ValueError(f"the saved code defines no LF named {name!r}")
    return lfs[0]


def _fmt(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value):.3f}"
