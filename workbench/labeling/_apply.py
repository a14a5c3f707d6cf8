"""Apply labeling functions to a DataFrame and get the label matrix ``L``.

``L`` has one row per example and one column per LF, holds ``ABSTAIN`` (-1) or a label
``0..k-1``, and is stored as ``int8`` (the smallest type that holds the labels; pass
``L.astype(int)`` where a library wants wider integers). Vectorized LFs run on whole
columns; row-wise (Snorkel) LFs run row by row on light-weight row objects. Each LF's
column is cached by (LF fingerprint, data fingerprint), so re-applying a set in which one
LF changed runs only that LF. Row-wise LFs on large tables run on every core, in forked
worker processes (see :class:`LFApplier`'s ``n_jobs``).
"""

from __future__ import annotations

import hashlib
import pickle
import warnings
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench._internal.parallel import PROCESS_MIN_ROWS, forked_pool, inherited, share_rows, worker_processes
from workbench._internal.progress import PROGRESS_MIN_ROWS
from workbench._internal.validation import ABSTAIN, label_dtype, lf_name
from workbench.labeling._fastpath import TextFastPath, text_column_of
from workbench.labeling._lf import check_unique_names, is_vectorized, lf_cache_key

#: Rows of each LF's faults kept for the report (all are counted).
FAULT_ROWS_KEPT = 5


class LFApplyError(RuntimeError):
    """An LF raised, or returned something that is not a label; the message names LF and row.

    The fields say the same thing for programs: ``lf`` (its name), ``kind`` (one of
    :attr:`KINDS`), ``row`` (position in the table, or None when the problem is the whole
    column), ``example_id``, ``text`` and ``count`` (rows with this problem, where counted).
    ``message`` is the text with ``{where}`` and ``{count}`` standing for the row and the count,
    so that an engine that applied a part of the table can restate the error for the whole
    table with :meth:`at_offset` instead of editing the message.
    """

    #: In the order the applier checks a vectorized LF's output; row-wise problems
    #: ("raised", "returned") are reported in row order.
    KINDS = ("raised", "returned", "invalid", "out_of_range")

    def __init__(self, lf: str, kind: str, message: str, *, row: int | None = None, example_id: Any = None,
                 text: Any = None, count: int | None = None):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.lf, self.kind, self.message = lf, kind, message
        self.row, self.example_id, self.text, self.count = row, example_id, text, count
        super().__init__(self._render())

    def _render(self) -> str:
        where = "" if self.row is None else f"row {self.row} (example_id={self.example_id!r}, text={_short(self.text)!r})"
        return self.message.format(lf=repr(self.lf), where=where, count=self.count)

    def at_offset(self, offset: int, count: int | None = None) -> "LFApplyError":
        """The same error for a table in which this part starts at row ``offset`` (and ``count`` rows in all)."""
        return LFApplyError(self.lf, self.kind, self.message, row=None if self.row is None else self.row + offset,
                            example_id=self.example_id, text=self.text, count=self.count if count is None else count)

    def __reduce__(self):  # Dask ships errors between processes; rebuild from the fields, not the text
        return (_rebuild_apply_error, (self.lf, self.kind, self.message, self.row, self.example_id, self.text, self.count))


def _rebuild_apply_error(lf, kind, message, row, example_id, text, count) -> LFApplyError:
    return LFApplyError(lf, kind, message, row=row, example_id=example_id, text=text, count=count)


class LFFaultWarning(UserWarning):
    """Fault-tolerant application recorded LF faults: those votes are missing, not abstentions."""


class Row(dict):
    """A row that reads like a ``pd.Series`` (``x.text`` or ``x["text"]``) at a fraction of its cost."""

    __slots__ = ()

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __reduce__(self):
        return (Row, (dict(self),))


def row_objects(df: pd.DataFrame) -> list[Row]:
    """One :class:`Row` per row of ``df``, for row-wise LFs.

    Built from column lists: ``DataFrame.to_dict("records")`` is about three times slower
    under pandas 3, which row-wise LFs on large tables pay in full.
    """
    columns = list(df.columns)
    if not columns:
        return [Row() for _ in range(len(df))]
    return [Row(zip(columns, values)) for values in zip(*(df[c].tolist() for c in columns))]


