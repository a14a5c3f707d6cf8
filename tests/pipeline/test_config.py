"""Config loading and validation: every error names the key at fault."""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench.pipeline import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "configs" / "youtube_spam.yaml"


@pytest.fixture
def tables(tmp_path):
    """Small user tables in three formats, and a file LF module."""
    pd.DataFrame({"id": [1, 2], "body": ["buy now", "nice song"]}).to_csv(tmp_path / "pool.csv", index=False)
    pd.DataFrame({"id": [3, 4], "body": ["cheap pills", "love it"], "y": [1, 0]}).to_parquet(tmp_path / "dev.parquet")
    pd.DataFrame({"id": [5, 6], "body": ["win cash", "great"], "y": [1, 0]}).to_json(tmp_path / "test.jsonl", orient="records", lines=True)
    (tmp_path / "my_lfs.py").write_text("LFS = []\n")
    return tmp_path


def user_config(**changes):
    raw = {
        "name": "mine",
        "data": {"text_column": "body", "label_column": "y", "id_column": "id",
                 "train": {"path": "pool.csv"}, "dev": {"path": "dev.parquet"}, "test": "test.jsonl"},
        "lfs": "my_lfs.py",
        "filter": ["uncovered", {"step": "confidence", "threshold": 0.6}],
    }
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = raw
        for p in parents:
            node = node[p]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return raw


DELETE = object()


def error_of(raw, base) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, base_dir=base)
    return info.value


def test_bundled_config_loads_with_its_settings():
    cfg = load_config(BUNDLED)
    assert cfg.name == "youtube_spam" and cfg.data.bundled == "youtube_spam"
    assert cfg.lfs.module == "workbench.data.youtube_lfs" and not cfg.lfs.is_file
    assert cfg.label_model.kind == "auto"
    assert [f.step for f in cfg.filters] == ["uncovered", "confidence", "protected_duplicates", "near_duplicates"]
    assert cfg.filters[1].params == {"threshold": 0.7} and cfg.filters[3].params == {"threshold": 0.7}
    assert cfg.output.format == "parquet" and cfg.output.dir is None
    assert cfg.end_model.mix_seed and (cfg.canary.metric, cfg.canary.minimum) == ("f1", 0.8)
    assert (cfg.leakage.seed.exact, cfg.leakage.export.exact) == ("remove", "refuse")


def test_yaml_and_toml_give_the_same_config(tables):
    (tables / "c.yaml").write_text(yaml.safe_dump(user_config()))
    (tables / "c.toml").write_text(
        'name = "mine"\nlfs = "my_lfs.py"\nfilter = ["uncovered", {step = "confidence", threshold = 0.6}]\n'
        '[data]\ntext_column = "body"\nlabel_column = "y"\nid_column = "id"\ntest = "test.jsonl"\n'
        '[data.train]\npath = "pool.csv"\n[data.dev]\npath = "dev.parquet"\n'
    )
    a, b = load_config(tables / "c.yaml"), load_config(tables / "c.toml")
    assert a.to_dict() == b.to_dict()
    assert a.data.tables["dev"].label_column == "y" and a.data.tables["train"].label_column is None


def test_relative_paths_resolve_against_the_config_folder(tables, tmp_path_factory, monkeypatch):
    (tables / "c.yaml").write_text(yaml.safe_dump(user_config()))
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    cfg = load_config(tables / "c.yaml")
    assert cfg.data.tables["train"].path == tables / "pool.csv"
    assert Path(cfg.lfs.module) == tables / "my_lfs.py"


def test_to_dict_round_trips(tables):
    cfg = parse_config(user_config(), base_dir=tables)
    again = parse_config(cfg.to_dict(), base_dir="/")
    assert again.to_dict() == cfg.to_dict()


def test_missing_config_file_and_bad_syntax(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "c.ini").write_text("")
    with pytest.raises(ConfigError, match="unknown config format '.ini'"):
        load_config(tmp_path / "c.ini")


def test_errors_from_a_file_name_the_file_and_the_key(tables):
    (tables / "c.yaml").write_text(yaml.safe_dump(user_config(**{"label_model": {"kind": "snorkle"}})))
    with pytest.raises(ConfigError) as info:
        load_config(tables / "c.yaml")
    assert info.value.key == "label_model.kind"
    assert str(info.value).startswith(f"{tables / 'c.yaml'}: label_model.kind: unknown value 'snorkle' (did you mean 'snorkel'?)")


