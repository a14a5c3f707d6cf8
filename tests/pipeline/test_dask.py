"""The pipeline's Dask engine (engine: dask): same export as the local engine, config errors naming the key."""

import pickle

import numpy as np
import pandas as pd
import pytest

from workbench import load_youtube_spam
from workbench.evaluate import LeakageError, check_leakage
from workbench.export import latest_run, read_export, verify_export
from workbench.pipeline import ConfigError, parse_config, run_pipeline

PROTECTED = ("seed", "dev", "valid", "test", "canary")


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """The bundled data as Parquet tables, the pool as a folder of three files (so three partitions)."""
    folder = tmp_path_factory.mktemp("dask_tables")
    ds = load_youtube_spam()
    pool = ds["train"]
    frame = pd.DataFrame({"id": pool["example_id"].astype(str), "text": pool["text"], "gold": ds.gold("train"),
                          "author": pool["AUTHOR"]})
    (folder / "pool").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[rows].to_parquet(folder / "pool" / f"part-{i}.parquet", index=False)
    data = {"id_column": "id", "class_names": list(ds.class_names), "train": {"path": "pool", "label_column": "gold"}}
    for split in PROTECTED:
        pd.DataFrame({"id": ds[split]["example_id"].astype(str), "text": ds[split]["text"], "gold": ds.gold(split)}
                     ).to_parquet(folder / f"{split}.parquet", index=False)
        data[split] = {"path": f"{split}.parquet", "label_column": "gold"}
    return folder, data


def _raw(data, **overrides):
    raw = {"name": "dask_same", "data": data, "lfs": "workbench.data.youtube_lfs",
           "label_model": {"kind": "snorkel", "random_state": 123},
           "filter": ["uncovered", {"step": "confidence", "threshold": 0.7}, {"step": "near_duplicates", "threshold": 0.7},
                      "protected_duplicates"],
           "leakage": {"seed": {"exact": "remove", "near": "remove"}},
           "export": {"columns": ["author"]}, "output": {"overwrite": True}}
    return {**raw, **overrides}


@pytest.mark.slow  # starts a LocalCluster
def test_dask_engine_exports_what_the_local_engine_exports(tables, tmp_path):
    folder, data = tables
    runs = {}
    for engine in ("local", {"kind": "dask", "n_workers": 2, "processes": False}):
        config = parse_config(_raw(data, engine=engine), base_dir=folder)
        runs[config.engine.kind] = run_pipeline(config, out=tmp_path / config.engine.kind, progress_bar=False, echo=None)
    local, dask = runs["local"], runs["dask"]

    exported = {kind: read_export(run.folder) for kind, run in runs.items()}  # verify_export passes first
    assert len(exported["dask"]) > 0 and exported["dask"]["example_id"].is_unique
    pd.testing.assert_frame_equal(exported["local"], exported["dask"])  # same rows, labels, probabilities, votes
    # the funnel removed something at every step, so the comparison covers each per-row step
    assert all(s["n_kept"] < s["n_in"] for s in dask.manifest["funnel"]["steps"])
    assert dask.manifest["funnel"] == local.manifest["funnel"]
    assert dask.manifest["evaluation"]["test"] == local.manifest["evaluation"]["test"]
    assert dask.manifest["evaluation"]["synthetic_label_accuracy"] == local.manifest["evaluation"]["synthetic_label_accuracy"]
    for part in ("export", "seed"):
        assert dask.manifest["evaluation"]["leakage"][part]["removed"] == local.manifest["evaluation"]["leakage"][part]["removed"]

    # one partitioned export, one manifest, switched in by latest.json like every run
    run = latest_run(dask.folder)
    assert run.export_path.is_dir() and len(list(run.export_path.glob("part-*.parquet"))) == 3
    assert dask.manifest["export"]["parts"] == 3 and dask.manifest["export"]["rows"] == len(exported["local"])
    assert dask.manifest["engine"]["partitions"] == 3 and len(dask.manifest["engine"]["worker_peak_bytes"]) == 2
    assert verify_export(dask.folder)["export"]["sha256"] == dask.manifest["export"]["sha256"]
    assert not list((dask.folder / "runs").glob(".dask-parts-*"))  # the parts moved into the run


