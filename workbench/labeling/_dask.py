"""The Dask engine: :func:`apply_dask` (``apply_lfs(..., engine="dask")``) applies LFs partition by
partition on a Dask cluster, for corpora that outgrow one machine's memory or LF sets dominated by
slow row-wise Python LFs that several cores or machines can share. It returns exactly the ``L``
the local engine returns on the same data and raises or reports the same faults, with row
positions counted over the whole table.

By default it starts a temporary ``LocalCluster`` of 2 worker *processes* (one thread each) and
shuts it down afterwards. Processes, not threads: LFs are Python code (row-wise LFs, and the
regexes pandas runs with Python's ``re``) that holds the GIL, so threads would take turns on one
core. Give ``client=`` (a ``distributed.Client``) or ``scheduler=`` (an address such as
``"tcp://10.0.0.5:8786"``) to use a cluster you run; inside ``with Client(...):`` that client
is used. Workers need the packages the LFs import (``workbench``, snorkel, ...). Dask is
imported only when the Dask engine is used.
"""

from __future__ import annotations

import math
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from workbench._internal.progress import PROGRESS_MIN_ROWS
from workbench._internal.validation import label_dtype
from workbench.labeling._apply import LFApplier, LFApplyError, LFFault, LFFaultWarning

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

PARTITION_ROWS = 100_000
#: How many example rows a fault keeps (``LFFault.add``'s default).
_KEEP_ROWS = 5

# A strict run reports the first LF with a problem and, for that LF, the first kind of problem in
# the order the local engine checks them (row-wise problems in row order, so they rank alike).
_KIND_ORDER = {"raised": 0, "returned": 0, "invalid": 1, "out_of_range": 2}


class RemoteTraceback(Exception):
    """The traceback of an LF's exception on a Dask worker, chained to the ``LFApplyError``."""

    def __str__(self) -> str:
        return "\n" + self.args[0]


@dataclass
class _PartitionError:
    """The ``LFApplyError`` a strict run stopped at in one partition, and the traceback of its cause."""

    lf_index: int
    error: LFApplyError
    remote_traceback: str | None


@dataclass
class _PartitionResult:
    n_rows: int
    L: np.ndarray | None
    faults: dict[str, LFFault]
    error: _PartitionError | None


class _PartitionApplier(LFApplier):
    """Applies the LFs to one partition and returns what went wrong instead of raising it."""

    def apply_partition(self, partition: pd.DataFrame, fault_tolerant: bool) -> _PartitionResult:
        try:
            with warnings.catch_warnings():  # the driver warns once, for the whole table
                warnings.simplefilter("ignore", LFFaultWarning)
                L = self.apply(partition, fault_tolerant=fault_tolerant, progress_bar=False)
        except LFApplyError as exc:
            cause = exc.__cause__
            error = _PartitionError(
                lf_index=len(self.applied_),  # no cache: every LF before the failing one ran
                error=exc,
                remote_traceback="".join(traceback.format_exception(cause)) if cause is not None else None,
            )
            return _PartitionResult(len(partition), None, {}, error)
        return _PartitionResult(len(partition), L, self.faults_, None)


def _apply_partition(partition: pd.DataFrame, template: _PartitionApplier, fault_tolerant: bool) -> _PartitionResult:
    """Task run on a worker; a fresh applier per task, as a worker may run several at once in threads."""
    applier = _PartitionApplier(template.lfs, template.cardinality, cache=False, n_jobs=1,  # workers run side by side
                                id_column=template.id_column, text_column=template.text_column)
    return applier.apply_partition(partition, fault_tolerant)


@contextmanager
def _client_session(client: Client | None, scheduler: Any, n_workers: int) -> Iterator[Client]:
    if client is not None and scheduler is not None:
        raise ValueError("pass either client= or scheduler=, not both")
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster, default_client

    if scheduler is not None:
        with Client(scheduler, set_as_default=False) as connected:  # closes the connection, not the cluster
            yield connected
        return
    try:
        current = default_client()
    except ValueError:
        current = None
    if current is not None:
        yield current
        return
    # The dashboard on a free loopback port: ":8787" may be taken by another user's cluster.
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster, set_as_default=False) as started:
        yield started


