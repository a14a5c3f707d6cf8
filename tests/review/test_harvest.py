"""From decisions to labeled rows: harvest and the training set (workbench.review._harvest)."""

import numpy as np
import pandas as pd
import pytest

from workbench.review import (
    ProjectStore,
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


# -- protected rows by text, bad answers, a run re-read ------------------------------------


def test_harvest_leaves_out_answers_whose_text_copies_a_protected_row(youtube, store):
    """A pool row with the same (or a near) text as a dev/test row never becomes a seed label (issue 16, item 4)."""
    pool = youtube.train.head(3).copy()
    pool["text"] = [youtube.test["text"].iloc[0],                   # an exact copy of a test comment
                    youtube.dev["text"].iloc[0].upper() + "!!",     # a lightly edited copy of a dev comment
                    "an ordinary comment about the song and nothing else"]
    for example_id in pool["example_id"]:
        store.record_decision(example_id, 1, reviewer="ana")
    seeds = harvest(store, protected=youtube, pool=pool)
    assert seeds.labels["example_id"].tolist() == [pool["example_id"].iloc[2]]
    splits = seeds.leaked.groupby("train_id")["protected_split"].agg(set)
    assert "test" in splits[pool["example_id"].iloc[0]] and "dev" in splits[pool["example_id"].iloc[1]]
    assert seeds.lineage["n_leaked"] == 2


def test_harvest_needs_texts_to_check_against_protected_frames(store):
    store.record_decision("p0", 1, reviewer="ana")
    dev = pd.DataFrame({"example_id": ["d0"], "text": ["nice song"]})
    with pytest.raises(ValueError, match="pass pool="):
        harvest(store, protected={"dev": dev})
    with pytest.raises(ValueError, match=r"not in the pool.*\['p0'\]"):
        harvest(store, protected={"dev": dev}, pool=pd.DataFrame({"example_id": ["x"], "text": ["a"]}))


def test_answers_outside_the_classes_are_named(tmp_path):
    with ProjectStore(tmp_path / "plain.sqlite") as store:  # no class names: the store cannot check
        store.record_decision("a", 1, reviewer="ana")
        store.record_decision("b", 4, reviewer="bo")
        with pytest.raises(ValueError, match=r"outside the classes 0\.\.1: decision 2 by 'bo' labels example 'b' as 4"):
            harvest(store, protected=None, cardinality=2)


def test_a_run_is_re_read_as_the_store_stood(store):
    store.record_decision("a", 1, reviewer="ana")
    store.record_decision("b", 0, reviewer="ana")
    then = harvest(store, protected=None)
    through, as_of = int(store.decisions()["id"].max()), pd.Timestamp.now(tz="UTC").isoformat()
    store.undo_last(reviewer="ana")                 # b withdrawn after the run
    store.record_decision("c", 1, reviewer="ana")   # and a new answer
    again = harvest(store, protected=None, through=through, as_of=as_of)
    assert again.lineage["decisions_sha256"] == then.lineage["decisions_sha256"]
    assert again.labels["example_id"].tolist() == ["a", "b"]
    assert harvest(store, protected=None).labels["example_id"].tolist() == ["a", "c"]
