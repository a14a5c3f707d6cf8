"""Handing freed memory back to the system (workbench._internal.memory)."""

import pyarrow as pa

from workbench._internal import memory


def test_release_unused_memory_asks_pyarrows_pool_and_malloc(monkeypatch):
    calls = []

    class Pool:
        def release_unused(self):
            calls.append("pyarrow")

    monkeypatch.setattr(pa, "default_memory_pool", Pool)
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: calls.append(("malloc_trim", pad)) or 1)
    memory.release_unused_memory()
    assert calls == ["pyarrow", ("malloc_trim", 0)]


def test_without_malloc_trim_only_pyarrow_is_asked(monkeypatch):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    memory.release_unused_memory()  # no error on a libc without malloc_trim


def test_malloc_trim_is_found_on_glibc_and_not_elsewhere(monkeypatch):
    import sys

    memory._malloc_trim.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    assert memory._malloc_trim() is None
    memory._malloc_trim.cache_clear()
    monkeypatch.undo()
    trim = memory._malloc_trim()
    if sys.platform.startswith("linux") and trim is not None:  # glibc: the call returns 0 or 1
        assert trim(0) in (0, 1)
    memory._malloc_trim.cache_clear()
