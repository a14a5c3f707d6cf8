"""Figures of ``workbench.plots.review``: the review loop's rounds, from a real project store."""

import numpy as np
import pytest

from workbench.plots.review import round_history_chart
from workbench.review import ProjectStore

ROUNDS = [  # (seed labels harvested so far, metrics of that round)
    (0, {"dev_accuracy": 0.8, "test_accuracy": 0.7, "dev_macro_f1": 0.6}),
    (12, {"dev_accuracy": 0.85, "test_accuracy": 0.75, "dev_macro_f1": 0.7}),
    (30, {"dev_accuracy": 0.9, "test_accuracy": 0.72, "dev_macro_f1": 0.8}),
]


@pytest.fixture
def history(tmp_path):
    with ProjectStore(tmp_path / "project.sqlite", class_names=["ham", "spam"]) as store:
        for n_seed_labels, metrics in ROUNDS:
            store.record_round(n_seed_labels=n_seed_labels, metrics=metrics, lineage={})
        # What ReviewLoop.history returns: the store's rounds without their lineage.
        return store.rounds().drop(columns=["lineage"])


def test_round_history_chart_draws_accuracies_over_seed_label_bars(history):
    fig = round_history_chart(history)
    assert [(t.type, t.name) for t in fig.data] == [("bar", "seed labels"), ("scatter", "dev accuracy"),
                                                    ("scatter", "test accuracy")]
    assert all(list(t.x) == [0, 1, 2] for t in fig.data)
    assert list(fig.data[0].y) == [0, 12, 30]
    np.testing.assert_allclose(fig.data[1].y, [0.8, 0.85, 0.9])
    np.testing.assert_allclose(fig.data[2].y, [0.7, 0.75, 0.72])
    assert fig.data[0].yaxis == "y2" and {t.yaxis for t in fig.data[1:]} == {"y"}
    assert list(fig.layout.xaxis.tickvals) == [0, 1, 2]  # one tick per round, no fractional rounds
    assert fig.layout.title.text == "Review loop: scores per round"
    assert fig.layout.xaxis.title.text == "round"
    assert fig.layout.yaxis.title.text == "score" and fig.layout.yaxis2.title.text == "seed labels"


def test_round_history_chart_draws_the_metrics_asked_for(history):
    fig = round_history_chart(history, metrics=["dev_macro_f1"], title="Rounds")
    assert [t.name for t in fig.data] == ["seed labels", "dev macro f1"]
    np.testing.assert_allclose(fig.data[1].y, [0.6, 0.7, 0.8])
    assert fig.layout.title.text == "Rounds"


def test_round_history_chart_names_what_is_missing(history):
    with pytest.raises(ValueError, match=r"metrics \['valid_accuracy'\] are not in the history"):
        round_history_chart(history, metrics=["valid_accuracy"])
    with pytest.raises(ValueError, match="round history needs a 'n_seed_labels' column"):
        round_history_chart(history.drop(columns=["n_seed_labels"]))