@pytest.mark.slow
def test_a_changed_part_of_a_partitioned_export_is_detected(tables, tmp_path):
    folder, data = tables
    config = parse_config(_raw(data, engine={"kind": "dask", "processes": False}), base_dir=folder)
    result = run_pipeline(config, out=tmp_path, progress_bar=False, echo=None)
    part = sorted(result.run.export_path.glob("*.parquet"))[1]
    df = pd.read_parquet(part)
    df.iloc[:1].to_parquet(part, index=False)
    with pytest.raises(Exception, match="changed after export"):
        verify_export(result.folder)


def test_a_leakage_error_raised_on_a_worker_reaches_the_client_whole():
    protected = {"test": pd.DataFrame({"example_id": ["t1"], "text": ["check out my channel"]})}
    train = pd.DataFrame({"example_id": ["p1"], "text": ["Check out my channel!"]})
    with pytest.raises(LeakageError) as caught:
        check_leakage(train, protected).enforce(what="the export table")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value) and copy.report.leaked_ids == ["p1"]


@pytest.mark.parametrize("engine, key, message", [
    ("spark", "engine.kind", "choose one of"),
    ({"kind": "dask", "n_workres": 2}, "engine.n_workres", "did you mean 'n_workers'"),
    ({"kind": "local", "n_workers": 2}, "engine.n_workers", "setting of the Dask engine"),
    ({"kind": "dask", "scheduler": "tcp://h:8786", "n_workers": 2}, "engine.n_workers", "LocalCluster"),
    ({"kind": "dask", "scheduler": " "}, "engine.scheduler", "address"),
    ({"kind": "dask", "n_workers": 0}, "engine.n_workers", "> 0"),
    ({"kind": "dask", "memory_limit": "lots"}, "engine.memory_limit", "size per worker"),
    ({"kind": "dask", "processes": "yes"}, "engine.processes", "must be bool"),
])
def test_engine_settings_are_checked(tables, engine, key, message):
    folder, data = tables
    with pytest.raises(ConfigError) as caught:
        parse_config(_raw(data, engine=engine), base_dir=folder)
    assert caught.value.key == key and message in caught.value.message


def test_what_the_dask_engine_does_not_run_is_refused_by_key(tables, tmp_path):
    folder, data = tables
    refused = {
        "engine.kind": {"data": {"bundled": "youtube_spam"}},
        "rounds.max": {"rounds": {"max": 1}},
        "generators.use[1].kind": {"generators": ["label_model", {"kind": "pseudo_label"}]},
        "filter[1].step": {"filter": ["uncovered", {"step": "disagreement", "threshold": 0.5}]},
        "filter[2].step": {"filter": [{"step": "near_duplicates", "threshold": 0.7}, "uncovered",
                                      {"step": "near_duplicates", "threshold": 0.8}]},
        "data.train.id_column": {"data": {**data, "id_column": None, "train": {"path": "pool/part-0.parquet",
                                                                               "label_column": "gold"}}},
    }
    for key, overrides in refused.items():
        with pytest.raises(ConfigError) as caught:
            parse_config({**_raw(data, engine="dask"), **overrides}, base_dir=folder)
        assert caught.value.key == key, (key, caught.value)
    csv = tmp_path / "pool.csv"
    pd.read_parquet(folder / "pool" / "part-0.parquet").to_csv(csv, index=False)
    with pytest.raises(ConfigError) as caught:
        parse_config(_raw({**data, "train": {"path": str(csv), "label_column": "gold"}}, engine="dask"), base_dir=folder)
    assert caught.value.key == "data.train.path" and "Parquet" in caught.value.message


def test_a_pool_of_several_files_needs_ids_and_reads_in_file_order(tables, tmp_path):
    folder, data = tables
    no_ids = {**data, "id_column": None, "train": {"path": "pool/*.parquet", "label_column": "gold"}}
    for split in PROTECTED:
        no_ids[split] = {**data[split], "id_column": "id"}
    with pytest.raises(ConfigError) as caught:
        parse_config(_raw(no_ids), base_dir=folder)
    assert caught.value.key == "data.train.id_column" and "3 files" in caught.value.message
    config = parse_config(_raw({**data, "train": {"path": "pool/*.parquet", "label_column": "gold"}}), base_dir=folder)
    pool = config.data.tables["train"].load(config.data.class_names)
    parts = [pd.read_parquet(f) for f in sorted((folder / "pool").glob("*.parquet"))]
    assert pool["example_id"].tolist() == pd.concat(parts)["id"].tolist()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError) as caught:
        parse_config(_raw({**data, "train": {"path": str(empty), "label_column": "gold"}}), base_dir=folder)
    assert caught.value.key == "data.train.path" and "no Parquet files" in caught.value.message
