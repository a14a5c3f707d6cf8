"""The headless pipeline: known answers on a tiny user dataset, the leakage stage, the registries, the CLI."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workbench.curate import FILTER_STEPS, StepParam, exclude, filter_step
from workbench.evaluate import ABSTAIN_POLICY, LeakageError, check_leakage
from workbench.export import export_file_sha256, file_sha256, latest_run, read_export, read_table
from workbench.generate import LABEL_MODELS, MajorityVote
from workbench.pipeline import STAGES, ClassShareWarning, ConfigError, PipelineError, parse_config, run_pipeline

REPO = Path(__file__).resolve().parents[2]

LF_MODULE = '''from workbench.labeling import keyword_lf

kw_spam = keyword_lf("kw_spam", ["check", "subscribe"], 1)
kw_ham = keyword_lf("kw_ham", ["song", "great"], 0)
LFS = [kw_spam, kw_ham]
'''


@pytest.fixture
def tiny(tmp_path):
    """A user dataset where every step's outcome is known by construction."""
    pd.DataFrame({
        "id": ["p1", "p2", "p3", "p4", "p5", "p6"],
        "body": ["check my channel", "great song", "hello there", "check this song", "Nice   SONG", "subscribe to my channel"],
        "gold": [1, 0, 0, 1, 0, 0],
    }).to_csv(tmp_path / "pool.csv", index=False)
    pd.DataFrame({"id": ["d1", "d2", "d3", "d4"], "body": ["subscribe now", "good song", "check it", "so great"],
                  "y": [1, 0, 1, 0]}).to_parquet(tmp_path / "dev.parquet")
    # The seed split may be trained on: a pool row with a seed row's text is no leak.
    pd.DataFrame({"id": ["s1", "s2"], "body": ["visit my page", "GREAT  song"], "y": [1, 0]}).to_csv(tmp_path / "seed.csv", index=False)
    pd.DataFrame({"id": ["t1", "t2", "t3", "t4"], "body": ["nice song", "check out my channel", "buy cheap stuff", "lovely tune"],
                  "y": [0, 1, 1, 0]}).to_json(tmp_path / "test.jsonl", orient="records", lines=True)
    (tmp_path / "tiny_lfs.py").write_text(LF_MODULE)
    return tmp_path


def tiny_config(folder, **changes):
    raw = {
        "name": "tiny",
        "data": {"text_column": "body", "label_column": "y", "id_column": "id", "class_names": ["ham", "spam"],
                 "train": {"path": "pool.csv", "label_column": "gold"}, "seed": "seed.csv", "dev": "dev.parquet",
                 "test": "test.jsonl"},
        "lfs": "tiny_lfs.py",
        "filter": ["uncovered", {"step": "confidence", "threshold": 0.7}, "protected_duplicates"],
        "output": {"dir": "out", "format": "csv", "report": "txt"},
    }
    raw.update(changes)
    return parse_config(raw, base_dir=folder)


def elsewhere(folder):
    """The tiny config's output section, writing to another folder."""
    return {"dir": folder, "format": "csv", "report": "txt"}


