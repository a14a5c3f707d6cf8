"""``apply_lfs``: one entry point over the engines, each of which depends on the core applier.

The local engine is :class:`~workbench.labeling.LFApplier`; the Dask engine
(:mod:`workbench.labeling._dask`) is imported only when asked for, so that Dask stays optional
at import time.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from workbench.labeling._apply import LabelCache, LFApplier


def apply_lfs(df: pd.DataFrame, lfs: Iterable[Any], *, cardinality: int | None = None, fault_tolerant: bool = False,
              cache: LabelCache | bool | None = None, progress_bar: bool | None = None, engine: str = "local",
              client: Any = None, scheduler: Any = None, n_jobs: int | None = None,
              data_key: str | None = None) -> np.ndarray:
    """Apply ``lfs`` to ``df`` and return the label matrix ``L`` (int8, ABSTAIN = -1).

    Parameters
    ----------
    df : DataFrame
        A pandas DataFrame; with ``engine="dask"`` also a Dask DataFrame.
    lfs : iterable of LFs
        Builder/vectorized LFs and Snorkel ``@labeling_function`` LFs, with unique names.
    cardinality : int or None, default None
        Number of classes; votes outside ``-1..cardinality-1`` are an error naming LF and row.
        None: the largest label the LFs declare plus one (builder LFs and ``@vectorized_lf(labels=...)``
        declare theirs); with a Snorkel LF, which declares none, pass ``dataset.cardinality``.
    fault_tolerant : bool, default False
        If False, the first LF that raises stops everything with an :class:`LFApplyError`
        naming the LF, the row (id and text) and the original exception. If True, failing
        rows get ABSTAIN in ``L`` and an :class:`LFFaultWarning` reports every failed LF
        (use :class:`LFApplier` and its ``faults_`` to inspect them).
    cache : LabelCache, False or None
        Cache of LF columns; ``None`` means the process-wide one. The Dask engine has none.
    progress_bar : bool or None
        Show a progress bar; ``None`` shows one from 50,000 rows.
    engine : {"local", "dask"}, default "local"
        ``"dask"`` applies the LFs partition by partition on a Dask cluster and returns the
        same ``L`` (see :mod:`workbench.labeling`).
    client, scheduler : Dask engine only
        A ``distributed.Client``, or a scheduler address; by default a temporary 2-worker
        ``LocalCluster``.
    n_jobs : int or None, local engine only
        Cores to use (see :class:`LFApplier`): threads for keyword/regex builder LFs (``None``:
        pyarrow's CPU count) and forked worker processes for row-wise LFs (``None``: every core,
        from :data:`~workbench.labeling.PROCESS_MIN_ROWS` rows); ``n_jobs=1`` for one of each.
    data_key : str or None, local engine only
        ``df``'s :func:`~workbench.labeling.data_fingerprint` when the caller has it (the pipeline
        records it when it loads the data), so the cache does not hash the table again.

    Examples
    --------
    >>> import pandas as pd
    >>> from workbench.labeling import keyword_lf, regex_lf
    >>> df = pd.DataFrame({"text": ["check out my channel", "love this song"]})
    >>> apply_lfs(df, [keyword_lf("kw_my", ["my"], 1), regex_lf("re_song", r"song", 0)]).tolist()
    [[1, -1], [-1, 0]]
    """
    if engine == "dask":
        if cache not in (None, False):
            raise ValueError("the Dask engine does not cache LF columns; leave cache= unset with engine='dask'")
        if n_jobs is not None or data_key is not None:
            raise ValueError("n_jobs= and data_key= are for engine='local'; the Dask engine runs one thread per worker "
                             "process and has no cache")
        from workbench.labeling._dask import (
            apply_dask,  # imports dask only when asked for
        )

        return apply_dask(df, lfs, cardinality=cardinality, fault_tolerant=fault_tolerant, client=client,
                          scheduler=scheduler, progress_bar=progress_bar)
    if engine != "local":
        raise ValueError(f"engine must be 'local' or 'dask', got {engine!r}")
    if client is not None or scheduler is not None:
        raise ValueError("client= and scheduler= are for engine='dask'")
    return LFApplier(list(lfs), cardinality=cardinality, cache=cache, n_jobs=n_jobs).apply(
        df, fault_tolerant=fault_tolerant, progress_bar=progress_bar, data_key=data_key
    )
