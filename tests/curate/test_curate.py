"""The usual sequence in one call (workbench.curate._curate)."""
import json

import pandas as pd
import pytest

from tests._helpers import binary_proba
from workbench.curate import (
    EXACT_DUPLICATE,
    curate,
    find_duplicates,
    text_embedding,
)


def test_curate_runs_dedupe_threshold_balance_diversity_in_order():
    texts = ["win free money at my site now", "WIN free money at my site now", "great song love it",
             "check out my channel please", "this song is so good", "subscribe for free gift cards",
             "lol", "best video ever made"]
    pool = pd.DataFrame({"example_id": [f"e{i}" for i in range(8)], "text": texts})
    P = binary_proba([0.95, 0.97, 0.1, 0.9, 0.2, 0.85, 0.45, 0.3])
    clusters = find_duplicates(pool["text"], ids=pool["example_id"])
    cur = curate(pool, P, threshold=0.6, duplicates=clusters, balance="downsample", class_names=["ham", "spam"])
    stages = cur.funnel.to_frame()
    assert stages["stage"].tolist() == ["pool", "dedupe", "confidence", "balance"]
    assert stages["n_rows"].tolist() == [8, 7, 6, 6]
    assert cur.funnel.steps[0].removed_ids[EXACT_DUPLICATE].tolist() == ["e0"]  # e1 is more confident
    assert cur.frame["example_id"].tolist() == ["e1", "e2", "e3", "e4", "e5", "e7"]
    assert cur.frame["label"].tolist() == [1, 0, 1, 0, 1, 0]
    assert {"confidence", "proba_ham", "proba_spam", "sample_weight"} <= set(cur.frame.columns)

    weighted = curate(pool, P, threshold=0.6, balance="weights", target=[0.25, 0.75], class_names=["ham", "spam"])
    w = weighted.frame.groupby("label")["sample_weight"].sum()
    assert w[1] / w.sum() == pytest.approx(0.75)

    with_errors = curate(pool, P, threshold=0.6, label_errors=True)
    assert with_errors.funnel.to_frame()["stage"].tolist() == ["pool", "confidence", "label_errors"]

    X = text_embedding(pool["text"], n_components=4)
    small = curate(pool, P, threshold=0.6, diversity_k=2, features=X)
    assert len(small.frame) == 2 and small.funnel.to_frame()["stage"].tolist()[-1] == "diversity"
    json.dumps(small.to_dict())


def test_curate_names_problems():
    pool = pd.DataFrame({"example_id": [1, 2], "label": [0, 1]})
    with pytest.raises(ValueError, match=r"column\(s\) \['label'\]"):
        curate(pool, binary_proba([0.9, 0.1]))
    with pytest.raises(ValueError, match="no id column 'row'"):
        curate(pool.drop(columns="label"), binary_proba([0.9, 0.1]), id_column="row")
    with pytest.raises(ValueError, match="proba has 3 rows"):
        curate(pool.drop(columns="label"), binary_proba([0.9, 0.1, 0.2]))
    with pytest.raises(ValueError, match="diversity_k needs features"):
        curate(pool.drop(columns="label"), binary_proba([0.9, 0.1]), diversity_k=1)