def test_known_answers_on_a_tiny_user_dataset(tiny):
    res = run_pipeline(tiny_config(tiny, label_model="majority"), progress_bar=False, echo=None)
    m = res.manifest
    assert [(s["step"], s["n_in"], s["n_kept"]) for s in m["funnel"]["steps"]] == [
        ("uncovered", 6, 5), ("confidence", 5, 4), ("protected_duplicates", 4, 3)]
    removed = [{r: v["ids"] for r, v in s["removed"].items()} for s in m["funnel"]["steps"]]
    assert removed == [{"no LF voted": ["p3"]}, {"below_threshold": ["p4"]},
                       {"same text as a protected (dev/valid/test/canary) row": ["p5"]}]

    out = read_table(res.export_path)
    assert out["example_id"].tolist() == ["p1", "p2", "p6"]
    assert out["label"].tolist() == [1, 0, 1] and out["label_name"].tolist() == ["spam", "ham", "spam"]
    assert out["label_proba"].tolist() == [1.0, 1.0, 1.0] and out["proba_ham"].tolist() == [0.0, 1.0, 0.0]
    assert out["vote_kw_spam"].tolist() == [1, -1, 1] and out["vote_kw_ham"].tolist() == [-1, 0, -1]
    assert set(out["label_source"]) == {"label_model"} and out["sample_weight"].tolist() == [1.0] * 3
    assert out["text"].tolist() == ["check my channel", "great song", "subscribe to my channel"]
    # only id, text and the synthetic label columns: no copy of the text column, never the pool's gold labels
    assert "body" not in out.columns and "gold" not in out.columns and "id" not in out.columns

    lm = m["label_model"]
    assert (lm["requested"], lm["used"]) == ("majority", "majority") and lm["labeled_rows"] == 0
    test = m["evaluation"]["test"]["label_model"]
    assert (test["accuracy"], test["coverage"], test["accuracy_covered"]) == (0.5, 0.5, 1.0)  # t3, t4 get no vote
    assert (test["model"], test["split"], test["policy"]) == ("majority vote", "test", ABSTAIN_POLICY)
    assert m["evaluation"]["synthetic_label_accuracy"]["accuracy"] == pytest.approx(2 / 3)  # p6 is really ham
    assert m["evaluation"]["canary"] is None and m["evaluation"]["canary_gate"] is None
    assert m["evaluation"]["end_model_training"] == {"synthetic_rows": 3, "seed_rows": 2}
    leak = m["evaluation"]["leakage"]
    assert leak["protected_sizes"] == {"dev": 4, "test": 4}  # seed is not protected
    assert leak["export"]["rows"] == 3 and leak["seed"]["rows"] == 2
    assert not leak["export"]["matches"] and not leak["seed"]["matches"] and not leak["export"]["removed"]
    assert {f["split"] for f in m["inputs"]["files"]} == {"train", "seed", "dev", "test"}
    assert m["inputs"]["files"][0]["sha256"] == file_sha256(tiny / "pool.csv")

    report = res.report_path.read_text()
    assert res.report_path.name == "tiny.report.txt" and "Funnel" in report and "p5" not in report
    assert "protected_duplicates" in report and "0.500" in report
    assert "label model: majority vote" in report and ABSTAIN_POLICY in report  # every number names its convention
    assert ("label model (majority vote) accuracy 0.500 with abstentions counted as errors "
            "(1.000 on the 50% of rows it labels)") in res.summary()
    assert "tiny: 6 pool rows -> 3 exported (uncovered -1, confidence -1, protected_duplicates -1)" in res.summary()


def test_near_duplicates_step_keeps_the_most_confident_row_of_a_cluster(tiny):
    pool = pd.read_csv(tiny / "pool.csv")
    clone = pool[pool.id == "p6"].assign(id="p7", body="subscribe to my channel!!")  # a near copy of p6
    pd.concat([pool, clone]).to_csv(tiny / "pool.csv", index=False)
    config = tiny_config(tiny, filter=["uncovered", {"step": "near_duplicates", "threshold": 0.6}, "protected_duplicates"])
    step = run_pipeline(config, progress_bar=False, echo=None).manifest["funnel"]["steps"][1]
    assert (step["step"], step["n_in"], step["n_kept"]) == ("near_duplicates", 6, 5)
    assert step["params"]["threshold"] == 0.6
    assert [ids for r in step["removed"].values() for ids in r["ids"]] == ["p7"]


def test_end_model_learns_from_the_exported_rows_and_the_seed_set_never_dev(tiny):
    mixed = run_pipeline(tiny_config(tiny), progress_bar=False, echo=None)
    alone = run_pipeline(tiny_config(tiny, end_model={"mix_seed": False}, output=elsewhere("out2")), progress_bar=False, echo=None)
    vocab = lambda r: set(r.end_model.named_steps["features"].vocabulary_)  # noqa: E731
    assert "visit my" in vocab(mixed) and "visit" not in vocab(alone)
    assert {"check", "my", "channel", "great", "song"} <= vocab(alone)
    assert not {"subscribe now", "good song", "so great"} & vocab(mixed)  # dev texts never reach training
    assert alone.manifest["evaluation"]["end_model_training"]["seed_rows"] == 0


def with_canary(folder, **canary):
    pd.DataFrame({"id": ["k1", "k2", "k3", "k4"], "body": ["check my videos", "great tune", "free stuff here", "fun"],
                  "y": [1, 0, 1, 0]}).to_csv(folder / "canary.csv", index=False)
    cfg = tiny_config(folder)
    data = {**cfg.to_dict()["data"], "canary": {"path": "canary.csv", "text_column": "body", "label_column": "y", "id_column": "id"}}
    return tiny_config(folder, data=data, canary=canary)


def test_the_canary_gate_refuses_a_weak_end_model(tiny):
    from workbench.evaluate import CanaryGateError

    with pytest.raises(CanaryGateError, match=r"canary gate failed: accuracy = .* < minimum 0\.9900 on 4 canary rows"):
        run_pipeline(with_canary(tiny, metric="accuracy", minimum=0.99), progress_bar=False, echo=None)
    assert not (tiny / "out").exists() or not any((tiny / "out").iterdir())


def test_a_failed_gate_exports_only_with_a_recorded_override(tiny):
    res = run_pipeline(with_canary(tiny, metric="accuracy", minimum=0.99, override="tiny demo set"), progress_bar=False, echo=None)
    gate = res.manifest["evaluation"]["canary_gate"]
    assert not gate["passed"] and gate["allowed"] and gate["override"]["reason"] == "tiny demo set"
    assert gate["n"] == 4 and gate["value"] < 0.99
    assert "FAILED, exported under override (tiny demo set)" in res.summary()
    assert res.manifest["evaluation"]["leakage"]["protected_sizes"] == {"dev": 4, "test": 4, "canary": 4}


