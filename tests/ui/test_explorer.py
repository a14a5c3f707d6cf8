"""The threshold explorer, driven from Python: set controls, assert what changes."""

import json

import numpy as np
import pandas as pd
import pytest

from workbench.ui.explorer import ThresholdExplorer

NAMES = ["ham", "spam"]


@pytest.fixture
def pool_data():
    """120 distinct comments with spam probabilities spread evenly; rows 0-4 repeat row 5's text."""
    rng = np.random.default_rng(0)
    words = np.array("song love video channel check subscribe free money great best views watch nice cool".split())
    texts = [" ".join(rng.choice(words, 8)) + f" number {i}" for i in range(120)]
    texts[:5] = [texts[5].upper(), texts[5] + "  ", texts[5], texts[5], texts[5].title()]
    texts[7] = "<script>alert('x')</script> buy now"
    p_spam = np.linspace(0.02, 0.98, 120)
    pool = pd.DataFrame({"example_id": [f"p{i:03d}" for i in range(120)], "text": texts})
    P = np.column_stack([1 - p_spam, p_spam])
    dev_p = np.linspace(0.05, 0.95, 40)
    dev_P = np.column_stack([1 - dev_p, dev_p])
    dev_y = (dev_p > 0.5).astype(int)
    dev_y[[18, 21]] = 1 - dev_y[[18, 21]]  # two mistakes near the boundary
    return pool, P, dev_P, dev_y


@pytest.fixture
def explorer(pool_data):
    pool, P, dev_P, dev_y = pool_data
    return ThresholdExplorer(pool, P, valid_proba=dev_P, valid_labels=dev_y, class_names=NAMES, threshold=0.6)


def kept_by_threshold(P, t, spam_t=0.0):
    conf, pred = P.max(1), P.argmax(1)
    return int(((conf >= np.where(pred == 1, max(t, spam_t), t) - 1e-12)).sum())


def test_moving_the_slider_changes_kept_count_and_every_figure(explorer, pool_data):
    _, P, _, _ = pool_data
    assert explorer.kept_count == kept_by_threshold(P, 0.6)
    marker_before = explorer.curve_figure.data[-1].x
    kept_bars_before = explorer.histogram_figure.data[0].y
    funnel_before = explorer.kept_figure.data[2].x
    counts_before = list(explorer.kept_figure.data[0].text)
    revisions = {name: view.revision for name, view in explorer.views.items()}

    explorer.threshold.value = 0.85

    # every view is redrawn once, in place, with the figure the explorer holds
    for name, view in explorer.views.items():
        assert view.revision == revisions[name] + 1
        assert json.loads(view.figure) == json.loads(getattr(explorer, name).to_json())
    assert [explorer.widget.children[1].children[i] for i in range(3)] == list(explorer.views.values())

    assert explorer.kept_count == kept_by_threshold(P, 0.85) < kept_by_threshold(P, 0.6)
    assert f"<b>{explorer.kept_count}</b>" in explorer.kept_label.value
    assert explorer.curve_figure.data[-1].x[0] < marker_before[0]  # the "all" point moves left (less coverage)
    assert explorer.histogram_figure.layout.shapes[0].x0 == pytest.approx(0.85)
    assert sum(explorer.histogram_figure.data[0].y) == explorer.kept_count < sum(kept_bars_before)
    assert explorer.kept_figure.data[2].x[-1] == explorer.kept_count != funnel_before[-1]
    assert explorer.kept_figure.layout.title.text == f"The kept set: {explorer.kept_count:,} rows"
    counts = [int(c.replace(",", "")) for c in explorer.kept_figure.data[0].text]  # rows per class on the bars
    assert counts != counts_before and sum(counts) == explorer.kept_count
    assert sum(explorer.kept_figure.data[0].y) == pytest.approx(1.0)


def test_dev_precision_of_the_current_point(explorer, pool_data):
    _, _, dev_P, dev_y = pool_data
    explorer.threshold.value = 0.7
    kept = dev_P.max(1) >= 0.7
    expected = (dev_P.argmax(1) == dev_y)[kept].mean()
    assert explorer.curve_figure.data[-1].y[0] == pytest.approx(expected)
    assert f"{expected:.1%}" in explorer.kept_label.value


def test_class_threshold_only_tightens_its_class(explorer, pool_data):
    _, P, _, _ = pool_data
    explorer.class_thresholds["spam"].value = 0.9
    assert explorer.kept_count == kept_by_threshold(P, 0.6, spam_t=0.9)
    frame = explorer.curated().frame
    assert frame.loc[frame["label"] == 1, "confidence"].min() >= 0.9
    assert frame.loc[frame["label"] == 0, "confidence"].min() < 0.9
    # a second, dashed threshold line for spam appears in the histogram
    assert [s.x0 for s in explorer.histogram_figure.layout.shapes] == pytest.approx([0.6, 0.9])


