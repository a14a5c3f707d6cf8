"""Likely label errors with cleanlab (workbench.curate._label_errors)."""

import numpy as np
import pytest

from workbench.curate import (
    find_label_errors,
    out_of_sample_proba,
)


def test_find_label_errors_flags_planted_flips():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-2, 1, size=(150, 2)), rng.normal(2, 1, size=(150, 2))])
    y = np.repeat([0, 1], 150)
    flipped = rng.choice(300, 15, replace=False)
    noisy = y.copy()
    noisy[flipped] = 1 - noisy[flipped]
    step = find_label_errors(X, noisy, ids=np.arange(300) + 1000)
    found = set(step.removed_ids["likely_label_error"].tolist())
    planted = set((flipped + 1000).tolist())
    assert len(found & planted) >= 13 and len(found - planted) <= 5
    ranking = step.details["ranking"]
    assert ranking["self_confidence"].is_monotonic_increasing
    assert (ranking["suggested"] != ranking["label"]).mean() > 0.8


def test_out_of_sample_proba_on_texts_and_bad_labels():
    texts = ["buy now cheap"] * 3 + ["nice song"] * 3
    P = out_of_sample_proba(texts, [1, 1, 1, 0, 0, 0], cv=3)
    assert P.shape == (6, 2) and (P.argmax(1) == [1, 1, 1, 0, 0, 0]).all()
    with pytest.raises(ValueError, match="single row"):
        out_of_sample_proba(texts, [1, 1, 1, 1, 1, 0])


# --- the usual sequence ---------------------------------------------------------------------