def test_export_is_refused_when_a_protected_row_would_leak(tiny):
    cfg = tiny_config(tiny, filter=["uncovered"])
    with pytest.raises(LeakageError, match=r"^the export table \(leakage.export.exact: refuse\) contains 1 row\(s\) matching "
                                           r"protected rows \(rows matching each split: test 1; 1 exact and 0 near-duplicate "
                                           r"matches\):\n  row 'p5' 'Nice   SONG' matches test 't1'\n"):
        run_pipeline(cfg, progress_bar=False, echo=None)
    assert not (tiny / "out").exists() or not any((tiny / "out").iterdir())


def test_exact_copies_can_be_removed_instead_with_a_record(tiny):
    res = run_pipeline(tiny_config(tiny, filter=["uncovered"], leakage={"export": {"exact": "remove"}}),
                       progress_bar=False, echo=None)
    export = res.manifest["evaluation"]["leakage"]["export"]
    assert (export["exact_copies"], export["removed"]) == (["p5"], ["p5"])
    assert export["matches"] == [{"train_id": "p5", "protected_split": "test", "protected_id": "t1", "kind": "exact",
                                  "similarity": 1.0}]
    assert res.export["example_id"].tolist() == ["p1", "p2", "p4", "p6"] == read_table(res.export_path)["example_id"].tolist()
    assert res.manifest["funnel"]["n_kept"] == 5 and res.manifest["export"]["rows"] == 4
    assert "5 exported" not in res.summary() and "-> 4 exported (uncovered -1, leakage -1)" in res.summary()
    assert "removed 1 of 5 export rows as copies of protected rows" in res.summary()


def add_to_seed(folder, *rows):
    seed = pd.read_csv(folder / "seed.csv")
    pd.concat([seed, pd.DataFrame(rows, columns=["id", "body", "y"])]).to_csv(folder / "seed.csv", index=False)


def test_the_seed_split_is_checked_when_trained_on(tiny):
    add_to_seed(tiny, ("s3", "Check out  MY channel", 1))  # an exact copy of test row t2
    with pytest.raises(LeakageError, match=r"^the seed split \(leakage.seed.exact: refuse\) contains 1 row.*\n  row 's3' 'Check out  MY channel' matches test 't2'"):
        run_pipeline(tiny_config(tiny), progress_bar=False, echo=None)

    res = run_pipeline(tiny_config(tiny, leakage={"seed": {"exact": "remove"}}), progress_bar=False, echo=None)
    seed = res.manifest["evaluation"]["leakage"]["seed"]
    assert (seed["rows"], seed["exact_copies"], seed["removed"]) == (3, ["s3"], ["s3"])
    assert res.manifest["evaluation"]["end_model_training"]["seed_rows"] == 2
    assert "check out my" not in res.end_model.named_steps["features"].vocabulary_  # the copy never reached training

    alone = run_pipeline(tiny_config(tiny, end_model={"mix_seed": False}, output=elsewhere("out2")),
                         progress_bar=False, echo=None)  # not trained on: not checked, not refused
    assert alone.manifest["evaluation"]["leakage"]["seed"] is None


def test_near_copies_are_removed_by_default_and_refused_on_request(tiny):
    add_to_seed(tiny, ("s3", "lovely tunes", 0))  # a near copy of test row t4 "lovely tune"
    res = run_pipeline(tiny_config(tiny, leakage={"threshold": 0.6}), progress_bar=False, echo=None)
    seed = res.manifest["evaluation"]["leakage"]["seed"]
    assert (seed["exact_copies"], seed["near_copies"], seed["removed"]) == ([], ["s3"], ["s3"])
    assert seed["matches"][0]["kind"] == "near" and 0.6 <= seed["matches"][0]["similarity"] < 1
    with pytest.raises(LeakageError, match=r"'s3' 'lovely tunes' matches test 't4' \(near, 0\.\d+\)"):
        run_pipeline(tiny_config(tiny, leakage={"threshold": 0.6, "seed": {"near": "refuse"}}, output=elsewhere("out2")),
                     progress_bar=False, echo=None)
    off = run_pipeline(tiny_config(tiny, leakage={"threshold": 0.6, "near_duplicates": False}, output=elsewhere("out3")),
                       progress_bar=False, echo=None)
    assert off.manifest["evaluation"]["leakage"]["seed"]["removed"] == []


