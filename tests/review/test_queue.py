"""What a reviewer is shown: uncertainty ranking, the queue, protected rows kept out (workbench.review._queue)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests._helpers import LEAST_CERTAIN_FIRST, REVIEW_PROBA, review_queue
from workbench.review import (
    ProjectStore,
    ProtectedExampleError,
    ReviewQueue,
    diverse_order,
    protected_ids,
    review_order,
    uncertainty,
)

# -- ranking --------------------------------------------------------------------------


def test_uncertainty_values():
    np.testing.assert_allclose(uncertainty(REVIEW_PROBA, "margin"), [0.2, 1.0, 0.6, 0.9, 0.02])
    np.testing.assert_allclose(uncertainty(REVIEW_PROBA, "least_confident"), [0.1, 0.5, 0.3, 0.45, 0.01])
    np.testing.assert_allclose(uncertainty([[0.5, 0.5], [1.0, 0.0]], "entropy"), [1.0, 0.0])


@pytest.mark.parametrize("method", ["margin", "entropy", "least_confident"])
def test_binary_queue_order_is_least_certain_first(method):
    assert review_order(REVIEW_PROBA, strategy=method).tolist() == LEAST_CERTAIN_FIRST


def test_margin_and_least_confident_differ_on_three_classes():
    P = np.array([[0.45, 0.45, 0.10], [0.40, 0.30, 0.30], [0.8, 0.1, 0.1]])
    assert review_order(P, strategy="margin").tolist() == [0, 1, 2]  # a two-way tie beats a spread
    assert review_order(P, strategy="least_confident").tolist() == [1, 0, 2]


def test_exclude_and_limit():
    exclude = np.array([False, True, False, False, False])
    assert review_order(REVIEW_PROBA, exclude=exclude).tolist() == [3, 2, 0, 4]
    assert review_order(REVIEW_PROBA, exclude=exclude, limit=2).tolist() == [3, 2]


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
    other = np.array([1, 0, 1, 1, 0])  # contradicts REVIEW_PROBA on rows 0 (confidently) and 3 (barely)
    order = review_order(REVIEW_PROBA, strategy="disagreement", predictions={"pseudo": other})
    # A confident clash first, then a weak one, then the row where REVIEW_PROBA is undecided.
    assert order.tolist() == [0, 3, 1, 2, 4]


def test_gray_zone_strategy_keeps_small_margins_least_certain_first():
    assert review_order(REVIEW_PROBA, strategy="gray_zone", width=0.5).tolist() == [1, 3, 2]  # margins 0, 0.1, 0.4
    assert review_order(REVIEW_PROBA, strategy="gray_zone").tolist() == [1, 3]  # the default width, 0.2
    with pytest.raises(ValueError, match="gray-zone width"):
        review_order(REVIEW_PROBA, strategy="gray_zone", width=1.5)


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
    q = review_queue(pool, store, L=L, lf_names=["kw_a", "kw_b"])
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
    q = review_queue(pool, store)
    q.decide(1)
    q.skip()
    q.unsure()
    assert q.done == 3
    # Re-opening the store (a new session, e.g. after a kernel restart) continues where it was left.
    store2 = ProjectStore(store.path)
    again = review_queue(pool, store2)
    assert again.current.example_id == "p0"
    assert again.upcoming()["example_id"].tolist() == ["p0", "p4"]
    # Another notebook deciding a queued example hides it here too.
    store2.record_decision("p0", 0, reviewer="bo")
    assert q.current.example_id == "p4"
    # Revisiting shows everything; a second opinion hides only the reviewer's own decisions.
    assert review_queue(pool, store2, revisit=True).current.example_id == "p1"
    assert review_queue(pool, store2, reviewer="bo", second_opinion=True).current.example_id == "p1"
    store2.close()


def test_undo_restores_the_last_example(pool, store):
    q = review_queue(pool, store)
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
    q = review_queue(pool, store, size=2)
    q.decide(0)
    q.decide(1)
    assert q.finished and q.current is None
    with pytest.raises(RuntimeError, match="session is complete"):
        q.decide(0)
    q.undo()
    assert not q.finished and q.current.example_id == "p3"


def test_decide_refuses_unknown_class(pool, store):
    with pytest.raises(ValueError, match=r"unknown class 'eggs'; classes are \['ham', 'spam'\]"):
        review_queue(pool, store).decide("eggs")
    assert store.decisions().empty


def test_near_neighbours_come_from_labeled_and_reviewed_examples(pool, store):
    labeled = pd.DataFrame({"example_id": ["d0", "d1"], "text": ["check out my new channel", "great song"], "label": [1, 0]})
    q = review_queue(pool, store, labeled=labeled)
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


def test_requested_rows_come_first_until_decided(pool, store):
    """Rows the pipeline asked about (ProjectStore.request_review) lead the queue, highest score
    first; a decided one drops out, ids of another pool are ignored, and requested=False ranks alone."""
    store.request_review(["p4", "p0", "elsewhere"], reason="generators disagree: sent to review", scores=[0.6, 0.9, 1.0])
    queue = review_queue(pool, store)
    assert queue.n_requested == 2
    assert queue.upcoming(5)["example_id"].tolist() == ["p0", "p4", "p1", "p3", "p2"]
    queue.decide(0)  # p0
    assert review_queue(pool, store).upcoming(5)["example_id"].tolist() == ["p4", "p1", "p3", "p2"]
    assert review_queue(pool, store, requested=False).upcoming(5)["example_id"].tolist() == ["p1", "p3", "p2", "p4"]
