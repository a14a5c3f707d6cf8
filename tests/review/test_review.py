import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from workbench.learn import train_end_model
from workbench.review import (
    ProjectStore,
    ProtectedExampleError,
    ReviewLoop,
    ReviewQueue,
    build_training_set,
    diverse_order,
    harvest,
    protected_ids,
    review_order,
    reviewer_agreement,
    uncertainty,
)

# Constructed probabilities with a known order of certainty (binary).
P5 = np.array([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7], [0.55, 0.45], [0.99, 0.01]])
LEAST_CERTAIN_FIRST = [1, 3, 2, 0, 4]


@pytest.fixture
def store(tmp_path):
    with ProjectStore(tmp_path / "project.sqlite", class_names=["ham", "spam"]) as s:
        yield s


@pytest.fixture
def pool():
    return pd.DataFrame({
        "example_id": [f"p{i}" for i in range(5)],
        "text": ["nice song", "check out my channel", "subscribe to me", "love this video", "free money here"],
    })


def queue(pool, store, proba=P5, **kw):
    settings = {"reviewer": "ana", "protected": None, "size": 10, **kw}
    return ReviewQueue(pool, proba, store=store, **settings)


# -- ranking --------------------------------------------------------------------------


def test_uncertainty_values():
    np.testing.assert_allclose(uncertainty(P5, "margin"), [0.2, 1.0, 0.6, 0.9, 0.02])
    np.testing.assert_allclose(uncertainty(P5, "least_confident"), [0.1, 0.5, 0.3, 0.45, 0.01])
    np.testing.assert_allclose(uncertainty([[0.5, 0.5], [1.0, 0.0]], "entropy"), [1.0, 0.0])


@pytest.mark.parametrize("method", ["margin", "entropy", "least_confident"])
def test_binary_queue_order_is_least_certain_first(method):
    assert review_order(P5, strategy=method).tolist() == LEAST_CERTAIN_FIRST


def test_margin_and_least_confident_differ_on_three_classes():
    P = np.array([[0.45, 0.45, 0.10], [0.40, 0.30, 0.30], [0.8, 0.1, 0.1]])
    assert review_order(P, strategy="margin").tolist() == [0, 1, 2]  # a two-way tie beats a spread
    assert review_order(P, strategy="least_confident").tolist() == [1, 0, 2]


def test_exclude_and_limit():
    exclude = np.array([False, True, False, False, False])
    assert review_order(P5, exclude=exclude).tolist() == [3, 2, 0, 4]
    assert review_order(P5, exclude=exclude, limit=2).tolist() == [3, 2]


@pytest.mark.parametrize(
    "P, message",
    [
        (np.ones((2, 2, 2)) / 2, "shape"),
        (np.array([[0.5, 0.6]]), "row 0 is not a probability distribution"),
        (np.array([[np.nan, 1.0]]), "non-finite"),
    ],
)
def test_bad_probabilities_are_named(P, message):
    with pytest.raises(ValueError, match=message):
        review_order(P)


def test_disagreement_strategy_ranks_contested_rows_first():
    other = np.array([1, 0, 1, 1, 0])  # contradicts P5 on rows 0 (confidently) and 3 (barely)
    order = review_order(P5, strategy="disagreement", predictions={"pseudo": other})
    # A confident clash first, then a weak one, then the row where P5 is undecided.
    assert order.tolist() == [0, 3, 1, 2, 4]


def test_gray_zone_strategy_keeps_small_margins_least_certain_first():
    assert review_order(P5, strategy="gray_zone", width=0.5).tolist() == [1, 3, 2]  # margins 0, 0.1, 0.4
    assert review_order(P5, strategy="gray_zone").tolist() == [1, 3]  # the default width, 0.2
    with pytest.raises(ValueError, match="gray-zone width"):
        review_order(P5, strategy="gray_zone", width=1.5)


def test_diversity_mix_avoids_near_clones():
    # Six near-clones are the most uncertain; two distinct rows are a little less so.
    features = sp.csr_matrix(np.array([[1, 0, 0]] * 6 + [[0, 1, 0], [0, 0, 1]], dtype=float))
    scores = np.array([0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.9, 0.85])
    plain = np.argsort(-scores)[:3]
    mixed = diverse_order(scores, features, k=3, diversity=0.5)[:3]
    assert set(plain) <= set(range(6))
    assert mixed.tolist() == [0, 6, 7]
    full = diverse_order(scores, features, k=3, diversity=0.5)
    assert sorted(full.tolist()) == list(range(8))