def test_the_leakage_record_names_the_method_that_ran(tiny):
    pool = pd.read_csv(tiny / "pool.csv")
    both = run_pipeline(tiny_config(tiny, leakage={"threshold": 0.7}), progress_bar=False, echo=None).manifest
    exact = run_pipeline(tiny_config(tiny, leakage={"threshold": 0.7, "near_duplicates": False}, output=elsewhere("out2")),
                         progress_bar=False, echo=None).manifest
    protected = {"test": pd.DataFrame({"example_id": ["t"], "text": ["x"]})}
    ran = check_leakage(pool.rename(columns={"id": "example_id", "body": "text"}), protected, near=True,
                        threshold=0.7)
    assert both["evaluation"]["leakage"]["method"] == ran.method == both["steps"]["leakage"]["method"]
    assert "MinHash" in both["evaluation"]["leakage"]["method"] and "0.7" in both["evaluation"]["leakage"]["method"]
    ran_exact = check_leakage(pool.rename(columns={"id": "example_id", "body": "text"}), protected, near=False)
    assert exact["evaluation"]["leakage"]["method"] == ran_exact.method != ran.method
    assert "MinHash" not in exact["evaluation"]["leakage"]["method"]
    assert exact["steps"]["leakage"]["sha256"] != both["steps"]["leakage"]["sha256"]
    assert "Checked by exact match" in latest_run(tiny / "out2" / "tiny").report_path.read_text()


def test_stage_times_are_recorded_but_never_hashed(tiny):
    first = run_pipeline(tiny_config(tiny), progress_bar=False, echo=None)
    second = run_pipeline(tiny_config(tiny, output=elsewhere("out2")), progress_bar=False, echo=None)
    assert list(first.manifest["timings"]) == list(first.timings) == list(STAGES)
    assert all(t >= 0 for t in first.manifest["timings"].values())
    report = first.report_path.read_text()
    assert "Timings" in report and "took " in first.summary()
    assert all(re.search(rf"^{stage} +\d+\.\d\d *$", report, re.M) for stage in STAGES)  # every stage's time
    assert first.manifest["steps"] == second.manifest["steps"]  # times and check times differ, hashes do not
    assert list(first.manifest["steps"]) == ["inputs", "lfs", "apply", "label_model", "filter", "leakage",
                                             "export_table", "export_file", "evaluation"]


# --------------------------------------------------------------------------- the registries


@pytest.fixture
def short_texts_step():
    """A filter step added by registering one object, removed again after the test."""

    @filter_step("short_texts", StepParam("min_words", int, low=1), description="texts too short to learn from")
    def short_texts(context, rows, *, min_words):
        ids = context.ids[rows]
        short = context.texts.iloc[rows].str.split().str.len().to_numpy() < min_words
        return exclude(ids, ids[short], f"fewer than {min_words} words", name="short_texts")

    yield short_texts
    FILTER_STEPS.unregister("short_texts")


def test_a_registered_filter_step_is_validated_run_and_recorded_under_its_name(tiny, short_texts_step):
    with pytest.raises(ConfigError, match=r"filter\[1\]\.min_words: must be >= 1, got 0"):
        tiny_config(tiny, filter=["uncovered", {"step": "short_texts", "min_words": 0}])
    with pytest.raises(ConfigError, match=r"filter\[1\]\.min_words: missing: the short_texts step needs a min_words"):
        tiny_config(tiny, filter=["uncovered", {"step": "short_texts"}])
    cfg = tiny_config(tiny, filter=["uncovered", {"step": "short_texts", "min_words": 3}, "protected_duplicates"])
    m = run_pipeline(cfg, progress_bar=False, echo=None).manifest
    step = m["funnel"]["steps"][1]
    assert (step["step"], step["n_in"], step["n_kept"]) == ("short_texts", 5, 3)
    assert step["removed"] == {"fewer than 3 words": {"count": 2, "ids": ["p2", "p5"]}}
    assert m["config"]["filter"][1] == {"step": "short_texts", "min_words": 3}
    assert m["thresholds"] == {"short_texts.min_words": 3}
    assert "1:short_texts" in m["steps"]["filter"]["steps"]
    assert "short_texts (min_words=3)" in latest_run(tiny / "out" / "tiny").report_path.read_text()


def test_the_funnel_and_the_report_count_each_class(tiny):
    res = run_pipeline(tiny_config(tiny, label_model="majority"), progress_bar=False, echo=None)
    funnel = res.manifest["funnel"]
    # by majority vote: p1, p6 spam; p2, p5 ham; p3 (no vote) and p4 (a tie) go to the more common class, ham
    assert funnel["n_pool_by_class"] == {"ham": 4, "spam": 2}
    assert [s["n_kept_by_class"] for s in funnel["steps"]] == [{"ham": 3, "spam": 2}, {"ham": 2, "spam": 2},
                                                               {"ham": 1, "spam": 2}]
    classes = res.manifest["evaluation"]["classes"]
    assert classes["classes"]["spam"] == {"dev_rows": 2, "dev_share": 0.5, "dev_share_interval": pytest.approx([0.15, 0.85], abs=0.01),
                                          "export_rows": 2, "export_share": pytest.approx(2 / 3)}
    assert classes["missing"] == classes["warnings"] == [] and "WARNING" not in res.summary()
    report = res.report_path.read_text()
    assert "by label (ham / spam)" in report and "Classes" in report


