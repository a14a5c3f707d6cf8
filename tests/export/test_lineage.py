"""Lineage: the manifest matches what was exported, and reproduce() finds the step that changed.

One pipeline run is shared by every test that reads it (``result``); a test that edits the LF
module or the export gets the files back as they were afterwards. Only reproduce() re-runs.
"""

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from workbench import data_dir
from workbench.export import (
    LineageError,
    embedded_manifest_sha256,
    export_file_sha256,
    file_sha256,
    frame_sha256,
    latest_run,
    load_manifest,
    manifest_path_for,
    read_export,
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
        # four seed comments are the spam template "Check out this video on YouTube:" also in dev/test/canary
        "leakage": {"seed": {"exact": "remove"}},
        "canary": {"minimum": 0.7},  # the gate is not what these tests are about: edited LFs still pass it
        "output": {"dir": "out", "format": fmt},
    }
    return run_pipeline(parse_config(raw, base_dir=tmp_path), progress_bar=False, echo=None)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The one pipeline run the tests below read."""
    return run(tmp_path_factory.mktemp("lineage"))


@pytest.fixture
def result(shared):
    """The shared run; the LF module and the export are restored after each test, whatever it changed."""
    files = [Path(shared.config.lfs.module), shared.export_path]
    saved = {path: path.read_bytes() for path in files}
    yield shared
    for path, data in saved.items():
        path.write_bytes(data)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_round_trip_hashes_match_the_manifest(result, tmp_path, fmt):
    res = result if fmt == "parquet" else run(tmp_path, fmt=fmt)
    assert res.manifest_path == manifest_path_for(res.export_path) == res.export_path.with_name(f"spam.{fmt}.manifest.json")
    assert res.export_path.parent == res.folder / "runs" / res.run.run_id and latest_run(res.folder) == res.run
    manifest = load_manifest(res.manifest_path)
    assert manifest == res.manifest
    assert manifest["export"]["file"] == f"spam.{fmt}"
    sha = export_file_sha256(res.export_path, fmt)
    assert sha == manifest["export"]["sha256"] == manifest["steps"]["export_file"]["sha256"]
    # the manifest's own hash travels with the export: in Parquet's metadata, and in the pointer
    assert res.run.manifest_sha256 == file_sha256(res.manifest_path)
    if fmt == "parquet":
        assert embedded_manifest_sha256(res.export_path) == file_sha256(res.manifest_path) and sha != file_sha256(res.export_path)
    else:
        assert sha == file_sha256(res.export_path)
    back = read_table(res.export_path)
    assert list(back.columns) == manifest["export"]["columns"] and len(back) == manifest["export"]["rows"]
    assert back["example_id"].astype(str).tolist() == res.export["example_id"].tolist()
    np.testing.assert_array_equal(back["proba_spam"].to_numpy(), res.export["proba_spam"].to_numpy())
    if fmt == "parquet":  # parquet keeps dtypes, so even the table's content hash survives the trip
        assert frame_sha256(back) == manifest["export"]["table_sha256"] == manifest["steps"]["export_table"]["sha256"]
    assert verify_export(res.manifest_path)["export"]["sha256"] == manifest["export"]["sha256"]
    assert verify_export(res.folder) == manifest and read_export(res.folder).equals(back)


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
    leak = m["evaluation"]["leakage"]
    assert funnel["n_kept"] == funnel["steps"][-1]["n_kept"] == m["export"]["rows"] + len(leak["export"]["removed"])
    assert m["export"]["rows"] == len(result.export)
    # The removed ids (by the filter steps or the leakage check) really are gone and the kept ones exported.
    gone = {i for s in funnel["steps"] for r in s["removed"].values() for i in r["ids"]} | set(leak["export"]["removed"])
    assert gone.isdisjoint(result.export["example_id"]) and len(gone) + len(result.export) == len(youtube.train)

    assert m["review"] == {"decisions": 0, "store": None}
    assert leak["export"]["rows"] == funnel["n_kept"] and "MinHash" in leak["method"]
    assert leak["seed"]["exact_copies"] == ["v1-078", "v3-075", "v3-294", "v3-334", "v4-026", "v4-159"]
    assert set(leak["seed"]["exact_copies"]) <= set(leak["seed"]["removed"])
    ev = m["evaluation"]
    assert ev["test"]["end_model"]["n"] == 370 and 0.5 < ev["test"]["end_model"]["accuracy"] <= 1
    assert ev["canary"]["end_model"]["n"] == 100
    gate = ev["canary_gate"]
    assert (gate["metric"], gate["minimum"], gate["n"], gate["passed"], gate["override"]) == ("f1", 0.7, 100, True, None)
    assert ev["end_model_training"] == {"synthetic_rows": len(result.export),
                                        "seed_rows": len(youtube.seed) - len(leak["seed"]["removed"])}
    assert m["environment"]["packages"]["numpy"] == np.__version__
    assert datetime.fromisoformat(m["created_at"]).tzinfo is not None
    json.dumps(m, allow_nan=False)  # strict JSON: no NaN anywhere


def test_reproduce_passes_on_an_unchanged_pipeline(result):
    report = reproduce(result.manifest_path)
    assert report.ok, str(report)
    assert [c.step for c in report.checks] == ["manifest", "export_on_disk", "inputs", "lfs", "apply", "label_model", "filter",
                                               "leakage", "export_table", "export_file", "evaluation"]
    assert report.summary().startswith("reproduced: every step")
    assert not report.notes


@pytest.mark.slow
def test_reproduce_with_the_snorkel_label_model(tmp_path):
    res = run(tmp_path, kind="snorkel")
    assert res.manifest["label_model"]["used"] == "snorkel"
    assert res.manifest["label_model"]["settings"]["random_state"] == 123
    assert reproduce(res.manifest_path).ok


EDITS = [  # (old, new, the LF it changes, what its source diff adds)
    ('["song", "love"]', '["song"]', "kw_song", "keywords=['song']"),       # a builder's parameters
    ("str.len() < 5", "str.len() < 4", "short_comment", "str.len() < 4"),   # a vectorized LF's body
    ("x.text) > 10", "x.text) > 5", "shouting", "x.text) > 5"),              # a row-wise LF's body
]


def test_reproduce_fails_at_the_lfs_step_naming_each_changed_lf(result):
    path = result.config.lfs.module
    source = open(path).read()
    for old, new, _, _ in EDITS:
        assert old in source
        source = source.replace(old, new)
    open(path, "w").write(source)
    with pytest.raises(LineageError, match=r"refusing to import the LF module .*spam_lfs\.py: its SHA-256 .* differs .*"
                                           r"--trust-lf-module"):
        reproduce(result.manifest_path)
    report = reproduce(result.manifest_path, trust_lf_module=True)  # one re-run finds all three edits
    assert not report.ok
    assert report.first_difference.step == "lfs"
    details = report.first_difference.details
    headers = [d for d in details if d.startswith("LF ")]
    assert [h.split(" changed")[0] for h in headers] == [f"LF {lf!r}" for _, _, lf, _ in EDITS]
    for _, _, lf, added in EDITS:  # each LF's own source diff follows its line
        diff = details[details.index(next(h for h in headers if h.startswith(f"LF {lf!r}"))) + 1:]
        assert any(d.strip().startswith("+") and added in d for d in diff[:10])
    assert report.summary().startswith("NOT reproduced: step 'lfs' differs: LF 'kw_song' changed")
    failed = [c.step for c in report.checks if not c.ok]
    assert failed[:3] == ["lfs", "apply", "label_model"] and "export_file" in failed
    assert "export_on_disk" not in failed and "manifest" not in failed and "inputs" not in failed


def test_reproduce_ignores_module_edits_outside_the_lfs(result):
    path = result.config.lfs.module
    open(path, "a").write("\n\ndef helper_nobody_uses():\n    return 42\n")
    report = reproduce(result.manifest_path, trust_lf_module=True)
    assert report.ok, str(report)
    assert any("LF module file changed" in n for n in report.notes)


def test_reproduce_reports_a_removed_lf_module(result):
    Path(result.config.lfs.module).unlink()
    report = reproduce(result.manifest_path)
    assert not report.ok and report.first_difference.step == "lfs"
    assert "cannot re-run" in report.first_difference.details[0] and "no such file" in report.first_difference.details[0]


def test_a_tampered_export_fails_verification(result):
    with open(result.export_path, "r+b") as fh:  # one byte in the data, before the footer
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(LineageError, match=r"spam\.parquet: SHA-256 .* differs from the manifest's"):
        verify_export(result.manifest_path)
    report = reproduce(result.manifest_path)  # the manifest itself still checks out, so its LF module may run
    assert report.first_difference.step == "export_on_disk"
    assert [c.step for c in report.checks if not c.ok] == ["export_on_disk"]  # the pipeline itself still reproduces


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_manifest_edited_after_export_is_detected_and_its_code_not_run(tmp_path, fmt):
    res = run(tmp_path, fmt=fmt)
    manifest = json.loads(res.manifest_path.read_text())
    marker = tmp_path / "ran.txt"
    evil = tmp_path / "evil_lfs.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('imported')\n" + LF_MODULE)
    manifest["config"]["lfs"]["module"] = str(evil)
    manifest["lf_module"]["sha256"] = file_sha256(evil)  # a careful forger updates the recorded hash too
    res.manifest_path.write_text(json.dumps(manifest, indent=2))
    carrier = "Parquet metadata" if fmt == "parquet" else "latest.json"
    with pytest.raises(LineageError, match=rf"the manifest was edited after export"):
        verify_export(res.manifest_path)
    with pytest.raises(LineageError, match=rf"refusing to reproduce .*recorded in .*{carrier}.*edited after export.*"
                                           r"--trust-lf-module"):
        reproduce(res.folder)
    assert not marker.exists()  # refused before anything was imported
    report = reproduce(res.folder, trust_lf_module=True)
    assert marker.exists() and [c.step for c in report.checks if not c.ok][:1] == ["manifest"]


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
