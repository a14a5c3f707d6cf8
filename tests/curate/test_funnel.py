"""What a step kept and why, and the funnel of steps (workbench.curate._funnel)."""
import json

import numpy as np
import pytest

from tests._helpers import binary_proba
from workbench.curate import (
    BELOW_THRESHOLD,
    FilterStep,
    Funnel,
    confidence_filter,
    exclude,
    rebalance,
)


def test_step_records_removed_ids_per_reason():
    step = FilterStep.from_reasons("x", ["a", "b", "c", "d"], ["", "r1", "r2", "r1"])
    assert step.kept_ids.tolist() == ["a"]
    assert {r: v.tolist() for r, v in step.removed_ids.items()} == {"r1": ["b", "d"], "r2": ["c"]}
    assert step.removed_counts == {"r1": 2, "r2": 1}
    record = step.to_dict()
    assert record["n_in"] == 4 and record["n_kept"] == 1
    assert record["removed"]["r1"] == {"count": 2, "ids": ["b", "d"]}


def test_funnel_chains_steps_and_counts_add_up():
    P = binary_proba([0.9, 0.4, 0.55, 0.05, 0.7, 0.99])
    ids = np.array([f"r{i}" for i in range(6)])
    funnel = Funnel(ids).then(confidence_filter(P, 0.8, ids=ids))
    assert funnel.kept_ids.tolist() == ["r0", "r3", "r5"]
    kept = funnel.kept_mask
    funnel = funnel.then(rebalance(P[kept].argmax(1), ids=funnel.kept_ids, priority=P[kept].max(1)))
    frame = funnel.to_frame()
    assert frame["stage"].tolist() == ["pool", "confidence", "balance"]
    assert frame["n_rows"].tolist() == [6, 3, 2]
    assert (frame["n_rows"].shift(1).fillna(6) - frame["n_rows"] == frame["n_removed"]).all()
    # the most confident spam (r5, 0.99) stays; the other spam row r0 (0.9) is down-sampled
    assert funnel.kept_ids.tolist() == ["r3", "r5"]
    reasons = funnel.reasons().set_index("id")
    assert reasons.loc["r1", "reason"] == BELOW_THRESHOLD and reasons.loc["r1", "step"] == "confidence"
    assert reasons.loc["r0", "reason"] == "downsampled:1" and reasons.loc["r5", "reason"] == ""
    record = json.loads(json.dumps(funnel.to_dict()))
    assert record["n_pool"] == 6 and record["n_kept"] == 2
    assert [s["step"] for s in record["steps"]] == ["confidence", "balance"]
    assert record["steps"][0]["removed"][BELOW_THRESHOLD]["ids"] == ["r1", "r2", "r4"]


def test_funnel_rejects_a_step_run_on_other_rows():
    funnel = Funnel([0, 1, 2]).then(exclude([0, 1, 2], [1], "bad"))
    with pytest.raises(ValueError, match="funnel has 2 kept rows"):
        funnel.then(exclude([0, 1, 2], [], "other"))
    with pytest.raises(ValueError, match="unique"):
        Funnel([0, 0, 1])


def test_funnel_weights_follow_rows_through_later_steps():
    funnel = Funnel(["a", "b", "c", "d"]).then(rebalance([0, 0, 0, 1], method="weights", ids=["a", "b", "c", "d"]))
    funnel = funnel.then(exclude(funnel.kept_ids, ["b"], "manual"))
    assert funnel.kept_ids.tolist() == ["a", "c", "d"]
    np.testing.assert_allclose(funnel.sample_weight, [2 / 3, 2 / 3, 2.0])


# --- confidence ---------------------------------------------------------------------------
