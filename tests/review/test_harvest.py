"""From decisions to labeled rows: harvest and the training set (workbench.review._harvest)."""

import numpy as np
import pytest

from workbench.review import (
    ProtectedExampleError,
    build_training_set,
    harvest,
)


def test_harvest_refuses_protected_rows(youtube, store):
    store.record_decision(youtube.train["example_id"].iloc[0], 1, reviewer="ana")
    store.record_decision("v5-003", 0, reviewer="ana")
    with pytest.raises(ProtectedExampleError, match="1 reviewed examples belong to protected splits \\(test: v5-003\\)"):
        harvest(store, protected=youtube)


# -- harvest and the loop --------------------------------------------------------------


def test_harvest_keeps_standing_labels_and_handles_conflicts(store):
    store.record_decision("a", 1, reviewer="ana")
    store.record_decision("b", "skip", reviewer="ana")
    store.record_decision("c", "unsure", reviewer="ana")
    store.record_decision("d", 0, reviewer="ana")
    store.record_decision("d", 1, reviewer="ana")  # changed her mind: the latest stands
    store.record_decision("e", 0, reviewer="ana")
    store.record_decision("e", 1, reviewer="bo")  # a real disagreement
    store.record_decision("e", 1, reviewer="cy")
    store.record_decision("f", 0, reviewer="ana")
    store.undo_last(reviewer="ana")  # f withdrawn
    seeds = harvest(store, protected=None)
    assert dict(zip(seeds.labels["example_id"], seeds.labels["label"])) == {"a": 1, "d": 1}
    assert seeds.conflicts["example_id"].tolist() == ["e"]
    assert seeds.lineage["n_skipped"] == 1 and seeds.lineage["n_unsure"] == 1
    assert dict(zip(*harvest(store, protected=None, conflicts="majority").labels[["example_id", "label"]].values.T))["e"] == 1
    assert harvest(store, protected=None, conflicts="latest").labels.set_index("example_id").loc["e", "label"] == 1
    assert harvest(store, protected=None, reviewers=["bo"]).labels["example_id"].tolist() == ["e"]


def test_seed_labels_override_weak_labels_and_bring_in_uncovered_rows(pool, store):
    P = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.5, 0.5], [0.3, 0.7]])
    covered = np.array([True, True, True, False, True])
    before = build_training_set(pool, P, harvest(store, protected=None), covered=covered)
    assert len(before) == 4 and set(before.frame["label_source"]) == {"label_model"}
    store.record_decision("p1", 1, reviewer="ana")  # weak label said ham
    store.record_decision("p3", 0, reviewer="ana")  # no LF covered it
    after = build_training_set(pool, P, harvest(store, protected=None), covered=covered, seed_weight=3.0)
    frame = after.frame.set_index("example_id")
    assert len(after) == 5
    assert frame.loc["p1", "label"] == 1 and frame.loc["p1", "label_source"] == "human_review" and frame.loc["p1", "sample_weight"] == 3
    assert frame.loc["p3", "label"] == 0
    assert after.proba[after.frame["example_id"].tolist().index("p1")].tolist() == [0.0, 1.0]
    assert after.lineage["n_human_review"] == 2 and after.lineage["seed_labels"]["n_labels"] == 2
    assert after.lineage["rows_sha256"] != before.lineage["rows_sha256"]
    store.record_decision("zz", 0, reviewer="ana")
    with pytest.raises(ValueError, match="seed labels are for examples not in the pool: \\['zz'\\]"):
        build_training_set(pool, P, harvest(store, protected=None))
