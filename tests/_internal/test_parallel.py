"""Forked workers: chunks come back in row order, and work stays here when it should."""

import multiprocessing
import os

import numpy as np
import pytest

import workbench._internal.parallel as parallel
from workbench._internal.parallel import map_chunks, pool_map, worker_processes

pytestmark = pytest.mark.skipif(not parallel.CAN_FORK, reason="worker processes need fork()")


def _square_and_pid(data, first, last):
    return data[first:last] ** 2, os.getpid()


@pytest.mark.parametrize("jobs", [1, 2])
def test_chunks_come_back_in_row_order_from_the_workers(jobs):
    data = np.arange(103)
    out = list(map_chunks(_square_and_pid, data, len(data), chunk_rows=10, jobs=jobs))
    assert [(first, last) for first, last, _ in out] == [(f, min(f + 10, 103)) for f in range(0, 103, 10)]
    assert np.concatenate([result for _, _, (result, _) in out]).tolist() == (data ** 2).tolist()
    pids = {pid for _, _, (_, pid) in out}
    assert (pids == {os.getpid()}) if jobs == 1 else (os.getpid() not in pids)


def _scaled_and_pid(data, task):
    return data * task, os.getpid()


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_pool_map_answers_every_call_in_order_on_the_workers_it_started(jobs):
    data = np.arange(5)
    with pool_map(_scaled_and_pid, data, jobs) as run:
        first = run([1, 2, 3])
        data[:] = 0
        second = run([4])
    assert [r.tolist() for r, _ in first] == [[0, 1, 2, 3, 4], [0, 2, 4, 6, 8], [0, 3, 6, 9, 12]]
    # forked workers read the data as it was when they started; this process reads it as it is
    assert second[0][0].tolist() == ([0, 4, 8, 12, 16] if jobs > 1 else [0, 0, 0, 0, 0])
    pids = {pid for _, pid in first + second}
    assert (pids == {os.getpid()}) if jobs == 1 else (os.getpid() not in pids and len(pids) <= 2)


def test_worker_count_follows_size_cores_and_request(monkeypatch):
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert worker_processes(parallel.PROCESS_MIN_ROWS - 1) == 1  # small: not worth starting processes
    assert worker_processes(parallel.PROCESS_MIN_ROWS) == 3
    assert worker_processes(10, n_jobs=2) == 2 and worker_processes(1, n_jobs=4) == 1
    monkeypatch.setattr(multiprocessing.current_process(), "_config", {"daemon": True})  # inside another pool's worker
    assert worker_processes(parallel.PROCESS_MIN_ROWS, n_jobs=2) == 1