def test_toggles_add_funnel_steps(explorer):
    explorer.set(threshold=0.55)
    assert list(explorer.kept_figure.data[2].y) == ["pool", "confidence"]

    explorer.dedupe.value = True
    assert list(explorer.kept_figure.data[2].y) == ["pool", "dedupe", "confidence"]
    dedupe = explorer.curated().funnel.steps[0]
    assert dedupe.n_removed == 5  # rows 0-5 share one text, one of them stays
    assert set(explorer.curated().frame["example_id"]).isdisjoint(dedupe.removed_ids["exact_duplicate"])

    explorer.balance.value = "downsample"
    frame = explorer.curated().frame
    assert frame["label"].value_counts().tolist() == [len(frame) // 2] * 2  # dev target is 50/50
    assert list(explorer.kept_figure.data[0].y) == pytest.approx([0.5, 0.5])

    explorer.set(diversity_k=10)
    assert explorer.kept_count == 10
    assert list(explorer.kept_figure.data[2].y) == ["pool", "dedupe", "confidence", "balance", "diversity"]

    explorer.set(dedupe=False, balance=None, diversity_k=None)
    assert list(explorer.kept_figure.data[2].y) == ["pool", "confidence"]


def test_weights_balance_shows_weighted_shares(explorer):
    explorer.set(threshold=0.55, class_thresholds={"spam": 0.8}, balance="weights")
    frame = explorer.curated().frame
    assert (frame["label"] == 0).sum() > (frame["label"] == 1).sum()
    totals = frame.groupby("label")["sample_weight"].sum()
    assert totals[1] / totals.sum() == pytest.approx(0.5)
    assert explorer.kept_figure.data[0].name == "kept (weighted)"
    assert list(explorer.kept_figure.data[0].y) == pytest.approx([0.5, 0.5])


def test_set_refreshes_once_and_matches_setting_one_by_one(explorer, pool_data, monkeypatch):
    pool, P, dev_P, dev_y = pool_data
    calls = []
    original = explorer.refresh
    monkeypatch.setattr(explorer, "refresh", lambda: (calls.append(1), original())[1])
    explorer.set(threshold=0.75, class_thresholds={"ham": 0.8}, dedupe=True)
    assert len(calls) == 1
    other = ThresholdExplorer(pool, P, valid_proba=dev_P, valid_labels=dev_y, class_names=NAMES)
    other.threshold.value = 0.75
    other.class_thresholds["ham"].value = 0.8
    other.dedupe.value = True
    assert explorer.curated().frame["example_id"].tolist() == other.curated().frame["example_id"].tolist()
    assert explorer.settings == {"threshold": 0.75, "class_thresholds": {"ham": 0.8, "spam": 0.5}, "dedupe": True,
                                 "balance": None, "diversity_k": None}


def test_preview_shows_rows_either_side_of_the_threshold_escaped(explorer, pool_data):
    pool, P, _, _ = pool_data
    explorer.threshold.value = 0.9
    conf = P.max(1)
    kept = conf >= 0.9
    just_kept = pool["text"][kept].iloc[np.argsort(conf[kept])[0]]
    just_dropped = pool["text"][~kept].iloc[np.argsort(-conf[~kept])[0]]
    assert just_kept in explorer.preview.value and just_dropped in explorer.preview.value
    explorer.threshold.value = 0.5
    explorer.class_thresholds["ham"].value = 0.96
    # one display rule: tags are dropped and entities decoded for display (the data keeps the raw text)
    assert "<script>" not in explorer.preview.value and "alert('x') buy now" in explorer.preview.value
    assert pool_data[0]["text"][7] == "<script>alert('x')</script> buy now"


def test_preview_shows_comments_without_entities_or_tags(pool_data):
    pool, P, dev_P, dev_y = pool_data
    pool = pool.assign(text=[t.replace("number", "I&#39;m<br />number") for t in pool["text"]])
    explorer = ThresholdExplorer(pool, P, valid_proba=dev_P, valid_labels=dev_y, class_names=NAMES, threshold=0.9)
    assert "I'm\nnumber" in explorer.preview.value and "&#39;" not in explorer.preview.value
    assert "&lt;br" not in explorer.preview.value and "<br" not in explorer.preview.value


def test_button_returns_and_saves_the_curated_set(pool_data, tmp_path):
    pool, P, dev_P, dev_y = pool_data
    explorer = ThresholdExplorer(pool, P, valid_proba=dev_P, valid_labels=dev_y, class_names=NAMES, save_dir=tmp_path / "explorer")
    explorer.set(threshold=0.8, dedupe=True)
    explorer.button.click()
    curated = explorer.last_curated
    assert len(curated.frame) == explorer.kept_count and f"{explorer.kept_count:,} rows" in explorer.status.value
    assert "<" not in explorer.status_text and f"{explorer.kept_count:,} rows · saved" in explorer.status_text
    saved = pd.read_csv(tmp_path / "explorer" / "curated.csv")
    assert saved["example_id"].tolist() == curated.frame["example_id"].tolist()
    record = json.loads((tmp_path / "explorer" / "filter_record.json").read_text())
    assert record["settings"]["threshold"] == 0.8 and record["settings"]["dedupe"] is True
    assert [s["step"] for s in record["funnel"]["steps"]] == ["dedupe", "confidence"]
    assert record["funnel"]["n_kept"] == explorer.kept_count
    assert not [p for p in (tmp_path / "explorer").iterdir() if p.name.endswith(".tmp")]


def test_explorer_names_bad_input(pool_data):
    pool, P, _, _ = pool_data
    with pytest.raises(ValueError, match="no column 'body'"):
        ThresholdExplorer(pool, P, text_column="body")
    with pytest.raises(ValueError, match="proba has 119 rows"):
        ThresholdExplorer(pool, P[:-1])
    explorer = ThresholdExplorer(pool, P)
    with pytest.raises(ValueError, match="balance must be"):
        explorer.set(balance="smote")


def test_label_model_proba_fits_once_then_reads_the_cache(tmp_path):
    from workbench import ABSTAIN as A
    from workbench.generate import MajorityVote
    from workbench.ui.explorer import label_model_proba

    fits = []

    class CountingVote(MajorityVote):
        def fit(self, L, y=None):
            fits.append(1)
            return super().fit(L, y)

    L = np.array([[0, 1, A], [1, 1, 1], [0, A, 0]])
    first = label_model_proba(CountingVote(cardinality=2), L, {"valid": L[:2]}, cache_dir=tmp_path)
    again = label_model_proba(CountingVote(cardinality=2), L, {"valid": L[:2]}, cache_dir=tmp_path)
    assert len(fits) == 1 and sorted(again) == ["train", "valid"]
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    np.testing.assert_array_equal(first["train"], MajorityVote(cardinality=2).fit(L).predict_proba(L))
    changed = L.copy()
    changed[0, 0] = 1
    label_model_proba(CountingVote(cardinality=2), changed, {"valid": L[:2]}, cache_dir=tmp_path)  # new votes: refit
    label_model_proba(CountingVote(cardinality=3), L, {"valid": L[:2]}, cache_dir=tmp_path)  # new parameters: refit
    assert len(fits) == 3 and len(list(tmp_path.glob("label_model_proba_*.npz"))) == 3
    assert not list(tmp_path.glob(".*.tmp"))


def test_label_model_proba_learns_from_the_seed_rows_as_the_pipeline_does(tmp_path):
    from workbench import ABSTAIN as A
    from workbench.generate import MajorityVote
    from workbench.ui.explorer import label_model_proba

    seen = []

    class LabelLearner(MajorityVote):
        def uses_labels(self):
            return True

        def fit(self, L, y=None):
            seen.append((np.asarray(L).copy(), None if y is None else np.asarray(y).copy()))
            return super().fit(L)

    L, L_seed = np.array([[0, 1], [1, 1], [0, A]]), np.array([[1, A], [0, 0]])
    proba = label_model_proba(LabelLearner(cardinality=2), L, {"valid": L[:1]}, seed=(L_seed, [1, 0]), cache_dir=tmp_path)
    fitted_L, fitted_y = seen[0]
    np.testing.assert_array_equal(fitted_L, np.vstack([L, L_seed]))
    np.testing.assert_array_equal(fitted_y, [A, A, A, 1, 0])
    assert proba["train"].shape == (3, 2) and proba["valid"].shape == (1, 2)  # the pool's rows only
    label_model_proba(LabelLearner(cardinality=2), L, {"valid": L[:1]}, seed=(L_seed, [1, 0]), cache_dir=tmp_path)
    label_model_proba(LabelLearner(cardinality=2), L, {"valid": L[:1]}, seed=(L_seed, [1, 1]), cache_dir=tmp_path)
    assert len(seen) == 2  # the same seed labels come from the cache, other ones refit
    label_model_proba(MajorityVote(cardinality=2), L, seed=(L_seed, [1, 0]))  # a model without labels ignores them
    with pytest.raises(ValueError, match="y_seed"):
        label_model_proba(LabelLearner(cardinality=2), L, seed=(L_seed, [1, 2]))
    with pytest.raises(ValueError, match="L_seed has shape \\(2, 1\\) but L_train has 2 LF columns"):
        label_model_proba(LabelLearner(cardinality=2), L, seed=(L_seed[:, :1], [1, 0]))
