"""Fixtures shared by the evaluation tests."""

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def sliced():
    """200 rows; slice 'forum' (50 rows) has 20 errors, the other 150 rows have 6; 'tiny' (5 rows) is all wrong."""
    n = 200
    y = np.tile([0, 1], n // 2)
    source = np.array(["forum"] * 50 + ["web"] * 150)
    wrong = np.zeros(n, bool)
    wrong[:20] = True  # 20 of 50 forum rows wrong
    wrong[[60, 80, 100, 120, 140, 160]] = True  # 6 of 150 web rows wrong
    tiny = np.zeros(n, bool)
    tiny[195:] = True
    wrong[195:] = True  # + 5 more web rows wrong, all in the tiny slice
    preds = np.where(wrong, 1 - y, y)
    df = pd.DataFrame({"label": y, "source": source, "text": ["x"] * n, "tiny_flag": tiny})
    return df, preds
