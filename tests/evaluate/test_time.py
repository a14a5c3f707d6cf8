"""Metrics per period (workbench.evaluate._time)."""


import numpy as np
import pandas as pd
import pytest

from workbench.evaluate import (
    metrics_over_time,
)


def test_metrics_by_month_with_undated_bucket_and_gaps():
    df = pd.DataFrame({
        "label": [1, 1, 0, 0, 1, 0],
        "DATE": ["2015-01-03T10:00:00", "2015-01-20", "2015-03-09T00:00:00.5", None, "not a date", "2015-03-31"],
    })
    preds = np.array([1, 0, 0, 1, 1, 0])
    t = metrics_over_time(preds, df)
    assert t["period"].tolist() == ["2015-01", "2015-02", "2015-03", "no date"]
    assert t["n"].tolist() == [2, 0, 2, 2]
    assert t["accuracy"].iloc[0] == 0.5 and t["accuracy"].iloc[2] == 1.0 and t["accuracy"].iloc[3] == 0.5
    assert np.isnan(t["accuracy"].iloc[1])
    assert t["gold_positive_rate"].iloc[0] == 1.0
    assert metrics_over_time(preds, df, fill_gaps=False)["period"].tolist() == ["2015-01", "2015-03", "no date"]
    with pytest.raises(ValueError, match="no date column 'created'"):
        metrics_over_time(preds, df, date_column="created")
