"""Forked worker processes for the work that runs on one core otherwise: row-wise LFs (Python per
row) and the text work of deduplication and the leakage check (pandas string kernels, MinHash).

Workers are forked, so what they need is inherited rather than pickled: the caller hands it to
:func:`forked_pool`, and a worker function reads it back with :func:`inherited`. Only the
workers' results travel back (pickled).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Rows from which work is spread over processes by default; below that, starting processes
#: costs more than it saves.
PROCESS_MIN_ROWS = 50_000

CAN_FORK = sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()
_SAID_NO_FORK = False
_FORK_LOCK = threading.Lock()
#: What forked workers read (:func:`inherited`), set only around the fork.
_INHERITED: Any = None


def available_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_processes(n_rows: int, n_jobs: int | None = None, *, what: str = "the work runs") -> int:
    """How many processes should share ``n_rows`` rows of work (1: this process alone).

    ``n_jobs=None`` uses every available core from :data:`PROCESS_MIN_ROWS` rows. Inside another
    pool's worker (Dask's, or ours) the answer is 1: the outer pool spreads the work already.
    Where the platform cannot fork, the answer is 1, said once with a warning ("``what`` on one process").
    """
    wanted = (available_cores() if n_rows >= PROCESS_MIN_ROWS else 1) if n_jobs is None else min(n_jobs, n_rows)
    if wanted < 2 or multiprocessing.current_process().daemon:
        return 1
    if not CAN_FORK:
        global _SAID_NO_FORK
        if not _SAID_NO_FORK:
            _SAID_NO_FORK = True
            warnings.warn(f"{what} on one process: worker processes need fork(), which {sys.platform} "
                          "does not offer safely", RuntimeWarning, stacklevel=3)
        return 1
    return wanted


def share_rows(n_rows: int, shares: int, at_most: int | None = None) -> int:
    """Rows per chunk that split ``n_rows`` rows into ``shares`` chunks (one per worker, or a few per worker),
    at most ``at_most`` rows, and at least one.

    >>> share_rows(10, 3), share_rows(10, 3, at_most=2), share_rows(0, 2)
    (4, 2, 1)
    """
    rows = -(-n_rows // shares)
    return max(1, rows if at_most is None else min(rows, at_most))


@contextmanager
def forked_pool(jobs: int, inherit: Any) -> Iterator[multiprocessing.pool.Pool]:
    """A pool of ``jobs`` forked workers that see ``inherit`` through :func:`inherited`; ended on exit."""
    global _INHERITED
    with _FORK_LOCK:
        _INHERITED = inherit
        try:
            pool = multiprocessing.get_context("fork").Pool(jobs)
        finally:
            _INHERITED = None  # the workers have their copy; do not keep it alive here
    try:
        yield pool
    finally:
        pool.terminate()
        pool.join()


def inherited() -> Any:
    """In a worker of :func:`forked_pool`: what the pool was started with."""
    return _INHERITED


def _run_task(task: Any) -> Any:
    """In a forked worker: the pool's work on one task, with what the pool was started with."""
    work, data = inherited()
    return work(data, task)


def map_chunks(work, data: Any, n_rows: int, *, chunk_rows: int, jobs: int) -> Iterator[tuple[int, int, Any]]:
    """``work(data, first, last)`` on every chunk of ``chunk_rows`` rows, on ``jobs`` forked workers
    (this process when ``jobs`` is 1); yields ``(first, last, result)`` in row order.

    ``data`` is inherited by the workers, not pickled; only the results travel back.
    """
    bounds = [(first, min(first + chunk_rows, n_rows)) for first in range(0, n_rows, chunk_rows)]
    if jobs < 2:
        for first, last in bounds:
            yield first, last, work(data, first, last)
        return
    with forked_pool(jobs, (lambda inherited_data, chunk: work(inherited_data, *chunk), data)) as pool:
        for (first, last), result in zip(bounds, pool.imap(_run_task, bounds)):
            yield first, last, result


@contextmanager
def pool_map(work, data: Any, jobs: int) -> Iterator[Any]:
    """A ``map(tasks)`` that returns ``[work(data, task) for task in tasks]``, for many calls on one pool of
    ``jobs`` forked workers (this process when ``jobs`` is 1), started once on entry.

    ``data`` is inherited by the workers, not pickled; the tasks and the results travel (pickled). It is
    for work in rounds, whose tasks are known only once the previous round's results are in: the
    workers fork once, not once per round.
    """
    if jobs < 2:
        yield lambda tasks: [work(data, task) for task in tasks]
        return
    with forked_pool(jobs, (work, data)) as pool:
        yield lambda tasks: pool.map(_run_task, tasks)

