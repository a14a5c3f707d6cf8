"""The one JSON cleaner: every manifest, funnel, store record and studio row goes through it."""

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from workbench._internal.jsonsafe import json_safe


def test_missing_and_non_finite_numbers_become_null():
    cleaned = json_safe({"nan": np.float64("nan"), "inf": float("inf"), "na": pd.NA, "nat": pd.NaT, "ok": np.float32(0.25)})
    assert cleaned == {"nan": None, "inf": None, "na": None, "nat": None, "ok": 0.25}
    json.dumps(cleaned, allow_nan=False)  # strict JSON: no NaN or Infinity tokens


def test_containers_scalars_paths_and_times_become_plain_values():
    value = {1: np.array([1, 2]), "s": pd.Series([True, False]), "t": (np.int8(3),), "set": {"b", "a"},
             "p": Path("out") / "x.csv", "when": datetime(2026, 12, 2, 12, 0)}
    assert json_safe(value) == {"1": [1, 2], "s": [True, False], "t": [3], "set": ["a", "b"],
                                "p": str(Path("out") / "x.csv"), "when": "2026-12-02T12:00:00"}
    assert type(json_safe(np.int64(3))) is int and type(json_safe(np.bool_(True))) is bool