@dataclass
class LFFault:
    """What went wrong with one LF under fault-tolerant application."""

    lf: str
    count: int = 0
    first_rows: list[dict] = field(default_factory=list)

    def add(self, position: int, example_id: Any, text: Any, error: str, keep: int = FAULT_ROWS_KEPT) -> None:
        self.count += 1
        if len(self.first_rows) < keep:
            self.first_rows.append({"row": position, "example_id": example_id, "text": _short(text), "error": error})


def _literal(*parts: Any) -> str:
    """A message template from parts: braces in what an LF said (its exception, its value) are kept literally.

    The first and last parts are templates already (``{lf}``, ``{where}``); the middle ones are data.
    """
    if len(parts) == 1:
        return parts[0]
    first, *middle, last = parts
    return first + "".join(str(p).replace("{", "{{").replace("}", "}}") for p in middle) + last


def _short(text: Any, width: int = 80) -> str:
    s = "" if text is None else str(text)
    return s if len(s) <= width else s[: width - 1] + "…"


def data_fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's values, index, column names and dtypes."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    try:
        hashed = pd.util.hash_pandas_object(df, index=True)
    except TypeError:  # unhashable cells (lists, dicts): fall back to their text form
        hashed = pd.util.hash_pandas_object(df.astype(str), index=True)
    h.update(hashed.to_numpy().tobytes())
    return h.hexdigest()


class LabelCache:
    """LRU cache of LF columns keyed by (LF fingerprint, data fingerprint), bounded in bytes."""

    def __init__(self, max_bytes: int = 512 * 2**20):
        self.max_bytes = max_bytes
        self._store: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, str]) -> np.ndarray | None:
        column = self._store.get(key)
        if column is None:
            self.misses += 1
            return None
        self._store.move_to_end(key)
        self.hits += 1
        return column

    def put(self, key: tuple[str, str], column: np.ndarray) -> None:
        if key in self._store:
            return
        column = column.copy()
        column.flags.writeable = False
        self._store[key] = column
        self._bytes += column.nbytes
        while self._bytes > self.max_bytes and len(self._store) > 1:
            _, old = self._store.popitem(last=False)
            self._bytes -= old.nbytes

    def clear(self) -> None:
        self._store.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._store)


#: The process-wide cache ``apply_lfs`` uses unless given another (or ``cache=False``).
DEFAULT_CACHE = LabelCache()


def declared_cardinality(lfs: Sequence[Any]) -> int:
    """The number of classes the LFs declare: their largest declared label plus one (at least 2).

    Raises
    ------
    ValueError
        Naming the LFs that declare no labels (Snorkel LFs, ``@vectorized_lf`` without ``labels=``).
    """
    undeclared = [lf_name(lf) for lf in lfs if not getattr(lf, "labels", ())]
    if undeclared:
        raise ValueError(f"cannot tell the number of classes: LF(s) {undeclared} do not declare the labels they vote "
                         "(a Snorkel LF, or @vectorized_lf without labels=); pass cardinality= (dataset.cardinality)")
    return max([2] + [max(lf.labels) + 1 for lf in lfs])