def test_an_export_without_a_class_of_the_dev_set_warns_naming_the_step(tiny):
    @filter_step("no_channel_talk")
    def no_channel_talk(context, rows):
        ids = context.ids[rows]
        return exclude(ids, ids[context.texts.iloc[rows].str.contains("check|subscribe").to_numpy()], "channel talk",
                       name="no_channel_talk")

    try:
        cfg = tiny_config(tiny, label_model="majority", filter=["uncovered", "no_channel_talk", "protected_duplicates"])
        with pytest.warns(ClassShareWarning, match=r"class check: class 'spam' has none of the export's 1 rows but 2 of 4 "
                                                   r"dev rows \(50%.*the no_channel_talk step removed 2 of its 2 rows"):
            res = run_pipeline(cfg, progress_bar=False, echo=None)
    finally:
        FILTER_STEPS.unregister("no_channel_talk")
    assert res.manifest["evaluation"]["classes"]["missing"] == ["spam"]
    assert "WARNING: class check: class 'spam' has none of the export's 1 rows" in res.summary()
    assert "- WARNING: class 'spam' has none of the export's 1 rows" in res.report_path.read_text()  # a txt report


def test_a_step_that_renames_itself_is_refused(tiny):
    @filter_step("sloppy")
    def sloppy(context, rows):
        ids = context.ids[rows]
        return exclude(ids, [], "nothing", name="something_else")

    try:
        with pytest.raises(ValueError, match="filter step 'sloppy' returned a FilterStep named 'something_else'"):
            run_pipeline(tiny_config(tiny, filter=["sloppy"]), progress_bar=False, echo=None)
    finally:
        FILTER_STEPS.unregister("sloppy")


class AlwaysSpam(MajorityVote):
    """A label model that calls every row spam: registered in a test, picked up by config and pipeline."""

    def predict_proba(self, L):
        return np.tile([0.1, 0.9], (len(super().predict_proba(L)), 1))


def test_a_registered_label_model_is_validated_and_used(tiny):
    with pytest.raises(ConfigError, match=r"label_model.kind: unknown value 'always_spam'; "
                                          r"choose one of \['auto', 'majority', 'snorkel', 'hyper', 'dawid_skene', 'weighted'\]"):
        tiny_config(tiny, label_model={"kind": "always_spam"})
    LABEL_MODELS.register("always_spam", AlwaysSpam)
    try:
        res = run_pipeline(tiny_config(tiny, label_model={"kind": "always_spam", "random_state": 7}),
                           progress_bar=False, echo=None)
    finally:
        LABEL_MODELS.unregister("always_spam")
    lm = res.manifest["label_model"]
    assert (lm["requested"], lm["used"], lm["class"]) == ("always_spam", "always_spam", f"{__name__}.AlwaysSpam")
    assert isinstance(res.label_model, AlwaysSpam)
    assert res.export["example_id"].tolist() == ["p1", "p2", "p4", "p6"]  # all confident now: p4 passes the threshold
    assert res.export["label_name"].tolist() == ["spam"] * 4 and set(res.export["label_source"]) == {"label_model"}
    assert lm["settings"]["random_state"] == 7
    assert res.manifest["steps"]["label_model"]["used"] == "always_spam"


def test_a_label_model_that_cannot_fit_the_lfs_is_a_config_problem(tiny):
    with pytest.raises(ConfigError, match=r"label_model.kind: snorkel cannot be fitted on this label matrix: .*at least 3 LFs"):
        run_pipeline(tiny_config(tiny, label_model="snorkel"), progress_bar=False, echo=None)


def test_lfs_that_never_fire_on_dev_stop_auto_with_a_clear_error(tiny):
    """'auto' compares the label model with majority vote on dev rows some LF covers: with none
    it once died in scikit-learn ("Found empty input array")."""
    (tiny / "three_lfs.py").write_text(LF_MODULE + 'kw_channel = keyword_lf("kw_channel", ["channel"], 1)\n'
                                       "LFS = [kw_spam, kw_ham, kw_channel]\n")
    pd.DataFrame({"id": ["d1", "d2"], "body": ["hi now", "good tune"], "y": [1, 0]}).to_parquet(tiny / "dev.parquet")
    with pytest.raises(PipelineError, match=r"label model: no LF votes on any of the 2 dev rows.*kw_spam, kw_ham, "
                                            r"kw_channel.*cover some dev examples.*label_model.kind"):
        run_pipeline(tiny_config(tiny, lfs="three_lfs.py"), progress_bar=False, echo=None)
    # a named label model does not need dev, and runs
    assert run_pipeline(tiny_config(tiny, lfs="three_lfs.py", label_model="majority"), progress_bar=False, echo=None)