@pytest.mark.parametrize("changes, key, message", [
    ({"data.train.path": "missing.csv"}, "data.train.path", "no such file"),
    ({"data.train": {"path": "pool.csv", "text_column": "content"}}, "data.train.text_column",
     "'content' is not a column of pool.csv; columns are ['id', 'body']"),
    ({"data.dev": {"path": "dev.parquet", "label_column": "why"}}, "data.dev.label_column", "'why' is not a column of dev.parquet"),
    ({"data.id_column": "ID"}, "data.train.id_column", "(did you mean 'id'?)"),
    ({"data.label_column": DELETE}, "data.dev.label_column", "the dev set needs gold labels"),
    ({"data.test": DELETE}, "data.test", "needs a train pool, a dev set and a test set"),
    ({"data.bundled": "youtube_spam"}, "data.text_column", "cannot be combined with data.bundled"),
    ({"lfs": "nosuch_module_xyz"}, "lfs", "unknown LF module 'nosuch_module_xyz'"),
    ({"lfs": "workbench.nosuch"}, "lfs", "unknown LF module 'workbench.nosuch'"),
    ({"lfs": "missing_lfs.py"}, "lfs", "unknown LF module: no such file"),
    ({"lfs": {"module": "nosuch.pkg.mod"}}, "lfs.module", "unknown LF module"),
    ({"lfs": DELETE}, "lfs", "missing"),
    ({"filter": ["uncovered", {"step": "confidence", "threshold": 1.5}]}, "filter[1].threshold", "1.5 is outside 0..1"),
    ({"filter": [{"step": "confidence", "threshold": -0.1}]}, "filter[0].threshold", "outside 0..1"),
    ({"filter": [{"step": "confidence", "threshold": "high"}]}, "filter[0].threshold", "must be int or float, got str"),
    ({"filter": [{"step": "confidence"}]}, "filter[0].threshold", "needs a threshold"),
    ({"filter": ["dedupe"]}, "filter[0].step", "unknown value 'dedupe'"),
    ({"filter": [{"step": "uncovered", "threshold": 0.5}]}, "filter[0].threshold", "unknown key"),
    ({"label_model": "bayes"}, "label_model.kind", "unknown value 'bayes'; choose one of ['auto', 'majority', 'snorkel', 'hyper', 'dawid_skene', 'weighted']"),
    ({"label_model": {"kind": "snorkel", "n_epochs": 0}}, "label_model.n_epochs", "must be > 0"),
    ({"label_model": {"random_state": True}}, "label_model.random_state", "must be int, got bool"),
    ({"label_model": {"seed": 1}}, "label_model.seed", "unknown key"),
    ({"filter": [{"step": "near_duplicates", "threshold": 0}]}, "filter[0].threshold", "0 is outside 0..1 (0 excluded)"),
    ({"filter": [{"step": "confidense", "threshold": 0.5}]}, "filter[0].step", "(did you mean 'confidence'?)"),
    ({"filter": [{"threshold": 0.5}]}, "filter[0].step", "missing: which step?"),
    ({"leakage": {"threshold": 0}}, "leakage.threshold", "0 is outside 0..1 (0 excluded)"),
    ({"leakage": {"near_duplicates": "no"}}, "leakage.near_duplicates", "must be bool, got str"),
    ({"leakage": {"seed": {"exact": "drop"}}}, "leakage.seed.exact", "unknown value 'drop'; choose one of ['refuse', 'remove']"),
    ({"leakage": {"export": {"similar": "remove"}}}, "leakage.export.similar", "unknown key"),
    ({"leakage": {"dev": {}}}, "leakage.dev", "unknown key"),
    ({"end_model": {"seed_weight": -1}}, "end_model.seed_weight", "must be > 0"),
    ({"end_model": {"mix_dev": True}}, "end_model.mix_dev", "unknown key"),
    ({"end_model": {"targets": "probabilities"}}, "end_model.targets", "unknown value 'probabilities'; choose one of ['hard', 'soft']"),
    ({"canary": {"minimum": 0.5}}, "canary", "there is no canary split to gate on"),
    ({"data.canary": "dev.parquet", "canary": {"minimum": 1.5}}, "canary.minimum", "1.5 is outside 0..1"),
    ({"data.canary": "dev.parquet", "canary": {"metric": "auc"}}, "canary.metric", "unknown value 'auc'"),
    ({"data.canary": "dev.parquet", "canary": {"override": " "}}, "canary.override", "non-empty reason"),
    ({"output": {"format": "xlsx"}}, "output.format", "unknown value 'xlsx'"),
    ({"output": {"name": "../escape"}}, "output.name", "not a plain file name"),
    ({"fitler": []}, "fitler", "unknown key (did you mean 'filter'?)"),
    ({"data": DELETE}, "data", "missing"),
])
def test_bad_configs_name_the_key(tables, changes, key, message):
    err = error_of(user_config(**changes), tables)
    assert err.key == key
    assert str(err).startswith(f"{key}: ")
    assert message in str(err)


