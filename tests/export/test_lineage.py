"""Lineage: the manifest matches what was exported, and reproduce() finds the step that changed."""

import json
from datetime import datetime

import numpy as np
import pytest

from workbench import data_dir
from workbench.export import (
    LineageError,
    file_sha256,
    frame_sha256,
    load_manifest,
    manifest_path_for,
    read_table,
    verify_export,
)
from workbench.pipeline import parse_config, reproduce, run_pipeline

LF_MODULE = '''"""Spam LFs for the lineage tests."""
import numpy as np
from snorkel.labeling import labeling_function

from workbench.labeling import ABSTAIN, keyword_lf, regex_lf, vectorized_lf

HAM, SPAM = 0, 1
kw_check = keyword_lf("kw_check", ["check", "subscribe", "channel"], SPAM)
kw_song = keyword_lf("kw_song", ["song", "love"], HAM)
re_link = regex_lf("re_link", r"https?://|www\\.", SPAM)


@vectorized_lf(labels=[HAM])
def short_comment(df):
    return np.where(df["text"].str.split().str.len() < 5, HAM, ABSTAIN)


@labeling_function()
def shouting(x):
    return SPAM if sum(c.isupper() for c in x.text) > 10 else ABSTAIN


LFS = [kw_check, kw_song, re_link, short_comment, shouting]
'''


def run(tmp_path, kind="majority", fmt="parquet", lf_source=LF_MODULE):
    (tmp_path / "spam_lfs.py").write_text(lf_source)
    raw = {
        "name": "spam",
        "data": {"bundled": "youtube_spam"},
        "lfs": "spam_lfs.py",
        "label_model": {"kind": kind},
        "filter": ["uncovered", {"step": "confidence", "threshold": 0.6}, "protected_duplicates"],
        "output": {"dir": "out", "format": fmt},
    }
    return run_pipeline(parse_config(raw, base_dir=tmp_path), progress=False, echo=None)


@pytest.fixture
def result(tmp_path):
    return run(tmp_path)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_round_trip_hashes_match_the_manifest(tmp_path, fmt):
    res = run(tmp_path, fmt=fmt)
    assert res.manifest_path == manifest_path_for(res.export_path) == res.export_path.with_name(f"spam.{fmt}.manifest.json")
    manifest = load_manifest(res.manifest_path)
    assert manifest == res.manifest
    assert manifest["export"]["file"] == f"spam.{fmt}"
    assert file_sha256(res.export_path) == manifest["export"]["sha256"] == manifest["steps"]["export_file"]["sha256"]
    back = read_table(res.export_path)
    assert list(back.columns) == manifest["export"]["columns"] and len(back) == manifest["export"]["rows"]
    assert back["example_id"].astype(str).tolist() == res.export["example_id"].tolist()
    np.testing.assert_array_equal(back["proba_spam"].to_numpy(), res.export["proba_spam"].to_numpy())
    if fmt == "parquet":  # parquet keeps dtypes, so even the table's content hash survives the trip
        assert frame_sha256(back) == manifest["export"]["table_sha256"] == manifest["steps"]["export_table"]["sha256"]
    assert verify_export(res.manifest_path)["export"]["sha256"] == manifest["export"]["sha256"]


def test_manifest_records_inputs_lfs_funnel_and_environment(result, youtube):
    m = result.manifest
    bundled = sorted((data_dir() / "youtube_spam").glob("*.csv"))
    assert {f["path"]: f["sha256"] for f in m["inputs"]["files"]} == {
        f"bundled:youtube_spam/{p.name}": file_sha256(p) for p in bundled}
    assert {s: r["rows"] for s, r in m["inputs"]["splits"].items()} == {s: len(df) for s, df in youtube.splits.items()}

    assert [lf["name"] for lf in m["lfs"]] == ["kw_check", "kw_song", "re_link", "short_comment", "shouting"]
    by_name = {lf["name"]: lf for lf in m["lfs"]}
    assert "'song', 'love'" in by_name["kw_song"]["source"] and by_name["kw_song"]["kind"] == "keyword_lf"
    assert "def shouting(x):" in by_name["shouting"]["source"] and by_name["shouting"]["kind"] == "labeling_function"
    assert m["lf_module"]["source"] == LF_MODULE and m["lf_module"]["attribute"] == "LFS"

    assert m["label_model"]["used"] == "majority" and m["label_model"]["class"].endswith("MajorityVote")
    assert m["seeds"] == {"label_model": 123} and m["thresholds"] == {"confidence.threshold": 0.6}

    funnel = m["funnel"]
    assert [s["step"] for s in funnel["steps"]] == ["uncovered", "confidence", "protected_duplicates"]
    assert funnel["steps"][0]["n_in"] == funnel["n_pool"] == len(youtube.train)
    for before, after in zip(funnel["steps"], funnel["steps"][1:]):
        assert after["n_in"] == before["n_kept"]
    for step in funnel["steps"]:
        removed = sum(r["count"] for r in step["removed"].values())
        assert removed == step["n_in"] - step["n_kept"] > 0
        assert all(len(r["ids"]) == r["count"] for r in step["removed"].values())
    assert funnel["n_kept"] == funnel["steps"][-1]["n_kept"] == m["export"]["rows"] == len(result.export)
    # The removed ids really are gone and the kept ones exported.
    gone = {i for s in funnel["steps"] for r in s["removed"].values() for i in r["ids"]}
    assert gone.isdisjoint(result.export["example_id"]) and len(gone) + len(result.export) == len(youtube.train)

    assert m["review"] == {"decisions": 0, "store": None}
    assert m["leakage"]["clean"] and m["leakage"]["n_train"] == len(result.export)
    ev = m["evaluation"]
    assert ev["test"]["end_model"]["n"] == 370 and 0.5 < ev["test"]["end_model"]["accuracy"] <= 1
    assert ev["canary"]["end_model"]["n"] == 100
    gate = ev["canary_gate"]
    assert (gate["metric"], gate["minimum"], gate["n"], gate["passed"], gate["override"]) == ("f1", 0.8, 100, True, None)
    assert ev["end_model_training"] == {"synthetic_rows": len(result.export), "seed_rows": len(youtube.seed)}
    assert m["environment"]["packages"]["numpy"] == np.__version__
    assert datetime.fromisoformat(m["created_at"]).tzinfo is not None
    json.dumps(m, allow_nan=False)  # strict JSON: no NaN anywhere


