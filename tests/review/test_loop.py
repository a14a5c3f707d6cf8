"""The review loop: harvested labels change the next round (workbench.review._loop)."""

import numpy as np
import pandas as pd
import pytest

from workbench import ABSTAIN
from workbench.generate import MajorityVote
from workbench.learn import train_end_model
from workbench.review import (
    ProtectedExampleError,
    ReviewLoop,
    ReviewQueue,
)


def _weak_pool(n=60):
    """A pool where the weak labels lean wrong (ham) on every "prize" comment, which is really spam."""
    rng = np.random.default_rng(0)
    ham = ["great song", "love this video", "nice voice", "best music ever"]
    spam = ["subscribe to my channel", "check out my page", "visit my site now"]
    prize = ["you won a prize claim it", "prize winner claim now", "claim your prize today"]
    rows, P = [], []
    for i in range(n):
        kind = i % 3
        text = [ham, spam, prize][kind][rng.integers(3)] + f" {i}"
        rows.append({"example_id": f"r{i}", "text": text, "truth": 0 if kind == 0 else 1})
        P.append([[0.8, 0.2], [0.2, 0.8], [0.65, 0.35]][kind])
    return pd.DataFrame(rows), np.array(P)


def test_harvested_labels_change_the_next_round(store):
    pool, P = _weak_pool()
    dev = pd.DataFrame({"text": ["claim the prize", "love this song", "subscribe to my page"], "label": [1, 0, 1]})
    loop = ReviewLoop(store, pool.drop(columns="truth"), P, protected=None, eval_sets={"dev": dev}, seed_weight=5.0,
                      learner=lambda texts, P, sample_weight: train_end_model(texts, P, sample_weight=sample_weight, C=10))
    first = loop.run_round()
    assert first.round == 0 and first.training_set.lineage["n_human_review"] == 0
    assert first.metrics["dev_accuracy"] == pytest.approx(2 / 3)  # the prize comment is called ham

    # A reviewer answers the least certain examples of the first model: the prize comments.
    q = ReviewQueue(pool, first.pool_proba, store=store, reviewer="ana", protected=None, size=6)
    while not q.finished:
        q.decide(int(pool.set_index("example_id").loc[q.current.example_id, "truth"]))
    reviewed = store.decided_ids()
    assert all("prize" in t for t in pool.set_index("example_id").loc[sorted(reviewed), "text"])

    second = loop.run_round()
    assert second.round == 1
    frame = second.training_set.frame.set_index("example_id")
    assert (frame.loc[sorted(reviewed), "label_source"] == "human_review").all()
    assert (frame.loc[sorted(reviewed), "label"] == 1).all()
    assert second.training_set.lineage["seed_labels"]["decision_ids"] == sorted(store.decisions()["id"].tolist())
    assert second.training_set.lineage["rows_sha256"] != first.training_set.lineage["rows_sha256"]
    assert second.metrics["dev_accuracy"] == 1.0
    history = loop.history()
    assert history["round"].tolist() == [0, 1]
    assert history["n_seed_labels"].tolist() == [0, 6]
    assert history["dev_accuracy"].tolist() == [pytest.approx(2 / 3), 1.0]


def test_loop_refuses_a_pool_with_protected_rows(youtube, store):
    with pytest.raises(ProtectedExampleError, match="rows of the pool"):
        ReviewLoop(store, youtube.dev, np.full((len(youtube.dev), 2), 0.5), protected=youtube, eval_sets={})


class _AnswersFirst(MajorityVote):
    """A label model that takes the labeled rows (``fit(L, y)``): answered rows get their answer."""

    def fit(self, L, y=None):
        super().fit(L)
        self.y_ = None if y is None else np.asarray(y)
        return self

    def predict_proba(self, L):
        proba = super().predict_proba(L)
        if self.y_ is not None and len(L) == len(self.y_):
            answered = self.y_ != ABSTAIN
            proba[answered] = np.eye(proba.shape[1])[self.y_[answered]]
        return proba


def test_rounds_regenerate_labels_with_the_answers_and_count_from_the_run(store):
    pool, P = _weak_pool(30)
    dev = pd.DataFrame({"text": ["claim the prize", "love this song"], "label": [1, 0]})
    L = np.where(pool["text"].str.contains("prize|subscribe|check|visit"), 1, 0)[:, None].astype(np.int8)
    L[pool["text"].str.contains("prize").to_numpy()] = 0  # the LF calls every prize comment ham
    store.record_round(n_seed_labels=0, metrics={}, lineage={})  # an earlier run left rounds in the store
    loop = ReviewLoop(store, pool.drop(columns="truth"), P, protected=None, eval_sets={"dev": dev},
                      label_model=_AnswersFirst(), L=L, eval_L={"dev": np.array([[0], [0]], dtype=np.int8)})
    first = loop.run_round()
    assert (first.index, first.round) == (0, 1)
    prize = pool.index[pool["text"].str.contains("prize")][:3]
    for i in prize:
        store.record_decision(pool.loc[i, "example_id"], 1, reviewer="ana")
    second = loop.run_round()
    assert (second.index, second.round) == (1, 2)
    # the label model was refitted with the answers: its labels for the answered rows changed
    assert (first.generated_proba[prize].argmax(axis=1) == 0).all()
    assert (second.generated_proba[prize].argmax(axis=1) == 1).all()
    assert second.metrics["label_model_dev_accuracy"] == 0.5
    assert loop.history()["round"].tolist() == [1, 2] and loop.history(all_runs=True)["round"].tolist() == [0, 1, 2]


@pytest.mark.slow
def test_answers_on_the_least_certain_rows_do_not_make_the_label_model_worse(youtube, store):
    """The queue's rows are the pool's hardest: fitted as a sample of it (anchoring the start, weighted), 25
    answers made every LF look worse and cut the label model's test accuracy from 0.886 to 0.741."""
    from workbench.data.youtube_lfs import YOUTUBE_LFS
    from workbench.generate import DawidSkeneLabelModel
    from workbench.labeling import apply_lfs, covered

    L = apply_lfs(youtube.train, YOUTUBE_LFS, cardinality=2)
    eval_L = {"test": apply_lfs(youtube.test, YOUTUBE_LFS, cardinality=2)}
    label_model = DawidSkeneLabelModel(2)
    loop = ReviewLoop(store, youtube.train, label_model.fit(L).predict_proba(L), protected=youtube,
                      eval_sets={"test": youtube.test}, covered=covered(L), seed_weight=3.0, label_model=label_model,
                      L=L, eval_L=eval_L)
    before = loop.run_round()
    queue = ReviewQueue(youtube.train, before.pool_proba, store=store, reviewer="sim", protected=youtube, L=L,
                        diversity=0.3, size=25, round=before.round + 1)
    gold = youtube.hidden_labels["train"]
    for item in queue.upcoming(25)["example_id"]:
        store.record_decision(item, int(gold[item]), reviewer="sim")
    after = loop.run_round()
    assert after.training_set.lineage["seed_labels"]["n_labels"] >= 20  # less any that copy a protected text
    assert after.metrics["label_model_test_accuracy"] >= before.metrics["label_model_test_accuracy"]