def test_defaults_fill_in_what_is_left_out(tables):
    raw = user_config(filter=DELETE)
    cfg = parse_config(raw, base_dir=tables, default_name="fallback")
    assert [f.step for f in cfg.filters] == ["uncovered", "protected_duplicates"]
    assert cfg.label_model.kind == "auto" and cfg.label_model.random_state == 123
    leak = cfg.leakage  # exact copies refused, near copies removed, in the export table and the seed split alike
    assert (leak.near_duplicates, leak.threshold) == (True, 0.7)
    assert [(p.exact, p.near) for p in (leak.export, leak.seed)] == [("refuse", "remove")] * 2
    assert cfg.end_model.mix_seed and cfg.output.name == "mine" and not cfg.output.overwrite
    assert (cfg.canary.metric, cfg.canary.minimum, cfg.canary.override) == ("f1", 0.8, None)


def test_a_key_given_twice_is_refused_naming_the_key_and_both_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("data:\n  bundled: youtube_spam\nlfs: workbench.data.youtube_lfs\n"
                    "filter:\n  - uncovered\nfilter:\n  - confidence\n")
    with pytest.raises(ConfigError, match=r"twice.yaml: filter: given twice, on lines 4 and 6") as info:
        load_config(path)
    assert info.value.key == "filter"
    nested = tmp_path / "nested.yaml"
    nested.write_text("data:\n  bundled: youtube_spam\n  bundled: youtube_spam\nlfs: workbench.data.youtube_lfs\n")
    with pytest.raises(ConfigError, match="bundled: given twice, on lines 2 and 3"):
        load_config(nested)


def test_own_data_keys_dataset_folder_reading_options_class_thresholds_and_export_columns(tables, tmp_path_factory):
    from workbench.data import load_youtube_spam

    folder = tmp_path_factory.mktemp("saved") / "ds"
    load_youtube_spam().save(folder)
    cfg = parse_config({"data": {"dataset": str(folder)}, "lfs": "workbench.data.youtube_lfs",
                        "filter": [{"step": "confidence", "threshold": 0.6, "class_thresholds": {"spam": 0.9}}],
                        "export": {"columns": ["AUTHOR", "AUTHOR"]}})
    assert cfg.data.dataset == folder and cfg.export.columns == ("AUTHOR",)
    assert parse_config(cfg.to_dict()) == cfg
    assert error_of({"data": {"dataset": str(folder)}, "lfs": "workbench.data.youtube_lfs",
                     "filter": [{"step": "confidence", "threshold": 0.6, "class_thresholds": {"spma": 0.9}}]},
                    tables).key == "filter[0].class_thresholds.spma"
    assert "did you mean 'spam'" in str(error_of({"data": {"dataset": str(folder)}, "lfs": "workbench.data.youtube_lfs",
                                                  "filter": [{"step": "confidence", "threshold": 0.6,
                                                              "class_thresholds": {"spma": 0.9}}]}, tables))
    assert error_of({"data": {"dataset": str(tables)}, "lfs": "my_lfs.py"}, tables).key == "data.dataset"
    assert error_of(user_config(**{"export": {"columns": "AUTHOR"}}), tables).key == "export.columns"
    headerless = tables / "pool.tsv"
    headerless.write_text("1\tbuy now\n2\tnice song\n")
    cfg = parse_config(user_config(**{"data.train": {"path": "pool.tsv", "header": None, "names": ["id", "body"]}}),
                       base_dir=tables)
    assert cfg.data.tables["train"].header is None and cfg.data.tables["train"].names == ("id", "body")
    assert cfg.data.tables["train"].load()["text"].tolist() == ["buy now", "nice song"]
    assert error_of(user_config(**{"data.train": {"path": "pool.tsv", "header": "yes"}}), tables).key == "data.train.header"
