"""The pipeline's stages on the bundled data: lightly edited copies of protected rows never reach training."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench.evaluate import check_leakage
from workbench.pipeline import UNDER_REPRESENTED, LeakageConfig, PipelineError, class_check, parse_config, run_pipeline

REPO = Path(__file__).resolve().parents[2]

#: The edits a copy of a protected row gets: each keeps a reader's sense of "the same comment".
EDITS = {
    "punctuation removed": lambda t: re.sub(r"[^\w\s]", "", t),
    "punctuation added": lambda t: re.sub(r"^(\S+ \S+)", r"\1,", t) + "!!",
    "one word changed": lambda t: " ".join(w if i != 2 else "really" for i, w in enumerate(t.split(" "))),
    "Fwd: prefix": lambda t: "Fwd: " + t,
    "HTML entity": lambda t: t.replace(" ", "&nbsp;", 1),
    "trailing emoji": lambda t: t + " \U0001F602\U0001F44D",
    "Cyrillic homoglyphs": lambda t: t.translate(str.maketrans({"a": "\u0430", "e": "\u0435", "o": "\u043e"})),
}


def edited_copies(ds) -> pd.DataFrame:
    """7 edits of one spam comment of 8-25 words from each of dev, test and canary: 21 pool rows."""
    rows = []
    for split in ("dev", "test", "canary"):
        df = ds[split]
        fits = ((df["label"] == 1) & df["text"].str.split().str.len().between(8, 25)
                & ~df["text"].str.contains(r"http|www|\.com|&") & df["text"].str.contains(r"[.,!?']"))
        original = df[fits].iloc[0]
        rows += [{"example_id": f"copy-{split}-{i}", "text": edit(original["text"]), "edit": name,
                  "of": original["example_id"]} for i, (name, edit) in enumerate(EDITS.items())]
    copies = pd.DataFrame(rows)
    assert len(copies) == 21 and copies["text"].nunique() == 21
    return copies


def test_the_leakage_check_finds_every_edited_copy_at_its_default_threshold(youtube):
    copies = edited_copies(youtube)
    report = check_leakage(copies, youtube)
    found = report.matches.groupby("train_id")["protected_id"].agg(set)
    missed = copies[~copies["example_id"].isin(found.index)]
    assert missed.empty, missed[["edit", "text"]].to_string()
    assert all(of in found[i] for i, of in zip(copies["example_id"], copies["of"]))


@pytest.mark.slow
def test_the_default_pipeline_removes_and_records_every_edited_copy(youtube, tmp_path):
    """The bundled config on the bundled data plus 21 edited copies of protected rows in the pool:
    none is exported, and each is recorded as a copy of a protected row (by the
    protected_duplicates step or the leakage check), unless an earlier filter (no LF voted, low
    confidence) already dropped it. On the code before normalisation folded punctuation, emoji,
    prefixes and homoglyphs, 2 were exported and 13 were removed only by chance."""
    copies = edited_copies(youtube)
    pool = pd.concat([youtube["train"][["example_id", "text"]], copies[["example_id", "text"]]], ignore_index=True)
    pool.to_csv(tmp_path / "train.csv", index=False)
    labeled = ("seed", "dev", "valid", "test", "canary")
    for split in labeled:
        youtube[split][["example_id", "text", "label"]].to_csv(tmp_path / f"{split}.csv", index=False)
    raw = yaml.safe_load((REPO / "configs" / "youtube_spam.yaml").read_text())
    raw["data"] = {"text_column": "text", "id_column": "example_id", "label_column": "label",
                   "class_names": youtube.class_names, "train": "train.csv", **{s: f"{s}.csv" for s in labeled}}
    raw["output"] = {"dir": "out", "format": "parquet"}
    assert raw["leakage"]["threshold"] == LeakageConfig().threshold  # the default
    result = run_pipeline(parse_config(raw, base_dir=tmp_path), progress_bar=False, echo=None)

    assert not set(copies["example_id"]) & set(result.export["example_id"])
    removed_by = {}
    for step in result.manifest["funnel"]["steps"]:
        for reason in step["removed"].values():
            removed_by.update(dict.fromkeys(reason["ids"], step["step"]))
    removed_by.update(dict.fromkeys(result.manifest["evaluation"]["leakage"]["export"]["removed"], "leakage"))
    where = copies.assign(removed_by=copies["example_id"].map(removed_by))
    allowed = {"uncovered", "confidence", "protected_duplicates", "leakage"}
    assert where["removed_by"].isin(allowed).all(), where[["edit", "of", "removed_by"]].to_string()
    as_copies = where["removed_by"].isin({"protected_duplicates", "leakage"})
    assert as_copies.sum() >= 2 * len(EDITS)  # the copies of two of the three rows get past the confidence filter


# -- end model -----------------------------------------------------------------------------------------


def test_end_model_targets_are_the_generated_labels_unless_soft_is_asked_for():
    from workbench.pipeline._stages import TrainingSet, end_model_stage

    # The labels say "buy now" is spam, the label model's probabilities lean the other way on every
    # row: hard targets follow the labels, soft targets the probabilities.
    texts = [f"comment number {i} {'buy now' if i % 2 else 'nice song'}" for i in range(40)]
    spam = np.arange(40) % 2
    table = pd.DataFrame({"text": texts, "label": spam, "proba_ham": np.where(spam, 0.6, 0.4),
                          "proba_spam": np.where(spam, 0.4, 0.6), "sample_weight": 1.0})
    training = TrainingSet(table)
    predictions = {}
    for targets in ("hard", "soft"):
        config = parse_config({"name": "t", "data": {"bundled": "youtube_spam"}, "lfs": "workbench.data.youtube_lfs",
                               "end_model": {"targets": targets}})
        model = end_model_stage(config, training, ["ham", "spam"]).artifact
        predictions[targets] = model.predict(texts)
    assert (predictions["hard"] == spam).all()
    assert (predictions["soft"] == 1 - spam).all()


def test_end_model_refuses_hard_targets_of_one_class():
    from workbench.pipeline._stages import TrainingSet, end_model_stage

    table = pd.DataFrame({"text": ["a b", "c d"], "label": 1, "proba_ham": 0.2, "proba_spam": 0.8, "sample_weight": 1.0})
    config = parse_config({"name": "t", "data": {"bundled": "youtube_spam"}, "lfs": "workbench.data.youtube_lfs"})
    with pytest.raises(PipelineError, match="end model: all 2 training rows have the label 'spam'.*targets: soft"):
        end_model_stage(config, TrainingSet(table), ["ham", "spam"])


# --------------------------------------------------------------------------- the class check


def _funnel(pool: dict, *steps: tuple[str, dict]) -> dict:
    """A funnel record with per-class counts, as the filter stage writes it in the manifest."""
    return {"n_pool_by_class": pool, "steps": [{"step": name, "n_kept_by_class": kept} for name, kept in steps]}


def test_the_class_check_names_a_missing_class_and_the_step_that_removed_it():
    dev = np.array([0] * 50 + [1] * 50)
    funnel = _funnel({"ham": 4, "spam": 6}, ("uncovered", {"ham": 4, "spam": 5}), ("confidence", {"ham": 4, "spam": 0}))
    check = class_check(np.zeros(4, dtype=int), dev, ["ham", "spam"], funnel)
    assert check["missing"] == ["spam"]
    assert check["classes"]["spam"]["export_rows"] == 0 and check["classes"]["ham"]["export_share"] == 1.0
    assert len(check["warnings"]) == 1
    assert check["warnings"][0].startswith("class 'spam' has none of the export's 4 rows but 50 of 100 dev rows (50%")
    assert "the confidence step removed 5 of its 5 rows (the label model labelled 6 pool rows 'spam')" in check["warnings"][0]
    # rows the filters kept and the leakage check removed are named too
    funnel = _funnel({"ham": 4, "spam": 6}, ("confidence", {"ham": 3, "spam": 2}))
    check = class_check(np.zeros(3, dtype=int), dev, ["ham", "spam"], funnel)
    assert "the confidence step removed 4 of its 6 rows, the leakage check 2 more" in check["warnings"][0]
    # a label the label model never gave
    check = class_check(np.zeros(3, dtype=int), dev, ["ham", "spam"], _funnel({"ham": 4, "spam": 0}))
    assert "the label model gave no pool row this label" in check["warnings"][0]


def test_the_class_check_warns_on_a_class_far_rarer_than_on_dev_only():
    dev = np.array([0] * 60 + [1] * 40)  # spam 40%, 95% interval about 31% to 50%
    fine = class_check(np.array([0] * 70 + [1] * 30), dev, ["ham", "spam"])
    assert fine["missing"] == [] and fine["warnings"] == []
    rare = class_check(np.array([0] * 90 + [1] * 10), dev, ["ham", "spam"])
    low = rare["classes"]["spam"]["dev_share_interval"][0]
    assert 0.10 < UNDER_REPRESENTED * low
    assert rare["missing"] == [] and len(rare["warnings"]) == 1
    assert rare["warnings"][0].startswith("class 'spam' is 10.0% of the export (10 of 100 rows) but 40 of 100 dev rows")
    assert "see the funnel in the report" in rare["warnings"][0]  # no per-class funnel given
    # a class the dev set lacks is never flagged
    assert class_check(np.zeros(5, dtype=int), np.zeros(20, dtype=int), ["ham", "spam"])["warnings"] == []


def test_the_apply_stage_keys_the_lf_cache_by_the_fingerprints_the_load_stage_recorded(youtube, monkeypatch):
    """The load stage hashes every split for the lineage; the apply stage reuses those hashes as the LF
    cache's data keys rather than hash a million-row pool a second time."""
    import workbench.labeling._apply as apply_module
    from workbench.data.youtube_lfs import YOUTUBE_LFS
    from workbench.labeling import LabelCache, apply_lfs, data_fingerprint
    from workbench.pipeline._stages import apply_stage

    fingerprints = {s: data_fingerprint(youtube[s]) for s in youtube.splits}
    names = [lf.name for lf in YOUTUBE_LFS]
    cache = LabelCache()
    monkeypatch.setattr(apply_module, "DEFAULT_CACHE", cache)
    hashed = []
    with monkeypatch.context() as patched:
        patched.setattr(apply_module, "data_fingerprint", lambda df: hashed.append(len(df)) or "hashed again")
        L = apply_stage(youtube, YOUTUBE_LFS, names, progress_bar=False, fingerprints=fingerprints).artifact
    assert hashed == []
    assert {key for _, key in cache._store} == {fingerprints[s] for s in ("train", "seed", "dev", "test", "canary")}
    hits = cache.hits
    again = apply_lfs(youtube["train"], YOUTUBE_LFS, cardinality=2, progress_bar=False)  # hashes the pool itself
    assert cache.hits > hits and np.array_equal(again, L["train"])
    with pytest.raises(ValueError, match="data_key= are for engine='local'"):
        apply_lfs(youtube["dev"], YOUTUBE_LFS, engine="dask", data_key=fingerprints["dev"])