def test_review_order_mixes_for_diversity_when_asked():
    features = sp.csr_matrix(np.array([[1, 0, 0]] * 6 + [[0, 1, 0], [0, 0, 1]], dtype=float))
    d = np.array([0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.05, 0.075])
    P = np.column_stack([0.5 + d, 0.5 - d])
    assert review_order(P, limit=3).tolist() == [0, 1, 2]
    assert review_order(P, features=features, diversity=0.5, limit=3).tolist() == [0, 6, 7]
    assert review_order(P, features=features, diversity=0.5).tolist()[:4] == [0, 6, 7, 1]
    with pytest.raises(ValueError, match="diversity > 0 needs features"):
        review_order(P, diversity=0.5)


# -- the queue ------------------------------------------------------------------------


def test_queue_shows_least_certain_first_with_what_the_reviewer_needs(pool, store):
    L = np.array([[-1, 0], [1, -1], [1, 1], [-1, -1], [1, -1]])
    q = queue(pool, store, L=L, lf_names=["kw_a", "kw_b"])
    item = q.current
    assert item.example_id == "p1" and item.text == "check out my channel"
    assert item.lf_votes == {"kw_a": 1}
    assert item.proba.tolist() == [0.5, 0.5]
    q.decide("spam")
    row = store.decisions().iloc[0]
    assert (row["example_id"], row["label"], row["reviewer"]) == ("p1", 1, "ana")
    assert row["proba"] == [0.5, 0.5] and row["lf_votes"] == {"kw_a": 1}
    assert row["session"] == q.session
    assert q.current.example_id == "p3"


def test_decided_examples_are_not_shown_again(pool, store):
    q = queue(pool, store)
    q.decide(1)
    q.skip()
    q.unsure()
    assert q.done == 3
    # Re-opening the store (a new session, e.g. after a kernel restart) continues where it was left.
    store2 = ProjectStore(store.path)
    again = queue(pool, store2)
    assert again.current.example_id == "p0"
    assert again.upcoming()["example_id"].tolist() == ["p0", "p4"]
    # Another notebook deciding a queued example hides it here too.
    store2.record_decision("p0", 0, reviewer="bo")
    assert q.current.example_id == "p4"
    # Revisiting shows everything; a second opinion hides only the reviewer's own decisions.
    assert queue(pool, store2, revisit=True).current.example_id == "p1"
    assert queue(pool, store2, reviewer="bo", second_opinion=True).current.example_id == "p1"
    store2.close()


def test_undo_restores_the_last_example(pool, store):
    q = queue(pool, store)
    q.decide(1)
    q.decide(0)
    assert q.current.example_id == "p2"
    restored = q.undo()
    assert restored.example_id == "p3" and q.current.example_id == "p3" and q.done == 1
    assert store.decided_ids() == {"p1"}
    assert store.decisions(include_undone=True)["undone_at"].notna().tolist() == [False, True]
    assert q.undo().example_id == "p1"
    assert q.undo() is None
    assert store.decided_ids() == set()
    q.decide(0)
    assert store.decisions()["label"].tolist() == [0]


def test_session_ends_after_size_decisions(pool, store):
    q = queue(pool, store, size=2)
    q.decide(0)
    q.decide(1)
    assert q.finished and q.current is None
    with pytest.raises(RuntimeError, match="session is complete"):
        q.decide(0)
    q.undo()
    assert not q.finished and q.current.example_id == "p3"


def test_decide_refuses_unknown_class(pool, store):
    with pytest.raises(ValueError, match=r"unknown class 'eggs'; classes are \['ham', 'spam'\]"):
        queue(pool, store).decide("eggs")
    assert store.decisions().empty