def test_filters_that_remove_everything_stop_the_run(tiny):
    pd.DataFrame({"id": ["a", "b"], "body": ["hello", "hi there"]}).to_csv(tiny / "quiet.csv", index=False)
    cfg = tiny_config(tiny, data={"text_column": "body", "label_column": "y", "id_column": "id",
                                  "train": "quiet.csv", "dev": "dev.parquet", "test": "test.jsonl"})
    with pytest.raises(PipelineError, match="the filters removed all 2 pool rows; funnel: uncovered kept 0"):
        run_pipeline(cfg, progress_bar=False, echo=None)


def test_existing_outputs_are_refused_before_any_work(tiny, monkeypatch):
    cfg = tiny_config(tiny)
    first = run_pipeline(cfg, progress_bar=False, echo=None)
    before = first.export_path.read_bytes()
    monkeypatch.setattr("workbench.pipeline._run.load_inputs", lambda c: pytest.fail("work started"))
    with pytest.raises(FileExistsError, match=r"out/tiny already holds an export \(latest\.json\); pass --overwrite"):
        run_pipeline(cfg, progress_bar=False, echo=None)
    assert first.export_path.read_bytes() == before


@pytest.mark.parametrize("source, attribute, key, message", [
    ("X = 1\n", None, "lfs", "no LFS list"),
    ("def oops(:\n", None, "lfs", "raised SyntaxError"),
    ("LFS = ['kw_x']\n", None, "lfs", "is not a labeling function"),
    (LF_MODULE, "MY_LFS", "lfs.attribute", "has no 'MY_LFS'"),
])
def test_an_lf_module_that_cannot_be_loaded_is_a_config_problem(tiny, source, attribute, key, message):
    (tiny / "bad_lfs.py").write_text(source)
    cfg = tiny_config(tiny, lfs={"module": "bad_lfs.py", **({"attribute": attribute} if attribute else {})})
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        run_pipeline(cfg, progress_bar=False, echo=None)
    assert info.value.key == key


def test_a_config_problem_found_while_running_names_the_config_file(tiny):
    pd.DataFrame({"id": ["s1", "s2"], "body": ["visit my page", "great"], "y": ["spam", "spma"]}).to_csv(tiny / "seed.csv", index=False)
    config = tiny / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(tiny).to_dict()))
    with pytest.raises(ConfigError) as info:
        run_pipeline(config, progress_bar=False, echo=None)
    assert str(info.value) == (f"{config.resolve()}: data.seed: {tiny / 'seed.csv'}: label column 'y': labels that are not among "
                               "the class names ['ham', 'spam']: 'spma' at row 1")


# --------------------------------------------------------------------------- the command line


def test_the_command_line_says_each_warning_once_on_one_line(tiny, capsys):
    from workbench.__main__ import main

    @filter_step("no_channel_talk")
    def no_channel_talk(context, rows):
        ids = context.ids[rows]
        return exclude(ids, ids[context.texts.iloc[rows].str.contains("check|subscribe").to_numpy()], "channel talk",
                       name="no_channel_talk")

    with open(tiny / "pool.csv", "a") as fh:
        fh.write("p7,one,two,three\n")  # a line with a field too many: left out, with a LoadTableWarning
    config = tiny / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_config(tiny, label_model="majority",
                                                 filter=["uncovered", "no_channel_talk", "protected_duplicates"]).to_dict()))
    try:
        assert main(["run", str(config), "--quiet"]) == 0
    finally:
        FILTER_STEPS.unregister("no_channel_talk")
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"warning: LoadTableWarning: {tiny / 'pool.csv'}: 1 line(s) could not be parsed and were "
                                "left out (wrong number of fields), first at line(s) [8]"]
    assert out.count("class check: class 'spam' has none of the export's") == 1


def cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, cwd=cwd, env=env)


def every_bar_shows(monkeypatch):
    """Lower every module's row count for automatic progress bars to one row, so that the tiny
    dataset shows every bar a large pool would."""
    for module in [m for m in sys.modules.values() if m is not None and m.__name__.startswith("workbench")]:
        if hasattr(module, "PROGRESS_MIN_ROWS"):
            monkeypatch.setattr(module, "PROGRESS_MIN_ROWS", 1)