def test_reproduce_passes_on_an_unchanged_pipeline(result):
    report = reproduce(result.manifest_path)
    assert report.ok, str(report)
    assert [c.step for c in report.checks] == ["export_on_disk", "inputs", "lfs", "apply", "label_model", "filter",
                                               "export_table", "export_file", "evaluation"]
    assert report.summary().startswith("reproduced: every step")
    assert not report.notes


@pytest.mark.slow
def test_reproduce_with_the_snorkel_label_model(tmp_path):
    res = run(tmp_path, kind="snorkel")
    assert res.manifest["label_model"]["used"] == "snorkel"
    assert res.manifest["label_model"]["settings"]["random_state"] == 123
    assert reproduce(res.manifest_path).ok


@pytest.mark.parametrize("old, new, lf, added", [
    ('["song", "love"]', '["song"]', "kw_song", "keywords=['song']"),       # a builder's parameters
    ("x.text) > 10", "x.text) > 5", "shouting", "x.text) > 5"),              # a row-wise LF's body
    ("str.len() < 5", "str.len() < 4", "short_comment", "str.len() < 4"),   # a vectorized LF's body
])
def test_reproduce_fails_at_the_lfs_step_naming_the_changed_lf(result, old, new, lf, added):
    path = result.config.lfs.module
    source = open(path).read()
    assert old in source
    open(path, "w").write(source.replace(old, new))
    report = reproduce(result.manifest_path)
    assert not report.ok
    assert report.first_difference.step == "lfs"
    assert any(f"LF {lf!r} changed" in d for d in report.first_difference.details)
    assert any(d.strip().startswith("+") and added in d for d in report.first_difference.details)  # the source diff
    assert f"step 'lfs' differs: LF {lf!r} changed" in report.summary()
    failed = [c.step for c in report.checks if not c.ok]
    assert failed[:3] == ["lfs", "apply", "label_model"] and "export_file" in failed
    assert "export_on_disk" not in failed and "inputs" not in failed


def test_reproduce_ignores_module_edits_outside_the_lfs(result):
    path = result.config.lfs.module
    open(path, "a").write("\n\ndef helper_nobody_uses():\n    return 42\n")
    report = reproduce(result.manifest_path)
    assert report.ok, str(report)
    assert any("LF module file changed" in n for n in report.notes)


def test_reproduce_reports_a_removed_lf_module(result):
    import os

    os.remove(result.config.lfs.module)
    report = reproduce(result.manifest_path)
    assert not report.ok and report.first_difference.step == "lfs"
    assert "cannot re-run" in report.first_difference.details[0] and "no such file" in report.first_difference.details[0]


def test_a_tampered_export_fails_verification(result):
    with open(result.export_path, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(LineageError, match=r"spam\.parquet: SHA-256 .* differs from the manifest's"):
        verify_export(result.manifest_path)
    report = reproduce(result.manifest_path)
    assert report.first_difference.step == "export_on_disk"
    assert [c.step for c in report.checks if not c.ok] == ["export_on_disk"]  # the pipeline itself still reproduces


def test_load_manifest_refuses_foreign_files(tmp_path):
    bad = tmp_path / "x.manifest.json"
    bad.write_text(json.dumps({"manifest_version": 99}))
    with pytest.raises(LineageError, match="manifest version 99"):
        load_manifest(bad)
    bad.write_text("{not json")
    with pytest.raises(LineageError, match="not a JSON manifest"):
        load_manifest(bad)
    with pytest.raises(LineageError, match="no such manifest"):
        load_manifest(tmp_path / "missing.json")
