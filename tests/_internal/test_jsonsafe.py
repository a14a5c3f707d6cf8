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


def test_arrays_of_ids_and_counts_become_plain_lists_and_what_is_not_plain_still_gets_cleaned():
    ids = np.array(["p1", "p2", 7], dtype=object)
    assert json_safe(ids) == ["p1", "p2", 7] and all(type(v) in (str, int) for v in json_safe(ids))
    assert json_safe(np.array(["a", "b"])) == ["a", "b"] and json_safe(np.arange(3, dtype=np.int16)) == [0, 1, 2]
    mixed = json_safe(np.array(["a", None, np.float64("nan"), np.int64(4), np.bool_(True)], dtype=object))
    assert mixed == ["a", None, None, 4, True] and type(mixed[3]) is int and type(mixed[4]) is bool
    json.dumps(mixed, allow_nan=False)


def test_lists_of_plain_values_are_copied_and_others_still_cleaned(monkeypatch):
    import workbench._internal.jsonsafe as jsonsafe

    plain = ["p1", 2, "p3"]
    calls = []
    real = jsonsafe.json_safe
    monkeypatch.setattr(jsonsafe, "json_safe", lambda v: calls.append(v) or real(v))
    out = real({"removed": plain, "t": ("a", 1)})
    assert out == {"removed": ["p1", 2, "p3"], "t": ["a", 1]} and out["removed"] is not plain
    assert calls == [plain, ("a", 1)]  # no call per item of a plain list
    dirty = real(["a", np.int64(2), float("nan"), True, np.float32(0.5)])
    assert dirty == ["a", 2, None, True, 0.5] and type(dirty[1]) is int and type(dirty[3]) is bool