class LFApplier:
    """Apply a list of LFs to DataFrames, with caching and clear fault reports.

    Parameters
    ----------
    lfs : sequence of LFs
        Vectorized LFs (builders, ``@vectorized_lf``) and/or Snorkel ``LabelingFunction`` s.
        Names must be unique.
    cardinality : int or None, default None
        Number of classes ``k``; every vote must lie in ``-1..k-1``. None: the largest label
        the LFs declare, plus one (at least 2): ``keyword_lf``, ``regex_lf`` and
        ``@vectorized_lf(labels=...)`` declare theirs. With an LF that declares none (a Snorkel
        ``@labeling_function``) nothing tells the number of classes: pass ``dataset.cardinality``.
    cache : LabelCache, False or None
        ``None`` uses the process-wide cache, ``False`` none.
    id_column, text_column : str
        Columns quoted in error messages to name the offending row.
    n_jobs : int or None
        How many cores to use. Keyword/regex builder LFs run side by side on ``n_jobs`` threads
        (their matching runs in pyarrow, outside the GIL; ``None``: ``pyarrow.cpu_count()``).
        Row-wise (Snorkel) LFs run on ``n_jobs`` worker processes, each applying every row-wise
        LF to its share of the rows (``None``: every core the process may use, from
        :data:`PROCESS_MIN_ROWS` rows; below that, starting processes costs more than it saves).
        ``L``, faults and error messages are the same as on one process. The workers are forked,
        so an LF need not be picklable (lambdas and closures work), but what an LF changes
        outside its return value (a counter, a cache it fills) changes in the worker only: pass
        ``n_jobs=1`` for such LFs, or for LFs calling libraries that do not survive a fork.
        Where the platform cannot fork (not Linux), row-wise LFs run on one process, said once.
        Other vectorized LFs always run one after the other, in this process.

    Attributes
    ----------
    faults_ : dict of str to LFFault
        After a fault-tolerant ``apply``: the LFs that raised or returned bad values.
    applied_ : list of str
        Names of the LFs actually run (not served from the cache) by the last ``apply``.

    Examples
    --------
    >>> from workbench.labeling._lf import keyword_lf
    >>> applier = LFApplier([keyword_lf("kw_sub", ["subscribe"], 1)])
    >>> applier.apply(pd.DataFrame({"text": ["subscribe!", "hi"]})).tolist()
    [[1], [-1]]
    """

    def __init__(self, lfs: Sequence[Any], cardinality: int | None = None, cache: LabelCache | bool | None = None,
                 id_column: str = "example_id", text_column: str = "text", n_jobs: int | None = None):
        self.lfs = list(lfs)
        self.names = check_unique_names(self.lfs)
        if cardinality is None:
            cardinality = declared_cardinality(self.lfs)
        if not isinstance(cardinality, (int, np.integer)) or cardinality < 2:
            raise ValueError(f"cardinality must be an int >= 2, got {cardinality!r}")
        self.cardinality = int(cardinality)
        if cache is None or cache is True:
            cache = DEFAULT_CACHE
        self.cache = cache if isinstance(cache, LabelCache) else None
        self.id_column = id_column
        self.text_column = text_column
        if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1):
            raise ValueError(f"n_jobs must be None or an int >= 1, got {n_jobs!r}")
        self.n_jobs = n_jobs
        self.faults_: dict[str, LFFault] = {}
        self.applied_: list[str] = []
        self._text_paths: dict[str, Any] = {}  # text column -> workbench.labeling.TextFastPath
        self._pending: dict[str, Future] = {}  # LF name -> its votes, being computed on a thread

    def apply(self, df: pd.DataFrame, *, fault_tolerant: bool = False, progress_bar: bool | None = None,
              data_key: str | None = None, rows: list[Row] | None = None) -> np.ndarray:
        """Return ``L`` (``len(df)`` x ``len(lfs)``) for ``df``.

        ``data_key`` may pass a precomputed :func:`data_fingerprint` of ``df``, and ``rows``
        its :func:`row_objects`, when the caller keeps them for an unchanged table (the
        studio does, to skip re-hashing it and rebuilding rows for every row-wise LF).
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"apply expects a pandas DataFrame, got {type(df).__name__}")
        n = len(df)
        show = progress_bar if progress_bar is not None else n >= PROGRESS_MIN_ROWS
        dkey = data_key or (data_fingerprint(df) if self.cache is not None else "")
        L = np.full((n, len(self.lfs)), ABSTAIN, dtype=label_dtype(self.cardinality))
        self.faults_, self.applied_ = {}, []
        self._text_paths = {}
        # None: the LF reads something that cannot be fingerprinted, so its votes bypass the cache
        keys = [None if self.cache is None or (lf_key := lf_cache_key(lf)) is None else (lf_key, dkey)
                for lf in self.lfs]
        cached = [self.cache.get(key) if key is not None else None for key in keys]
        if rows is not None and len(rows) != n:
            raise ValueError(f"rows has {len(rows)} row objects for a table of {n} rows")
        to_run = [lf for lf, c in zip(self.lfs, cached) if c is None]
        rowwise = [lf for lf in to_run if not is_vectorized(lf)]
        # processes first: forking while the builder LFs' threads run would copy their half-done state
        with self._rowwise_on_processes(df, rows, rowwise, fault_tolerant, show) as on_processes, \
                self._text_lfs_on_threads(df, to_run):
            for j, lf in enumerate(tqdm(self.lfs, desc="Applying LFs", disable=not show, leave=False)):
                if cached[j] is not None:
                    L[:, j] = cached[j]
                    continue
                fault = LFFault(self.names[j])
                if is_vectorized(lf):
                    column = self._run_vectorized(lf, df, fault, fault_tolerant)
                else:
                    if on_processes is not None:
                        outcome = on_processes.outcome(lf.name)
                    else:
                        if rows is None:
                            rows = row_objects(df)
                        outcome = _rowwise_outcome(lf, tqdm(rows, desc=lf.name, disable=not show, leave=False),
                                                   len(rows), self.cardinality, fault_tolerant)
                    column = self._report_rowwise(lf, df, outcome, fault, fault_tolerant)
                L[:, j] = column
                self.applied_.append(self.names[j])
                if fault.count:
                    self.faults_[fault.lf] = fault
                elif keys[j] is not None:  # never cache a column with faults: a fix must re-run it
                    self.cache.put(keys[j], L[:, j])
        if self.faults_:
            warnings.warn(self.fault_report(), LFFaultWarning, stacklevel=2)
        return L

    def fault_report(self) -> str:
        """Plain-text summary of ``faults_``."""
        lines = []
        for f in self.faults_.values():
            first = f.first_rows[0]
            lines.append(
                f"LF {f.lf!r} failed on {f.count} row(s); those votes are missing, not abstentions. "
                f"First: row {first['row']} (example_id={first['example_id']!r}, text={first['text']!r}): {first['error']}"
            )
        return "\n".join(lines)

    def faults_frame(self) -> pd.DataFrame:
        """One row per recorded fault (LF, count, row, example id, text, error)."""
        records = [{"lf": f.lf, "count": f.count, **r} for f in self.faults_.values() for r in f.first_rows]
        return pd.DataFrame(records, columns=["lf", "count", "row", "example_id", "text", "error"])

    def _row_ident(self, df: pd.DataFrame, i: int) -> tuple[Any, Any]:
        ident = df[self.id_column].iloc[i] if self.id_column in df.columns else df.index[i]
        text = df[self.text_column].iloc[i] if self.text_column in df.columns else None
        return ident, text

    def _row_fields(self, df: pd.DataFrame, i: int) -> dict:
        ident, text = self._row_ident(df, i)
        return {"row": i, "example_id": ident, "text": text}

    def _text_path(self, lf, df: pd.DataFrame) -> Any:
        """The ``TextFastPath`` of the column a keyword/regex builder LF reads; None for other LFs."""
        column = text_column_of(lf)
        if column is None or column not in df.columns:  # a missing column: the LF raises its own message
            return None
        if column not in self._text_paths:
            self._text_paths[column] = TextFastPath(df[column])
        return self._text_paths[column]

    @contextmanager
    def _text_lfs_on_threads(self, df: pd.DataFrame, lfs: list) -> Iterator[None]:
        """Start the keyword/regex builder LFs among ``lfs`` on a thread pool; the loop collects them in order."""
        import pyarrow as pa

        paths = [(lf, self._text_path(lf, df)) for lf in lfs if is_vectorized(lf)]
        paths = [(lf, path) for lf, path in paths if path is not None]
        workers = min(self.n_jobs or pa.cpu_count(), len(paths))
        if workers < 2:
            yield
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="workbench-lf") as pool:
            self._pending = {lf.name: pool.submit(path.run, lf) for lf, path in paths}
            try:
                for path in {id(path): path for _, path in paths}.values():
                    if not path.direct:
                        path.prepare()  # while the threads match the ASCII rows
                yield
            finally:
                for future in self._pending.values():  # an LF raised in strict mode: skip the rest
                    future.cancel()
                self._pending = {}

    def _call_vectorized(self, lf, df: pd.DataFrame) -> Any:
        """``lf(df)``; keyword/regex builder LFs go through ``workbench.labeling.TextFastPath`` (same votes)."""
        pending = self._pending.pop(lf.name, None)
        if pending is not None:
            return pending.result()
        path = self._text_path(lf, df)
        return lf(df) if path is None else path.run(lf)

    def _run_vectorized(self, lf, df: pd.DataFrame, fault: LFFault, tolerant: bool) -> np.ndarray:
        try:
            out = self._call_vectorized(lf, df)
        except Exception as exc:
            if not tolerant:
                raise LFApplyError(lf.name, "raised", _literal(f"LF {{lf}} raised {type(exc).__name__}: ", exc,
                                                               " (vectorized, on the whole table)")) from exc
            for i in range(min(len(df), 5)):
                fault.add(i, *self._row_ident(df, i), f"{type(exc).__name__}: {exc}")
            fault.count = len(df)
            return np.full(len(df), ABSTAIN)
        return self._validate_column(lf.name, out, df, fault, tolerant)

    def _validate_column(self, name: str, out: Any, df: pd.DataFrame, fault: LFFault, tolerant: bool) -> np.ndarray:
        if (isinstance(out, pd.Series) and len(out) == len(df) and not out.index.equals(df.index)
                and out.index.is_unique and out.index.isin(df.index).all()):
            out = out.reindex(df.index)  # the rows in another order (a sorted frame's): votes go where the index says
        arr = np.asarray(out)
        if arr.shape != (len(df),):
            raise LFApplyError(name, "invalid", _literal(f"LF {{lf}} returned shape {arr.shape}; a vectorized LF must "
                                                         f"return one label per row ({len(df)},)"))
        if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
            raise LFApplyError(name, "invalid", _literal(
                f"LF {{lf}} returned values of type {arr.dtype}; labels must be integers in "
                f"{ABSTAIN}..{self.cardinality - 1} (ABSTAIN={ABSTAIN}), e.g. np.where(mask, label, ABSTAIN)"))
        if arr.dtype.kind == "f":
            not_int = ~np.isfinite(arr) | (arr != np.round(arr))
            if not_int.any():
                i = int(np.flatnonzero(not_int)[0])
                raise LFApplyError(name, "invalid", _literal(f"LF {{lf}} returned {arr[i]!r} on {{where}}; "
                                                             "labels must be integers"), **self._row_fields(df, i))
        arr = arr.astype(np.int64)
        bad = (arr < ABSTAIN) | (arr >= self.cardinality)
        if bad.any():
            idx = np.flatnonzero(bad)
            if not tolerant:
                raise LFApplyError(name, "out_of_range", f"LF {{lf}} returned label {int(arr[idx[0]])} on {{where}}, "
                                   f"outside {ABSTAIN}..{self.cardinality - 1} ({{count}} such rows)"
                                   + (f"; if the task has {int(arr.max()) + 1} or more classes, pass "
                                      "cardinality=dataset.cardinality" if arr.max() >= self.cardinality else ""),
                                   count=len(idx), **self._row_fields(df, int(idx[0])))
            for i in idx:
                fault.add(int(i), *self._row_ident(df, int(i)), f"label {int(arr[i])} out of range")
            arr = np.where(bad, ABSTAIN, arr)
        return arr

    def _processes(self, n_rows: int, n_rowwise: int) -> int:
        """How many worker processes run the row-wise LFs (1: this process)."""
        return worker_processes(n_rows, self.n_jobs, what="row-wise LFs run") if n_rowwise else 1

    @contextmanager
    def _rowwise_on_processes(self, df: pd.DataFrame, rows: list[Row] | None, lfs: list, tolerant: bool,
                              show: bool) -> Iterator["_ProcessRun | None"]:
        """Start ``lfs`` (row-wise) on forked worker processes, each over a share of the rows; None when on one process."""
        jobs = self._processes(len(df), len(lfs))
        if jobs < 2:
            yield None
            return
        n = len(df)
        step = share_rows(n, jobs * 4)  # a few shares per process, so that one slow share does not hold up the rest
        shares = [(start, min(start + step, n)) for start in range(0, n, step)]
        with forked_pool(jobs, (df, rows, lfs, self.cardinality, tolerant)) as pool:
            yield _ProcessRun([lf.name for lf in lfs], pool.imap(_rowwise_share, shares), shares,
                              tqdm(total=n, desc=f"Row-wise LFs on {jobs} processes", unit="rows", disable=not show,
                                   leave=False))

    def _report_rowwise(self, lf, df: pd.DataFrame, outcome: "_RowwiseOutcome", fault: LFFault,
                        tolerant: bool) -> np.ndarray:
        """Raise the first problem of a row-wise LF (strict), or record its faults (tolerant); its votes."""
        for position, kind, message, error, cause in outcome.problems:
            if not tolerant:
                raise LFApplyError(lf.name, kind, message, **self._row_fields(df, position)) from cause
            fault.add(position, *self._row_ident(df, position), error)
        fault.count += outcome.count - len(outcome.problems)  # counted beyond the rows kept
        return outcome.votes


@dataclass
class _RowwiseOutcome:
    """A row-wise LF's votes on some rows and its problems there, in row order.

    ``problems`` holds ``(position, kind, message, error, cause)``: the :class:`LFApplyError`
    fields, the fault text and the exception the LF raised (None if it returned a bad value);
    the first one only when strict, the first
    :data:`FAULT_ROWS_KEPT` when fault-tolerant, with ``count`` of them in all.
    """

    votes: np.ndarray
    problems: list[tuple]
    count: int


def _rowwise_outcome(lf, rows: Iterable, n_rows: int, cardinality: int, tolerant: bool) -> _RowwiseOutcome:
    """Run a row-wise LF on ``rows``: the one loop of both the in-process and the worker-process path."""
    votes = np.full(n_rows, ABSTAIN, dtype=label_dtype(cardinality))
    problems: list[tuple] = []
    count = 0
    for i, row in enumerate(rows):
        try:
            value = lf(row)
        except Exception as exc:
            problem = (i, "raised", _literal(f"LF {{lf}} raised {type(exc).__name__}: ", exc, " on {where}"),
                       f"{type(exc).__name__}: {exc}", exc)
        else:
            if not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer)) and ABSTAIN <= value < cardinality:
                votes[i] = value
                continue
            hint = " (did you forget `return ABSTAIN`?)" if value is None else ""
            problem = (i, "returned", _literal("LF {lf} returned ", repr(value),
                                               f" on {{where}}; expected an int in {ABSTAIN}..{cardinality - 1}{hint}"),
                       f"returned {value!r}", None)
        count += 1
        if len(problems) < FAULT_ROWS_KEPT:
            problems.append(problem)
        if not tolerant:
            break
    return _RowwiseOutcome(votes, problems, count)


def _travels(exc: BaseException) -> BaseException:
    """``exc`` if it can be sent back from a worker process (pickled), else a stand-in that says what it was."""
    try:
        pickle.dumps(exc)
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc} (raised in a worker process; the exception itself "
                            "cannot be pickled to send it back)")
    return exc


def _rowwise_share(share: tuple[int, int]) -> list[_RowwiseOutcome]:
    """In a forked worker: every row-wise LF on rows ``start:stop``, positions counted over the whole table."""
    df, rows, lfs, cardinality, tolerant = inherited()
    start, stop = share
    part = rows[start:stop] if rows is not None else row_objects(df.iloc[start:stop])
    outcomes = []
    for lf in lfs:
        outcome = _rowwise_outcome(lf, part, len(part), cardinality, tolerant)
        outcome.problems = [(i + start, kind, message, error, cause if cause is None else _travels(cause))
                            for i, kind, message, error, cause in outcome.problems]
        outcomes.append(outcome)
    return outcomes


class _ProcessRun:
    """The row-wise LFs' outcomes from the worker processes, gathered on first ask, share by share in row order."""

    def __init__(self, names: list[str], shares: Iterator[list[_RowwiseOutcome]], bounds: list, bar):
        self._names, self._shares, self._bounds, self._bar = names, shares, bounds, bar
        self._outcomes: dict[str, _RowwiseOutcome] | None = None

    def outcome(self, name: str) -> _RowwiseOutcome:
        if self._outcomes is None:
            parts: list[list[_RowwiseOutcome]] = []
            for (start, stop), part in zip(self._bounds, self._shares):
                parts.append(part)
                self._bar.update(stop - start)
            self._bar.close()
            self._outcomes = {}
            for j, lf_name in enumerate(self._names):
                mine = [part[j] for part in parts]
                problems = [p for o in mine for p in o.problems][:FAULT_ROWS_KEPT]
                self._outcomes[lf_name] = _RowwiseOutcome(np.concatenate([o.votes for o in mine]), problems,
                                                          sum(o.count for o in mine))
        return self._outcomes[name]