def test_near_neighbours_come_from_labeled_and_reviewed_examples(pool, store):
    labeled = pd.DataFrame({"example_id": ["d0", "d1"], "text": ["check out my new channel", "great song"], "label": [1, 0]})
    q = queue(pool, store, labeled=labeled)
    first = q.current
    near = q.neighbours(first, k=2)
    assert near["example_id"].tolist()[0] == "d0" and near["label"].tolist()[0] == "spam"
    assert near["source"].tolist()[0] == "labeled"
    q.decide(1)  # p1 "check out my channel" is now labeled by review
    store.record_decision("p2", 1, reviewer="bo")
    near = q.neighbours(q._item(2), k=3)  # p2 is not its own neighbour
    assert "p2" not in near["example_id"].tolist()
    assert "p1" in near["example_id"].tolist()
    assert set(near["source"]) == {"labeled", "review"}


# -- protected rows ----------------------------------------------------------------------


def test_queue_refuses_protected_rows(youtube, store):
    pool = pd.concat([youtube.train.head(3), youtube.test.head(2), youtube.canary.head(1)])
    P = np.full((len(pool), 2), 0.5)
    with pytest.raises(ProtectedExampleError, match=r"3 rows of the review pool belong to protected splits \(canary: v\d-\d+; test: v5-000, v5-001\)"):
        ReviewQueue(pool, P, store=store, reviewer="ana", protected=youtube)
    ReviewQueue(youtube.train.head(3), P[:3], store=store, reviewer="ana", protected=youtube)


def test_protected_ids_of_a_dataset(youtube):
    ids = protected_ids(youtube)
    assert len(ids) == sum(len(youtube[s]) for s in ("dev", "valid", "test", "canary"))
    assert ids["v5-000"] == "test"
    assert not set(youtube.train["example_id"]) & set(ids)


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


# -- agreement --------------------------------------------------------------------------


def test_reviewer_agreement_kappa_and_disagreements(store):
    a = [0, 0, 1, 1, 1, 0]
    b = [0, 1, 1, 1, 0, 0]
    for i, (x, y) in enumerate(zip(a, b)):
        store.record_decision(f"e{i}", x, reviewer="ana")
        store.record_decision(f"e{i}", y, reviewer="bo")
    store.record_decision("only-ana", 1, reviewer="ana")
    store.record_decision("e0", "unsure", reviewer="cy")
    agreement = reviewer_agreement(store, "ana", "bo")
    # observed 4/6, expected by chance 1/2: kappa = (2/3 - 1/2) / (1/2) = 1/3
    assert agreement.kappa == pytest.approx(1 / 3)
    assert agreement.n_common == 6 and agreement.observed_agreement == pytest.approx(4 / 6)
    assert agreement.disagreements.to_dict("records") == [
        {"example_id": "e1", "ana": "ham", "bo": "spam"},
        {"example_id": "e4", "ana": "spam", "bo": "ham"},
    ]
    assert reviewer_agreement(store).reviewers == ("ana", "bo")  # cy gave no labels


def test_reviewer_agreement_needs_examples_in_common(store):
    store.record_decision("a", 1, reviewer="ana")
    store.record_decision("b", 1, reviewer="bo")
    with pytest.raises(ValueError, match="labeled no example in common"):
        reviewer_agreement(store, "ana", "bo")
    with pytest.raises(ValueError, match="reviewer 'cy' has no labels"):
        reviewer_agreement(store, "ana", "cy")


# -- the round history chart -----------------------------------------------------------


def test_round_history_chart():
    from workbench.plots.review import round_history_chart

    history = pd.DataFrame({"round": [0, 1, 2], "n_seed_labels": [0, 10, 20],
                            "dev_accuracy": [0.8, 0.85, 0.9], "test_accuracy": [0.7, 0.75, 0.72], "dev_macro_f1": [0.1] * 3})
    fig = round_history_chart(history)
    bars = [t for t in fig.data if t.type == "bar"]
    lines = {t.name: list(t.y) for t in fig.data if t.type == "scatter"}
    assert list(bars[0].y) == [0, 10, 20]
    assert lines == {"dev accuracy": [0.8, 0.85, 0.9], "test accuracy": [0.7, 0.75, 0.72]}
    assert [t.name for t in round_history_chart(history, metrics=["dev_macro_f1"]).data if t.type == "scatter"] == ["dev macro f1"]
    with pytest.raises(ValueError, match=r"metrics \['valid_accuracy'\] are not in the history"):
        round_history_chart(history, metrics=["valid_accuracy"])
