"""Diversity sampling and text embeddings (workbench.curate._diversity)."""

import numpy as np
import pytest

from workbench.curate import (
    diversity_sample,
    diversity_score,
    k_center_greedy,
    text_embedding,
)


def blobs(rng, sizes=(80, 10, 10)):
    centers = np.array([[0, 0], [10, 0], [0, 10]], dtype=float)
    X = np.vstack([rng.normal(c, 0.3, size=(n, 2)) for c, n in zip(centers, sizes)])
    return X, np.repeat(np.arange(len(sizes)), sizes)


def test_k_center_greedy_covers_every_blob():
    X, blob = blobs(np.random.default_rng(0))
    chosen = k_center_greedy(X, 3)
    assert sorted(blob[chosen].tolist()) == [0, 1, 2]
    assert len(set(k_center_greedy(X, 30).tolist())) == 30
    with pytest.raises(ValueError, match="k must be between"):
        k_center_greedy(X, 101)


def test_diversity_sample_beats_top_k_confident_on_the_score():
    rng = np.random.default_rng(0)
    X, blob = blobs(rng)
    confidence = np.where(blob == 0, 0.9, 0.6) + rng.random(len(X)) * 0.05  # the big blob is most confident
    step = diversity_sample(X, 6, priority=confidence)
    assert step.n_kept == 6 and set(blob[step.kept]) == {0, 1, 2}
    assert step.details["order"][0] == int(np.argmax(confidence))
    top_k = np.argsort(-confidence)[:6]
    diverse, confident = diversity_score(X, step.kept), diversity_score(X, top_k)
    assert diverse["mean_pairwise_distance"] > confident["mean_pairwise_distance"]
    assert diverse["max_distance_to_selection"] < confident["max_distance_to_selection"]
    assert diversity_sample(X, 500).n_kept == len(X)


def test_text_embedding_rows_are_unit_vectors():
    X = text_embedding(["spam spam eggs", "ham and eggs", "check out my channel", "lovely song"], n_components=3)
    assert X.shape == (4, 3)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0)


# --- audit queues -------------------------------------------------------------------------


def test_diversity_never_repeats_a_row_and_keeps_every_row_when_slots_suffice():
    rng = np.random.default_rng(0)
    X = np.repeat(rng.normal(size=(6, 3)), 5, axis=0)[:29]  # exact duplicates: distance 0 once covered
    chosen = k_center_greedy(X, 29)
    assert len(set(chosen.tolist())) == 29
    step = diversity_sample(X, 40, ids=np.arange(29))
    assert step.n_kept == 29
    partial = k_center_greedy(X, 10)
    assert len(set(partial.tolist())) == 10