def test_stage_bar_names_the_stage_and_the_last_one_s_pace_through_the_pool(monkeypatch):
    import functools
    import io
    import time

    import workbench.pipeline._run as run_module

    out = io.StringIO()
    # the bar as the CLI shows it, written here (the test session sets $TQDM_DISABLE)
    monkeypatch.setattr(run_module, "tqdm", functools.partial(run_module.tqdm, file=out, disable=False, mininterval=0))
    stages = run_module._Stages("demo", progress_bar=None)
    stages.run("load data", time.sleep, 0.01)
    assert out.getvalue() == ""  # no bar before the pool's size is known
    stages.data_loaded(200_000)  # a large pool: the bar appears
    stages.run("apply LFs", time.sleep, 0.06)
    stages.run("label model", lambda: None)
    stages.run("review", lambda: None)
    stages.close()
    shown = out.getvalue().replace("\r", "\n")
    rate = re.search(r"label model \(last: apply LFs (\d\.\d) s, ([\d,]+) rows/s\)", shown)
    assert rate and int(rate[2].replace(",", "")) <= 200_000 / 0.06  # the pool's rows over the stage's time
    # a stage too quick for its time to show has no pace (it would be the pool's rows over a few microseconds)
    assert re.search(r"review \(last: label model 0\.0 s\)", shown)
    assert list(stages.timings) == ["load data", "apply LFs", "label model", "review"]


def test_quiet_cli_shows_no_progress_at_all(tiny, monkeypatch, capfd):
    import workbench.__main__ as cli_main
    from workbench.pipeline import reproduce  # noqa: F401  (every pipeline module imported before patching)

    raw = {"name": "tiny", "lfs": "tiny_lfs.py", "filter": ["uncovered", {"step": "near_duplicates", "threshold": 0.5},
                                                           "protected_duplicates"],
           "data": {"text_column": "body", "label_column": "y", "id_column": "id", "class_names": ["ham", "spam"],
                    "train": {"path": "pool.csv", "label_column": "gold"}, "seed": "seed.csv", "dev": "dev.parquet",
                    "test": "test.jsonl"}}
    (tiny / "tiny.yaml").write_text(yaml.safe_dump(raw))
    every_bar_shows(monkeypatch)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert cli_main.main(["run", str(tiny / "tiny.yaml"), "--out", str(tiny / "loud")]) == 0
    loud = capfd.readouterr()
    for bar in ("Applying LFs", "MinHash signatures"):
        assert bar in loud.err  # each would show for a large pool

    assert cli_main.main(["run", str(tiny / "tiny.yaml"), "--out", str(tiny / "quiet"), "--quiet"]) == 0
    quiet = capfd.readouterr()
    assert quiet.err == ""
    assert "tiny: 6 pool rows" in quiet.out and "%|" not in quiet.out and "\r" not in quiet.out


@pytest.mark.slow
def test_cli_runs_the_bundled_pipeline_end_to_end_and_reproduces_it(tmp_path):
    out = tmp_path / "out"
    run = cli("run", str(REPO / "configs" / "youtube_spam.yaml"), "--out", str(out), "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    folder = out / "youtube_spam"
    current = latest_run(folder)
    export, manifest_path = current.export_path, current.manifest_path
    assert export.parent == folder / "runs" / current.run_id
    assert sorted(p.name for p in export.parent.iterdir()) == [export.name, manifest_path.name, "youtube_spam.report.md"]
    manifest = json.loads(manifest_path.read_text())
    assert manifest["export"]["sha256"] == export_file_sha256(export, "parquet")
    df = read_export(folder)
    removed = manifest["evaluation"]["leakage"]["export"]["removed"]
    assert len(df) == manifest["funnel"]["n_kept"] - len(removed) == manifest["export"]["rows"] > 500
    assert removed and not set(removed) & set(df["example_id"])  # near copies of protected rows are not exported
    assert sum(c.startswith("vote_") for c in df.columns) == 11
    assert df["example_id"].str.match(r"v[1-4]-\d{3}").all()  # only pool rows: never test (video 5)
    assert manifest["evaluation"]["test"]["end_model"]["accuracy"] > 0.85
    assert f"{manifest['funnel']['n_pool']} pool rows -> {len(df)} exported" in run.stdout
    assert "end model accuracy" in run.stdout and f"python -m workbench reproduce {manifest_path}" in run.stdout

    again = cli("reproduce", str(folder), "--quiet")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.startswith("reproduced: every step")

    with open(export, "r+b") as fh:
        fh.seek(100)
        fh.write(b"tampered")
    tampered = cli("reproduce", str(manifest_path), "--quiet")
    assert tampered.returncode == 1
    assert tampered.stdout.startswith("NOT reproduced: step 'export_on_disk' differs")

    manifest["evaluation"]["test"]["end_model"]["accuracy"] = 0.99  # a manifest edited after export
    manifest_path.write_text(json.dumps(manifest))
    refused = cli("reproduce", str(folder), "--quiet")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: LineageError: refusing to reproduce") and "--trust-lf-module" in refused.stderr


@pytest.mark.slow
def test_cli_refuses_to_overwrite_an_export(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"data": {"bundled": "youtube_spam"}, "lfs": "workbench.data.youtube_lfs",
                                                     "output": {"dir": "out"}}))
    (tmp_path / "out" / "c").mkdir(parents=True)
    (tmp_path / "out" / "c" / "latest.json").write_bytes(b"precious")
    res = cli("run", str(tmp_path / "c.yaml"), "--quiet")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]
    assert "FileExistsError" in res.stderr and "already holds an export" in res.stderr and "--overwrite" in res.stderr
    assert (tmp_path / "out" / "c" / "latest.json").read_bytes() == b"precious"