class DaskLFApplier(LFApplier):
    """Apply LFs with Dask, partition by partition; same ``L`` and faults as :class:`LFApplier`.

    Parameters
    ----------
    lfs : sequence of LFs
        Vectorized LFs run once per partition, row-wise (Snorkel) LFs row by row in it.
    cardinality : int or None, default None
        As in :class:`~workbench.labeling.LFApplier` (None: from the labels the LFs declare).
    client : distributed.Client, optional
        Cluster to use. ``scheduler`` may give an address (or a Cluster object) instead.
        With neither, the current default client is used if there is one, else a temporary
        ``LocalCluster`` of ``n_workers`` single-threaded processes, shut down afterwards.
    npartitions : int, optional
        How many partitions a pandas DataFrame is cut into; by default about 100,000 rows
        each and at least two per worker thread. A Dask DataFrame keeps its partitions.
    id_column, text_column : str
        Columns quoted in error messages to name the offending row.

    Attributes
    ----------
    faults_ : dict of str to LFFault
        After a fault-tolerant ``apply``: the LFs that raised or returned bad values, with
        rows counted over the whole table.
    partition_rows_ : list of int
        After ``apply``: the rows of each partition, in order (``L`` stacks their blocks), so that a
        caller can send each partition its own block of ``L`` back.

    Notes
    -----
    There is no LF-column cache: hashing a distributed table would cost a pass over it.
    A strict run (``fault_tolerant=False``) finishes every partition before raising, so that
    the error names the same LF and row as the local engine would. The only message that can
    differ is a vectorized LF's wrong-shape error, which quotes the partition's length.

    Examples
    --------
    >>> from workbench.labeling._lf import keyword_lf
    >>> applier = DaskLFApplier([keyword_lf("kw_sub", ["subscribe"], 1)])  # doctest: +SKIP
    >>> applier.apply(pd.DataFrame({"text": ["subscribe!", "hi"]})).tolist()  # doctest: +SKIP
    [[1], [-1]]
    """

    def __init__(self, lfs: Sequence[Any], cardinality: int | None = None, *, client: Client | None = None,
                 scheduler: Any = None, n_workers: int = 2, npartitions: int | None = None,
                 id_column: str = "example_id", text_column: str = "text"):
        super().__init__(lfs, cardinality=cardinality, cache=False, id_column=id_column, text_column=text_column)
        self.client = client
        self.scheduler = scheduler
        self.n_workers = n_workers
        self.npartitions = npartitions

    def apply(self, data: pd.DataFrame | dd.DataFrame, *, fault_tolerant: bool = False,
              progress_bar: bool | None = None) -> np.ndarray:
        """Return ``L`` (rows of ``data`` x LFs) as a NumPy array on this machine."""
        import dask
        import dask.dataframe as dd
        from distributed import as_completed

        if not isinstance(data, (pd.DataFrame, dd.DataFrame)):
            raise TypeError(f"apply expects a pandas or Dask DataFrame, got {type(data).__name__}")
        show = progress_bar if progress_bar is not None else (isinstance(data, dd.DataFrame) or len(data) >= PROGRESS_MIN_ROWS)
        self._check_picklable()
        template = _PartitionApplier(self.lfs, self.cardinality, cache=False,
                                     id_column=self.id_column, text_column=self.text_column)
        with _client_session(self.client, self.scheduler, self.n_workers) as client:
            # Fresh keys (hash=False): a content-hashed key can still be being released from the last call.
            remote_template = client.scatter(template, broadcast=True, hash=False)
            if isinstance(data, pd.DataFrame):
                threads = sum(client.nthreads().values())
                n_parts = self.npartitions or max(2 * threads, math.ceil(len(data) / PARTITION_ROWS))
                bounds = np.linspace(0, len(data), min(n_parts, max(len(data), 1)) + 1).astype(int)
                parts = client.scatter([data.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:])], hash=False)
                futures = client.map(_apply_partition, parts, template=remote_template,
                                     fault_tolerant=fault_tolerant, pure=False)
            else:
                task = dask.delayed(_apply_partition, pure=False)
                futures = client.compute([task(part, remote_template, fault_tolerant) for part in data.to_delayed()])
            done = as_completed(futures, loop=client.loop)
            for _ in tqdm(done, total=len(futures), desc="Applying LFs (Dask)", disable=not show, leave=False):
                pass
            results: list[_PartitionResult] = client.gather(futures)
        return self._combine(results)

    def _check_picklable(self) -> None:
        """Workers get the LFs pickled: say which LF cannot be, rather than a serialization traceback."""
        import cloudpickle

        for name, lf in zip(self.names, self.lfs):
            try:
                cloudpickle.dumps(lf)
            except Exception as exc:
                raise TypeError(f"LF {name!r} cannot be sent to Dask workers ({type(exc).__name__}: {exc}); "
                                "an LF must be picklable (load models and open files inside it, not around it)") from exc

    def _combine(self, results: list[_PartitionResult]) -> np.ndarray:
        self.partition_rows_ = [r.n_rows for r in results]
        offsets = np.concatenate([[0], np.cumsum(self.partition_rows_)]).astype(int)
        errors = [(r.error, int(offsets[p])) for p, r in enumerate(results) if r.error is not None]
        if errors:
            first, offset = min(errors, key=lambda e: (e[0].lf_index, _KIND_ORDER[e[0].error.kind], e[1]))
            same = [e.error for e, _ in errors if e.lf_index == first.lf_index and e.error.kind == first.error.kind]
            total = sum(e.count for e in same) if first.error.count is not None else None
            cause = RemoteTraceback(first.remote_traceback) if first.remote_traceback else None
            raise first.error.at_offset(offset, total) from cause
        self.applied_ = list(self.names)
        self.faults_ = {}
        for name in self.names:
            parts = [(r.faults[name], int(offsets[p])) for p, r in enumerate(results) if name in r.faults]
            if parts:
                rows = [dict(row, row=row["row"] + offset) for fault, offset in parts for row in fault.first_rows]
                self.faults_[name] = LFFault(name, sum(f.count for f, _ in parts), rows[:_KEEP_ROWS])
        if self.faults_:
            warnings.warn(self.fault_report(), LFFaultWarning, stacklevel=3)
        blocks = [r.L for r in results]
        empty = np.empty((0, len(self.lfs)), dtype=label_dtype(self.cardinality))
        return np.concatenate([empty, *blocks]) if blocks else empty


