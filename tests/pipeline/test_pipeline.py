"""The headless pipeline: known answers on a tiny user dataset, the CLI end to end, bad configs."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench.export import LeakageError, file_sha256, read_table
from workbench.pipeline import (
    ConfigError,
    LFModuleSpec,
    PipelineError,
    load_lf_module,
    parse_config,
    run_pipeline,
)

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


def test_known_answers_on_a_tiny_user_dataset(tiny):
    res = run_pipeline(tiny_config(tiny), progress=False, echo=None)
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
    assert out["body"].tolist() == ["check my channel", "great song", "subscribe to my channel"]
    assert "gold" not in out.columns  # the pool's gold labels are never exported

    lm = m["label_model"]
    assert (lm["requested"], lm["used"]) == ("auto", "majority") and "fewer than 3 LFs" in lm["reason"][0]
    test = m["evaluation"]["test"]["label_model"]
    assert (test["accuracy"], test["coverage"], test["accuracy_covered"]) == (0.5, 0.5, 1.0)  # t3, t4 get no vote
    assert m["evaluation"]["synthetic_label_accuracy"]["accuracy"] == pytest.approx(2 / 3)  # p6 is really ham
    assert m["evaluation"]["canary"] is None and m["evaluation"]["canary_gate"] is None
    assert m["evaluation"]["end_model_training"] == {"synthetic_rows": 3, "seed_rows": 2}
    assert m["leakage"]["protected_sizes"] == {"dev": 4, "test": 4}  # seed is not protected
    assert {f["split"] for f in m["inputs"]["files"]} == {"train", "seed", "dev", "test"}
    assert m["inputs"]["files"][0]["sha256"] == file_sha256(tiny / "pool.csv")

    report = res.report_path.read_text()
    assert res.report_path.name == "tiny.report.txt" and "Funnel" in report and "p5" not in report
    assert "protected_duplicates" in report and "0.500" in report
    assert "tiny: 6 pool rows -> 3 exported (uncovered -1, confidence -1, protected_duplicates -1)" in res.summary()


def test_near_duplicates_step_keeps_the_most_confident_row_of_a_cluster(tiny):
    pool = pd.read_csv(tiny / "pool.csv")
    clone = pool[pool.id == "p6"].assign(id="p7", body="subscribe to my channel!!")  # a near copy of p6
    pd.concat([pool, clone]).to_csv(tiny / "pool.csv", index=False)
    config = tiny_config(tiny, filter=["uncovered", {"step": "near_duplicates", "threshold": 0.6}, "protected_duplicates"])
    step = run_pipeline(config, progress=False, echo=None).manifest["funnel"]["steps"][1]
    assert (step["step"], step["n_in"], step["n_kept"]) == ("near_duplicates", 6, 5)
    assert step["params"]["threshold"] == 0.6
    assert [ids for r in step["removed"].values() for ids in r["ids"]] == ["p7"]


def test_end_model_learns_from_the_exported_rows_and_the_seed_set_never_dev(tiny):
    mixed = run_pipeline(tiny_config(tiny), progress=False, echo=None)
    alone = run_pipeline(tiny_config(tiny, end_model={"mix_seed": False}, output={"dir": "out2"}), progress=False, echo=None)
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
        run_pipeline(with_canary(tiny, metric="accuracy", minimum=0.99), progress=False, echo=None)
    assert not (tiny / "out").exists() or not any((tiny / "out").iterdir())


def test_a_failed_gate_exports_only_with_a_recorded_override(tiny):
    res = run_pipeline(with_canary(tiny, metric="accuracy", minimum=0.99, override="tiny demo set"), progress=False, echo=None)
    gate = res.manifest["evaluation"]["canary_gate"]
    assert not gate["passed"] and gate["allowed"] and gate["override"]["reason"] == "tiny demo set"
    assert gate["n"] == 4 and gate["value"] < 0.99
    assert "FAILED, exported under override (tiny demo set)" in res.summary()
    assert res.manifest["leakage"]["protected_sizes"] == {"dev": 4, "test": 4, "canary": 4}


def test_export_is_refused_when_a_protected_row_would_leak(tiny):
    cfg = tiny_config(tiny, filter=["uncovered"])
    with pytest.raises(LeakageError, match=r"1 row\(s\) matching protected rows \(rows matching each split: test 1;.*\n  train row 'p5' .* matches test 't1'"):
        run_pipeline(cfg, progress=False, echo=None)
    assert not (tiny / "out").exists() or not any((tiny / "out").iterdir())


def test_filters_that_remove_everything_stop_the_run(tiny):
    pd.DataFrame({"id": ["a", "b"], "body": ["hello", "hi there"]}).to_csv(tiny / "quiet.csv", index=False)
    cfg = tiny_config(tiny, data={"text_column": "body", "label_column": "y", "id_column": "id",
                                  "train": "quiet.csv", "dev": "dev.parquet", "test": "test.jsonl"})
    with pytest.raises(PipelineError, match="the filters removed all 2 pool rows; funnel: uncovered kept 0"):
        run_pipeline(cfg, progress=False, echo=None)


def test_existing_outputs_are_refused_before_any_work(tiny, monkeypatch):
    cfg = tiny_config(tiny)
    first = run_pipeline(cfg, progress=False, echo=None)
    before = first.export_path.read_bytes()
    monkeypatch.setattr("workbench.pipeline._run.load_data", lambda c: pytest.fail("work started"))
    with pytest.raises(FileExistsError, match=r"tiny\.csv.* already exist"):
        run_pipeline(cfg, progress=False, echo=None)
    assert first.export_path.read_bytes() == before


def test_load_lf_module_finds_the_list_and_names_problems(tmp_path):
    _, lfs, attribute = load_lf_module("workbench.data.youtube_lfs")
    assert attribute == "YOUTUBE_LFS" and len(lfs) == 11
    cases = {
        "two.py": ("from workbench.data.youtube_lfs import YOUTUBE_LFS\nA_LFS = YOUTUBE_LFS\nB_LFS = []\n", "several lists"),
        "none.py": ("X = 1\n", "no LFS list"),
        "broken.py": ("def oops(:\n", "raised SyntaxError"),
        "raising.py": ("raise RuntimeError('no network')\n", "raised RuntimeError: no network"),
        "notlf.py": ("LFS = ['kw_x']\n", "is not a labeling function"),
        "dupes.py": ("from workbench.labeling._lf import keyword_lf\nLFS = [keyword_lf('a', ['x'], 1), keyword_lf('a', ['y'], 0)]\n",
                     "duplicate LF names: ['a']"),
    }
    for name, (source, message) in cases.items():
        (tmp_path / name).write_text(source)
        with pytest.raises(ConfigError, match=re.escape(message)) as info:
            load_lf_module(str(tmp_path / name))
        assert info.value.key == "lfs"
    with pytest.raises(ConfigError, match="has no 'MY_LFS'") as info:
        load_lf_module(LFModuleSpec(str(tmp_path / "none.py"), "MY_LFS"))
    assert info.value.key == "lfs.attribute"


def test_an_edited_lf_file_is_reloaded(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(LF_MODULE)
    _, before, _ = load_lf_module(str(path))
    path.write_text(LF_MODULE.replace('["song", "great"]', '["song"]'))  # same second, similar size
    _, after, _ = load_lf_module(str(path))
    text = pd.DataFrame({"text": ["great"]})
    assert before[1](text).tolist() == [0] and after[1](text).tolist() == [-1]


# --------------------------------------------------------------------------- the command line


def cli(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True, text=True, cwd=cwd, env=env)


@pytest.mark.slow
def test_cli_runs_the_bundled_pipeline_end_to_end_and_reproduces_it(tmp_path):
    out = tmp_path / "out"
    run = cli("run", str(REPO / "configs" / "youtube_spam.yaml"), "--out", str(out), "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    export, manifest_path = out / "youtube_spam.parquet", out / "youtube_spam.parquet.manifest.json"
    assert sorted(p.name for p in out.iterdir()) == [export.name, manifest_path.name, "youtube_spam.report.md"]
    manifest = json.loads(manifest_path.read_text())
    assert manifest["export"]["sha256"] == file_sha256(export)
    df = read_table(export)
    assert len(df) == manifest["funnel"]["n_kept"] == manifest["export"]["rows"] > 500
    assert sum(c.startswith("vote_") for c in df.columns) == 11
    assert df["example_id"].str.match(r"v[1-4]-\d{3}").all()  # only pool rows: never test (video 5)
    assert manifest["evaluation"]["test"]["end_model"]["accuracy"] > 0.85
    assert f"{manifest['funnel']['n_pool']} pool rows -> {len(df)} exported" in run.stdout
    assert "end model accuracy" in run.stdout and f"python -m workbench reproduce {manifest_path}" in run.stdout

    again = cli("reproduce", str(manifest_path), "--quiet")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.startswith("reproduced: every step")

    with open(export, "ab") as fh:
        fh.write(b"tampered")
    tampered = cli("reproduce", str(manifest_path), "--quiet")
    assert tampered.returncode == 1
    assert tampered.stdout.startswith("NOT reproduced: step 'export_on_disk' differs")


@pytest.mark.slow
def test_cli_refuses_to_overwrite_an_export(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"data": {"bundled": "youtube_spam"}, "lfs": "workbench.data.youtube_lfs",
                                                     "output": {"dir": "out"}}))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "c.parquet").write_bytes(b"precious")
    res = cli("run", str(tmp_path / "c.yaml"), "--quiet")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]
    assert "FileExistsError" in res.stderr and "c.parquet already exist" in res.stderr and "--overwrite" in res.stderr
    assert (tmp_path / "out" / "c.parquet").read_bytes() == b"precious"


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