@pytest.mark.parametrize("change, key", [
    ({"data": {"text_column": "body", "label_column": "y", "train": "gone.csv", "dev": "dev.csv", "test": "dev.csv"}},
     "data.train.path: no such file"),
    ({"data": {"text_column": "content", "label_column": "y", "train": "dev.csv", "dev": "dev.csv", "test": "dev.csv"}},
     "data.train.text_column: 'content' is not a column of dev.csv"),
    ({"lfs": "my_team.lfs"}, "lfs: unknown LF module 'my_team.lfs'"),
    ({"filter": ["uncovered", {"step": "confidence", "threshold": 1.5}]}, "filter[1].threshold: 1.5 is outside 0..1"),
    ({"label_model": {"kind": "flyingsnake"}}, "label_model.kind: unknown value 'flyingsnake'"),
])
@pytest.mark.slow
def test_cli_bad_configs_fail_with_the_named_key(tmp_path, change, key):
    pd.DataFrame({"body": ["a", "b"], "y": [0, 1]}).to_csv(tmp_path / "dev.csv", index=False)
    raw = {"data": {"bundled": "youtube_spam"}, "lfs": "workbench.data.youtube_lfs", **change}
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(raw))
    res = cli("run", str(config), "--quiet")
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"error: config {config}: {key}")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_cli_names_a_missing_config_file(tmp_path):
    res = cli("run", str(tmp_path / "nope.toml"))
    assert res.returncode == 2
    assert res.stderr == f"error: config {tmp_path / 'nope.toml'}: no such config file\n"


def test_an_id_in_two_split_files_is_a_config_error_naming_the_splits(tiny):
    pd.DataFrame({"id": ["t1", "s9"], "body": ["some pool text", "other text"], "gold": [0, 1]}).to_csv(tiny / "pool.csv", index=False)
    with pytest.raises(ConfigError, match=r"data: .*'t1' \(train\+test\)"):
        run_pipeline(tiny_config(tiny), progress_bar=False, echo=None)


def test_class_names_no_labeled_row_uses_stop_the_run_unless_the_config_allows_them(tiny, tmp_path):
    from workbench.data import load_table, split_dataset
    from workbench.pipeline import load_data

    three = {**tiny_config(tiny).to_dict()["data"], "class_names": ["ham", "spam", "eggs"]}
    with pytest.raises(ConfigError, match=r"^data.class_names: .*class\(es\) \['eggs'\] of \['ham', 'spam', 'eggs'\] "
                                          r"have no labeled row in any split.*allow_missing_classes"):
        load_data(tiny_config(tiny, data=three))
    ds, _ = load_data(tiny_config(tiny, data={**three, "allow_missing_classes": True}))
    assert ds.cardinality == 3 and ds.allow_missing_classes  # intended: a three-class task
    assert tiny_config(tiny, data={**three, "allow_missing_classes": True}).to_dict()["data"]["allow_missing_classes"]
    with pytest.raises(ConfigError, match=r"data.allow_missing_classes: must be true or false, got 'yes'"):
        tiny_config(tiny, data={**three, "allow_missing_classes": "yes"})

    # a saved dataset: its own setting, unless the config says otherwise
    table = load_table(tiny / "seed.csv", "body", "y", "id")
    saved = split_dataset(table, {"dev": 2}, class_names=["ham", "spam", "eggs"], allow_missing_classes=True)
    saved.save(tmp_path / "ds")
    assert load_data(tiny_config(tiny, data={"dataset": str(tmp_path / "ds")}))[0].cardinality == 3
    with pytest.raises(ConfigError, match=r"^data.dataset: .*\['eggs'\] .* have no labeled row"):
        load_data(tiny_config(tiny, data={"dataset": str(tmp_path / "ds"), "allow_missing_classes": False}))


def test_every_stage_hands_back_the_memory_its_temporaries_took(monkeypatch):
    import importlib

    run_module = importlib.import_module("workbench.pipeline._run")
    released = []
    monkeypatch.setattr(run_module, "release_unused_memory", lambda: released.append(len(stages.timings)))
    stages = run_module._Stages("demo", progress_bar=False)
    stages.run("load data", lambda: None)
    stages.run("apply LFs", lambda: None)
    assert released == [0, 1]  # after each stage's work, before its time is recorded
