"""Figures of ``workbench.plots.studio``: built once, then updated in place from studio snapshots."""

import json

import numpy as np
import plotly.graph_objects as go
import pytest

from workbench.generate import MajorityVote
from workbench.labeling import ABSTAIN, conflict_matrix, model_output, overlap_matrix
from workbench.plots.studio import (
    MODEL_COLORS,
    balance_figure,
    confidence_figure,
    lf_matrix_figure,
    update_balance,
    update_confidence,
    update_lf_matrix,
)

A = ABSTAIN
L = np.array([[0, A, 1], [1, 1, A], [A, 1, 1], [0, 0, A], [A, A, A], [1, A, 1]])
Y_DEV = np.array([0, 1, 1, 0])


def snapshot(fig: go.Figure) -> dict:
    """The figure as the browser receives it."""
    return json.loads(fig.to_json())


def changes(before: dict, after: dict) -> dict[int, set[str]]:
    """Which properties of which traces differ; the layout must not change."""
    assert after["layout"] == before["layout"]
    assert len(after["data"]) == len(before["data"])
    out = {}
    for i, (old, new) in enumerate(zip(before["data"], after["data"])):
        keys = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        if keys:
            out[i] = keys
    return out


@pytest.fixture(scope="module")
def majority():
    model = MajorityVote(cardinality=2).fit(L)
    return model_output("majority vote", model, L, L[:4], Y_DEV, 2, bins=4)


# --------------------------------------------------------------------------- LF matrices


def test_lf_matrix_figure_shows_the_matrix_as_percentages():
    matrix = overlap_matrix(L, ["a", "b", "c"])
    fig = lf_matrix_figure(matrix, "Overlaps: both LFs vote", "Blues", height=300)
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    trace = fig.data[0]
    assert list(trace.x) == list(trace.y) == ["a", "b", "c"]
    np.testing.assert_allclose(trace.z, matrix.to_numpy())
    assert np.asarray(trace.text).tolist() == [[f"{v:.0%}" for v in row] for row in matrix.to_numpy()]
    assert trace.zmin == 0 and trace.zmax == pytest.approx(matrix.to_numpy().max())
    assert fig.layout.title.text == "Overlaps: both LFs vote" and fig.layout.height == 300


def test_update_lf_matrix_changes_exactly_the_heatmap_data():
    fig = lf_matrix_figure(overlap_matrix(L[:, :0], []), "Conflicts", "Reds")
    assert list(fig.data[0].x) == [] and fig.data[0].zmax == 1.0  # no LFs yet: an empty heatmap on a fixed scale
    before = snapshot(fig)
    matrix = conflict_matrix(L, ["a", "b", "c"])
    update_lf_matrix(fig, matrix)
    assert changes(before, snapshot(fig)) == {0: {"x", "y", "z", "text", "zmax"}}
    np.testing.assert_allclose(fig.data[0].z, matrix.to_numpy())
    assert list(fig.data[0].x) == ["a", "b", "c"]
    # Cells below half a percent stay blank rather than reading "0%".
    assert np.asarray(fig.data[0].text).tolist()[1] == ["", "", ""]
    assert fig.data[0].zmax == pytest.approx(matrix.to_numpy().max())


# --------------------------------------------------------------------------- confidence


def test_confidence_figure_starts_with_two_empty_histograms():
    fig = confidence_figure()
    assert [(t.type, t.name) for t in fig.data] == [("bar", "majority vote"), ("bar", "label model")]
    assert all(len(t.x) == len(t.y) == 0 for t in fig.data)
    assert [t.marker.color for t in fig.data] == [MODEL_COLORS["majority vote"], MODEL_COLORS["label model"]]
    assert fig.layout.title.text == "Confidence on pool rows some LF covers" and fig.layout.barmode == "overlay"
    assert fig.layout.xaxis.title.text == "max probability" and fig.layout.yaxis.title.text == "rows"


def test_update_confidence_sets_the_binned_histograms_and_nothing_else(majority):
    fig = confidence_figure()
    before = snapshot(fig)
    update_confidence(fig, (majority.hist_counts, majority.hist_edges), None, "label model: off")
    assert changes(before, snapshot(fig)) == {0: {"x", "y", "width", "opacity"}, 1: {"name", "width", "opacity"}}
    bars = fig.data[0]
    # Five covered rows binned on [1/2, 1]: votes tie on row 1 (0.5), the other four agree (1.0).
    assert bars.y.tolist() == majority.hist_counts.tolist() == [1, 0, 0, 4]
    assert bars.y.sum() == (L != ABSTAIN).any(axis=1).sum()
    np.testing.assert_allclose(bars.x, [0.5625, 0.6875, 0.8125, 0.9375])
    np.testing.assert_allclose(bars.width, [0.125] * 4)
    assert fig.data[1].name == "label model: off" and len(fig.data[1].x) == 0

    before = snapshot(fig)
    update_confidence(fig, (majority.hist_counts, majority.hist_edges), (np.array([0, 1, 2, 2]), majority.hist_edges),
                      "Snorkel LabelModel (stale)", label_model_current=False)
    assert changes(before, snapshot(fig)) == {1: {"x", "y", "width", "name", "opacity"}}  # majority vote unchanged
    assert fig.data[1].y.tolist() == [0, 1, 2, 2] and fig.data[1].opacity == 0.2  # stale: faded
    assert fig.data[1].name == "Snorkel LabelModel (stale)"


# --------------------------------------------------------------------------- class balance


def test_balance_figure_starts_with_three_zero_groups():
    fig = balance_figure(["ham", "spam"])
    assert [(t.type, t.name) for t in fig.data] == [("bar", "dev set"), ("bar", "majority vote"), ("bar", "label model")]
    assert all(list(t.x) == ["ham", "spam"] and list(t.y) == [0, 0] for t in fig.data)
    assert fig.layout.title.text == "Predicted class balance vs the dev set" and fig.layout.barmode == "group"
    assert fig.layout.yaxis.tickformat == ".0%"


def test_update_balance_sets_the_shares_and_nothing_else(majority):
    fig = balance_figure(["ham", "spam"])
    before = snapshot(fig)
    dev = np.bincount(Y_DEV, minlength=2) / len(Y_DEV)
    update_balance(fig, dev, majority.balance, None, "label model: off")
    assert changes(before, snapshot(fig)) == {0: {"y", "opacity"}, 1: {"y", "opacity"}, 2: {"name", "opacity"}}
    assert list(fig.data[0].y) == [0.5, 0.5]
    np.testing.assert_allclose(fig.data[1].y, majority.balance)
    assert list(fig.data[2].y) == [0, 0] and fig.data[2].name == "label model: off"

    before = snapshot(fig)
    update_balance(fig, dev, majority.balance, [0.25, 0.75], "Snorkel LabelModel", label_model_current=True)
    assert changes(before, snapshot(fig)) == {2: {"y", "name"}}
    assert list(fig.data[2].y) == [0.25, 0.75] and fig.data[2].opacity == 1.0


def test_update_balance_names_a_group_with_the_wrong_number_of_classes():
    fig = balance_figure(["ham", "spam"])
    with pytest.raises(ValueError, match="label model: 3 class shares for 2 classes"):
        update_balance(fig, None, [0.5, 0.5], [0.2, 0.3, 0.5])