def apply_dask(data: pd.DataFrame | dd.DataFrame, lfs: Sequence[Any], *, cardinality: int | None = None,
               fault_tolerant: bool = False, client: Client | None = None, scheduler: Any = None,
               n_workers: int = 2, npartitions: int | None = None, progress_bar: bool | None = None) -> np.ndarray:
    """Apply ``lfs`` with Dask and return ``L``, exactly as ``apply_lfs`` would on one machine.

    Parameters
    ----------
    data : pandas or Dask DataFrame
    lfs : iterable of LFs
    cardinality : int or None, default None
        As in :func:`workbench.labeling.apply_lfs`.
    fault_tolerant : bool, default False
        As in :func:`workbench.labeling.apply_lfs`; fault reports count rows over the whole table.
    client, scheduler : where to run (see :class:`DaskLFApplier`); by default a temporary
        2-worker ``LocalCluster``.
    n_workers : int, default 2
        Worker processes of the temporary ``LocalCluster``.
    npartitions : int, optional
        Partitions for a pandas DataFrame (default: ~100,000 rows each).
    progress_bar : bool or None
        Progress bar over partitions; ``None`` shows one from 50,000 rows.

    Examples
    --------
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> from workbench.labeling._lf import keyword_lf
    >>> df = pd.DataFrame({"text": ["subscribe to my channel", "great song"]})
    >>> with LocalCluster(n_workers=2, processes=True) as cluster, Client(cluster) as client:  # doctest: +SKIP
    ...     apply_dask(df, [keyword_lf("kw_sub", ["subscribe"], 1)], client=client).tolist()
    [[1], [-1]]
    """
    return DaskLFApplier(list(lfs), cardinality=cardinality, client=client, scheduler=scheduler, n_workers=n_workers,
                         npartitions=npartitions).apply(data, fault_tolerant=fault_tolerant, progress_bar=progress_bar)
