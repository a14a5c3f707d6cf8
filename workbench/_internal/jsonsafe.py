"""The one JSON cleaner: plain Python values for manifests, funnels, stores and reports."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd


#: Types json_safe leaves as they are (exactly these: a bool or a float subclass has rules of its own).
_PLAIN = (str, int)


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON data.

    numpy scalars and arrays, pandas Series/Index, tuples and sets become Python numbers and
    lists; NaN, infinities and missing values (``None``, ``pd.NA``, ``NaT``) become ``None``;
    paths and timestamps become strings; mapping keys become strings.

    >>> json_safe({"a": np.float32(0.5), 1: (np.int64(2), float("nan")), "p": Path("x")})
    {'a': 0.5, '1': [2, None], 'p': 'x'}
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "biuUO":
        # the common bulk case (ids, counts): numpy makes the Python values at once, and only what is
        # not already plain (None, NaN, numpy scalars in an object array) goes through the rules below
        items = value.tolist()
        plain = _PLAIN if value.dtype.kind == "O" else None
        if plain is None or all(type(v) in plain for v in items):
            return items
        return [json_safe(v) for v in items]
    if isinstance(value, (list, tuple)) and all(type(v) in _PLAIN for v in value):
        return list(value)  # already plain (the funnel's removed ids, cleaned once and read again): no call per item
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Series, pd.Index)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [json_safe(v) for v in items]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (Path, datetime, date, pd.Timestamp)):
        return value.isoformat() if not isinstance(value, Path) else str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value
