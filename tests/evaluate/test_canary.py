"""The canary gate (workbench.evaluate._canary)."""

import json

import numpy as np
import pandas as pd
import pytest

from workbench.evaluate import (
    CanaryGateError,
    canary_gate,
)


@pytest.fixture
def canary():
    return pd.DataFrame({"example_id": [f"c{i}" for i in range(10)], "label": [0, 1] * 5, "text": ["t"] * 10})


def test_canary_gate_passes_and_fails(canary):
    y = canary.label.to_numpy()
    preds = y.copy()
    preds[:2] = 1 - preds[:2]  # 8 of 10 right
    ok = canary_gate(preds, canary, "accuracy", 0.8)
    assert ok.passed and ok.allowed and ok.value == 0.8 and ok.n == 10 and ok.n_errors == 2
    assert ok.enforce() is ok

    bad = canary_gate(preds, canary, "accuracy", 0.9)
    assert not bad.passed and not bad.allowed and bad.override is None
    with pytest.raises(CanaryGateError, match=r"accuracy = 0\.8000 < minimum 0\.9000 on 10 canary rows \(2 errors\)"):
        bad.enforce()

    # F1 of the positive class from probabilities; the verdict carries all numbers.
    proba = np.eye(2)[preds]
    f1 = canary_gate(proba, canary, "f1", 0.5)
    assert f1.value == pytest.approx(0.8) and f1.metrics["ece"] == pytest.approx(0.2)


def test_canary_override_is_recorded(canary):
    preds = 1 - canary.label.to_numpy()
    verdict = canary_gate(preds, canary, "f1", 0.9, override="canary v2 relabelled; reviewed by hand")
    assert not verdict.passed and verdict.allowed
    assert verdict.enforce() is verdict
    record = json.loads(json.dumps(verdict.to_dict()))
    assert record["passed"] is False and record["allowed"] is True
    assert record["override"]["reason"] == "canary v2 relabelled; reviewed by hand"
    assert record["override"]["by"] and record["override"]["at"]

    later = canary_gate(preds, canary, "f1", 0.9).with_override("ship the hotfix", by="alice")
    assert later.to_dict()["override"]["by"] == "alice" and later.allowed
    with pytest.raises(ValueError, match="non-empty reason"):
        canary_gate(preds, canary, "f1", 0.9, override="  ")
    with pytest.raises(ValueError, match="nothing to override"):
        canary_gate(canary.label.to_numpy(), canary, "f1", 0.9).with_override("why not")


def test_canary_fingerprint_names_the_canary(canary):
    preds = canary.label.to_numpy()
    a = canary_gate(preds, canary, "accuracy", 0.5)
    b = canary_gate(preds[::-1], canary.iloc[::-1], "accuracy", 0.5)
    relabelled = canary.assign(label=1 - canary.label)
    c = canary_gate(preds, relabelled, "accuracy", 0.0)
    assert a.canary_fingerprint == b.canary_fingerprint != c.canary_fingerprint
    with pytest.raises(ValueError, match="unknown canary metric 'auc'"):
        canary_gate(preds, canary, "auc", 0.5)
