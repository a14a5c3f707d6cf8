"""Memory that allocators keep once it is freed, handed back to the system between the steps of a large job.

pyarrow's pool (mimalloc or jemalloc) and glibc's ``malloc`` both keep freed memory for reuse. After a
step that made and dropped large temporaries (normalising a million texts, say), that memory stays in
the process, so the next step's peak sits on top of it: at a million rows the pipeline held 0.2-0.3
GB that way. Dask's workers trim their memory for the same reason.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where there is none (another libc, another system)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_unused_memory() -> None:
    """Return the memory that pyarrow's pool and ``malloc`` keep after it was freed to the system
    (best effort: what is still in use stays, and a platform without these calls is left alone)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
