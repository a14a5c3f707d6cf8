"""Row ids: membership and position lookups that stay hashed at a million rows.

pandas 3 keeps strings in pyarrow arrays, and its ``isin`` there turns every looked-up value into a
pyarrow scalar one at a time (2.6 s for a million ids against half a million), while a hash table
of Python objects answers in a tenth of that. Ids are therefore compared as Python objects here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def id_index(ids) -> pd.Index:
    """``ids`` as an object Index, for hashed lookups (``get_indexer``, ``isin``)."""
    return pd.Index(np.asarray(ids, dtype=object), dtype=object)


def isin_ids(ids, values) -> np.ndarray:
    """Boolean mask over ``ids``: which of them are among ``values``.

    >>> isin_ids(["a", "b", "c"], ["c", "a"]).tolist()
    [True, False, True]
    """
    return id_index(ids).isin(id_index(list(values) if isinstance(values, (set, frozenset)) else values))
